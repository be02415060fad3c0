//! Gateway configuration, layered: built-in defaults, then an optional TOML file, then environment
//! variables `GATEWAY__KEY` (nested keys joined by `__`). Unknown keys are refused at every layer.

use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Everything the gateway needs to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// Postgres connection URL.
    pub database_url: String,
    /// Most Postgres connections.
    pub database_max_connections: u32,
    /// The node's WebSocket RPC endpoint.
    pub node_url: String,
    /// The escrow contract's address (SS58 or 0x hex).
    pub contract: String,
    /// The escrow's `.contract` bundle (code + metadata).
    pub bundle: String,
    /// Most receipts in one request.
    pub max_batch: usize,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "postgres://postgres@127.0.0.1:5432/postgres".into(),
            database_max_connections: 16,
            node_url: "ws://127.0.0.1:9944".into(),
            contract: String::new(),
            bundle: String::new(),
            max_batch: 10_000,
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The prefix of the gateway's environment variables.
pub const ENV_PREFIX: &str = "GATEWAY__";

impl Config {
    /// Defaults, then `file` if given, then `GATEWAY__*` from the environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        Self::from_figment(Self::figment(file).merge(Env::prefixed(ENV_PREFIX).split("__")))
    }

    fn figment(file: Option<&Path>) -> Figment {
        let base = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => base.merge(Toml::file_exact(path)),
            None => base,
        }
    }

    fn from_figment(figment: Figment) -> Result<Self> {
        let config: Config = figment.extract().map_err(|e| Error::Config(e.to_string()))?;
        if config.max_batch == 0 || config.max_body_bytes == 0 {
            return Err(Error::Config("max_batch and max_body_bytes must be positive".into()));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn layers_apply_in_order_and_unknown_keys_are_refused() {
        Jail::expect_with(|jail| {
            jail.create_file("gateway.toml", "max_batch = 50\nnode_url = \"ws://file:1\"\n")?;
            jail.set_env("GATEWAY__MAX_BATCH", "70");
            let path = Path::new("gateway.toml");
            let c = Config::load(Some(path)).map_err(|e| e.to_string())?;
            assert_eq!(c.max_batch, 70, "env beats file");
            assert_eq!(c.node_url, "ws://file:1", "file beats defaults");
            assert_eq!(c.max_body_bytes, Config::default().max_body_bytes, "defaults fill the rest");

            jail.create_file("bad.toml", "max_bach = 5\n")?;
            let err = Config::load(Some(Path::new("bad.toml"))).expect_err("typo refused").to_string();
            assert!(err.contains("max_bach"), "{err}");
            jail.set_env("GATEWAY__NOPE", "1");
            assert!(Config::load(None).is_err(), "unknown env key refused");
            Ok(())
        });
    }

    #[test]
    fn zero_limits_are_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("GATEWAY__MAX_BATCH", "0");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }
}
