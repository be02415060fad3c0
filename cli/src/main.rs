//! `escrow`: the project's one binary. It parses the command line and hands each command to the module
//! of its family; the services themselves live in the `gateway` and `indexer` libraries.

mod audit;
mod context;
mod demo;
mod operator;
mod provider;
mod receipts;
mod services;

use clap::{Parser, Subcommand};

use context::{CliResult, Global, Target};

#[derive(Parser)]
#[command(name = "escrow", version, about = "Escrow and settlement for a compute marketplace")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the receipt gateway (configuration: defaults, then --config FILE, then ESCROW_* and
    /// GATEWAY__* variables).
    Serve(services::ServiceArgs),
    /// Runs the indexer: mirrors the escrow's events into Postgres and serves the auditor API
    /// (configuration: defaults, then --config FILE, then ESCROW_* and INDEXER__* variables).
    Index(services::ServiceArgs),
    /// Audits the indexed history: hash chain, typed tables, every job's books and fee, and the
    /// gateway's receipts behind each release. Prints a report; exits 1 on any mismatch.
    Audit(audit::AuditArgs),
    /// Runs a scripted marketplace against a running stack (`scripts/dev`), then the audit; exits 1 if
    /// anything fails or the audit finds a mismatch.
    Demo(demo::DemoArgs),
    /// Uploads and instantiates the escrow contract; prints its address.
    Deploy(operator::DeployArgs),
    /// Prints a deployed escrow's configuration.
    Config(Target),
    /// Generates an ed25519 payer key (prints `{ secret, public }`; keep the secret safe).
    Keygen,
    /// Signs a usage receipt with a payer key; prints it as the gateway's JSON.
    Sign(receipts::SignArgs),
    /// Sends signed receipts (a JSON object or array, from a file or `-` for stdin) to a gateway.
    Submit(receipts::SubmitArgs),
    /// Shows an account's claimable balance, stake and reputation.
    Balance(provider::BalanceArgs),
    /// Pays out the signer's claimable balance (provider earnings, treasury fees, consumer refunds).
    Claim(provider::ClaimArgs),
}

#[tokio::main]
async fn main() -> CliResult {
    let Cli { global, command } = Cli::parse();
    let g = &global;
    match command {
        Command::Serve(a) => services::serve(a).await,
        Command::Index(a) => services::index(a).await,
        Command::Audit(a) => audit::run(a, g).await,
        Command::Demo(a) => demo::command(a, g).await,
        Command::Deploy(a) => operator::deploy(a, g).await,
        Command::Config(t) => operator::config(t, g).await,
        Command::Keygen => {
            println!("{}", receipts::keygen());
            Ok(())
        }
        Command::Sign(a) => receipts::sign_command(a, g).await,
        Command::Submit(a) => receipts::submit_command(a).await,
        Command::Balance(a) => provider::balance(a, g).await,
        Command::Claim(a) => provider::claim(a, g).await,
    }
}
