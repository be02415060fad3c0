//! The auditor routes' reads beyond events and blocks: a provider's payouts, an account's statement
//! totals, the treasury's fee totals over a period, and the readiness ping (the event count and the
//! fees of all time are read from the running totals, [`super::totals`]). Amounts come back as
//! Postgres renders the NUMERIC sums (decimal text); the routes pass them on as they are.

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

/// Of an account's statement over a period, the total of each flow that has a line (`to_escrow`,
/// `credited`, `paid_out`, `slashed`), summed by Postgres from the typed tables: the same movements
/// `crate::api::lines_for` makes lines of.
const STATEMENT_TOTALS: &str = "WITH m (flow, amount, block_number) AS ( \
    SELECT 'to_escrow', deposit, block_number FROM jobs WHERE consumer = $1 \
    UNION ALL SELECT 'to_escrow', amount, block_number FROM top_ups WHERE consumer = $1 \
    UNION ALL SELECT 'to_escrow', amount, block_number FROM stakes WHERE provider = $1 \
    UNION ALL SELECT 'credited', net, block_number FROM releases WHERE provider = $1 \
    UNION ALL SELECT 'credited', fee, block_number FROM releases WHERE treasury = $1 AND fee > 0 \
    UNION ALL SELECT 'credited', amount, block_number FROM refunds WHERE consumer = $1 \
    UNION ALL SELECT 'credited', slashed, block_number FROM dispute_resolutions WHERE consumer = $1 AND slashed > 0 \
    UNION ALL SELECT 'slashed', slashed, block_number FROM dispute_resolutions WHERE provider = $1 AND slashed > 0 \
    UNION ALL SELECT 'paid_out', amount, block_number FROM claims WHERE account = $1 \
    UNION ALL SELECT 'paid_out', amount, block_number FROM withdrawals WHERE provider = $1) \
    SELECT m.flow, sum(m.amount)::text AS total FROM m JOIN blocks b ON b.number = m.block_number \
    WHERE ($2::bigint IS NULL OR b.timestamp_ms >= $2) AND ($3::bigint IS NULL OR b.timestamp_ms < $3) \
    GROUP BY m.flow ORDER BY m.flow";

impl Db {
    /// The totals per flow of `account`'s statement over `from..to` (block times, ms): (flow, amount
    /// as decimal text), by flow.
    pub async fn statement_totals(
        &self,
        account: &AccountId,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(STATEMENT_TOTALS)
            .bind(account.to_vec())
            .bind(from.map(signed).transpose()?)
            .bind(to.map(signed).transpose()?)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("flow")?, r.try_get("total")?))).collect()
    }

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
             WHERE provider = $1 AND ($2::numeric IS NULL OR job_id > $2::numeric) \
             GROUP BY job_id ORDER BY job_id LIMIT $3",
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
