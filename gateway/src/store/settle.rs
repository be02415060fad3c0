//! The settlement loop's bookkeeping: the lanes ahead of the chain, marked settled or stalled, and
//! each release submission with its receipts, recorded before it is sent and followed to its end.

use escrow_client::AccountId;
use settlement::JobId;
use sqlx::Row;

use super::{fixed, numeric, Store};
use crate::error::Result;

/// A lane ahead of the chain: its newest accepted receipt is not settled yet, and it is not stalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLane {
    /// The job.
    pub job_id: JobId,
    /// The provider.
    pub provider: AccountId,
    /// The newest accepted receipt's id.
    pub receipt_id: i64,
    /// Its cumulative amount.
    pub amount: u128,
    /// How long the lane has been ahead of the chain, in ms.
    pub age_ms: u64,
    /// When that receipt expires.
    pub expires_at: u64,
}

/// A receipt of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionItem {
    /// The receipt's id.
    pub receipt_id: i64,
    /// Its job.
    pub job_id: JobId,
    /// Its provider.
    pub provider: AccountId,
    /// Its cumulative amount.
    pub amount: u128,
}

impl Store {
    /// The submissions still open (pending or in block), each with its extrinsic's hash and the block
    /// number it can no longer be included from (`None`: not signed yet, so never sent).
    pub async fn open_submissions(&self) -> Result<Vec<(i64, Option<([u8; 32], u64)>)>> {
        let rows = sqlx::query(
            "SELECT id, tx_hash, dead_from::text AS dead_from, \
             (tx_hash IS NOT NULL AND dead_from IS NOT NULL) AS signed \
             FROM submissions WHERE status IN ('pending', 'in_block')",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let signed = if row.try_get("signed")? {
                    Some((fixed(row, "tx_hash")?, numeric(row, "dead_from")?))
                } else {
                    None
                };
                Ok((row.try_get("id")?, signed))
            })
            .collect()
    }

    /// Records submission `id`'s signed extrinsic before it is sent: its hash and the block number it can
    /// no longer be included from. Only while it is still pending and, with a `fence` (the leader's
    /// session's backend process id, [`super::Leadership::fence`]), while that session holds the leader
    /// lock: a replica that lost the leadership must not send what the new leader's recovery may already
    /// have given up. Returns whether it was recorded; if not, it must not be sent.
    pub async fn set_submission_signed(
        &self,
        id: i64,
        tx_hash: &[u8],
        dead_from: u64,
        fence: Option<i32>,
    ) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE submissions SET tx_hash = $2, dead_from = $3::numeric, updated_at = now() \
             WHERE id = $1 AND status = 'pending' AND ($4::int4 IS NULL OR EXISTS (SELECT 1 FROM pg_locks \
             WHERE locktype = 'advisory' AND granted AND pid = $4 AND classid::int8 = $5 AND objid::int8 = $6 \
             AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())))",
        )
        .bind(id)
        .bind(tx_hash)
        .bind(dead_from.to_string())
        .bind(fence)
        .bind(i64::from(super::leader::LEADER_KEY.0))
        .bind(i64::from(super::leader::LEADER_KEY.1))
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// The receipts of submission `id`.
    pub async fn submission_items(&self, id: i64) -> Result<Vec<SubmissionItem>> {
        let rows = sqlx::query(
            "SELECT i.receipt_id, r.job_id::text AS job_id, r.provider, r.amount::text AS amount \
             FROM submission_items i \
             JOIN receipts r ON r.id = i.receipt_id WHERE i.submission_id = $1",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SubmissionItem {
                    receipt_id: row.try_get("receipt_id")?,
                    job_id: numeric(row, "job_id")?,
                    provider: fixed(row, "provider")?,
                    amount: numeric(row, "amount")?,
                })
            })
            .collect()
    }

    /// The lanes ahead of the chain and not stalled, the longest waiting first (at most 10 000).
    pub async fn pending_lanes(&self) -> Result<Vec<PendingLane>> {
        let rows = sqlx::query(
            "SELECT l.job_id::text AS job_id, l.provider, l.receipt_id, l.amount::text AS amount, \
             r.expires_at::text AS expires_at, \
             (extract(epoch FROM now() - COALESCE(l.unsettled_since, now())) * 1000)::bigint AS age_ms \
             FROM lanes l JOIN receipts r ON r.id = l.receipt_id \
             WHERE l.amount > l.settled_amount AND l.stalled IS NULL \
             ORDER BY l.unsettled_since NULLS LAST LIMIT 10000",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingLane {
                    job_id: numeric(row, "job_id")?,
                    provider: fixed(row, "provider")?,
                    receipt_id: row.try_get("receipt_id")?,
                    amount: numeric(row, "amount")?,
                    age_ms: u64::try_from(row.try_get::<i64, _>("age_ms")?).unwrap_or(0),
                    expires_at: numeric(row, "expires_at")?,
                })
            })
            .collect()
    }

    /// Records that the chain settled a lane up to `amount` with a receipt of `sequence` (never moving
    /// it back: the amount orders, the sequence is that receipt's, informational); the lane waits no
    /// more unless something higher was accepted.
    pub async fn mark_settled(&self, job_id: JobId, provider: &AccountId, amount: u128, sequence: u64) -> Result<()> {
        sqlx::query(
            "UPDATE lanes SET settled_amount = GREATEST(settled_amount, $3::numeric), \
             settled_sequence = CASE WHEN $3::numeric >= settled_amount THEN $4::numeric \
             ELSE settled_sequence END, \
             unsettled_since = CASE WHEN amount <= GREATEST(settled_amount, $3::numeric) THEN NULL \
             ELSE now() END WHERE job_id = $1::numeric AND provider = $2",
        )
        .bind(job_id.to_string())
        .bind(&provider[..])
        .bind(amount.to_string())
        .bind(sequence.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stalls a lane for `reason`: the loop leaves it alone until a newer receipt is accepted for it.
    pub async fn stall(&self, job_id: JobId, provider: &AccountId, reason: &str) -> Result<()> {
        sqlx::query("UPDATE lanes SET stalled = $3 WHERE job_id = $1::numeric AND provider = $2")
            .bind(job_id.to_string())
            .bind(&provider[..])
            .bind(reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a new submission (pending) of these receipts, in one transaction; returns its id.
    pub async fn record_submission(&self, receipt_ids: &[i64]) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar("INSERT INTO submissions (status) VALUES ('pending') RETURNING id")
            .fetch_one(&mut *tx)
            .await?;
        for receipt_id in receipt_ids {
            sqlx::query("INSERT INTO submission_items (submission_id, receipt_id) VALUES ($1, $2)")
                .bind(id)
                .bind(receipt_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Whether submission `id`'s extrinsic was signed (its hash recorded), and so may have been sent.
    pub async fn submission_sent(&self, id: i64) -> Result<bool> {
        Ok(sqlx::query_scalar("SELECT tx_hash IS NOT NULL FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Records that submission `id` is in block `block_hash`.
    pub async fn set_submission_in_block(&self, id: i64, block_hash: &[u8]) -> Result<()> {
        sqlx::query("UPDATE submissions SET status = 'in_block', block_hash = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(block_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets submission `id`'s status (`finalized` or `failed`, with the error).
    pub async fn set_submission_status(&self, id: i64, status: &str, error: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE submissions SET status = $2, error = $3, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(status)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets what became of receipt `receipt_id` in submission `id` (`released`, `refused`, `not_released`).
    pub async fn set_item_outcome(&self, id: i64, receipt_id: i64, outcome: &str) -> Result<()> {
        sqlx::query("UPDATE submission_items SET outcome = $3 WHERE submission_id = $1 AND receipt_id = $2")
            .bind(id)
            .bind(receipt_id)
            .bind(outcome)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
