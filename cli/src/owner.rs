//! The owner's commands: `escrow settings` (announces a change of treasury, arbiter, fee for new jobs or
//! minimum stake; applies it with `--apply` once the admin delay has passed; pauses or resumes new jobs
//! at once), and the two steps of handing the escrow over: `transfer-ownership` by the owner, then
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

/// What to change; anything not given stays as it is. A change of treasury, arbiter, fee or minimum
/// stake is announced and applies only with `--apply`, one admin delay later (`escrow config` shows the
/// delay and what is pending); the pause switches at once.
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
    /// New minimum provider stake, for acceptances from then on.
    #[arg(long)]
    min_stake: Option<Amount>,
    /// New slash share (bps of what a provider accepts a job with), for jobs opened from then on.
    #[arg(long)]
    slash_bps: Option<u16>,
    /// Refuse new jobs (top-ups, releases, refunds and claims go on).
    #[arg(long, conflicts_with = "resume")]
    pause: bool,
    /// Accept new jobs again.
    #[arg(long)]
    resume: bool,
    /// Apply the announced change (its admin delay must have passed).
    #[arg(long, conflicts_with_all = ["treasury", "arbiter", "fee_bps", "min_stake", "slash_bps"])]
    apply: bool,
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

/// `escrow settings`: switches the pause, announces a change or applies the announced one, then prints
/// the configuration as it now is (with what is pending and from when it may apply).
pub async fn settings(a: SettingsArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let owner = keypair(&a.suri)?;
    let c = a.change;
    let mut done = Vec::new();
    if c.pause || c.resume {
        escrow.set_paused(&owner, c.pause).await?;
        done.push(if c.pause { "new jobs paused" } else { "new jobs resumed" });
    }
    let change = SettingsChange {
        treasury: c.treasury.as_deref().map(account).transpose()?,
        arbiter: c.arbiter.as_deref().map(account).transpose()?,
        fee_bps: c.fee_bps,
        min_stake: c.min_stake.as_ref().map(|m| out.planck(m, "--min-stake")).transpose()?,
        slash_bps: c.slash_bps,
    };
    if change != SettingsChange::default() {
        escrow.announce_settings(&owner, &change).await?;
        done.push("settings announced: apply them with `escrow settings --apply` from their effective time");
    }
    if c.apply {
        escrow.apply_settings(&owner).await?;
        done.push("announced settings applied");
    }
    let (human, json) = describe(&escrow, &out, &escrow.config().await?);
    out.print(&format!("{}\n{human}", done.join("; ")), json)
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
