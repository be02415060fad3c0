//! Stored receipts and lanes read back: one receipt by id (API, settlement loop), receipts by
//! (job, provider, cumulative amount) (audit), and the lanes of jobs (settlement view, acceptance).

use std::collections::HashMap;

use escrow_client::AccountId;
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{fixed, numeric, Store};
use crate::accept::AcceptedLane;
use crate::error::Result;
use settlement::{Lane, Receipt};

/// A stored receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its id.
    pub id: i64,
    /// The receipt.
    pub receipt: Receipt<AccountId>,
    /// The payer's signature.
    pub signature: [u8; 64],
    /// When it was accepted (RFC 3339).
    pub accepted_at: String,
}

impl Store {
    /// A stored receipt by id.
    pub async fn receipt(&self, id: i64) -> Result<Option<Stored>> {
        let row = sqlx::query(&format!("SELECT {STORED_COLUMNS} FROM receipts r WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stored_of).transpose()
    }

    /// The highest accepted receipt of `job_id`'s `provider` lane with an amount strictly between `above`
    /// and `below`: what the settlement loop falls back to when the chain refuses the lane's newest.
    pub async fn older_receipt(
        &self,
        job_id: u64,
        provider: &AccountId,
        above: u128,
        below: u128,
    ) -> Result<Option<Stored>> {
        let row = sqlx::query(&format!(
            "SELECT {STORED_COLUMNS} FROM receipts r WHERE r.job_id = $1::numeric AND r.provider = $2 \
             AND r.amount > $3::numeric AND r.amount < $4::numeric ORDER BY r.amount DESC LIMIT 1"
        ))
        .bind(job_id.to_string())
        .bind(&provider[..])
        .bind(above.to_string())
        .bind(below.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(stored_of).transpose()
    }

    /// The stored receipts with these (job, provider, cumulative amount) keys, in any order (keys
    /// without a stored receipt are skipped): what the audit compares releases with. The amount, not
    /// the sequence, identifies an accepted receipt of a lane (unique since migration 0004): receipts
    /// are ordered by cumulative amount, and a lane may hold several with one sequence.
    pub async fn receipts_at(&self, keys: &[(u64, AccountId, u128)]) -> Result<Vec<Stored>> {
        let jobs: Vec<String> = keys.iter().map(|k| k.0.to_string()).collect();
        let providers: Vec<Vec<u8>> = keys.iter().map(|k| k.1.to_vec()).collect();
        let amounts: Vec<String> = keys.iter().map(|k| k.2.to_string()).collect();
        sqlx::query(&format!(
            "SELECT {STORED_COLUMNS} FROM receipts r \
             JOIN UNNEST($1::text[], $2::bytea[], $3::text[]) AS k (job_id, provider, amount) \
             ON r.job_id = k.job_id::numeric AND r.provider = k.provider AND r.amount = k.amount::numeric"
        ))
        .bind(jobs)
        .bind(providers)
        .bind(amounts)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(stored_of)
        .collect()
    }

    /// The stored receipts of `job_id`'s `provider` lane with amounts above `after`, in amount order, at
    /// most `limit`: what a provider copies within the retention period to prove, after compaction,
    /// receipts others sent for its lane ([`crate::commitment`]).
    pub async fn lane_receipts(
        &self,
        job_id: u64,
        provider: &AccountId,
        after: u128,
        limit: usize,
    ) -> Result<Vec<Stored>> {
        sqlx::query(&format!(
            "SELECT {STORED_COLUMNS} FROM receipts r WHERE r.job_id = $1::numeric AND r.provider = $2 \
             AND r.amount > $3::numeric ORDER BY r.amount LIMIT $4"
        ))
        .bind(job_id.to_string())
        .bind(&provider[..])
        .bind(after.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(stored_of)
        .collect()
    }

    /// The highest (newest) accepted receipt of every provider of a job.
    pub async fn lanes(&self, job_id: u64) -> Result<Vec<AcceptedLane>> {
        Ok(lanes_of_jobs(&self.pool, &[job_id]).await?.remove(&job_id).unwrap_or_default())
    }

    /// The highest (newest) accepted receipt of every provider of these jobs, by job (for the audit).
    pub async fn lanes_of(&self, job_ids: &[u64]) -> Result<HashMap<u64, Vec<AcceptedLane>>> {
        lanes_of_jobs(&self.pool, job_ids).await
    }
}

/// The newest accepted receipt of every provider of these jobs, by job, read on `executor`.
pub(super) async fn lanes_of_jobs<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    job_ids: &[u64],
) -> Result<HashMap<u64, Vec<AcceptedLane>>> {
    let mut lanes: HashMap<u64, Vec<AcceptedLane>> = HashMap::new();
    for row in sqlx::query(
        "SELECT job_id::text AS job_id, provider, receipt_id, amount::text AS amount, units::text AS units, \
         sequence::text AS sequence FROM lanes WHERE job_id = ANY($1::text[]::numeric[])",
    )
    .bind(job_ids.iter().map(u64::to_string).collect::<Vec<_>>())
    .fetch_all(executor)
    .await?
    {
        lanes.entry(numeric::<u64>(&row, "job_id")?).or_default().push(lane_of(&row)?);
    }
    Ok(lanes)
}

fn lane_of(row: &PgRow) -> Result<AcceptedLane> {
    Ok(AcceptedLane {
        provider: fixed(row, "provider")?,
        receipt_id: row.try_get("receipt_id")?,
        lane: Lane {
            amount: numeric::<u128>(row, "amount")?,
            units: numeric::<u128>(row, "units")?,
            sequence: numeric::<u64>(row, "sequence")?,
            fee: 0,
        },
    })
}

const STORED_COLUMNS: &str = "r.id, r.job_id::text AS job_id, r.provider, r.amount::text AS amount, \
     r.units::text AS units, r.sequence::text AS sequence, r.expires_at::text AS expires_at, r.genesis_hash, \
     r.contract, r.signature, \
     to_char(r.accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS accepted_at";

fn stored_of(row: &PgRow) -> Result<Stored> {
    Ok(Stored {
        id: row.try_get("id")?,
        receipt: Receipt {
            domain: settlement::Domain { genesis_hash: fixed(row, "genesis_hash")?, contract: fixed(row, "contract")? },
            job_id: numeric::<u64>(row, "job_id")?,
            provider: fixed(row, "provider")?,
            amount: numeric::<u128>(row, "amount")?,
            units: numeric::<u128>(row, "units")?,
            sequence: numeric::<u64>(row, "sequence")?,
            expires_at: numeric::<u64>(row, "expires_at")?,
        },
        signature: fixed(row, "signature")?,
        accepted_at: row.try_get("accepted_at")?,
    })
}
