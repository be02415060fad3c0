//! What every command shares: the node's address and the output options (`--json`, `--planck`), the
//! escrow a command talks to, the error type, and the process plumbing of the long-running services
//! (logging, shutdown on Ctrl-C or SIGTERM).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use escrow_client::accounts::account;
use escrow_client::{Bundle, Chain, Escrow};

use crate::output::Out;

/// Any command's failure; `main` prints it and exits 1 (3 for the escrow's refusal).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A command's result.
pub type CliResult<T = ()> = Result<T, BoxError>;

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The node's WebSocket RPC endpoint (the services read the same variable, ESCROW_NODE_URL).
    #[arg(long, alias = "url", env = "ESCROW_NODE_URL", default_value = "ws://127.0.0.1:9944", global = true)]
    pub node_url: String,
    /// Print one JSON object instead of lines for people (amounts as strings).
    #[arg(long, global = true)]
    pub json: bool,
    /// Read and print amounts as whole planck, the chain's smallest unit, instead of tokens.
    #[arg(long, global = true)]
    pub planck: bool,
}

/// The deployed escrow a command talks to.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The escrow contract's address (SS58 or 0x hex).
    #[arg(long, env = "ESCROW_CONTRACT")]
    pub contract: String,
    /// The contract bundle (`escrow.contract`), for its metadata.
    #[arg(long, env = "ESCROW_BUNDLE")]
    pub bundle: PathBuf,
}

impl Target {
    /// Connects to the node and binds the escrow.
    pub async fn connect(&self, global: &Global) -> CliResult<Escrow> {
        let chain = Chain::connect(&global.node_url).await?;
        Ok(Escrow::at(&chain, Arc::new(Bundle::load(&self.bundle)?), account(&self.contract)?))
    }

    /// Connects, binds the escrow and reads the chain's token for the output options.
    pub async fn open(&self, global: &Global) -> CliResult<(Escrow, Out)> {
        let escrow = self.connect(global).await?;
        // With --planck no amount is converted, so the token is not even asked for.
        let out = if global.planck {
            Out::with_token(global, escrow_client::Token::dev())
        } else {
            Out::of(global, escrow.chain()).await?
        };
        Ok((escrow, out))
    }
}

/// Logs to stderr, `RUST_LOG` filtered (default: info, sqlx warnings only).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown() {
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
