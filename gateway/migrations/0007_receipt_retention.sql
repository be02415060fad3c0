-- Receipt retention (issue 14): once the chain's finalized release of a lane covers them and they are
-- older than the retention period, the receipts a lane no longer needs are deleted. The lane keeps a
-- commitment to them: per compaction, the Merkle root over the digests of every receipt it covered
-- (amounts in (from_amount, to_amount], in amount order), with their count. Kept, whatever their amount:
-- the lane's newest receipt, the one at the lane's settled amount (what a release settled), and any a
-- release submission carried.
ALTER TABLE lanes
    ADD COLUMN compacted_to  NUMERIC(39,0) NOT NULL DEFAULT 0,
    -- When a compaction may next find receipts old enough (NULL: at once).
    ADD COLUMN compact_after TIMESTAMPTZ;

CREATE TABLE lane_commitments (
    job_id       NUMERIC(20,0) NOT NULL,
    provider     BYTEA NOT NULL CHECK (length(provider) = 32),
    from_amount  NUMERIC(39,0) NOT NULL,
    to_amount    NUMERIC(39,0) NOT NULL,
    leaves       BIGINT NOT NULL CHECK (leaves > 0),
    root         BYTEA NOT NULL CHECK (length(root) = 32),
    deleted      BIGINT NOT NULL CHECK (deleted >= 0 AND deleted <= leaves),
    compacted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, provider, to_amount),
    CHECK (from_amount < to_amount)
);

-- The lanes a compaction has work on.
-- (Up to the lower of what the chain settled and what the lane accepted.)
CREATE INDEX lanes_compactable ON lanes (compact_after NULLS FIRST)
    WHERE LEAST(settled_amount, amount) > compacted_to;
-- Deleting a receipt checks it is not a submission's (and the foreign key checks the same): without this
-- index, each would scan every submission item.
CREATE INDEX submission_items_receipt ON submission_items (receipt_id);
