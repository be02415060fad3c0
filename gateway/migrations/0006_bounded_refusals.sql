-- Issue 14: the refusal log is bounded. Every refusal is counted by code and hour; only samples are kept
-- whole in rejected_receipts (capped and expiring, see gateway/src/refusals.rs), their bodies cut to
-- 4 KiB and so kept as text (a cut body is not JSON).
CREATE TABLE refusal_counts (
    code    TEXT NOT NULL,
    hour    TIMESTAMPTZ NOT NULL,
    refused BIGINT NOT NULL CHECK (refused > 0),
    PRIMARY KEY (code, hour)
);
INSERT INTO refusal_counts (code, hour, refused)
    SELECT code, date_trunc('hour', received_at), count(*) FROM rejected_receipts GROUP BY 1, 2;
-- Only the newest 10 000 (the default cap) are kept, before the table is rewritten: the old log was
-- unbounded, and rewriting all of it would hold every replica's start.
DELETE FROM rejected_receipts WHERE id <= (SELECT max(id) - 10000 FROM rejected_receipts);
ALTER TABLE rejected_receipts ALTER COLUMN body TYPE TEXT USING body::text;
CREATE INDEX rejected_receipts_received_at ON rejected_receipts (received_at);
