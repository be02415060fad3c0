//! Totals per UTC day of block time, kept by the follower in each batch's transaction like the running
//! totals ([`super::totals`]): per account and flow (`flow_days`: what an account's statement moved)
//! and per treasury (`fee_days`). A period's totals read the whole days inside it from these and only
//! its partial first and last days from the typed rows ([`split`]), so what a statement's totals or the
//! treasury's fees cost follows the period's days and its edges, not the account's history.

use std::sync::LazyLock;

use escrow_client::AccountId;
use sqlx::{PgConnection, Row};

use super::api::TreasuryFees;
use super::{signed, Db};
use crate::error::Result;

/// A day of block time, in ms.
pub const DAY_MS: i64 = 86_400_000;

/// The movements of an account's money, one per typed table and role: (table, account column, flow,
/// amount column, extra condition). The same movements `crate::api::lines_for` makes statement lines
/// of.
const FLOWS: [(&str, &str, &str, &str, &str); 10] = [
    ("jobs", "consumer", "to_escrow", "deposit", ""),
    ("top_ups", "consumer", "to_escrow", "amount", ""),
    ("stakes", "provider", "to_escrow", "amount", ""),
    ("releases", "provider", "credited", "net", ""),
    ("releases", "treasury", "credited", "fee", " AND fee > 0"),
    ("refunds", "consumer", "credited", "amount", ""),
    ("dispute_resolutions", "consumer", "credited", "slashed", " AND slashed > 0"),
    ("dispute_resolutions", "provider", "slashed", "slashed", " AND slashed > 0"),
    ("claims", "account", "paid_out", "amount", ""),
    ("withdrawals", "provider", "paid_out", "amount", ""),
];

/// `(account, flow, amount, block_number)` of every movement in tables named `prefix` + table, each
/// kept where `filter(account column)` holds.
fn flows(prefix: &str, filter: impl Fn(&str) -> String) -> String {
    FLOWS
        .iter()
        .map(|(table, account, flow, amount, extra)| {
            format!(
                "SELECT {account} AS account, '{flow}' AS flow, {amount} AS amount, block_number \
                 FROM {prefix}{table} WHERE {}{extra}",
                filter(account)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// Adds blocks `$1..=$2`'s movements to `flow_days`.
static ADD_FLOW_DAYS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO flow_days (account, flow, day, amount) \
         SELECT m.account, m.flow, b.timestamp_ms / {DAY_MS}, sum(m.amount) FROM ({}) m \
         JOIN blocks b ON b.number = m.block_number GROUP BY 1, 2, 3 \
         ON CONFLICT (account, flow, day) DO UPDATE SET amount = flow_days.amount + excluded.amount",
        flows("", |account| format!("block_number BETWEEN $1 AND $2 AND {account} IS NOT NULL"))
    )
});

/// Adds blocks `$1..=$2`'s releases to `fee_days` (the empty string for releases that recorded no
/// treasury).
const ADD_FEE_DAYS: &str = "INSERT INTO fee_days (treasury, day, releases, fees, gross) \
     SELECT coalesce(r.treasury, ''::bytea), b.timestamp_ms / 86400000, count(*), sum(r.fee), sum(r.amount) \
     FROM releases r JOIN blocks b ON b.number = r.block_number WHERE r.block_number BETWEEN $1 AND $2 \
     GROUP BY 1, 2 ON CONFLICT (treasury, day) DO UPDATE SET releases = fee_days.releases + excluded.releases, \
     fees = fee_days.fees + excluded.fees, gross = fee_days.gross + excluded.gross";

/// Adds the typed rows of blocks `first..=last` (just written, in `conn`'s transaction) to the days.
pub async fn add(conn: &mut PgConnection, first: i64, last: i64) -> Result<()> {
    for sql in [ADD_FLOW_DAYS.as_str(), ADD_FEE_DAYS] {
        sqlx::query(sql).bind(first).bind(last).execute(&mut *conn).await?;
    }
    Ok(())
}

/// A period `from..to` (ms, either bound optional) split into the whole days inside it and the partial
/// days at its edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// The whole days, `first..end` (day numbers; `None`: unbounded), if any.
    pub days: Option<(Option<i64>, Option<i64>)>,
    /// The edges read from the typed rows, as `from..to` in ms.
    pub edges: [Option<(i64, i64)>; 2],
}

/// Splits `from..to` (ms) into whole days and edges; an empty period has neither.
#[must_use]
pub fn split(from: Option<i64>, to: Option<i64>) -> Split {
    // The first whole day starts at or after `from`; the whole days end where `to`'s day starts.
    let first = from.map(|f| f.div_euclid(DAY_MS).saturating_add(i64::from(f.rem_euclid(DAY_MS) != 0)));
    let end = to.map(|t| t.div_euclid(DAY_MS));
    let none = Split { days: None, edges: [None, None] };
    match (from, to) {
        (Some(f), Some(t)) if f >= t => return none,
        _ => {}
    }
    if let (Some(a), Some(b), Some(f), Some(t)) = (first, end, from, to) {
        if a >= b {
            return Split { days: None, edges: [Some((f, t)), None] };
        }
    }
    let start_ms = |day: i64| day.saturating_mul(DAY_MS);
    let head = from.zip(first).map(|(f, a)| (f, start_ms(a))).filter(|(f, a)| f < a);
    let tail = to.zip(end).map(|(t, b)| (start_ms(b), t)).filter(|(b, t)| b < t);
    Split { days: Some((first, end)), edges: [head, tail] }
}

/// Binds a split's parameters, `$1..=$8`: whether there are whole days, their first and end (NULL:
/// unbounded), each edge's from and to (NULL when absent), and whether there is any edge. A query's
/// own parameters follow.
fn bind_split<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    s: Split,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let (days, first, end) = match s.days {
        Some((first, end)) => (true, first, end),
        None => (false, None, None),
    };
    query
        .bind(days)
        .bind(first)
        .bind(end)
        .bind(s.edges[0].map(|e| e.0))
        .bind(s.edges[0].map(|e| e.1))
        .bind(s.edges[1].map(|e| e.0))
        .bind(s.edges[1].map(|e| e.1))
        .bind(s.edges.iter().any(Option::is_some))
}

/// The whole days' condition on `day` ([`bind_split`]'s parameters).
const IN_DAYS: &str = "$1 AND ($2::bigint IS NULL OR day >= $2) AND ($3::bigint IS NULL OR day < $3)";

/// The edges' condition on `b.timestamp_ms` ([`bind_split`]'s parameters).
const IN_EDGES: &str =
    "$8 AND ((b.timestamp_ms >= $4 AND b.timestamp_ms < $5) OR (b.timestamp_ms >= $6 AND b.timestamp_ms < $7))";

/// An account's (`$9`) totals per flow over a split period.
static STATEMENT_TOTALS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT flow, sum(amount)::text AS total FROM ( \
           SELECT flow, amount FROM flow_days WHERE account = $9 AND {IN_DAYS} \
           UNION ALL SELECT m.flow, m.amount FROM ({}) m JOIN blocks b ON b.number = m.block_number \
             WHERE {IN_EDGES}) t GROUP BY flow ORDER BY flow",
        flows("", |account| format!("{account} = $9"))
    )
});

/// Fee totals per treasury over a split period.
static FEES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT NULLIF(treasury, ''::bytea) AS treasury, sum(releases)::bigint AS releases, \
         sum(fees)::text AS fees, sum(gross)::text AS gross FROM ( \
           SELECT treasury, releases, fees, gross FROM fee_days WHERE {IN_DAYS} \
           UNION ALL SELECT coalesce(r.treasury, ''::bytea), 1, r.fee, r.amount FROM releases r \
             JOIN blocks b ON b.number = r.block_number WHERE {IN_EDGES}) t \
         GROUP BY treasury ORDER BY treasury NULLS FIRST"
    )
});

impl Db {
    /// The totals per flow of `account`'s statement over `from..to` (block times, ms): (flow, amount
    /// as decimal text), by flow; the whole days from `flow_days`, the partial ones from the rows.
    pub async fn statement_totals(
        &self,
        account: &AccountId,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<Vec<(String, String)>> {
        let s = split(from.map(signed).transpose()?, to.map(signed).transpose()?);
        let rows = bind_split(sqlx::query(&STATEMENT_TOTALS), s).bind(account.to_vec()).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("flow")?, r.try_get("total")?))).collect()
    }

    /// Fee totals per treasury (by treasury; releases that recorded none first) of the releases in
    /// blocks timed `from` (ms, inclusive) to `to` (ms, exclusive), either bound optional; the whole
    /// days from `fee_days`, the partial ones from the releases.
    pub async fn fees(&self, from: Option<u64>, to: Option<u64>) -> Result<Vec<TreasuryFees>> {
        let s = split(from.map(signed).transpose()?, to.map(signed).transpose()?);
        let rows = bind_split(sqlx::query(&FEES), s).fetch_all(&self.pool).await?;
        rows.iter().map(TreasuryFees::from_row).collect()
    }
}

/// The accounts whose `flow_days` rows differ, either way, from the scratch typed rows' sums (the
/// audit's `expected_` tables).
pub static EXPECTED_FLOW_DAYS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH want AS (SELECT m.account, m.flow, b.timestamp_ms / {DAY_MS} AS day, sum(m.amount) AS amount \
           FROM ({}) m JOIN blocks b ON b.number = m.block_number GROUP BY 1, 2, 3), \
         kept AS (SELECT account, flow, day, amount FROM flow_days) \
         SELECT DISTINCT account FROM ((TABLE kept EXCEPT ALL TABLE want) UNION ALL (TABLE want EXCEPT ALL TABLE kept)) d \
         ORDER BY 1 LIMIT 10",
        flows("expected_", |account| format!("{account} IS NOT NULL"))
    )
});

/// The treasuries whose `fee_days` rows differ, either way, from the scratch releases' sums.
pub const EXPECTED_FEE_DAYS: &str = "WITH want AS ( \
      SELECT coalesce(r.treasury, ''::bytea) AS treasury, b.timestamp_ms / 86400000 AS day, count(*) AS releases, \
             sum(r.fee) AS fees, sum(r.amount) AS gross FROM expected_releases r \
             JOIN blocks b ON b.number = r.block_number GROUP BY 1, 2), \
    kept AS (SELECT treasury, day, releases, fees, gross FROM fee_days) \
    SELECT DISTINCT treasury FROM ((TABLE kept EXCEPT ALL TABLE want) UNION ALL (TABLE want EXCEPT ALL TABLE kept)) d \
    ORDER BY 1 LIMIT 10";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    const D: i64 = DAY_MS;

    #[test]
    fn a_period_splits_into_its_whole_days_and_partial_edges() {
        // 1.5 days to 4.25 days: edges [1.5, 2) and [4, 4.25), whole days 2 and 3.
        let s = split(Some(3 * D / 2), Some(4 * D + D / 4));
        assert_eq!(s.days, Some((Some(2), Some(4))));
        assert_eq!(s.edges, [Some((3 * D / 2, 2 * D)), Some((4 * D, 4 * D + D / 4))]);
        // Bounds on day starts leave no edges.
        assert_eq!(split(Some(2 * D), Some(5 * D)), Split { days: Some((Some(2), Some(5))), edges: [None, None] });
        // Unbounded either side.
        assert_eq!(split(None, None), Split { days: Some((None, None)), edges: [None, None] });
        assert_eq!(split(None, Some(D + 1)), Split { days: Some((None, Some(1))), edges: [None, Some((D, D + 1))] });
        assert_eq!(split(Some(1), None), Split { days: Some((Some(1), None)), edges: [Some((1, D)), None] });
    }

    #[test]
    fn a_period_within_a_day_or_two_partial_days_is_read_whole_from_the_rows_and_an_empty_one_not_at_all() {
        assert_eq!(split(Some(D + 5), Some(D + 9)), Split { days: None, edges: [Some((D + 5, D + 9)), None] });
        // Across one midnight, no whole day between.
        assert_eq!(split(Some(D + 5), Some(2 * D + 9)), Split { days: None, edges: [Some((D + 5, 2 * D + 9)), None] });
        assert_eq!(split(Some(9), Some(9)), Split { days: None, edges: [None, None] });
        assert_eq!(split(Some(9), Some(3)), Split { days: None, edges: [None, None] });
    }

    #[test]
    fn every_millisecond_of_a_period_is_counted_once() {
        // Whole days and edges partition the period exactly.
        for (from, to) in [(0, 3 * D), (7, 3 * D + 1), (D - 1, D + 1), (5, 6), (D, 2 * D - 1)] {
            let s = split(Some(from), Some(to));
            let days = s.days.map_or(0, |(a, b)| (b.unwrap() - a.unwrap()) * D);
            let edges: i64 = s.edges.iter().flatten().map(|(a, b)| b - a).sum();
            assert_eq!(days + edges, to - from, "{from}..{to}");
        }
    }
}
