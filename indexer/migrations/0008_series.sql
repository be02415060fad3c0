-- The dashboard's charts and searches, kept by the follower in each batch's transaction (as the totals
-- of 0006 and 0007 are) and checked by the audit. Filled here from what is already indexed.

-- The escrow's activity per bucket of block time, at three widths (a minute, an hour, a day): releases
-- (count, gross, fees), deposits with top-ups, refunds, and what the escrow held at the bucket's end
-- (every deposit and top-up so far less every release and refund). A bucket without activity has no
-- row: what was held carries over from the row before it. A chart of n points reads n rows.
CREATE TABLE market_series (
    width_ms  BIGINT NOT NULL,
    start_ms  BIGINT NOT NULL,
    releases  BIGINT NOT NULL,
    released  NUMERIC(39,0) NOT NULL,
    fees      NUMERIC(39,0) NOT NULL,
    deposited NUMERIC(39,0) NOT NULL,
    refunded  NUMERIC(39,0) NOT NULL,
    held      NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (width_ms, start_ms)
);

-- Every (provider, job) a job was opened with, so a provider's jobs are a page of an index.
CREATE TABLE job_providers (
    provider BYTEA NOT NULL,
    job_id   NUMERIC(20,0) NOT NULL,
    PRIMARY KEY (provider, job_id)
);
-- A consumer's jobs, newest first (which also serves what jobs_consumer served).
CREATE INDEX jobs_consumer_job ON jobs (consumer, job_id);
DROP INDEX jobs_consumer;

-- Only jobs whose opening is indexed count (an indexer started after block 0 has not seen the deposits
-- of jobs opened before it), so what the series says is held is what the jobs list's books hold.
WITH m (block_number, releases, released, fees, deposited, refunded) AS (
        SELECT block_number, 0, 0, 0, deposit, 0 FROM jobs
        UNION ALL SELECT block_number, 0, 0, 0, amount, 0 FROM top_ups t
            WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.job_id = t.job_id)
        UNION ALL SELECT block_number, 1, amount, fee, 0, 0 FROM releases r
            WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.job_id = r.job_id)
        UNION ALL SELECT block_number, 0, 0, 0, 0, amount FROM refunds f
            WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.job_id = f.job_id)
    ),
    w (width_ms) AS (VALUES (60000::bigint), (3600000::bigint), (86400000::bigint)),
    d AS (
        SELECT w.width_ms, b.timestamp_ms / w.width_ms * w.width_ms AS start_ms, sum(m.releases)::bigint AS releases,
               sum(m.released) AS released, sum(m.fees) AS fees, sum(m.deposited) AS deposited,
               sum(m.refunded) AS refunded
        FROM m JOIN blocks b ON b.number = m.block_number CROSS JOIN w GROUP BY 1, 2
    )
INSERT INTO market_series (width_ms, start_ms, releases, released, fees, deposited, refunded, held)
    SELECT width_ms, start_ms, releases, released, fees, deposited, refunded,
           sum(deposited - released - refunded) OVER (PARTITION BY width_ms ORDER BY start_ms)
    FROM d;

INSERT INTO job_providers (provider, job_id)
    SELECT DISTINCT p, job_id FROM jobs CROSS JOIN LATERAL unnest(providers) p;
