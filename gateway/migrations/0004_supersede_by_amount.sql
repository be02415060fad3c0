-- Money rules v2 (G1): receipts are ordered by their cumulative amount only; sequence and units are
-- informational (recorded, never checked), as in the contract. A lane may now take a higher amount with
-- a lower or repeated sequence, and sequence 0. The gateway accepts only amounts above the lane's, so
-- (job, provider, amount) identifies an accepted receipt: it is what the audit matches releases by.
ALTER TABLE receipts
    DROP CONSTRAINT receipts_job_id_provider_sequence_key,
    DROP CONSTRAINT receipts_sequence_check,
    ADD CONSTRAINT receipts_job_id_provider_amount_key UNIQUE (job_id, provider, amount);
