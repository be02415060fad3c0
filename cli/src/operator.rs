//! Operators' commands: `escrow deploy` (upload and instantiate the escrow) and `escrow config` (a
//! deployed escrow's configuration).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use escrow_client::accounts::{account, keypair, ss58};
use escrow_client::{AccountId, Bundle, Chain, Deploy, Escrow};
use serde_json::{json, Value};
use settlement::{Config, Timing};

use crate::context::{CliResult, Global, Target};
use crate::output::{Amount, Out};

/// `escrow deploy`'s options.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The contract bundle (`escrow.contract`).
    #[arg(long, env = "ESCROW_BUNDLE")]
    pub bundle: PathBuf,
    /// Secret URI of the deployer, who becomes the owner.
    #[arg(long, default_value = "//Alice")]
    pub suri: String,
    /// Fee recipient.
    #[arg(long, default_value = "//Eve")]
    pub treasury: String,
    /// Dispute resolver.
    #[arg(long, default_value = "//Ferdie")]
    pub arbiter: String,
    /// Platform fee in basis points (at most 1000).
    #[arg(long, default_value_t = settlement::fee::DEFAULT_FEE_BPS)]
    pub fee_bps: u16,
    /// Minimum provider stake (default: 100 tokens).
    #[arg(long)]
    pub min_stake: Option<Amount>,
    /// Share of the funds a provider accepts a job with that one dispute may slash, in basis points
    /// (10 000 = all of it; a provider may cap its own bound lower when it accepts).
    #[arg(long, default_value_t = 10_000)]
    pub slash_bps: u16,
    /// Unbonding delay in ms (must exceed the dispute window).
    #[arg(long, default_value_t = 2 * 3_600_000)]
    pub unbond_delay_ms: u64,
    /// Dispute window after a job ends, in ms.
    #[arg(long, default_value_t = 3_600_000)]
    pub dispute_window_ms: u64,
    /// Receipts still accepted this long after the consumer completes a job, in ms.
    #[arg(long, default_value_t = 600_000)]
    pub settle_grace_ms: u64,
    /// Longest job, in ms.
    #[arg(long, default_value_t = 30 * 24 * 3_600_000)]
    pub max_job_duration_ms: u64,
    /// Shortest time a lowered allocation stays payable, in ms (at most the settle grace).
    #[arg(long, default_value_t = 600_000)]
    pub thaw_period_ms: u64,
    /// From a settings announcement to the earliest moment it applies, in ms (must exceed the dispute
    /// window plus the unbonding delay; default 4 h).
    #[arg(long, default_value_t = 4 * 3_600_000)]
    pub admin_delay_ms: u64,
    /// How long after a dispute opens its arbiter may slash, in ms (default 3 days).
    #[arg(long, default_value_t = 3 * 24 * 3_600_000)]
    pub arbitration_period_ms: u64,
    /// Salt for the contract address.
    #[arg(long, default_value = "")]
    pub salt: String,
}

/// Deploys the escrow; prints its address.
pub async fn deploy(a: DeployArgs, global: &Global) -> CliResult {
    let signer = keypair(&a.suri)?;
    let chain = Chain::connect(&global.node_url).await?;
    let out = Out::of(global, &chain).await?;
    let min_stake = match &a.min_stake {
        Some(amount) => out.planck(amount, "--min-stake")?,
        None => out.token.unit().and_then(|unit| unit.checked_mul(100)).ok_or("the token has too many decimals")?,
    };
    let params = Deploy {
        treasury: account(&a.treasury)?,
        arbiter: account(&a.arbiter)?,
        fee_bps: a.fee_bps,
        min_stake,
        slash_bps: a.slash_bps,
        timing: Timing {
            unbond_delay: a.unbond_delay_ms,
            dispute_window: a.dispute_window_ms,
            settle_grace: a.settle_grace_ms,
            max_job_duration: a.max_job_duration_ms,
            thaw_period: a.thaw_period_ms,
            admin_delay: a.admin_delay_ms,
            arbitration_period: a.arbitration_period_ms,
        },
        salt: a.salt.into_bytes(),
    };
    let escrow = Escrow::deploy(&chain, &signer, Arc::new(Bundle::load(&a.bundle)?), &params).await?;
    let address = ss58(escrow.address());
    out.print(&address, json!({ "contract": address }))
}

/// A configuration as lines for people and as JSON.
#[must_use]
pub fn describe(escrow: &Escrow, out: &Out, c: &Config<AccountId>) -> (String, Value) {
    let human = [
        format!("contract      {}", ss58(escrow.address())),
        format!("owner         {}", ss58(c.owner)),
        format!("pending owner {}", c.pending_owner.map_or_else(|| "none".into(), ss58)),
        format!("treasury      {}", ss58(c.treasury)),
        format!("arbiter       {}", ss58(c.arbiter)),
        format!("fee           {} bps", c.fee_bps),
        format!("min stake     {}", out.show(c.min_stake)),
        format!("slash share   {} bps of what a provider accepts a job with", c.slash_bps),
        format!("paused        {}", c.paused),
        format!(
            "announced     {}",
            c.announced.map_or_else(
                || "none".into(),
                |a| format!(
                    "treasury {} / arbiter {} / fee {} bps / min stake {}, from {} ms",
                    ss58(a.settings.treasury),
                    ss58(a.settings.arbiter),
                    a.settings.fee_bps,
                    out.show(a.settings.min_stake),
                    a.effective_at
                )
            )
        ),
        format!(
            "timing (ms)   unbond {} / dispute window {} / settle grace {} / max job {} / thaw {} / admin delay {} / arbitration {}",
            c.timing.unbond_delay,
            c.timing.dispute_window,
            c.timing.settle_grace,
            c.timing.max_job_duration,
            c.timing.thaw_period,
            c.timing.admin_delay,
            c.timing.arbitration_period
        ),
        format!("next job id   {}", c.next_job_id),
    ];
    let json = json!({
        "contract": ss58(escrow.address()),
        "owner": ss58(c.owner),
        "pending_owner": c.pending_owner.map(ss58),
        "treasury": ss58(c.treasury),
        "arbiter": ss58(c.arbiter),
        "fee_bps": c.fee_bps,
        "min_stake": out.value(c.min_stake),
        "slash_bps": c.slash_bps,
        "paused": c.paused,
        "announced": c.announced.map(|a| json!({
            "treasury": ss58(a.settings.treasury),
            "arbiter": ss58(a.settings.arbiter),
            "fee_bps": a.settings.fee_bps,
            "min_stake": out.value(a.settings.min_stake),
            "slash_bps": a.settings.slash_bps,
            "effective_at": a.effective_at,
        })),
        "timing_ms": { "unbond_delay": c.timing.unbond_delay, "dispute_window": c.timing.dispute_window,
                       "settle_grace": c.timing.settle_grace, "max_job_duration": c.timing.max_job_duration,
                       "thaw_period": c.timing.thaw_period, "admin_delay": c.timing.admin_delay,
                       "arbitration_period": c.timing.arbitration_period },
        "next_job_id": c.next_job_id,
    });
    (human.join("\n"), json)
}

/// Prints a deployed escrow's configuration.
pub async fn config(target: Target, global: &Global) -> CliResult {
    let (escrow, out) = target.open(global).await?;
    let (human, json) = describe(&escrow, &out, &escrow.config().await?);
    out.print(&human, json)
}
