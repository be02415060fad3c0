//! Crash safety of the real `escrow serve` process: streamed receipts, the gateway killed with SIGKILL
//! mid-stream and mid-settlement, restarted each time. Every receipt that got a 2xx is still stored,
//! and the chain paid each job exactly its highest accepted cumulative amount, once.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{no_open_submissions, open_jobs, paid_exactly, url_of, wait_ready, Gateway};
use escrow_client::account_of;
use gateway::wire::{to_hex, SignedReceiptJson};
use settlement::JobId;
use sqlx::PgPool;
use testkit::*;

#[sqlx::test(migrations = false)]
async fn kill_9_mid_stream_and_mid_settlement_loses_nothing_and_pays_once(pool: PgPool) {
    let (node, chain) = DevNode::start().await.unwrap();
    let m = deploy(&chain).await.unwrap();
    let provider = funded(&chain, "//CrashProvider", 1_000 * UNIT).await.unwrap();
    m.escrow.stake(&provider, m.min_stake).await.unwrap();
    let consumer = funded(&chain, "//CrashConsumer", 10_000 * UNIT).await.unwrap();
    funded(&chain, "//Relayer", 100 * UNIT).await.unwrap();
    let jobs = open_jobs(&m, &consumer, &provider, 3).await;

    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let (db_url, contract) = (url_of(&pool), to_hex(&m.escrow.address()));
    let http = reqwest::Client::new();
    let mut gateway = Gateway::start(&listen, &db_url, &node.url, &contract, &[]);
    wait_ready(&http, &base).await;

    let mut acknowledged: Vec<(i64, JobId, u128, u64)> = Vec::new();
    let mut kills = Vec::new();
    for seq in 1..=45u64 {
        if seq == 15 {
            // Mid-stream.
            kills.push("mid-stream");
            drop(gateway);
            gateway = Gateway::start(&listen, &db_url, &node.url, &contract, &[]);
        }
        if seq == 30 {
            // Mid-settlement: wait until a release is on its way, then kill at once.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let open: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM submissions WHERE status IN ('pending', 'in_block')")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                if open > 0 || Instant::now() > deadline {
                    kills.push(if open > 0 { "mid-settlement" } else { "no open submission seen" });
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            drop(gateway);
            gateway = Gateway::start(&listen, &db_url, &node.url, &contract, &[]);
        }
        for job in &jobs {
            let amount = u128::from(seq) * UNIT;
            let (r, s) = signed_receipt(&m, &payer(9), *job, account_of(&provider), amount, seq);
            let body = SignedReceiptJson::from_signed(&r, &s);
            // While the gateway restarts, requests fail: those receipts were never acknowledged.
            let Ok(resp) = http.post(format!("{base}/v1/receipts")).json(&body).send().await else { continue };
            if resp.status().is_success() {
                let v: serde_json::Value = resp.json().await.unwrap();
                acknowledged.push((v["id"].as_i64().unwrap(), *job, amount, seq));
            }
        }
        if seq == 15 || seq == 30 {
            wait_ready(&http, &base).await;
        }
    }
    assert_eq!(kills, vec!["mid-stream", "mid-settlement"]);
    assert!(acknowledged.len() > 100, "most receipts acknowledged: {}", acknowledged.len());

    // Every acknowledged receipt is stored, as sent.
    for (id, job, amount, seq) in &acknowledged {
        let row: (String, String, String) =
            sqlx::query_as("SELECT job_id::text, amount::text, sequence::text FROM receipts WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(row, (job.to_string(), amount.to_string(), seq.to_string()));
    }

    // The chain converges on exactly the highest acknowledged cumulative of each job, paid once.
    let mut highest: HashMap<JobId, u128> = HashMap::new();
    for (_, job, amount, _) in &acknowledged {
        let h = highest.entry(*job).or_default();
        *h = (*h).max(*amount);
    }
    paid_exactly(&m, account_of(&provider), &highest, Duration::from_secs(90)).await;
    // Every submission was resolved: none is left pending or in block.
    no_open_submissions(&pool, Duration::from_secs(10)).await;
    drop(gateway);
}
