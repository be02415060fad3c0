-- The indexer's mirror of the escrow contract's events. Amounts are exact integers: NUMERIC(39,0)
-- holds every u128, NUMERIC(20,0) every u64. Accounts and hashes are 32-byte BYTEA.

-- What this database indexes (one chain, one contract, from one block) and how far it got. The cursor
-- moves in the same transaction as the rows of the blocks it covers.
CREATE TABLE indexer_state (
    id            BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    genesis_hash  BYTEA NOT NULL CHECK (length(genesis_hash) = 32),
    contract      BYTEA NOT NULL CHECK (length(contract) = 32),
    start_block   BIGINT NOT NULL CHECK (start_block >= 0),
    cursor_number BIGINT,
    cursor_hash   BYTEA CHECK (length(cursor_hash) = 32),
    -- The hash-chain link of the cursor's block.
    cursor_digest BYTEA CHECK (length(cursor_digest) = 32),
    -- The treasury in force at the cursor (from the contract's SettingsChanged events).
    treasury      BYTEA CHECK (length(treasury) = 32),
    CHECK ((cursor_number IS NULL) = (cursor_hash IS NULL) AND (cursor_hash IS NULL) = (cursor_digest IS NULL))
);

-- Every block from the start block to the cursor, with or without escrow events: gaps are visible.
CREATE TABLE blocks (
    number       BIGINT PRIMARY KEY CHECK (number >= 0),
    hash         BYTEA NOT NULL UNIQUE CHECK (length(hash) = 32),
    parent_hash  BYTEA NOT NULL CHECK (length(parent_hash) = 32),
    timestamp_ms BIGINT NOT NULL,
    event_count  INTEGER NOT NULL CHECK (event_count >= 0),
    -- sha256(tag, previous digest, this block, its events' positions, kinds and bytes): see
    -- indexer::record::link. `escrow audit` recomputes the chain from the start block.
    digest       BYTEA NOT NULL CHECK (length(digest) = 32)
);
CREATE INDEX blocks_timestamp ON blocks (timestamp_ms);

-- Every escrow event: the chain's bytes are the source of truth; the typed tables below derive from
-- them (and the audit checks they still do).
CREATE TABLE events (
    block_number    BIGINT NOT NULL REFERENCES blocks (number),
    event_index     INTEGER NOT NULL CHECK (event_index >= 0),
    extrinsic_index INTEGER CHECK (extrinsic_index >= 0),
    kind            TEXT NOT NULL,
    job_id          NUMERIC(20,0),
    -- Every account the event concerns (a release: consumer, provider and the treasury).
    accounts        BYTEA[] NOT NULL,
    data            BYTEA NOT NULL,
    PRIMARY KEY (block_number, event_index)
);
CREATE INDEX events_job ON events (job_id, block_number, event_index) WHERE job_id IS NOT NULL;
CREATE INDEX events_accounts ON events USING GIN (accounts);

-- Typed tables: one row per event of their kind, keyed by the event's position (block number and
-- event index), with the block's hash and the emitting extrinsic's index.
CREATE TABLE jobs (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id      NUMERIC(20,0) NOT NULL UNIQUE,
    consumer    BYTEA NOT NULL,
    providers   BYTEA[] NOT NULL,
    deposit     NUMERIC(39,0) NOT NULL,
    payer_key   BYTEA NOT NULL,
    terms_hash  BYTEA NOT NULL,
    fee_bps     INTEGER NOT NULL,
    expires_at  NUMERIC(20,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE top_ups (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id  NUMERIC(20,0) NOT NULL,
    consumer BYTEA NOT NULL,
    amount  NUMERIC(39,0) NOT NULL,
    deposit NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE completions (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id   NUMERIC(20,0) NOT NULL,
    consumer BYTEA NOT NULL,
    ends_at  NUMERIC(20,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE releases (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id     NUMERIC(20,0) NOT NULL,
    consumer   BYTEA NOT NULL,
    provider   BYTEA NOT NULL,
    -- The treasury the fee was credited to (NULL if indexing started after the last settings change).
    treasury   BYTEA,
    cumulative NUMERIC(39,0) NOT NULL,
    units      NUMERIC(39,0) NOT NULL,
    sequence   NUMERIC(20,0) NOT NULL,
    amount     NUMERIC(39,0) NOT NULL,
    fee        NUMERIC(39,0) NOT NULL,
    net        NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE INDEX releases_provider ON releases (provider);
CREATE INDEX releases_job ON releases (job_id);
CREATE TABLE refunds (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id   NUMERIC(20,0) NOT NULL,
    consumer BYTEA NOT NULL,
    amount   NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE claims (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    account BYTEA NOT NULL,
    amount  NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE stakes (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    provider BYTEA NOT NULL,
    amount   NUMERIC(39,0) NOT NULL,
    active   NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE unbonds (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    provider  BYTEA NOT NULL,
    amount    NUMERIC(39,0) NOT NULL,
    unbonding NUMERIC(39,0) NOT NULL,
    unlock_at NUMERIC(20,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE withdrawals (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    provider BYTEA NOT NULL,
    amount   NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE disputes (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id   NUMERIC(20,0) NOT NULL,
    consumer BYTEA NOT NULL,
    provider BYTEA NOT NULL,
    reason   BYTEA NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
-- A resolution with slashed = 0 is a dismissal; the `slashes` view keeps the others.
CREATE TABLE dispute_resolutions (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id   NUMERIC(20,0) NOT NULL,
    consumer BYTEA NOT NULL,
    provider BYTEA NOT NULL,
    slashed  NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE reputation_changes (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    provider       BYTEA NOT NULL,
    jobs_completed NUMERIC(20,0) NOT NULL,
    volume         NUMERIC(39,0) NOT NULL,
    disputes_lost  BIGINT NOT NULL,
    slashed        NUMERIC(39,0) NOT NULL,
    score          BIGINT NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE INDEX reputation_changes_provider ON reputation_changes (provider, block_number DESC, event_index DESC);
CREATE TABLE settings_changes (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    treasury  BYTEA NOT NULL,
    arbiter   BYTEA NOT NULL,
    fee_bps   INTEGER NOT NULL,
    min_stake NUMERIC(39,0) NOT NULL,
    paused    BOOLEAN NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE TABLE ownership_changes (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    -- 'started' (a transfer proposed) or 'transferred' (accepted).
    step         TEXT NOT NULL CHECK (step IN ('started', 'transferred')),
    from_account BYTEA NOT NULL,
    to_account   BYTEA NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);

-- Money into escrow: each job's opening deposit and its top-ups.
CREATE VIEW deposits AS
    SELECT block_number, block_hash, event_index, extrinsic_index, job_id, consumer, deposit AS amount,
           deposit AS total
    FROM jobs
    UNION ALL
    SELECT block_number, block_hash, event_index, extrinsic_index, job_id, consumer, amount, deposit AS total
    FROM top_ups;

CREATE VIEW slashes AS
    SELECT * FROM dispute_resolutions WHERE slashed > 0;
