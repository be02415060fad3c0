//! The auditor routes' reads beyond events and blocks: the event count, a provider's payouts, the
//! treasury's fee totals, and the readiness ping. Amounts come back as Postgres renders the NUMERIC
//! sums (decimal text); the routes pass them on as they are.

use escrow_client::AccountId;
use sqlx::Row;

use super::{signed, Db};
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
    /// Per job, by job id.
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

impl Db {
    /// How many events are stored.
    pub async fn event_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&self.pool).await?)
    }

    /// Whether the database answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// `provider`'s releases per job, its totals (net, claimed, slashed) and latest reputation, all
    /// from one snapshot: the indexer may write meanwhile.
    pub async fn payouts(&self, provider: &AccountId) -> Result<Payouts> {
        let provider = provider.to_vec();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        let jobs = sqlx::query(
            "SELECT job_id::text AS job_id, count(*) AS releases, sum(net)::text AS net, sum(fee)::text AS fee, \
             max(cumulative)::text AS cumulative FROM releases WHERE provider = $1 GROUP BY job_id ORDER BY job_id",
        )
        .bind(&provider)
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

    /// Fee totals per treasury (by treasury) of the releases in blocks timed `from` (ms, inclusive)
    /// to `to` (ms, exclusive), either bound optional.
    pub async fn fees(&self, from: Option<u64>, to: Option<u64>) -> Result<Vec<TreasuryFees>> {
        let rows = sqlx::query(
            "SELECT r.treasury, count(*) AS releases, sum(r.fee)::text AS fees, sum(r.amount)::text AS gross \
             FROM releases r JOIN blocks b ON b.number = r.block_number \
             WHERE ($1::bigint IS NULL OR b.timestamp_ms >= $1) AND ($2::bigint IS NULL OR b.timestamp_ms < $2) \
             GROUP BY r.treasury ORDER BY r.treasury",
        )
        .bind(from.map(signed).transpose()?)
        .bind(to.map(signed).transpose()?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TreasuryFees {
                    fees: r.try_get("fees")?,
                    treasury: r.try_get("treasury")?,
                    releases: r.try_get("releases")?,
                    gross: r.try_get("gross")?,
                })
            })
            .collect()
    }
}
