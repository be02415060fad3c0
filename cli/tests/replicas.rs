//! Replicas of the real `escrow serve` on one Postgres, under load: three processes take receipts
//! (clients go round-robin, to the next replica when one does not answer, as a load balancer would),
//! one at a time settles. The settlement leader is SIGKILLed twice while a release of its is in flight,
//! and started again each time. Another replica takes over (the takeover time is printed), no receipt
//! that got a 2xx is lost, every job is paid exactly its highest accepted cumulative amount, and no
//! receipt goes out in two signed submissions.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{no_open_submissions, open_jobs, paid_exactly, url_of, wait_ready, Gateway};
use escrow_client::account_of;
use gateway::wire::{to_hex, SignedReceiptJson};
use settlement::JobId;
use sqlx::PgPool;
use testkit::*;

const REPLICAS: usize = 3;
const JOBS: usize = 6;

/// Whether the replica at `base` says it leads the settlement loop (`gateway_settle_leader 1`).
async fn leads(http: &reqwest::Client, base: &str) -> bool {
    let Ok(resp) = http.get(format!("{base}/metrics")).timeout(Duration::from_secs(1)).send().await else {
        return false;
    };
    resp.text().await.is_ok_and(|text| text.lines().any(|l| l.trim() == "gateway_settle_leader 1"))
}

/// The replicas that say they lead.
async fn leaders(http: &reqwest::Client, bases: &[String]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        if leads(http, base).await {
            out.push(i);
        }
    }
    out
}

/// Waits until a release is in a block but not finalized, so a kill lands mid-settlement, once the
/// extrinsic is surely sent (killed between signing and sending, the next leader rightly sends its
/// receipts again: that extrinsic never reached the node).
async fn a_submission_in_flight(pool: &PgPool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM submissions WHERE status = 'in_block'")
            .fetch_one(pool)
            .await
            .unwrap();
        if open > 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

#[sqlx::test(migrations = false)]
async fn three_replicas_one_settler_the_leader_killed_twice_under_load(pool: PgPool) {
    replicas_under_load(pool, None).await;
}

/// The same with blocks finalized 12 s after they are sealed, as on a live chain: a killed leader's
/// release is then in a block, unfinalized, for seconds, and the next leader must wait for it.
#[sqlx::test(migrations = false)]
async fn three_replicas_the_leader_killed_twice_under_load_with_12_s_finality(pool: PgPool) {
    replicas_under_load(pool, Some(12)).await;
}

/// Three replicas under load, the leader killed twice; `finality`: the node's finalize delay in seconds
/// once the market is set up (`None`: its default, 1 s).
async fn replicas_under_load(pool: PgPool, finality: Option<u32>) {
    let base_dir = std::env::temp_dir().join(format!("replicas-node-{}-{}", std::process::id(), free_port()));
    let (mut node, chain) = DevNode::start_in(&base_dir).await.unwrap();
    let m = deploy(&chain).await.unwrap();
    let provider = funded(&chain, "//ReplicaProvider", 1_000 * UNIT).await.unwrap();
    m.escrow.stake(&provider, m.min_stake).await.unwrap();
    let consumer = funded(&chain, "//ReplicaConsumer", 10_000 * UNIT).await.unwrap();
    funded(&chain, "//Relayer", 100 * UNIT).await.unwrap();
    let jobs = open_jobs(&m, &consumer, &provider, JOBS).await;
    if finality.is_some() {
        // Set up at the default finality, which is quick; then the live chain's.
        node.set_finalize_delay(finality);
        node.restart().await.unwrap();
    }

    let (db_url, contract) = (url_of(&pool), to_hex(&m.escrow.address()));
    let listens: Vec<String> = (0..REPLICAS).map(|_| format!("127.0.0.1:{}", free_port())).collect();
    let bases: Vec<String> = listens.iter().map(|l| format!("http://{l}")).collect();
    let start = |i: usize| Gateway::start(&listens[i], &db_url, &node.url, &contract, &[]);
    let mut replicas: Vec<Gateway> = (0..REPLICAS).map(start).collect();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    for base in &bases {
        wait_ready(&http, base).await;
    }

    // The load: one client per job, each receipt raising the job's lane by one unit, sent round-robin
    // over the replicas and to the next one when a replica does not answer.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<(i64, JobId, u128)>>> = Arc::default();
    let unanswered = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for (c, job) in jobs.iter().copied().enumerate() {
        let (http, bases, stop, acknowledged, unanswered) =
            (http.clone(), bases.clone(), stop.clone(), acknowledged.clone(), unanswered.clone());
        let p = account_of(&provider);
        let receipts: Vec<SignedReceiptJson> = (1..=1_500u64)
            .map(|seq| {
                let (r, s) = signed_receipt(&m, &payer(9), job, p, u128::from(seq) * UNIT / 10, seq);
                SignedReceiptJson::from_signed(&r, &s)
            })
            .collect();
        clients.push(tokio::spawn(async move {
            let mut turn = c;
            let mut last = None;
            for body in receipts {
                // The last receipt sent is sent until a replica acknowledges it, so the highest
                // accepted amount is one a client saw acknowledged.
                let finishing = stop.load(Ordering::Relaxed);
                loop {
                    turn += 1;
                    let base = &bases[turn % bases.len()];
                    match http.post(format!("{base}/v1/receipts")).json(&body).send().await {
                        Ok(resp) if resp.status().is_success() => {
                            let v: serde_json::Value = resp.json().await.unwrap();
                            let amount = body.receipt.amount.parse::<u128>().unwrap();
                            acknowledged.lock().unwrap().push((v["id"].as_i64().unwrap(), job, amount));
                            last = Some(amount);
                            break;
                        }
                        Ok(resp) => panic!("job {job}: {} {}", resp.status(), resp.text().await.unwrap_or_default()),
                        Err(_) => {
                            unanswered.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                if finishing {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            last
        }));
    }

    // The leader, killed twice while a release of its is in flight, and started again each time.
    let mut takeovers = Vec::new();
    for round in 0..2 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let leader = loop {
            let now = leaders(&http, &bases).await;
            assert!(now.len() <= 1, "round {round}: more than one leader: {now:?}");
            if let [one] = now[..] {
                break one;
            }
            assert!(Instant::now() < deadline, "round {round}: no leader");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(a_submission_in_flight(&pool).await, "round {round}: no release in flight to kill");
        replicas[leader].kill();
        let killed_at = Instant::now();
        let others: Vec<String> =
            bases.iter().enumerate().filter(|(i, _)| *i != leader).map(|(_, b)| b.clone()).collect();
        let next = loop {
            if let Some(i) = leaders(&http, &others).await.first() {
                break *i;
            }
            assert!(killed_at.elapsed() < Duration::from_secs(30), "round {round}: nobody took over");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let took = killed_at.elapsed();
        eprintln!(
            "finality {finality:?} s, round {round}: leader {leader} SIGKILLed mid-release; {} took over in {took:?}",
            others[next]
        );
        takeovers.push(took);
        replicas[leader] = start(leader);
        wait_ready(&http, &bases[leader]).await;
        // Let the new leader settle under load for a while before the next kill.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut highest: HashMap<JobId, u128> = HashMap::new();
    for (job, client) in jobs.iter().zip(clients) {
        highest.insert(*job, client.await.unwrap().expect("every client got receipts acknowledged"));
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!(
        "{} receipts acknowledged by {REPLICAS} replicas, {} requests unanswered (a replica killed or restarting), \
         takeovers {takeovers:?}",
        acknowledged.len(),
        unanswered.load(Ordering::Relaxed)
    );
    assert!(takeovers.iter().all(|t| *t < Duration::from_secs(5)), "takeovers {takeovers:?}");

    // Nothing acknowledged is lost: every 2xx is stored as sent, and the highest stored per job is the
    // highest acknowledged.
    for (id, job, amount) in &acknowledged {
        let row: (String, String) = sqlx::query_as("SELECT job_id::text, amount::text FROM receipts WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(row, (job.to_string(), amount.to_string()));
    }
    for (job, amount) in &highest {
        let stored: String = sqlx::query_scalar("SELECT max(amount)::text FROM receipts WHERE job_id = $1::numeric")
            .bind(job.to_string())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, amount.to_string(), "job {job}");
    }

    // Every job is paid exactly its highest accepted cumulative amount, once.
    paid_exactly(&m, account_of(&provider), &highest, Duration::from_secs(120)).await;
    no_open_submissions(&pool, Duration::from_secs(30)).await;

    // No double submission: no receipt went out in two signed extrinsics, and one leader at the end.
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT i.receipt_id FROM submission_items i JOIN submissions s \
         ON s.id = i.submission_id WHERE s.tx_hash IS NOT NULL GROUP BY i.receipt_id HAVING count(*) > 1) t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (submissions, released): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM submissions WHERE tx_hash IS NOT NULL), \
         (SELECT count(*) FROM submission_items WHERE outcome = 'released')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    eprintln!("{submissions} release extrinsics sent, {released} receipts released, {twice} sent twice");
    assert_eq!(twice, 0, "receipts sent in two signed submissions");
    assert_eq!(leaders(&http, &bases).await.len(), 1);
    drop(replicas);
    drop(node);
    let _ = std::fs::remove_dir_all(&base_dir);
}
