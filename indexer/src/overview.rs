//! The overview routes behind the dashboard (jobs with their books, recent releases, providers with
//! payouts and reputation) and the dashboard page itself: plain HTML and JavaScript over the API.
//! Each list is one page ([`crate::page`]): `?limit=&cursor=`, and `next` in the answer. The jobs list
//! searches by job, consumer or provider; the market series is what the dashboard's charts draw.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use escrow_client::accounts::ss58;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::page::{split, EventKey, JobKey, PageQuery, ProviderKey, SeriesKey};
use crate::query::Query;
use crate::store::overview::JobSearch;
use crate::store::series::Bucket;
use crate::AppState;

/// The dashboard page.
pub async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../dashboard/index.html"))
}

/// The dashboard's scripts and styles, built into the binary: (name, content type, bytes).
const ASSETS: [(&str, &str, &str); 4] = [
    ("dashboard.js", "text/javascript; charset=utf-8", include_str!("../dashboard/dashboard.js")),
    ("dashboard.css", "text/css; charset=utf-8", include_str!("../dashboard/dashboard.css")),
    ("uPlot.iife.min.js", "text/javascript; charset=utf-8", include_str!("../dashboard/vendor/uPlot.iife.min.js")),
    ("uPlot.min.css", "text/css; charset=utf-8", include_str!("../dashboard/vendor/uPlot.min.css")),
];

/// `GET /assets/{name}`: one of the dashboard's [`ASSETS`]; any other name is 404.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => ([(header::CONTENT_TYPE, *kind)], *body).into_response(),
        None => Error::NotFound.into_response(),
    }
}

/// `?limit=&cursor=` and at most one search of the jobs list: `job`, `consumer` or `provider`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// Most rows.
    pub limit: Option<i64>,
    /// Where the previous page ended.
    pub cursor: Option<String>,
    /// Just this job (decimal id).
    pub job: Option<String>,
    /// The jobs this account (SS58 or 0x hex) opened.
    pub consumer: Option<String>,
    /// The jobs opened with this account (SS58 or 0x hex) among their providers.
    pub provider: Option<String>,
}

impl JobsQuery {
    /// The search asked for; more than one is `bad_search`, a bad job id `bad_job`, a bad account
    /// `bad_account`.
    pub fn search(&self) -> Result<JobSearch> {
        match (&self.job, &self.consumer, &self.provider) {
            (None, None, None) => Ok(JobSearch::All),
            // Canonical decimal only: `007` or `+7` would name job 7 by another text.
            (Some(job), None, None) => job
                .parse::<u64>()
                .ok()
                .filter(|id| id.to_string() == *job)
                .map(JobSearch::Job)
                .ok_or_else(|| Error::bad_request("bad_job", format!("job `{job}` is not a job id"))),
            (None, Some(who), None) => Ok(JobSearch::Consumer(crate::api::parse_account(who)?)),
            (None, None, Some(who)) => Ok(JobSearch::Provider(crate::api::parse_account(who)?)),
            _ => Err(Error::bad_request("bad_search", "search by one of `job`, `consumer` or `provider` at a time")),
        }
    }
}

/// The newest jobs with their books: deposited, released (net and fee), refunded, still held; all of
/// them, or one job's, or one consumer's or provider's. Paged by job id, descending.
pub async fn jobs(State(s): State<AppState>, Query(q): Query<JobsQuery>) -> Result<Json<Value>> {
    let search = q.search()?;
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let rows = s.db.job_overviews(search, page.cursor::<JobKey>()?.map(|k| k.0), limit.saturating_add(1)).await?;
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

/// `?bucket=&limit=&cursor=` of the market series.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// `minute`, `hour` (default) or `day`.
    pub bucket: Option<String>,
    /// Most buckets.
    pub limit: Option<i64>,
    /// Where the previous page ended.
    pub cursor: Option<String>,
}

/// The escrow's activity over time, a bucket of block time (UTC) a point: releases (count, gross,
/// fees), deposits with top-ups, refunds, and what the escrow held at the bucket's end. Buckets without
/// activity are left out (what was held carries over). Newest first, paged by bucket.
pub async fn series(State(s): State<AppState>, Query(q): Query<SeriesQuery>) -> Result<Json<Value>> {
    let bucket = Bucket::parse(q.bucket.as_deref().unwrap_or("hour"))?;
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let rows = s.db.series(bucket, page.cursor::<SeriesKey>()?.map(|k| k.0), limit.saturating_add(1)).await?;
    let (rows, next) = split(rows, limit, |p| SeriesKey(p.start_ms));
    let out: Vec<Value> = rows
        .into_iter()
        .map(|p| {
            json!({
                "start_ms": p.start_ms,
                "releases": p.releases,
                "released": p.released,
                "fees": p.fees,
                "deposited": p.deposited,
                "refunded": p.refunded,
                "held": p.held,
            })
        })
        .collect();
    Ok(Json(json!({ "bucket": bucket.name(), "width_ms": bucket.width_ms(), "points": out, "next": next })))
}
