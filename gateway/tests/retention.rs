//! Receipt retention against a real dev node and a real Postgres: once the chain's finalized release
//! covers a lane's receipts, those it no longer needs are deleted, the lane keeps a commitment a
//! provider can prove its receipts against, and nothing a release, an audit or an open lane needs goes.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use escrow_client::account_of;
use gateway::accept::digest;
use gateway::commitment::{prove, Commitment, Digest};
use gateway::settle::{Policy, Tick};
use gateway::store::{Compacted, Retention};
use sqlx::PgPool;
use testkit::*;

const EAGER: Policy = Policy { threshold: 0, max_age_ms: 0, expiry_margin_ms: 0, max_batch: 100, max_extrinsics: 1 };

fn now(per_lane: usize) -> Retention {
    Retention { keep_for: Duration::ZERO, lanes_per_pass: 10, receipts_per_lane: per_lane }
}

async fn stored_amounts(h: &Harness) -> Vec<u128> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT amount::text FROM receipts ORDER BY amount").fetch_all(&h.pool).await.unwrap();
    rows.iter().map(|a| a.parse().unwrap()).collect()
}

/// Compaction passes until one writes nothing; what they did in all.
async fn compact_all(h: &Harness, retention: &Retention) -> Compacted {
    let mut all = Compacted::default();
    loop {
        let done = h.state.db.compact(retention).await.unwrap();
        if done.commitments == 0 {
            return all;
        }
        all.commitments += done.commitments;
        all.deleted += done.deleted;
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_finalized_release_compacts_its_lane_into_commitments_the_provider_proves_its_receipts_by(pool: PgPool) {
    let h = harness(pool).await;
    funded(h.market.escrow.chain(), "//Relayer", 100 * UNIT).await.unwrap();
    let p = account_of(&h.provider);
    // What the provider holds: every receipt it sent and saw accepted, by amount.
    let mut sent: Vec<(u128, Digest)> = Vec::new();
    for i in 1..=20u64 {
        let (r, s) = h.signed(u128::from(i) * UNIT, i);
        let body = serde_json::to_value(gateway::wire::SignedReceiptJson::from_signed(&r, &s)).unwrap();
        assert_eq!(h.post(&body).await.0, StatusCode::CREATED);
        sent.push((r.amount, digest(&r, &s)));
    }
    // Before any release, nothing is compacted, however old the receipts.
    assert_eq!(compact_all(&h, &now(8)).await, Compacted::default());
    let settler = h.settler(EAGER);
    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 1, released: 1 });
    // Accepted after the release: not covered by it, so kept.
    for i in 21..=23u64 {
        assert_eq!(h.post(&h.json(u128::from(i) * UNIT, i)).await.0, StatusCode::CREATED);
    }
    // A receipt a (failed) submission carried is kept too, as the settlement history's.
    let ten: i64 = sqlx::query_scalar("SELECT id FROM receipts WHERE amount = $1::numeric")
        .bind((10 * UNIT).to_string())
        .fetch_one(&h.pool)
        .await
        .unwrap();
    let failed = h.state.db.record_submission(&[ten]).await.unwrap();
    h.state.db.set_submission_status(failed, "failed", Some("test")).await.unwrap();

    // Within the retention period, anyone can copy the lane's receipts, page by page, whoever sent them:
    // what the provider rebuilds the commitments from below.
    let lane_uri = |what: &str, query: &str| format!("/v1/jobs/{}/lanes/0x{}/{what}{query}", h.job, hex::encode(p));
    let mut copied: Vec<(u128, Digest)> = Vec::new();
    let mut query = "?limit=7".to_string();
    loop {
        let (status, page, _) = h.request("GET", &lane_uri("receipts", &query), vec![]).await;
        assert_eq!(status, StatusCode::OK);
        for item in page["receipts"].as_array().unwrap() {
            let signed = serde_json::json!({ "receipt": item["receipt"], "signature": item["signature"] });
            let (r, s) = gateway::wire::SignedReceiptJson::from_value(&signed).unwrap();
            copied.push((r.amount, digest(&r, &s)));
        }
        match page["next"].as_str() {
            Some(after) => query = format!("?limit=7&after={after}"),
            None => break,
        }
    }
    assert_eq!(&copied[..20], &sent[..], "the copy is what was accepted, in amount order");
    assert_eq!(copied.len(), 23);

    // Passes of at most 8 receipts a lane: (0, 8], (8, 16], (16, 20].
    let done = compact_all(&h, &now(8)).await;
    assert_eq!(done, Compacted { lanes: 0, commitments: 3, deleted: 18, failed: 0 });
    assert_eq!(h.state.metrics.compacted.get(), 0, "the metric counts the task's passes, not direct calls");
    let mut kept = vec![10 * UNIT, 20 * UNIT];
    kept.extend((21..=23).map(|i| i * UNIT));
    assert_eq!(stored_amounts(&h).await, kept, "the released, the submitted and the unsettled are kept");
    // The released receipt is still found by what the audit matches a release with.
    assert_eq!(h.state.db.receipts_at(&[(h.job, p, 20 * UNIT)]).await.unwrap().len(), 1);
    // Another pass finds nothing: what is compacted stays compacted.
    assert_eq!(h.state.db.compact(&now(8)).await.unwrap(), Compacted::default());

    let commitments = h.state.db.commitments(h.job, &p, 0, 100).await.unwrap();
    let ranges: Vec<(u128, u128, u64, u64)> =
        commitments.iter().map(|c| (c.commitment.from, c.commitment.to, c.commitment.leaves, c.deleted)).collect();
    assert_eq!(ranges, vec![(0, 8 * UNIT, 8, 8), (8 * UNIT, 16 * UNIT, 8, 7), (16 * UNIT, 20 * UNIT, 4, 3)]);
    for c in &commitments {
        // The provider rebuilds each root from the receipts it copied in the range...
        let range: Vec<Digest> =
            copied.iter().filter(|(amount, _)| c.commitment.covers(*amount)).map(|(_, d)| *d).collect();
        assert!(c.commitment.matches(&range));
        // ... or proves any one of them with its path.
        for (i, d) in range.iter().enumerate() {
            assert!(c.commitment.verify(&[i], &[*d], &prove(&range, &[i])));
        }
    }
    // A receipt the consumer signed but the gateway never accepted proves nothing.
    let (r, s) = h.signed(5 * UNIT + 1, 99);
    let forged = digest(&r, &s);
    let first: Commitment = commitments[0].commitment;
    let mut claimed: Vec<Digest> = sent[..8].iter().map(|(_, d)| *d).collect();
    assert!(!first.verify(&[4], &[forged], &prove(&claimed, &[4])));
    claimed.insert(5, forged);
    claimed.pop();
    assert!(!first.matches(&claimed));

    // The API serves the commitments in pages, with how far the lane is compacted.
    let uri = |query: &str| lane_uri("commitments", query);
    let (status, page, _) = h.request("GET", &uri("?limit=2"), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["compacted_to"], (20 * UNIT).to_string());
    assert_eq!(page["commitments"].as_array().unwrap().len(), 2);
    assert_eq!(page["commitments"][0]["root"], format!("0x{}", hex::encode(first.root)));
    assert_eq!(page["next"], (16 * UNIT).to_string());
    let (_, rest, _) = h.request("GET", &uri(&format!("?after={}", 16 * UNIT)), vec![]).await;
    assert_eq!(rest["commitments"][0]["to"], (20 * UNIT).to_string());
    assert_eq!((rest["commitments"][0]["leaves"].as_u64(), rest["next"].is_null()), (Some(4), true));
    for bad in ["?limit=0", "?limit=1001", "?after=-1", "?other=1"] {
        assert_eq!(h.request("GET", &uri(bad), vec![]).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    for bad in ["/v1/jobs/x/lanes/0x12/commitments", "/v1/jobs/1/lanes/0x12/receipts"] {
        assert_eq!(h.request("GET", bad, vec![]).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    let stranger = format!("/v1/jobs/{}/lanes/0x{}/commitments", h.job, hex::encode([9u8; 32]));
    assert_eq!(h.request("GET", &stranger, vec![]).await.0, StatusCode::NOT_FOUND);
    let (_, left, _) = h.request("GET", &lane_uri("receipts", ""), vec![]).await;
    let amounts: Vec<&str> =
        left["receipts"].as_array().unwrap().iter().map(|r| r["receipt"]["amount"].as_str().unwrap()).collect();
    assert_eq!(amounts.len(), 5, "after compaction the lane lists what it kept: {amounts:?}");

    // A compacted receipt sent again is refused (its lane has moved past it), and nothing is stored.
    let before = stored_amounts(&h).await;
    let (status, answer) = h.post(&h.json(3 * UNIT, 3)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "cumulative_not_increasing");
    assert_eq!(stored_amounts(&h).await, before);
    let (status, _, _) = h.request("GET", "/v1/receipts/1", vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a compacted receipt is gone");
}

#[sqlx::test(migrations = "./migrations")]
async fn receipts_younger_than_the_retention_period_stay_and_their_lane_is_left_alone_until_then(pool: PgPool) {
    let h = harness(pool).await;
    funded(h.market.escrow.chain(), "//Relayer", 100 * UNIT).await.unwrap();
    for i in 1..=4u64 {
        assert_eq!(h.post(&h.json(u128::from(i) * UNIT, i)).await.0, StatusCode::CREATED);
    }
    let settler = h.settler(EAGER);
    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 1, released: 1 });
    let a_day = Retention { keep_for: Duration::from_secs(86_400), lanes_per_pass: 10, receipts_per_lane: 100 };
    let once = h.state.db.compact(&a_day).await.unwrap();
    assert_eq!(once, Compacted { lanes: 1, ..Compacted::default() });
    let wait: bool = sqlx::query_scalar(
        "SELECT compact_after > now() + interval '23 hours' AND compacted_to = 0 FROM lanes WHERE job_id = $1::numeric",
    )
    .bind(h.job.to_string())
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert!(wait, "the lane waits for its receipts to ripen");
    assert_eq!(h.state.db.compact(&a_day).await.unwrap(), Compacted::default(), "and is not read before");
    assert_eq!(stored_amounts(&h).await.len(), 4);

    // A day later (the clock moved by moving the receipts back), but only for the first two: the range
    // up to the release waits for all of it, so a release makes one commitment, not one per pass.
    let age = |amount: u128| {
        sqlx::query("UPDATE receipts SET accepted_at = accepted_at - interval '25 hours' WHERE amount <= $1::numeric")
            .bind(amount.to_string())
            .execute(&h.pool)
    };
    age(2 * UNIT).await.unwrap();
    sqlx::query("UPDATE lanes SET compact_after = now()").execute(&h.pool).await.unwrap();
    assert_eq!(h.state.db.compact(&a_day).await.unwrap().commitments, 0);
    assert_eq!(stored_amounts(&h).await.len(), 4);

    // A job busy with the intake (its advisory lock held) is left for the next pass.
    age(4 * UNIT).await.unwrap();
    sqlx::query("UPDATE lanes SET compact_after = now()").execute(&h.pool).await.unwrap();
    let mut intake = h.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(h.job as i64).execute(&mut *intake).await.unwrap();
    assert_eq!(h.state.db.compact(&a_day).await.unwrap(), Compacted { lanes: 1, ..Compacted::default() });
    intake.rollback().await.unwrap();

    // The task's pass compacts the ripe range and counts what it deleted.
    let done = gateway::retention::pass(&h.state.db, &h.state.metrics, &a_day).await.unwrap();
    assert_eq!(done, Compacted { lanes: 1, commitments: 1, deleted: 3, failed: 0 });
    assert_eq!(h.state.metrics.compacted.get(), 3);
    assert_eq!(stored_amounts(&h).await, vec![4 * UNIT], "the released receipt stays");
    let c = h.state.db.commitments(h.job, &account_of(&h.provider), 0, 10).await.unwrap();
    assert_eq!((c.len(), c[0].commitment.to, c[0].commitment.leaves), (1, 4 * UNIT, 4));
}
