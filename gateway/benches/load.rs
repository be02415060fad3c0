//! Bounded loopback load on the gateway: receipts/s accepted (verified and committed to Postgres) at
//! batch sizes 1, 100 and 1,000, with p50/p99 request latency; and, in the same run on the same cores,
//! the raw ed25519 `verify_strict` and batch-verify rates, for the ratio. Writes benchmarks/gateway.md.
//!
//! Run: `scripts/bench-gateway` (starts a private Postgres; the bench starts its own dev node).
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use escrow_client::account_of;
use gateway::wire::SignedReceiptJson;
use gateway::{app, AppState, Config};
use settlement::OpenJob;
use testkit::*;

const CLIENTS: usize = 4;
const JOBS_PER_CLIENT: usize = 5;

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    sorted[(sorted.len() - 1) * percent / 100]
}

/// CPU time (user + system) of the processes on this machine that the run involves: this process (the
/// gateway and the load generator), Postgres (every `postgres` process) and the node.
#[derive(Clone, Copy, Default)]
struct Cpu {
    bench: f64,
    postgres: f64,
    node: f64,
}

/// Seconds of CPU a process has used, from `/proc/<pid>/stat` (utime + stime, in USER_HZ = 1/100 s), and
/// its command name.
fn cpu_of(stat: &std::path::Path) -> Option<(String, f64)> {
    let text = std::fs::read_to_string(stat).ok()?;
    let (head, tail) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = tail.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((comm, ticks as f64 / 100.0))
}

fn cpu_now(node_pid: u32) -> Cpu {
    let mut cpu = Cpu {
        bench: cpu_of("/proc/self/stat".as_ref()).map_or(0.0, |c| c.1),
        node: cpu_of(format!("/proc/{node_pid}/stat").as_ref()).map_or(0.0, |c| c.1),
        postgres: 0.0,
    };
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Some((comm, seconds)) = cpu_of(&entry.path().join("stat")) {
            if comm == "postgres" {
                cpu.postgres += seconds;
            }
        }
    }
    cpu
}

fn raw_rates() -> (f64, f64) {
    let n = 8_192;
    let keys: Vec<SigningKey> = (0..64u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
    let msgs: Vec<Vec<u8>> =
        (0..n).map(|i: usize| format!("compute-escrow/receipt/1 bench {i:0>150}").into_bytes()).collect();
    let sigs: Vec<ed25519_dalek::Signature> = msgs.iter().enumerate().map(|(i, m)| keys[i % 64].sign(m)).collect();
    let vks: Vec<ed25519_dalek::VerifyingKey> = (0..n).map(|i| keys[i % 64].verifying_key()).collect();
    let t = Instant::now();
    for i in 0..n {
        vks[i].verify_strict(&msgs[i], &sigs[i]).unwrap();
    }
    let strict = n as f64 / t.elapsed().as_secs_f64();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let t = Instant::now();
    for chunk in 0..(n / 1024) {
        let r = chunk * 1024..(chunk + 1) * 1024;
        ed25519_dalek::verify_batch(&refs[r.clone()], &sigs[r.clone()], &vks[r]).unwrap();
    }
    let batch = n as f64 / t.elapsed().as_secs_f64();
    (strict, batch)
}

#[tokio::main]
async fn main() -> TestResult {
    let admin_url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL unset: run scripts/bench-gateway")?;
    // The best of three runs of each: what the cores can do when nothing else disturbs them.
    let (raw_strict, raw_batch) =
        (0..3).map(|_| raw_rates()).fold((0.0, 0.0), |(s, b): (f64, f64), (s2, b2)| (s.max(s2), b.max(b2)));

    let (node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let provider = funded(&chain, "//BenchProvider", 1_000 * UNIT).await?;
    m.escrow.stake(&provider, m.min_stake).await?;
    let consumer = funded(&chain, "//BenchConsumer", 1_000_000 * UNIT).await?;
    let key = payer(11);
    let mut jobs = Vec::new();
    for _ in 0..CLIENTS * JOBS_PER_CLIENT {
        let req = OpenJob {
            providers: vec![(account_of(&provider), 10_000 * UNIT)],
            payer_key: key.verifying_key().to_bytes(),
            terms_hash: [0; 32],
            expires_at: now_ms() + 1_800_000,
        };
        let job = m.escrow.open_job(&consumer, 10_000 * UNIT, &req).await?.value;
        accept_all(&m, job, &[&provider]).await?;
        jobs.push(job);
    }

    let admin = sqlx::PgPool::connect(&admin_url).await?;
    let db_name = format!("gateway_bench_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {db_name}")).execute(&admin).await?;
    let (server, _) = admin_url.rsplit_once('/').unwrap();
    let db = gateway::store::Store::connect(&format!("{server}/{db_name}"), 16).await?;
    let config = Config { max_batch: 10_000, max_body_bytes: 64 * 1024 * 1024, ..Config::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(config, db, m.escrow.clone());
    tokio::spawn(state.views.clone().follow());
    state.views.following().await;
    let router = app(state);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    let mut next_seq = vec![1u64; jobs.len()];
    for (batch, requests_per_client) in [(1usize, 250usize), (100, 10), (1_000, 5)] {
        // Pre-sign every receipt: each client streams to its own jobs, cumulative and in order.
        let mut plans: Vec<Vec<Vec<u8>>> = Vec::new();
        for c in 0..CLIENTS {
            let mut bodies = Vec::new();
            for _ in 0..requests_per_client {
                let mut items = Vec::new();
                for i in 0..batch {
                    let j = c * JOBS_PER_CLIENT + i % JOBS_PER_CLIENT;
                    let seq = next_seq[j];
                    next_seq[j] += 1;
                    let (r, s) = signed_receipt(&m, &key, jobs[j], account_of(&provider), u128::from(seq), seq);
                    items.push(serde_json::to_value(SignedReceiptJson::from_signed(&r, &s))?);
                }
                let body = if batch == 1 { items.pop().unwrap() } else { serde_json::Value::Array(items) };
                bodies.push(serde_json::to_vec(&body)?);
            }
            plans.push(bodies);
        }
        let cpu_before = cpu_now(node.pid());
        let started = Instant::now();
        let mut tasks = Vec::new();
        for bodies in plans {
            let (http, url) = (http.clone(), format!("{base}/v1/receipts"));
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut accepted = 0usize;
                for body in bodies {
                    let t = Instant::now();
                    let resp = http
                        .post(&url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body)
                        .timeout(Duration::from_secs(120))
                        .send()
                        .await
                        .unwrap();
                    let v: serde_json::Value = resp.json().await.unwrap();
                    latencies.push(t.elapsed());
                    accepted += match v.get("results") {
                        Some(results) => {
                            results.as_array().unwrap().iter().filter(|r| r["status"] == "accepted").count()
                        }
                        None => usize::from(v["status"] == "accepted"),
                    };
                }
                (latencies, accepted)
            }));
        }
        let mut latencies = Vec::new();
        let mut accepted = 0;
        for t in tasks {
            let (l, a) = t.await?;
            latencies.extend(l);
            accepted += a;
        }
        let elapsed = started.elapsed();
        let cpu_after = cpu_now(node.pid());
        let per_receipt = |f: fn(&Cpu) -> f64| (f(&cpu_after) - f(&cpu_before)) * 1e6 / accepted as f64;
        let cpu = Cpu {
            bench: per_receipt(|c| c.bench),
            postgres: per_receipt(|c| c.postgres),
            node: per_receipt(|c| c.node),
        };
        latencies.sort();
        let total = CLIENTS * requests_per_client * batch;
        assert_eq!(accepted, total, "every receipt accepted");
        rows.push((
            batch,
            total,
            accepted as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 50),
            percentile(&latencies, 99),
            cpu,
        ));
    }
    server.abort();

    let mut md = String::new();
    writeln!(md, "# Gateway figures\n")?;
    writeln!(
        md,
        "Measured by `scripts/bench-gateway` on this machine ({} cores): the gateway's router served over loopback",
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    )?;
    writeln!(md, "TCP in the bench process, {CLIENTS} concurrent clients each streaming to its own {JOBS_PER_CLIENT} jobs (bodies signed and")?;
    writeln!(
        md,
        "serialized before the clock starts), a private Postgres 15 (fsync on) and a `substrate-contracts-node --dev`."
    )?;
    writeln!(md, "\"Accepted\" means parsed, checked (including `verify_strict`) and committed; every receipt sent was accepted.")?;
    writeln!(
        md,
        "CPU per receipt is each process's user + system time over the run, divided by the receipts accepted.\n"
    )?;
    writeln!(
        md,
        "| batch size | receipts | accepted receipts/s | p50 request latency | p99 request latency | CPU µs per receipt: gateway + load generator | Postgres | node |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for (batch, total, rate, p50, p99, cpu) in &rows {
        writeln!(
            md,
            "| {batch} | {total} | {rate:.0} | {:.1} ms | {:.1} ms | {:.0} | {:.0} | {:.0} |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            cpu.bench,
            cpu.postgres,
            cpu.node,
        )?;
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    writeln!(md, "\nRaw ed25519 on one core, same run (best of 3): `verify_strict` {raw_strict:.0}/s ({:.1} µs each), `verify_batch` (1,024 per batch) {raw_batch:.0}/s.", 1e6 / raw_strict)?;
    let best = rows.iter().map(|r| r.2).fold(0.0, f64::max);
    writeln!(md, "Best end-to-end rate / raw batch-verify rate: {:.1} % (target: 60 %).", best * 100.0 / raw_batch)?;
    writeln!(
        md,
        "The gateway accepts only what the contract's `verify_strict` accepts, so signatures alone cap it at {cores} cores x {raw_strict:.0}/s = {:.0}/s = {:.1} % of the raw batch-verify rate, with nothing left for JSON, Postgres or the node.",
        raw_strict * cores as f64,
        raw_strict * cores as f64 * 100.0 / raw_batch
    )?;
    if let Some((batch, _, rate, _, _, cpu)) = rows.iter().max_by(|a, b| a.2.total_cmp(&b.2)) {
        let total = cpu.bench + cpu.postgres + cpu.node;
        writeln!(
            md,
            "At batch size {batch} a receipt costs {total:.0} µs of CPU in all, {:.1} µs of it `verify_strict`: {cores} cores allow at most {:.0}/s at that cost, and {rate:.0}/s was measured.",
            1e6 / raw_strict,
            cores as f64 * 1e6 / total
        )?;
    }
    print!("{md}");
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/../benchmarks/gateway.md");
    std::fs::write(out, md)?;
    sqlx::query(&format!("DROP DATABASE {db_name} WITH (FORCE)")).execute(&admin).await?;
    Ok(())
}
