//! The arbiter's command: `escrow resolve` decides a pending dispute, slashing the provider's stake to
//! the consumer or dismissing it.

use clap::Args;
use escrow_client::accounts::{account, keypair, ss58};
use serde_json::json;
use settlement::JobId;

use crate::context::{CliResult, Global, Target};
use crate::output::Amount;

/// `escrow resolve`'s options.
#[derive(Args, Debug)]
pub struct ResolveArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the arbiter.
    #[arg(long)]
    suri: String,
    /// The disputed job.
    #[arg(long)]
    job: JobId,
    /// The disputed provider (SS58, hex or secret URI).
    #[arg(long)]
    provider: String,
    #[command(flatten)]
    verdict: Verdict,
}

/// Upheld with a slash, or dismissed.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct Verdict {
    /// Uphold the dispute: take this much of the provider's stake (active first) for the consumer.
    #[arg(long)]
    slash: Option<Amount>,
    /// Dismiss the dispute: nothing is slashed.
    #[arg(long)]
    dismiss: bool,
}

/// `escrow resolve`.
pub async fn resolve(a: ResolveArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let provider = account(&a.provider)?;
    let slash = match &a.verdict.slash {
        Some(amount) => out.planck(amount, "--slash")?,
        None => 0,
    };
    escrow.resolve_dispute(&keypair(&a.suri)?, a.job, provider, slash).await?;
    let human = if slash > 0 {
        format!(
            "upheld the dispute of job {} against {}: slashed {} to its consumer",
            a.job,
            ss58(provider),
            out.show(slash)
        )
    } else {
        format!("dismissed the dispute of job {} against {}", a.job, ss58(provider))
    };
    out.print(
        &human,
        json!({ "job_id": a.job, "provider": ss58(provider), "upheld": slash > 0, "slashed": out.value(slash) }),
    )
}
