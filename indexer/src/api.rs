//! The auditor API: job history, provider payouts and reputation, account statements (JSON or CSV),
//! the treasury's fee totals, and the indexer's status; plus health, readiness and metrics, and the
//! dashboard's overview routes ([`crate::overview`]).
//! Accounts are SS58 (or 0x hex) in paths and SS58 in answers; amounts are decimal strings.
//!
//! Every list is bounded: JSON lists are pages ([`crate::page`]: `?limit=&cursor=`, `next` in the
//! answer), and a CSV statement is streamed, read from Postgres a page at a time and written to the
//! response as it comes, so no request holds more than a page in memory.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use escrow_client::accounts::{account, ss58};
use escrow_client::AccountId;
use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use settlement::{Event, JobId};

use crate::error::{Error, Result};
use crate::page::{split, EventKey, JobKey, LineKey, PageQuery};
use crate::query::Query;
use crate::record::release_treasury;
use crate::store::typed::{row_of, Val};
use crate::store::{Db, Filter, StoredEvent};
use crate::AppState;

/// The auditor API over `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(crate::overview::dashboard))
        .route("/assets/{name}", get(crate::overview::asset))
        .route("/v1/jobs", get(crate::overview::jobs))
        .route("/v1/releases", get(crate::overview::releases))
        .route("/v1/providers", get(crate::overview::providers))
        .route("/v1/market/series", get(crate::overview::series))
        .route("/v1/status", get(status))
        .route("/v1/jobs/{id}/history", get(job_history))
        .route("/v1/providers/{account}/payouts", get(provider_payouts))
        .route("/v1/accounts/{account}/statement", get(statement))
        .route("/v1/treasury/fees", get(fees))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .with_state(state)
}

pub(crate) fn parse_account(text: &str) -> Result<AccountId> {
    account(text).map_err(|e| Error::bad_request("bad_account", e.to_string()))
}

const ACCOUNT_COLUMNS: [&str; 8] =
    ["consumer", "provider", "treasury", "account", "arbiter", "from_account", "to_account", "providers"];

/// An event as JSON: its position, kind and fields (accounts SS58, amounts as strings, bytes hex).
pub fn event_json(e: &StoredEvent, event: &Event<AccountId>) -> Result<Value> {
    let row = row_of(event, release_treasury(event, &e.accounts))?;
    let mut fields = Map::new();
    for (column, value) in row.columns.iter().zip(row.values) {
        let is_account = ACCOUNT_COLUMNS.contains(column);
        let v = match value {
            Val::Int(n) => json!(n),
            Val::Num(n) => json!(n.to_string()),
            Val::NumList(list) => Value::Array(list.iter().map(|n| json!(n.to_string())).collect()),
            Val::Bool(b) => json!(b),
            Val::Text(t) => json!(t),
            Val::Bytes(b) => bytes_json(&b, is_account),
            Val::OptBytes(b) => b.map_or(Value::Null, |b| bytes_json(&b, is_account)),
            Val::BytesList(list) => Value::Array(list.iter().map(|b| bytes_json(b, is_account)).collect()),
        };
        fields.insert((*column).to_string(), v);
    }
    Ok(json!({
        "block": e.block_number,
        "block_hash": format!("0x{}", hex::encode(e.block_hash)),
        "timestamp_ms": e.timestamp,
        "extrinsic_index": e.extrinsic_index,
        "event_index": e.event_index,
        "kind": e.kind,
        "fields": fields,
    }))
}

fn bytes_json(b: &[u8], is_account: bool) -> Value {
    match <[u8; 32]>::try_from(b) {
        Ok(a) if is_account => json!(ss58(a)),
        _ => json!(format!("0x{}", hex::encode(b))),
    }
}

fn decode(e: &StoredEvent) -> Result<Event<AccountId>> {
    escrow_client::events::decode_labelled(&e.kind, &e.data).map_err(|err| Error::Decode(err.to_string()))
}

async fn status(State(s): State<AppState>) -> Result<Json<Value>> {
    let state = s.db.state().await?;
    let events = s.db.event_count().await?;
    let height = s.metrics.chain_height.get();
    let cursor = state.as_ref().and_then(|st| st.cursor);
    let lag = match (cursor, u64::try_from(height)) {
        (Some(c), Ok(h)) => Some(h.saturating_sub(c.number)),
        _ => None,
    };
    Ok(Json(json!({
        "contract": state.as_ref().map(|st| ss58(st.contract)),
        "genesis_hash": state.as_ref().map(|st| format!("0x{}", hex::encode(st.genesis_hash))),
        "start_block": state.as_ref().map(|st| st.start_block),
        "cursor": cursor.map(|c| json!({ "number": c.number, "hash": format!("0x{}", hex::encode(c.hash)) })),
        "chain_head": u64::try_from(height).ok(),
        "lag_blocks": lag,
        "events": events,
    })))
}

/// A job's events in chain order, a page at a time (by position).
async fn job_history(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Value>> {
    let job: JobId = id.parse().map_err(|_| Error::bad_request("bad_job_id", format!("`{id}` is not a job id")))?;
    let (limit, after) = (page.limit()?, page.cursor::<EventKey>()?);
    let stored =
        s.db.events(&Filter { job: Some(job), after, limit: Some(limit.saturating_add(1)), ..Filter::default() })
            .await?;
    if stored.is_empty() && after.is_none() {
        return Err(Error::NotFound);
    }
    let (stored, next) = split(stored, limit, event_key);
    let events = stored.iter().map(|e| event_json(e, &decode(e)?)).collect::<Result<Vec<_>>>()?;
    Ok(Json(json!({ "job_id": job, "events": events, "next": next })))
}

fn event_key(e: &StoredEvent) -> EventKey {
    EventKey { block: e.block_number, event: e.event_index }
}

/// A provider's totals and reputation, with its releases per job a page at a time (by job id).
async fn provider_payouts(
    State(s): State<AppState>,
    Path(who): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Value>> {
    let limit = page.limit()?;
    let after = page.cursor::<JobKey>()?.map(|k| k.0);
    let payouts = s.db.payouts(&parse_account(&who)?, after, limit.saturating_add(1)).await?;
    let jobs = payouts
        .jobs
        .into_iter()
        .map(|j| Ok((j.job_id.parse::<u64>().map_err(|_| Error::Decode(format!("job_id: {}", j.job_id)))?, j)))
        .collect::<Result<Vec<_>>>()?;
    let (jobs, next) = split(jobs, limit, |(id, _)| JobKey(*id));
    let per_job: Vec<Value> = jobs
        .iter()
        .map(|(_, j)| j)
        .map(|j| {
            json!({
                "job_id": j.job_id,
                "releases": j.releases,
                "net": j.net,
                "fee": j.fee,
                "settled_cumulative": j.cumulative,
            })
        })
        .collect();
    let reputation = match payouts.reputation {
        Some(r) => json!({
            "jobs_completed": r.jobs_completed,
            "volume": r.volume,
            "disputes_lost": r.disputes_lost,
            "slashed": r.slashed,
            "score": r.score,
        }),
        None => Value::Null,
    };
    Ok(Json(json!({
        "provider": ss58(parse_account(&who)?),
        "released_net": payouts.totals.net,
        "claimed": payouts.totals.claimed,
        "slashed": payouts.totals.slashed,
        "jobs": per_job,
        "reputation": reputation,
        "next": next,
    })))
}

/// Query of the period routes: block times in ms since the Unix epoch (`from` inclusive, `to`
/// exclusive), and for statements the format and, in JSON, the page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// Start (inclusive), ms.
    pub from: Option<u64>,
    /// End (exclusive), ms.
    pub to: Option<u64>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// JSON statements: most lines.
    pub limit: Option<i64>,
    /// JSON statements: where the previous page ended.
    pub cursor: Option<String>,
}

impl Period {
    /// Refuses an empty period, or one whose bounds do not fit what is stored (BIGINT ms).
    fn check(&self) -> Result<()> {
        let bound = |v: Option<u64>, name: &str| {
            v.map(|n| {
                i64::try_from(n).map_err(|_| Error::bad_request("bad_period", format!("`{name}` {n} is out of range")))
            })
            .transpose()
        };
        let (from, to) = (bound(self.from, "from")?, bound(self.to, "to")?);
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                return Err(Error::bad_request("bad_period", "`from` must be before `to`"));
            }
        }
        Ok(())
    }
}

/// One line of an account statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// When (block time, ms).
    pub timestamp: u64,
    /// Block.
    pub block: u64,
    /// Event index in the block.
    pub event_index: u32,
    /// The job, if any.
    pub job: Option<JobId>,
    /// What happened: deposit, top_up, release_net, fee, refund, slash_credit, slash, claim, stake,
    /// withdraw.
    pub entry: &'static str,
    /// Which way the money went: `to_escrow` (paid in by the account), `credited` (to its claimable
    /// balance), `paid_out` (to its wallet), `slashed` (taken from its stake).
    pub flow: &'static str,
    /// How much.
    pub amount: u128,
}

/// The money lines `event` makes for `who`. Only money into or out of the escrow (or a stake) makes
/// one: `Allocated` and `ThawStarted` make none, since they only divide a job's deposit between its
/// providers (a top-up to a provider is the `ToppedUp` line; its `Allocated` moves nothing more), and
/// neither does `JobAccepted`.
#[must_use]
pub fn lines_for(
    who: &AccountId,
    event: &Event<AccountId>,
    treasury: Option<AccountId>,
) -> Vec<(&'static str, &'static str, u128)> {
    let mut out = Vec::new();
    match event {
        Event::JobOpened { consumer, deposit, .. } if consumer == who => out.push(("deposit", "to_escrow", *deposit)),
        Event::ToppedUp { consumer, amount, .. } if consumer == who => out.push(("top_up", "to_escrow", *amount)),
        Event::Released { provider, fee, net, .. } => {
            if provider == who {
                out.push(("release_net", "credited", *net));
            }
            if treasury.as_ref() == Some(who) && *fee > 0 {
                out.push(("fee", "credited", *fee));
            }
        }
        Event::Refunded { consumer, amount, .. } if consumer == who => out.push(("refund", "credited", *amount)),
        Event::DisputeResolved { consumer, provider, slashed, .. } if *slashed > 0 => {
            if consumer == who {
                out.push(("slash_credit", "credited", *slashed));
            }
            if provider == who {
                out.push(("slash", "slashed", *slashed));
            }
        }
        Event::Claimed { account, amount } if account == who => out.push(("claim", "paid_out", *amount)),
        Event::Staked { provider, amount, .. } if provider == who => out.push(("stake", "to_escrow", *amount)),
        Event::Withdrawn { provider, amount } if provider == who => out.push(("withdraw", "paid_out", *amount)),
        // No money in or out: Allocated, ThawStarted, JobAccepted, and the rest.
        _ => {}
    }
    out
}

/// The lines of `who`'s statement over `from..to` after `after` (a line's position), at most `limit`,
/// and the position of the last when more follow. Events are read `limit + 1` at a time (an event
/// may make no line for `who`, or two).
pub async fn statement_page(
    db: &Db,
    who: &AccountId,
    (from, to): (Option<u64>, Option<u64>),
    after: Option<LineKey>,
    limit: u32,
) -> Result<(Vec<Line>, Option<LineKey>)> {
    // Read from the cursor's own event on: its later lines, if any, come next.
    let mut events_after = after.and_then(|k| before(k.event));
    let mut lines: Vec<(LineKey, Line)> = Vec::new();
    loop {
        let filter = Filter {
            account: Some(*who),
            from,
            to,
            after: events_after,
            limit: Some(limit.saturating_add(1)),
            ..Filter::default()
        };
        let stored = db.events(&filter).await?;
        let last_batch = stored.len() <= limit as usize;
        for e in &stored {
            events_after = Some(event_key(e));
            let event = decode(e)?;
            let treasury = release_treasury(&event, &e.accounts);
            for (part, (entry, flow, amount)) in (0_u8..).zip(lines_for(who, &event, treasury)) {
                let key = LineKey { event: event_key(e), part };
                if after.is_some_and(|a| key <= a) {
                    continue;
                }
                let line = Line {
                    timestamp: e.timestamp,
                    block: e.block_number,
                    event_index: e.event_index,
                    job: e.job_id,
                    entry,
                    flow,
                    amount,
                };
                lines.push((key, line));
                if lines.len() > limit as usize {
                    lines.truncate(limit as usize);
                    let next = lines.last().map(|(k, _)| *k);
                    return Ok((lines.into_iter().map(|(_, l)| l).collect(), next));
                }
            }
        }
        if last_batch {
            return Ok((lines.into_iter().map(|(_, l)| l).collect(), None));
        }
    }
}

/// The position just before `key`, if any.
fn before(key: EventKey) -> Option<EventKey> {
    match key.event.checked_sub(1) {
        Some(event) => Some(EventKey { block: key.block, event }),
        None => key.block.checked_sub(1).map(|block| EventKey { block, event: u32::MAX }),
    }
}

/// Lines per page of a streamed CSV statement.
pub const CSV_PAGE: u32 = crate::page::MAX_LIMIT;

/// `who`'s statement over `from..to` as CSV, read `page` lines at a time: the header and the first
/// page are read before this returns (so a database that fails is a refusal, not a cut answer), the
/// rest as the stream is polled. A failure later ends the stream with an error (the response is cut).
pub async fn statement_csv_stream(
    db: Db,
    who: AccountId,
    period: (Option<u64>, Option<u64>),
    page: u32,
) -> Result<impl Stream<Item = Result<String>> + Send + 'static> {
    let (lines, next) = statement_page(&db, &who, period, None, page).await?;
    let first = format!("{}{}", csv_header()?, csv_lines(&lines)?);
    let rest = stream::try_unfold(next, move |after| {
        let db = db.clone();
        async move {
            let Some(after) = after else { return Ok(None) };
            let (lines, next) = statement_page(&db, &who, period, Some(after), page).await?;
            Ok(Some((csv_lines(&lines)?, next)))
        }
    });
    Ok(stream::once(async { Ok(first) }).chain(rest))
}

async fn statement(
    State(s): State<AppState>,
    Path(who): Path<String>,
    Query(period): Query<Period>,
) -> Result<Response> {
    let who = parse_account(&who)?;
    period.check()?;
    let bounds = (period.from, period.to);
    match period.format.as_deref().unwrap_or("json") {
        "json" => {
            let limit = crate::page::limit(period.limit)?;
            let after = period.cursor.as_deref().map(crate::page::decode::<LineKey>).transpose()?;
            let (lines, next) = statement_page(&s.db, &who, bounds, after, limit).await?;
            let totals = s.db.statement_totals(&who, period.from, period.to).await?;
            let next = next.map(|k| crate::page::encode(&k));
            Ok(Json(statement_json(&who, &period, &totals, &lines, next)).into_response())
        }
        "csv" => {
            if period.limit.is_some() || period.cursor.is_some() {
                return Err(Error::bad_request(
                    "bad_query",
                    "a CSV statement is the whole period, streamed: `limit` and `cursor` are for JSON",
                ));
            }
            let body = statement_csv_stream(s.db.clone(), who, bounds, CSV_PAGE).await?.map_err(|e| {
                tracing::warn!(error = %e, "statement stream cut");
                std::io::Error::other(e.to_string())
            });
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], Body::from_stream(body)).into_response())
        }
        other => Err(Error::bad_request("bad_format", format!("format `{other}` is not json or csv"))),
    }
}

fn statement_json(
    who: &AccountId,
    period: &Period,
    totals: &[(String, String)],
    lines: &[Line],
    next: Option<String>,
) -> Value {
    json!({
        "account": ss58(*who),
        "from": period.from,
        "to": period.to,
        "totals": totals.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>(),
        "lines": lines.iter().map(|l| json!({
            "timestamp_ms": l.timestamp,
            "block": l.block,
            "event_index": l.event_index,
            "job_id": l.job,
            "entry": l.entry,
            "flow": l.flow,
            "amount": l.amount.to_string(),
        })).collect::<Vec<_>>(),
        "next": next,
    })
}

const CSV_HEADER: [&str; 7] = ["timestamp_ms", "block", "event_index", "job_id", "entry", "flow", "amount"];

fn csv_error(e: impl std::fmt::Display) -> Error {
    Error::Decode(e.to_string())
}

fn csv_header() -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER).map_err(csv_error)?;
    String::from_utf8(w.into_inner().map_err(csv_error)?).map_err(csv_error)
}

/// Statement lines as CSV records (no header).
fn csv_lines(lines: &[Line]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for l in lines {
        w.write_record([
            l.timestamp.to_string(),
            l.block.to_string(),
            l.event_index.to_string(),
            l.job.map(|j| j.to_string()).unwrap_or_default(),
            l.entry.to_string(),
            l.flow.to_string(),
            l.amount.to_string(),
        ])
        .map_err(csv_error)?;
    }
    String::from_utf8(w.into_inner().map_err(csv_error)?).map_err(csv_error)
}

/// The statement as CSV: a header line, then one line per movement.
pub fn statement_csv(lines: &[Line]) -> Result<String> {
    Ok(format!("{}{}", csv_header()?, csv_lines(lines)?))
}

async fn fees(State(s): State<AppState>, Query(period): Query<Period>) -> Result<Json<Value>> {
    if period.format.is_some() {
        return Err(Error::bad_request("bad_format", "fee totals are JSON only"));
    }
    if period.limit.is_some() || period.cursor.is_some() {
        return Err(Error::bad_request("bad_query", "fee totals are one row per treasury: no pages"));
    }
    period.check()?;
    // Of all time (the dashboard's question), a row per treasury from the running totals.
    let rows = match (period.from, period.to) {
        (None, None) => s.db.fees_of_all_time().await?,
        (from, to) => s.db.fees(from, to).await?,
    };
    let mut total: u128 = 0;
    let mut by_treasury = Vec::new();
    for r in rows {
        total = total.saturating_add(r.fees.parse().map_err(|_| Error::Decode(r.fees.clone()))?);
        by_treasury.push(json!({
            "treasury": r.treasury.map(|t| bytes_json(&t, true)),
            "releases": r.releases,
            "fees": r.fees,
            "gross": r.gross,
        }));
    }
    Ok(Json(
        json!({ "from": period.from, "to": period.to, "total_fees": total.to_string(), "by_treasury": by_treasury }),
    ))
}

async fn ready(State(s): State<AppState>) -> Result<&'static str> {
    s.db.ping().await?;
    if s.metrics.chain_height.get() < 0 {
        return Err(Error::Fatal("the chain has not been reached yet".into()));
    }
    Ok("ready")
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render())
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../openapi.json"))
}
