//! Serving the router over the bounded listener ([`crate::listener`]) with hyper's HTTP/1.1 directly,
//! for what `axum::serve` does not set: a deadline for a request's headers (`header_read_timeout_ms`).
//! Without one, a connection trickling a header byte just inside the idle timeout holds its place
//! forever; with one, every connection sends a whole request head in bounded time (a body is then
//! bounded by the request timeout, [`crate::limits`]). Each request carries its peer's address, as
//! axum's `ConnectInfo`, for admission. On shutdown, connections finish the request in progress and
//! close.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tower::ServiceExt;

use crate::listener::Bounded;

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the connections to finish
/// what they are answering. A connection whose request head takes longer than `header_timeout` is
/// closed.
pub async fn serve(mut listener: Bounded, app: Router, header_timeout: Duration, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (io, peer): (_, SocketAddr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(io), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    graceful.shutdown().await;
}
