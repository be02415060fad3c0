//! Against a real dev node and real Postgres: every list of the auditor API is paged (keyset, `limit`
//! and `cursor`, `next` in the answer): paging with small pages yields every row exactly once and in
//! order, a limit above the maximum and a cursor that is not one are refused, and the CSV statement,
//! streamed a page at a time, is the whole statement.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use axum::http::StatusCode;
use escrow_client::account_of;
use escrow_client::accounts::ss58;
use futures::TryStreamExt;
use indexer::api::statement_csv_stream;
use indexer::{app, AppState, Config};
use serde_json::Value;
use settlement::OpenJob;
use sqlx::PgPool;
use testkit::activity::every_kind;
use testkit::indexing::*;
use testkit::*;

mod common;

use common::{get, get_json};

fn with(uri: &str, query: &str) -> String {
    format!("{uri}{}{query}", if uri.contains('?') { '&' } else { '?' })
}

/// Every row of the list `field` at `uri`, following `next` with pages of `limit` rows: each page full
/// but the last, and the last says so (`next` null).
async fn all_pages(app: &axum::Router, uri: &str, field: &str, limit: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let mut page_uri = with(uri, &format!("limit={limit}"));
        if let Some(c) = &cursor {
            page_uri = with(&page_uri, &format!("cursor={c}"));
        }
        let page = get_json(app, &page_uri).await;
        let listed = page[field].as_array().unwrap();
        assert!(listed.len() <= limit, "{page_uri}: {} rows", listed.len());
        rows.extend(listed.iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(listed.len(), limit, "{page_uri}: a page before the last is full");
                cursor = Some(next.to_owned());
            }
            None => {
                assert!(page["next"].is_null(), "{page_uri}: next is null at the end");
                return rows;
            }
        }
    }
    panic!("{uri} never ended");
}

/// `key` of each row, checked to be strictly increasing (`ascending`) or decreasing.
fn assert_ordered<K: PartialOrd + std::fmt::Debug>(rows: &[Value], key: impl Fn(&Value) -> K, ascending: bool) {
    for w in rows.windows(2) {
        let (a, b) = (key(&w[0]), key(&w[1]));
        assert!(if ascending { a < b } else { a > b }, "{a:?} then {b:?}");
    }
}

fn position(v: &Value) -> (u64, u64) {
    (v["block"].as_u64().unwrap(), v["event_index"].as_u64().unwrap())
}

fn job_id(v: &Value) -> u64 {
    v["job_id"].as_str().unwrap().parse().unwrap()
}

#[sqlx::test(migrations = false)]
async fn every_list_pages_through_all_rows_once_in_order(pool: PgPool) {
    let (node, chain) = DevNode::start().await.unwrap();
    let m = deploy(&chain).await.unwrap();
    let activity = every_kind(&m, "Pages").await.unwrap();
    // Two more jobs paid to the same provider, so its payouts and the jobs list have several rows.
    let consumer = keypair("//PagesConsumer");
    let p1 = account_of(&activity.provider);
    for _ in 0..2 {
        let req = OpenJob {
            providers: vec![(p1, 10 * UNIT)],
            payer_key: payer(1).verifying_key().to_bytes(),
            terms_hash: [8; 32],
            expires_at: now_ms() + 120_000,
        };
        let job = m.escrow.open_job(&consumer, 10 * UNIT, &req).await.unwrap().value;
        accept_all(&m, job, &[&activity.provider]).await.unwrap();
        let (r, s) = signed_receipt(&m, &payer(1), job, p1, UNIT, 1);
        m.escrow.release(&activity.provider, &r, &s).await.unwrap();
    }
    let db = db(&pool).await;
    // Small batches: the running totals are added to batch by batch.
    let running = Running::start(Config { batch_blocks: 3, ..config(&node.url, &m) }, db.clone());
    caught_up(&db, &chain).await;
    let app = app(AppState { db: db.clone(), metrics: running.metrics.clone() });

    // (route, list field, whether its keys ascend, its key) for every paged list.
    let job = activity.job;
    let (provider, consumer_ss58) = (ss58(p1), ss58(account_of(&consumer)));
    let history = format!("/v1/jobs/{job}/history");
    let payouts = format!("/v1/providers/{provider}/payouts");
    let statement = format!("/v1/accounts/{provider}/statement");
    let consumer_statement = format!("/v1/accounts/{consumer_ss58}/statement?format=json");
    let lists: [(&str, &str); 7] = [
        (&history, "events"),
        (&payouts, "jobs"),
        (&statement, "lines"),
        (&consumer_statement, "lines"),
        ("/v1/jobs", "jobs"),
        ("/v1/releases", "releases"),
        ("/v1/providers", "providers"),
    ];
    for (uri, field) in lists {
        let whole = get_json(&app, &with(uri, "limit=1000")).await;
        assert!(whole["next"].is_null(), "{uri}: one page holds it all");
        let whole = whole[field].as_array().unwrap().clone();
        assert!(whole.len() > 2, "{uri}: {} rows is too few to page", whole.len());
        // The default page holds them all too.
        assert_eq!(get_json(&app, uri).await[field].as_array().unwrap(), &whole, "{uri}");
        for limit in [1, 2, 3] {
            assert_eq!(all_pages(&app, uri, field, limit).await, whole, "{uri} in pages of {limit}");
        }
        // Refused: a limit above the maximum, below 1, a cursor that is not one, another list's.
        for (query, code) in [
            ("limit=1001", "limit_too_large"),
            ("limit=0", "bad_limit"),
            ("cursor=zz", "bad_cursor"),
            ("cursor=", "bad_cursor"),
            ("cursor=7a00", "bad_cursor"),
            ("cursor=6500", "bad_cursor"),
            ("cursor=70", "bad_cursor"),
        ] {
            let (status, body) = get(&app, &with(uri, query)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}?{query}: {body}");
            assert!(body.contains(code), "{uri}?{query}: {body}");
        }
    }

    // Each list in its order, and what it should hold.
    let all = |uri: &str, field: &str| {
        let (app, uri, field) = (app.clone(), uri.to_owned(), field.to_owned());
        async move { get_json(&app, &with(&uri, "limit=1000")).await[field.as_str()].as_array().unwrap().clone() }
    };
    let events = all(&history, "events").await;
    assert_ordered(&events, position, true);
    assert_eq!(events.len(), activity.events.iter().filter(|e| e.job_id() == Some(job)).count());
    let jobs = all(&payouts, "jobs").await;
    assert_ordered(&jobs, job_id, true);
    assert_eq!(jobs.len(), 3);
    assert_ordered(&all("/v1/jobs", "jobs").await, job_id, false);
    assert_eq!(all("/v1/jobs", "jobs").await.len(), 3);
    assert_ordered(&all("/v1/releases", "releases").await, position, false);
    let scores: Vec<i64> =
        all("/v1/providers", "providers").await.iter().map(|p| p["score"].as_i64().unwrap_or(i64::MIN)).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // A statement's lines ascend by position, and its totals (every page's) are its lines' sums.
    for uri in [&statement, &consumer_statement] {
        let lines = all(uri, "lines").await;
        assert_ordered(&lines, position, true);
        let mut sums = std::collections::BTreeMap::<String, u128>::new();
        for l in &lines {
            *sums.entry(l["flow"].as_str().unwrap().to_owned()).or_default() +=
                l["amount"].as_str().unwrap().parse::<u128>().unwrap();
        }
        let page = get_json(&app, &with(uri, "limit=1")).await;
        let totals: std::collections::BTreeMap<String, u128> = page["totals"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().parse().unwrap()))
            .collect();
        assert_eq!(totals, sums, "{uri}");
    }
    // A page past the end of a history is empty, not missing.
    let last = events.last().unwrap();
    let past = format!("65{:016x}{:08x}", last["block"].as_u64().unwrap(), last["event_index"].as_u64().unwrap());
    let after = get_json(&app, &with(&history, &format!("cursor={past}"))).await;
    assert_eq!((after["events"].as_array().unwrap().len(), &after["next"]), (0, &Value::Null));

    // The CSV statement: the whole of it, streamed, whatever the page it is read by; `limit` and
    // `cursor` are JSON's.
    for who in [&provider, &consumer_ss58] {
        let lines = all(&format!("/v1/accounts/{who}/statement"), "lines").await;
        let expected = expected_csv(&lines).unwrap();
        assert_eq!(expected.lines().count(), lines.len() + 1);
        let (status, csv) = get(&app, &format!("/v1/accounts/{who}/statement?format=csv")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(csv, expected);
        let account = escrow_client::accounts::account(who).unwrap();
        for page in [1, 2, 5] {
            let chunks: Vec<String> = statement_csv_stream(db.clone(), account, (None, None), page)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert!(chunks.len() >= lines.len().div_ceil(page as usize), "read a page at a time");
            assert_eq!(chunks.concat(), expected, "pages of {page}");
        }
        for query in ["limit=5", "cursor=zz"] {
            let (status, body) = get(&app, &format!("/v1/accounts/{who}/statement?format=csv&{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        }
    }
    // A period: only its lines, and the same by CSV.
    let mid = lines_mid(&all(&statement, "lines").await);
    let period = get_json(&app, &with(&statement, &format!("from={mid}&limit=1000"))).await;
    let (_, csv) = get(&app, &format!("{statement}?format=csv&from={mid}")).await;
    assert_eq!(csv, expected_csv(period["lines"].as_array().unwrap()).unwrap());
    assert!(period["lines"].as_array().unwrap().iter().all(|l| l["timestamp_ms"].as_u64().unwrap() >= mid));
    // Fee totals are one row per treasury: not paged.
    assert_eq!(get(&app, "/v1/treasury/fees?limit=5").await.0, StatusCode::BAD_REQUEST);
    running.stop().await.unwrap();

    // The overview's running totals (kept batch by batch) are what summing the tables gives, and so is
    // what the migration fills them with from an indexed database.
    totals_agree(&app, &db, &pool).await;
    let migration = include_str!("../migrations/0006_totals.sql");
    let backfill = &migration[migration.find("UPDATE indexer_state SET events").unwrap()..];
    sqlx::raw_sql("DELETE FROM account_totals; DELETE FROM treasury_totals; UPDATE indexer_state SET events = 0")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(get_json(&app, "/v1/status").await["events"], 0);
    sqlx::raw_sql(backfill).execute(&pool).await.unwrap();
    totals_agree(&app, &db, &pool).await;

    // The totals per day (kept batch by batch) give every period's totals, whole days, partial ones
    // and both; and so does what the migration fills them with.
    let accounts = [provider.as_str(), consumer_ss58.as_str()];
    periods_agree(&app, &pool, &accounts, mid).await;
    let migration = include_str!("../migrations/0007_days.sql");
    let backfill = &migration[migration.find("INSERT INTO flow_days").unwrap()..];
    sqlx::raw_sql("DELETE FROM flow_days; DELETE FROM fee_days").execute(&pool).await.unwrap();
    sqlx::raw_sql(backfill).execute(&pool).await.unwrap();
    periods_agree(&app, &pool, &accounts, mid).await;
}

/// For periods around `mid` (a block time of the history) cut to exercise whole days, partial days and
/// both: each account's statement totals are its lines' sums, and the treasury's fees are the
/// releases' sums, read straight from the releases.
async fn periods_agree(app: &axum::Router, pool: &PgPool, accounts: &[&str], mid: u64) {
    const D: u64 = 86_400_000;
    let day = mid / D * D;
    let periods = [
        (Some(day), Some(day + D)),
        (Some(day - 1), Some(day + D + 1)),
        (Some(mid), Some(day + 2 * D)),
        (Some(0), Some(mid)),
        (Some(mid), Some(mid + 1)),
        (Some(mid), None),
        (None, Some(mid)),
        (Some(day - D), Some(day)),
    ];
    for (from, to) in periods {
        let query = [from.map(|f| format!("from={f}")), to.map(|t| format!("to={t}"))]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("&");
        for who in accounts {
            let uri = format!("/v1/accounts/{who}/statement?{query}");
            let lines = all_pages(app, &uri, "lines", 1_000).await;
            let mut sums = std::collections::BTreeMap::<String, u128>::new();
            for l in &lines {
                *sums.entry(l["flow"].as_str().unwrap().to_owned()).or_default() +=
                    l["amount"].as_str().unwrap().parse::<u128>().unwrap();
            }
            let totals: std::collections::BTreeMap<String, u128> = get_json(app, &format!("{uri}&limit=1")).await
                ["totals"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().parse().unwrap()))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .filter(|(_, v)| *v > 0)
                .collect();
            assert_eq!(totals, sums, "{uri}");
        }
        let (fees, releases): (Option<String>, i64) = sqlx::query_as(
            "SELECT sum(r.fee)::text, count(*) FROM releases r JOIN blocks b ON b.number = r.block_number \
             WHERE ($1::bigint IS NULL OR b.timestamp_ms >= $1) AND ($2::bigint IS NULL OR b.timestamp_ms < $2)",
        )
        .bind(from.map(|f| f as i64))
        .bind(to.map(|t| t as i64))
        .fetch_one(pool)
        .await
        .unwrap();
        let answer = get_json(app, &format!("/v1/treasury/fees?{query}")).await;
        let counted: i64 =
            answer["by_treasury"].as_array().unwrap().iter().map(|t| t["releases"].as_i64().unwrap()).sum();
        assert_eq!(
            (answer["total_fees"].as_str().map(str::to_owned), counted),
            (Some(fees.unwrap_or("0".into())), releases),
            "fees {query}"
        );
    }
}

/// The providers list, the fees of all time and the event count agree with the tables they sum.
async fn totals_agree(app: &axum::Router, db: &indexer::store::Db, pool: &PgPool) {
    let listed = all_pages(app, "/v1/providers", "providers", 2).await;
    let mut listed: Vec<_> = listed
        .iter()
        .map(|p| {
            let text = |k: &str| p[k].as_str().unwrap().to_owned();
            let provider = escrow_client::accounts::account(p["provider"].as_str().unwrap()).unwrap();
            (provider, text("released_net"), text("claimed"), text("slashed"), text("staked"), p["score"].as_i64())
        })
        .collect();
    listed.sort();
    let expected = indexer::store::totals::providers_from_scratch(db).await.unwrap();
    assert_eq!(listed, expected);
    assert!(listed.iter().any(|p| p.3 != "0") && listed.iter().any(|p| p.1 != "0"), "{listed:?}");
    // Of all time from the totals; with a period, summed from the releases.
    let (kept, summed) = (get_json(app, "/v1/treasury/fees").await, get_json(app, "/v1/treasury/fees?from=0").await);
    assert_eq!(kept["by_treasury"], summed["by_treasury"]);
    assert_eq!(kept["total_fees"], summed["total_fees"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await.unwrap();
    assert_eq!(get_json(app, "/v1/status").await["events"], count);
}

/// The timestamp of the middle line.
fn lines_mid(lines: &[Value]) -> u64 {
    lines[lines.len() / 2]["timestamp_ms"].as_u64().unwrap()
}

/// The CSV the statement's JSON `lines` make: the header, then a line for each.
fn expected_csv(lines: &[Value]) -> Result<String, ()> {
    let mut out = String::from("timestamp_ms,block,event_index,job_id,entry,flow,amount\n");
    for l in lines {
        let job = l["job_id"].as_u64().map(|j| j.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{job},{},{},{}\n",
            l["timestamp_ms"],
            l["block"],
            l["event_index"],
            l["entry"].as_str().unwrap(),
            l["flow"].as_str().unwrap(),
            l["amount"].as_str().unwrap()
        ));
    }
    Ok(out)
}
