//! The owner's commands: `escrow settings` (treasury, arbiter, fee for new jobs, minimum stake, pause),
//! and the two steps of handing the escrow over: `transfer-ownership` by the owner, then
//! `accept-ownership` by the new owner.

use clap::Args;
use escrow_client::account_of;
use escrow_client::accounts::{account, keypair, ss58};
use serde_json::json;
use settlement::SettingsChange;

use crate::context::{CliResult, Global, Target};
use crate::operator::describe;
use crate::output::Amount;

/// `escrow settings`' options.
#[derive(Args, Debug)]
pub struct SettingsArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the owner.
    #[arg(long)]
    suri: String,
    #[command(flatten)]
    change: Change,
}

/// What to change; anything not given stays as it is.
#[derive(Args, Debug)]
#[group(required = true, multiple = true)]
struct Change {
    /// New fee recipient (SS58, hex or secret URI).
    #[arg(long)]
    treasury: Option<String>,
    /// New dispute resolver (SS58, hex or secret URI).
    #[arg(long)]
    arbiter: Option<String>,
    /// New platform fee in basis points (500 = 5 %), for jobs opened from now on.
    #[arg(long)]
    fee_bps: Option<u16>,
    /// New minimum provider stake, for jobs opened from now on.
    #[arg(long)]
    min_stake: Option<Amount>,
    /// Refuse new jobs (top-ups, releases, refunds and claims go on).
    #[arg(long, conflicts_with = "resume")]
    pause: bool,
    /// Accept new jobs again.
    #[arg(long)]
    resume: bool,
}

/// `escrow transfer-ownership`'s options.
#[derive(Args, Debug)]
pub struct TransferArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the current owner.
    #[arg(long)]
    suri: String,
    /// The proposed owner (SS58, hex or secret URI), who must then `escrow accept-ownership`.
    #[arg(long)]
    to: String,
}

/// `escrow accept-ownership`'s options.
#[derive(Args, Debug)]
pub struct AcceptArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the proposed owner.
    #[arg(long)]
    suri: String,
}

/// `escrow settings`: applies the change, then prints the configuration as it now is.
pub async fn settings(a: SettingsArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let c = a.change;
    let change = SettingsChange {
        treasury: c.treasury.as_deref().map(account).transpose()?,
        arbiter: c.arbiter.as_deref().map(account).transpose()?,
        fee_bps: c.fee_bps,
        min_stake: c.min_stake.as_ref().map(|m| out.planck(m, "--min-stake")).transpose()?,
        paused: if c.pause { Some(true) } else { c.resume.then_some(false) },
    };
    escrow.update_settings(&keypair(&a.suri)?, &change).await?;
    let (human, json) = describe(&escrow, &out, &escrow.config().await?);
    out.print(&format!("settings changed\n{human}"), json)
}

/// `escrow transfer-ownership`: names the next owner.
pub async fn transfer(a: TransferArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let to = account(&a.to)?;
    escrow.transfer_ownership(&keypair(&a.suri)?, to).await?;
    let human = format!("{} may now take the escrow over with `escrow accept-ownership`", ss58(to));
    out.print(&human, json!({ "pending_owner": ss58(to) }))
}

/// `escrow accept-ownership`: the named account becomes the owner.
pub async fn accept(a: AcceptArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let signer = keypair(&a.suri)?;
    escrow.accept_ownership(&signer).await?;
    let owner = ss58(account_of(&signer));
    out.print(&format!("{owner} now owns the escrow"), json!({ "owner": owner }))
}
