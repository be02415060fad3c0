//! The auditor API's admission, so that no load on the API can stop indexing: at most `max_in_flight`
//! requests at once (more are shed with 503 `overloaded`, not queued), each answered within
//! `request_timeout` (503 `timeout`). With the API's own connection pool, whose statements Postgres
//! cancels after `api_statement_timeout_ms` ([`crate::store::Db::connect_api`]), the follower's
//! connections and time are its own. The probes and `/metrics` are outside admission, so a flood cannot
//! make an orchestrator restart an indexer that is shedding it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::Semaphore;

use crate::error::Error;

/// What the API admits.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Most requests served at once.
    pub max_in_flight: usize,
    /// The longest a request may take until its answer starts.
    pub request_timeout: Duration,
}

/// Paths served whatever the load: liveness, readiness and metrics.
const UNBOUNDED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// `app` behind admission.
pub fn bounded(app: Router, bounds: Bounds) -> Router {
    let permits = Arc::new(Semaphore::new(bounds.max_in_flight));
    app.layer(axum::middleware::from_fn(move |request: Request, next: Next| {
        let permits = permits.clone();
        async move { admit(&permits, bounds.request_timeout, request, next).await }
    }))
}

async fn admit(permits: &Arc<Semaphore>, timeout: Duration, request: Request, next: Next) -> Response {
    if UNBOUNDED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    // Held until the answer starts; a streamed body (the statement CSV) reads page by page after it,
    // each page a bounded query on the API's pool.
    let Ok(_permit) = permits.clone().try_acquire_owned() else {
        return Error::Overloaded.into_response();
    };
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Error::TimedOut.into_response(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "slow"
        };
        let router = Router::new().route("/slow", get(slow)).route("/healthz", get(|| async { "ok" }));
        bounded(router, Bounds { max_in_flight: 1, request_timeout: Duration::from_millis(200) })
    }

    async fn status(app: &Router, path: &str) -> StatusCode {
        app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap().status()
    }

    #[tokio::test]
    async fn a_request_past_its_time_is_answered_503_and_one_past_the_places_is_shed_while_probes_pass() {
        let app = app();
        let first = tokio::spawn({
            let app = app.clone();
            async move { status(&app, "/slow").await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(status(&app, "/slow").await, StatusCode::SERVICE_UNAVAILABLE, "no place left: shed");
        assert_eq!(status(&app, "/healthz").await, StatusCode::OK, "probes are outside admission");
        assert_eq!(first.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE, "past the timeout");
        // The place is free again once the first is answered.
        assert_eq!(status(&app, "/healthz").await, StatusCode::OK);
        assert_eq!(status(&app, "/slow").await, StatusCode::SERVICE_UNAVAILABLE);
    }
}
