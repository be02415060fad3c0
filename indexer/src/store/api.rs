//! The auditor routes' reads beyond events and blocks: a provider's payouts and the readiness ping (an
//! account's statement totals and the treasury's fees over a period are read per day, [`super::days`];
//! the event count and the fees of all time from the running totals, [`super::totals`]). Amounts come back as
//! Postgres renders the NUMERIC sums (decimal text); the routes pass them on as they are.

use escrow_client::AccountId;
use sqlx::Row;

use super::Db;
use crate::error::Result;

/// A provider's releases on one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPayout {
    /// The job (decimal text).
    pub job_id: String,
    /// How many releases.
    pub releases: i64,
    /// Net released, in total.
    pub net: String,
    /// Fee taken, in total.
    pub fee: String,
    /// The highest settled cumulative amount.
    pub cumulative: String,
}

/// A provider's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutTotals {
    /// Net released to it.
    pub net: String,
    /// Claimed by it.
    pub claimed: String,
    /// Slashed from its stake.
    pub slashed: String,
}

/// A provider's latest reputation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestReputation {
    /// Jobs completed.
    pub jobs_completed: String,
    /// Volume settled.
    pub volume: String,
    /// Disputes lost.
    pub disputes_lost: i64,
    /// Slashed in total.
    pub slashed: String,
    /// Score.
    pub score: i64,
}

/// A provider's payouts, read in one snapshot (so the per-job sums and the totals agree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payouts {
    /// Per job, by job id (one page).
    pub jobs: Vec<JobPayout>,
    /// Totals.
    pub totals: PayoutTotals,
    /// The latest reputation, if any was emitted.
    pub reputation: Option<LatestReputation>,
}

/// The fees that went to one treasury.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreasuryFees {
    /// The treasury as stored (32 bytes when well-formed), if the release recorded one.
    pub treasury: Option<Vec<u8>>,
    /// How many releases.
    pub releases: i64,
    /// Fees, in total.
    pub fees: String,
    /// Gross released, in total.
    pub gross: String,
}

impl TreasuryFees {
    /// A row of `treasury`, `releases`, `fees` and `gross` (the amounts as text).
    pub fn from_row(r: &sqlx::postgres::PgRow) -> Result<Self> {
        Ok(Self {
            treasury: r.try_get("treasury")?,
            releases: r.try_get("releases")?,
            fees: r.try_get("fees")?,
            gross: r.try_get("gross")?,
        })
    }
}

impl Db {
    /// Whether the database answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// `provider`'s releases per job (a page: jobs after `after`, by id, at most `limit`), its totals
    /// (net, claimed, slashed) and latest reputation, all from one snapshot: the indexer may write
    /// meanwhile.
    pub async fn payouts(&self, provider: &AccountId, after: Option<u64>, limit: u32) -> Result<Payouts> {
        let provider = provider.to_vec();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        let jobs = sqlx::query(
            "SELECT job_id::text AS job_id, count(*) AS releases, sum(net)::text AS net, sum(fee)::text AS fee, \
             max(cumulative)::text AS cumulative FROM releases \
             WHERE provider = $1 AND ($2::numeric IS NULL OR releases.job_id > $2::numeric) \
             GROUP BY releases.job_id ORDER BY releases.job_id LIMIT $3",
        )
        .bind(&provider)
        .bind(after.map(|a| a.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let totals = sqlx::query(
            "SELECT coalesce((SELECT sum(net) FROM releases WHERE provider = $1), 0)::text AS net, \
             coalesce((SELECT sum(amount) FROM claims WHERE account = $1), 0)::text AS claimed, \
             coalesce((SELECT sum(slashed) FROM dispute_resolutions WHERE provider = $1), 0)::text AS slashed",
        )
        .bind(&provider)
        .fetch_one(&mut *tx)
        .await?;
        let reputation = sqlx::query(
            "SELECT jobs_completed::text AS jobs_completed, volume::text AS volume, disputes_lost, \
             slashed::text AS slashed, score FROM reputation_changes WHERE provider = $1 \
             ORDER BY block_number DESC, event_index DESC LIMIT 1",
        )
        .bind(&provider)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let jobs = jobs
            .iter()
            .map(|r| {
                Ok(JobPayout {
                    job_id: r.try_get("job_id")?,
                    releases: r.try_get("releases")?,
                    net: r.try_get("net")?,
                    fee: r.try_get("fee")?,
                    cumulative: r.try_get("cumulative")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let reputation = match reputation {
            Some(r) => Some(LatestReputation {
                jobs_completed: r.try_get("jobs_completed")?,
                volume: r.try_get("volume")?,
                disputes_lost: r.try_get("disputes_lost")?,
                slashed: r.try_get("slashed")?,
                score: r.try_get("score")?,
            }),
            None => None,
        };
        let totals = PayoutTotals {
            net: totals.try_get("net")?,
            claimed: totals.try_get("claimed")?,
            slashed: totals.try_get("slashed")?,
        };
        Ok(Payouts { jobs, totals, reputation })
    }
}
