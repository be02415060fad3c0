-- Running totals for the dashboard's overview, kept by the follower in the same transaction as the
-- rows they sum (one update per batch, from the batch's rows only), so the overview reads a row per
-- account or treasury instead of summing whole tables on every refresh. They derive from the typed
-- tables, as those derive from the events; here they are filled from what is already indexed.

-- Per account: what the providers list shows. `provider` marks the accounts it lists (every account
-- that staked, was released to or got a reputation); the others are here for their claims only.
CREATE TABLE account_totals (
    account        BYTEA PRIMARY KEY,
    provider       BOOLEAN NOT NULL DEFAULT FALSE,
    net            NUMERIC(39,0) NOT NULL DEFAULT 0,
    claimed        NUMERIC(39,0) NOT NULL DEFAULT 0,
    slashed        NUMERIC(39,0) NOT NULL DEFAULT 0,
    staked         NUMERIC(39,0) NOT NULL DEFAULT 0,
    -- The latest reputation, if any.
    score          BIGINT,
    jobs_completed NUMERIC(20,0),
    disputes_lost  BIGINT,
    volume         NUMERIC(39,0)
);
-- The providers list's order (latest score, highest first, none last; then account), for its pages.
CREATE INDEX account_totals_providers ON account_totals (coalesce(score, -9223372036854775808) DESC, account)
    WHERE provider;

-- Per treasury (the empty string for releases that recorded none): the fee totals of all time.
CREATE TABLE treasury_totals (
    treasury BYTEA PRIMARY KEY,
    releases BIGINT NOT NULL DEFAULT 0,
    fees     NUMERIC(39,0) NOT NULL DEFAULT 0,
    gross    NUMERIC(39,0) NOT NULL DEFAULT 0
);

-- How many events are indexed.
ALTER TABLE indexer_state ADD COLUMN events BIGINT NOT NULL DEFAULT 0;

UPDATE indexer_state SET events = (SELECT count(*) FROM events);
INSERT INTO account_totals (account, provider)
    SELECT account, bool_or(provider) FROM (
        SELECT provider AS account, TRUE AS provider FROM stakes UNION ALL SELECT provider, TRUE FROM releases
        UNION ALL SELECT provider, TRUE FROM reputation_changes
        UNION ALL SELECT account, FALSE FROM claims UNION ALL SELECT provider, FALSE FROM dispute_resolutions) a
    GROUP BY account;
UPDATE account_totals a SET
    net = coalesce((SELECT sum(net) FROM releases r WHERE r.provider = a.account), 0),
    claimed = coalesce((SELECT sum(amount) FROM claims c WHERE c.account = a.account), 0),
    slashed = coalesce((SELECT sum(slashed) FROM dispute_resolutions d WHERE d.provider = a.account), 0),
    staked = coalesce((SELECT sum(amount) FROM stakes s WHERE s.provider = a.account), 0);
UPDATE account_totals a SET score = rep.score, jobs_completed = rep.jobs_completed,
    disputes_lost = rep.disputes_lost, volume = rep.volume
    FROM (SELECT DISTINCT ON (provider) provider, score, jobs_completed, disputes_lost, volume
          FROM reputation_changes ORDER BY provider, block_number DESC, event_index DESC) rep
    WHERE rep.provider = a.account;
INSERT INTO treasury_totals (treasury, releases, fees, gross)
    SELECT coalesce(treasury, ''::bytea), count(*), sum(fee), sum(amount) FROM releases
    GROUP BY coalesce(treasury, ''::bytea);
