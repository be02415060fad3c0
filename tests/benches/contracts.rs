//! Measures the escrow on a real `substrate-contracts-node --dev`: Wasm size and the weight (ref_time,
//! proof_size) of its main messages, as the node's dry-run reports them, next to the block's limits.
//! Prints the table and writes it to `benchmarks/contracts.md`.
//!
//! Run: `scripts/bench-contracts` (builds the release bundle, then `cargo bench -p e2e --bench contracts`).
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::fmt::Write as _;

use escrow_client::{account_of, DryRun, Weight};
use settlement::OpenJob;
use testkit::*;

struct Row {
    what: String,
    weight: Weight,
}

fn row(what: impl Into<String>, dry: &DryRun) -> Row {
    Row { what: what.into(), weight: dry.gas_consumed }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let limits = escrow_client::node::constants().system().block_weights();
    let max_block: Weight = chain.api().constants().at(&limits)?.max_block.into();
    let m = deploy(&chain).await?;
    let provider = funded(&chain, "//BenchProvider", 1_000 * UNIT).await?;
    let consumer = funded(&chain, "//BenchConsumer", 10_000 * UNIT).await?;
    let p = account_of(&provider);
    let mut rows = Vec::new();

    let staked = m.escrow.stake(&provider, m.min_stake).await?;
    rows.push(row("stake", &staked.dry_run));
    let key = payer(7);
    let request = |providers| OpenJob {
        providers,
        payer_key: key.verifying_key().to_bytes(),
        terms_hash: [1; 32],
        expires_at: now_ms() + 600_000,
    };
    let opened = m.escrow.open_job(&consumer, 1_000 * UNIT, &request(vec![(p, 1_000 * UNIT)])).await?;
    rows.push(row("open_job (1 provider)", &opened.dry_run));
    let job = opened.value;
    let accepted = m.escrow.accept_job(&provider, job, 0, u128::MAX).await?;
    rows.push(row("accept_job", &accepted.dry_run));

    let (r, s) = signed_receipt(&m, &key, job, p, 10 * UNIT, 1);
    let first = m.escrow.release(&consumer, &r, &s).await?;
    rows.push(row("release (first receipt of a lane; ed25519 verify_strict on chain)", &first.dry_run));
    let (r, s) = signed_receipt(&m, &key, job, p, 20 * UNIT, 2);
    let later = m.escrow.release(&consumer, &r, &s).await?;
    rows.push(row("release (later receipt)", &later.dry_run));
    let topped = m.escrow.top_up(&consumer, job, 10 * UNIT, None).await?;
    rows.push(row("top_up (to the unallocated funds)", &topped.dry_run));
    rows.push(row("allocate", &m.escrow.allocate(&consumer, job, p, 5 * UNIT).await?.dry_run));
    rows.push(row("thaw", &m.escrow.thaw(&consumer, job, p, UNIT).await?.dry_run));

    // Many jobs in one extrinsic: one receipt each.
    let batch = 20u64;
    let mut receipts = Vec::new();
    for _ in 0..batch {
        let id = m.escrow.open_job(&consumer, 10 * UNIT, &request(vec![(p, 10 * UNIT)])).await?.value;
        m.escrow.accept_job(&provider, id, 0, u128::MAX).await?;
        receipts.push(signed_receipt(&m, &key, id, p, UNIT, 1));
    }
    let many = m.escrow.release_many(&consumer, &receipts).await?;
    assert!(many.value.iter().all(Result::is_ok));
    rows.push(row(format!("release_many ({batch} jobs, one receipt each)"), &many.dry_run));

    rows.push(row("claim", &m.escrow.claim(&provider).await?.dry_run));
    m.escrow.dispute(&consumer, job, p, [2; 32]).await?;
    rows.push(row("resolve_dispute (slash)", &m.escrow.resolve_dispute(&m.arbiter, job, p, UNIT).await?.dry_run));

    let wasm = escrow_bundle()?.wasm.len();
    let mut md = String::new();
    writeln!(md, "# Contract figures\n")?;
    writeln!(
        md,
        "Measured on `substrate-contracts-node` 0.42.0 `--dev` by `scripts/bench-contracts` (weights are the"
    )?;
    writeln!(
        md,
        "node's dry-run `gas_consumed` of each message; the block limit is `System::BlockWeights::max_block`).\n"
    )?;
    writeln!(
        md,
        "| contract | Wasm size | budget |\n|---|---:|---:|\n| escrow | {wasm} bytes ({:.1} KiB) | 64 KiB |\n",
        wasm as f64 / 1024.0
    )?;
    let proof_limit = if max_block.proof_size == u64::MAX {
        "unlimited on this solo chain".to_string()
    } else {
        max_block.proof_size.to_string()
    };
    writeln!(md, "Block limit: ref_time {}, proof_size {proof_limit}.\n", max_block.ref_time)?;
    writeln!(md, "| message | ref_time | % of block ref_time | proof_size (bytes) |\n|---|---:|---:|---:|")?;
    for r in &rows {
        let share = r.weight.ref_time as f64 * 100.0 / max_block.ref_time as f64;
        writeln!(md, "| {} | {} | {share:.3} % | {} |", r.what, r.weight.ref_time, r.weight.proof_size)?;
    }
    let per_receipt = many.dry_run.gas_consumed.ref_time / batch;
    // proof_size per receipt inside release_many: what each receipt after the first adds to the call.
    let proof_per_receipt =
        many.dry_run.gas_consumed.proof_size.saturating_sub(later.dry_run.gas_consumed.proof_size) / (batch - 1);
    const PARACHAIN_PROOF: u64 = 5 * 1024 * 1024;
    writeln!(
        md,
        "\n`release_many` ({batch} receipts): {per_receipt} ref_time and {proof_per_receipt} bytes of proof_size per \
         receipt (proof: the call's total less a single release's, over the {} receipts after the first).",
        batch - 1
    )?;
    writeln!(
        md,
        "Releases per block: about {} under the ref_time limit; about {} under a parachain's 5 MiB proof budget \
         (binding: {}).",
        max_block.ref_time / per_receipt,
        PARACHAIN_PROOF / proof_per_receipt.max(1),
        if PARACHAIN_PROOF / proof_per_receipt.max(1) < max_block.ref_time / per_receipt {
            "proof"
        } else {
            "ref_time"
        }
    )?;
    print!("{md}");
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/../benchmarks/contracts.md");
    std::fs::write(out, md)?;
    eprintln!("wrote {out}");
    Ok(())
}
