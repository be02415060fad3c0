//! The overview routes behind the dashboard (jobs with their books, recent releases, providers with
//! payouts and reputation) and the dashboard page itself: plain HTML and JavaScript over the API.
//! Each list is one page ([`crate::page`]): `?limit=&cursor=`, and `next` in the answer.

use axum::extract::{Query, State};
use axum::response::Html;
use axum::Json;
use escrow_client::accounts::ss58;
use serde_json::{json, Value};

use crate::error::Result;
use crate::page::{split, EventKey, JobKey, PageQuery, ProviderKey};
use crate::AppState;

/// The dashboard page.
pub async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../dashboard/index.html"))
}

/// The newest jobs with their books: deposited, released (net and fee), refunded, still held. Paged by
/// job id, descending.
pub async fn jobs(State(s): State<AppState>, Query(page): Query<PageQuery>) -> Result<Json<Value>> {
    let limit = page.limit()?;
    let rows = s.db.job_overviews(page.cursor::<JobKey>()?.map(|k| k.0), limit.saturating_add(1)).await?;
    let (rows, next) = split(rows, limit, |j| JobKey(j.id));
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
    Ok(Json(json!({ "jobs": out, "next": next })))
}

/// The newest releases. Paged by position (block, event index), descending.
pub async fn releases(State(s): State<AppState>, Query(page): Query<PageQuery>) -> Result<Json<Value>> {
    let limit = page.limit()?;
    let rows = s.db.release_overviews(page.cursor::<EventKey>()?, limit.saturating_add(1)).await?;
    let (rows, next) = split(rows, limit, |r| EventKey {
        block: u64::try_from(r.block_number).unwrap_or_default(),
        event: u32::try_from(r.event_index).unwrap_or_default(),
    });
    let out: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "block": r.block_number,
                "event_index": r.event_index,
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
    Ok(Json(json!({ "releases": out, "next": next })))
}

/// Every provider seen: net released, claimed, slashed, and its latest reputation. Paged by latest
/// score (highest first, none last), then account.
pub async fn providers(State(s): State<AppState>, Query(page): Query<PageQuery>) -> Result<Json<Value>> {
    let limit = page.limit()?;
    let rows = s.db.provider_overviews(page.cursor::<ProviderKey>()?, limit.saturating_add(1)).await?;
    let (rows, next) = split(rows, limit, |p| ProviderKey { score: p.score.unwrap_or(i64::MIN), provider: p.provider });
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
    Ok(Json(json!({ "providers": out, "next": next })))
}
