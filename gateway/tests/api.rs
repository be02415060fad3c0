//! The gateway's router in-process (`oneshot`), against a real Postgres (one fresh database per test,
//! from `$DATABASE_URL`) and a real dev node with the escrow deployed.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::Request;
use axum::http::StatusCode;
use common::*;
use escrow_client::{account_of, AccountId, Keypair};
use gateway::store::Store;
use gateway::wire::SignedReceiptJson;
use gateway::{app, AppState, Config};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use settlement::{Domain, OpenJob, Receipt};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use testkit::*;
use tower::ServiceExt;

#[sqlx::test(migrations = "./migrations")]
async fn accepts_commits_and_answers_resends_idempotently(pool: PgPool) {
    let h = harness(pool).await;
    let body = h.json(10 * UNIT, 1);
    let (status, v) = h.post(&body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!((v["status"].as_str(), v["duplicate"].as_bool()), (Some("accepted"), Some(false)));
    let id = v["id"].as_i64().unwrap();

    let (status, again) = h.post(&body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((again["id"].as_i64(), again["duplicate"].as_bool()), (Some(id), Some(true)));
    assert_eq!(h.accepted_set().await.len(), 1, "stored once");

    let (status, stored, _) = h.request("GET", &format!("/v1/receipts/{id}"), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["receipt"], body["receipt"]);
    assert_eq!(stored["signature"], body["signature"]);

    // A later receipt supersedes; the settlement view shows it pending (nothing released yet).
    assert_eq!(h.post(&h.json(30 * UNIT, 2)).await.0, StatusCode::CREATED);
    let (status, s, _) = h.request("GET", &format!("/v1/jobs/{}/settlement", h.job), vec![]).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let lane = &s["providers"][0];
    assert_eq!(lane["accepted"]["amount"], (30 * UNIT).to_string());
    assert_eq!(lane["accepted"]["sequence"], 2);
    assert_eq!(lane["released"]["amount"], "0");
    assert_eq!(lane["pending"], (30 * UNIT).to_string());

    // Once the chain settles it (anyone may release), it is released, not pending.
    let (r, sig) = h.signed(30 * UNIT, 2);
    h.market.escrow.release(&h.consumer, &r, &sig).await.unwrap();
    let (_, s, _) = h.request("GET", &format!("/v1/jobs/{}/settlement", h.job), vec![]).await;
    assert_eq!(s["providers"][0]["released"]["amount"], (30 * UNIT).to_string());
    assert_eq!(s["providers"][0]["pending"], "0");
}

/// The acceptance margin of the bad-input matrix: long enough that a receipt or job set to end half of it
/// from now is neither past it nor clear of it by the time its row is posted, however slow the run.
const MATRIX_MARGIN: u64 = 120_000;

#[sqlx::test(migrations = "./migrations")]
async fn every_bad_input_gets_its_code_and_changes_nothing(pool: PgPool) {
    let h = harness_with(pool, |c| Config { accept_margin_ms: MATRIX_MARGIN, ..c }).await;
    assert_eq!(h.post(&h.json(10 * UNIT, 5)).await.0, StatusCode::CREATED);
    let other_job = {
        let other_provider = funded(h.market.escrow.chain(), "//GwOther", 1_000 * UNIT).await.unwrap();
        h.market.escrow.stake(&other_provider, h.market.min_stake).await.unwrap();
        open(&h.market, &h.consumer, &other_provider, 1).await
    };
    // A job naming the same provider, with the same payer, which the provider has not accepted.
    let unaccepted_job = {
        let req = OpenJob {
            providers: vec![(account_of(&h.provider), DEPOSIT)],
            payer_key: payer(1).verifying_key().to_bytes(),
            terms_hash: [0; 32],
            expires_at: now_ms() + 600_000,
        };
        h.market.escrow.open_job(&h.consumer, DEPOSIT, &req).await.unwrap().value
    };
    // A job of the same provider and payer that ends within the margin (the receipts on it do not expire).
    let ending_job = {
        let req = OpenJob {
            providers: vec![(account_of(&h.provider), DEPOSIT)],
            payer_key: payer(1).verifying_key().to_bytes(),
            terms_hash: [0; 32],
            expires_at: now_ms() + MATRIX_MARGIN / 2,
        };
        let job = h.market.escrow.open_job(&h.consumer, DEPOSIT, &req).await.unwrap().value;
        accept_all(&h.market, job, &[&h.provider]).await.unwrap();
        job
    };
    let resign = |mutate: &dyn Fn(&mut Receipt<AccountId>)| {
        let (mut r, _) = h.signed(20 * UNIT, 6);
        mutate(&mut r);
        serde_json::to_value(SignedReceiptJson::from_signed(&r, &r.sign(&payer(1)))).unwrap()
    };
    let with = |path: &[&str], value: Value| {
        let mut v = h.json(20 * UNIT, 6);
        let mut slot = &mut v;
        for key in path {
            slot = &mut slot[*key];
        }
        *slot = value;
        v
    };
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    let valid = serde_json::to_string(&h.json(20 * UNIT, 6)).unwrap();
    let raw_edit = |text: &str, from: &str, to: &str| {
        assert!(text.contains(from), "{from} in {text}");
        text.replacen(from, to, 1).into_bytes()
    };
    let nested =
        |open: &str, close: &str, depth: usize| format!("{}{}", open.repeat(depth), close.repeat(depth)).into_bytes();
    let raw_cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("malformed JSON", b"{\"receipt\": ".to_vec(), StatusCode::BAD_REQUEST, "malformed_json"),
        ("not an object", b"\"hello\"".to_vec(), StatusCode::BAD_REQUEST, "malformed_json"),
        ("empty batch", b"[]".to_vec(), StatusCode::BAD_REQUEST, "empty_batch"),
        ("oversize body", vec![b' '; 65 * 1024], StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        // Read strictly (`wire::Body::parse`): a receipt naming `amount` twice is neither of them.
        ("amount twice", raw_edit(&valid, "\"amount\":", "\"amount\":\"1\",\"amount\":"), BAD, "duplicate_key"),
        (
            "amount twice, alike",
            raw_edit(&valid, "\"amount\":\"", "\"amount\":\"20\",\"amount\":\""),
            BAD,
            "duplicate_key",
        ),
        (
            "NUL in a hex field",
            raw_edit(&valid, "\"signature\":\"0x", "\"signature\":\"0x\\u0000"),
            BAD,
            "nul_character",
        ),
        ("NUL in a key", raw_edit(&valid, "\"receipt\":", "\"rece\\u0000ipt\":"), BAD, "nul_character"),
        ("NUL in an amount", raw_edit(&valid, "\"amount\":\"", "\"amount\":\"1\\u0000"), BAD, "nul_character"),
        ("NUL in a batch's item", format!("[{valid},{{\"a\\u0000\":1}}]").into_bytes(), BAD, "nul_character"),
        ("raw NUL", raw_edit(&valid, "\"amount\":\"", "\"amount\":\"\0"), BAD, "malformed_json"),
        ("a number past f64", raw_edit(&valid, "\"job_id\":", "\"job_id\":1e400"), BAD, "malformed_json"),
        ("a leading zero", raw_edit(&valid, "\"job_id\":", "\"job_id\":0"), BAD, "malformed_json"),
        ("a plus sign", raw_edit(&valid, "\"job_id\":", "\"job_id\":+"), BAD, "malformed_json"),
        ("30,000 nested arrays", nested("[", "]", 30_000), BAD, "malformed_json"),
        ("10,000 nested objects", nested("{\"a\":", "}", 10_000), BAD, "malformed_json"),
        ("100,000 nested arrays", nested("[", "]", 100_000), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ];
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        ("signature too short", with(&["signature"], json!("0x1234")), StatusCode::BAD_REQUEST, "invalid_field"),
        ("bad hex", with(&["receipt", "provider"], json!("0xZZ")), StatusCode::BAD_REQUEST, "invalid_field"),
        (
            "account too long",
            with(&["receipt", "contract"], json!(format!("0x{}", "00".repeat(33)))),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        ("amount as a number", with(&["receipt", "amount"], json!(5)), StatusCode::BAD_REQUEST, "invalid_field"),
        (
            "amount past u128",
            with(&["receipt", "amount"], json!("340282366920938463463374607431768211456")),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        ("negative amount", with(&["receipt", "amount"], json!("-1")), StatusCode::BAD_REQUEST, "invalid_field"),
        ("amount with a sign", with(&["receipt", "amount"], json!("+1")), StatusCode::BAD_REQUEST, "invalid_field"),
        ("amount as a float", with(&["receipt", "amount"], json!("1.0")), StatusCode::BAD_REQUEST, "invalid_field"),
        (
            "amount with an exponent",
            with(&["receipt", "amount"], json!("1e40")),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        ("amount with a space", with(&["receipt", "amount"], json!(" 1")), StatusCode::BAD_REQUEST, "invalid_field"),
        ("negative job id", with(&["receipt", "job_id"], json!(-1)), StatusCode::BAD_REQUEST, "invalid_field"),
        ("float job id", with(&["receipt", "job_id"], json!(1.0)), StatusCode::BAD_REQUEST, "invalid_field"),
        ("job id past u64", with(&["receipt", "job_id"], json!(1e40)), StatusCode::BAD_REQUEST, "invalid_field"),
        (
            "upper-case 0X",
            with(&["receipt", "provider"], json!(format!("0X{}", "00".repeat(32)))),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        ("unknown field", with(&["receipt", "tip"], json!("1")), StatusCode::BAD_REQUEST, "unknown_field"),
        ("unknown top-level field", with(&["extra"], json!(true)), StatusCode::BAD_REQUEST, "unknown_field"),
        (
            "forged signature",
            with(&["signature"], json!(format!("0x{}", "11".repeat(64)))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_signature",
        ),
        ("other job", resign(&|r| r.job_id = other_job), StatusCode::UNPROCESSABLE_ENTITY, "not_a_provider"),
        ("unknown job", resign(&|r| r.job_id = 4_242), StatusCode::UNPROCESSABLE_ENTITY, "unknown_job"),
        ("job not accepted", resign(&|r| r.job_id = unaccepted_job), StatusCode::UNPROCESSABLE_ENTITY, "not_accepted"),
        (
            "other contract",
            resign(&|r| r.domain = Domain { contract: [9; 32], ..r.domain }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_contract",
        ),
        ("other chain", resign(&|r| r.domain.genesis_hash = [9; 32]), StatusCode::UNPROCESSABLE_ENTITY, "wrong_chain"),
        (
            "lower cumulative",
            resign(&|r| r.amount = 5 * UNIT),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cumulative_not_increasing",
        ),
        // Receipts are ordered by cumulative amount: the accepted amount again is refused whatever the
        // sequence, the accepted one's (a replay with other units) or a higher one.
        (
            "accepted amount, its sequence",
            resign(&|r| (r.amount, r.sequence) = (10 * UNIT, 5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cumulative_not_increasing",
        ),
        (
            "accepted amount, higher sequence",
            resign(&|r| r.amount = 10 * UNIT),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cumulative_not_increasing",
        ),
        (
            "over its allocation",
            resign(&|r| r.amount = DEPOSIT + 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "exceeds_allocation",
        ),
        ("expired", resign(&|r| r.expires_at = now_ms() - 1), StatusCode::UNPROCESSABLE_ENTITY, "receipt_expired"),
        // Valid now, but not by the time a release could land: the gateway's own codes.
        (
            "expires within the margin",
            resign(&|r| r.expires_at = now_ms() + MATRIX_MARGIN / 2),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expires_too_soon",
        ),
        (
            "job ends within the margin",
            resign(&|r| r.job_id = ending_job),
            StatusCode::UNPROCESSABLE_ENTITY,
            "job_ends_too_soon",
        ),
    ];
    let before = h.accepted_set().await;
    let rejected_before = h.rejected_count().await;
    for (what, body, status, code) in raw_cases {
        let (got, v, text) = h.request("POST", "/v1/receipts", body).await;
        assert_eq!((got, v["code"].as_str()), (status, Some(code)), "{what}: {text}");
    }
    let item_cases = cases.len() as i64;
    for (what, body, status, code) in cases {
        let (got, v) = h.post(&body).await;
        assert_eq!((got, v["code"].as_str()), (status, Some(code)), "{what}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: a message");
    }
    assert_eq!(h.accepted_set().await, before, "the accepted set is unchanged");
    assert_eq!(h.rejected_count().await - rejected_before, item_cases, "each refused receipt kept for audit");
    for code in ["expires_too_soon", "job_ends_too_soon"] {
        assert_eq!(h.state.metrics.rejected.with_label_values(&[code]).get(), 1, "{code} counted by its code");
    }

    // Bad routes and ids.
    assert_eq!(h.request("GET", "/v1/receipts/abc", vec![]).await.1["code"], "invalid_id");
    assert_eq!(h.request("GET", "/v1/receipts/999999", vec![]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.request("GET", "/v1/jobs/999/settlement", vec![]).await.0, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_higher_amount_with_a_lower_sequence_is_accepted(pool: PgPool) {
    let h = harness(pool).await;
    assert_eq!(h.post(&h.json(10 * UNIT, 5)).await.0, StatusCode::CREATED);
    // Sequence and units are informational: a higher amount with a lower sequence, or sequence 0 (and
    // 0 units), is accepted and moves the lane.
    assert_eq!(h.post(&h.json(20 * UNIT, 1)).await.0, StatusCode::CREATED);
    assert_eq!(h.post(&h.json(30 * UNIT, 0)).await.0, StatusCode::CREATED);
    let lane: (String, String, String) =
        sqlx::query_as("SELECT amount::text, units::text, sequence::text FROM lanes").fetch_one(&h.pool).await.unwrap();
    assert_eq!(lane, ((30 * UNIT).to_string(), "0".into(), "0".into()));

    // Attack 1 on the chain: the consumer releases 1 planck with the top sequence and units itself. The
    // gateway still takes a higher amount with an ordinary sequence, as the contract will.
    let (mut low, _) = h.signed(1, u64::MAX);
    low.units = u128::MAX;
    let low_sig = low.sign(&payer(1));
    h.market.escrow.release(&h.consumer, &low, &low_sig).await.unwrap();
    assert_eq!(h.post(&h.json(40 * UNIT, 2)).await.0, StatusCode::CREATED);
    // A receipt like the consumer's is stored too, as any with an amount above the lane's would be.
    let (mut top, _) = h.signed(50 * UNIT, u64::MAX);
    top.units = u128::MAX;
    let body = serde_json::to_value(SignedReceiptJson::from_signed(&top, &top.sign(&payer(1)))).unwrap();
    assert_eq!(h.post(&body).await.0, StatusCode::CREATED);
    assert_eq!(h.accepted_set().await.len(), 5);
    let (s, v, _) = h.request("GET", &format!("/v1/jobs/{}/settlement", h.job), vec![]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["providers"][0]["accepted"]["amount"], (50 * UNIT).to_string());
    assert_eq!(v["providers"][0]["released"]["amount"], "1");
    assert_eq!(v["providers"][0]["released"]["sequence"], u64::MAX);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_batch_gets_one_verdict_per_receipt_in_order(pool: PgPool) {
    let h = harness(pool).await;
    let mut forged = h.json(15 * UNIT, 2);
    forged["signature"] = json!(format!("0x{}", "22".repeat(64)));
    let first = h.json(10 * UNIT, 1);
    let batch = json!([first.clone(), forged, {"receipt": 1}, h.json(20 * UNIT, 3), first]);
    let (status, v) = h.post(&batch).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let results = v["results"].as_array().unwrap();
    let summary: Vec<(&str, Option<&str>, Option<bool>)> =
        results.iter().map(|r| (r["status"].as_str().unwrap(), r["code"].as_str(), r["duplicate"].as_bool())).collect();
    assert_eq!(
        summary,
        vec![
            ("accepted", None, Some(false)),
            ("rejected", Some("bad_signature"), None),
            ("rejected", Some("invalid_field"), None),
            ("accepted", None, Some(false)),
            ("accepted", None, Some(true)),
        ]
    );
    assert_eq!(results[0]["id"], results[4]["id"]);
    assert_eq!(h.accepted_set().await.len(), 2);
    // What the audit looks up: stored receipts by (job, provider, cumulative amount); unknown keys are
    // skipped (15 was the forged receipt's, refused).
    let p = account_of(&h.provider);
    let keys = [(h.job, p, 20 * UNIT), (h.job, p, 15 * UNIT), (h.job + 1, p, 10 * UNIT), (h.job, p, 10 * UNIT)];
    let found = h.state.db.receipts_at(&keys).await.unwrap();
    let mut amounts: Vec<(u64, u128)> = found.iter().map(|s| (s.receipt.sequence, s.receipt.amount)).collect();
    amounts.sort_unstable();
    assert_eq!(amounts, vec![(1, 10 * UNIT), (3, 20 * UNIT)]);
    assert!(found.iter().all(|s| s.receipt.verify(&payer(1).verifying_key().to_bytes(), &s.signature)));

    let too_many = Value::Array((0..51u64).map(|i| h.json(UNIT + u128::from(i), i + 10)).collect());
    let (status, v) = h.post(&too_many).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("batch_too_large")));
    assert_eq!(h.accepted_set().await.len(), 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_batch_over_several_jobs_commits_together_and_answers_in_order(pool: PgPool) {
    let h = harness(pool).await;
    let other = open(&h.market, &h.consumer, &h.provider, 2).await;
    let on_other = |amount: u128, sequence: u64| {
        let (r, s) = signed_receipt(&h.market, &payer(2), other, account_of(&h.provider), amount, sequence);
        serde_json::to_value(SignedReceiptJson::from_signed(&r, &s)).unwrap()
    };
    let unknown = {
        let (r, s) = signed_receipt(&h.market, &payer(1), other + 100, account_of(&h.provider), UNIT, 1);
        serde_json::to_value(SignedReceiptJson::from_signed(&r, &s)).unwrap()
    };
    // Interleaved jobs; on the second job a lower cumulative after a higher one is refused.
    let batch = json!([
        on_other(5 * UNIT, 1),
        h.json(10 * UNIT, 1),
        unknown,
        on_other(7 * UNIT, 2),
        h.json(12 * UNIT, 2),
        on_other(6 * UNIT, 3),
    ]);
    let (status, v) = h.post(&batch).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let codes: Vec<&str> =
        v["results"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap_or("accepted")).collect();
    assert_eq!(codes, ["accepted", "accepted", "unknown_job", "accepted", "accepted", "cumulative_not_increasing"]);
    let lanes: Vec<(String, String)> = sqlx::query_as("SELECT job_id::text, amount::text FROM lanes ORDER BY job_id")
        .fetch_all(&h.pool)
        .await
        .unwrap();
    let mut expected = vec![(h.job.to_string(), (12 * UNIT).to_string()), (other.to_string(), (7 * UNIT).to_string())];
    expected.sort();
    assert_eq!(lanes, expected);
    assert_eq!(h.accepted_set().await.len(), 4);

    // Requests naming the same jobs in opposite orders, at once, many times: none deadlocks, and
    // each receipt is stored once.
    let mut sequence = 10;
    for round in 0..5u128 {
        let a = json!([h.json((20 + round) * UNIT, sequence), on_other((20 + round) * UNIT, sequence)]);
        let b = json!([on_other((20 + round) * UNIT, sequence), h.json((20 + round) * UNIT, sequence)]);
        let (x, y) = tokio::join!(h.post(&a), h.post(&b));
        assert_eq!((x.0, y.0), (StatusCode::OK, StatusCode::OK), "{x:?} {y:?}");
        sequence += 1;
    }
    assert_eq!(h.accepted_set().await.len(), 4 + 2 * 5);

    // With one job per transaction, the batch commits job by job and the verdicts keep their places.
    let config = Config { max_jobs_per_transaction: 1, ..(*h.state.config).clone() };
    let one_by_one = app(AppState::new(config, Store::from_pool(h.pool.clone()), h.market.escrow.clone()));
    let batch = json!([on_other(30 * UNIT, 20), h.json(29 * UNIT, 20), h.json(28 * UNIT, 21), on_other(31 * UNIT, 21)]);
    let req = Request::post("/v1/receipts")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&batch).unwrap()))
        .unwrap();
    let resp = one_by_one.oneshot(req).await.unwrap();
    let v: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let codes: Vec<&str> =
        v["results"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap_or("accepted")).collect();
    assert_eq!(codes, ["accepted", "accepted", "cumulative_not_increasing", "accepted"], "{v}");
    assert_eq!(h.accepted_set().await.len(), 4 + 2 * 5 + 3);
}

#[sqlx::test(migrations = "./migrations")]
async fn kept_job_views_follow_every_change_on_chain(pool: PgPool) {
    let h = harness(pool).await;
    let views = |source: &str| h.state.metrics.job_views.with_label_values(&[source]).get();
    assert_eq!(h.post(&h.json(10 * UNIT, 1)).await.0, StatusCode::CREATED);
    let from_node = views("node");
    assert_eq!(h.post(&h.json(20 * UNIT, 2)).await.0, StatusCode::CREATED);
    assert_eq!((views("node"), views("kept")), (from_node, 1), "the second request reads no contract");

    // A top-up to the provider's allocation on chain: the kept view is dropped, and the larger
    // allocation counts at once.
    let over = h.json(150 * UNIT, 3);
    let (status, v) = h.post(&over).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("exceeds_allocation")));
    // Posted at once: if the follower has not read the top-up's block yet, the refusal is judged again
    // as of the node's head, so the answer is the same either way.
    h.market.escrow.top_up(&h.consumer, h.job, 100 * UNIT, Some(account_of(&h.provider))).await.unwrap();
    assert_eq!(h.post(&over).await.0, StatusCode::CREATED, "the top-up is seen");
    assert_eq!(views("node"), from_node + 1, "read again after the job's event");

    // Someone releases a higher receipt on chain directly: a receipt below it would be refused by the
    // contract, so the gateway refuses it too, whatever its sequence; one above it is accepted, whatever
    // its sequence.
    let (ahead, signature) = h.signed(170 * UNIT, 5);
    h.market.escrow.release(&h.consumer, &ahead, &signature).await.unwrap();
    // An acceptance may be judged as of the follower's head, a moment behind (harmless here: the chain
    // already paid more); wait for it to read the release's block to see the refusal.
    h.state.views.caught_up().await.unwrap();
    let (status, v) = h.post(&h.json(165 * UNIT, 6)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cumulative_not_increasing")),
        "{v}"
    );
    assert_eq!(h.post(&h.json(180 * UNIT, 4)).await.0, StatusCode::CREATED);
}

#[sqlx::test(migrations = "./migrations")]
async fn requests_that_need_the_same_job_at_once_share_one_node_read(pool: PgPool) {
    let h = harness(pool).await;
    let reads = || h.state.metrics.job_reads.get();
    // 20 requests for a job no view is kept of, at once: one contract read serves them all.
    let (before, views_before) = (reads(), h.state.metrics.job_views.with_label_values(&["node"]).get());
    let posts: Vec<_> =
        (1..=20u64).map(|i| tokio::spawn(post_with(h.app.clone(), h.json(u128::from(i) * UNIT, i)))).collect();
    for p in posts {
        // Rising amounts in whatever order they commit: accepted, or below one accepted before.
        let (status, v) = p.await.unwrap();
        assert!(status == StatusCode::CREATED || v["code"] == "cumulative_not_increasing", "{status} {v}");
    }
    assert_eq!(reads(), before + 1, "one read");
    assert_eq!(h.state.metrics.job_views.with_label_values(&["node"]).get(), views_before + 20, "for 20 views");
    // Kept from then on.
    assert_eq!(h.post(&h.json(100 * UNIT, 100)).await.0, StatusCode::CREATED);
    assert_eq!(reads(), before + 1);
}

#[sqlx::test(migrations = false)]
async fn the_gateway_plans_each_statement_for_its_parameters(_: PgPoolOptions, options: PgConnectOptions) {
    // A generic plan cached while `receipts` was small kept scanning the whole table as it grew (the
    // load bench slowed with every request); the gateway's connections never cache one.
    let db = gateway::store::Store::connect_with(options, 2).await.unwrap();
    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode").fetch_one(db.pool()).await.unwrap();
    assert_eq!(mode, "force_custom_plan");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_standby_draws_only_on_its_own_allocation_whatever_arrives_at_once(pool: PgPool) {
    let h = harness(pool).await;
    // Attack 2 at the gateway: two providers on one job, the whole deposit allocated to the first. The
    // second's receipt is refused even when both arrive together: it draws only on its own allocation.
    let chain = h.market.escrow.chain().clone();
    let second = funded(&chain, "//GwSecond", 1_000 * UNIT).await.unwrap();
    h.market.escrow.stake(&second, h.market.min_stake).await.unwrap();
    let req = OpenJob {
        providers: vec![(account_of(&h.provider), DEPOSIT), (account_of(&second), 0)],
        payer_key: payer(3).verifying_key().to_bytes(),
        terms_hash: [0; 32],
        expires_at: now_ms() + 600_000,
    };
    let job = h.market.escrow.open_job(&h.consumer, DEPOSIT, &req).await.unwrap().value;
    accept_all(&h.market, job, &[&h.provider, &second]).await.unwrap();
    let body = |who: &Keypair| {
        let (r, s) = signed_receipt(&h.market, &payer(3), job, account_of(who), 60 * UNIT, 1);
        serde_json::to_value(SignedReceiptJson::from_signed(&r, &s)).unwrap()
    };
    let (first_body, second_body) = (body(&h.provider), body(&second));
    let (a, b) = tokio::join!(h.post(&first_body), h.post(&second_body));
    assert_eq!((a.0, b.0), (StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY), "{a:?} {b:?}");
    assert_eq!(b.1["code"], "exceeds_allocation");
}

#[sqlx::test(migrations = "./migrations")]
async fn health_metrics_and_openapi(pool: PgPool) {
    let h = harness(pool).await;
    assert_eq!(h.request("GET", "/healthz", vec![]).await.0, StatusCode::OK);
    let (status, ready, _) = h.request("GET", "/readyz", vec![]).await;
    assert_eq!(
        (status, ready["postgres"].as_bool(), ready["node"].as_bool()),
        (StatusCode::OK, Some(true), Some(true))
    );

    let body = h.json(10 * UNIT, 1);
    h.post(&body).await;
    h.post(&body).await;
    h.post(&h.json(5 * UNIT, 2)).await;
    let (_, _, metrics) = h.request("GET", "/metrics", vec![]).await;
    assert!(metrics.contains("gateway_receipts_accepted_total 1"), "{metrics}");
    assert!(metrics.contains("gateway_receipts_duplicate_total 1"), "{metrics}");
    assert!(metrics.contains("gateway_receipts_rejected_total{code=\"cumulative_not_increasing\"} 1"), "{metrics}");

    let (status, doc, _) = h.request("GET", "/openapi.json", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/receipts",
        "/v1/receipts/{id}",
        "/v1/jobs/{id}/settlement",
        "/v1/jobs/{id}/lanes/{provider}/receipts",
        "/v1/jobs/{id}/lanes/{provider}/commitments",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn concurrent_requests_commit_together_and_each_gets_its_own_answer(pool: PgPool) {
    // One commit worker, held up by the job's lock: while its first commit waits, every other request
    // queues, and the next commit takes them all at once.
    let h = harness_with(pool, |c| Config { commit_workers: 1, ..c }).await;
    let other = open(&h.market, &h.consumer, &h.provider, 2).await;
    let mut holder = h.pool.acquire().await.unwrap();
    let lock = i64::try_from(h.job).unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(lock).execute(&mut *holder).await.unwrap();
    let first = tokio::spawn(post_with(h.app.clone(), h.json(UNIT, 1)));
    let waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";
    while sqlx::query_scalar::<_, i64>(waiting).fetch_one(&h.pool).await.unwrap() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    // 10 requests carry the same receipt of the other job; 30 carry rising amounts on the held job's
    // lane, queued in no set order.
    let (r, s) = signed_receipt(&h.market, &payer(2), other, account_of(&h.provider), 5 * UNIT, 1);
    let same = serde_json::to_value(SignedReceiptJson::from_signed(&r, &s)).unwrap();
    let mut bodies = vec![same; 10];
    bodies.extend((0..30u64).map(|i| h.json(10 * UNIT + u128::from(i), 2 + i)));
    let rest: Vec<_> = bodies.into_iter().map(|b| tokio::spawn(post_with(h.app.clone(), b))).collect();
    while h.state.committer.queued() < rest.len() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(lock).execute(&mut *holder).await.unwrap();
    let first = first.await.unwrap();
    assert_eq!(first.0, StatusCode::CREATED, "{first:?}");
    let mut answers = Vec::new();
    for r in rest {
        answers.push(r.await.unwrap());
    }
    let commits = &h.state.metrics.commit_receipts;
    assert_eq!((commits.get_sample_count(), commits.get_sample_sum()), (2, 41.0), "two commits: 1, then 40");

    // The same receipt: stored once, one 201 and nine 200s naming the same id.
    let same_answers = &answers[..10];
    let created: Vec<_> = same_answers.iter().filter(|a| a.0 == StatusCode::CREATED).collect();
    assert_eq!(created.len(), 1, "{same_answers:?}");
    assert!(same_answers.iter().all(|a| a.0.is_success() && a.1["id"] == created[0].1["id"]), "{same_answers:?}");

    // Rising amounts in whatever order they were queued: each 2xx is committed, each refusal is below an
    // amount accepted before it, and the lane holds the highest, which always passes.
    let mut accepted = 0;
    for a in &answers[10..] {
        match a.0 {
            StatusCode::CREATED => accepted += 1,
            StatusCode::UNPROCESSABLE_ENTITY => assert_eq!(a.1["code"], "cumulative_not_increasing", "{a:?}"),
            other => panic!("{other}: {:?}", a.1),
        }
    }
    assert_eq!(answers[39].0, StatusCode::CREATED);
    assert_eq!(h.accepted_set().await.len(), 2 + accepted, "every 2xx stored, nothing else");
    let lane: String = sqlx::query_scalar("SELECT amount::text FROM lanes WHERE job_id = $1::numeric")
        .bind(h.job.to_string())
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(lane, (10 * UNIT + 29).to_string());
}

async fn post_with(app: axum::Router, body: Value) -> (StatusCode, Value) {
    let req = Request::post("/v1/receipts")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    (status, serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap_or(Value::Null))
}
