//! Against a real dev node and real Postgres: the dashboard's market series and job searches.
//! - Each bucket of the series (minute, hour, day) is what the jobs' own histories give when their
//!   events are grouped by block time: releases, gross released, fees, deposits with top-ups, refunds;
//!   and what it says was held is every earlier deposit less every earlier release and refund. Kept
//!   block by block (batches of one), and equal to what the migration fills from an indexed database.
//! - The jobs list searched by job, consumer or provider is the whole list filtered, in pages too.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use axum::http::StatusCode;
use escrow_client::account_of;
use escrow_client::accounts::ss58;
use indexer::{app, AppState, Config};
use serde_json::Value;
use settlement::OpenJob;
use sqlx::PgPool;
use testkit::activity::every_kind;
use testkit::indexing::*;
use testkit::*;

mod common;

use common::{get, get_json};

const WIDTHS: [(&str, u64); 3] = [("minute", 60_000), ("hour", 3_600_000), ("day", 86_400_000)];

/// Every row of `field` at `uri` (which has a query), in pages of `limit`.
async fn all_pages(app: &axum::Router, uri: &str, field: &str, limit: usize) -> Vec<Value> {
    let (mut rows, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let page_uri = match &cursor {
            Some(c) => format!("{uri}&limit={limit}&cursor={c}"),
            None => format!("{uri}&limit={limit}"),
        };
        let page = get_json(app, &page_uri).await;
        let listed = page[field].as_array().unwrap();
        assert!(listed.len() <= limit);
        rows.extend(listed.iter().cloned());
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return rows,
        }
    }
}

fn amount(v: &Value) -> u128 {
    v.as_str().unwrap().parse().unwrap()
}

/// Per bucket start: (releases, released, fees, deposited, refunded), from every job's history.
async fn from_histories(app: &axum::Router, width: u64) -> BTreeMap<u64, [u128; 5]> {
    let mut buckets = BTreeMap::<u64, [u128; 5]>::new();
    for job in all_pages(app, "/v1/jobs?", "jobs", 1_000).await {
        let uri = format!("/v1/jobs/{}/history?", job["job_id"].as_str().unwrap());
        for e in all_pages(app, &uri, "events", 1_000).await {
            let start = e["timestamp_ms"].as_u64().unwrap() / width * width;
            let f = &e["fields"];
            let add = match e["kind"].as_str().unwrap() {
                "JobOpened" => [0, 0, 0, amount(&f["deposit"]), 0],
                "ToppedUp" => [0, 0, 0, amount(&f["amount"]), 0],
                "Released" => [1, amount(&f["amount"]), amount(&f["fee"]), 0, 0],
                "Refunded" => [0, 0, 0, 0, amount(&f["amount"])],
                _ => continue,
            };
            let b = buckets.entry(start).or_default();
            for (sum, a) in b.iter_mut().zip(add) {
                *sum += a;
            }
        }
    }
    buckets
}

/// The series at every width agrees with the histories, and with the jobs' books.
async fn series_agree(app: &axum::Router) {
    let jobs = all_pages(app, "/v1/jobs?", "jobs", 1_000).await;
    let held_now: u128 = jobs.iter().map(|j| amount(&j["held"])).sum();
    for (bucket, width) in WIDTHS {
        let uri = format!("/v1/market/series?bucket={bucket}");
        let whole = get_json(app, &format!("{uri}&limit=1000")).await;
        assert_eq!((whole["bucket"].as_str(), whole["width_ms"].as_u64()), (Some(bucket), Some(width)));
        let points = whole["points"].as_array().unwrap().clone();
        assert_eq!(all_pages(app, &uri, "points", 1).await, points, "{bucket} in pages of 1");
        let starts: Vec<u64> = points.iter().map(|p| p["start_ms"].as_u64().unwrap()).collect();
        assert!(starts.windows(2).all(|w| w[0] > w[1]), "newest first: {starts:?}");
        assert!(starts.iter().all(|s| s % width == 0), "{starts:?}");

        let expected = from_histories(app, width).await;
        let mut held = 0_u128;
        let mut got = BTreeMap::new();
        for p in points.iter().rev() {
            let row = [
                u128::from(p["releases"].as_u64().unwrap()),
                amount(&p["released"]),
                amount(&p["fees"]),
                amount(&p["deposited"]),
                amount(&p["refunded"]),
            ];
            held = held + row[3] - row[1] - row[4];
            assert_eq!(amount(&p["held"]), held, "{bucket} {}: held at its end", p["start_ms"]);
            got.insert(p["start_ms"].as_u64().unwrap(), row);
        }
        assert_eq!(got, expected, "{bucket}: each bucket is its events' sums");
        assert_eq!(held, held_now, "{bucket}: the newest point holds what the jobs hold");
    }
}

#[sqlx::test(migrations = false)]
async fn the_market_series_and_the_job_searches_are_the_histories_summed_and_filtered(pool: PgPool) {
    let (node, chain) = DevNode::start().await.unwrap();
    let m = deploy(&chain).await.unwrap();
    let activity = every_kind(&m, "Series").await.unwrap();
    // Another consumer's two jobs with the activity's provider, one paid.
    let consumer = funded(&chain, "//SearchingConsumer", 100 * UNIT).await.unwrap();
    let p1 = account_of(&activity.provider);
    let mut theirs = Vec::new();
    for paid in [true, false] {
        if !paid {
            // The second job in a later minute, so a batch of several blocks spans two minute buckets.
            wait_until(&chain, (now_ms() / 60_000 + 1) * 60_000 + 500).await.unwrap();
        }
        let req = OpenJob {
            providers: vec![(p1, 10 * UNIT)],
            payer_key: payer(1).verifying_key().to_bytes(),
            terms_hash: [8; 32],
            expires_at: now_ms() + 120_000,
        };
        let job = m.escrow.open_job(&consumer, 10 * UNIT, &req).await.unwrap().value;
        accept_all(&m, job, &[&activity.provider]).await.unwrap();
        if paid {
            let (r, s) = signed_receipt(&m, &payer(1), job, p1, 3 * UNIT, 1);
            m.escrow.release(&activity.provider, &r, &s).await.unwrap();
        }
        theirs.push(job);
    }
    let db = db(&pool).await;
    // Batches of one block: every bucket is continued across batches.
    let running = Running::start(Config { batch_blocks: 1, ..config(&node.url, &m) }, db.clone());
    caught_up(&db, &chain).await;
    let app = app(AppState { db: db.clone(), metrics: running.metrics.clone() });

    series_agree(&app).await;
    let minutes = get_json(&app, "/v1/market/series?bucket=minute&limit=1000").await;
    assert!(minutes["points"].as_array().unwrap().iter().any(|p| p["releases"].as_u64().unwrap() > 0));
    assert_eq!(get_json(&app, "/v1/market/series").await["bucket"], "hour", "hours by default");
    for (query, code) in [
        ("bucket=week", "bad_bucket"),
        ("bucket=", "bad_bucket"),
        ("limit=1001", "limit_too_large"),
        ("cursor=6a0000000000000001", "bad_cursor"),
        ("from=1", "bad_query"),
    ] {
        let (status, body) = get(&app, &format!("/v1/market/series?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.contains(code), "{query}: {body}");
    }

    // Searches: the whole list filtered, in pages of any size.
    let all = all_pages(&app, "/v1/jobs?", "jobs", 1_000).await;
    assert!(all.len() >= 3);
    let accounts: Vec<String> = all
        .iter()
        .flat_map(|j| [&j["consumer"]].into_iter().chain(j["providers"].as_array().unwrap()))
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    for who in &accounts {
        for (role, keep) in [
            ("consumer", Box::new(|j: &Value| j["consumer"] == who.as_str()) as Box<dyn Fn(&Value) -> bool>),
            ("provider", Box::new(|j: &Value| j["providers"].as_array().unwrap().iter().any(|p| p == who.as_str()))),
        ] {
            let expected: Vec<Value> = all.iter().filter(|j| keep(j)).cloned().collect();
            for limit in [1, 1_000] {
                assert_eq!(
                    all_pages(&app, &format!("/v1/jobs?{role}={who}"), "jobs", limit).await,
                    expected,
                    "{role} {who}"
                );
            }
        }
    }
    let provider_jobs = all_pages(&app, &format!("/v1/jobs?provider={}", ss58(p1)), "jobs", 1).await;
    assert!(provider_jobs.len() >= 3, "the activity's job and the other consumer's two");
    let consumer_jobs = all_pages(&app, &format!("/v1/jobs?consumer={}", ss58(account_of(&consumer))), "jobs", 1).await;
    let ids: Vec<u64> = consumer_jobs.iter().map(|j| j["job_id"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(ids, theirs.iter().rev().copied().collect::<Vec<_>>());
    // By hex account too.
    let hex = format!("0x{}", hex::encode(p1.as_ref() as &[u8]));
    assert_eq!(all_pages(&app, &format!("/v1/jobs?provider={hex}"), "jobs", 2).await, provider_jobs);
    for j in &all {
        let one = get_json(&app, &format!("/v1/jobs?job={}", j["job_id"].as_str().unwrap())).await;
        assert_eq!(one["jobs"].as_array().unwrap(), &vec![j.clone()]);
    }
    assert_eq!(get_json(&app, "/v1/jobs?job=999999").await["jobs"], Value::Array(vec![]));
    for (query, code) in [
        ("job=abc", "bad_job"),
        ("job=-1", "bad_job"),
        ("job=18446744073709551616", "bad_job"),
        ("job=007", "bad_job"),
        ("job=+7", "bad_job"),
        ("consumer=zz", "bad_account"),
        (&format!("consumer={}&provider={}", ss58(p1), ss58(p1)), "bad_search"),
        (&format!("job=1&provider={}", ss58(p1)), "bad_search"),
        ("account=x", "bad_query"),
        ("limit=abc", "bad_query"),
    ] {
        let (status, body) = get(&app, &format!("/v1/jobs?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(body.contains(code), "{query}: {body}");
    }
    running.stop().await.unwrap();

    // What the migration fills from an indexed database is what was kept batch by batch.
    let kept = sqlx::query_scalar::<_, String>("SELECT string_agg(t::text, ';' ORDER BY t::text) FROM market_series t")
        .fetch_one(&pool)
        .await
        .unwrap();
    let migration = include_str!("../migrations/0008_series.sql");
    let backfill = &migration[migration.find("WITH m").unwrap()..];
    sqlx::raw_sql("DELETE FROM market_series; DELETE FROM job_providers").execute(&pool).await.unwrap();
    sqlx::raw_sql(backfill).execute(&pool).await.unwrap();
    let filled =
        sqlx::query_scalar::<_, String>("SELECT string_agg(t::text, ';' ORDER BY t::text) FROM market_series t")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(filled, kept);
    series_agree(&app).await;
    assert_eq!(all_pages(&app, &format!("/v1/jobs?provider={}", ss58(p1)), "jobs", 1).await, provider_jobs);

    // An indexer started after the activity's job was opened (so it never saw its deposit, but sees
    // its top-up, releases and refund), in batches of 7 blocks, each spanning several buckets: the
    // series counts only the jobs it saw opened, held never goes below nothing, and the audit agrees.
    let first_release: i64 = sqlx::query_scalar("SELECT min(block_number) FROM releases WHERE job_id = $1::numeric")
        .bind(activity.job.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    // (Postgres cuts names at 63 bytes: the test database's own name plus a suffix would name itself.)
    let late_name = format!("series_late_{}_{}", std::process::id(), now_ms());
    sqlx::raw_sql(&format!("CREATE DATABASE {late_name}")).execute(&pool).await.unwrap();
    let late = indexer::store::Db::connect(&database_url(&late_name), 4).await.unwrap();
    let config = Config { batch_blocks: 7, start_block: first_release as u64, ..config(&node.url, &m) };
    let running = Running::start(config, late.clone());
    caught_up(&late, &chain).await;
    let late_app = indexer::app(AppState { db: late.clone(), metrics: running.metrics.clone() });
    running.stop().await.unwrap();
    let listed = all_pages(&late_app, "/v1/jobs?", "jobs", 1_000).await;
    let job = activity.job.to_string();
    assert!(!listed.iter().any(|j| j["job_id"].as_str() == Some(job.as_str())), "its opening was not indexed");
    series_agree(&late_app).await;
    let minutes = get_json(&late_app, "/v1/market/series?bucket=minute&limit=1000").await;
    assert!(minutes["points"].as_array().unwrap().len() >= 2, "{minutes}");
    let report = indexer::audit::audit(&late, &m.escrow.address(), None).await.unwrap();
    assert!(!report.render().contains("market_series"), "{}", report.render());
    drop((late_app, late));
    sqlx::raw_sql(&format!("DROP DATABASE {late_name} WITH (FORCE)")).execute(&pool).await.unwrap();
}
