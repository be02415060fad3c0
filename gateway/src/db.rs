//! Postgres: the accepted receipts, the newest accepted receipt per (job, provider), and the refused
//! ones. Accepting a receipt is one transaction under a per-job advisory lock that re-runs the
//! settlement checks against the committed state, so concurrent requests cannot both pass a bound.

use escrow_client::AccountId;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;

use crate::error::{Error, Result};
use crate::jobs::JobView;
use settlement::{Lane, Receipt, Timestamp};

/// The gateway's database.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
}

/// The outcome of storing a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The stored receipt's id.
    pub id: i64,
    /// Whether it had been accepted before (nothing new was written).
    pub duplicate: bool,
}

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

/// The newest accepted receipt of one provider on one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedLane {
    /// The provider.
    pub provider: AccountId,
    /// The receipt's id.
    pub receipt_id: i64,
    /// Its cumulative amount, units and sequence.
    pub lane: Lane,
}

/// sha256 over the signing bytes and the signature.
#[must_use]
pub fn digest(receipt: &Receipt<AccountId>, signature: &[u8; 64]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(receipt.signing_bytes());
    h.update(signature);
    h.finalize().into()
}

fn num(row: &sqlx::postgres::PgRow, column: &str) -> Result<u128> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| Error::Database(sqlx::Error::Decode(format!("{column}: {text}").into())))
}

fn small(row: &sqlx::postgres::PgRow, column: &str) -> Result<u64> {
    u64::try_from(num(row, column)?).map_err(|_| Error::Database(sqlx::Error::Decode(column.to_string().into())))
}

fn fixed<const N: usize>(row: &sqlx::postgres::PgRow, column: &str) -> Result<[u8; N]> {
    let raw: Vec<u8> = row.try_get(column)?;
    raw.try_into().map_err(|_| Error::Database(sqlx::Error::Decode(column.to_string().into())))
}

fn lane_of(row: &sqlx::postgres::PgRow) -> Result<AcceptedLane> {
    Ok(AcceptedLane {
        provider: fixed(row, "provider")?,
        receipt_id: row.try_get("receipt_id")?,
        lane: Lane {
            amount: num(row, "amount")?,
            units: num(row, "units")?,
            sequence: small(row, "sequence")?,
            fee: 0,
        },
    })
}

const LANES: &str = "SELECT provider, receipt_id, amount::text AS amount, units::text AS units, \
                     sequence::text AS sequence FROM lanes WHERE job_id = $1::numeric";

impl Db {
    /// Connects and applies the migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new().max_connections(max_connections).connect(url).await?;
        let db = Self { pool };
        db.migrate().await?;
        Ok(db)
    }

    /// Wraps a pool whose database is already migrated.
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Applies the migrations in `gateway/migrations`.
    pub async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations").run(&self.pool).await?;
        Ok(())
    }

    /// The pool, for health checks and tests.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Accepts a receipt whose domain was checked: under the job's lock, runs every settlement check
    /// against the job as the chain has it and the lanes as accepted so far, then commits it. A receipt
    /// accepted before is reported as a duplicate and nothing is written.
    pub async fn accept(
        &self,
        view: &JobView,
        receipt: &Receipt<AccountId>,
        signature: &[u8; 64],
        now: Timestamp,
    ) -> Result<Accepted> {
        let digest = digest(receipt, signature);
        let job_key = i64::try_from(receipt.job_id).map_err(|_| Error::Refused(settlement::Error::JobNotFound))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(job_key).execute(&mut *tx).await?;

        if let Some(row) =
            sqlx::query("SELECT id FROM receipts WHERE digest = $1").bind(&digest[..]).fetch_optional(&mut *tx).await?
        {
            return Ok(Accepted { id: row.try_get("id")?, duplicate: true });
        }
        let accepted: Vec<AcceptedLane> = sqlx::query(LANES)
            .bind(receipt.job_id.to_string())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(lane_of)
            .collect::<Result<_>>()?;
        let (job, lane) = view.with_accepted(&accepted, &receipt.provider);
        settlement::checks::check_against_job(&job, &lane, receipt, signature, now).map_err(Error::Refused)?;

        let id: i64 = sqlx::query(
            "INSERT INTO receipts (job_id, provider, amount, units, sequence, expires_at, genesis_hash, contract, \
             signature, digest) VALUES ($1::numeric, $2, $3::numeric, $4::numeric, $5::numeric, $6::numeric, $7, $8, \
             $9, $10) RETURNING id",
        )
        .bind(receipt.job_id.to_string())
        .bind(&receipt.provider[..])
        .bind(receipt.amount.to_string())
        .bind(receipt.units.to_string())
        .bind(receipt.sequence.to_string())
        .bind(receipt.expires_at.to_string())
        .bind(&receipt.domain.genesis_hash[..])
        .bind(&receipt.domain.contract[..])
        .bind(&signature[..])
        .bind(&digest[..])
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        sqlx::query(
            "INSERT INTO lanes (job_id, provider, receipt_id, amount, units, sequence, unsettled_since) \
             VALUES ($1::numeric, $2, $3, $4::numeric, $5::numeric, $6::numeric, now()) \
             ON CONFLICT (job_id, provider) DO UPDATE SET receipt_id = EXCLUDED.receipt_id, \
             amount = EXCLUDED.amount, units = EXCLUDED.units, sequence = EXCLUDED.sequence, \
             unsettled_since = COALESCE(lanes.unsettled_since, now())",
        )
        .bind(receipt.job_id.to_string())
        .bind(&receipt.provider[..])
        .bind(id)
        .bind(receipt.amount.to_string())
        .bind(receipt.units.to_string())
        .bind(receipt.sequence.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Accepted { id, duplicate: false })
    }

    /// Keeps a refused receipt for audit.
    pub async fn log_rejection(&self, code: &str, message: &str, body: Option<&serde_json::Value>) -> Result<()> {
        sqlx::query("INSERT INTO rejected_receipts (code, message, body) VALUES ($1, $2, $3)")
            .bind(code)
            .bind(message)
            .bind(body)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A stored receipt by id.
    pub async fn receipt(&self, id: i64) -> Result<Option<Stored>> {
        let row = sqlx::query(
            "SELECT id, job_id::text AS job_id, provider, amount::text AS amount, units::text AS units, \
             sequence::text AS sequence, expires_at::text AS expires_at, genesis_hash, contract, signature, \
             to_char(accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS accepted_at \
             FROM receipts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Stored {
            id: row.try_get("id")?,
            receipt: Receipt {
                domain: settlement::Domain {
                    genesis_hash: fixed(&row, "genesis_hash")?,
                    contract: fixed(&row, "contract")?,
                },
                job_id: small(&row, "job_id")?,
                provider: fixed(&row, "provider")?,
                amount: num(&row, "amount")?,
                units: num(&row, "units")?,
                sequence: small(&row, "sequence")?,
                expires_at: small(&row, "expires_at")?,
            },
            signature: fixed(&row, "signature")?,
            accepted_at: row.try_get("accepted_at")?,
        }))
    }

    /// The newest accepted receipt of every provider of a job.
    pub async fn lanes(&self, job_id: u64) -> Result<Vec<AcceptedLane>> {
        sqlx::query(LANES).bind(job_id.to_string()).fetch_all(&self.pool).await?.iter().map(lane_of).collect()
    }
}
