//! Providers' commands: `escrow balance` (claimable balance, stake and reputation) and `escrow claim`
//! (pay the balance out).

use clap::Args;
use escrow_client::accounts::{account, keypair};
use escrow_client::{AccountId, Escrow};
use serde_json::{json, Value};

use crate::context::{CliResult, Global, Target};

/// `escrow balance`'s options.
#[derive(Args, Debug)]
pub struct BalanceArgs {
    #[command(flatten)]
    target: Target,
    /// The account (SS58, hex or secret URI).
    account: String,
}

/// `escrow claim`'s options.
#[derive(Args, Debug)]
pub struct ClaimArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the account to pay out.
    #[arg(long)]
    suri: String,
}

/// A provider's claimable balance, stake and reputation.
pub async fn balance_of(escrow: &Escrow, account: AccountId) -> CliResult<Value> {
    let claimable = escrow.balance_of(account).await?;
    let stake = escrow.stake_of(account).await?;
    let (reputation, score) = escrow.reputation_of(account).await?;
    Ok(json!({
        "claimable": claimable.to_string(),
        "stake": { "active": stake.active.to_string(), "unbonding": stake.unbonding.to_string(),
                   "unlock_at": stake.unlock_at, "pending_disputes": stake.pending_disputes },
        "reputation": { "jobs_completed": reputation.jobs_completed, "volume": reputation.volume.to_string(),
                        "disputes_lost": reputation.disputes_lost, "slashed": reputation.slashed.to_string(),
                        "score": score },
    }))
}

/// `escrow balance`.
pub async fn balance(a: BalanceArgs, global: &Global) -> CliResult {
    let escrow = a.target.connect(global).await?;
    println!("{}", serde_json::to_string_pretty(&balance_of(&escrow, account(&a.account)?).await?)?);
    Ok(())
}

/// `escrow claim`.
pub async fn claim(a: ClaimArgs, global: &Global) -> CliResult {
    let escrow = a.target.connect(global).await?;
    println!("claimed {}", escrow.claim(&keypair(&a.suri)?).await?.value);
    Ok(())
}
