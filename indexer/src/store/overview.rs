//! The dashboard's lists: the newest jobs with their books, the newest releases, and every provider
//! with its payouts and latest reputation. Amounts come back as Postgres renders them (decimal text).

use escrow_client::AccountId;
use sqlx::Row;

use super::{fixed, Db};
use crate::error::{Error, Result};

/// A job and its books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOverview {
    /// The job (decimal text).
    pub job_id: String,
    /// Its consumer.
    pub consumer: AccountId,
    /// Its providers.
    pub providers: Vec<AccountId>,
    /// Its fee (basis points).
    pub fee_bps: i32,
    /// When it expires (ms, decimal text).
    pub expires_at: String,
    /// `open`, `completed` or `refunded`.
    pub status: String,
    /// Deposit plus top-ups.
    pub deposited: String,
    /// Net released.
    pub net: String,
    /// Fees released.
    pub fee: String,
    /// How many releases.
    pub releases: i64,
    /// Refunded.
    pub refunded: String,
    /// Still held: deposited - net - fee - refunded.
    pub held: String,
}

/// A release with its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseOverview {
    /// Its block.
    pub block_number: i64,
    /// Its block's time (ms).
    pub timestamp_ms: i64,
    /// The job (decimal text).
    pub job_id: String,
    /// The provider paid.
    pub provider: AccountId,
    /// The treasury its fee went to, as stored (32 bytes when well-formed), if recorded.
    pub treasury: Option<Vec<u8>>,
    /// The settled cumulative amount.
    pub cumulative: String,
    /// Released (gross).
    pub amount: String,
    /// Fee.
    pub fee: String,
    /// Net.
    pub net: String,
}

/// A provider's payouts and latest reputation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOverview {
    /// The provider.
    pub provider: AccountId,
    /// Net released to it.
    pub net: String,
    /// Claimed by it.
    pub claimed: String,
    /// Slashed from its stake.
    pub slashed: String,
    /// Staked in total.
    pub staked: String,
    /// Latest reputation score, if any.
    pub score: Option<i64>,
    /// Latest jobs completed, if any.
    pub jobs_completed: Option<String>,
    /// Latest disputes lost, if any.
    pub disputes_lost: Option<i64>,
    /// Latest volume, if any.
    pub volume: Option<String>,
}

impl Db {
    /// The newest `limit` jobs (by job id, descending) with their books.
    pub async fn job_overviews(&self, limit: i64) -> Result<Vec<JobOverview>> {
        let rows = sqlx::query(
            "SELECT j.job_id::text AS job_id, j.consumer, j.providers, j.fee_bps, j.expires_at::text AS expires_at, \
             (j.deposit + coalesce(t.amount, 0))::text AS deposited, coalesce(r.net, 0)::text AS net, \
             coalesce(r.fee, 0)::text AS fee, coalesce(r.releases, 0) AS releases, \
             coalesce(f.amount, 0)::text AS refunded, \
             (j.deposit + coalesce(t.amount, 0) - coalesce(r.net, 0) - coalesce(r.fee, 0) - coalesce(f.amount, 0))::text AS held, \
             CASE WHEN f.job_id IS NOT NULL THEN 'refunded' WHEN c.job_id IS NOT NULL THEN 'completed' ELSE 'open' END AS status \
             FROM jobs j \
             LEFT JOIN (SELECT job_id, sum(amount) AS amount FROM top_ups GROUP BY job_id) t USING (job_id) \
             LEFT JOIN (SELECT job_id, sum(net) AS net, sum(fee) AS fee, count(*) AS releases FROM releases GROUP BY job_id) r USING (job_id) \
             LEFT JOIN (SELECT job_id, sum(amount) AS amount FROM refunds GROUP BY job_id) f USING (job_id) \
             LEFT JOIN (SELECT DISTINCT job_id FROM completions) c USING (job_id) \
             ORDER BY j.job_id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let providers: Vec<Vec<u8>> = r.try_get("providers")?;
                Ok(JobOverview {
                    providers: providers
                        .into_iter()
                        .map(|p| AccountId::try_from(p).map_err(|_| Error::Decode("provider".into())))
                        .collect::<Result<Vec<_>>>()?,
                    job_id: r.try_get("job_id")?,
                    consumer: fixed(r, "consumer")?,
                    fee_bps: r.try_get("fee_bps")?,
                    expires_at: r.try_get("expires_at")?,
                    status: r.try_get("status")?,
                    deposited: r.try_get("deposited")?,
                    net: r.try_get("net")?,
                    fee: r.try_get("fee")?,
                    releases: r.try_get("releases")?,
                    refunded: r.try_get("refunded")?,
                    held: r.try_get("held")?,
                })
            })
            .collect()
    }

    /// The newest `limit` releases (by block and event, descending).
    pub async fn release_overviews(&self, limit: i64) -> Result<Vec<ReleaseOverview>> {
        let rows = sqlx::query(
            "SELECT r.block_number, b.timestamp_ms, r.job_id::text AS job_id, r.provider, r.treasury, \
             r.cumulative::text AS cumulative, r.amount::text AS amount, r.fee::text AS fee, r.net::text AS net \
             FROM releases r JOIN blocks b ON b.number = r.block_number \
             ORDER BY r.block_number DESC, r.event_index DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReleaseOverview {
                    treasury: r.try_get("treasury")?,
                    block_number: r.try_get("block_number")?,
                    timestamp_ms: r.try_get("timestamp_ms")?,
                    job_id: r.try_get("job_id")?,
                    provider: fixed(r, "provider")?,
                    cumulative: r.try_get("cumulative")?,
                    amount: r.try_get("amount")?,
                    fee: r.try_get("fee")?,
                    net: r.try_get("net")?,
                })
            })
            .collect()
    }

    /// Up to `limit` providers (every account that staked, was released to or got a reputation), best
    /// latest score first.
    pub async fn provider_overviews(&self, limit: i64) -> Result<Vec<ProviderOverview>> {
        let rows = sqlx::query(
            "WITH p AS (SELECT provider FROM stakes UNION SELECT provider FROM releases \
                        UNION SELECT provider FROM reputation_changes), \
             rep AS (SELECT DISTINCT ON (provider) provider, score, jobs_completed::text AS jobs_completed, \
                     disputes_lost, volume::text AS volume FROM reputation_changes \
                     ORDER BY provider, block_number DESC, event_index DESC) \
             SELECT p.provider, \
               coalesce((SELECT sum(net) FROM releases r WHERE r.provider = p.provider), 0)::text AS net, \
               coalesce((SELECT sum(amount) FROM claims c WHERE c.account = p.provider), 0)::text AS claimed, \
               coalesce((SELECT sum(slashed) FROM dispute_resolutions d WHERE d.provider = p.provider), 0)::text AS slashed, \
               coalesce((SELECT sum(amount) FROM stakes s WHERE s.provider = p.provider), 0)::text AS staked, \
               rep.score, rep.jobs_completed, rep.disputes_lost, rep.volume \
             FROM p LEFT JOIN rep USING (provider) ORDER BY rep.score DESC NULLS LAST, p.provider LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ProviderOverview {
                    provider: fixed(r, "provider")?,
                    net: r.try_get("net")?,
                    claimed: r.try_get("claimed")?,
                    slashed: r.try_get("slashed")?,
                    staked: r.try_get("staked")?,
                    score: r.try_get("score")?,
                    jobs_completed: r.try_get("jobs_completed")?,
                    disputes_lost: r.try_get("disputes_lost")?,
                    volume: r.try_get("volume")?,
                })
            })
            .collect()
    }
}
