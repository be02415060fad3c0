//! The overview routes behind the dashboard (jobs with their books, recent releases, providers with
//! payouts and reputation) and the dashboard page itself: plain HTML and JavaScript over the API.

use axum::extract::{Query, State};
use axum::response::Html;
use axum::Json;
use escrow_client::accounts::ss58;
use serde::Deserialize;
use serde_json::{json, Value};

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

/// The newest jobs with their books: deposited, released (net and fee), refunded, still held.
pub async fn jobs(State(s): State<AppState>, Query(limit): Query<Limit>) -> Result<Json<Value>> {
    let rows = s.db.job_overviews(limit.get()?).await?;
    let out: Vec<Value> = rows
        .into_iter()
        .map(|j| {
            json!({
                "job_id": j.job_id,
                "consumer": ss58(j.consumer),
                "providers": j.providers.into_iter().map(ss58).collect::<Vec<_>>(),
                "fee_bps": j.fee_bps,
                "expires_at": j.expires_at,
                "status": j.status,
                "deposited": j.deposited,
                "released_net": j.net,
                "released_fee": j.fee,
                "releases": j.releases,
                "refunded": j.refunded,
                "held": j.held,
            })
        })
        .collect();
    Ok(Json(json!({ "jobs": out })))
}

/// The newest releases.
pub async fn releases(State(s): State<AppState>, Query(limit): Query<Limit>) -> Result<Json<Value>> {
    let rows = s.db.release_overviews(limit.get()?).await?;
    let out: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "block": r.block_number,
                "timestamp_ms": r.timestamp_ms,
                "job_id": r.job_id,
                "provider": ss58(r.provider),
                "treasury": r.treasury.and_then(|t| <[u8; 32]>::try_from(t).ok()).map(ss58),
                "cumulative": r.cumulative,
                "amount": r.amount,
                "fee": r.fee,
                "net": r.net,
            })
        })
        .collect();
    Ok(Json(json!({ "releases": out })))
}

/// Every provider seen: net released, claimed, slashed, and its latest reputation.
pub async fn providers(State(s): State<AppState>, Query(limit): Query<Limit>) -> Result<Json<Value>> {
    let rows = s.db.provider_overviews(limit.get()?).await?;
    let out: Vec<Value> = rows
        .into_iter()
        .map(|p| {
            json!({
                "provider": ss58(p.provider),
                "released_net": p.net,
                "claimed": p.claimed,
                "slashed": p.slashed,
                "staked": p.staked,
                "score": p.score,
                "jobs_completed": p.jobs_completed,
                "disputes_lost": p.disputes_lost,
                "volume": p.volume,
            })
        })
        .collect();
    Ok(Json(json!({ "providers": out })))
}
