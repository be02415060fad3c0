//! `escrow audit`: the indexed history checked from scratch (the indexer's audit), optionally against
//! the node and against the receipts the gateway stored. This is where the two services meet: the
//! binary hands the indexer's audit the gateway's receipts.

use std::path::PathBuf;

use clap::Args;
use escrow_client::accounts::account;
use escrow_client::{AccountId, Chain};
use indexer::audit::{ReceiptKey, ReceiptSource, StoredReceipt};

use crate::context::{CliResult, Global};

/// `escrow audit`'s options.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The indexer's TOML configuration file (for its database_url; INDEXER__* also apply).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Only this job's books (the hash chain and tables are always checked in full).
    #[arg(long)]
    pub job: Option<u64>,
    /// The gateway's database, to check each release against the receipt it stored.
    #[arg(long, env = "ESCROW_GATEWAY_DATABASE_URL")]
    pub gateway_database_url: Option<String>,
    /// Also compare the chain, every block and its escrow events with the node at --node-url.
    #[arg(long)]
    pub against_node: bool,
    /// The escrow contract the indexer's database must have been built for (SS58 or 0x hex; default:
    /// the indexer configuration's, e.g. ESCROW_CONTRACT).
    #[arg(long)]
    pub contract: Option<String>,
}

/// Runs `escrow audit`; exits 1 on any mismatch.
pub async fn run(args: AuditArgs, global: &Global) -> CliResult {
    let config = indexer::Config::load(args.config.as_deref())?;
    let contract = match &args.contract {
        Some(contract) => account(contract)?,
        None => config.contract_id()?,
    };
    let node = args.against_node.then_some(global.node_url.as_str());
    if !audit(&config, &contract, args.job, args.gateway_database_url.as_deref(), node).await? {
        std::process::exit(1);
    }
    Ok(())
}

/// Runs the audit of the database built for `contract` and prints its report; `true` if everything
/// checked out.
pub async fn audit(
    config: &indexer::Config,
    contract: &AccountId,
    job: Option<u64>,
    gateway_db: Option<&str>,
    node_url: Option<&str>,
) -> CliResult<bool> {
    let db = indexer::store::Db::connect(&config.database_url, 2).await?;
    let mut report = indexer::audit::audit(&db, contract, job).await?;
    if let Some(url) = node_url {
        report.check_against_node(&db, &Chain::connect(url).await?).await?;
    }
    if let Some(url) = gateway_db {
        let gateway = GatewayReceipts(gateway::store::Store::connect(url, 2).await?);
        report.check_receipts_from(&gateway).await?;
        report.check_promises_from(&gateway).await?;
    }
    print!("{}", report.render());
    Ok(report.is_clean())
}

/// The gateway's stored receipts, as the indexer's audit asks for them: the one place the two services
/// meet.
struct GatewayReceipts(gateway::store::Store);

impl ReceiptSource for GatewayReceipts {
    type Error = gateway::Error;

    async fn receipts_at(&self, keys: &[ReceiptKey]) -> gateway::Result<Vec<StoredReceipt>> {
        let stored = self.0.receipts_at(keys).await?;
        Ok(stored.into_iter().map(|s| StoredReceipt { receipt: s.receipt, signature: s.signature }).collect())
    }

    async fn accepted_lanes(&self, jobs: &[u64]) -> gateway::Result<Vec<ReceiptKey>> {
        let lanes = self.0.lanes_of(jobs).await?;
        Ok(lanes
            .into_iter()
            .flat_map(|(job, lanes)| lanes.into_iter().map(move |l| (job, l.provider, l.lane.amount)))
            .collect())
    }
}
