//! The refusal log's writes ([`crate::refusals`]): counts merged into their (code, hour) rows, samples
//! inserted, and the pruning that keeps both bounded.

use super::Store;
use crate::error::Result;
use crate::refusals::{Gathered, Limits};

impl Store {
    /// Writes gathered refusals in one transaction: each count added to its (code, hour) row, each
    /// sample inserted.
    pub async fn write_refusals(&self, gathered: &Gathered) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !gathered.counts.is_empty() {
            let codes: Vec<&str> = gathered.counts.keys().map(|(code, _)| *code).collect();
            let hours: Vec<i64> = gathered.counts.keys().map(|(_, hour)| i64::try_from(*hour).unwrap_or(0)).collect();
            let counts: Vec<i64> = gathered.counts.values().map(|n| i64::try_from(*n).unwrap_or(i64::MAX)).collect();
            sqlx::query(
                "INSERT INTO refusal_counts (code, hour, refused) \
                 SELECT c, to_timestamp(h), n FROM UNNEST($1::text[], $2::int8[], $3::int8[]) AS t(c, h, n) \
                 ON CONFLICT (code, hour) DO UPDATE SET refused = refusal_counts.refused + EXCLUDED.refused",
            )
            .bind(codes)
            .bind(hours)
            .bind(counts)
            .execute(&mut *tx)
            .await?;
        }
        if !gathered.samples.is_empty() {
            let s = &gathered.samples;
            sqlx::query(
                "INSERT INTO rejected_receipts (received_at, code, message, body) \
                 SELECT to_timestamp(a), c, m, b FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[]) \
                 AS t(a, c, m, b)",
            )
            .bind(s.iter().map(|s| i64::try_from(s.at).unwrap_or(0)).collect::<Vec<_>>())
            .bind(s.iter().map(|s| s.code).collect::<Vec<_>>())
            .bind(s.iter().map(|s| s.message.as_str()).collect::<Vec<_>>())
            .bind(s.iter().map(|s| s.body.as_deref()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes samples past their age or beyond the cap (the oldest first) and counts past theirs.
    pub async fn prune_refusals(&self, limits: &Limits) -> Result<()> {
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        sqlx::query("DELETE FROM rejected_receipts WHERE received_at < now() - $1::int8 * interval '1 second'")
            .bind(secs(limits.sample_max_age))
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "DELETE FROM rejected_receipts WHERE id <= \
             (SELECT id FROM rejected_receipts ORDER BY id DESC OFFSET $1 LIMIT 1)",
        )
        .bind(i64::try_from(limits.sample_cap).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM refusal_counts WHERE hour < now() - $1::int8 * interval '1 second'")
            .bind(secs(limits.count_max_age))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Refusals counted by code since `since` (seconds since the epoch), for tests and operators.
    pub async fn refusal_counts(&self, since: u64) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT code, sum(refused)::int8 FROM refusal_counts WHERE hour >= to_timestamp($1) \
             GROUP BY code ORDER BY code",
        )
        .bind(i64::try_from(since).unwrap_or(0))
        .fetch_all(&self.pool)
        .await?)
    }
}
