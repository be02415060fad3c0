-- Totals per UTC day of block time, kept by the follower in each batch's transaction (as the running
-- totals of 0006 are), so a period's statement totals and treasury fees read the whole days inside it
-- from here and only its partial first and last days from the typed rows. Filled here from what is
-- already indexed.

-- Per account, flow (to_escrow, credited, paid_out, slashed: the statement's) and day.
CREATE TABLE flow_days (
    account BYTEA NOT NULL,
    flow    TEXT NOT NULL,
    day     BIGINT NOT NULL,
    amount  NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (account, flow, day)
);

-- Per treasury (the empty string for releases that recorded none) and day.
CREATE TABLE fee_days (
    treasury BYTEA NOT NULL,
    day      BIGINT NOT NULL,
    releases BIGINT NOT NULL,
    fees     NUMERIC(39,0) NOT NULL,
    gross    NUMERIC(39,0) NOT NULL,
    PRIMARY KEY (treasury, day)
);

INSERT INTO flow_days (account, flow, day, amount)
    SELECT m.account, m.flow, b.timestamp_ms / 86400000, sum(m.amount)
    FROM (
        SELECT consumer, 'to_escrow', deposit, block_number FROM jobs WHERE consumer IS NOT NULL
        UNION ALL SELECT consumer, 'to_escrow', amount, block_number FROM top_ups WHERE consumer IS NOT NULL
        UNION ALL SELECT provider, 'to_escrow', amount, block_number FROM stakes WHERE provider IS NOT NULL
        UNION ALL SELECT provider, 'credited', net, block_number FROM releases WHERE provider IS NOT NULL
        UNION ALL SELECT treasury, 'credited', fee, block_number FROM releases WHERE treasury IS NOT NULL AND fee > 0
        UNION ALL SELECT consumer, 'credited', amount, block_number FROM refunds WHERE consumer IS NOT NULL
        UNION ALL SELECT consumer, 'credited', slashed, block_number FROM dispute_resolutions WHERE consumer IS NOT NULL AND slashed > 0
        UNION ALL SELECT provider, 'slashed', slashed, block_number FROM dispute_resolutions WHERE provider IS NOT NULL AND slashed > 0
        UNION ALL SELECT account, 'paid_out', amount, block_number FROM claims WHERE account IS NOT NULL
        UNION ALL SELECT provider, 'paid_out', amount, block_number FROM withdrawals WHERE provider IS NOT NULL
    ) m (account, flow, amount, block_number)
    JOIN blocks b ON b.number = m.block_number
    GROUP BY 1, 2, 3;

INSERT INTO fee_days (treasury, day, releases, fees, gross)
    SELECT coalesce(r.treasury, ''::bytea), b.timestamp_ms / 86400000, count(*), sum(r.fee), sum(r.amount)
    FROM releases r JOIN blocks b ON b.number = r.block_number
    GROUP BY 1, 2;
