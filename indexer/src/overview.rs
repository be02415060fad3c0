//! The overview routes behind the dashboard (jobs with their books, recent releases, providers with
//! payouts and reputation) and the dashboard page itself: plain HTML and JavaScript over the API.

use axum::extract::{Query, State};
use axum::response::Html;
use axum::Json;
use escrow_client::accounts::ss58;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::error::{Error, Result};
use crate::AppState;

/// The dashboard page.
pub async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../dashboard/index.html"))
}

/// `?limit=` of the list routes (default 100, at most 1,000).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Most rows.
    pub limit: Option<i64>,
}

impl Limit {
    fn get(&self) -> Result<i64> {
        match self.limit {
            None => Ok(100),
            Some(n) if (1..=1_000).contains(&n) => Ok(n),
            Some(n) => Err(Error::bad_request("bad_limit", format!("limit {n} is not within 1..=1000"))),
        }
    }
}

fn account(row: &PgRow, column: &str) -> Result<String> {
    Ok(ss58(crate::store::fixed(row, column)?))
}

fn text(row: &PgRow, column: &str) -> Result<String> {
    Ok(row.try_get(column)?)
}

/// The newest jobs with their books: deposited, released (net and fee), refunded, still held.
pub async fn jobs(State(s): State<AppState>, Query(limit): Query<Limit>) -> Result<Json<Value>> {
    let rows = sqlx::query(
        "SELECT j.job_id::text AS job_id, j.consumer, j.providers, j.fee_bps, j.expires_at::text AS expires_at, \
         (j.deposit + coalesce(t.amount, 0))::text AS deposited, coalesce(r.net, 0)::text AS net, \
         coalesce(r.fee, 0)::text AS fee, coalesce(r.releases, 0) AS releases, \
         coalesce(f.amount, 0)::text AS refunded, \
         (j.deposit + coalesce(t.amount, 0) - coalesce(r.net, 0) - coalesce(r.fee, 0) - coalesce(f.amount, 0))::text AS held, \
         CASE WHEN f.job_id IS NOT NULL THEN 'refunded' WHEN c.job_id IS NOT NULL THEN 'completed' ELSE 'open' END AS status \
         FROM jobs j \
         LEFT JOIN (SELECT job_id, sum(amount) AS amount FROM top_ups GROUP BY job_id) t USING (job_id) \
         LEFT JOIN (SELECT job_id, sum(net) AS net, sum(fee) AS fee, count(*) AS releases FROM releases GROUP BY job_id) r USING (job_id) \
         LEFT JOIN (SELECT job_id, sum(amount) AS amount FROM refunds GROUP BY job_id) f USING (job_id) \
         LEFT JOIN (SELECT DISTINCT job_id FROM completions) c USING (job_id) \
         ORDER BY j.job_id DESC LIMIT $1",
    )
    .bind(limit.get()?)
    .fetch_all(s.db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let providers: Vec<Vec<u8>> = r.try_get("providers")?;
        let providers = providers
            .into_iter()
            .map(|p| <[u8; 32]>::try_from(p).map(ss58).map_err(|_| Error::Decode("provider".into())))
            .collect::<Result<Vec<_>>>()?;
        out.push(json!({
            "job_id": text(r, "job_id")?,
            "consumer": account(r, "consumer")?,
            "providers": providers,
            "fee_bps": r.try_get::<i32, _>("fee_bps")?,
            "expires_at": text(r, "expires_at")?,
            "status": text(r, "status")?,
            "deposited": text(r, "deposited")?,
            "released_net": text(r, "net")?,
            "released_fee": text(r, "fee")?,
            "releases": r.try_get::<i64, _>("releases")?,
            "refunded": text(r, "refunded")?,
            "held": text(r, "held")?,
        }));
    }
    Ok(Json(json!({ "jobs": out })))
}

/// The newest releases.
pub async fn releases(State(s): State<AppState>, Query(limit): Query<Limit>) -> Result<Json<Value>> {
    let rows = sqlx::query(
        "SELECT r.block_number, b.timestamp_ms, r.job_id::text AS job_id, r.provider, r.treasury, \
         r.cumulative::text AS cumulative, r.amount::text AS amount, r.fee::text AS fee, r.net::text AS net \
         FROM releases r JOIN blocks b ON b.number = r.block_number \
         ORDER BY r.block_number DESC, r.event_index DESC LIMIT $1",
    )
    .bind(limit.get()?)
    .fetch_all(s.db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let treasury: Option<Vec<u8>> = r.try_get("treasury")?;
        out.push(json!({
            "block": r.try_get::<i64, _>("block_number")?,
            "timestamp_ms": r.try_get::<i64, _>("timestamp_ms")?,
            "job_id": text(r, "job_id")?,
            "provider": account(r, "provider")?,
            "treasury": treasury.and_then(|t| <[u8; 32]>::try_from(t).ok()).map(ss58),
            "cumulative": text(r, "cumulative")?,
            "amount": text(r, "amount")?,
            "fee": text(r, "fee")?,
            "net": text(r, "net")?,
        }));
    }
    Ok(Json(json!({ "releases": out })))
}

/// Every provider seen: net released, claimed, slashed, and its latest reputation.
pub async fn providers(State(s): State<AppState>, Query(limit): Query<Limit>) -> Result<Json<Value>> {
    let rows = sqlx::query(
        "WITH p AS (SELECT provider FROM stakes UNION SELECT provider FROM releases \
                    UNION SELECT provider FROM reputation_changes), \
         rep AS (SELECT DISTINCT ON (provider) provider, score, jobs_completed::text AS jobs_completed, \
                 disputes_lost, volume::text AS volume FROM reputation_changes \
                 ORDER BY provider, block_number DESC, event_index DESC) \
         SELECT p.provider, \
           coalesce((SELECT sum(net) FROM releases r WHERE r.provider = p.provider), 0)::text AS net, \
           coalesce((SELECT sum(amount) FROM claims c WHERE c.account = p.provider), 0)::text AS claimed, \
           coalesce((SELECT sum(slashed) FROM dispute_resolutions d WHERE d.provider = p.provider), 0)::text AS slashed, \
           coalesce((SELECT sum(amount) FROM stakes s WHERE s.provider = p.provider), 0)::text AS staked, \
           rep.score, rep.jobs_completed, rep.disputes_lost, rep.volume \
         FROM p LEFT JOIN rep USING (provider) ORDER BY rep.score DESC NULLS LAST, p.provider LIMIT $1",
    )
    .bind(limit.get()?)
    .fetch_all(s.db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(json!({
            "provider": account(r, "provider")?,
            "released_net": text(r, "net")?,
            "claimed": text(r, "claimed")?,
            "slashed": text(r, "slashed")?,
            "staked": text(r, "staked")?,
            "score": r.try_get::<Option<i64>, _>("score")?,
            "jobs_completed": r.try_get::<Option<String>, _>("jobs_completed")?,
            "disputes_lost": r.try_get::<Option<i64>, _>("disputes_lost")?,
            "volume": r.try_get::<Option<String>, _>("volume")?,
        }));
    }
    Ok(Json(json!({ "providers": out })))
}
