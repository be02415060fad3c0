//! `escrow`: the project's one binary. It parses the command line and hands each command to the module
//! of its family; the services themselves live in the `gateway` and `indexer` libraries.

mod allocation;
mod arbiter;
mod audit;
mod auditor;
mod consumer;
mod context;
mod demo;
mod jobs;
mod operator;
mod output;
mod owner;
mod provider;
mod receipts;
mod refusal;
mod services;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use context::{CliResult, Global, Target};

// Exit status: 0 done; 1 failed; 2 the command line is wrong; 3 the escrow refused (its error is named,
// with what to do, and nothing was submitted).
#[derive(Parser)]
#[command(
    name = "escrow",
    version,
    about = "Escrow and settlement for a compute marketplace",
    after_help = "Amounts are in tokens with the chain's decimals (12.5), or whole planck with --planck.\n\
                  Exit status: 0 done, 1 failed, 2 bad command line, 3 refused by the escrow (nothing submitted)."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    // ---------------------------------------------------------------- operators
    /// Runs the receipt gateway (configuration: defaults, then --config FILE, then ESCROW_* and
    /// GATEWAY__* variables).
    Serve(services::ServiceArgs),
    /// Runs the indexer: mirrors the escrow's events into Postgres and serves the auditor API
    /// (configuration: defaults, then --config FILE, then ESCROW_* and INDEXER__* variables).
    Index(services::ServiceArgs),
    /// Uploads and instantiates the escrow contract; prints its address.
    Deploy(operator::DeployArgs),
    /// Prints a deployed escrow's configuration.
    Config(Target),
    /// Runs a scripted marketplace against a running stack (`scripts/dev`), then the audit; exits 1 if
    /// anything fails or the audit finds a mismatch.
    Demo(demo::DemoArgs),

    // ---------------------------------------------------------------- consumers
    /// Consumer: generates an ed25519 payer key (prints `{ secret, public }`; keep the secret safe).
    Keygen,
    /// Consumer: escrows a deposit for 1 to 4 providers until an expiry; prints the job id.
    OpenJob(consumer::OpenJobArgs),
    /// Consumer: adds funds to an open job (to its unallocated funds, or to a provider's allocation).
    TopUp(consumer::TopUpArgs),
    /// Consumer: raises a provider's allocation at once, from the job's unallocated funds.
    Allocate(allocation::AllocationArgs),
    /// Consumer: lowers a provider's allocation after a thaw period (the provider is paid against the
    /// old allocation until then); what it was not paid returns to the job's unallocated funds.
    Thaw(allocation::AllocationArgs),
    /// Consumer: declares a job done; receipts are still settled for the settle grace.
    Complete(consumer::JobArgs),
    /// Consumer (or anyone): finalizes an ended job, crediting the remainder to its consumer.
    Refund(consumer::JobArgs),
    /// Consumer: disputes a provider of a job (one that accepted it), holding its stake until the job's
    /// arbiter resolves it or the arbitration period ends.
    Dispute(consumer::DisputeArgs),
    /// Consumer's job runner: signs a cumulative usage receipt with the payer key; prints it as the
    /// gateway's JSON.
    Sign(receipts::SignArgs),
    /// Anyone: shows a job with what each provider was released and any dispute.
    Job(jobs::ShowJobArgs),

    // ---------------------------------------------------------------- providers
    /// Provider: bonds stake (accepting a job needs the minimum stake).
    Stake(provider::StakeArgs),
    /// Provider: accepts a job that names it (nothing is paid, disputed or slashed through a job its
    /// provider did not accept); locks the stake until the job's dispute window ends.
    AcceptJob(provider::AcceptJobArgs),
    /// Provider: starts unbonding stake; it is withdrawable after the unbonding delay.
    Unbond(provider::StakeArgs),
    /// Provider: withdraws stake that finished unbonding (no job lock or dispute pending).
    Withdraw(provider::PayoutArgs),
    /// Anyone: shows an account's claimable balance, wallet, stake and reputation.
    Balance(provider::BalanceArgs),
    /// Provider, treasury or consumer: pays the signer's claimable balance out to its wallet.
    Claim(provider::PayoutArgs),
    /// Provider: sends signed receipts (a JSON object or array, from a file or `-` for stdin) to a
    /// gateway, which settles them on chain.
    Submit(receipts::SubmitArgs),

    // ---------------------------------------------------------------- arbiter and owner
    /// Arbiter: resolves a pending dispute, slashing the provider's stake to the consumer or dismissing it.
    Resolve(arbiter::ResolveArgs),
    /// Owner: announces a change of treasury, arbiter, fee for new jobs or minimum stake, applies it once
    /// its admin delay has passed (--apply), or pauses new jobs.
    Settings(owner::SettingsArgs),
    /// Owner: proposes a new owner, who must accept.
    TransferOwnership(owner::TransferArgs),
    /// Proposed owner: accepts ownership of the escrow.
    AcceptOwnership(owner::AcceptArgs),

    // ---------------------------------------------------------------- auditors
    /// Auditor: audits the indexed history: hash chain, typed tables, every job's books and fee, and the
    /// gateway's receipts behind each release. Prints a report; exits 1 on any mismatch.
    Audit(audit::AuditArgs),
    /// Auditor: an account's money movements over a period from the indexer, as CSV or JSON.
    Statement(auditor::StatementArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let Cli { global, command } = Cli::parse();
    match run(command, &global).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => refusal::report(&e, global.json),
    }
}

async fn run(command: Command, g: &Global) -> CliResult {
    match command {
        Command::Serve(a) => services::serve(a).await,
        Command::Index(a) => services::index(a).await,
        Command::Deploy(a) => operator::deploy(a, g).await,
        Command::Config(t) => operator::config(t, g).await,
        Command::Demo(a) => demo::command(a, g).await,
        Command::Keygen => {
            println!("{}", receipts::keygen());
            Ok(())
        }
        Command::OpenJob(a) => consumer::open_job(a, g).await,
        Command::TopUp(a) => consumer::top_up(a, g).await,
        Command::Allocate(a) => allocation::allocate(a, g).await,
        Command::Thaw(a) => allocation::thaw(a, g).await,
        Command::Complete(a) => consumer::complete(a, g).await,
        Command::Refund(a) => consumer::refund(a, g).await,
        Command::Dispute(a) => consumer::dispute(a, g).await,
        Command::Sign(a) => receipts::sign_command(a, g).await,
        Command::Job(a) => jobs::show(a, g).await,
        Command::Stake(a) => provider::stake(a, g).await,
        Command::AcceptJob(a) => provider::accept_job(a, g).await,
        Command::Unbond(a) => provider::unbond(a, g).await,
        Command::Withdraw(a) => provider::withdraw(a, g).await,
        Command::Balance(a) => provider::balance(a, g).await,
        Command::Claim(a) => provider::claim(a, g).await,
        Command::Submit(a) => receipts::submit_command(a).await,
        Command::Resolve(a) => arbiter::resolve(a, g).await,
        Command::Settings(a) => owner::settings(a, g).await,
        Command::TransferOwnership(a) => owner::transfer(a, g).await,
        Command::AcceptOwnership(a) => owner::accept(a, g).await,
        Command::Audit(a) => audit::run(a, g).await,
        Command::Statement(a) => auditor::statement(a, g).await,
    }
}
