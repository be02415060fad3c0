//! The settlement loop against a real dev node and a real Postgres: due lanes of many jobs released in
//! one extrinsic, tracked to finality; nothing paid twice; crash recovery decided by the chain; the
//! relayer's balance, spend and readiness.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::*;
use escrow_client::account_of;
use std::time::Duration;

use gateway::metrics::Metrics;
use gateway::settle::{Cadence, Policy, Settler, Tick};
use sqlx::PgPool;
use testkit::*;

const EAGER: Policy = Policy { threshold: 0, max_age_ms: 0, expiry_margin_ms: 0, max_batch: 100, max_extrinsics: 1 };
const PATIENT: Policy =
    Policy { threshold: u128::MAX, max_age_ms: u64::MAX, expiry_margin_ms: 0, max_batch: 100, max_extrinsics: 1 };

async fn fund_relayer(h: &Harness) {
    funded(h.market.escrow.chain(), "//Relayer", 100 * UNIT).await.unwrap();
}

async fn submissions(h: &Harness) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT s.status, count(i.receipt_id) FROM submissions s LEFT JOIN submission_items i \
         ON i.submission_id = s.id GROUP BY s.id, s.status ORDER BY s.id",
    )
    .fetch_all(&h.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn due_lanes_of_many_jobs_settle_in_one_extrinsic_exactly_once(pool: PgPool) {
    let h = harness(pool).await;
    let settler = h.settler(EAGER);
    let readiness = || async {
        let (status, v, _) = h.request("GET", "/readyz", vec![]).await;
        (status, v["relayer"].as_bool())
    };
    assert_eq!(readiness().await, (StatusCode::OK, None), "no relayer checked yet");
    // Unfunded, the relayer cannot pay: not ready, and the metrics say why.
    let unfunded = settler.check_relayer(UNIT, None).await.unwrap();
    assert_eq!(unfunded, 0);
    assert_eq!(readiness().await, (StatusCode::SERVICE_UNAVAILABLE, Some(false)));
    fund_relayer(&h).await;
    let funded = settler.check_relayer(UNIT, Some(unfunded)).await.unwrap();
    assert_eq!(funded, 100 * UNIT);
    assert_eq!(readiness().await, (StatusCode::OK, Some(true)));
    let second_job = open(&h.market, &h.consumer, &h.provider, 1).await;
    // Several receipts per job; only the newest of each is released.
    for (amount, seq) in [(5 * UNIT, 1), (10 * UNIT, 2)] {
        assert_eq!(h.post(&h.json(amount, seq)).await.0, StatusCode::CREATED);
    }
    let (r, s) = signed_receipt(&h.market, &payer(1), second_job, account_of(&h.provider), 7 * UNIT, 1);
    let body = serde_json::to_value(gateway::wire::SignedReceiptJson::from_signed(&r, &s)).unwrap();
    assert_eq!(h.post(&body).await.0, StatusCode::CREATED);

    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 2, released: 2 });
    assert_eq!(submissions(&h).await, vec![("finalized".to_string(), 2)]);
    // The release's fee shows as the relayer's spend.
    let after = settler.check_relayer(UNIT, Some(funded)).await.unwrap();
    assert!(after < funded);
    assert_eq!(h.state.metrics.relayer_spent.get(), (funded - after) as f64);
    assert_eq!(h.state.metrics.relayer_balance.get(), after as f64);
    let p = account_of(&h.provider);
    assert_eq!(h.market.escrow.lane(h.job, p).await.unwrap().amount, 10 * UNIT);
    assert_eq!(h.market.escrow.lane(second_job, p).await.unwrap().amount, 7 * UNIT);
    assert_eq!(h.market.escrow.balance_of(p).await.unwrap(), settlement::fee::split(17 * UNIT, 500).net);

    // Nothing left to do: the next tick sends nothing.
    assert_eq!(settler.tick().await.unwrap(), Tick::default());
    assert_eq!(submissions(&h).await.len(), 1);
    let (_, view, _) = h.request("GET", &format!("/v1/jobs/{}/settlement", h.job), vec![]).await;
    assert_eq!(view["providers"][0]["pending"], "0");
}

#[sqlx::test(migrations = "./migrations")]
async fn one_tick_sends_several_extrinsics_one_after_another_and_follows_them_together(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    // Five lanes (five jobs), batches of two, at most three extrinsics a tick: 2 + 2 + 1 in one tick.
    let mut jobs = vec![h.job];
    for _ in 0..4 {
        jobs.push(open(&h.market, &h.consumer, &h.provider, 1).await);
    }
    let p = account_of(&h.provider);
    for (i, job) in jobs.iter().enumerate() {
        let (r, s) = signed_receipt(&h.market, &payer(1), *job, p, (i as u128 + 1) * UNIT, 1);
        let body = serde_json::to_value(gateway::wire::SignedReceiptJson::from_signed(&r, &s)).unwrap();
        assert_eq!(h.post(&body).await.0, StatusCode::CREATED);
    }
    let nonce = || async { h.market.escrow.chain().next_index(account_of(&keypair("//Relayer"))).await.unwrap() };
    let before = nonce().await;
    let settler = h.settler(Policy { max_batch: 2, max_extrinsics: 3, ..EAGER });
    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 5, released: 5 });
    assert_eq!(
        submissions(&h).await,
        vec![("finalized".to_string(), 2), ("finalized".to_string(), 2), ("finalized".to_string(), 1)]
    );
    let after = nonce().await;
    assert_eq!(after, before + 3, "three extrinsics, consecutive nonces, none replaced another");
    for (i, job) in jobs.iter().enumerate() {
        assert_eq!(h.market.escrow.lane(*job, p).await.unwrap().amount, (i as u128 + 1) * UNIT);
    }
    assert_eq!(settler.tick().await.unwrap(), Tick::default());
}

#[sqlx::test(migrations = "./migrations")]
async fn a_lane_waits_for_its_policy_and_goes_at_once_when_the_job_completes(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    h.post(&h.json(3 * UNIT, 1)).await;
    let settler = h.settler(PATIENT);
    let views = |source: &str| h.state.metrics.job_views.with_label_values(&[source]).get();
    let (kept, node) = (views("kept"), views("node"));
    assert_eq!(settler.tick().await.unwrap(), Tick::default(), "below threshold, young, job far from its end");
    assert_eq!(h.state.metrics.settle_queue.get(), 1);
    assert_eq!((views("kept"), views("node")), (kept + 1, node), "the tick used the view the request kept");

    // The completion drops the kept view: the next tick sees it and releases at once.
    h.market.escrow.complete(&h.consumer, h.job).await.unwrap();
    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 1, released: 1 });
    assert_eq!(views("node"), node + 1);
    assert_eq!(h.market.escrow.lane(h.job, account_of(&h.provider)).await.unwrap().amount, 3 * UNIT);
}

#[sqlx::test(migrations = "./migrations")]
async fn what_the_chain_already_settled_is_never_sent_again(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    h.post(&h.json(4 * UNIT, 1)).await;
    // Someone else releases the very receipt first (anyone may).
    let (r, s) = h.signed(4 * UNIT, 1);
    h.market.escrow.release(&h.consumer, &r, &s).await.unwrap();
    assert_eq!(h.settler(EAGER).tick().await.unwrap(), Tick::default());
    assert!(submissions(&h).await.is_empty());
    assert_eq!(
        h.market.escrow.balance_of(account_of(&h.provider)).await.unwrap(),
        settlement::fee::split(4 * UNIT, 500).net
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn recovery_lets_the_chain_decide_interrupted_submissions(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    let second_job = open(&h.market, &h.consumer, &h.provider, 1).await;
    let first = h.post(&h.json(6 * UNIT, 1)).await.1["id"].as_i64().unwrap();
    let (r, s) = signed_receipt(&h.market, &payer(1), second_job, account_of(&h.provider), 2 * UNIT, 1);
    let body = serde_json::to_value(gateway::wire::SignedReceiptJson::from_signed(&r, &s)).unwrap();
    let second = h.post(&body).await.1["id"].as_i64().unwrap();
    // A crash left two submissions open: the first had reached the chain, the second had not.
    let (r1, s1) = h.signed(6 * UNIT, 1);
    h.market.escrow.release(&h.consumer, &r1, &s1).await.unwrap();
    for (status, receipt) in [("in_block", first), ("pending", second)] {
        let id: i64 = sqlx::query_scalar("INSERT INTO submissions (status) VALUES ($1) RETURNING id")
            .bind(status)
            .fetch_one(&h.pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO submission_items (submission_id, receipt_id) VALUES ($1, $2)")
            .bind(id)
            .bind(receipt)
            .execute(&h.pool)
            .await
            .unwrap();
    }
    let settler = h.settler(EAGER);
    // Neither was signed by this code (no block it dies from is recorded): both are judged at once.
    assert!(settler.recover().await.unwrap().is_empty());
    assert_eq!(submissions(&h).await, vec![("finalized".to_string(), 1), ("failed".to_string(), 1)]);
    // The next tick sends only what the chain lacks, and each job ends paid exactly its newest receipt.
    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 1, released: 1 });
    let p = account_of(&h.provider);
    assert_eq!(h.market.escrow.lane(h.job, p).await.unwrap().amount, 6 * UNIT);
    assert_eq!(h.market.escrow.lane(second_job, p).await.unwrap().amount, 2 * UNIT);
    assert_eq!(h.market.escrow.job(h.job).await.unwrap().unwrap().released, 6 * UNIT);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_receipt_the_chain_would_refuse_is_not_sent_and_its_lane_waits(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    // Accepted while valid (it outlives the acceptance margin by a little), then left to expire.
    let (mut r, _) = h.signed(8 * UNIT, 1);
    r.expires_at = now_ms() + 8_000;
    let body = serde_json::to_value(gateway::wire::SignedReceiptJson::from_signed(&r, &r.sign(&payer(1)))).unwrap();
    assert_eq!(h.post(&body).await.0, StatusCode::CREATED);
    wait_until(h.market.escrow.chain(), r.expires_at).await.unwrap();

    let settler = h.settler(EAGER);
    assert_eq!(settler.tick().await.unwrap(), Tick::default(), "nothing sent");
    assert!(submissions(&h).await.is_empty());
    let stalled: Option<String> = sqlx::query_scalar("SELECT stalled FROM lanes").fetch_one(&h.pool).await.unwrap();
    assert_eq!(stalled.as_deref(), Some("receipt_expired"));
    assert_eq!(settler.tick().await.unwrap(), Tick::default(), "and not tried again");

    // A newer receipt revives the lane and settles.
    assert_eq!(h.post(&h.json(9 * UNIT, 2)).await.0, StatusCode::CREATED);
    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 1, released: 1 });
    assert_eq!(h.market.escrow.lane(h.job, account_of(&h.provider)).await.unwrap().amount, 9 * UNIT);
}

/// Attack 2 of "Money rules v2" at the gateway, end to end: job [P, Q], the whole deposit allocated to P,
/// Q the consumer's own staked account. The gateway answers 2xx to P's receipt for the whole deposit;
/// the consumer's own release of the deposit to Q is refused (Q draws only on its own allocation); the
/// consumer then thaws P's allocation, and the loop, patient otherwise, releases P's lane at once, before
/// the thaw ends.
#[sqlx::test(migrations = "./migrations")]
async fn attack_2_a_thaw_makes_the_loop_release_the_providers_lane_at_once(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    let chain = h.market.escrow.chain().clone();
    let q = funded(&chain, "//GwAttack2Q", 1_000 * UNIT).await.unwrap();
    h.market.escrow.stake(&q, h.market.min_stake).await.unwrap();
    let (p, q_id) = (account_of(&h.provider), account_of(&q));
    let req = settlement::OpenJob {
        providers: vec![(p, DEPOSIT), (q_id, 0)],
        payer_key: payer(4).verifying_key().to_bytes(),
        terms_hash: [0; 32],
        expires_at: escrow_client::now_ms() + 600_000,
    };
    let job = h.market.escrow.open_job(&h.consumer, DEPOSIT, &req).await.unwrap().value;
    accept_all(&h.market, job, &[&h.provider, &q]).await.unwrap();
    let (r, s) = signed_receipt(&h.market, &payer(4), job, p, DEPOSIT, 1);
    let body = serde_json::to_value(gateway::wire::SignedReceiptJson::from_signed(&r, &s)).unwrap();
    assert_eq!(h.post(&body).await.0, StatusCode::CREATED);

    let (drain, drain_sig) = signed_receipt(&h.market, &payer(4), job, q_id, DEPOSIT, 1);
    let refused = h.market.escrow.release(&h.consumer, &drain, &drain_sig).await;
    assert!(matches!(refused, Err(escrow_client::Error::Escrow(settlement::Error::ExceedsAllocation))), "{refused:?}");
    let settler = h.settler(PATIENT);
    assert_eq!(settler.tick().await.unwrap(), Tick::default(), "not due under the patient policy");

    let thaw = h.market.escrow.thaw(&h.consumer, job, p, DEPOSIT).await.unwrap();
    assert!(thaw.events.iter().any(|e| matches!(e, settlement::Event::ThawStarted { .. })));
    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 1, released: 1 });
    assert_eq!(h.market.escrow.lane(job, p).await.unwrap().amount, DEPOSIT);
    assert_eq!(h.market.escrow.balance_of(q_id).await.unwrap(), 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_refused_newest_receipt_falls_back_to_the_newest_older_one_the_chain_takes(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    let p = account_of(&h.provider);
    // Two receipts accepted against the whole allocation (100); then a thaw of 60 runs its course
    // unreleased (no tick during it), leaving an allocation of 40.
    assert_eq!(h.post(&h.json(40 * UNIT, 1)).await.0, StatusCode::CREATED);
    assert_eq!(h.post(&h.json(90 * UNIT, 2)).await.0, StatusCode::CREATED);
    let thaw = h.market.escrow.thaw(&h.consumer, h.job, p, 60 * UNIT).await.unwrap();
    let ends_at = thaw.event(|e| match e {
        settlement::Event::ThawStarted { ends_at, .. } => Some(*ends_at),
        _ => None,
    });
    let ends_at = ends_at.expect("ThawStarted");
    wait_until(h.market.escrow.chain(), ends_at + 1).await.unwrap();

    // The chain refuses the newest (90, over the allocation): the lane falls back to 40 and is paid that.
    let settler = h.settler(EAGER);
    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 1, released: 1 });
    assert_eq!(h.market.escrow.lane(h.job, p).await.unwrap().amount, 40 * UNIT);
    // Nothing older is left above what was paid: the lane stalls with the refusal's code.
    assert_eq!(settler.tick().await.unwrap(), Tick::default());
    let stalled: Option<String> = sqlx::query_scalar("SELECT stalled FROM lanes").fetch_one(&h.pool).await.unwrap();
    assert_eq!(stalled.as_deref(), Some("exceeds_allocation"));
    assert_eq!(submissions(&h).await, vec![("finalized".to_string(), 1)]);
}

#[sqlx::test(migrations = "./migrations")]
async fn one_replica_settles_at_a_time_and_another_takes_over_when_it_dies(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    let p = account_of(&h.provider);
    // Two replicas' settlement loops on one database, each with its own metrics.
    let replica = |metrics: Metrics| replica(&h, metrics, 100);
    let (m1, m2) = (Metrics::new(), Metrics::new());
    let first = replica(m1.clone());
    until(|| async { m1.settle_leader.get() == 1 }).await;
    let second = replica(m2.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((m1.settle_leader.get(), m2.settle_leader.get()), (1, 0), "one leader");

    assert_eq!(h.post(&h.json(5 * UNIT, 1)).await.0, StatusCode::CREATED);
    until(|| async { h.market.escrow.lane(h.job, p).await.unwrap().amount == 5 * UNIT }).await;
    // Waited for to the end of its bookkeeping (the status is written last).
    until(|| async { submissions(&h).await.iter().all(|(status, _)| status == "finalized") }).await;
    assert_eq!((m1.released.get(), m2.released.get()), (1, 0), "the second replica sent nothing");

    // The leader dies (its task, and with it its session, dropped): the other takes over.
    first.abort();
    let died = std::time::Instant::now();
    until(|| async { m2.settle_leader.get() == 1 }).await;
    println!("takeover after {:?}", died.elapsed());
    assert_eq!(h.post(&h.json(9 * UNIT, 2)).await.0, StatusCode::CREATED);
    until(|| async { h.market.escrow.lane(h.job, p).await.unwrap().amount == 9 * UNIT }).await;
    until(|| async { submissions(&h).await.iter().all(|(status, _)| status == "finalized") }).await;
    // Each receipt went out once, in one submission, and was released.
    assert_eq!(submissions(&h).await, vec![("finalized".to_string(), 1), ("finalized".to_string(), 1)]);
    let outcomes: Vec<Option<String>> =
        sqlx::query_scalar("SELECT outcome FROM submission_items ORDER BY submission_id")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(outcomes, [Some("released".to_string()), Some("released".to_string())]);
    assert_eq!((m1.released.get(), m2.released.get()), (1, 1));
    second.abort();
}

/// A replica's settlement loop on `h`'s database, ticking every `interval_ms`, with `metrics` of its own.
fn replica(h: &Harness, metrics: Metrics, interval_ms: u64) -> tokio::task::JoinHandle<()> {
    let cadence = Cadence {
        interval: Duration::from_millis(interval_ms),
        tick_timeout: Duration::from_secs(60),
        min_relayer_balance: 0,
    };
    running(h, metrics, cadence)
}

/// A settlement loop on `h`'s database at `cadence`, eager, with `metrics` of its own.
fn running(h: &Harness, metrics: Metrics, cadence: Cadence) -> tokio::task::JoinHandle<()> {
    let settler = Settler::new(
        h.state.db.clone(),
        h.state.escrow.clone(),
        h.state.views.clone(),
        keypair("//Relayer"),
        EAGER,
        metrics,
    );
    tokio::spawn(settler.run(cadence, std::future::pending()))
}

/// Polls `check` every 50 ms until it holds (at most 60 s).
async fn until<F: std::future::Future<Output = bool>>(mut check: impl FnMut() -> F) {
    let started = std::time::Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_leader_killed_before_finality_is_not_resent_by_the_next(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    let p = account_of(&h.provider);
    let replica = |metrics: Metrics| replica(&h, metrics, 50);
    let first = replica(Metrics::new());
    assert_eq!(h.post(&h.json(5 * UNIT, 1)).await.0, StatusCode::CREATED);
    // The leader dies once its release is in a block, before finality (the dev node finalizes 1 s later).
    until(|| async { submissions(&h).await.iter().any(|(status, _)| status == "in_block") }).await;
    first.abort();
    let second = Metrics::new();
    let next = replica(second.clone());
    // The next leader waits for that extrinsic (it may still land, and does) instead of sending its
    // receipt again.
    until(|| async { submissions(&h).await.iter().all(|(status, _)| status == "finalized") }).await;
    assert_eq!(h.market.escrow.lane(h.job, p).await.unwrap().amount, 5 * UNIT);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(submissions(&h).await, vec![("finalized".to_string(), 1)], "sent once");
    assert_eq!(second.settle_leader.get(), 1);
    let outcome: Option<String> =
        sqlx::query_scalar("SELECT outcome FROM submission_items").fetch_one(&h.pool).await.unwrap();
    assert_eq!(outcome.as_deref(), Some("released"));
    next.abort();
}

#[sqlx::test(migrations = "./migrations")]
async fn a_tick_cut_short_by_its_timeout_leaves_its_release_to_the_next_ticks_recovery(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    let metrics = Metrics::new();
    // Ticks of at most 600 ms: long enough to send a release, shorter than the dev node's finality
    // (1 s after the block), so the tick that sends it is cut short before it sees it finalized.
    let cadence = Cadence {
        interval: Duration::from_millis(50),
        tick_timeout: Duration::from_millis(600),
        min_relayer_balance: 0,
    };
    let looping = running(&h, metrics.clone(), cadence);
    assert_eq!(h.post(&h.json(5 * UNIT, 1)).await.0, StatusCode::CREATED);
    // On a slow machine a tick may be cut before it sends: that submission, never signed, is failed by
    // the next tick's recovery and its receipt sent again. What was sent is sent once.
    let sent = || async {
        sqlx::query_as::<_, (String,)>("SELECT status FROM submissions WHERE tx_hash IS NOT NULL ORDER BY id")
            .fetch_all(&h.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(status,)| status)
            .collect::<Vec<_>>()
    };
    until(|| async { sent().await == ["finalized"] }).await;
    assert_eq!(h.market.escrow.lane(h.job, account_of(&h.provider)).await.unwrap().amount, 5 * UNIT);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sent().await, ["finalized"], "sent once, never again");
    assert_eq!(
        metrics.release_seconds.get_sample_count(),
        0,
        "no tick followed the release to its finality: the timeout cut it short and a later tick's recovery resolved it"
    );
    let outcome: Option<String> = sqlx::query_scalar(
        "SELECT i.outcome FROM submission_items i JOIN submissions s ON s.id = i.submission_id \
         WHERE s.tx_hash IS NOT NULL",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(outcome.as_deref(), Some("released"));
    looping.abort();
}

#[sqlx::test(migrations = "./migrations")]
async fn a_replica_whose_session_lost_the_lock_sends_nothing(pool: PgPool) {
    let h = harness(pool).await;
    fund_relayer(&h).await;
    assert_eq!(h.post(&h.json(5 * UNIT, 1)).await.0, StatusCode::CREATED);
    let settler = h.settler(EAGER);
    let mut session = None;
    assert!(settler.leading(&mut session).await);
    // Its session ends under it, as when Postgres restarts mid-tick: the lock goes with it, and another
    // replica may lead and recover by now. What this one was about to send is not sent.
    let pid = session.as_ref().and_then(gateway::store::Leadership::fence).unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&h.pool).await.unwrap();
    assert!(matches!(settler.tick().await, Err(gateway::error::Error::NotLeader)));
    let signed: i64 = sqlx::query_scalar("SELECT count(*) FROM submissions WHERE tx_hash IS NOT NULL")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(signed, 0, "nothing signed, so nothing sent");
    assert_eq!(h.market.escrow.lane(h.job, account_of(&h.provider)).await.unwrap().amount, 0);
    // Leading again through a new session, it recovers the unsent submission and releases once.
    assert!(!settler.leading(&mut session).await, "the dead session is noticed");
    assert!(settler.leading(&mut session).await);
    assert_eq!(settler.tick().await.unwrap(), Tick { submitted: 1, released: 1 });
    assert_eq!(
        submissions(&h).await,
        vec![("failed".to_string(), 1), ("finalized".to_string(), 1)],
        "the unsent one failed by recovery, the next released"
    );
}
