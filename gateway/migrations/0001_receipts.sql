-- Accepted receipts: committed before the gateway answers 2xx. Amounts are exact integers:
-- NUMERIC(39,0) holds every u128, NUMERIC(20,0) every u64.
CREATE TABLE receipts (
    id          BIGSERIAL PRIMARY KEY,
    job_id      NUMERIC(20,0) NOT NULL,
    provider    BYTEA NOT NULL CHECK (length(provider) = 32),
    amount      NUMERIC(39,0) NOT NULL CHECK (amount > 0),
    units       NUMERIC(39,0) NOT NULL CHECK (units >= 0),
    sequence    NUMERIC(20,0) NOT NULL CHECK (sequence > 0),
    expires_at  NUMERIC(20,0) NOT NULL,
    genesis_hash BYTEA NOT NULL CHECK (length(genesis_hash) = 32),
    contract    BYTEA NOT NULL CHECK (length(contract) = 32),
    signature   BYTEA NOT NULL CHECK (length(signature) = 64),
    -- sha256 of the signing bytes and the signature: the same receipt sent twice is stored once.
    digest      BYTEA NOT NULL UNIQUE CHECK (length(digest) = 32),
    accepted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (job_id, provider, sequence)
);

-- The newest accepted receipt of each (job, provider): what a release would settle.
CREATE TABLE lanes (
    job_id     NUMERIC(20,0) NOT NULL,
    provider   BYTEA NOT NULL CHECK (length(provider) = 32),
    receipt_id BIGINT NOT NULL UNIQUE REFERENCES receipts (id),
    amount     NUMERIC(39,0) NOT NULL,
    units      NUMERIC(39,0) NOT NULL,
    sequence   NUMERIC(20,0) NOT NULL,
    PRIMARY KEY (job_id, provider)
);

-- Refused receipts, kept apart from the accepted set for audit.
CREATE TABLE rejected_receipts (
    id          BIGSERIAL PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    body        JSONB
);
