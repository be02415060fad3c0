//! `escrow serve` and `escrow index`: the two long-running services, each loaded from its layered
//! configuration and run until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use clap::Args;

use crate::context::{init_logging, shutdown, CliResult};

/// A service's configuration file.
#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// A TOML configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs the receipt gateway.
pub async fn serve(args: ServiceArgs) -> CliResult {
    init_logging();
    gateway::serve(gateway::Config::load(args.config.as_deref())?, shutdown()).await?;
    tracing::info!("gateway stopped");
    Ok(())
}

/// Runs the indexer and its auditor API.
pub async fn index(args: ServiceArgs) -> CliResult {
    init_logging();
    indexer::service::serve(indexer::Config::load(args.config.as_deref())?, shutdown()).await?;
    tracing::info!("indexer stopped");
    Ok(())
}
