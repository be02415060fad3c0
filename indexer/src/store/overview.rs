//! The dashboard's lists: the newest jobs with their books, the newest releases (and, in
//! [`super::totals`], every provider with its payouts and latest reputation). Amounts come back as Postgres renders them (decimal text).

use escrow_client::AccountId;
use sqlx::Row;

use super::{fixed, signed, Db};
use crate::error::{Error, Result};
use crate::page::EventKey;

/// A job and its books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOverview {
    /// The job.
    pub id: u64,
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

/// Which jobs a jobs page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSearch {
    /// Every job.
    All,
    /// The job with this id, if any.
    Job(u64),
    /// The jobs this account opened.
    Consumer(AccountId),
    /// The jobs opened with this account among their providers.
    Provider(AccountId),
}

/// A release with its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseOverview {
    /// Its block.
    pub block_number: i64,
    /// Its index among the block's events.
    pub event_index: i32,
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
    /// The newest `limit` jobs of `search` (by job id, descending) older than `before`, with their
    /// books: the page's job ids are read from one index (`jobs`' job ids, `jobs_consumer_job`, or
    /// `job_providers`), and each job's sums through its own rows (indexes on `job_id`), so a page
    /// costs its jobs only.
    pub async fn job_overviews(&self, search: JobSearch, before: Option<u64>, limit: u32) -> Result<Vec<JobOverview>> {
        let (ids, who) = match search {
            JobSearch::All => ("SELECT job_id FROM jobs WHERE true", None),
            JobSearch::Job(_) => ("SELECT job_id FROM jobs WHERE job_id = $3::numeric", None),
            JobSearch::Consumer(a) => ("SELECT job_id FROM jobs WHERE consumer = $3", Some(a.as_ref().to_vec())),
            JobSearch::Provider(a) => {
                ("SELECT job_id FROM job_providers WHERE provider = $3", Some(a.as_ref().to_vec()))
            }
        };
        let sql = format!(
            "WITH ids AS ({ids} AND ($1::numeric IS NULL OR job_id < $1::numeric) ORDER BY job_id DESC LIMIT $2) \
             SELECT j.job_id::text AS job_id, j.consumer, j.providers, j.fee_bps, j.expires_at::text AS expires_at, \
             (j.deposit + t.amount)::text AS deposited, r.net::text AS net, r.fee::text AS fee, r.releases, \
             f.amount::text AS refunded, (j.deposit + t.amount - r.net - r.fee - f.amount)::text AS held, \
             CASE WHEN f.refunds > 0 THEN 'refunded' \
                  WHEN EXISTS (SELECT 1 FROM completions c WHERE c.job_id = j.job_id) THEN 'completed' \
                  ELSE 'open' END AS status \
             FROM ids JOIN jobs j ON j.job_id = ids.job_id \
             CROSS JOIN LATERAL (SELECT coalesce(sum(amount), 0) AS amount FROM top_ups WHERE job_id = j.job_id) t \
             CROSS JOIN LATERAL (SELECT coalesce(sum(net), 0) AS net, coalesce(sum(fee), 0) AS fee, count(*) AS releases \
                                 FROM releases WHERE job_id = j.job_id) r \
             CROSS JOIN LATERAL (SELECT coalesce(sum(amount), 0) AS amount, count(*) AS refunds \
                                 FROM refunds WHERE job_id = j.job_id) f \
             ORDER BY j.job_id DESC"
        );
        let query = sqlx::query(&sql).bind(before.map(|b| b.to_string())).bind(i64::from(limit));
        let rows = match (search, who) {
            (JobSearch::Job(id), _) => query.bind(id.to_string()),
            (_, Some(bytes)) => query.bind(bytes),
            (_, None) => query,
        }
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
                    id: super::numeric(r, "job_id")?,
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

    /// The newest `limit` releases (by block and event, descending) before `before`.
    pub async fn release_overviews(&self, before: Option<EventKey>, limit: u32) -> Result<Vec<ReleaseOverview>> {
        let rows = sqlx::query(
            "SELECT r.block_number, r.event_index, b.timestamp_ms, r.job_id::text AS job_id, r.provider, r.treasury, \
             r.cumulative::text AS cumulative, r.amount::text AS amount, r.fee::text AS fee, r.net::text AS net \
             FROM releases r JOIN blocks b ON b.number = r.block_number \
             WHERE ($1::bigint IS NULL OR (r.block_number, r.event_index) < ($1, $2::bigint)) \
             ORDER BY r.block_number DESC, r.event_index DESC LIMIT $3",
        )
        .bind(before.map(|b| signed(b.block)).transpose()?)
        .bind(before.map(|b| i64::from(b.event)))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReleaseOverview {
                    treasury: r.try_get("treasury")?,
                    block_number: r.try_get("block_number")?,
                    event_index: r.try_get("event_index")?,
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
}
