-- Money rules v2, bounded admin power (G4): each job names the arbiter it opened with, each dispute
-- the end of its arbitration period, and settings changes are announced before they apply.
--
-- The contract that emits these fields is a new deployment: an index of an older escrow has rows
-- without them and cannot be carried over, so the NOT NULL columns make this migration fail on it
-- (index the new escrow into a fresh database).
ALTER TABLE jobs ADD COLUMN arbiter BYTEA NOT NULL;
ALTER TABLE disputes ADD COLUMN resolve_by NUMERIC(20,0) NOT NULL;

CREATE TABLE settings_announcements (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    treasury     BYTEA NOT NULL,
    arbiter      BYTEA NOT NULL,
    fee_bps      INTEGER NOT NULL,
    min_stake    NUMERIC(39,0) NOT NULL,
    effective_at NUMERIC(20,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
