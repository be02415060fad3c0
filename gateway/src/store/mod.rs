//! Postgres, and the only place the gateway's SQL lives: the accepted receipts, the newest accepted
//! receipt per (job, provider) (its lane), the refused ones, and the settlement loop's submissions.
//!
//! - `intake`: a request's receipts accepted in one transaction under their jobs' advisory locks, the
//!   decision itself left to [`crate::accept::decide`]; refusals kept for audit.
//! - `receipts`: stored receipts and lanes read back (API, audit, settlement).
//! - `settle`: the settlement loop's lanes and submissions.
//! - `leader`: which replica runs the settlement loop (a session advisory lock).
//! - `refusals`: the bounded refusal log's counts and samples ([`crate::refusals`]).
//! - `retention`: compaction of the receipts a lane no longer needs, and its commitments
//!   ([`crate::commitment`]).

mod intake;
mod leader;
mod receipts;
mod refusals;
mod retention;
mod settle;

use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

use crate::error::{Error, Result};

/// The longest a request waits for a connection from the pool. While Postgres is down, opening one is
/// refused and tried again until then; then the request fails (503) instead of waiting for Postgres
/// to come back, and the next one tries again.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long [`Store::connect`] waits for a Postgres that refuses connections (still starting).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

pub use leader::Leadership;
pub use receipts::Stored;
pub use retention::{Compacted, Retention, StoredCommitment};
pub use settle::{PendingLane, SubmissionItem};

/// The gateway's database.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects (waiting up to [`START_TIMEOUT`] for a Postgres still starting) and applies the
    /// migrations. Every statement is planned for its own parameters
    /// (`plan_cache_mode = force_custom_plan`): a generic plan cached while the tables were small would
    /// go on scanning them whole as they grow. Once connected, a request waits at most
    /// [`ACQUIRE_TIMEOUT`] for a connection; connections Postgres closed (it restarted) are replaced.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        Self::connect_with(url.parse()?, max_connections).await
    }

    /// [`Store::connect`] with the connection options already parsed.
    pub async fn connect_with(options: PgConnectOptions, max_connections: u32) -> Result<Self> {
        let options = options.options([("plan_cache_mode", "force_custom_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        let store = Self { pool };
        let deadline = Instant::now().checked_add(START_TIMEOUT);
        loop {
            match store.ping().await {
                Ok(()) => break,
                Err(Error::Database(sqlx::Error::PoolTimedOut)) if deadline.is_some_and(|d| Instant::now() < d) => {}
                Err(e) => return Err(e),
            }
        }
        store.migrate().await?;
        Ok(store)
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

    /// The pool, for tests.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether Postgres answers (`SELECT 1`), for the readiness check.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// A transaction.
type Tx<'c> = sqlx::Transaction<'c, sqlx::Postgres>;

/// A NUMERIC column read as text (`column::text`) and parsed into an exact integer.
fn numeric<T: std::str::FromStr>(row: &PgRow, column: &str) -> Result<T> {
    Ok(service_kit::sql::numeric(row, column)?)
}

/// A BYTEA column of exactly `N` bytes.
fn fixed<const N: usize>(row: &PgRow, column: &str) -> Result<[u8; N]> {
    Ok(service_kit::sql::fixed(row, column)?)
}
