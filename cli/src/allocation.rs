//! Consumers' allocation commands (G2): `escrow allocate` raises a provider's allocation at once from
//! the job's unallocated funds; `escrow thaw` lowers one, which takes a thaw period (at once for a
//! provider that has not accepted), the provider still being paid against the old allocation until then.

use clap::Args;
use escrow_client::accounts::{account, keypair, ss58};
use serde_json::json;
use settlement::{Event, JobId};

use crate::context::{CliResult, Global, Target};
use crate::output::{when, Amount};

/// `escrow allocate`'s and `escrow thaw`'s options.
#[derive(Args, Debug)]
pub struct AllocationArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the job's consumer.
    #[arg(long)]
    suri: String,
    /// The job.
    #[arg(long)]
    job: JobId,
    /// One of the job's providers (SS58, hex or secret URI).
    #[arg(long, value_name = "ACCOUNT")]
    provider: String,
    /// How much to allocate to it, or to thaw from it.
    #[arg(long)]
    amount: Amount,
}

/// `escrow allocate`: raises a provider's allocation at once.
pub async fn allocate(a: AllocationArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let amount = out.planck(&a.amount, "--amount")?;
    let provider = account(&a.provider)?;
    let done = escrow.allocate(&keypair(&a.suri)?, a.job, provider, amount).await?;
    let (allocation, unallocated) = done
        .event(|e| match e {
            Event::Allocated { allocation, unallocated, .. } => Some((*allocation, *unallocated)),
            _ => None,
        })
        .ok_or("the chain included allocate but emitted no Allocated event")?;
    let human = format!(
        "allocated {} more to {} on job {}: {} in all, {} left unallocated",
        out.show(amount),
        ss58(provider),
        a.job,
        out.show(allocation),
        out.show(unallocated)
    );
    out.print(
        &human,
        json!({
            "job_id": a.job, "provider": ss58(provider), "amount": out.value(amount),
            "allocation": out.value(allocation), "unallocated": out.value(unallocated),
        }),
    )
}

/// `escrow thaw`: starts lowering a provider's allocation.
pub async fn thaw(a: AllocationArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let amount = out.planck(&a.amount, "--amount")?;
    let provider = account(&a.provider)?;
    let done = escrow.thaw(&keypair(&a.suri)?, a.job, provider, amount).await?;
    // The block's own time decides the end (the dry-run's answer is a block early).
    let ends_at = done
        .event(|e| match e {
            Event::ThawStarted { ends_at, .. } => Some(*ends_at),
            _ => None,
        })
        .ok_or("the chain included thaw but emitted no ThawStarted event")?;
    let human = format!(
        "thawing {} of {}'s allocation on job {}: it stays payable until {}, then `escrow allocate` can move \
         what it was not paid",
        out.show(amount),
        ss58(provider),
        a.job,
        when(ends_at)
    );
    out.print(
        &human,
        json!({ "job_id": a.job, "provider": ss58(provider), "amount": out.value(amount), "ends_at": ends_at }),
    )
}
