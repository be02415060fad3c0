//! The HTTP API. Handlers are thin: parse, call the intake pipeline or the store, shape JSON.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};

use crate::answers;
use crate::error::{Error, PublicError, Result};
use crate::intake::{process, Verdict};
use crate::limits::Client;
use crate::wire::{to_hex, Body, SignedReceiptJson};
use crate::AppState;

/// The gateway's router over `state`.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    // The API passes admission ([`crate::limits`]); the probes do not, so a flood cannot make an
    // orchestrator restart a gateway that is shedding it (probes waiting at once share one check).
    let api = Router::new()
        .route("/v1/receipts", post(post_receipts))
        .route("/v1/receipts/{id}", get(get_receipt))
        .route("/v1/jobs/{id}/settlement", get(job_settlement))
        .route("/v1/jobs/{id}/lanes/{provider}/commitments", get(lane_commitments))
        .route("/v1/jobs/{id}/lanes/{provider}/receipts", get(lane_receipts))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::limits::admit));
    Router::new()
        .merge(api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .with_state(state)
}

impl From<Verdict> for answers::Verdict {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Accepted(a) => Self::Accepted { id: a.id, duplicate: a.duplicate },
            Verdict::Rejected(e) => Self::Rejected { code: e.code().into(), message: e.public_message() },
        }
    }
}

async fn post_receipts(
    State(state): State<AppState>,
    client: Option<Extension<Client>>,
    request: axum::extract::Request,
) -> Result<Response> {
    let _timer = state.metrics.request_seconds.start_timer();
    // A body announced by its length is charged before it is read (read, it would be held in memory).
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .filter(|n| *n <= state.config.max_body_bytes);
    if let (Some(Extension(client)), Some(n)) = (client, announced) {
        state.limits.charge_body(client, n).inspect_err(|e| {
            state.metrics.limited.with_label_values(&[e.code()]).inc();
        })?;
    }
    let body = Bytes::from_request(request, &state).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            Error::bad_request("body_too_large", format!("the body is over {} bytes", state.config.max_body_bytes))
        }
        other => Error::bad_request("malformed_body", other.body_text()),
    })?;
    if let (Some(Extension(client)), None) = (client, announced) {
        state.limits.charge_body(client, body.len()).inspect_err(|e| {
            state.metrics.limited.with_label_values(&[e.code()]).inc();
        })?;
    }
    let parsed = Body::parse(&body, state.config.max_batch)?;
    if let Some(Extension(client)) = client {
        let count = match &parsed {
            Body::One(_) => 1,
            Body::Many(items) => items.len(),
        };
        state.limits.charge_receipts(client, count).inspect_err(|e| {
            state.metrics.limited.with_label_values(&[e.code()]).inc();
        })?;
    }
    let client = client.map(|Extension(c)| c);
    match parsed {
        Body::One(item) => match process(&state, client, vec![item]).await?.pop() {
            Some(Verdict::Accepted(a)) => {
                let status = if a.duplicate { StatusCode::OK } else { StatusCode::CREATED };
                Ok((status, Json(answers::Verdict::from(Verdict::Accepted(a)))).into_response())
            }
            Some(Verdict::Rejected(e)) => Ok(e.into_response()),
            None => Err(Error::bad_request("empty_batch", "no receipt")),
        },
        Body::Many(items) => {
            let results = process(&state, client, items).await?.into_iter().map(Into::into).collect();
            Ok(Json(answers::BatchAnswer { results }).into_response())
        }
    }
}

fn id_of(path: core::result::Result<Path<i64>, PathRejection>) -> Result<i64> {
    path.map(|Path(id)| id).map_err(|_| Error::bad_request("invalid_id", "the id must be an integer"))
}

async fn get_receipt(
    State(state): State<AppState>,
    path: core::result::Result<Path<i64>, PathRejection>,
) -> Result<Json<answers::StoredReceipt>> {
    let stored = state.db.receipt(id_of(path)?).await?.ok_or(Error::NotFound)?;
    Ok(Json(stored_answer(&stored)))
}

async fn job_settlement(
    State(state): State<AppState>,
    path: core::result::Result<Path<i64>, PathRejection>,
) -> Result<Json<answers::JobSettlement>> {
    let job_id = u64::try_from(id_of(path)?).map_err(|_| Error::NotFound)?;
    let view = state.views.lookup(&[job_id]).await?.remove(&job_id).flatten().ok_or(Error::NotFound)?;
    let accepted = state.db.lanes(job_id).await?;
    let providers = view
        .job
        .providers
        .iter()
        .zip(view.job.slots.iter().map(|s| &s.lane))
        .map(|(provider, released)| {
            let ours = accepted.iter().find(|a| a.provider == *provider);
            let accepted_amount = ours.map_or(0, |a| a.lane.amount);
            answers::ProviderSettlement {
                provider: to_hex(provider),
                accepted: ours.map(|a| answers::AcceptedReceipt {
                    receipt_id: a.receipt_id,
                    amount: a.lane.amount.to_string(),
                    units: a.lane.units.to_string(),
                    sequence: a.lane.sequence,
                }),
                released: answers::Released { amount: released.amount.to_string(), sequence: released.sequence },
                pending: accepted_amount.saturating_sub(released.amount).to_string(),
            }
        })
        .collect();
    Ok(Json(answers::JobSettlement {
        job_id,
        status: format!("{:?}", view.job.status),
        deposit: view.job.deposit.to_string(),
        released: view.job.released.to_string(),
        ends_at: view.job.ends_at,
        providers,
    }))
}

/// Most commitments or receipts on one page of a lane's.
pub const MAX_LANE_PAGE: usize = 1_000;

/// The query of a lane's pages: amounts above `after` (default 0), at most `limit` (default 100).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// A lane's (job, provider) from its path, and the page asked for; a lane the gateway does not hold is
/// not found.
fn lane_page(
    path: core::result::Result<Path<(String, String)>, PathRejection>,
    query: core::result::Result<Query<PageQuery>, QueryRejection>,
) -> Result<(u64, escrow_client::AccountId, u128, usize)> {
    let Path((job_id, provider)) = path.map_err(|_| Error::bad_request("invalid_id", "malformed path"))?;
    let job_id =
        job_id.parse::<u64>().map_err(|_| Error::bad_request("invalid_id", "the job id must be an integer"))?;
    let provider = crate::wire::bytes::<32>("provider", &provider)?;
    let Query(page) = query.map_err(|e| Error::bad_request("invalid_query", e.body_text()))?;
    let limit = page.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LANE_PAGE {
        return Err(Error::bad_request("invalid_limit", format!("limit must be 1 to {MAX_LANE_PAGE}")));
    }
    let after = page.after.as_deref().map(|a| crate::wire::amount("after", a)).transpose()?.unwrap_or(0);
    Ok((job_id, provider, after, limit))
}

/// The `after` of the next page: the last amount of a full page.
fn next_after(full: bool, last: Option<u128>) -> Option<String> {
    full.then_some(last).flatten().map(|a| a.to_string())
}

async fn lane_commitments(
    State(state): State<AppState>,
    path: core::result::Result<Path<(String, String)>, PathRejection>,
    query: core::result::Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<answers::Commitments>> {
    let (job_id, provider, after, limit) = lane_page(path, query)?;
    let compacted_to = state.db.compacted_to(job_id, &provider).await?.ok_or(Error::NotFound)?;
    let found = state.db.commitments(job_id, &provider, after, limit).await?;
    let next = next_after(found.len() == limit, found.last().map(|c| c.commitment.to));
    let commitments = found
        .into_iter()
        .map(|c| answers::LaneCommitment {
            from: c.commitment.from.to_string(),
            to: c.commitment.to.to_string(),
            leaves: c.commitment.leaves,
            root: to_hex(&c.commitment.root),
            deleted: c.deleted,
            compacted_at: c.compacted_at,
        })
        .collect();
    Ok(Json(answers::Commitments { compacted_to: compacted_to.to_string(), commitments, next }))
}

async fn lane_receipts(
    State(state): State<AppState>,
    path: core::result::Result<Path<(String, String)>, PathRejection>,
    query: core::result::Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<answers::LaneReceipts>> {
    let (job_id, provider, after, limit) = lane_page(path, query)?;
    let found = state.db.lane_receipts(job_id, &provider, after, limit).await?;
    if found.is_empty() && state.db.compacted_to(job_id, &provider).await?.is_none() {
        return Err(Error::NotFound);
    }
    let next = next_after(found.len() == limit, found.last().map(|s| s.receipt.amount));
    let receipts = found.iter().map(stored_answer).collect();
    Ok(Json(answers::LaneReceipts { receipts, next }))
}

fn stored_answer(stored: &crate::store::Stored) -> answers::StoredReceipt {
    let signed = SignedReceiptJson::from_signed(&stored.receipt, &stored.signature);
    answers::StoredReceipt {
        id: stored.id,
        receipt: signed.receipt,
        signature: signed.signature,
        accepted_at: stored.accepted_at.clone(),
    }
}

/// Postgres and node reachability, checked once for all the probes waiting at once (a probe does not
/// pass admission, so what probes cost must not grow with how many are sent): a probe takes the answer
/// of a check that started after it arrived, so none is older than the probe.
#[derive(Default)]
pub struct Readiness(tokio::sync::Mutex<Option<(std::time::Instant, bool, bool)>>);

impl Readiness {
    /// (Postgres reachable, node reachable), as checked since the call.
    pub async fn checked(&self, state: &AppState) -> (bool, bool) {
        let arrived = std::time::Instant::now();
        let mut last = self.0.lock().await;
        if let Some((started, db, node)) = *last {
            if started >= arrived {
                return (db, node);
            }
        }
        let started = std::time::Instant::now();
        let db = state.db.ping().await.is_ok();
        let node = state.escrow.chain().now().await.is_ok();
        *last = Some((started, db, node));
        (db, node)
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    let (db, node) = state.readiness.checked(&state).await;
    let relayer = match state.metrics.relayer_ready.get() {
        -1 => None,
        ready => Some(ready == 1),
    };
    let status = if db && node && relayer != Some(false) { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(answers::Readiness { postgres: db, node, relayer })).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../openapi.json")).into_response()
}
