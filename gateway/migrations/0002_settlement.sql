-- What the chain has settled of each lane, and since when the lane has been ahead of it.
ALTER TABLE lanes
    ADD COLUMN settled_amount   NUMERIC(39,0) NOT NULL DEFAULT 0,
    ADD COLUMN settled_sequence NUMERIC(20,0) NOT NULL DEFAULT 0,
    ADD COLUMN unsettled_since  TIMESTAMPTZ;

-- Each release extrinsic, recorded before it is sent: pending -> in_block -> finalized, or failed.
CREATE TABLE submissions (
    id          BIGSERIAL PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'in_block', 'finalized', 'failed')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    tx_hash     BYTEA,
    block_hash  BYTEA,
    error       TEXT
);

-- The receipts a submission releases, and what became of each.
CREATE TABLE submission_items (
    submission_id BIGINT NOT NULL REFERENCES submissions (id),
    receipt_id    BIGINT NOT NULL REFERENCES receipts (id),
    outcome       TEXT,
    PRIMARY KEY (submission_id, receipt_id)
);
CREATE INDEX submissions_open ON submissions (status) WHERE status IN ('pending', 'in_block');
