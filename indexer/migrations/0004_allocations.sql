-- Money rules v2, per-provider allocations and thaws (G2): each provider of a job draws only on its own
-- allocation of the deposit (the rest of the deposit is the job's unallocated funds). Jobs carry the
-- allocations they opened with (parallel to `providers`); the consumer raises an allocation at once
-- (`allocations`: from the unallocated funds, or with a top-up to that provider) and lowers it only
-- through a thaw (`thaws`: the allocation stays payable until `ends_at`, then drops by `amount`, never
-- below what the provider was paid). Neither moves money in or out of the escrow.
--
-- As with 0002 and 0003: an index of an older escrow has jobs without allocations and cannot be carried
-- over; the NOT NULL column makes this migration fail on it (index the new escrow into a fresh database).
ALTER TABLE jobs ADD COLUMN allocations NUMERIC(39,0)[] NOT NULL;

CREATE TABLE allocations (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id      NUMERIC(20,0) NOT NULL,
    consumer    BYTEA NOT NULL,
    provider    BYTEA NOT NULL,
    -- Added now.
    amount      NUMERIC(39,0) NOT NULL,
    -- The provider's allocation after it.
    allocation  NUMERIC(39,0) NOT NULL,
    -- The job's unallocated funds after it.
    unallocated NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE INDEX allocations_job ON allocations (job_id, provider);

CREATE TABLE thaws (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id   NUMERIC(20,0) NOT NULL,
    consumer BYTEA NOT NULL,
    provider BYTEA NOT NULL,
    -- How much the allocation drops by at `ends_at`.
    amount   NUMERIC(39,0) NOT NULL,
    ends_at  NUMERIC(20,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE INDEX thaws_job ON thaws (job_id, provider);
