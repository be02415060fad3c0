//! `escrow`: the project's command-line tool: run the receipt gateway and the indexer, and audit the
//! indexed history; for consumers, payer keys and signed receipts; for providers, sending receipts,
//! balance and payout; for operators, deploying the escrow contract and showing its configuration.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use escrow_client::accounts::{account, keypair, ss58};
use escrow_client::{Bundle, Chain, Deploy, Escrow};
use settlement::Timing;

#[derive(Parser)]
#[command(name = "escrow", version, about = "Escrow and settlement for a compute marketplace")]
struct Cli {
    /// The node's WebSocket RPC endpoint.
    #[arg(long, env = "ESCROW_NODE_URL", default_value = "ws://127.0.0.1:9944", global = true)]
    url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the receipt gateway (configuration: defaults, then --config FILE, then GATEWAY__* variables).
    Serve {
        /// A TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Runs the indexer: mirrors the escrow's events into Postgres and serves the auditor API
    /// (configuration: defaults, then --config FILE, then INDEXER__* variables).
    Index {
        /// A TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Audits the indexed history: hash chain, typed tables, every job's books and fee, and the
    /// gateway's receipts behind each release. Prints a report; exits 1 on any mismatch.
    Audit {
        /// The indexer's TOML configuration file (for its database_url; INDEXER__* also apply).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only this job's books (the hash chain and tables are always checked in full).
        #[arg(long)]
        job: Option<u64>,
        /// The gateway's database, to check each release against the receipt it stored.
        #[arg(long, env = "ESCROW_GATEWAY_DATABASE_URL")]
        gateway_database_url: Option<String>,
        /// Also compare every block and its escrow events with the node at --url.
        #[arg(long)]
        against_node: bool,
    },
    /// Runs a scripted marketplace against a running stack (`scripts/dev`), then the audit; exits 1 if
    /// anything fails or the audit finds a mismatch.
    Demo {
        /// The escrow contract's address.
        #[arg(long, env = "ESCROW_CONTRACT")]
        contract: String,
        /// The contract bundle (`escrow.contract`).
        #[arg(long, env = "ESCROW_BUNDLE")]
        bundle: PathBuf,
        /// The gateway's base URL.
        #[arg(long, env = "ESCROW_GATEWAY", default_value = "http://127.0.0.1:8080")]
        gateway: String,
        /// The indexer's base URL.
        #[arg(long, env = "ESCROW_INDEXER", default_value = "http://127.0.0.1:8090")]
        indexer: String,
        /// The indexer's TOML configuration file (for its database_url; INDEXER__* also apply).
        #[arg(long)]
        indexer_config: Option<PathBuf>,
        /// The gateway's database, so the audit checks each release against its stored receipt.
        #[arg(long, env = "ESCROW_GATEWAY_DATABASE_URL")]
        gateway_database_url: Option<String>,
    },
    /// Uploads and instantiates the escrow contract; prints its address.
    Deploy {
        /// The contract bundle (`escrow.contract`).
        #[arg(long, env = "ESCROW_BUNDLE")]
        bundle: PathBuf,
        /// Secret URI of the deployer, who becomes the owner.
        #[arg(long, default_value = "//Alice")]
        suri: String,
        /// Fee recipient.
        #[arg(long, default_value = "//Eve")]
        treasury: String,
        /// Dispute resolver.
        #[arg(long, default_value = "//Ferdie")]
        arbiter: String,
        /// Platform fee in basis points (at most 1000).
        #[arg(long, default_value_t = settlement::fee::DEFAULT_FEE_BPS)]
        fee_bps: u16,
        /// Minimum provider stake, in the chain's smallest unit.
        #[arg(long, default_value_t = 100_000_000_000_000)]
        min_stake: u128,
        /// Unbonding delay in ms (must exceed the dispute window).
        #[arg(long, default_value_t = 2 * 3_600_000)]
        unbond_delay_ms: u64,
        /// Dispute window after a job ends, in ms.
        #[arg(long, default_value_t = 3_600_000)]
        dispute_window_ms: u64,
        /// Receipts still accepted this long after the consumer completes a job, in ms.
        #[arg(long, default_value_t = 600_000)]
        settle_grace_ms: u64,
        /// Longest job, in ms.
        #[arg(long, default_value_t = 30 * 24 * 3_600_000)]
        max_job_duration_ms: u64,
        /// Salt for the contract address.
        #[arg(long, default_value = "")]
        salt: String,
    },
    /// Generates an ed25519 payer key (prints `{ secret, public }`; keep the secret safe).
    Keygen,
    /// Signs a usage receipt with a payer key; prints it as the gateway's JSON.
    Sign {
        /// File with the payer key (from `keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The escrow contract's address.
        #[arg(long, env = "ESCROW_CONTRACT")]
        contract: String,
        /// The chain's genesis hash (hex); read from the node when omitted.
        #[arg(long)]
        genesis_hash: Option<String>,
        /// The job.
        #[arg(long)]
        job: u64,
        /// The provider paid.
        #[arg(long)]
        provider: String,
        /// Cumulative amount owed to this provider on this job (smallest units).
        #[arg(long)]
        amount: u128,
        /// Cumulative usage units.
        #[arg(long, default_value_t = 0)]
        units: u128,
        /// Sequence number (strictly increasing per job and provider, from 1).
        #[arg(long)]
        sequence: u64,
        /// Expiry, ms since the Unix epoch (default: in 24 hours).
        #[arg(long)]
        expires_at: Option<u64>,
    },
    /// Sends signed receipts (a JSON object or array, from a file or `-` for stdin) to a gateway.
    Submit {
        /// The gateway's base URL.
        #[arg(long, env = "ESCROW_GATEWAY", default_value = "http://127.0.0.1:8080")]
        gateway: String,
        /// The receipts.
        file: PathBuf,
    },
    /// Shows an account's claimable balance, stake and reputation.
    Balance {
        /// The escrow contract's address.
        #[arg(long, env = "ESCROW_CONTRACT")]
        contract: String,
        /// The contract bundle (`escrow.contract`).
        #[arg(long, env = "ESCROW_BUNDLE")]
        bundle: PathBuf,
        /// The account (SS58, hex or secret URI).
        account: String,
    },
    /// Pays out the signer's claimable balance (provider earnings, treasury fees, consumer refunds).
    Claim {
        /// The escrow contract's address.
        #[arg(long, env = "ESCROW_CONTRACT")]
        contract: String,
        /// The contract bundle (`escrow.contract`).
        #[arg(long, env = "ESCROW_BUNDLE")]
        bundle: PathBuf,
        /// Secret URI of the account to pay out.
        #[arg(long)]
        suri: String,
    },
    /// Prints a deployed escrow's configuration.
    Config {
        /// The escrow contract's address.
        #[arg(long, env = "ESCROW_CONTRACT")]
        contract: String,
        /// The contract bundle (`escrow.contract`).
        #[arg(long, env = "ESCROW_BUNDLE")]
        bundle: PathBuf,
    },
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve(config.as_deref()).await?,
        Command::Index { config } => {
            init_logging();
            indexer::service::serve(indexer::Config::load(config.as_deref())?, shutdown()).await?;
            tracing::info!("indexer stopped");
        }
        Command::Demo { contract, bundle, gateway: gateway_url, indexer, indexer_config, gateway_database_url } => {
            let chain = Chain::connect(&cli.url).await?;
            let escrow = Escrow::at(&chain, Arc::new(Bundle::load(&bundle)?), account(&contract)?);
            let stack = gateway::demo::Stack { escrow, gateway: gateway_url, indexer };
            let outcome = gateway::demo::run(&stack).await?;
            println!("\n== audit");
            let config = indexer::Config::load(indexer_config.as_deref())?;
            let clean = audit(&config, None, gateway_database_url.as_deref(), Some(&cli.url)).await?;
            println!("\n== demo summary");
            for line in &outcome.lines {
                println!("  {line}");
            }
            println!(
                "  audit: {}",
                if clean { "every job balanced, every fee exact, hash chain intact" } else { "MISMATCH (see above)" }
            );
            if !clean {
                std::process::exit(1);
            }
        }
        Command::Audit { config, job, gateway_database_url, against_node } => {
            let config = indexer::Config::load(config.as_deref())?;
            let node = against_node.then_some(cli.url.as_str());
            let clean = audit(&config, job, gateway_database_url.as_deref(), node).await?;
            if !clean {
                std::process::exit(1);
            }
        }
        Command::Deploy {
            bundle,
            suri,
            treasury,
            arbiter,
            fee_bps,
            min_stake,
            unbond_delay_ms,
            dispute_window_ms,
            settle_grace_ms,
            max_job_duration_ms,
            salt,
        } => {
            let signer = keypair(&suri)?;
            let params = Deploy {
                treasury: account(&treasury)?,
                arbiter: account(&arbiter)?,
                fee_bps,
                min_stake,
                timing: Timing {
                    unbond_delay: unbond_delay_ms,
                    dispute_window: dispute_window_ms,
                    settle_grace: settle_grace_ms,
                    max_job_duration: max_job_duration_ms,
                },
                salt: salt.into_bytes(),
            };
            let chain = Chain::connect(&cli.url).await?;
            let escrow = Escrow::deploy(&chain, &signer, Arc::new(Bundle::load(&bundle)?), &params).await?;
            println!("{}", ss58(escrow.address()));
        }
        Command::Keygen => println!("{}", gateway::cli::keygen()),
        Command::Sign { key, contract, genesis_hash, job, provider, amount, units, sequence, expires_at } => {
            let genesis_hash = match genesis_hash {
                Some(hex) => gateway::wire::bytes::<32>("genesis_hash", &hex)?,
                None => Chain::connect(&cli.url).await?.genesis_hash(),
            };
            let args = gateway::cli::ReceiptArgs {
                genesis_hash,
                contract: account(&contract)?,
                job_id: job,
                provider: account(&provider)?,
                amount,
                units,
                sequence,
                expires_at: expires_at.unwrap_or_else(|| gateway::intake::now_ms().saturating_add(86_400_000)),
            };
            let signed = gateway::cli::sign(&gateway::cli::payer_key(&key)?, &args);
            println!("{}", serde_json::to_string_pretty(&signed)?);
        }
        Command::Submit { gateway: url, file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)?
            };
            let (status, answer) = gateway::cli::submit(&url, &serde_json::from_str(&text)?).await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            if !(200..300).contains(&status) {
                return Err(format!("the gateway answered {status}").into());
            }
        }
        Command::Balance { contract, bundle, account: who } => {
            let chain = Chain::connect(&cli.url).await?;
            let escrow = Escrow::at(&chain, Arc::new(Bundle::load(&bundle)?), account(&contract)?);
            println!("{}", serde_json::to_string_pretty(&gateway::cli::balance(&escrow, account(&who)?).await?)?);
        }
        Command::Claim { contract, bundle, suri } => {
            let chain = Chain::connect(&cli.url).await?;
            let escrow = Escrow::at(&chain, Arc::new(Bundle::load(&bundle)?), account(&contract)?);
            println!("claimed {}", gateway::cli::claim(&escrow, &keypair(&suri)?).await?);
        }
        Command::Config { contract, bundle } => {
            let chain = Chain::connect(&cli.url).await?;
            let escrow = Escrow::at(&chain, Arc::new(Bundle::load(&bundle)?), account(&contract)?);
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
        }
    }
    Ok(())
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
}

/// Runs the audit and prints its report; `true` if everything checked out.
async fn audit(
    config: &indexer::Config,
    job: Option<u64>,
    gateway_db: Option<&str>,
    node_url: Option<&str>,
) -> Result<bool, BoxError> {
    let db = indexer::db::Db::connect(&config.database_url, 2).await?;
    let mut report = indexer::audit::audit(&db, job).await?;
    if let Some(url) = node_url {
        report.check_against_node(&db, &Chain::connect(url).await?).await?;
    }
    if let Some(url) = gateway_db {
        let gateway = gateway::store::Store::connect(url, 2).await?;
        let keys: Vec<_> = report.ledger.releases.iter().map(|r| (r.job, r.provider, r.sequence)).collect();
        let mut stored = std::collections::HashMap::new();
        for chunk in keys.chunks(10_000) {
            for s in gateway.receipts_at(chunk).await? {
                let key = (s.receipt.job_id, s.receipt.provider, s.receipt.sequence);
                stored.insert(key, indexer::audit::StoredReceipt { receipt: s.receipt, signature: s.signature });
            }
        }
        report.check_receipts(&stored);
    }
    print!("{}", report.render());
    Ok(report.is_clean())
}

async fn serve(config_file: Option<&std::path::Path>) -> Result<(), BoxError> {
    init_logging();
    let config = gateway::Config::load(config_file)?;
    let db = gateway::store::Store::connect(&config.database_url, config.database_max_connections).await?;
    let chain = Chain::connect(&config.node_url).await?;
    let escrow = Escrow::at(&chain, Arc::new(Bundle::load(&config.bundle)?), account(&config.contract)?);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, contract = %ss58(escrow.address()), "gateway ready");
    // The secret stays out of the error: a bad key is reported without echoing it.
    let relayer = config
        .relayer()?
        .map(|secret| keypair(&secret.0).map_err(|_| "the relayer key is not a valid secret URI"))
        .transpose()?;
    let state = gateway::AppState::new(config, db, escrow);
    let follower = tokio::spawn(state.views.clone().follow());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let settler = match relayer {
        Some(signer) => {
            let settler = gateway::settle::Settler::new(
                state.db.clone(),
                state.escrow.clone(),
                state.views.clone(),
                signer,
                state.config.settle_policy(),
                state.metrics.clone(),
            );
            let interval = std::time::Duration::from_millis(state.config.settle_interval_ms);
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(settler.run(interval, async move {
                let _ = stop.wait_for(|s| *s).await;
            })))
        }
        None => {
            tracing::warn!("no relayer key configured: receipts are accepted but not released");
            None
        }
    };
    axum::serve(listener, gateway::app(state)).with_graceful_shutdown(shutdown()).await?;
    let _ = stop_tx.send(true);
    if let Some(settler) = settler {
        let _ = settler.await;
    }
    follower.abort();
    tracing::info!("gateway stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return ctrl_c.await.unwrap_or_default(),
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
