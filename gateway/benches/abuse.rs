//! The intake under a flood of bad receipts (issue 14): good clients stream single receipts (a provider's
//! meter, each client on its own address and lanes) while attackers send 1,000,000 bad receipts in
//! batches of 10,000, a third each malformed, for unknown jobs, and with bad signatures on real jobs. It
//! measures the good clients' accepted receipts/s against a clean run in the same process, how the bad
//! ones were answered, the node reads they caused and the refusal log's rows and bytes. Once from one
//! address (the per-client limits hold it), once spread over 64 addresses (only the shared bounds hold).
//! Writes benchmarks/abuse.md.
//!
//! Run: `scripts/bench-abuse` (starts a private Postgres; the bench starts its own dev node).
//! `ABUSE_RECEIPTS` and `ABUSE_RATE` (bad receipts offered per second) shrink it for a quick look.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::Bench;
use ed25519_dalek::SigningKey;
use escrow_client::AccountId;
use gateway::wire::SignedReceiptJson;
use gateway::Config;
use serde_json::{json, Value};
use settlement::{Domain, JobId, Receipt};
use testkit::*;

/// Jobs opened (each names every bench provider: 64 lanes).
const JOBS: usize = 16;
/// Good clients, each on its own address and lanes.
const GOOD_CLIENTS: usize = 16;
/// Receipts per bad request.
const BATCH: usize = 10_000;
/// How long the clean run lasts.
const CLEAN: Duration = Duration::from_secs(20);
/// Addresses the spread flood comes from.
const SPREAD: usize = 64;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip).timeout(Duration::from_secs(60)).build().unwrap()
}

/// A receipt signed by the bench's payer key for the escrow's domain.
fn receipt(domain: Domain<AccountId>, key: &SigningKey, job: JobId, provider: AccountId, amount: u128) -> Value {
    let r = Receipt { domain, job_id: job, provider, amount, units: 0, sequence: 1, expires_at: FAR_FUTURE_MS };
    serde_json::to_value(SignedReceiptJson::from_signed(&r, &r.sign(key))).unwrap()
}

/// A receipt-shaped item with a signature that does not verify: refused as unknown (`job` beyond the
/// escrow's jobs) or as a bad signature (a real lane).
fn forged(bench: &Bench, job: JobId, provider: AccountId, amount: u128) -> Value {
    let (r, _) = signed_receipt(&bench.market, &bench.key, job, provider, amount, 1);
    let mut signature = [0x5a; 64];
    signature[..16].copy_from_slice(&amount.to_le_bytes());
    serde_json::to_value(SignedReceiptJson::from_signed(&r, &signature)).unwrap()
}

/// One bad body: a third malformed, a third on 900 unknown jobs, a third with bad signatures on real
/// lanes (a request may name at most 1,000 jobs, and the attacker keeps under it).
fn bad_body(bench: &Bench) -> Vec<u8> {
    let items: Vec<Value> = (0..BATCH)
        .map(|i| match i % 3 {
            0 => json!({ "receipt": { "job_id": i }, "signature": "0x00" }),
            1 => forged(bench, 1_000_000_000 + (i % 900) as u64, bench.lanes[0].1, 1),
            _ => {
                let (job, provider) = bench.lanes[i % bench.lanes.len()];
                forged(bench, job, provider, 1_000_000 + i as u128)
            }
        })
        .collect();
    serde_json::to_vec(&items).unwrap()
}

/// What the good clients did: receipts accepted, and each request's latency.
struct Good {
    accepted: usize,
    refused: usize,
    latencies: Vec<Duration>,
}

/// Streams single receipts from every good client until `stop`; `amounts` is each lane's last amount.
async fn good_clients(bench: &Bench, base: &str, amounts: &mut [u128], stop: Arc<AtomicBool>) -> Good {
    let per_client = bench.lanes.len() / GOOD_CLIENTS;
    let mut tasks = Vec::new();
    for c in 0..GOOD_CLIENTS {
        let lanes: Vec<(usize, JobId, AccountId)> =
            (c * per_client..(c + 1) * per_client).map(|l| (l, bench.lanes[l].0, bench.lanes[l].1)).collect();
        let mut last: Vec<u128> = lanes.iter().map(|(l, _, _)| amounts[*l]).collect();
        let http = client_from(IpAddr::from([127, 0, 1, u8::try_from(c + 1).unwrap()]));
        let domain = Domain {
            genesis_hash: bench.market.escrow.chain().genesis_hash(),
            contract: bench.market.escrow.address(),
        };
        let (url, stop, key) = (format!("{base}/v1/receipts"), stop.clone(), bench.key.clone());
        tasks.push(tokio::spawn(async move {
            let mut good = Good { accepted: 0, refused: 0, latencies: Vec::new() };
            let mut turn = 0;
            while !stop.load(Ordering::Relaxed) {
                let k = turn % lanes.len();
                turn += 1;
                let (_, job, provider) = lanes[k];
                let amount = last[k] + 1;
                let body = receipt(domain, &key, job, provider, amount);
                let t = Instant::now();
                let status = http.post(&url).json(&body).send().await.map(|r| r.status());
                good.latencies.push(t.elapsed());
                if status.is_ok_and(|s| s == reqwest::StatusCode::CREATED) {
                    good.accepted += 1;
                    last[k] = amount;
                } else {
                    good.refused += 1;
                }
            }
            (good, lanes, last)
        }));
    }
    let mut all = Good { accepted: 0, refused: 0, latencies: Vec::new() };
    for task in tasks {
        let (good, lanes, last) = task.await.unwrap();
        all.accepted += good.accepted;
        all.refused += good.refused;
        all.latencies.extend(good.latencies);
        for ((l, _, _), amount) in lanes.into_iter().zip(last) {
            amounts[l] = amount;
        }
    }
    all.latencies.sort();
    all
}

/// How the bad requests were answered: receipts judged one by one (in a 200 answer), and requests
/// turned away whole by status.
#[derive(Default)]
struct Bad {
    sent: usize,
    judged: usize,
    by_status: std::collections::BTreeMap<u16, usize>,
}

/// Sends `total` bad receipts at `rate` a second, from `addresses`.
async fn flood(base: &str, body: Arc<Vec<u8>>, addresses: &[IpAddr], total: usize, rate: usize) -> Bad {
    let clients: Vec<reqwest::Client> = addresses.iter().map(|a| client_from(*a)).collect();
    let requests = total.div_ceil(BATCH);
    let every = Duration::from_secs_f64(BATCH as f64 / rate as f64);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..requests {
        tokio::time::sleep_until((started + every * u32::try_from(i).unwrap()).into()).await;
        let (http, url, body) = (clients[i % clients.len()].clone(), format!("{base}/v1/receipts"), body.clone());
        tasks.push(tokio::spawn(async move {
            let resp = http.post(url).header("content-type", "application/json").body((*body).clone()).send().await;
            match resp {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let judged = resp.json::<Value>().await.ok().and_then(|v| v["results"].as_array().map(Vec::len));
                    (status, judged.unwrap_or(0))
                }
                Err(_) => (0, 0),
            }
        }));
    }
    let mut bad = Bad { sent: requests * BATCH, ..Bad::default() };
    for task in tasks {
        let (status, judged) = task.await.unwrap();
        *bad.by_status.entry(status).or_default() += 1;
        bad.judged += judged;
    }
    bad
}

/// Rows and bytes of the refusal log's tables.
async fn log_size(db: &sqlx::PgPool) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM rejected_receipts), (SELECT count(*) FROM refusal_counts), \
         (pg_total_relation_size('rejected_receipts') + pg_total_relation_size('refusal_counts'))::int8",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

#[tokio::main]
async fn main() -> TestResult {
    let started = Instant::now();
    let total = env_or("ABUSE_RECEIPTS", 1_000_000);
    let rate = env_or("ABUSE_RATE", 50_000);
    let bench = Bench::setup(JOBS).await?;
    let config = Config::default();
    let (base, state, server) = bench.serve(config.clone()).await?;
    let db = sqlx::PgPool::connect(bench.db_url()).await?;
    let body = Arc::new(bad_body(&bench));
    let mut amounts = vec![0u128; bench.lanes.len()];

    // Warm-up: a receipt per lane, so every job view is kept.
    let stop = Arc::new(AtomicBool::new(false));
    let warm = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    good_clients(&bench, &base, &mut amounts, stop).await;
    warm.await?;

    // Clean runs before, between and after the floods: the database grows as the run goes on, so each
    // flood is compared with the clean runs' mean.
    let phases: [(&str, Vec<IpAddr>); 5] = [
        ("clean (no flood)", vec![]),
        ("flood from one address", vec![IpAddr::from([127, 0, 2, 1])]),
        ("clean (no flood)", vec![]),
        (
            "flood spread over 64 addresses",
            (0..SPREAD).map(|i| IpAddr::from([127, 0, 3, u8::try_from(i + 1).unwrap()])).collect(),
        ),
        ("clean (no flood)", vec![]),
    ];
    let mut rows = Vec::new();
    for (name, addresses) in phases {
        let reads = state.metrics.job_reads.get();
        let stop = Arc::new(AtomicBool::new(false));
        let t = Instant::now();
        let (good, bad) = if addresses.is_empty() {
            let timer = {
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(CLEAN).await;
                    stop.store(true, Ordering::Relaxed);
                })
            };
            let good = good_clients(&bench, &base, &mut amounts, stop).await;
            timer.await?;
            (good, Bad::default())
        } else {
            let attack = async {
                let bad = flood(&base, body.clone(), &addresses, total, rate).await;
                stop.store(true, Ordering::Relaxed);
                bad
            };
            let (good, bad) = tokio::join!(good_clients(&bench, &base, &mut amounts, stop.clone()), attack);
            (good, bad)
        };
        let elapsed = t.elapsed().as_secs_f64();
        state.refusals.flush(&state.db).await?;
        state.db.prune_refusals(state.refusals.limits()).await?;
        let (samples, counts, bytes) = log_size(&db).await;
        let good_rate = good.accepted as f64 / elapsed;
        let p99 = good.latencies.get(good.latencies.len().saturating_sub(1) * 99 / 100).copied().unwrap_or_default();
        println!(
            "{name}: {elapsed:.1} s, good {good_rate:.0}/s, p99 {:.1} ms, bad sent {}, judged {}, \
             answers {:?}, job reads {}, log rows {samples}+{counts}, {bytes} bytes",
            p99.as_secs_f64() * 1e3,
            bad.sent,
            bad.judged,
            bad.by_status,
            state.metrics.job_reads.get() - reads
        );
        rows.push((
            name,
            elapsed,
            good,
            good_rate,
            p99,
            bad,
            state.metrics.job_reads.get() - reads,
            samples,
            counts,
            bytes,
        ));
    }
    let cleans: Vec<f64> = rows.iter().filter(|r| r.5.sent == 0).map(|r| r.3).collect();
    let clean_rate = cleans.iter().sum::<f64>() / cleans.len() as f64;

    let mut md = String::new();
    writeln!(md, "# The intake under a flood of bad receipts")?;
    writeln!(md)?;
    writeln!(
        md,
        "Regenerate: `scripts/bench-abuse` ({:.0} s on this machine). Written by `gateway/benches/abuse.rs`.",
        started.elapsed().as_secs_f64()
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "The gateway runs on its default configuration (per-client limits included) over loopback, with a dev \
         node and a private Postgres on the same 2 cores as the load generator. {GOOD_CLIENTS} good clients, each \
         on its own address and 4 lanes, stream single signed receipts in a closed loop. The attackers send {total} \
         bad receipts at {rate}/s in requests of {BATCH}: a third malformed, a third for 900 unknown jobs, a third \
         with random signatures on real lanes. The good rate is compared with the mean of the clean runs of the \
         same process ({clean_rate:.0}/s)."
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| phase | seconds | good accepted/s | % of clean | good p99 ms | good refused | bad sent | bad judged one by \
         one | bad requests by status | job reads from the node | refusal samples kept | refusal count rows | \
         refusal log bytes |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")?;
    for (name, elapsed, good, good_rate, p99, bad, reads, samples, counts, bytes) in &rows {
        let statuses: Vec<String> = bad.by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        writeln!(
            md,
            "| {name} | {elapsed:.1} | {good_rate:.0} | {:.1} | {:.1} | {} | {} | {} | {} | {reads} | {samples} | \
             {counts} | {bytes} |",
            100.0 * good_rate / clean_rate,
            p99.as_secs_f64() * 1e3,
            good.refused,
            bad.sent,
            bad.judged,
            if statuses.is_empty() { "-".into() } else { statuses.join(", ") },
        )?;
    }
    writeln!(md)?;
    writeln!(
        md,
        "Limits in force: {} requests/s, {} receipts/s and {} KiB/s per client (bursts {}, {}, {} KiB), {} \
         requests in flight per client and {} in all, {} bad signatures/s per client (burst {}), new clients \
         sharing {} receipts/s and {} KiB/s, refusal samples {} per code per minute capped at {} rows.",
        config.client_requests_per_second,
        config.client_receipts_per_second,
        config.client_kib_per_second,
        config.client_request_burst,
        config.client_receipt_burst,
        config.client_kib_burst,
        config.client_max_in_flight,
        config.max_in_flight,
        config.client_bad_signatures_per_second,
        config.client_bad_signature_burst,
        config.new_clients_receipts_per_second,
        config.new_clients_kib_per_second,
        config.refusal_samples_per_minute,
        config.refusal_sample_cap,
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "Status 0: the connection closed before an answer was read (a request turned away at admission is \
         answered before its body is read, and the connection is then closed). \"bad judged one by one\" counts \
         the receipts of requests answered 200, each with its own verdict; past a client's bad-signature budget \
         they are refused unverified (`too_many_refusals`). The refusal log columns are after the phase's \
         flush and pruning, cumulative over the run."
    )?;
    if total == 1_000_000 && rate == 50_000 {
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../benchmarks/abuse.md"), &md)?;
    }
    print!("{md}");
    server.abort();
    drop(state);
    bench.finish().await?;
    Ok(())
}
