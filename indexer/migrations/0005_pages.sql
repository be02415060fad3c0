-- Indexes for the auditor API's bounded reads: every list is read a page at a time in the order of
-- an index (`WHERE key > cursor ORDER BY key LIMIT n`), and a statement's totals and a job's books
-- are summed through the rows of that account or job only.
--
-- Histories (`events` by job, by position) and releases (by position) already have theirs: the
-- primary keys and `events_job`. A provider's payouts are paged by job:
CREATE INDEX releases_provider_job ON releases (provider, job_id);
-- A job's books on the jobs page:
CREATE INDEX top_ups_job ON top_ups (job_id);
CREATE INDEX refunds_job ON refunds (job_id);
CREATE INDEX completions_job ON completions (job_id);
-- An account's statement totals:
CREATE INDEX jobs_consumer ON jobs (consumer);
CREATE INDEX top_ups_consumer ON top_ups (consumer);
CREATE INDEX stakes_provider ON stakes (provider);
CREATE INDEX releases_treasury ON releases (treasury) WHERE fee > 0;
CREATE INDEX refunds_consumer ON refunds (consumer);
CREATE INDEX dispute_resolutions_consumer ON dispute_resolutions (consumer) WHERE slashed > 0;
CREATE INDEX dispute_resolutions_provider ON dispute_resolutions (provider) WHERE slashed > 0;
CREATE INDEX claims_account ON claims (account);
CREATE INDEX withdrawals_provider ON withdrawals (provider);
