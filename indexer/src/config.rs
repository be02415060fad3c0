//! Indexer configuration, layered by the one loader of both services ([`service_kit::config`]):
//! built-in defaults, then an optional TOML file, then `ESCROW_NODE_URL` / `ESCROW_CONTRACT` /
//! `ESCROW_BUNDLE`, then `INDEXER__KEY` variables. Unknown keys are refused at every layer.

use std::net::SocketAddr;
use std::path::Path;

use escrow_client::accounts::account;
use escrow_client::AccountId;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Everything the indexer needs to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the auditor API listens.
    pub listen: SocketAddr,
    /// Postgres connection URL (its own database: the indexer's tables and migrations).
    pub database_url: String,
    /// Most Postgres connections of the follower (the API has its own, `api_max_connections`).
    pub database_max_connections: u32,
    /// Most Postgres connections of the auditor API: a pool apart from the follower's, so no load on the
    /// API can take the follower's connections.
    pub api_max_connections: u32,
    /// Postgres cancels an API statement that runs longer than this, in ms.
    pub api_statement_timeout_ms: u64,
    /// Most API requests served at once; more are shed with 503 `overloaded`.
    pub api_max_in_flight: usize,
    /// The longest an API request may take until its answer starts, in ms (503 `timeout`).
    pub api_request_timeout_ms: u64,
    /// The node's WebSocket RPC endpoint. Backfilling old blocks needs their state: run the node with
    /// `--state-pruning archive`.
    pub node_url: String,
    /// The escrow contract's address (SS58 or 0x hex).
    pub contract: String,
    /// The escrow's `.contract` bundle (its metadata names the events).
    pub bundle: String,
    /// The first block to index (the contract's deployment block, or 0). Fixed once indexing began.
    pub start_block: u64,
    /// Blocks fetched from the node at once during backfill.
    pub fetch_concurrency: usize,
    /// Most blocks written in one transaction.
    pub batch_blocks: usize,
    /// A batch is written as soon as it holds this many events.
    pub batch_events: usize,
    /// How often the head is polled when the finality subscription is quiet, in ms.
    pub poll_interval_ms: u64,
    /// First and longest wait between reconnection attempts, in ms (doubling in between).
    pub reconnect_min_ms: u64,
    /// See `reconnect_min_ms`.
    pub reconnect_max_ms: u64,
    /// Draw a progress bar during backfill (only when stderr is a terminal).
    pub progress: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            database_url: "postgres://postgres@127.0.0.1:5432/indexer".into(),
            database_max_connections: 8,
            api_max_connections: 8,
            api_statement_timeout_ms: 10_000,
            api_max_in_flight: 64,
            api_request_timeout_ms: 30_000,
            node_url: "ws://127.0.0.1:9944".into(),
            contract: String::new(),
            bundle: String::new(),
            start_block: 0,
            fetch_concurrency: 16,
            batch_blocks: 256,
            batch_events: 20_000,
            poll_interval_ms: 2_000,
            reconnect_min_ms: 250,
            reconnect_max_ms: 10_000,
            progress: true,
        }
    }
}

/// The prefix of the indexer's environment variables.
pub const ENV_PREFIX: &str = "INDEXER__";

impl Config {
    /// Defaults, then `file` if given, then `ESCROW_*` and `INDEXER__*` from the environment
    /// ([`service_kit::config`]); then the values are checked.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let config: Config = service_kit::config::load(ENV_PREFIX, file).map_err(|e| Error::Config(e.to_string()))?;
        if config.fetch_concurrency == 0 || config.batch_blocks == 0 || config.batch_events == 0 {
            return Err(Error::Config("fetch_concurrency, batch_blocks and batch_events must be positive".into()));
        }
        if config.api_max_connections == 0
            || config.api_statement_timeout_ms == 0
            || config.api_max_in_flight == 0
            || config.api_request_timeout_ms == 0
        {
            return Err(Error::Config(
                "api_max_connections, api_statement_timeout_ms, api_max_in_flight and api_request_timeout_ms \
                 must be positive"
                    .into(),
            ));
        }
        if config.reconnect_min_ms == 0 || config.reconnect_max_ms < config.reconnect_min_ms {
            return Err(Error::Config("need 0 < reconnect_min_ms <= reconnect_max_ms".into()));
        }
        Ok(config)
    }

    /// What the API admits ([`crate::admission`]).
    #[must_use]
    pub const fn api_bounds(&self) -> crate::admission::Bounds {
        crate::admission::Bounds {
            max_in_flight: self.api_max_in_flight,
            request_timeout: std::time::Duration::from_millis(self.api_request_timeout_ms),
        }
    }

    /// The configured escrow contract: what the database must have been built for, when indexing and
    /// when auditing. Unset or unreadable is a [`Error::Config`].
    pub fn contract_id(&self) -> Result<AccountId> {
        if self.contract.is_empty() {
            return Err(Error::Config(
                "contract is not set (ESCROW_CONTRACT, INDEXER__CONTRACT or `contract` in the file)".into(),
            ));
        }
        account(&self.contract).map_err(|e| Error::Config(format!("contract: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn layers_apply_in_order_and_unknown_keys_are_refused() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("indexer.toml", "start_block = 5\nnode_url = \"ws://file:1\"\n")?;
            jail.set_env("INDEXER__START_BLOCK", "9");
            let c = Config::load(Some(Path::new("indexer.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.start_block, 9, "env beats file");
            assert_eq!(c.node_url, "ws://file:1", "file beats defaults");
            assert_eq!(c.batch_events, Config::default().batch_events, "defaults fill the rest");
            jail.create_file("bad.toml", "start_blok = 5\n")?;
            let err = Config::load(Some(Path::new("bad.toml"))).expect_err("typo refused").to_string();
            assert!(err.contains("start_blok"), "{err}");
            jail.set_env("INDEXER__NOPE", "1");
            assert!(Config::load(None).is_err(), "unknown env key refused");
            Ok(())
        });
    }

    #[test]
    fn the_contract_must_be_set_and_readable() {
        assert!(matches!(Config::default().contract_id(), Err(Error::Config(_))), "unset");
        let with = |contract: &str| Config { contract: contract.into(), ..Config::default() }.contract_id();
        assert!(matches!(with("nope"), Err(Error::Config(_))));
        assert_eq!(with(&format!("0x{}", "02".repeat(32))).ok(), Some([2; 32]));
    }

    #[test]
    fn zero_sizes_and_inverted_backoff_are_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("INDEXER__BATCH_EVENTS", "0");
            assert!(Config::load(None).is_err());
            jail.set_env("INDEXER__BATCH_EVENTS", "10");
            jail.set_env("INDEXER__RECONNECT_MAX_MS", "1");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }
}
