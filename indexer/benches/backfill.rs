//! The indexer's figures on a real dev node and a private Postgres: contract events/s mirrored during a
//! backfill from block 0 (three runs, each into a fresh database), Postgres's raw COPY rate for the same
//! rows in the same run (the ratio shows how close the indexer is to the database's limit), and the lag
//! behind the finalized head at steady state while transactions keep coming. Writes
//! benchmarks/indexer.md.
//!
//! Run: `scripts/bench-indexer` (starts a private Postgres; the bench starts its own dev node).
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use escrow_client::node::runtime_types::contracts_node_runtime::RuntimeCall;
use escrow_client::node::runtime_types::pallet_contracts::pallet::Call as ContractsCall;
use escrow_client::{account_of, node, Keypair};
use indexer::store::{Db, Filter};
use settlement::OpenJob;
use sqlx::PgPool;
use subxt::utils::{AccountId32, MultiAddress};
use testkit::indexing::*;
use testkit::*;

/// Stake calls per `utility.batch_all` (each ~1e9 ref_time; 800 would exhaust the block limits).
const STAKES_PER_BLOCK: usize = 400;
const STAKE_BLOCKS: usize = 80;
/// Receipts per `release_many` (its most) and such blocks.
const RELEASES_PER_BLOCK: usize = escrow_client::MAX_RELEASES_PER_CALL;
const RELEASE_BLOCKS: usize = 30;
const RUNS: usize = 3;
const STEADY_BLOCKS: usize = 40;

async fn stake_batch(m: &Market, who: &Keypair, n: usize) -> TestResult {
    let data = escrow_bundle()?.call_data("stake", ())?;
    let (_, dry) = m.escrow.dry_run::<()>(account_of(who), 1, "stake", ()).await?;
    let gas = dry.gas_required.with_margin();
    let calls: Vec<RuntimeCall> = (0..n)
        .map(|_| {
            RuntimeCall::Contracts(ContractsCall::call {
                dest: MultiAddress::Id(AccountId32(m.escrow.address())),
                value: 1,
                gas_limit: gas.into(),
                storage_deposit_limit: None,
                data: data.clone(),
            })
        })
        .collect();
    m.escrow.chain().submit(who, &node::tx().utility().batch_all(calls)).await?;
    Ok(())
}

async fn generate(m: &Market) -> TestResult<u64> {
    let chain = m.escrow.chain();
    let staker = funded(chain, "//BenchStaker", 1_000 * UNIT).await?;
    let t = Instant::now();
    for _ in 0..STAKE_BLOCKS {
        stake_batch(m, &staker, STAKES_PER_BLOCK).await?;
    }
    eprintln!("{STAKE_BLOCKS} stake blocks in {:?}", t.elapsed());
    let provider = funded(chain, "//BenchProvider", 1_000 * UNIT).await?;
    m.escrow.stake(&provider, m.min_stake).await?;
    let consumer = funded(chain, "//BenchConsumer", 1_000_000 * UNIT).await?;
    let req = OpenJob {
        providers: vec![(account_of(&provider), 100_000 * UNIT)],
        payer_key: payer(3).verifying_key().to_bytes(),
        terms_hash: [0; 32],
        expires_at: now_ms() + 600_000,
    };
    let job = m.escrow.open_job(&consumer, 100_000 * UNIT, &req).await?.value;
    accept_all(m, job, &[&provider]).await?;
    let key = payer(3);
    let mut sequence = 0u64;
    for _ in 0..RELEASE_BLOCKS {
        let batch: Vec<_> = (0..RELEASES_PER_BLOCK)
            .map(|_| {
                sequence += 1;
                signed_receipt(m, &key, job, account_of(&provider), u128::from(sequence) * 1_000_003, sequence)
            })
            .collect();
        m.escrow.release_many(&provider, &batch).await?;
    }
    Ok(chain.finalized_head().await?.0)
}

async fn fresh(admin: &PgPool, name: &str) -> TestResult<Db> {
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin).await?;
    Ok(Db::connect(&database_url(name), 8).await?)
}

/// COPY (text format) the given rows of `table` into `scratch_table`, an index-free copy of it.
async fn copy_rows(db: &Db, table: &str, rows: &[String]) -> TestResult<Duration> {
    let scratch = format!("scratch_{table}");
    sqlx::query(&format!("DROP TABLE IF EXISTS {scratch}")).execute(db.pool()).await?;
    sqlx::query(&format!("CREATE TABLE {scratch} (LIKE {table})")).execute(db.pool()).await?;
    let body = rows.join("\n") + "\n";
    let started = Instant::now();
    let mut conn = db.pool().acquire().await?;
    let mut copy = conn.copy_in_raw(&format!("COPY {scratch} FROM STDIN")).await?;
    copy.send(body.as_bytes()).await?;
    copy.finish().await?;
    Ok(started.elapsed())
}

async fn text_rows(db: &Db, table: &str) -> TestResult<Vec<String>> {
    let mut conn = db.pool().acquire().await?;
    let mut out = Vec::new();
    let mut stream = conn.copy_out_raw(&format!("COPY {table} TO STDOUT")).await?;
    use futures::StreamExt;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(String::from_utf8(out)?.lines().map(str::to_string).collect())
}

#[tokio::main]
async fn main() -> TestResult {
    let admin_url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL unset: run scripts/bench-indexer")?;
    let admin = PgPool::connect(&admin_url).await?;
    let (node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let t = Instant::now();
    let head = generate(&m).await?;
    eprintln!("generated {head} blocks in {:?}", t.elapsed());

    // Backfill from block 0, three times, each into a fresh database.
    let mut runs = Vec::new();
    let mut events = 0usize;
    for run in 0..RUNS {
        let db = fresh(&admin, &format!("bench_backfill_{run}")).await?;
        let started = Instant::now();
        let running = Running::start(config(&node.url, &m), db.clone());
        caught_up(&db, &chain).await;
        let elapsed = started.elapsed();
        let writing = Duration::from_secs_f64(running.metrics.commit_seconds.get_sample_sum());
        running.stop().await?;
        events = db.events(&Filter::default()).await?.len();
        eprintln!("run {run}: {events} events in {elapsed:?}, {writing:?} of it writing");
        runs.push((elapsed, writing));
    }
    runs.sort();
    let (median, median_writing) = runs[RUNS / 2];
    let rate = events as f64 / median.as_secs_f64();

    // Postgres's raw COPY of the same rows (every events row and typed row) into index-free tables.
    let db = Db::connect(&database_url("bench_backfill_0"), 8).await?;
    let mut tables = vec!["blocks", "events"];
    tables.extend(indexer::store::typed::TABLES);
    let mut copy_time = Duration::ZERO;
    let mut rows = 0usize;
    for table in tables {
        let lines = text_rows(&db, table).await?;
        if lines.is_empty() {
            continue;
        }
        rows += lines.len();
        copy_time += copy_rows(&db, table, &lines).await?;
    }
    let copy_rate = events as f64 / copy_time.as_secs_f64();

    // Steady state: one transaction per block while the indexer follows; sample head - cursor.
    let db = fresh(&admin, "bench_steady").await?;
    let running = Running::start(config(&node.url, &m), db.clone());
    caught_up(&db, &chain).await;
    let staker = funded(&chain, "//BenchSteady", 1_000 * UNIT).await?;
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (db, chain, sampling) = (db.clone(), chain.clone(), sampling.clone());
        tokio::spawn(async move {
            let mut lags = Vec::new();
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                let head = chain.finalized_head().await.map(|h| h.0).unwrap_or_default();
                let cursor = db.state().await.ok().flatten().and_then(|s| s.cursor).map_or(0, |c| c.number);
                lags.push(head.saturating_sub(cursor));
                tokio::time::sleep(Duration::from_millis(20)).await;
                if lags.len() > 1_000_000 {
                    break;
                }
            }
            lags
        })
    };
    let mut latencies = Vec::new();
    for _ in 0..STEADY_BLOCKS {
        m.escrow.stake(&staker, UNIT).await?;
        let (finalized, _) = chain.finalized_head().await?;
        let seen = Instant::now();
        while db.state().await?.and_then(|s| s.cursor).map_or(0, |c| c.number) < finalized {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(seen.elapsed());
    }
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let lags = sampler.await?;
    running.stop().await?;
    latencies.sort();
    let mut lag_sorted = lags.clone();
    lag_sorted.sort_unstable();
    let max_lag = lag_sorted.last().copied().unwrap_or(0);
    let p99_lag = lag_sorted.get(lag_sorted.len().saturating_sub(1) * 99 / 100).copied().unwrap_or(0);
    let pct = |p: usize| latencies[(latencies.len() - 1) * p / 100];

    let mut md = String::new();
    writeln!(md, "# Indexer figures\n")?;
    writeln!(md, "Measured by `scripts/bench-indexer` on this machine (2 cores, shared by the node, Postgres 15")?;
    writeln!(md, "with fsync on, and the indexer): a `substrate-contracts-node --dev --state-pruning archive` with")?;
    writeln!(
        md,
        "{head} blocks holding {events} escrow events: {STAKE_BLOCKS} blocks of {STAKES_PER_BLOCK} `stake` calls"
    )?;
    writeln!(md, "(one `utility.batch_all` each) and {RELEASE_BLOCKS} blocks of one `release_many` with {RELEASES_PER_BLOCK} receipts")?;
    writeln!(md, "(a `Released` and a `ReputationChanged` per receipt). Default settings: 16 blocks fetched at")?;
    writeln!(md, "once, batches of up to 256 blocks or 20,000 events per transaction.\n")?;
    writeln!(md, "## Backfill from block 0\n")?;
    writeln!(md, "| run | time | of which writing to Postgres | events/s |\n|---:|---:|---:|---:|")?;
    for (i, (r, w)) in runs.iter().enumerate() {
        writeln!(
            md,
            "| {} | {:.2} s | {:.2} s | {:.0} |",
            i + 1,
            r.as_secs_f64(),
            w.as_secs_f64(),
            events as f64 / r.as_secs_f64()
        )?;
    }
    writeln!(md, "\nMedian: **{rate:.0} contract events/s** mirrored (fetched from the node, decoded, linked into")?;
    writeln!(md, "the hash chain, written to the events and typed tables with the cursor), aim: 20,000/s.")?;
    writeln!(
        md,
        "Writing alone (the median run's transactions): {:.0} events/s.\n",
        events as f64 / median_writing.as_secs_f64()
    )?;
    writeln!(md, "Postgres's raw `COPY` of the same {rows} rows (blocks, events, typed tables) into index-free")?;
    writeln!(
        md,
        "tables, same run: {:.2} s, i.e. {copy_rate:.0} events/s. Indexer / raw COPY: {:.1} %.\n",
        copy_time.as_secs_f64(),
        rate * 100.0 / copy_rate
    )?;
    writeln!(md, "The indexer writes with `COPY` too, but into the indexed tables (primary keys, the GIN index on")?;
    writeln!(md, "each event's accounts, the job and provider indexes) and inside one transaction per batch with")?;
    writeln!(md, "its cursor; and the same 2 cores also run the node serving the blocks.\n")?;
    writeln!(md, "## Steady state\n")?;
    writeln!(md, "{STEADY_BLOCKS} blocks, one `stake` each, while the indexer follows the finalized head; the lag")?;
    writeln!(md, "(finalized head - cursor) sampled every 20 ms ({} samples):\n", lags.len())?;
    writeln!(md, "| lag p99 | lag max | indexed after the submitter saw finality: p50 | p99 |\n|---:|---:|---:|---:|")?;
    writeln!(
        md,
        "| {p99_lag} blocks | {max_lag} blocks | {:.1} ms | {:.1} ms |",
        pct(50).as_secs_f64() * 1e3,
        pct(99).as_secs_f64() * 1e3
    )?;
    writeln!(md, "\nAim: at most 1 block behind the finalized head.")?;
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/../benchmarks/indexer.md");
    std::fs::write(out, &md)?;
    print!("{md}");
    for run in 0..RUNS {
        sqlx::query(&format!("DROP DATABASE IF EXISTS bench_backfill_{run} WITH (FORCE)")).execute(&admin).await?;
    }
    sqlx::query("DROP DATABASE IF EXISTS bench_steady WITH (FORCE)").execute(&admin).await?;
    Ok(())
}
