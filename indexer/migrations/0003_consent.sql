-- Money rules v2, consent (G3) and the slash bound (G4): a provider is paid, disputed or slashed only
-- through a job it accepted, and one dispute slashes at most the bound fixed at acceptance. Jobs and
-- settings carry the slash share (bps of the funds a provider accepts a job with).
--
-- As with 0002: an index of an older escrow has rows without these fields and cannot be carried over;
-- the NOT NULL columns make this migration fail on it (index the new escrow into a fresh database).
ALTER TABLE jobs ADD COLUMN slash_bps INTEGER NOT NULL;
ALTER TABLE settings_announcements ADD COLUMN slash_bps INTEGER NOT NULL;
ALTER TABLE settings_changes ADD COLUMN slash_bps INTEGER NOT NULL;

CREATE TABLE acceptances (
    block_number BIGINT NOT NULL, block_hash BYTEA NOT NULL, event_index INTEGER NOT NULL, extrinsic_index INTEGER,
    job_id       NUMERIC(20,0) NOT NULL,
    provider     BYTEA NOT NULL,
    funds        NUMERIC(39,0) NOT NULL,
    max_slash    NUMERIC(39,0) NOT NULL,
    locked_until NUMERIC(20,0) NOT NULL,
    PRIMARY KEY (block_number, event_index),
    FOREIGN KEY (block_number, event_index) REFERENCES events
);
CREATE INDEX acceptances_job ON acceptances (job_id, provider);
