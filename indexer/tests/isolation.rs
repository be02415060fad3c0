//! The auditor API's store on a real Postgres, without a node: the API kept off the follower's
//! resources (its own pool, whose statements Postgres cancels past the API's statement timeout,
//! answered 503, not left running), and payouts paged by job id as a number.
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

/// Payouts are paged by job id as a number: with ids crossing digit boundaries (9 to 10, 99 to 100), the
/// pages hold every job once, in numeric order (ordered as text, page 1 was 1, 10, 100, 11, 2 and the
/// next repeated or skipped jobs).
#[sqlx::test(migrations = false)]
async fn payouts_pages_follow_job_ids_as_numbers(pool: PgPool) {
    let options = (*pool.connect_options()).clone();
    let url = format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap()
    );
    let db = Db::connect(&url, 2).await.unwrap();
    let provider = [7u8; 32];
    let jobs: Vec<u64> = vec![1, 2, 3, 9, 10, 11, 12, 20, 99, 100, 101];
    for (i, job) in jobs.iter().enumerate() {
        let n = i as i64;
        sqlx::query(
            "INSERT INTO blocks VALUES ($1, $2, $2, 0, 1, $2); \
             ",
        )
        .bind(n)
        .bind([u8::try_from(i).unwrap(); 32].to_vec())
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO events VALUES ($1, 0, 0, 'Released', $2::numeric, ARRAY[$3], ''::bytea)")
            .bind(n)
            .bind(job.to_string())
            .bind(provider.to_vec())
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO releases VALUES ($1, $2, 0, 0, $3::numeric, $4, $4, NULL, 10, 1, 1, 10, 1, 9)")
            .bind(n)
            .bind([u8::try_from(i).unwrap(); 32].to_vec())
            .bind(job.to_string())
            .bind(provider.to_vec())
            .execute(&pool)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = db.payouts(&provider, after, 3).await.unwrap();
        let ids: Vec<u64> = page.jobs.iter().map(|j| j.job_id.parse().unwrap()).collect();
        if ids.is_empty() {
            break;
        }
        after = ids.last().copied();
        seen.extend(ids);
    }
    assert_eq!(seen, jobs, "every job once, in numeric order");
}
