-- A release is signed mortal and recorded (hash and the block number it can no longer be included from)
-- before it is sent, so a leader that took over after a crash knows whether an open submission may still
-- land: it waits for it rather than send the same receipts again.
ALTER TABLE submissions ADD COLUMN dead_from NUMERIC(20,0);
