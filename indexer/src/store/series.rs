//! The dashboard's time series and searches, kept by the follower in each batch's transaction like the
//! running totals ([`super::totals`]) and checked by the audit:
//! - `market_series`: the escrow's activity per bucket of block time at three widths ([`Bucket`]):
//!   releases (count, gross, fees), deposits with top-ups, refunds, and what the escrow held at the
//!   bucket's end. A chart of n points reads n rows, however long the history.
//! - `job_providers`: each job's providers, so a provider's jobs are read a page at a time.

use std::sync::LazyLock;

use sqlx::{PgConnection, Row};

use super::Db;
use crate::error::{Error, Result};

/// A bucket width of `market_series`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// 60 s.
    Minute,
    /// 3,600 s.
    Hour,
    /// 86,400 s (a UTC day).
    Day,
}

impl Bucket {
    /// Every width kept.
    pub const ALL: [Bucket; 3] = [Bucket::Minute, Bucket::Hour, Bucket::Day];

    /// Its width in ms.
    #[must_use]
    pub const fn width_ms(self) -> i64 {
        match self {
            Bucket::Minute => 60_000,
            Bucket::Hour => 3_600_000,
            Bucket::Day => 86_400_000,
        }
    }

    /// Its name in the API.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Bucket::Minute => "minute",
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        }
    }

    /// The bucket named `name`; anything else is `bad_bucket`.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| Error::bad_request("bad_bucket", format!("bucket `{name}` is not one of minute, hour, day")))
    }
}

/// One bucket of the escrow's activity. Amounts as Postgres renders them (decimal text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPoint {
    /// The bucket's start (ms since the epoch, a multiple of its width).
    pub start_ms: i64,
    /// Releases in it.
    pub releases: i64,
    /// Released in it (gross: net to providers plus fees).
    pub released: String,
    /// Fees to the treasury in it.
    pub fees: String,
    /// Deposited in it (deposits and top-ups).
    pub deposited: String,
    /// Refunded in it.
    pub refunded: String,
    /// Held by the escrow at its end.
    pub held: String,
}

/// `(block_number, releases, released, fees, deposited, refunded)` of every movement of escrowed money
/// in the tables named `prefix` + table, kept where `filter` holds. Only jobs whose opening is indexed
/// count (an indexer started after block 0 has not seen the deposits of jobs opened before it), so what
/// the series says is held is what the jobs list's books hold.
fn moves(prefix: &str, filter: &str) -> String {
    [
        ("jobs", "0, 0, 0, deposit, 0"),
        ("top_ups", "0, 0, 0, amount, 0"),
        ("releases", "1, amount, fee, 0, 0"),
        ("refunds", "0, 0, 0, 0, amount"),
    ]
    .iter()
    .map(|(table, columns)| {
        let opened = if *table == "jobs" {
            String::new()
        } else {
            format!(" AND EXISTS (SELECT 1 FROM {prefix}jobs j WHERE j.job_id = m.job_id)")
        };
        format!("SELECT block_number, {columns} FROM {prefix}{table} m WHERE {filter}{opened}")
    })
    .collect::<Vec<_>>()
    .join(" UNION ALL ")
}

/// The buckets of the movements `moves` at every width, with what each changed the escrow's holding by.
fn buckets(moves: &str) -> String {
    let widths = Bucket::ALL.iter().map(|b| format!("({}::bigint)", b.width_ms())).collect::<Vec<_>>().join(", ");
    format!(
        "m (block_number, releases, released, fees, deposited, refunded) AS ({moves}), \
         w (width_ms) AS (VALUES {widths}), \
         d AS (SELECT w.width_ms, b.timestamp_ms / w.width_ms * w.width_ms AS start_ms, \
                      sum(m.releases)::bigint AS releases, sum(m.released) AS released, sum(m.fees) AS fees, \
                      sum(m.deposited) AS deposited, sum(m.refunded) AS refunded \
               FROM m JOIN blocks b ON b.number = m.block_number CROSS JOIN w GROUP BY 1, 2)"
    )
}

/// Adds blocks `$1..=$2`'s movements to `market_series`. Blocks come in chain order and block time
/// never goes back, so a batch's buckets are the newest: each one's holding is the newest row's before
/// the batch plus the batch's changes up to it (the first may be that newest row, continued).
static ADD_SERIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {}, \
         base AS (SELECT w.width_ms, coalesce((SELECT s.held FROM market_series s WHERE s.width_ms = w.width_ms \
                                               ORDER BY s.start_ms DESC LIMIT 1), 0) AS held FROM w) \
         INSERT INTO market_series (width_ms, start_ms, releases, released, fees, deposited, refunded, held) \
         SELECT d.width_ms, d.start_ms, d.releases, d.released, d.fees, d.deposited, d.refunded, \
                base.held + sum(d.deposited - d.released - d.refunded) \
                            OVER (PARTITION BY d.width_ms ORDER BY d.start_ms) \
         FROM d JOIN base USING (width_ms) \
         ON CONFLICT (width_ms, start_ms) DO UPDATE SET releases = market_series.releases + excluded.releases, \
           released = market_series.released + excluded.released, fees = market_series.fees + excluded.fees, \
           deposited = market_series.deposited + excluded.deposited, \
           refunded = market_series.refunded + excluded.refunded, held = excluded.held",
        buckets(&moves("", "m.block_number BETWEEN $1 AND $2"))
    )
});

/// Adds blocks `$1..=$2`'s jobs to `job_providers`.
const ADD_JOB_PROVIDERS: &str = "INSERT INTO job_providers (provider, job_id) \
     SELECT DISTINCT p, j.job_id FROM jobs j CROSS JOIN LATERAL unnest(j.providers) p \
     WHERE j.block_number BETWEEN $1 AND $2 ON CONFLICT DO NOTHING";

/// Refuses a batch whose block time goes back, from the block before it (`prev`, ms) through its
/// `(number, time)`s: the series adds each batch to its newest buckets, and Substrate's timestamps never
/// decrease, so a block stamped earlier (or read without its timestamp) is not this chain's as it should
/// be, and indexing stops rather than file it in a past bucket.
pub fn time_goes_forward(prev: Option<i64>, blocks: impl IntoIterator<Item = (u64, u64)>) -> Result<()> {
    let mut last = prev;
    for (number, time) in blocks {
        let time = i64::try_from(time).map_err(|_| Error::Decode(format!("block {number}'s time {time}")))?;
        if let Some(before) = last.filter(|before| time < *before) {
            return Err(Error::Fatal(format!(
                "block {number} is stamped {time} ms, before the block ahead of it ({before} ms): block time went back"
            )));
        }
        last = Some(time);
    }
    Ok(())
}

/// Adds the typed rows of blocks `first..=last` (just written, in `conn`'s transaction) to the series
/// and the job searches.
pub async fn add(conn: &mut PgConnection, first: i64, last: i64) -> Result<()> {
    for sql in [ADD_SERIES.as_str(), ADD_JOB_PROVIDERS] {
        sqlx::query(sql).bind(first).bind(last).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The `market_series` buckets (`width:start`) that differ, either way, from what the scratch typed
/// rows (the audit's `expected_` tables) make of them.
pub static EXPECTED_SERIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {}, \
         want AS (SELECT width_ms, start_ms, releases, released, fees, deposited, refunded, \
                         sum(deposited - released - refunded) OVER (PARTITION BY width_ms ORDER BY start_ms) AS held \
                  FROM d), \
         kept AS (SELECT width_ms, start_ms, releases, released, fees, deposited, refunded, held FROM market_series) \
         SELECT DISTINCT width_ms || ':' || start_ms FROM \
           ((TABLE kept EXCEPT ALL TABLE want) UNION ALL (TABLE want EXCEPT ALL TABLE kept)) x ORDER BY 1 LIMIT 10",
        buckets(&moves("expected_", "true"))
    )
});

/// The `job_providers` rows (`provider hex:job`) that differ, either way, from the scratch jobs'.
pub const EXPECTED_JOB_PROVIDERS: &str = "WITH want AS (SELECT DISTINCT p AS provider, j.job_id \
       FROM expected_jobs j CROSS JOIN LATERAL unnest(j.providers) p), \
     kept AS (SELECT provider, job_id FROM job_providers) \
     SELECT DISTINCT encode(provider, 'hex') || ':' || job_id FROM \
       ((TABLE kept EXCEPT ALL TABLE want) UNION ALL (TABLE want EXCEPT ALL TABLE kept)) x ORDER BY 1 LIMIT 10";

impl Db {
    /// The newest `limit` buckets of width `bucket` that start before `before` (ms), newest first.
    pub async fn series(&self, bucket: Bucket, before: Option<i64>, limit: u32) -> Result<Vec<SeriesPoint>> {
        let rows = sqlx::query(
            "SELECT start_ms, releases, released::text AS released, fees::text AS fees, \
             deposited::text AS deposited, refunded::text AS refunded, held::text AS held \
             FROM market_series WHERE width_ms = $1 AND ($2::bigint IS NULL OR start_ms < $2) \
             ORDER BY start_ms DESC LIMIT $3",
        )
        .bind(bucket.width_ms())
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SeriesPoint {
                    start_ms: r.try_get("start_ms")?,
                    releases: r.try_get("releases")?,
                    released: r.try_get("released")?,
                    fees: r.try_get("fees")?,
                    deposited: r.try_get("deposited")?,
                    refunded: r.try_get("refunded")?,
                    held: r.try_get("held")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn buckets_parse_by_name_only() {
        for b in Bucket::ALL {
            assert_eq!(Bucket::parse(b.name()).unwrap(), b);
        }
        for bad in ["", "Minute", "week", "60000"] {
            assert!(matches!(Bucket::parse(bad), Err(Error::BadRequest { code: "bad_bucket", .. })), "{bad}");
        }
        assert_eq!(Bucket::Day.width_ms(), super::super::days::DAY_MS);
    }

    #[test]
    fn block_time_may_stand_still_but_not_go_back() {
        assert!(time_goes_forward(None, []).is_ok());
        assert!(time_goes_forward(None, [(0, 0), (1, 6_000), (2, 6_000), (3, 12_000)]).is_ok());
        assert!(time_goes_forward(Some(6_000), [(5, 6_000)]).is_ok());
        for (prev, blocks) in [(Some(6_001), vec![(5, 6_000)]), (None, vec![(1, 6_000), (2, 0)])] {
            assert!(matches!(time_goes_forward(prev, blocks), Err(Error::Fatal(m)) if m.contains("went back")));
        }
        assert!(matches!(time_goes_forward(None, [(1, u64::MAX)]), Err(Error::Decode(_))));
    }
}
