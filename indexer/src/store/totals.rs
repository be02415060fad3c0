//! The running totals behind the dashboard's overview (`account_totals`, `treasury_totals`, and the
//! event count in `indexer_state`): added to from each batch's typed rows, in the batch's own
//! transaction ([`super::Db::commit`]), so they always sum exactly what is indexed; and read back a row
//! per provider or treasury.

use escrow_client::AccountId;
use sqlx::{PgConnection, Row};

use super::api::TreasuryFees;
use super::overview::ProviderOverview;
use super::{fixed, Db};
use crate::error::Result;
use crate::page::ProviderKey;

/// Each statement adds what blocks `$1..=$2` hold, grouped so an account or treasury is one row.
const ADD: [&str; 6] = [
    "INSERT INTO account_totals (account, provider, net) \
     SELECT provider, TRUE, sum(net) FROM releases WHERE block_number BETWEEN $1 AND $2 GROUP BY provider \
     ON CONFLICT (account) DO UPDATE SET provider = TRUE, net = account_totals.net + excluded.net",
    "INSERT INTO account_totals (account, provider, staked) \
     SELECT provider, TRUE, sum(amount) FROM stakes WHERE block_number BETWEEN $1 AND $2 GROUP BY provider \
     ON CONFLICT (account) DO UPDATE SET provider = TRUE, staked = account_totals.staked + excluded.staked",
    "INSERT INTO account_totals (account, claimed) \
     SELECT account, sum(amount) FROM claims WHERE block_number BETWEEN $1 AND $2 GROUP BY account \
     ON CONFLICT (account) DO UPDATE SET claimed = account_totals.claimed + excluded.claimed",
    "INSERT INTO account_totals (account, slashed) \
     SELECT provider, sum(slashed) FROM dispute_resolutions WHERE block_number BETWEEN $1 AND $2 GROUP BY provider \
     ON CONFLICT (account) DO UPDATE SET slashed = account_totals.slashed + excluded.slashed",
    // The batch's latest reputation of each provider is later than any stored one.
    "INSERT INTO account_totals (account, provider, score, jobs_completed, disputes_lost, volume) \
     SELECT DISTINCT ON (provider) provider, TRUE, score, jobs_completed, disputes_lost, volume \
     FROM reputation_changes WHERE block_number BETWEEN $1 AND $2 \
     ORDER BY provider, block_number DESC, event_index DESC \
     ON CONFLICT (account) DO UPDATE SET provider = TRUE, score = excluded.score, \
     jobs_completed = excluded.jobs_completed, disputes_lost = excluded.disputes_lost, volume = excluded.volume",
    "INSERT INTO treasury_totals (treasury, releases, fees, gross) \
     SELECT coalesce(treasury, ''::bytea), count(*), sum(fee), sum(amount) FROM releases \
     WHERE block_number BETWEEN $1 AND $2 GROUP BY coalesce(treasury, ''::bytea) \
     ON CONFLICT (treasury) DO UPDATE SET releases = treasury_totals.releases + excluded.releases, \
     fees = treasury_totals.fees + excluded.fees, gross = treasury_totals.gross + excluded.gross",
];

/// Adds the typed rows of blocks `first..=last` (just written, in `conn`'s transaction) to the totals.
pub async fn add(conn: &mut PgConnection, first: i64, last: i64) -> Result<()> {
    for sql in ADD {
        sqlx::query(sql).bind(first).bind(last).execute(&mut *conn).await?;
    }
    Ok(())
}

impl Db {
    /// Up to `limit` providers (every account that staked, was released to or got a reputation), best
    /// latest score first (none last), then by account; only those after `after` in that order. Read
    /// from the running totals: a row per provider.
    pub async fn provider_overviews(&self, after: Option<ProviderKey>, limit: u32) -> Result<Vec<ProviderOverview>> {
        let rows = sqlx::query(
            "SELECT account, net::text AS net, claimed::text AS claimed, slashed::text AS slashed, \
             staked::text AS staked, score, jobs_completed::text AS jobs_completed, disputes_lost, \
             volume::text AS volume FROM account_totals \
             WHERE provider AND ($1::bigint IS NULL \
                 OR coalesce(score, -9223372036854775808) < $1 \
                 OR (coalesce(score, -9223372036854775808) = $1 AND account > $2)) \
             ORDER BY coalesce(score, -9223372036854775808) DESC, account LIMIT $3",
        )
        .bind(after.map(|a| a.score))
        .bind(after.map(|a| a.provider.to_vec()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ProviderOverview {
                    provider: fixed::<32>(r, "account")?,
                    net: r.try_get("net")?,
                    claimed: r.try_get("claimed")?,
                    slashed: r.try_get("slashed")?,
                    staked: r.try_get("staked")?,
                    score: r.try_get("score")?,
                    jobs_completed: r.try_get("jobs_completed")?,
                    disputes_lost: r.try_get("disputes_lost")?,
                    volume: r.try_get("volume")?,
                })
            })
            .collect()
    }

    /// The fee totals per treasury of all time (by treasury, none last), from the running totals.
    pub async fn fees_of_all_time(&self) -> Result<Vec<TreasuryFees>> {
        let rows = sqlx::query(
            "SELECT nullif(treasury, ''::bytea) AS treasury, releases, fees::text AS fees, gross::text AS gross \
             FROM treasury_totals ORDER BY nullif(treasury, ''::bytea) NULLS LAST",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(TreasuryFees::from_row).collect()
    }

    /// How many events are indexed, from the running count.
    pub async fn event_count(&self) -> Result<i64> {
        let count: Option<i64> =
            sqlx::query_scalar("SELECT events FROM indexer_state").fetch_optional(&self.pool).await?;
        Ok(count.unwrap_or(0))
    }
}

/// The providers list summed from the typed tables, as the running totals should hold it (for
/// checking them): (provider, net, claimed, slashed, staked, latest score).
pub async fn providers_from_scratch(db: &Db) -> Result<Vec<(AccountId, String, String, String, String, Option<i64>)>> {
    let rows = sqlx::query(
        "WITH p AS (SELECT provider FROM stakes UNION SELECT provider FROM releases \
                    UNION SELECT provider FROM reputation_changes), \
         rep AS (SELECT DISTINCT ON (provider) provider, score FROM reputation_changes \
                 ORDER BY provider, block_number DESC, event_index DESC) \
         SELECT p.provider, \
           coalesce((SELECT sum(net) FROM releases r WHERE r.provider = p.provider), 0)::text AS net, \
           coalesce((SELECT sum(amount) FROM claims c WHERE c.account = p.provider), 0)::text AS claimed, \
           coalesce((SELECT sum(slashed) FROM dispute_resolutions d WHERE d.provider = p.provider), 0)::text AS slashed, \
           coalesce((SELECT sum(amount) FROM stakes s WHERE s.provider = p.provider), 0)::text AS staked, rep.score \
         FROM p LEFT JOIN rep USING (provider) ORDER BY p.provider",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                fixed::<32>(r, "provider")?,
                r.try_get("net")?,
                r.try_get("claimed")?,
                r.try_get("slashed")?,
                r.try_get("staked")?,
                r.try_get("score")?,
            ))
        })
        .collect()
}
