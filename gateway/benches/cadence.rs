//! How often the settlement loop goes to the chain: on-chain releases per 1,000 accepted receipts under
//! three policies, for one traffic mix on the real stack (a dev node, Postgres, the gateway served over
//! loopback, the settlement loop of `escrow serve`), and what that makes of the chain's ceiling. Half the
//! lanes are busy (a receipt every 100 ms, each 1/50 of a unit), half quiet (one a second, each 1/2,000
//! of a unit); the threshold is the default (1 unit). Writes benchmarks/settlement.md.
//!
//! Run: `scripts/bench-settle` (starts a private Postgres; the bench starts its own dev node).
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::{Bench, PROVIDERS};
use gateway::settle::{Cadence, Policy, Settler};
use gateway::wire::SignedReceiptJson;
use gateway::{AppState, Config};
use settlement::fee::Split;
use subxt::ext::scale_value::At;
use testkit::*;

/// Jobs; with [`PROVIDERS`] providers each, `JOBS * PROVIDERS` lanes.
const JOBS: usize = 16;
/// Busy lanes: a receipt this often, each raising the lane by this much.
const BUSY: (Duration, u128) = (Duration::from_millis(100), UNIT / 50);
/// Quiet lanes: likewise.
const QUIET: (Duration, u128) = (Duration::from_millis(1_000), UNIT / 2_000);
/// A real chain's block time, for the ceiling.
const BLOCK_SECONDS: f64 = 6.0;
/// A parachain's proof budget per block, in bytes (this solo chain has none).
const PROOF_BUDGET: u64 = 5 * 1024 * 1024;

/// What one policy did over the run.
struct Row {
    name: &'static str,
    accepted: usize,
    extrinsics: i64,
    /// Releases of busy lanes, then of quiet ones.
    releases: (usize, usize),
    pending_at_end: usize,
}

fn relayer() -> escrow_client::Keypair {
    keypair("//BenchRelayer")
}

/// Every lane's receipts for one run, signed before the clock: lane `l` is busy when `l` is even.
fn plan(bench: &Bench, amounts: &mut [u128], sequences: &mut [u64], run: Duration) -> Vec<(Duration, Vec<Vec<u8>>)> {
    let mut plans = Vec::new();
    for (l, (job, provider)) in bench.lanes.iter().enumerate() {
        let (every, step) = if l % 2 == 0 { BUSY } else { QUIET };
        let n = (run.as_millis() / every.as_millis()) as usize;
        let mut bodies = Vec::with_capacity(n);
        for _ in 0..n {
            amounts[l] += step;
            sequences[l] += 1;
            let (r, s) = signed_receipt(&bench.market, &bench.key, *job, *provider, amounts[l], sequences[l]);
            bodies.push(serde_json::to_vec(&SignedReceiptJson::from_signed(&r, &s)).unwrap());
        }
        plans.push((every, bodies));
    }
    plans
}

/// Streams every lane's plan at its pace; returns the receipts accepted.
async fn meter(base: &str, plans: Vec<(Duration, Vec<Vec<u8>>)>) -> usize {
    let http = reqwest::Client::new();
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|(every, bodies)| {
            let (http, url) = (http.clone(), format!("{base}/v1/receipts"));
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                let mut accepted = 0;
                for body in bodies {
                    ticks.tick().await;
                    let resp = http
                        .post(&url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let v: serde_json::Value = resp.json().await.unwrap();
                    assert_eq!(v["status"], "accepted", "{v}");
                    accepted += 1;
                }
                accepted
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.unwrap();
    }
    accepted
}

fn settler(state: &AppState, policy: Policy) -> Settler {
    Settler::new(state.db.clone(), state.escrow.clone(), state.views.clone(), relayer(), policy, state.metrics.clone())
}

/// Releases whatever is left (not counted), so the next policy starts with every lane settled.
async fn flush(state: &AppState, policy: Policy) -> TestResult {
    let eager = settler(state, Policy { threshold: 0, max_age_ms: 0, ..policy });
    while !state.db.pending_lanes().await?.is_empty() {
        eager.tick().await?;
    }
    Ok(())
}

/// The chain's ceiling: the weight (ref_time) of a full `release_many` (64 receipts) and the block's
/// room for normal extrinsics.
async fn ceiling(bench: &Bench, amounts: &[u128], sequences: &[u64]) -> TestResult<(escrow_client::Weight, u64)> {
    let escrow = &bench.market.escrow;
    let items: Vec<_> = bench
        .lanes
        .iter()
        .enumerate()
        .take(escrow_client::MAX_RELEASES_PER_CALL)
        .map(|(l, (job, provider))| {
            signed_receipt(&bench.market, &bench.key, *job, *provider, amounts[l] + 1, sequences[l] + 1)
        })
        .collect();
    let origin = escrow_client::account_of(&relayer());
    let (outcomes, dry) = escrow
        .dry_run::<Vec<core::result::Result<Split, settlement::Error>>>(origin, 0, "release_many", &items)
        .await?;
    assert!(
        outcomes.map_err(|e| format!("{e:?}"))?.iter().all(Result::is_ok),
        "every receipt of the probe would be released"
    );
    let weights =
        escrow.chain().api().constants().at(&subxt::dynamic::constant("System", "BlockWeights"))?.to_value()?;
    let normal = weights.at("per_class").at("normal").at("max_total").at(0).at("ref_time").and_then(|v| v.as_u128());
    let block = weights.at("max_block").at("ref_time").and_then(|v| v.as_u128());
    let room = normal.or(block).ok_or("BlockWeights has no ref_time limit")?;
    Ok((dry.gas_required, u64::try_from(room)?))
}

#[tokio::main]
async fn main() -> TestResult {
    let started = Instant::now();
    let run = Duration::from_secs(std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(45));
    let bench = Bench::setup(JOBS).await?;
    funded(bench.market.escrow.chain(), "//BenchRelayer", 10_000 * UNIT).await?;
    let defaults = Config::default();
    let (base, state, server) = bench.serve(defaults.clone()).await?;
    let db = sqlx::PgPool::connect(bench.db_url()).await?;
    let policies = [
        (
            "every lane at every tick (threshold 0, age 0)",
            Policy { threshold: 0, max_age_ms: 0, ..defaults.settle_policy() },
        ),
        ("threshold 1 unit, age 30 s (the default before)", Policy { max_age_ms: 30_000, ..defaults.settle_policy() }),
        ("the defaults: threshold 1 unit, age 1 h", defaults.settle_policy()),
    ];
    let (mut amounts, mut sequences) = (vec![0u128; bench.lanes.len()], vec![0u64; bench.lanes.len()]);
    let mut rows = Vec::new();
    for (name, policy) in policies {
        let plans = plan(&bench, &mut amounts, &mut sequences, run);
        let before: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM submissions").fetch_one(&db).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let cadence = Cadence {
            interval: Duration::from_millis(defaults.settle_interval_ms),
            tick_timeout: Duration::from_millis(defaults.settle_tick_timeout_ms),
            min_relayer_balance: 0,
        };
        let looping = tokio::spawn(settler(&state, policy).run(cadence, async move {
            let _ = stopped.await;
        }));
        let accepted = meter(&base, plans).await;
        let _ = stop.send(());
        looping.await?;
        let extrinsics: i64 =
            sqlx::query_scalar("SELECT count(*) FROM submissions WHERE id > $1 AND tx_hash IS NOT NULL")
                .bind(before)
                .fetch_one(&db)
                .await?;
        let released: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT r.job_id::text, r.provider FROM submission_items i JOIN receipts r ON r.id = i.receipt_id \
             WHERE i.submission_id > $1 AND i.outcome = 'released'",
        )
        .bind(before)
        .fetch_all(&db)
        .await?;
        let busy = released
            .iter()
            .filter(|(job, provider)| {
                let l = bench.lanes.iter().position(|(j, p)| j.to_string() == *job && p[..] == provider[..]);
                l.expect("a lane of the bench") % 2 == 0
            })
            .count();
        let releases = (busy, released.len() - busy);
        let pending_at_end = state.db.pending_lanes().await?.len();
        eprintln!(
            "{name}: {accepted} accepted, {extrinsics} extrinsics, {releases:?} releases (busy, quiet), {pending_at_end} lanes pending"
        );
        rows.push(Row { name, accepted, extrinsics, releases, pending_at_end });
        flush(&state, policy).await?;
    }
    let (full, room) = ceiling(&bench, &amounts, &sequences).await?;
    let full_release_many = full.ref_time;
    let calls = escrow_client::MAX_RELEASES_PER_CALL as u64;
    server.abort();

    // Blocks may mix extrinsics of any size: what fits is the room over one receipt's share of a full call.
    let per_block = usize::try_from(
        u128::from(room) * escrow_client::MAX_RELEASES_PER_CALL as u128 / u128::from(full_release_many),
    )?;
    let per_second = per_block as f64 / BLOCK_SECONDS;
    let per_block_proof = usize::try_from(PROOF_BUDGET * calls / full.proof_size.max(1))?;
    let per_second_proof = per_block_proof as f64 / BLOCK_SECONDS;
    let lanes = bench.lanes.len();
    let mut md = String::new();
    writeln!(md, "# Settlement cadence\n")?;
    writeln!(
        md,
        "Measured by `scripts/bench-settle`: a `substrate-contracts-node --dev`, a private Postgres 15, the gateway served over\n\
         loopback and its settlement loop (`settle_interval_ms` {}, up to {} extrinsics of {} receipts a tick). {JOBS} jobs of\n\
         {PROVIDERS} providers make {lanes} lanes; half are busy (a receipt every {} ms, each {} of a unit), half quiet (a receipt\n\
         every {} ms, each {} of a unit). Each policy runs {} s on the same lanes, after the previous one's leftovers are\n\
         released (not counted). A release is one lane's newest receipt paid on chain.\n",
        defaults.settle_interval_ms,
        defaults.settle_max_extrinsics,
        defaults.settle_max_batch,
        BUSY.0.as_millis(),
        format_args!("1/{}", UNIT / BUSY.1),
        QUIET.0.as_millis(),
        format_args!("1/{}", UNIT / QUIET.1),
        run.as_secs(),
    )?;
    writeln!(
        md,
        "| policy | accepted receipts | release extrinsics | releases: busy + quiet lanes | releases per 1,000 accepted | lanes still unreleased at the end | per 1,000 with one more release for each of those | receipts/s the chain could settle at that: ref_time / 5 MiB proof |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for row in &rows {
        let per_thousand = (row.releases.0 + row.releases.1) as f64 * 1_000.0 / row.accepted as f64;
        // Each lane still unreleased owes at least one more release: counted, the rate is an upper bound.
        let owed = (row.releases.0 + row.releases.1 + row.pending_at_end) as f64 * 1_000.0 / row.accepted as f64;
        writeln!(
            md,
            "| {} | {} | {} | {} + {} | {per_thousand:.1} | {} | {owed:.1} | {:.0} / {:.0} |",
            row.name,
            row.accepted,
            row.extrinsics,
            row.releases.0,
            row.releases.1,
            row.pending_at_end,
            per_second * 1_000.0 / owed,
            per_second_proof * 1_000.0 / owed,
        )?;
    }
    writeln!(
        md,
        "\nThe chain's ceiling, same run: a full `release_many` ({} receipts) needs {full_release_many} ref_time ({} per\n\
         receipt); a block has {room} for normal extrinsics, so about {per_block} releases fit in a block: {per_second:.0} releases/s\n\
         at {BLOCK_SECONDS} s blocks. Its proof_size is {} bytes ({} per receipt): this solo chain has no proof limit, but\n\
         under a parachain's 5 MiB budget about {per_block_proof} releases fit in a block ({per_second_proof:.0}/s), and that binds\n\
         first. The last column divides both by each policy's releases per receipt, counting one more release for each lane\n\
         still unreleased at the end: the receipts/s all gateways together could settle before the chain, not the gateway,\n\
         is the limit. A lane still unreleased goes out once its amount reaches the threshold, its job completes or nears its\n\
         end, its receipt nears expiry or a thaw is pending. In this {} s window a 30 s age cap costs each quiet lane one\n\
         release on top of the one it owes either way; over a job's whole life it costs one every 30 s.",
        escrow_client::MAX_RELEASES_PER_CALL,
        full_release_many / calls,
        full.proof_size,
        full.proof_size / calls,
        run.as_secs(),
    )?;
    writeln!(
        md,
        "\nRegenerate: `scripts/bench-settle` (about {:.0} min here).",
        started.elapsed().as_secs_f64() / 60.0
    )?;
    print!("{md}");
    if std::env::var_os("BENCH_SECONDS").is_none() {
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../benchmarks/settlement.md"), md)?;
    }
    drop((db, state));
    bench.finish().await?;
    Ok(())
}
