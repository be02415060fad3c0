//! The auditor API kept off the follower's resources, on a real Postgres: its own pool, whose
//! statements Postgres cancels past the API's statement timeout (answered 503, not left running).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use indexer::store::Db;
use indexer::Error;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn the_api_pool_is_bounded_and_its_statements_cancelled_past_their_timeout(pool: PgPool) {
    let options = (*pool.connect_options()).clone();
    let api = Db::connect_api(options, 1, Duration::from_millis(200)).await.unwrap();
    let started = Instant::now();
    let err = sqlx::query("SELECT pg_sleep(5)").execute(api.pool()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "cancelled at its timeout, not after 5 s");
    let code = err.as_database_error().and_then(|e| e.code()).map(|c| c.to_string());
    assert_eq!(code.as_deref(), Some("57014"), "{err}");
    let answer = Error::Database(err).into_response();
    assert_eq!(answer.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);

    // One connection in all: while the API holds it, the API waits, and the follower's pool does not.
    let held = api.pool().acquire().await.unwrap();
    assert_eq!(api.pool().size(), 1);
    let waited = tokio::time::timeout(Duration::from_millis(300), api.pool().acquire()).await;
    assert!(waited.is_err(), "the API's pool has no second connection");
    let follower: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await.unwrap();
    assert_eq!(follower, 1);
    drop(held);
    let quick: i32 = sqlx::query_scalar("SELECT 2").fetch_one(api.pool()).await.unwrap();
    assert_eq!(quick, 2);
}
