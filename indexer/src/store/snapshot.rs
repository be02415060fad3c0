//! One consistent read of the whole database, for the audit: a `REPEATABLE READ` transaction (a running
//! indexer may commit meanwhile, always beyond the cursor the snapshot sees) that is never committed,
//! with scratch copies of the typed tables (`expected_*`) the audit fills from the events' bytes and
//! compares with the stored ones, and with the running totals they should sum to.

use sqlx::{Postgres, Row, Transaction};

use super::typed::{self, TABLES};
use super::{blocks_in, events_in, state_in, Db, Filter, State, StoredBlock, StoredEvent};
use crate::error::{Error, Result};

/// A read-only snapshot of the indexer's database. Dropping it (or [`Snapshot::close`]) rolls back,
/// which also drops the scratch tables.
pub struct Snapshot {
    tx: Transaction<'static, Postgres>,
}

/// The prefix of the scratch copies of the typed tables.
const EXPECTED: &str = "expected_";

/// The accounts whose `account_totals` row differs, either way, from the scratch tables' sums.
const EXPECTED_ACCOUNTS: &str = "WITH sums AS ( \
      SELECT account, bool_or(provider) AS provider, sum(net) AS net, sum(claimed) AS claimed, \
             sum(slashed) AS slashed, sum(staked) AS staked FROM ( \
        SELECT provider AS account, TRUE AS provider, net, 0 AS claimed, 0 AS slashed, 0 AS staked FROM expected_releases \
        UNION ALL SELECT provider, TRUE, 0, 0, 0, amount FROM expected_stakes \
        UNION ALL SELECT provider, TRUE, 0, 0, 0, 0 FROM expected_reputation_changes \
        UNION ALL SELECT account, FALSE, 0, amount, 0, 0 FROM expected_claims \
        UNION ALL SELECT provider, FALSE, 0, 0, slashed, 0 FROM expected_dispute_resolutions) m GROUP BY account), \
    rep AS (SELECT DISTINCT ON (provider) provider, score, jobs_completed, disputes_lost, volume \
            FROM expected_reputation_changes ORDER BY provider, block_number DESC, event_index DESC), \
    want AS (SELECT s.account, s.provider, s.net, s.claimed, s.slashed, s.staked, \
                    r.score, r.jobs_completed, r.disputes_lost, r.volume \
             FROM sums s LEFT JOIN rep r ON r.provider = s.account), \
    kept AS (SELECT account, provider, net, claimed, slashed, staked, score, jobs_completed, disputes_lost, volume \
             FROM account_totals) \
    SELECT DISTINCT account FROM ((TABLE kept EXCEPT ALL TABLE want) UNION ALL (TABLE want EXCEPT ALL TABLE kept)) d \
    ORDER BY 1 LIMIT 10";

/// The treasuries whose `treasury_totals` row differs, either way, from the scratch releases' sums.
const EXPECTED_TREASURIES: &str = "WITH want AS ( \
      SELECT coalesce(treasury, ''::bytea) AS treasury, count(*) AS releases, sum(fee) AS fees, \
             sum(amount) AS gross FROM expected_releases GROUP BY 1), \
    kept AS (SELECT treasury, releases, fees, gross FROM treasury_totals) \
    SELECT DISTINCT treasury FROM ((TABLE kept EXCEPT ALL TABLE want) UNION ALL (TABLE want EXCEPT ALL TABLE kept)) d \
    ORDER BY 1 LIMIT 10";

impl Db {
    /// A snapshot of everything stored now.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        Ok(Snapshot { tx })
    }
}

fn check_typed(table: &str) -> Result<()> {
    if TABLES.contains(&table) {
        Ok(())
    } else {
        Err(Error::Fatal(format!("{table} is not a typed table")))
    }
}

impl Snapshot {
    /// The stored state, if initialised.
    pub async fn state(&mut self) -> Result<Option<State>> {
        state_in(&mut self.tx).await
    }

    /// Indexed blocks `from..=to`.
    pub async fn blocks(&mut self, from: u64, to: u64) -> Result<Vec<StoredBlock>> {
        blocks_in(&mut self.tx, from, to).await
    }

    /// Stored events in chain order, filtered.
    pub async fn events(&mut self, filter: &Filter) -> Result<Vec<StoredEvent>> {
        events_in(&mut self.tx, filter).await
    }

    /// Creates the empty scratch copy of every typed table (`expected_` + name), gone at rollback.
    pub async fn create_expected_tables(&mut self) -> Result<()> {
        for table in TABLES {
            sqlx::query(&format!("CREATE TEMP TABLE {EXPECTED}{table} (LIKE {table}) ON COMMIT DROP"))
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Writes the typed rows of `events` into the scratch tables, as the indexer writes the real ones.
    pub async fn insert_expected(&mut self, events: &[typed::At<'_>]) -> Result<()> {
        typed::insert(&mut self.tx, EXPECTED, events).await
    }

    /// How many rows of `blocks` (by number) and of `events` (by block number) lie outside
    /// `start..=end`, in that order.
    pub async fn rows_outside(&mut self, start: u64, end: u64) -> Result<[(&'static str, i64); 2]> {
        let (start, end) = (i64::try_from(start).unwrap_or(i64::MAX), i64::try_from(end).unwrap_or(i64::MAX));
        let mut counts = [("blocks", 0), ("events", 0)];
        for ((table, count), column) in counts.iter_mut().zip(["number", "block_number"]) {
            *count = sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {column} < $1 OR {column} > $2"))
                .bind(start)
                .bind(end)
                .fetch_one(&mut *self.tx)
                .await?;
        }
        Ok(counts)
    }

    /// The (block number, event index) of every row in which the typed table `table` (one of
    /// [`TABLES`]) and its scratch copy differ, either way, in order.
    pub async fn expected_differences(&mut self, table: &str) -> Result<Vec<(u64, u32)>> {
        check_typed(table)?;
        let diff = sqlx::query(&format!(
            "SELECT block_number, event_index FROM \
             ((TABLE {table} EXCEPT ALL TABLE {EXPECTED}{table}) UNION ALL \
              (TABLE {EXPECTED}{table} EXCEPT ALL TABLE {table})) d ORDER BY 1, 2"
        ))
        .fetch_all(&mut *self.tx)
        .await?;
        diff.iter()
            .map(|row| {
                let block: i64 = row.try_get(0)?;
                let event: i32 = row.try_get(1)?;
                Ok((u64::try_from(block).unwrap_or_default(), u32::try_from(event).unwrap_or_default()))
            })
            .collect()
    }

    /// Where the running totals ([`super::totals`]) differ from what the scratch typed tables sum to:
    /// each account (hex) and treasury (hex, empty for none) whose row differs either way, and the
    /// event count if it is not the number of events.
    pub async fn totals_differences(&mut self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (what, sql) in [
            ("account_totals", EXPECTED_ACCOUNTS),
            ("treasury_totals", EXPECTED_TREASURIES),
            ("flow_days", super::days::EXPECTED_FLOW_DAYS.as_str()),
            ("fee_days", super::days::EXPECTED_FEE_DAYS),
        ] {
            let keys: Vec<Vec<u8>> = sqlx::query_scalar(sql).fetch_all(&mut *self.tx).await?;
            out.extend(
                keys.iter().map(|k| format!("{what} row of 0x{} differs from the events' sums", hex::encode(k))),
            );
        }
        for (what, sql) in [
            ("market_series", super::series::EXPECTED_SERIES.as_str()),
            ("job_providers", super::series::EXPECTED_JOB_PROVIDERS),
        ] {
            let keys: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *self.tx).await?;
            out.extend(keys.iter().map(|k| format!("{what} row {k} differs from the events' sums")));
        }
        let (kept, counted): (i64, i64) =
            sqlx::query_as("SELECT (SELECT events FROM indexer_state), (SELECT count(*) FROM events)")
                .fetch_one(&mut *self.tx)
                .await?;
        if kept != counted {
            out.push(format!("the event count is {kept}, {counted} events are stored"));
        }
        Ok(out)
    }

    /// Ends the snapshot, changing nothing.
    pub async fn close(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}
