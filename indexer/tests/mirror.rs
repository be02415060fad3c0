//! Against a real dev node and real Postgres: every kind of escrow event is mirrored row for row, the
//! auditor routes answer from it, the audit passes, and then catches tampered rows.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use axum::http::StatusCode;
use escrow_client::accounts::ss58;
use escrow_client::{account_of, AccountId};
use indexer::audit::{audit, StoredReceipt};
use indexer::store::Filter;
use indexer::{app, AppState};
use serde_json::Value;
use settlement::{Event, Receipt};
use sqlx::PgPool;
use testkit::activity::every_kind;
use testkit::indexing::*;
use testkit::*;

mod common;

use common::{get, get_json};

fn kind(e: &Event<AccountId>) -> &'static str {
    match e {
        Event::JobOpened { .. } => "jobs",
        Event::JobAccepted { .. } => "acceptances",
        Event::ToppedUp { .. } => "top_ups",
        Event::Allocated { .. } => "allocations",
        Event::ThawStarted { .. } => "thaws",
        Event::Released { .. } => "releases",
        Event::JobCompleted { .. } => "completions",
        Event::Refunded { .. } => "refunds",
        Event::Claimed { .. } => "claims",
        Event::Staked { .. } => "stakes",
        Event::Unbonding { .. } => "unbonds",
        Event::Withdrawn { .. } => "withdrawals",
        Event::DisputeOpened { .. } => "disputes",
        Event::DisputeResolved { .. } => "dispute_resolutions",
        Event::ReputationChanged { .. } => "reputation_changes",
        Event::SettingsAnnounced { .. } => "settings_announcements",
        Event::SettingsChanged { .. } => "settings_changes",
        Event::OwnershipTransferStarted { .. } | Event::OwnershipTransferred { .. } => "ownership_changes",
    }
}

#[sqlx::test(migrations = false)]
async fn generated_activity_is_mirrored_row_for_row_served_and_audited(pool: PgPool) {
    let (node, chain) = DevNode::start().await.unwrap();
    let m = deploy(&chain).await.unwrap();
    let activity = every_kind(&m, "Mirror").await.unwrap();
    let db = db(&pool).await;
    let running = Running::start(config(&node.url, &m), db.clone());
    let head = caught_up(&db, &chain).await;

    // Every event, in chain order, exactly once, decoding to what the client saw.
    let stored = db.events(&Filter::default()).await.unwrap();
    let decoded: Vec<Event<AccountId>> =
        stored.iter().map(|e| escrow_client::events::decode_labelled(&e.kind, &e.data).unwrap()).collect();
    assert_eq!(decoded, activity.events);
    let kinds: std::collections::BTreeSet<&str> = activity.events.iter().map(kind).collect();
    assert_eq!(kinds.len(), indexer::store::typed::TABLES.len(), "the activity covers every typed table");

    // One typed row per event, in the table of its kind.
    for table in indexer::store::typed::TABLES {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&pool).await.unwrap();
        let expected = activity.events.iter().filter(|e| kind(e) == table).count();
        assert_eq!(rows, i64::try_from(expected).unwrap(), "{table}");
    }
    // Every block from 0 to the head, each the child of the one before.
    let blocks = db.blocks(0, head).await.unwrap();
    assert_eq!(blocks.len() as u64, head + 1);
    assert!(blocks.windows(2).all(|w| w[1].parent_hash == w[0].hash && w[1].number == w[0].number + 1));
    // Releases record the treasury their fee went to: the new one after the settings change.
    let treasuries: Vec<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT treasury FROM releases ORDER BY block_number, event_index")
            .fetch_all(&pool)
            .await
            .unwrap();
    let (old, new) = (account_of(&m.treasury).to_vec(), account_of(&activity.new_treasury).to_vec());
    assert_eq!(treasuries, vec![Some(old.clone()), Some(old.clone()), Some(old), Some(new)]);

    // The auditor routes.
    let app = app(AppState { db: db.clone(), metrics: running.metrics.clone() });
    let status = get_json(&app, "/v1/status").await;
    assert_eq!(status["cursor"]["number"], head);
    assert_eq!(status["lag_blocks"], 0);
    assert_eq!(status["events"], activity.events.len());

    let job = activity.job;
    let history = get_json(&app, &format!("/v1/jobs/{job}/history")).await;
    let job_events: Vec<&Event<AccountId>> = activity.events.iter().filter(|e| e.job_id() == Some(job)).collect();
    let listed = history["events"].as_array().unwrap();
    assert_eq!(listed.len(), job_events.len());
    let listed_kinds: Vec<&str> = listed.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(listed_kinds[..5], ["JobOpened", "JobAccepted", "JobAccepted", "ToppedUp", "Released"]);
    assert_eq!(listed[0]["fields"]["consumer"].as_str().unwrap().len(), 48, "accounts are SS58");
    assert_eq!(get(&app, "/v1/jobs/999/history").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/v1/jobs/x/history").await.0, StatusCode::BAD_REQUEST);

    let p1 = account_of(&activity.provider);
    let nets: u128 = activity
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Released { provider, net, .. } if *provider == p1 => Some(*net),
            _ => None,
        })
        .sum();
    let payouts = get_json(&app, &format!("/v1/providers/{}/payouts", ss58(p1))).await;
    assert_eq!(payouts["released_net"], nets.to_string());
    let claimed: u128 = activity
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Claimed { account, amount } if *account == p1 => Some(*amount),
            _ => None,
        })
        .sum();
    assert_eq!(payouts["claimed"], claimed.to_string());
    assert_eq!(payouts["jobs"].as_array().unwrap().len(), 1);
    assert!(payouts["reputation"]["score"].is_number());

    let fees: u128 = activity
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Released { fee, .. } => Some(*fee),
            _ => None,
        })
        .sum();
    let totals = get_json(&app, "/v1/treasury/fees").await;
    assert_eq!(totals["total_fees"], fees.to_string());
    assert_eq!(totals["by_treasury"].as_array().unwrap().len(), 2);
    let none = get_json(&app, "/v1/treasury/fees?to=1").await;
    assert_eq!(none["total_fees"], "0", "a period before the chain holds nothing");

    let statement = get_json(&app, &format!("/v1/accounts/{}/statement", ss58(p1))).await;
    assert_eq!(statement["totals"]["credited"], nets.to_string());
    let (code, csv) = get(&app, &format!("/v1/accounts/0x{}/statement?format=csv", hex::encode(p1))).await;
    assert_eq!(code, StatusCode::OK);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("timestamp_ms,block,event_index,job_id,entry,flow,amount"));
    assert_eq!(lines.filter(|l| l.contains(",release_net,credited,")).count(), 3);
    assert_eq!(get(&app, "/v1/accounts/nobody/statement").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, &format!("/v1/accounts/{}/statement?from=5&to=5", ss58(p1))).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, &format!("/v1/accounts/{}/statement?format=xml", ss58(p1))).await.0, StatusCode::BAD_REQUEST);
    let huge = u64::MAX;
    assert_eq!(get(&app, &format!("/v1/accounts/{}/statement?to={huge}", ss58(p1))).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/v1/treasury/fees?from=9&to=3").await.0, StatusCode::BAD_REQUEST);
    // The dashboard's overview routes, and the page itself.
    let jobs = get_json(&app, "/v1/jobs").await;
    let listed: Vec<&Value> = jobs["jobs"].as_array().unwrap().iter().collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "refunded");
    assert_eq!(listed[0]["held"], "0", "refunded: nothing held");
    let releases = get_json(&app, "/v1/releases?limit=2").await;
    assert_eq!(releases["releases"].as_array().unwrap().len(), 2);
    let newest = &releases["releases"][0];
    assert_eq!(newest["treasury"], ss58(account_of(&activity.new_treasury)), "newest first, with its treasury");
    let amount = |k: &str| newest[k].as_str().unwrap().parse::<u128>().unwrap();
    assert_eq!(amount("net") + amount("fee"), amount("amount"));
    let providers = get_json(&app, "/v1/providers").await;
    assert_eq!(providers["providers"].as_array().unwrap().len(), 3);
    assert_eq!(get(&app, "/v1/jobs?limit=0").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/v1/jobs?limit=x").await.0, StatusCode::BAD_REQUEST);
    let (code, page) = get(&app, "/").await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("<title>compute-escrow"), "{page}");
    // Every script and style the page loads is served, and nothing else is.
    let assets: Vec<&str> = page.split("\"/assets/").skip(1).filter_map(|s| s.split('"').next()).collect();
    assert_eq!(assets.len(), 4, "{assets:?}");
    for name in assets {
        let (code, body) = get(&app, &format!("/assets/{name}")).await;
        assert_eq!(code, StatusCode::OK, "{name}");
        assert!(body.len() > 1_000, "{name}");
    }
    for missing in ["/assets/nope.js", "/assets/..%2Fsrc%2Fapi.rs", "/assets/"] {
        assert_eq!(get(&app, missing).await.0, StatusCode::NOT_FOUND, "{missing}");
    }
    // The OpenAPI document describes every route.
    let doc = get_json(&app, "/openapi.json").await;
    for path in
        ["/v1/status", "/v1/jobs/{id}/history", "/v1/providers/{account}/payouts", "/v1/accounts/{account}/statement"]
            .into_iter()
            .chain([
                "/v1/treasury/fees",
                "/v1/jobs",
                "/v1/releases",
                "/v1/providers",
                "/v1/market/series",
                "/",
                "/assets/{name}",
                "/healthz",
                "/readyz",
                "/metrics",
            ])
    {
        assert!(doc["paths"][path].is_object(), "{path} missing from openapi.json");
    }
    let metrics = get(&app, "/metrics").await.1;
    assert!(metrics.contains(&format!("last_block {head}")), "{metrics}");
    assert!(metrics.contains("chain_height"), "{metrics}");

    // The audit: clean, and receipts behind the releases verify.
    running.stop().await.unwrap();
    let mut report = audit(&db, &m.escrow.address(), None).await.unwrap();
    assert!(report.is_clean(), "{}", report.render());
    assert_eq!(report.blocks, head + 1);
    report.check_against_node(&db, &chain).await.unwrap();
    assert_eq!(report.node_blocks, head + 1);
    assert!(report.is_clean(), "the database matches the node: {}", report.render());
    let key = payer(1);
    let mut receipts = HashMap::new();
    for (provider, amount, sequence) in [(p1, 7 * UNIT + 3, 1), (p1, 12 * UNIT + 11, 2), (p1, 15 * UNIT, 3)] {
        let (receipt, signature) = signed_receipt(&m, &key, job, provider, amount, sequence);
        receipts.insert((job, provider, amount), StoredReceipt { receipt, signature });
    }
    report.check_receipts(&receipts);
    assert_eq!((report.receipts_verified, report.receipts_absent), (3, 1));
    assert!(report.is_clean(), "{}", report.render());
    // A stored receipt (found by the released cumulative amount) that does not match what was
    // released, in units or sequence, or whose signature fails, is reported.
    let (receipt, _) = signed_receipt(&m, &key, job, p1, 7 * UNIT + 3, 1);
    let forged = StoredReceipt { signature: receipt.sign(&payer(2)), receipt: receipt.clone() };
    let mut other_units = receipt.clone();
    other_units.units += 1;
    let mut other_sequence = receipt;
    other_sequence.sequence = 9;
    let mismatched = |r: Receipt<AccountId>| StoredReceipt { signature: r.sign(&key), receipt: r };
    for bad in [forged, mismatched(other_units), mismatched(other_sequence)] {
        let mut report = audit(&db, &m.escrow.address(), None).await.unwrap();
        report.check_receipts(&HashMap::from([((job, p1, 7 * UNIT + 3), bad)]));
        assert!(!report.is_clean());
    }

    // Tampering: a typed row edited, an event's bytes edited, an event deleted. Each is caught.
    let tampers = [
        // The overview's running totals are checked against the events too.
        ("UPDATE account_totals SET claimed = claimed + 1 WHERE provider", "account_totals row of 0x"),
        ("UPDATE treasury_totals SET fees = fees + 1", "treasury_totals row of 0x"),
        // And so are the totals per day a period's totals read.
        ("UPDATE flow_days SET amount = amount + 1 WHERE flow = 'paid_out'", "flow_days row of 0x"),
        ("UPDATE fee_days SET fees = fees + 1", "fee_days row of 0x"),
        // And the dashboard's series and job searches.
        ("UPDATE market_series SET held = held + 1 WHERE width_ms = 3600000", "market_series row 3600000:"),
        ("UPDATE market_series SET releases = releases - 1 WHERE releases > 0", "market_series row"),
        ("DELETE FROM job_providers WHERE job_id = (SELECT min(job_id) FROM job_providers)", "job_providers row"),
        ("UPDATE indexer_state SET events = events + 1", "the event count is"),
        ("UPDATE releases SET net = net + 1, fee = fee - 1 WHERE sequence = 3", "releases row differs"),
        (
            "UPDATE events SET data = overlay(data placing '\\x01'::bytea from 40 for 1) \
             WHERE kind = 'ToppedUp'",
            "escrow events differ from the node's",
        ),
        ("DELETE FROM claims; DELETE FROM events WHERE kind = 'Claimed'", "hash-chain link does not match"),
        (
            "INSERT INTO blocks VALUES (1000000, decode(repeat('ab', 32), 'hex'), decode(repeat('cd', 32), 'hex'), \
             0, 0, decode(repeat('ef', 32), 'hex'))",
            "outside the indexed range",
        ),
    ];
    for (sql, expected) in tampers {
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        let mut report = audit(&db, &m.escrow.address(), None).await.unwrap();
        report.check_against_node(&db, &chain).await.unwrap();
        let rendered = report.render();
        assert!(!report.is_clean() && rendered.contains(expected), "after `{sql}`:\n{rendered}");
    }
}
