//! The indexer's store: every SQL statement the indexer runs is in this module tree, and nowhere else.
//! Handlers and the audit decide; the store only reads and writes.
//!
//! This file holds [`Db`]: the indexer's state (what it indexes and its cursor), the batched writes of
//! indexed blocks (`COPY`, one transaction per batch), and the reads of events and blocks. The rest:
//!
//! - [`copy`]: rows in `COPY`'s text format. [`typed`]: the typed tables and their batched write.
//! - [`api`]: the auditor routes' other reads (payouts, counts). [`overview`]: the
//!   dashboard's lists.
//! - [`snapshot`]: one consistent read of everything, with scratch typed tables, for the audit.
//! - [`totals`]: the running totals the follower keeps per batch, which the overview reads.
//! - [`days`]: the totals per day the follower keeps per batch, which a period's totals read.
//! - [`series`]: the dashboard's time series and job searches, kept per batch too.

pub mod api;
pub mod copy;
pub mod days;
pub mod overview;
pub mod series;
pub mod snapshot;
pub mod totals;
pub mod typed;

pub use self::snapshot::Snapshot;

use escrow_client::AccountId;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

use self::copy::CopyRows;
use crate::error::{Error, Result};
use crate::page::EventKey;
use crate::record::IndexedBlock;

/// The indexer's database.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
}

/// The last indexed block: where indexing resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// Its hash-chain link.
    pub digest: [u8; 32],
}

/// What a database indexes, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The chain.
    pub genesis_hash: [u8; 32],
    /// The escrow contract.
    pub contract: AccountId,
    /// The first indexed block.
    pub start_block: u64,
    /// The last indexed block, if any.
    pub cursor: Option<Cursor>,
    /// The treasury in force at the cursor, if known.
    pub treasury: Option<AccountId>,
}

/// One stored event with its block's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: [u8; 32],
    /// Block timestamp (ms).
    pub timestamp: u64,
    /// Index among the block's events.
    pub event_index: u32,
    /// Emitting extrinsic.
    pub extrinsic_index: Option<u32>,
    /// Event name.
    pub kind: String,
    /// Derived: its job.
    pub job_id: Option<u64>,
    /// Derived: the accounts it concerns.
    pub accounts: Vec<AccountId>,
    /// The chain's bytes.
    pub data: Vec<u8>,
}

/// A BYTEA column of exactly `N` bytes; a row that does not decode is a [`Error::Decode`] (fatal, as
/// retrying cannot fix stored data).
pub fn fixed<const N: usize>(row: &PgRow, column: &str) -> Result<[u8; N]> {
    service_kit::sql::fixed(row, column).map_err(decode)
}

/// A NUMERIC column (read as text) parsed into an integer type; see [`fixed`] for its errors.
pub fn numeric<T: std::str::FromStr>(row: &PgRow, column: &str) -> Result<T> {
    service_kit::sql::numeric(row, column).map_err(decode)
}

/// A column that is missing or of another type stays a database error; a value that does not decode
/// is the data's fault.
fn decode(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Decode(reason) => Error::Decode(reason.to_string()),
        other => Error::Database(other),
    }
}

fn unsigned(n: i64, what: &str) -> Result<u64> {
    u64::try_from(n).map_err(|_| Error::Decode(format!("{what}: {n}")))
}

fn signed(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::Decode(format!("{n} does not fit a BIGINT")))
}

impl Db {
    /// Connects and runs the migrations. Every statement is planned for its own parameters
    /// (`plan_cache_mode = force_custom_plan`): a generic plan cached while the tables were small would
    /// go on scanning them whole as they grow.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = url.parse::<PgConnectOptions>()?.options([("plan_cache_mode", "force_custom_plan")]);
        let pool = PgPoolOptions::new().max_connections(max_connections).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// A pool for the auditor API on the database [`Db::connect`] migrated: at most `max_connections`,
    /// and every statement cancelled by Postgres after `statement_timeout` (an answer then fails with
    /// 503), so the API's load stays off the follower's pool and cannot run unbounded.
    pub async fn connect_api(
        options: PgConnectOptions,
        max_connections: u32,
        statement_timeout: std::time::Duration,
    ) -> Result<Self> {
        let timeout = statement_timeout.as_millis().to_string();
        let options =
            options.options([("plan_cache_mode", "force_custom_plan"), ("statement_timeout", timeout.as_str())]);
        let pool = PgPoolOptions::new().max_connections(max_connections).connect_with(options).await?;
        Ok(Self { pool })
    }

    /// The connection pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The stored state, if this database was initialised.
    pub async fn state(&self) -> Result<Option<State>> {
        state_in(&mut *self.pool.acquire().await?).await
    }

    /// Stored events in chain order, optionally only those of one job, or concerning one account,
    /// or within a time range (block timestamps, ms, `from` inclusive, `to` exclusive), or one page of
    /// them (after a position, at most a number).
    pub async fn events(&self, filter: &Filter) -> Result<Vec<StoredEvent>> {
        events_in(&mut *self.pool.acquire().await?, filter).await
    }

    /// Indexed blocks `from..=to` (number, hash, parent, timestamp, event count, digest).
    pub async fn blocks(&self, from: u64, to: u64) -> Result<Vec<StoredBlock>> {
        blocks_in(&mut *self.pool.acquire().await?, from, to).await
    }

    /// The state for indexing `contract` on the chain `genesis_hash` from `start_block`: created on
    /// first use, then checked, so one database never mixes two chains or two contracts
    /// ([`Error::OtherChain`], [`Error::OtherContract`]). A stored start block wins over a different
    /// configured one (indexing already began there).
    pub async fn init(&self, genesis_hash: [u8; 32], contract: AccountId, start_block: u64) -> Result<State> {
        sqlx::query(
            "INSERT INTO indexer_state (genesis_hash, contract, start_block) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(genesis_hash.to_vec())
        .bind(contract.to_vec())
        .bind(signed(start_block)?)
        .execute(&self.pool)
        .await?;
        let state = self.state().await?.ok_or_else(|| Error::Fatal("indexer_state missing after insert".into()))?;
        if state.genesis_hash != genesis_hash {
            return Err(Error::OtherChain { stored: state.genesis_hash, node: genesis_hash });
        }
        if state.contract != contract {
            return Err(Error::OtherContract { stored: state.contract, configured: contract });
        }
        if state.start_block != start_block {
            tracing::warn!(stored = state.start_block, configured = start_block, "start block fixed by the database");
        }
        Ok(state)
    }

    /// Writes `blocks` (consecutive, after `prev`) with their events and typed rows, and moves the
    /// cursor to the last of them, all in one transaction. Refuses if the cursor is no longer `prev`
    /// (another indexer wrote meanwhile).
    pub async fn commit(&self, prev: Option<u64>, blocks: &[IndexedBlock], treasury: Option<AccountId>) -> Result<()> {
        let Some(last) = blocks.last() else { return Ok(()) };
        let mut tx = self.pool.begin().await?;
        // The series' buckets are kept in block-time order: block time must not go back.
        let prev_time: Option<i64> = match prev {
            Some(n) => {
                sqlx::query_scalar("SELECT timestamp_ms FROM blocks WHERE number = $1")
                    .bind(signed(n)?)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        series::time_goes_forward(prev_time, blocks.iter().map(|b| (b.number, b.timestamp)))?;
        let mut rows = CopyRows::new();
        for b in blocks {
            let count = i64::try_from(b.events.len()).map_err(|_| Error::Decode("event count".into()))?;
            rows.int(signed(b.number)?).bytes(&b.hash).bytes(&b.parent_hash).int(signed(b.timestamp)?);
            rows.int(count).bytes(&b.digest);
            rows.end_row();
        }
        rows.send(&mut tx, "blocks", &["number", "hash", "parent_hash", "timestamp_ms", "event_count", "digest"])
            .await?;
        let events: Vec<typed::At<'_>> =
            blocks.iter().flat_map(|b| b.events.iter().map(move |e| (b.number, b.hash, e))).collect();
        let mut rows = CopyRows::new();
        for (number, _, e) in &events {
            let accounts = crate::record::accounts_of(&e.event, e.treasury);
            rows.int(signed(*number)?).int(e.event_index.into()).opt_int(e.extrinsic_index.map(i64::from));
            rows.text(&e.kind).opt_num(e.event.job_id().map(u128::from));
            rows.bytes_list(&accounts).bytes(&e.data);
            rows.end_row();
        }
        let columns = ["block_number", "event_index", "extrinsic_index", "kind", "job_id", "accounts", "data"];
        rows.send(&mut tx, "events", &columns).await?;
        typed::insert(&mut tx, "", &events).await?;
        let first = blocks.first().map_or(last.number, |b| b.number);
        totals::add(&mut tx, signed(first)?, signed(last.number)?).await?;
        days::add(&mut tx, signed(first)?, signed(last.number)?).await?;
        series::add(&mut tx, signed(first)?, signed(last.number)?).await?;
        let count = i64::try_from(events.len()).map_err(|_| Error::Decode("event count".into()))?;
        let prev = prev.map(signed).transpose()?;
        let moved = sqlx::query(
            "UPDATE indexer_state SET cursor_number = $1, cursor_hash = $2, cursor_digest = $3, treasury = $4, \
             events = events + $6 WHERE cursor_number IS NOT DISTINCT FROM $5",
        )
        .bind(signed(last.number)?)
        .bind(last.hash.to_vec())
        .bind(last.digest.to_vec())
        .bind(treasury.map(|t| t.to_vec()))
        .bind(prev)
        .bind(count)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(Error::Fatal("the cursor moved under this indexer: is another one writing here?".into()));
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A stored block row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: [u8; 32],
    /// Parent hash.
    pub parent_hash: [u8; 32],
    /// Timestamp (ms).
    pub timestamp: u64,
    /// How many escrow events it holds.
    pub event_count: u32,
    /// Its hash-chain link.
    pub digest: [u8; 32],
}

/// Which events to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Only this job's.
    pub job: Option<u64>,
    /// Only those concerning this account.
    pub account: Option<AccountId>,
    /// From this block time (ms, inclusive).
    pub from: Option<u64>,
    /// Until this block time (ms, exclusive).
    pub to: Option<u64>,
    /// Only blocks `first..=last`.
    pub blocks: Option<(u64, u64)>,
    /// Only events after this position (a page's cursor).
    pub after: Option<EventKey>,
    /// At most this many (a page, or one more to tell whether another follows).
    pub limit: Option<u32>,
}

fn stored_event(r: &PgRow) -> Result<StoredEvent> {
    let job: Option<String> = r.try_get("job_id")?;
    let accounts: Vec<Vec<u8>> = r.try_get("accounts")?;
    let index = |v: i32, what: &str| u32::try_from(v).map_err(|_| Error::Decode(format!("{what}: {v}")));
    Ok(StoredEvent {
        block_number: unsigned(r.try_get("block_number")?, "block_number")?,
        block_hash: fixed(r, "hash")?,
        timestamp: unsigned(r.try_get("timestamp_ms")?, "timestamp_ms")?,
        event_index: index(r.try_get("event_index")?, "event_index")?,
        extrinsic_index: r
            .try_get::<Option<i32>, _>("extrinsic_index")?
            .map(|v| index(v, "extrinsic_index"))
            .transpose()?,
        kind: r.try_get("kind")?,
        job_id: job.map(|j| j.parse().map_err(|_| Error::Decode(format!("job_id: {j}")))).transpose()?,
        accounts: accounts
            .into_iter()
            .map(|a| a.try_into().map_err(|_| Error::Decode("accounts: not 32 bytes".into())))
            .collect::<Result<_>>()?,
        data: r.try_get("data")?,
    })
}

/// The stored state, if initialised, read on `conn` (e.g. inside a snapshot transaction).
pub async fn state_in(conn: &mut PgConnection) -> Result<Option<State>> {
    let row = sqlx::query("SELECT * FROM indexer_state").fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    let cursor = match row.try_get::<Option<i64>, _>("cursor_number")? {
        Some(n) => Some(Cursor {
            number: unsigned(n, "cursor_number")?,
            hash: fixed(&row, "cursor_hash")?,
            digest: fixed(&row, "cursor_digest")?,
        }),
        None => None,
    };
    let treasury: Option<Vec<u8>> = row.try_get("treasury")?;
    Ok(Some(State {
        genesis_hash: fixed(&row, "genesis_hash")?,
        contract: fixed(&row, "contract")?,
        start_block: unsigned(row.try_get("start_block")?, "start_block")?,
        cursor,
        treasury: treasury.map(|t| t.try_into().map_err(|_| Error::Decode("treasury".into()))).transpose()?,
    }))
}

/// Stored events in chain order, filtered, read on `conn`.
pub async fn events_in(conn: &mut PgConnection, filter: &Filter) -> Result<Vec<StoredEvent>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT e.block_number, b.hash, b.timestamp_ms, e.event_index, e.extrinsic_index, e.kind, \
         e.job_id::text AS job_id, e.accounts, e.data \
         FROM events e JOIN blocks b ON b.number = e.block_number WHERE TRUE",
    );
    if let Some(job) = filter.job {
        q.push(" AND e.job_id = ").push_bind(job.to_string()).push("::numeric");
    }
    if let Some(account) = filter.account {
        q.push(" AND e.accounts @> ARRAY[").push_bind(account.to_vec()).push("]");
    }
    if let Some((first, last)) = filter.blocks {
        q.push(" AND e.block_number BETWEEN ").push_bind(signed(first)?).push(" AND ").push_bind(signed(last)?);
    }
    if let Some(from) = filter.from {
        q.push(" AND b.timestamp_ms >= ").push_bind(signed(from)?);
    }
    if let Some(to) = filter.to {
        q.push(" AND b.timestamp_ms < ").push_bind(signed(to)?);
    }
    if let Some(after) = filter.after {
        q.push(" AND (e.block_number, e.event_index) > (").push_bind(signed(after.block)?);
        q.push(", ").push_bind(i64::from(after.event)).push(")");
    }
    q.push(" ORDER BY e.block_number, e.event_index");
    if let Some(limit) = filter.limit {
        q.push(" LIMIT ").push_bind(i64::from(limit));
    }
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter().map(stored_event).collect()
}

/// Indexed blocks `from..=to`, read on `conn`.
pub async fn blocks_in(conn: &mut PgConnection, from: u64, to: u64) -> Result<Vec<StoredBlock>> {
    let rows = sqlx::query(
        "SELECT number, hash, parent_hash, timestamp_ms, event_count, digest FROM blocks \
         WHERE number BETWEEN $1 AND $2 ORDER BY number",
    )
    .bind(signed(from)?)
    .bind(signed(to)?)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredBlock {
                number: unsigned(r.try_get("number")?, "number")?,
                hash: fixed(r, "hash")?,
                parent_hash: fixed(r, "parent_hash")?,
                timestamp: unsigned(r.try_get("timestamp_ms")?, "timestamp_ms")?,
                event_count: u32::try_from(r.try_get::<i32, _>("event_count")?)
                    .map_err(|_| Error::Decode("event_count".into()))?,
                digest: fixed(r, "digest")?,
            })
        })
        .collect()
}
