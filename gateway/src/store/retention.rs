//! Receipt retention's reads and writes: the lanes a compaction has work on, one lane compacted in one
//! transaction ([`crate::commitment::plan`] decides), and the commitments read back.

use std::time::Duration;

use escrow_client::AccountId;
use settlement::JobId;
use sqlx::Row;

use super::{fixed, numeric, Store};
use crate::commitment::{plan, Candidate, Commitment, Plan};
use crate::error::Result;

/// How compaction runs.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// How long an accepted receipt is kept at least, whatever the chain settled.
    pub keep_for: Duration,
    /// Most lanes compacted by one pass.
    pub lanes_per_pass: usize,
    /// Most receipts one lane's compaction covers (the rest wait for the next pass).
    pub receipts_per_lane: usize,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compacted {
    /// Lanes looked at.
    pub lanes: usize,
    /// Commitments written.
    pub commitments: usize,
    /// Receipts deleted.
    pub deleted: u64,
    /// Lanes whose compaction failed (logged; tried again next pass).
    pub failed: usize,
}

/// A commitment as stored, with when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCommitment {
    /// The commitment.
    pub commitment: Commitment,
    /// How many of its receipts were deleted (the others are still stored).
    pub deleted: u64,
    /// When (RFC 3339).
    pub compacted_at: String,
}

impl Store {
    /// One compaction pass: up to `lanes_per_pass` lanes whose finalized settled amount and newest
    /// accepted amount are both above what is compacted, each in its own transaction. A lane that fails is logged and left for the next pass;
    /// the others go on.
    pub async fn compact(&self, retention: &Retention) -> Result<Compacted> {
        let lanes = sqlx::query(
            "SELECT job_id::text AS job_id, provider FROM lanes \
             WHERE LEAST(settled_amount, amount) > compacted_to AND (compact_after IS NULL OR compact_after <= now()) \
             ORDER BY compact_after NULLS FIRST LIMIT $1",
        )
        .bind(i64::try_from(retention.lanes_per_pass).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut done = Compacted { lanes: lanes.len(), ..Compacted::default() };
        for row in &lanes {
            let (job_id, provider): (JobId, AccountId) = (numeric(row, "job_id")?, fixed(row, "provider")?);
            match self.compact_lane(job_id, &provider, retention).await {
                Ok(Some(deleted)) => {
                    done.commitments = done.commitments.saturating_add(1);
                    done.deleted = done.deleted.saturating_add(deleted);
                }
                Ok(None) => {}
                Err(e) => {
                    done.failed = done.failed.saturating_add(1);
                    tracing::warn!(job_id, error = %e, "cannot compact a lane; retrying next pass");
                }
            }
        }
        Ok(done)
    }

    /// Compacts one lane in one transaction, under its job's advisory lock (the intake's: no receipt of
    /// the job is accepted meanwhile; a job busy with one is left for the next pass) and its row lock;
    /// returns how many receipts were deleted if a commitment was written.
    async fn compact_lane(&self, job_id: JobId, provider: &AccountId, retention: &Retention) -> Result<Option<u64>> {
        let mut tx = self.pool.begin().await?;
        let Ok(lock) = i64::try_from(job_id) else { return Ok(None) };
        if !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_xact_lock($1)").bind(lock).fetch_one(&mut *tx).await?
        {
            return Ok(None);
        }
        let lane = sqlx::query(
            "SELECT compacted_to::text AS compacted_to, settled_amount::text AS settled_amount, \
             LEAST(settled_amount, amount)::text AS upper, receipt_id \
             FROM lanes WHERE job_id = $1::numeric AND provider = $2 FOR UPDATE",
        )
        .bind(job_id.to_string())
        .bind(&provider[..])
        .fetch_optional(&mut *tx)
        .await?;
        let Some(lane) = lane else { return Ok(None) };
        // Up to the lower of what the chain settled and what was accepted: a receipt accepted later
        // (above the lane's newest) can then never fall inside a range already committed to.
        let (from, settled, upper): (u128, u128, u128) =
            (numeric(&lane, "compacted_to")?, numeric(&lane, "settled_amount")?, numeric(&lane, "upper")?);
        if upper <= from {
            return Ok(None);
        }
        let newest: i64 = lane.try_get("receipt_id")?;
        let limit = retention.receipts_per_lane.max(1);
        let keep_ms = i64::try_from(retention.keep_for.as_millis()).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT r.id, r.amount::text AS amount, r.digest, r.accepted_at + $6 * interval '1 ms' <= now() AS ripe, \
             (r.id = $5 OR r.amount = $7::numeric OR EXISTS \
             (SELECT 1 FROM submission_items i WHERE i.receipt_id = r.id)) AS kept \
             FROM receipts r WHERE r.job_id = $1::numeric AND r.provider = $2 \
             AND r.amount > $3::numeric AND r.amount <= $4::numeric ORDER BY r.amount LIMIT $8",
        )
        .bind(job_id.to_string())
        .bind(&provider[..])
        .bind(from.to_string())
        .bind(upper.to_string())
        .bind(newest)
        .bind(keep_ms)
        .bind(settled.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        let candidates = rows
            .iter()
            .map(|row| {
                Ok(Candidate {
                    id: row.try_get("id")?,
                    amount: numeric(row, "amount")?,
                    digest: fixed(row, "digest")?,
                    ripe: row.try_get("ripe")?,
                    kept: row.try_get("kept")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (to, wait, written) = match plan(from, upper, &candidates, candidates.len() < limit) {
            Plan::Wait(index) => (from, candidates.get(index).map(|c| c.id), None),
            Plan::Advance { to } => (to, None, None),
            Plan::Compact { commitment, delete } => {
                let deleted = sqlx::query("DELETE FROM receipts WHERE id = ANY($1)")
                    .bind(&delete)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(
                    "INSERT INTO lane_commitments (job_id, provider, from_amount, to_amount, leaves, root, deleted) \
                     VALUES ($1::numeric, $2, $3::numeric, $4::numeric, $5, $6, $7)",
                )
                .bind(job_id.to_string())
                .bind(&provider[..])
                .bind(commitment.from.to_string())
                .bind(commitment.to.to_string())
                .bind(i64::try_from(commitment.leaves).unwrap_or(i64::MAX))
                .bind(&commitment.root[..])
                .bind(i64::try_from(deleted).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
                (commitment.to, None, Some(deleted))
            }
        };
        // A lane that waits for a receipt to ripen is not looked at again before it has.
        sqlx::query(
            "UPDATE lanes SET compacted_to = $3::numeric, compact_after = \
             (SELECT accepted_at + $5 * interval '1 ms' FROM receipts WHERE id = $4) \
             WHERE job_id = $1::numeric AND provider = $2",
        )
        .bind(job_id.to_string())
        .bind(&provider[..])
        .bind(to.to_string())
        .bind(wait)
        .bind(keep_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(written)
    }

    /// How far `job_id`'s `provider` lane is compacted (every receipt it accepted at or below this amount
    /// is in one of its commitments), or `None` if the gateway holds no such lane.
    pub async fn compacted_to(&self, job_id: JobId, provider: &AccountId) -> Result<Option<u128>> {
        let row = sqlx::query(
            "SELECT compacted_to::text AS compacted_to FROM lanes WHERE job_id = $1::numeric AND provider = $2",
        )
        .bind(job_id.to_string())
        .bind(&provider[..])
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(|r| numeric(r, "compacted_to")).transpose()
    }

    /// The commitments of `job_id`'s `provider` lane covering amounts above `after`, in amount order, at
    /// most `limit`.
    pub async fn commitments(
        &self,
        job_id: JobId,
        provider: &AccountId,
        after: u128,
        limit: usize,
    ) -> Result<Vec<StoredCommitment>> {
        let rows = sqlx::query(
            "SELECT from_amount::text AS from_amount, to_amount::text AS to_amount, leaves, root, deleted, \
             to_char(compacted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS compacted_at \
             FROM lane_commitments WHERE job_id = $1::numeric AND provider = $2 AND to_amount > $3::numeric \
             ORDER BY lane_commitments.to_amount LIMIT $4",
        )
        .bind(job_id.to_string())
        .bind(&provider[..])
        .bind(after.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredCommitment {
                    commitment: Commitment {
                        from: numeric(row, "from_amount")?,
                        to: numeric(row, "to_amount")?,
                        leaves: u64::try_from(row.try_get::<i64, _>("leaves")?).unwrap_or(0),
                        root: fixed(row, "root")?,
                    },
                    deleted: u64::try_from(row.try_get::<i64, _>("deleted")?).unwrap_or(0),
                    compacted_at: row.try_get("compacted_at")?,
                })
            })
            .collect()
    }
}
