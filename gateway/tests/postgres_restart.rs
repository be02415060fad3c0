//! Postgres stopped and started again under a running store (a private cluster, `testkit::pg`: the
//! shared test cluster is not restarted). While Postgres is down a request waits at most
//! `ACQUIRE_TIMEOUT` for a connection and fails with an error answered 503, and the leadership session
//! ends; once Postgres is back the same store serves again and a new session leads. A store that
//! starts while Postgres cannot be reached yet waits for it.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use gateway::error::PublicError;
use gateway::store::{Store, ACQUIRE_TIMEOUT};
use testkit::pg::PgCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_fails_fast_while_postgres_is_down_and_recovers_by_itself() {
    let mut pg = PgCluster::init().await.unwrap();
    pg.create_database("gateway").await.unwrap();
    let url = pg.url("gateway");
    let store = Store::connect(&url, 4).await.unwrap();
    let mut session = store.leadership().await.unwrap();
    assert!(session.lead().await.unwrap(), "the only session leads");

    pg.stop().await.unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let err = store.ping().await.expect_err("Postgres is down");
        let took = started.elapsed();
        assert!(took < ACQUIRE_TIMEOUT + Duration::from_secs(1), "failed within the acquire timeout: {took:?}");
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE, "{err}");
        assert_eq!(err.code(), "unavailable");
    }
    assert!(session.lead().await.is_err(), "the leadership session ended with Postgres");

    pg.start().await.unwrap();
    store.ping().await.expect("the same store serves again");
    let mut session = store.leadership().await.unwrap();
    assert!(session.lead().await.unwrap(), "a new session leads");
    drop(session);
    store.pool().close().await;

    // Started while Postgres cannot be reached, a store waits for it.
    pg.stop().await.unwrap();
    let connecting = tokio::spawn(async move { Store::connect(&url, 4).await });
    tokio::time::sleep(ACQUIRE_TIMEOUT + Duration::from_secs(1)).await;
    pg.start().await.unwrap();
    let store = connecting.await.unwrap().expect("connected once Postgres was up");
    store.ping().await.unwrap();
}
