-- A lane the loop cannot settle (its job ended, or the chain refuses its newest receipt) is stalled
-- with the reason, and left alone until a newer receipt is accepted for it.
ALTER TABLE lanes ADD COLUMN stalled TEXT;
CREATE INDEX lanes_unsettled ON lanes (unsettled_since) WHERE stalled IS NULL;
