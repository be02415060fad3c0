//! Providers' commands: `escrow stake` (bond stake), `accept-job` (consent to a job that names the
//! provider, with its own terms), `unbond` (start taking it back), `withdraw` (take back what finished
//! unbonding), `balance` (claimable balance, wallet, stake and reputation of any
//! account) and `claim` (pay the claimable balance out; also for treasuries and refunded consumers).

use clap::Args;
use escrow_client::accounts::{account, keypair, ss58};
use escrow_client::{account_of, AccountId, Escrow};
use serde_json::{json, Value};
use settlement::Event;

use crate::context::{CliResult, Global, Target};
use crate::output::{when, Amount, Out};

/// `escrow balance`'s options.
#[derive(Args, Debug)]
pub struct BalanceArgs {
    #[command(flatten)]
    target: Target,
    /// The account (SS58, hex or secret URI).
    account: String,
}

/// Options of `escrow claim` and `escrow withdraw`: just the signer.
#[derive(Args, Debug)]
pub struct PayoutArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the account paid.
    #[arg(long)]
    suri: String,
}

/// Options of `escrow stake` and `escrow unbond`.
#[derive(Args, Debug)]
pub struct StakeArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the provider.
    #[arg(long)]
    suri: String,
    /// How much to bond (`stake`) or to start unbonding (`unbond`).
    #[arg(long)]
    amount: Amount,
}

/// `escrow accept-job`'s options.
#[derive(Args, Debug)]
pub struct AcceptJobArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the provider.
    #[arg(long)]
    suri: String,
    /// The job.
    #[arg(long)]
    job: u64,
    /// Refuse unless the provider's allocation on the job is at least this much (default: what it is
    /// now, so a consumer cannot lower it between the provider reading the job and accepting it).
    #[arg(long)]
    min_funds: Option<Amount>,
    /// The most one dispute on this job may slash from the stake (default: as much as the job's slash
    /// share allows).
    #[arg(long)]
    max_slash: Option<Amount>,
}

/// `escrow accept-job`: the provider consents to a job that names it; prints the slash bound and the
/// stake's lock.
pub async fn accept_job(a: AcceptJobArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let provider = keypair(&a.suri)?;
    let min_funds = match &a.min_funds {
        Some(m) => out.planck(m, "--min-funds")?,
        None => {
            let me = escrow_client::account_of(&provider);
            escrow.job(a.job).await?.map_or(0, |j| j.limit(&me, 0, escrow_client::now_ms()))
        }
    };
    let max_slash = a.max_slash.as_ref().map(|m| out.planck(m, "--max-slash")).transpose()?.unwrap_or(u128::MAX);
    let done = escrow.accept_job(&provider, a.job, min_funds, max_slash).await?;
    let (bound, locked_until) = done
        .event(|e| match e {
            Event::JobAccepted { max_slash, locked_until, .. } => Some((*max_slash, *locked_until)),
            _ => None,
        })
        .unwrap_or((done.value, 0));
    out.print(
        &format!(
            "accepted job {}: one dispute slashes at most {}; stake locked until {}",
            a.job,
            out.show(bound),
            when(locked_until)
        ),
        json!({ "job": a.job, "provider": ss58(account_of(&provider)), "max_slash": out.value(bound),
                "locked_until": locked_until }),
    )
}

/// An account's claimable balance, wallet, stake and reputation, as JSON and as lines for people.
pub async fn balance_of(escrow: &Escrow, out: &Out, who: AccountId) -> CliResult<(Value, Vec<String>)> {
    let claimable = escrow.balance_of(who).await?;
    let wallet = escrow.chain().free_balance(who).await?;
    let stake = escrow.stake_of(who).await?;
    let (reputation, score) = escrow.reputation_of(who).await?;
    let json = json!({
        "account": ss58(who),
        "claimable": out.value(claimable),
        "wallet": out.value(wallet),
        "stake": { "active": out.value(stake.active), "unbonding": out.value(stake.unbonding),
                   "unlock_at": stake.unlock_at, "locked_until": stake.locked_until,
                   "pending_disputes": stake.pending_disputes },
        "reputation": { "jobs_completed": reputation.jobs_completed, "volume": out.value(reputation.volume),
                        "disputes_lost": reputation.disputes_lost, "slashed": out.value(reputation.slashed),
                        "score": score },
    });
    let mut human = vec![
        format!("account     {}", ss58(who)),
        format!("claimable   {}", out.show(claimable)),
        format!("wallet      {}", out.show(wallet)),
        format!("stake       {} active, {} unbonding", out.show(stake.active), out.show(stake.unbonding)),
    ];
    if stake.unbonding > 0 {
        human.push(format!("unlocks at  {}", when(stake.unlock_at)));
    }
    if stake.locked_until > 0 {
        human.push(format!("job lock    {}", when(stake.locked_until)));
    }
    human.push(format!("disputes    {} pending", stake.pending_disputes));
    human.push(format!(
        "reputation  score {score}/1000: {} jobs completed, volume {}, {} disputes lost, {} slashed",
        reputation.jobs_completed,
        out.show(reputation.volume),
        reputation.disputes_lost,
        out.show(reputation.slashed)
    ));
    Ok((json, human))
}

/// `escrow balance`.
pub async fn balance(a: BalanceArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let (json, human) = balance_of(&escrow, &out, account(&a.account)?).await?;
    out.print(&human.join("\n"), json)
}

/// `escrow claim`.
pub async fn claim(a: PayoutArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let signer = keypair(&a.suri)?;
    let claimed = escrow.claim(&signer).await?;
    // What the chain paid (the event), not the dry run's figure: a release may land in between.
    let amount = claimed
        .event(|e| match e {
            Event::Claimed { amount, .. } => Some(*amount),
            _ => None,
        })
        .unwrap_or(claimed.value);
    let who = ss58(account_of(&signer));
    out.print(
        &format!("claimed {} to {who}", out.show(amount)),
        json!({ "account": who, "claimed": out.value(amount) }),
    )
}

/// `escrow stake`.
pub async fn stake(a: StakeArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let amount = out.planck(&a.amount, "--amount")?;
    let done = escrow.stake(&keypair(&a.suri)?, amount).await?;
    let active = done.event(|e| match e {
        Event::Staked { active, .. } => Some(*active),
        _ => None,
    });
    let total = active.map(|t| format!(": {} active in all", out.show(t))).unwrap_or_default();
    out.print(
        &format!("staked {}{total}", out.show(amount)),
        json!({ "staked": out.value(amount), "active": active.map(|t| out.value(t)) }),
    )
}

/// `escrow unbond`.
pub async fn unbond(a: StakeArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let amount = out.planck(&a.amount, "--amount")?;
    let provider = keypair(&a.suri)?;
    let done = escrow.unbond(&provider, amount).await?;
    // The committed call ran in a later block than the dry-run: its event has the real unlock time.
    let (unbonding, unlock_at) = done
        .event(|e| match e {
            Event::Unbonding { unbonding, unlock_at, .. } => Some((Some(*unbonding), *unlock_at)),
            _ => None,
        })
        .unwrap_or((None, done.value));
    let locked_until = escrow.stake_of(account_of(&provider)).await?.locked_until;
    let from = unlock_at.max(locked_until);
    let human = format!(
        "unbonding {}: `escrow withdraw` from {}{}",
        out.show(amount),
        when(from),
        if locked_until > unlock_at { " (a job's dispute window holds it until then)" } else { "" }
    );
    out.print(
        &human,
        json!({ "unbonded": out.value(amount), "unbonding": unbonding.map(|u| out.value(u)), "unlock_at": unlock_at,
                "locked_until": locked_until, "withdrawable_from": from }),
    )
}

/// `escrow withdraw`.
pub async fn withdraw(a: PayoutArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let signer = keypair(&a.suri)?;
    let withdrawn = escrow.withdraw(&signer).await?;
    // What the chain paid (the event), not the dry run's figure: a slash may land in between.
    let amount = withdrawn
        .event(|e| match e {
            Event::Withdrawn { amount, .. } => Some(*amount),
            _ => None,
        })
        .unwrap_or(withdrawn.value);
    let who = ss58(account_of(&signer));
    out.print(
        &format!("withdrew {} of unbonded stake to {who}", out.show(amount)),
        json!({ "account": who, "withdrawn": out.value(amount) }),
    )
}
