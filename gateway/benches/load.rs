//! Bounded loopback load on the gateway: receipts/s accepted (verified and committed to Postgres) for
//! single receipts from 4, 64 and 256 concurrent clients (a provider's meter sends one at a time) and for
//! batches of 100 and 1,000, with p50/p99 request latency; and, in the same run on the same cores, the
//! raw ed25519 `verify_strict` and batch-verify rates, for the ratios. Writes benchmarks/gateway.md.
//!
//! Run: `scripts/bench-gateway` (starts a private Postgres; the bench starts its own dev node).
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

mod common;

use common::{Bench, PROVIDERS};
use ed25519_dalek::{Signer, SigningKey};
use gateway::wire::SignedReceiptJson;
use gateway::Config;
use testkit::*;

/// Jobs opened for the run; each names [`PROVIDERS`] providers, so there are `JOBS * PROVIDERS` lanes.
const JOBS: usize = 64;
/// Lanes each client of the batch rows streams to (one receipt each per turn).
const LANES_PER_BATCH_CLIENT: usize = 5;

/// One row: concurrent clients, receipts per request, requests per client. A client streams to lanes
/// of its own (one each for single receipts), so every receipt sent raises its lane and is accepted.
const ROWS: [(usize, usize, usize); 5] = [(4, 1, 250), (64, 1, 40), (256, 1, 40), (4, 100, 10), (4, 1_000, 5)];

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
    let bench_started = Instant::now();
    // The best of five runs of each: what the cores can do when nothing else disturbs them.
    let (raw_strict, raw_batch) =
        (0..5).map(|_| raw_rates()).fold((0.0, 0.0), |(s, b): (f64, f64), (s2, b2)| (s.max(s2), b.max(b2)));

    let bench = Bench::setup(JOBS).await?;
    let (m, key, lanes, node) = (&bench.market, &bench.key, &bench.lanes, &bench.node);
    // The bench measures the gateway's capacity, all its clients on one address: the per-client limits
    // are lifted.
    let config = Config {
        max_batch: 10_000,
        max_body_bytes: 64 * 1024 * 1024,
        client_requests_per_second: 0,
        client_receipts_per_second: 0,
        client_kib_per_second: 0,
        client_bad_signatures_per_second: 0,
        new_clients_receipts_per_second: 0,
        new_clients_kib_per_second: 0,
        client_max_in_flight: u32::MAX,
        ..Config::default()
    };
    let (base, state, server) = bench.serve(config).await?;
    let commits = state.metrics.commit_receipts.clone();
    drop(state);

    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    // Warm-up, before any clock: one receipt per lane, so the gateway runs as it has been running (its
    // job views kept, its connections open).
    for (l, (job, provider)) in lanes.iter().enumerate() {
        let (r, s) = signed_receipt(m, key, *job, *provider, 1, 1);
        let resp =
            http.post(format!("{base}/v1/receipts")).json(&SignedReceiptJson::from_signed(&r, &s)).send().await?;
        assert_eq!(resp.status(), reqwest::StatusCode::CREATED, "warm-up receipt {l}");
    }
    let mut next_seq = vec![2u64; lanes.len()];
    for (clients, batch, requests_per_client) in ROWS {
        // Pre-sign every receipt: each client streams to its own lanes, cumulative and in order.
        let own = if batch == 1 { 1 } else { LANES_PER_BATCH_CLIENT };
        assert!(clients * own <= lanes.len(), "enough lanes for the row");
        let mut plans: Vec<Vec<Vec<u8>>> = Vec::new();
        for c in 0..clients {
            let mut bodies = Vec::new();
            for _ in 0..requests_per_client {
                let mut items = Vec::new();
                for i in 0..batch {
                    let l = c * own + i % own;
                    let seq = next_seq[l];
                    next_seq[l] += 1;
                    let (job, provider) = lanes[l];
                    let (r, s) = signed_receipt(m, key, job, provider, u128::from(seq), seq);
                    items.push(serde_json::to_value(SignedReceiptJson::from_signed(&r, &s))?);
                }
                let body = if batch == 1 { items.pop().unwrap() } else { serde_json::Value::Array(items) };
                bodies.push(serde_json::to_vec(&body)?);
            }
            plans.push(bodies);
        }
        let cpu_before = cpu_now(node.pid());
        let commits_before = (commits.get_sample_count(), commits.get_sample_sum());
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
        let total = clients * requests_per_client * batch;
        assert_eq!(accepted, total, "every receipt accepted");
        let per_commit = (commits.get_sample_sum() - commits_before.1)
            / (commits.get_sample_count() - commits_before.0).max(1) as f64;
        rows.push((
            clients,
            batch,
            total,
            accepted as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 50),
            percentile(&latencies, 99),
            cpu,
            per_commit,
        ));
    }
    // The floor under single receipts: HTTP alone, the same 256 clients asking `GET /healthz`.
    let (floor_rate, floor_cpu) = {
        let cpu_before = cpu_now(node.pid());
        let started = Instant::now();
        let tasks: Vec<_> = (0..256)
            .map(|_| {
                let (http, url) = (http.clone(), format!("{base}/healthz"));
                tokio::spawn(async move {
                    for _ in 0..40 {
                        let resp = http.get(&url).send().await.unwrap();
                        assert!(resp.status().is_success());
                        resp.bytes().await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await?;
        }
        let requests = 256.0 * 40.0;
        let cpu_after = cpu_now(node.pid());
        (requests / started.elapsed().as_secs_f64(), (cpu_after.bench - cpu_before.bench) * 1e6 / requests)
    };
    server.abort();

    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut md = String::new();
    writeln!(md, "# Gateway figures\n")?;
    writeln!(
        md,
        "Measured by `scripts/bench-gateway` on this machine ({cores} cores): the gateway's router served over loopback TCP"
    )?;
    writeln!(md, "in the bench process, a private Postgres 15 (fsync on) and a `substrate-contracts-node --dev`. {JOBS} jobs of {PROVIDERS}")?;
    writeln!(
        md,
        "providers each make {} lanes. Each client streams to lanes of its own: one for single receipts (a provider's",
        JOBS * PROVIDERS
    )?;
    writeln!(md, "meter, one request at a time), {LANES_PER_BATCH_CLIENT} for batches. Bodies are signed and serialized before the clock starts.")?;
    writeln!(md, "\"Accepted\" means parsed, checked (including `verify_strict`) and committed; every receipt sent was accepted.")?;
    writeln!(
        md,
        "CPU per receipt is each process's user + system time over the run, divided by the receipts accepted.\n"
    )?;
    writeln!(
        md,
        "| clients | batch size | receipts | accepted receipts/s | p50 request latency | p99 request latency | receipts per commit | CPU µs per receipt: gateway + load generator | Postgres | node |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for (clients, batch, total, rate, p50, p99, cpu, per_commit) in &rows {
        writeln!(
            md,
            "| {clients} | {batch} | {total} | {rate:.0} | {:.1} ms | {:.1} ms | {per_commit:.0} | {:.0} | {:.0} | {:.0} |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            cpu.bench,
            cpu.postgres,
            cpu.node,
        )?;
    }
    writeln!(
        md,
        "\nHTTP alone, same run: the 256 clients asking `GET /healthz` get {floor_rate:.0} answers/s, the gateway and the load generator spending {floor_cpu:.0} µs per request between them."
    )?;
    writeln!(md, "\nRaw ed25519 on one core, same run (best of 5): `verify_strict` {raw_strict:.0}/s ({:.1} µs each), `verify_batch` (1,024 per batch) {raw_batch:.0}/s.", 1e6 / raw_strict)?;
    let limit = raw_strict * cores as f64;
    writeln!(
        md,
        "The gateway accepts only what the contract's `verify_strict` accepts, so signatures alone cap it at {cores} cores x {raw_strict:.0}/s = {limit:.0}/s, with nothing left for JSON, Postgres or the node."
    )?;
    let row = |clients: usize, batch: usize| rows.iter().find(|r| r.0 == clients && r.1 == batch);
    if let (Some(single), Some(big)) = (row(256, 1), row(4, 1_000)) {
        writeln!(md, "\nTargets, same run:")?;
        writeln!(
            md,
            "- single receipts from 256 clients: {:.0}/s = {:.1} % of the batch-1000 rate (target: at least 50 %), p99 {:.1} ms (target: at most 50 ms);",
            single.3,
            single.3 * 100.0 / big.3,
            single.5.as_secs_f64() * 1e3
        )?;
        writeln!(
            md,
            "- batch-1000: {:.0}/s = {:.1} % of the {cores}-core `verify_strict` limit (target: at least 70 %).",
            big.3,
            big.3 * 100.0 / limit
        )?;
        writeln!(
            md,
            "- batch-1000 with Postgres and the node on machines of their own: the gateway and the load generator spend {:.0} µs per receipt, so {cores} cores would take {:.0}/s = {:.1} % of the limit.",
            big.6.bench,
            cores as f64 * 1e6 / big.6.bench,
            cores as f64 * 1e6 / big.6.bench * 100.0 / limit
        )?;
        let total = big.6.bench + big.6.postgres + big.6.node;
        writeln!(
            md,
            "\nAt batch size 1000 a receipt costs {total:.0} µs of CPU in all, {:.1} µs of it `verify_strict`: {cores} cores allow at most {:.0}/s at that cost.",
            1e6 / raw_strict,
            cores as f64 * 1e6 / total
        )?;
    }
    writeln!(
        md,
        "\nRegenerate: `scripts/bench-gateway` (about {:.0} min here).",
        bench_started.elapsed().as_secs_f64() / 60.0
    )?;
    print!("{md}");
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/../benchmarks/gateway.md");
    std::fs::write(out, md)?;
    bench.finish().await?;
    Ok(())
}
