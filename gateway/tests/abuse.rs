//! The intake under abuse (issue 14), against a real node and Postgres: unknown jobs cost the node
//! nothing, a request names a bounded number of jobs, a bad signature takes no lock, the refusal log
//! stays within its caps, and each client is held to its rate, its requests in flight and the request
//! timeout while other clients are served.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use escrow_client::account_of;
use gateway::refusals::Limits;
use gateway::wire::SignedReceiptJson;
use gateway::Config;
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::*;

/// A receipt for `job` signed by `key` (the job's payer key is `payer(1)`).
fn receipt_json(h: &Harness, key: u8, job: u64, amount: u128, sequence: u64) -> Value {
    let (r, s) = signed_receipt(&h.market, &payer(key), job, account_of(&h.provider), amount, sequence);
    serde_json::to_value(SignedReceiptJson::from_signed(&r, &s)).unwrap()
}

fn codes(answer: &Value) -> Vec<String> {
    answer["results"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap_or("accepted").to_string()).collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn unknown_jobs_cost_the_node_nothing_and_a_request_names_few_jobs(pool: PgPool) {
    let h = harness_with(pool, |c| Config { max_batch: 400, max_body_bytes: 1 << 20, max_jobs_per_request: 300, ..c })
        .await;
    let reads = h.state.metrics.job_reads.get();
    let unknown: Vec<Value> = (0..300).map(|i| receipt_json(&h, 1, 1_000_000 + i, UNIT, 1)).collect();
    let (status, answer) = h.post(&Value::Array(unknown.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(codes(&answer).iter().all(|c| c == "unknown_job"), "{answer}");
    assert_eq!(h.state.metrics.job_reads.get(), reads, "no job read from the node for an id beyond the next job");

    let mut too_many = unknown;
    too_many.push(receipt_json(&h, 1, 2_000_000, UNIT, 1));
    let before = h.rejected_count().await;
    let (status, answer) = h.post(&Value::Array(too_many)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("too_many_jobs")));
    assert_eq!(h.rejected_count().await, before, "refused whole, nothing looked at");
    assert_eq!(h.state.metrics.job_reads.get(), reads);

    // A real job is still read and accepted beside unknown ones.
    let mixed = json!([receipt_json(&h, 1, 3_000_000, UNIT, 1), h.json(UNIT, 1)]);
    let (_, answer) = h.post(&mixed).await;
    assert_eq!(codes(&answer), ["unknown_job", "accepted"]);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_bad_signature_is_refused_without_waiting_for_its_jobs_lock(pool: PgPool) {
    let h = harness(pool).await;
    let mut holder = h.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(i64::try_from(h.job).unwrap()).execute(&mut *holder).await.unwrap();

    let forged = receipt_json(&h, 2, h.job, UNIT, 1);
    let (status, answer) = tokio::time::timeout(Duration::from_secs(5), h.post(&forged)).await.expect("not blocked");
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_signature")));

    // A good receipt does wait for the lock, and is accepted once it is free.
    let good = h.json(UNIT, 1);
    let post = h.post(&good);
    tokio::pin!(post);
    assert!(
        tokio::time::timeout(Duration::from_millis(700), &mut post).await.is_err(),
        "a good receipt takes the lock"
    );
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(i64::try_from(h.job).unwrap())
        .execute(&mut *holder)
        .await
        .unwrap();
    assert_eq!(post.await.0, StatusCode::CREATED);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_refusal_log_counts_everything_and_keeps_a_bounded_sample(pool: PgPool) {
    let h = harness_with(pool, |c| Config {
        max_batch: 200,
        max_body_bytes: 1 << 20,
        refusal_samples_per_minute: 3,
        refusal_sample_cap: 5,
        ..c
    })
    .await;
    let mut items = Vec::new();
    for i in 0..40u64 {
        items.push(json!({ "receipt": { "job_id": i }, "signature": "0x00" }));
        items.push(receipt_json(&h, 1, 5_000_000 + i, UNIT, 1));
        items.push(receipt_json(&h, 2, h.job, UNIT + u128::from(i), 1));
    }
    let (status, answer) = h.post(&Value::Array(items)).await;
    assert_eq!(status, StatusCode::OK);
    let mut expected = std::collections::BTreeMap::<String, i64>::new();
    for code in codes(&answer) {
        *expected.entry(code).or_default() += 1;
    }
    assert_eq!(expected.len(), 3, "three kinds of refusal: {expected:?}");
    assert_eq!(h.rejected_count().await, 120, "every refusal counted");
    let counted: Vec<(String, i64)> = h.state.db.refusal_counts(0).await.unwrap();
    assert_eq!(counted, expected.into_iter().collect::<Vec<_>>(), "by code");

    let per_code: Vec<(String, i64)> =
        sqlx::query_as("SELECT code, count(*) FROM rejected_receipts GROUP BY code ORDER BY code")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(per_code.len(), 3);
    // Three a minute per code (six if the request straddled a minute).
    assert!(per_code.iter().all(|(_, n)| (3..=6).contains(n)), "{per_code:?}");
    let ids = || async {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM rejected_receipts ORDER BY id").fetch_all(&h.pool).await.unwrap();
        ids
    };
    let before = ids().await;
    let limits = *h.state.refusals.limits();
    h.state.db.prune_refusals(&limits).await.unwrap();
    assert_eq!(ids().await, before[before.len() - 5..], "capped at five, the newest kept");
    let expire_all = Limits { sample_max_age: Duration::ZERO, count_max_age: Duration::ZERO, ..limits };
    h.state.db.prune_refusals(&expire_all).await.unwrap();
    let left: (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM rejected_receipts), (SELECT count(*) FROM refusal_counts)")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(left, (0, 0), "expired");
}

/// The harness's gateway on a loopback port as `escrow serve` serves it: the bounded listener, request
/// heads bounded in time, clients told apart by address.
async fn serve(h: &Harness) -> SocketAddr {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = gateway::listener::Bounded::new(tcp, h.state.config.listener_bounds());
    let (app, header_timeout) = (gateway::app(h.state.clone()), h.state.config.header_timeout());
    tokio::spawn(gateway::server::serve(listener, app, header_timeout, std::future::pending()));
    addr
}

/// A client connecting from `ip` (any 127.x.y.z reaches the loopback listener).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<IpAddr>().unwrap()).build().unwrap()
}

async fn send(client: &reqwest::Client, addr: SocketAddr, body: &Value) -> (StatusCode, Value, Option<String>) {
    let resp = client.post(format!("http://{addr}/v1/receipts")).json(body).send().await.unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap_or(Value::Null), retry)
}

#[sqlx::test(migrations = "./migrations")]
async fn each_client_is_held_to_its_limits_while_others_are_served(pool: PgPool) {
    let h = harness_with(pool, |c| Config {
        client_requests_per_second: 1,
        client_request_burst: 3,
        client_receipt_burst: 50,
        client_max_in_flight: 2,
        request_timeout_ms: 1_500,
        ..c
    })
    .await;
    let addr = serve(&h).await;
    let (a, b, c) = (client_from("127.0.0.2"), client_from("127.0.0.3"), client_from("127.0.0.4"));
    let forged = |i: u128| receipt_json(&h, 2, h.job, UNIT + i, 1);

    // Rate: a burst of three, then a 429 with the time to wait; another client is served meanwhile.
    for i in 0..3 {
        assert_eq!(send(&a, addr, &forged(i)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, answer, retry) = send(&a, addr, &forged(3)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
    assert!(retry.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| (1..=2).contains(&s))), "Retry-After");
    assert_eq!(send(&b, addr, &forged(4)).await.0, StatusCode::UNPROCESSABLE_ENTITY, "another client");

    // In flight and timeout: with the job's lock held, c's two good receipts wait; a third is turned
    // away at once; the two are answered 503 when the request timeout passes; b is still served.
    let mut holder = h.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(i64::try_from(h.job).unwrap()).execute(&mut *holder).await.unwrap();
    let (one, two) = (h.json(UNIT, 1), h.json(2 * UNIT, 2));
    let waiting = async { tokio::join!(send(&c, addr, &one), send(&c, addr, &two)) };
    let third = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let third = send(&c, addr, &forged(5)).await;
        let other = send(&b, addr, &forged(6)).await;
        (third, other)
    };
    let (((s1, a1, _), (s2, _, _)), ((s3, a3, _), (s4, _, _))) = tokio::join!(waiting, third);
    assert_eq!((s3, a3["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_in_flight")));
    assert_eq!(s4, StatusCode::UNPROCESSABLE_ENTITY, "another client served meanwhile");
    assert_eq!((s1, s2), (StatusCode::SERVICE_UNAVAILABLE, StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(a1["code"].as_str(), Some("timeout"));
    // The commits were handed over before the timeout: once the lock is free they land, and the
    // receipts sent again are answered as duplicates.
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(i64::try_from(h.job).unwrap())
        .execute(&mut *holder)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, answer, _) = send(&c, addr, &two).await;
    assert_eq!((status, answer["duplicate"].as_bool()), (StatusCode::OK, Some(true)), "committed after all");
    let limited = h.state.metrics.render();
    for code in ["rate_limited", "too_many_in_flight", "timeout"] {
        assert!(limited.contains(&format!("gateway_requests_limited_total{{code=\"{code}\"}}")), "{code} counted");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_client_forging_signatures_is_cut_off_after_its_budget(pool: PgPool) {
    let h = harness_with(pool, |c| Config {
        max_batch: 3_000,
        max_body_bytes: 4 << 20,
        client_bad_signatures_per_second: 1,
        client_bad_signature_burst: 20,
        ..c
    })
    .await;
    let addr = serve(&h).await;
    let (forger, honest) = (client_from("127.0.0.5"), client_from("127.0.0.6"));
    let forged: Vec<Value> = (0..2_100).map(|i| receipt_json(&h, 2, h.job, UNIT + i, 1)).collect();
    let (status, answer, _) = send(&forger, addr, &Value::Array(forged)).await;
    assert_eq!(status, StatusCode::OK);
    let codes = codes(&answer);
    let verified = codes.iter().take_while(|c| *c == "bad_signature").count();
    assert_eq!(verified, 1_024, "one round verified");
    assert!(codes[verified..].iter().all(|c| c == "too_many_refusals"), "the rest refused unverified");

    let (status, answer, retry) = send(&forger, addr, &h.json(UNIT, 1)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_refusals")));
    assert!(retry.is_some_and(|s| s.parse::<u64>().unwrap() > 900), "barred for as long as 1,024 take at 1/s");
    assert_eq!(send(&honest, addr, &h.json(UNIT, 1)).await.0, StatusCode::CREATED, "another client is served");
}

/// A raw connection to `addr` from `ip`.
async fn connect_from(ip: &str, addr: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(ip.parse().unwrap(), 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Whether the gateway closed `stream` within `within` (a read ends: EOF or reset).
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut byte = [0u8; 1];
    matches!(tokio::time::timeout(within, stream.read(&mut byte)).await, Ok(Ok(0) | Err(_)))
}

#[sqlx::test(migrations = "./migrations")]
async fn connections_are_bounded_per_client_and_idle_or_trickling_ones_closed(pool: PgPool) {
    let h = harness_with(pool, |c| Config {
        client_max_connections: 2,
        request_timeout_ms: 400,
        connection_idle_ms: 800,
        header_read_timeout_ms: 600,
        ..c
    })
    .await;
    let addr = serve(&h).await;

    let mut first = connect_from("127.0.0.8", addr).await;
    let mut second = connect_from("127.0.0.8", addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = connect_from("127.0.0.8", addr).await;
    assert!(closed_within(&mut third, Duration::from_millis(500)).await, "a third from one client is closed");
    // Another client still connects and is served.
    assert_eq!(send(&client_from("127.0.0.9"), addr, &h.json(UNIT, 1)).await.0, StatusCode::CREATED);
    // Silent connections are closed once idle, which frees the client's places.
    assert!(!closed_within(&mut first, Duration::from_millis(300)).await, "not before the idle time");
    assert!(closed_within(&mut first, Duration::from_secs(3)).await, "closed once idle");
    assert!(closed_within(&mut second, Duration::from_secs(3)).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(send(&client_from("127.0.0.8"), addr, &h.json(2 * UNIT, 2)).await.0, StatusCode::CREATED);

    // A client trickling its request head, a byte well within the idle time, is closed once the head
    // has taken longer than its deadline: it cannot hold a place.
    use tokio::io::AsyncWriteExt;
    let mut slow = connect_from("127.0.0.10", addr).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut cut = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if slow.write_all(b"X").await.is_err() || closed_within(&mut slow, Duration::from_millis(1)).await {
            cut = true;
            break;
        }
    }
    assert!(cut, "a trickled head is cut");
    assert!(started.elapsed() < Duration::from_millis(1_500), "at its deadline, not the idle time");
    // A whole head in time is served, on a kept-alive connection too.
    let client = client_from("127.0.0.10");
    assert_eq!(client.get(format!("http://{addr}/healthz")).send().await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.get(format!("http://{addr}/healthz")).send().await.unwrap().status(), StatusCode::OK);
}
