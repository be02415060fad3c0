//! Gateway configuration, layered by the one loader of both services ([`service_kit::config`]):
//! built-in defaults, then an optional TOML file, then `ESCROW_NODE_URL` / `ESCROW_CONTRACT` /
//! `ESCROW_BUNDLE`, then `GATEWAY__KEY` variables. Unknown keys are refused at every layer.

use std::net::SocketAddr;
use std::path::Path;

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
    /// Most distinct jobs the receipts of one request may name (each unkept one costs a node read); a
    /// request naming more is refused whole (`too_many_jobs`).
    pub max_jobs_per_request: usize,
    /// Requests served at once, all clients together; more are shed (503 `overloaded`). See
    /// [`crate::limits`].
    pub max_in_flight: usize,
    /// Requests served at once for one client (an IPv4 address or an IPv6 /64).
    pub client_max_in_flight: u32,
    /// Requests per second one client may send (0: no limit) ...
    pub client_requests_per_second: u32,
    /// ... with bursts of this many.
    pub client_request_burst: u32,
    /// Receipts per second one client may send (0: no limit) ...
    pub client_receipts_per_second: u32,
    /// ... with bursts of this many (at least `max_batch`).
    pub client_receipt_burst: u32,
    /// Request body KiB per second one client may send (0: no limit), charged before the body is parsed
    /// ...
    pub client_kib_per_second: u32,
    /// ... with bursts of this many (at least `max_body_bytes`, in KiB).
    pub client_kib_burst: u32,
    /// Receipts with bad signatures per second one client may send (0: no limit); past its budget a
    /// client's receipts are refused unverified and its requests turned away for a while
    /// (`too_many_refusals`) ...
    pub client_bad_signatures_per_second: u32,
    /// ... with bursts of this many.
    pub client_bad_signature_burst: u32,
    /// Receipts per second all new clients (none of whose receipts was accepted in the last 10 min) may
    /// send together (0: no shared limit), besides each one's own ...
    pub new_clients_receipts_per_second: u32,
    /// ... and body KiB per second.
    pub new_clients_kib_per_second: u32,
    /// Client slots kept by the limits (their memory bound; clients sharing a slot share its budget).
    pub client_slots: u64,
    /// Behind a reverse proxy: the header it appends the client's address to (e.g. `x-forwarded-for`);
    /// the last entry of its last line is taken, and only from `trusted_proxies`. Unset: the connection's
    /// address.
    pub client_ip_header: Option<String>,
    /// The proxies (IP addresses) whose `client_ip_header` is believed; needed with it.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The longest a request may take, in ms (then 503 `timeout`).
    pub request_timeout_ms: u64,
    /// Connections open at once, all clients together (more wait in the kernel's backlog); see
    /// [`crate::listener`].
    pub max_connections: usize,
    /// Connections open at once from one client address (more are closed at once).
    pub client_max_connections: u32,
    /// A connection idle this long, in ms, is closed; more than `request_timeout_ms`.
    pub connection_idle_ms: u64,
    /// A connection whose request head (request line and headers) takes longer than this to arrive is
    /// closed, in ms: a client trickling its headers cannot hold a connection ([`crate::server`]).
    pub header_read_timeout_ms: u64,
    /// Refused receipts kept whole per code per minute (all are counted); see [`crate::refusals`].
    pub refusal_samples_per_minute: u32,
    /// Most refused receipts kept whole in all.
    pub refusal_sample_cap: u64,
    /// Refused receipts kept whole are deleted after this many seconds.
    pub refusal_sample_max_age_s: u64,
    /// Refusal counts (per code and hour) are deleted after this many seconds.
    pub refusal_count_max_age_s: u64,
    /// A receipt is accepted only if it (and its job) stays valid at least this long, in ms, so that
    /// the release can still land before the chain would refuse it; one valid now that expires (or
    /// whose job ends) within it is refused as `expires_too_soon` (`job_ends_too_soon`).
    pub accept_margin_ms: u64,
    /// Most jobs whose receipts commit in one transaction (each holds an advisory lock until the commit,
    /// and Postgres's lock table is shared and bounded: `max_locks_per_transaction`). A batch over more
    /// jobs commits in several transactions, in job order.
    pub max_jobs_per_transaction: usize,
    /// Workers committing concurrent requests' receipts together (group commit), each in its own
    /// transaction; see [`crate::commit`].
    pub commit_workers: usize,
    /// A commit worker stops taking queued requests once it holds this many receipts.
    pub commit_max_receipts: usize,
    /// Most job views kept between requests (0 keeps none: every request reads its jobs from the node).
    /// Kept views follow the finalized chain; see [`crate::views`].
    pub job_view_capacity: usize,
    /// Secret URI of the account that submits releases (pays their fees; holds no power over funds).
    /// Prefer `relayer_key_file` or the `GATEWAY__RELAYER_SURI` variable to a config file.
    pub relayer_suri: Option<Secret>,
    /// A file holding the relayer's secret URI.
    pub relayer_key_file: Option<String>,
    /// How often the settlement loop looks for receipts to release, in ms.
    pub settle_interval_ms: u64,
    /// Release a lane once its unreleased amount reaches this (smallest units).
    pub settle_threshold: Amount,
    /// ... or once its oldest unreleased receipt is this old, in ms: not a safety rule (the threshold,
    /// a pending thaw, the job's completion and the deadlines are), a cap on how long a provider waits
    /// for an amount below the threshold.
    pub settle_max_age_ms: u64,
    /// ... or at once when its job is completed or ends within this many ms.
    pub settle_expiry_margin_ms: u64,
    /// Most receipts released by one extrinsic.
    pub settle_max_batch: usize,
    /// Most release extrinsics one settlement tick sends before following them to finality together.
    pub settle_max_extrinsics: usize,
    /// The longest one settlement tick may take, its waits on the chain included, in ms; a tick cut
    /// short is resolved by the next one's recovery.
    pub settle_tick_timeout_ms: u64,
    /// The relayer's balance (smallest units) below which it is taken to be unable to pay for releases:
    /// `/readyz` fails and the log says so.
    pub relayer_min_balance: Amount,
    /// Receipts are kept at least this long after acceptance, in s. Past it, once the chain's finalized
    /// release of their lane covers them, those the lane no longer needs are deleted and the lane keeps
    /// a commitment to them ([`crate::commitment`]): the time a provider has to copy the receipts others
    /// sent for its lane, should it want to prove them later.
    pub retention_keep_s: u64,
    /// Time between compaction passes, in s.
    pub retention_interval_s: u64,
    /// Most lanes one compaction pass looks at.
    pub retention_lanes_per_pass: usize,
    /// Most receipts one lane's compaction covers in a pass.
    pub retention_receipts_per_lane: usize,
}

/// An amount in the chain's smallest unit: a decimal string (any `u128`) or an integer (TOML and the
/// configuration layers carry no 128-bit integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(pub u128);

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Self(u128::from(n))),
            Raw::Text(t) => {
                t.parse().map(Self).map_err(|_| serde::de::Error::custom(format!("`{t}` is not an amount")))
            }
        }
    }
}

/// A secret string: never printed, never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
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
            max_jobs_per_request: 1_000,
            max_in_flight: 1_024,
            client_max_in_flight: 64,
            client_requests_per_second: 500,
            client_request_burst: 1_000,
            client_receipts_per_second: 20_000,
            client_receipt_burst: 20_000,
            client_kib_per_second: 16 * 1_024,
            client_kib_burst: 16 * 1_024,
            client_bad_signatures_per_second: 100,
            client_bad_signature_burst: 1_000,
            new_clients_receipts_per_second: 2_000,
            new_clients_kib_per_second: 1_024,
            client_slots: 65_536,
            client_ip_header: None,
            trusted_proxies: Vec::new(),
            request_timeout_ms: 30_000,
            max_connections: 4_096,
            client_max_connections: 256,
            connection_idle_ms: 60_000,
            header_read_timeout_ms: 10_000,
            refusal_samples_per_minute: 10,
            refusal_sample_cap: 10_000,
            refusal_sample_max_age_s: 7 * 86_400,
            refusal_count_max_age_s: 90 * 86_400,
            accept_margin_ms: 6_000,
            max_jobs_per_transaction: 128,
            commit_workers: 2,
            commit_max_receipts: 4_096,
            job_view_capacity: 100_000,
            relayer_suri: None,
            relayer_key_file: None,
            settle_interval_ms: 1_000,
            settle_threshold: Amount(1_000_000_000_000),
            settle_max_age_ms: 3_600_000,
            settle_expiry_margin_ms: 60_000,
            settle_max_batch: escrow_client::MAX_RELEASES_PER_CALL,
            settle_max_extrinsics: 4,
            settle_tick_timeout_ms: 120_000,
            relayer_min_balance: Amount(1_000_000_000_000),
            retention_keep_s: 86_400,
            retention_interval_s: 10,
            retention_lanes_per_pass: 100,
            retention_receipts_per_lane: 5_000,
        }
    }
}

/// The longest retention period accepted, in s (100 years): past it, Postgres's intervals overflow.
pub const MAX_RETENTION_S: u64 = 100 * 365 * 86_400;

/// The prefix of the gateway's environment variables.
pub const ENV_PREFIX: &str = "GATEWAY__";

impl Config {
    /// Defaults, then `file` if given, then `ESCROW_*` and `GATEWAY__*` from the environment
    /// ([`service_kit::config`]); then the values are checked.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let config: Config = service_kit::config::load(ENV_PREFIX, file).map_err(|e| Error::Config(e.to_string()))?;
        if config.max_batch == 0
            || config.max_body_bytes == 0
            || config.settle_max_batch == 0
            || config.max_jobs_per_transaction == 0
            || config.commit_workers == 0
            || config.commit_max_receipts == 0
            || config.settle_max_extrinsics == 0
            || config.max_jobs_per_request == 0
            || config.max_in_flight == 0
            || config.client_max_in_flight == 0
            || config.client_slots == 0
            || config.request_timeout_ms == 0
            || config.max_connections == 0
            || config.client_max_connections == 0
            || config.header_read_timeout_ms == 0
            || config.retention_interval_s == 0
            || config.retention_lanes_per_pass == 0
            || config.retention_receipts_per_lane == 0
        {
            return Err(Error::Config(
                "max_batch, max_body_bytes, max_jobs_per_transaction, commit_workers, commit_max_receipts, \
                 settle_max_batch, settle_max_extrinsics, max_jobs_per_request, max_in_flight, \
                 client_max_in_flight, client_slots, request_timeout_ms, max_connections, \
                 client_max_connections, header_read_timeout_ms, retention_interval_s, retention_lanes_per_pass and \
                 retention_receipts_per_lane must be positive"
                    .into(),
            ));
        }
        if config.client_receipts_per_second > 0
            && usize::try_from(config.client_receipt_burst).is_ok_and(|burst| burst < config.max_batch)
        {
            return Err(Error::Config(format!(
                "client_receipt_burst ({}) must be at least max_batch ({}): a full batch could never pass",
                config.client_receipt_burst, config.max_batch
            )));
        }
        if config.client_kib_per_second > 0
            && usize::try_from(config.client_kib_burst)
                .is_ok_and(|burst| burst.saturating_mul(1_024) < config.max_body_bytes)
        {
            return Err(Error::Config(format!(
                "client_kib_burst ({} KiB) must hold max_body_bytes ({}): the largest body could never pass",
                config.client_kib_burst, config.max_body_bytes
            )));
        }
        if config.retention_keep_s > MAX_RETENTION_S {
            return Err(Error::Config(format!(
                "retention_keep_s ({}) must be at most {MAX_RETENTION_S} (100 years)",
                config.retention_keep_s
            )));
        }
        if config.connection_idle_ms <= config.request_timeout_ms {
            return Err(Error::Config(format!(
                "connection_idle_ms ({}) must exceed request_timeout_ms ({}): an answer in progress would be cut",
                config.connection_idle_ms, config.request_timeout_ms
            )));
        }
        if let Some(name) = &config.client_ip_header {
            axum::http::HeaderName::try_from(name.as_str())
                .map_err(|_| Error::Config(format!("client_ip_header `{name}` is not a header name")))?;
            if config.trusted_proxies.is_empty() {
                return Err(Error::Config(
                    "client_ip_header needs trusted_proxies: the header is believed only from them".into(),
                ));
            }
        }
        if config.settle_max_batch > escrow_client::MAX_RELEASES_PER_CALL {
            return Err(Error::Config(format!(
                "settle_max_batch is at most {} (the contract's input buffer)",
                escrow_client::MAX_RELEASES_PER_CALL
            )));
        }
        Ok(config)
    }

    /// The relayer's secret URI, from `relayer_suri` or else `relayer_key_file`; `None` if neither is
    /// set (the gateway then accepts receipts but releases nothing).
    pub fn relayer(&self) -> Result<Option<Secret>> {
        if let Some(secret) = &self.relayer_suri {
            return Ok(Some(secret.clone()));
        }
        let Some(path) = &self.relayer_key_file else { return Ok(None) };
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("relayer_key_file {path}: {e}")))?;
        Ok(Some(Secret(text.trim().to_string())))
    }
}

impl Config {
    /// Whether this gateway can keep its promise on the escrow it serves: a receipt accepted now is
    /// released within `accept_margin_ms`, so that margin must be shorter than anything that may cut
    /// the receipt off after it was accepted: the settle grace (a completion right after acceptance)
    /// and the thaw period. The settlement loop must also release a lane when its deadline comes
    /// within `settle_expiry_margin_ms`, at least the acceptance margin. Checked at startup against the
    /// escrow's fixed timing.
    pub fn check_timing(&self, timing: &settlement::Timing) -> Result<()> {
        let margin = self.accept_margin_ms;
        if margin >= timing.settle_grace || margin >= timing.thaw_period {
            return Err(Error::Config(format!(
                "accept_margin_ms ({margin}) must be below the escrow's settle grace ({}) and thaw period ({}): \
                 a receipt accepted just before a completion could not be released in time",
                timing.settle_grace, timing.thaw_period
            )));
        }
        if self.settle_expiry_margin_ms < margin {
            return Err(Error::Config(format!(
                "settle_expiry_margin_ms ({}) must be at least accept_margin_ms ({margin})",
                self.settle_expiry_margin_ms
            )));
        }
        Ok(())
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
            jail.create_file("gateway.toml", "max_batch = 50\nnode_url = \"ws://file:1\"\n")?;
            jail.set_env("GATEWAY__MAX_BATCH", "70");
            jail.set_env("GATEWAY__SETTLE_THRESHOLD", "340282366920938463463374607431768211455");
            let path = Path::new("gateway.toml");
            let c = Config::load(Some(path)).map_err(|e| e.to_string())?;
            assert_eq!(c.max_batch, 70, "env beats file");
            assert_eq!(c.node_url, "ws://file:1", "file beats defaults");
            assert_eq!(c.settle_threshold, Amount(u128::MAX), "amounts beyond 64 bits as strings");
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
    fn the_margins_must_fit_the_escrows_timing() {
        let timing = settlement::Timing {
            unbond_delay: 20,
            dispute_window: 10,
            settle_grace: 6_001,
            max_job_duration: 100,
            thaw_period: 6_001,
            admin_delay: 31,
            arbitration_period: 5,
        };
        let c = Config::default();
        assert_eq!(c.accept_margin_ms, 6_000);
        assert!(c.check_timing(&timing).is_ok());
        let short_grace = settlement::Timing { settle_grace: 6_000, ..timing };
        assert!(matches!(c.check_timing(&short_grace), Err(Error::Config(m)) if m.contains("settle grace")));
        let short_thaw = settlement::Timing { thaw_period: 6_000, ..timing };
        assert!(c.check_timing(&short_thaw).is_err());
        let late_loop = Config { settle_expiry_margin_ms: 5_999, ..Config::default() };
        assert!(
            matches!(late_loop.check_timing(&timing), Err(Error::Config(m)) if m.contains("settle_expiry_margin_ms"))
        );
    }

    #[test]
    fn the_relayer_secret_comes_from_env_or_file_and_never_prints() {
        Jail::expect_with(|jail| {
            assert_eq!(Config::load(None).map_err(|e| e.to_string())?.relayer().map_err(|e| e.to_string())?, None);
            jail.create_file("relayer.key", "//Relayer\n")?;
            jail.set_env("GATEWAY__RELAYER_KEY_FILE", "relayer.key");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.relayer().map_err(|e| e.to_string())?, Some(Secret("//Relayer".into())));
            jail.set_env("GATEWAY__RELAYER_SURI", "//FromEnv");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.relayer().map_err(|e| e.to_string())?, Some(Secret("//FromEnv".into())));
            assert!(!format!("{c:?}").contains("FromEnv"), "the secret is not in Debug output");
            Ok(())
        });
    }

    #[test]
    fn zero_limits_and_oversize_release_batches_are_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("GATEWAY__SETTLE_MAX_BATCH", "65");
            assert!(Config::load(None).is_err(), "more receipts than one release_many can carry");
            jail.set_env("GATEWAY__SETTLE_MAX_BATCH", "64");
            assert!(Config::load(None).is_ok());
            jail.set_env("GATEWAY__MAX_JOBS_PER_TRANSACTION", "0");
            assert!(Config::load(None).is_err(), "a transaction holds at least one job");
            jail.set_env("GATEWAY__MAX_JOBS_PER_TRANSACTION", "1");
            assert!(Config::load(None).is_ok());
            jail.set_env("GATEWAY__MAX_BATCH", "0");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }
}
