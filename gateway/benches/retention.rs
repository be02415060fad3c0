//! Receipt retention (issue 14): 1,000,000 receipts over 1,000 lanes, released on chain four times a lane
//! (at its 250th, 500th, 750th and 990th receipt, each release a finalized submission of 64 lanes) and
//! compacted after each release as the settlement loop does. It prints, and writes to
//! benchmarks/retention.md, the rows and bytes of the gateway's receipt tables before and after, then a
//! second million (the same lanes going on) to show that, once vacuumed, the tables reuse the space
//! compaction freed rather than grow.
//!
//! The receipts are signed (ed25519, one payer key) and written as the intake writes them; the releases
//! are recorded as the settlement loop records finalized ones (`mark_settled`, submissions and their
//! items), without a node: what is measured is storage and the compaction's own work.
//!
//! Run: `scripts/bench-retention` (starts a private Postgres). `RETENTION_LANES` and
//! `RETENTION_PER_LANE` shrink it for a quick look.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use escrow_client::AccountId;
use gateway::accept::digest;
use gateway::store::{Compacted, Retention, Store};
use settlement::{Domain, JobId, Receipt};
use sqlx::{PgPool, Row};

/// The tables measured, as `pg_total_relation_size` counts them (indexes and TOAST included).
const TABLES: [&str; 5] = ["receipts", "lanes", "lane_commitments", "submissions", "submission_items"];
/// Receipts written per statement.
const CHUNK: usize = 10_000;
/// Lanes released per submission (the contract takes at most 64 per call).
const PER_SUBMISSION: usize = 64;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Lane `l`: job `l / 8 + 1`, provider `l % 8`.
fn lane(l: usize) -> (JobId, AccountId) {
    let mut provider = [0u8; 32];
    provider[..8].copy_from_slice(&(l as u64 % 8).to_le_bytes());
    provider[31] = 0xee;
    ((l / 8 + 1) as JobId, provider)
}

/// Each table's rows and bytes.
async fn sizes(pool: &PgPool) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for table in TABLES {
        let row = sqlx::query(&format!(
            "SELECT (SELECT count(*) FROM {table}) AS n, pg_total_relation_size('{table}') AS bytes"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        out.push((row.get("n"), row.get("bytes")));
    }
    out
}

/// Writes receipts `first..=last` of every lane (amount = index × 1,000), as the intake does, and moves
/// each lane to its newest.
async fn accept(pool: &PgPool, lanes: usize, first: u64, last: u64) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let domain = Domain { genesis_hash: [1; 32], contract: [2; 32] };
    let mut batch: Vec<(Receipt<AccountId>, [u8; 64])> = Vec::with_capacity(CHUNK);
    let flush = |batch: Vec<(Receipt<AccountId>, [u8; 64])>| async move {
        let col = |f: &dyn Fn(&Receipt<AccountId>) -> String| batch.iter().map(|(r, _)| f(r)).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO receipts (job_id, provider, amount, units, sequence, expires_at, genesis_hash, contract, \
             signature, digest) SELECT j::numeric, p, a::numeric, u::numeric, s::numeric, e::numeric, g, c, sig, d \
             FROM UNNEST($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], \
             $8::bytea[], $9::bytea[], $10::bytea[]) AS t(j, p, a, u, s, e, g, c, sig, d)",
        )
        .bind(col(&|r| r.job_id.to_string()))
        .bind(batch.iter().map(|(r, _)| r.provider.to_vec()).collect::<Vec<_>>())
        .bind(col(&|r| r.amount.to_string()))
        .bind(col(&|r| r.units.to_string()))
        .bind(col(&|r| r.sequence.to_string()))
        .bind(col(&|r| r.expires_at.to_string()))
        .bind(batch.iter().map(|(r, _)| r.domain.genesis_hash.to_vec()).collect::<Vec<_>>())
        .bind(batch.iter().map(|(r, _)| r.domain.contract.to_vec()).collect::<Vec<_>>())
        .bind(batch.iter().map(|(_, s)| s.to_vec()).collect::<Vec<_>>())
        .bind(batch.iter().map(|(r, s)| digest(r, s).to_vec()).collect::<Vec<_>>())
        .execute(pool)
        .await
        .unwrap();
    };
    for i in first..=last {
        for l in 0..lanes {
            let (job_id, provider) = lane(l);
            let r = Receipt {
                domain,
                job_id,
                provider,
                amount: u128::from(i) * 1_000,
                units: u128::from(i),
                sequence: i,
                expires_at: testkit::FAR_FUTURE_MS,
            };
            let s = r.sign(&key);
            batch.push((r, s));
            if batch.len() == CHUNK {
                flush(std::mem::replace(&mut batch, Vec::with_capacity(CHUNK))).await;
            }
        }
    }
    if !batch.is_empty() {
        flush(batch).await;
    }
    sqlx::query(
        "INSERT INTO lanes (job_id, provider, receipt_id, amount, units, sequence, unsettled_since) \
         SELECT DISTINCT ON (job_id, provider) job_id, provider, id, amount, units, sequence, now() FROM receipts \
         ORDER BY job_id, provider, amount DESC \
         ON CONFLICT (job_id, provider) DO UPDATE SET receipt_id = EXCLUDED.receipt_id, amount = EXCLUDED.amount, \
         units = EXCLUDED.units, sequence = EXCLUDED.sequence",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// Records every lane released at receipt `at`, finalized, in submissions of [`PER_SUBMISSION`] lanes, as
/// the settlement loop does after finality.
async fn release(store: &Store, pool: &PgPool, lanes: usize, at: u64) {
    let amount = u128::from(at) * 1_000;
    let ids: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT id, job_id::text, provider FROM receipts WHERE amount = $1::numeric ORDER BY job_id, provider",
    )
    .bind(amount.to_string())
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(ids.len(), lanes);
    for chunk in ids.chunks(PER_SUBMISSION) {
        let receipt_ids: Vec<i64> = chunk.iter().map(|c| c.0).collect();
        let id = store.record_submission(&receipt_ids).await.unwrap();
        for (receipt_id, job_id, provider) in chunk {
            store.set_item_outcome(id, *receipt_id, "released").await.unwrap();
            let provider: AccountId = provider.as_slice().try_into().unwrap();
            store.mark_settled(job_id.parse().unwrap(), &provider, amount, at).await.unwrap();
        }
        store.set_submission_status(id, "finalized", None).await.unwrap();
    }
}

/// Compaction passes (as the loop runs them) until one writes nothing.
async fn compact(store: &Store, retention: &Retention) -> (Compacted, Duration, usize) {
    let started = Instant::now();
    let (mut all, mut passes) = (Compacted::default(), 0);
    loop {
        let done = store.compact(retention).await.unwrap();
        passes += 1;
        if done.commitments == 0 && done.lanes == 0 {
            return (all, started.elapsed(), passes);
        }
        all.lanes += done.lanes;
        all.commitments += done.commitments;
        all.deleted += done.deleted;
    }
}

fn row(out: &mut String, phase: &str, sizes: &[(i64, i64)]) {
    let total: i64 = sizes.iter().map(|s| s.1).sum();
    let cells: Vec<String> = sizes.iter().map(|(n, b)| format!("{n} / {:.1}", *b as f64 / 1_048_576.0)).collect();
    let line = format!("| {phase} | {} | {:.1} |", cells.join(" | "), total as f64 / 1_048_576.0);
    println!("{line}");
    writeln!(out, "{line}").unwrap();
}

#[tokio::main]
async fn main() {
    let lanes = env_or("RETENTION_LANES", 1_000);
    let per_lane = env_or("RETENTION_PER_LANE", 1_000) as u64;
    let releases: Vec<u64> = [250, 500, 750, 990].iter().map(|r| r * per_lane / 1_000).collect();
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL unset: run scripts/bench-retention");
    let admin = PgPool::connect(&admin_url).await.unwrap();
    let db_name = format!("retention_bench_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {db_name}")).execute(&admin).await.unwrap();
    let (server, _) = admin_url.rsplit_once('/').unwrap();
    let url = format!("{server}/{db_name}");
    let store = Store::connect(&url, 4).await.unwrap();
    let pool = PgPool::connect(&url).await.unwrap();
    let retention = gateway::Config { retention_keep_s: 0, ..gateway::Config::default() }.retention();

    let mut out = String::new();
    let header = format!(
        "| phase | {} | total MiB |\n|---|{}---:|",
        TABLES.map(|t| format!("{t} rows / MiB")).join(" | "),
        "---:|".repeat(TABLES.len())
    );
    println!("{header}");
    writeln!(out, "{header}").unwrap();
    let mut timings = Vec::new();
    for round in 0..2u64 {
        let base = round * per_lane;
        let started = Instant::now();
        accept(&pool, lanes, base + 1, base + per_lane).await;
        let wrote = started.elapsed();
        sqlx::query("VACUUM ANALYZE").execute(&pool).await.unwrap();
        let n = lanes as u64 * per_lane;
        row(&mut out, &format!("round {}: {n} receipts accepted, none released", round + 1), &sizes(&pool).await);
        let mut compacted = Compacted::default();
        let (mut took, mut passes) = (Duration::ZERO, 0);
        for at in &releases {
            release(&store, &pool, lanes, base + at).await;
            let (done, t, p) = compact(&store, &retention).await;
            compacted.commitments += done.commitments;
            compacted.deleted += done.deleted;
            took += t;
            passes += p;
        }
        row(&mut out, &format!("round {}: released 4 times a lane, compacted", round + 1), &sizes(&pool).await);
        sqlx::query("VACUUM ANALYZE").execute(&pool).await.unwrap();
        row(&mut out, &format!("round {}: then VACUUM (space reusable)", round + 1), &sizes(&pool).await);
        timings.push((round + 1, n, wrote, compacted, took, passes));
    }
    sqlx::query("VACUUM FULL").execute(&pool).await.unwrap();
    row(&mut out, "then VACUUM FULL (space returned)", &sizes(&pool).await);
    writeln!(out).unwrap();
    for (round, n, wrote, c, took, passes) in &timings {
        let line = format!(
            "Round {round}: {n} receipts written in {:.1} s; compaction deleted {} in {} commitments over {passes} passes, \
             taking {:.1} s in all ({:.0} receipts deleted/s).",
            wrote.as_secs_f64(),
            c.deleted,
            c.commitments,
            took.as_secs_f64(),
            c.deleted as f64 / took.as_secs_f64().max(1e-9),
        );
        println!("{line}");
        writeln!(out, "{line}\n").unwrap();
    }
    pool.close().await;
    drop(store);
    sqlx::query(&format!("DROP DATABASE {db_name} WITH (FORCE)")).execute(&admin).await.unwrap();

    if lanes == 1_000 && per_lane == 1_000 {
        let doc = format!(
            "# Receipt retention\n\n\
             Regenerate: `scripts/bench-retention`. Written by `gateway/benches/retention.rs`.\n\n\
             1,000 lanes (125 jobs of 8 providers) each receive 1,000 signed receipts (1,000,000 in all), written \
             as the intake writes them. Each lane is then released on chain four times, at its 250th, 500th, 750th \
             and 990th receipt (finalized submissions of 64 lanes, recorded as the settlement loop records them), \
             and compacted after each release as the loop does, with no retention delay \
             (`retention_keep_s = 0`; the default keeps receipts a day). Round 2 sends the next 1,000 receipts of \
             every lane and does the same. Rows and bytes are `count(*)` and `pg_total_relation_size` (indexes \
             included), in MiB.\n\n{out}\
             After compaction a lane keeps its unsettled receipts (10 here), the receipts its releases settled (one \
             per release, which the audit matches releases with and the submissions refer to), and one commitment \
             per compaction (a Merkle root, a count and the amount range): storage follows lanes, releases and \
             unsettled receipts, not receipts sent. A plain VACUUM (autovacuum does it) makes the freed space \
             reusable, so round 2 fills it rather than growing the table; VACUUM FULL returns it to the system.\n"
        );
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../benchmarks/retention.md"), doc).unwrap();
    }
}
