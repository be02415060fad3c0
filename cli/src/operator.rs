//! Operators' commands: `escrow deploy` (upload and instantiate the escrow) and `escrow config` (a
//! deployed escrow's configuration).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use escrow_client::accounts::{account, keypair, ss58};
use escrow_client::{Bundle, Chain, Deploy, Escrow};
use settlement::Timing;

use crate::context::{CliResult, Global, Target};

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
    /// Minimum provider stake, in the chain's smallest unit.
    #[arg(long, default_value_t = 100_000_000_000_000)]
    pub min_stake: u128,
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
    /// Salt for the contract address.
    #[arg(long, default_value = "")]
    pub salt: String,
}

/// Deploys the escrow; prints its address.
pub async fn deploy(a: DeployArgs, global: &Global) -> CliResult {
    let signer = keypair(&a.suri)?;
    let params = Deploy {
        treasury: account(&a.treasury)?,
        arbiter: account(&a.arbiter)?,
        fee_bps: a.fee_bps,
        min_stake: a.min_stake,
        timing: Timing {
            unbond_delay: a.unbond_delay_ms,
            dispute_window: a.dispute_window_ms,
            settle_grace: a.settle_grace_ms,
            max_job_duration: a.max_job_duration_ms,
        },
        salt: a.salt.into_bytes(),
    };
    let chain = Chain::connect(&global.node_url).await?;
    let escrow = Escrow::deploy(&chain, &signer, Arc::new(Bundle::load(&a.bundle)?), &params).await?;
    println!("{}", ss58(escrow.address()));
    Ok(())
}

/// Prints a deployed escrow's configuration.
pub async fn config(target: Target, global: &Global) -> CliResult {
    let escrow = target.connect(global).await?;
    let c = escrow.config().await?;
    println!("contract      {}", ss58(escrow.address()));
    println!("owner         {}", ss58(c.owner));
    println!("treasury      {}", ss58(c.treasury));
    println!("arbiter       {}", ss58(c.arbiter));
    println!("fee           {} bps", c.fee_bps);
    println!("min stake     {}", c.min_stake);
    println!("paused        {}", c.paused);
    println!(
        "timing (ms)   unbond {} / dispute window {} / settle grace {} / max job {}",
        c.timing.unbond_delay, c.timing.dispute_window, c.timing.settle_grace, c.timing.max_job_duration
    );
    println!("next job id   {}", c.next_job_id);
    Ok(())
}
