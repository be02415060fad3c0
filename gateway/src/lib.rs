//! # gateway
//!
//! Receives usage receipts signed by consumers, checks them with the `settlement` rules (the same
//! named checks the contract runs), and keeps them durably in Postgres: a 2xx answer means the receipt
//! is committed. The settlement loop ([`settle`]) releases accepted receipts on chain in batches;
//! [`serve`] runs it all (the `escrow serve` command).

pub mod accept;
pub mod answers;
pub mod commit;
pub mod commitment;
pub mod config;
pub mod error;
pub mod intake;
pub mod jobs;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod refusals;
pub mod retention;
pub mod routes;
pub mod server;
pub mod service;
pub mod settle;
pub mod store;
pub mod views;
pub mod wire;

use std::sync::Arc;

use escrow_client::{AccountId, Escrow};
use settlement::Domain;

pub use config::Config;
pub use error::{Error, Result};
pub use routes::app;
pub use service::serve;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Postgres.
    pub db: store::Store,
    /// The escrow contract on the node.
    pub escrow: Escrow,
    /// The chain and contract receipts must be signed for.
    pub domain: Domain<AccountId>,
    /// Prometheus metrics.
    pub metrics: metrics::Metrics,
    /// Job views as of the latest finalized block; kept between requests while
    /// [`views::JobViews::follow`] runs.
    pub views: Arc<views::JobViews>,
    /// The queue to the group-commit workers.
    pub committer: commit::Committer,
    /// Admission: what each client may take ([`limits`]).
    pub limits: Arc<limits::Limits>,
    /// The bounded refusal log ([`refusals`]), written once a second.
    pub refusals: Arc<refusals::RefusalLog>,
    /// `/readyz`'s last check.
    pub readiness: Arc<routes::Readiness>,
}

impl AppState {
    /// State over an open database and a connected escrow; starts the commit workers (so it needs a
    /// Tokio runtime), which stop when the last clone of the state is dropped.
    #[must_use]
    pub fn new(config: Config, db: store::Store, escrow: Escrow) -> Self {
        let domain = Domain { genesis_hash: escrow.chain().genesis_hash(), contract: escrow.address() };
        let metrics = metrics::Metrics::new();
        let views = Arc::new(views::JobViews::new(escrow.clone(), config.job_view_capacity, metrics.clone()));
        let committer = commit::Committer::start(db.clone(), config.commit_settings(), metrics.clone());
        let limits = Arc::new(limits::Limits::new(config.limit_settings()));
        let refusals = refusals::RefusalLog::start(config.refusal_limits(), db.clone());
        Self {
            config: Arc::new(config),
            db,
            escrow,
            domain,
            metrics,
            views,
            committer,
            limits,
            refusals,
            readiness: Arc::default(),
        }
    }
}

impl Config {
    /// How the commit workers run.
    #[must_use]
    pub fn commit_settings(&self) -> commit::Settings {
        commit::Settings {
            workers: self.commit_workers,
            max_receipts: self.commit_max_receipts,
            max_jobs_per_transaction: self.max_jobs_per_transaction,
            accept_margin_ms: self.accept_margin_ms,
        }
    }

    /// What admission allows ([`limits`]).
    #[must_use]
    pub fn limit_settings(&self) -> limits::Settings {
        limits::Settings {
            max_in_flight: self.max_in_flight,
            client_max_in_flight: self.client_max_in_flight,
            client_requests_per_second: self.client_requests_per_second,
            client_request_burst: self.client_request_burst,
            client_receipts_per_second: self.client_receipts_per_second,
            client_receipt_burst: self.client_receipt_burst,
            client_kib_per_second: self.client_kib_per_second,
            client_kib_burst: self.client_kib_burst,
            client_bad_signatures_per_second: self.client_bad_signatures_per_second,
            client_bad_signature_burst: self.client_bad_signature_burst,
            new_clients_receipts_per_second: self.new_clients_receipts_per_second,
            new_clients_kib_per_second: self.new_clients_kib_per_second,
            request_timeout: std::time::Duration::from_millis(self.request_timeout_ms),
            client_slots: self.client_slots,
            // Checked by `Config::load`; a name that is not a header's is ignored here.
            client_ip_header: self.client_ip_header.as_deref().and_then(|h| h.parse().ok()),
            trusted_proxies: self.trusted_proxies.iter().copied().map(limits::prefix_of).collect(),
        }
    }

    /// How the listener is bounded ([`listener`]).
    #[must_use]
    pub fn listener_bounds(&self) -> listener::Bounds {
        listener::Bounds {
            max_connections: self.max_connections,
            client_max_connections: self.client_max_connections,
            idle: std::time::Duration::from_millis(self.connection_idle_ms),
            trusted_proxies: self.trusted_proxies.iter().copied().map(limits::prefix_of).collect(),
        }
    }

    /// The longest a request's head may take to arrive ([`server`]).
    #[must_use]
    pub const fn header_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.header_read_timeout_ms)
    }

    /// How the refusal log is bounded ([`refusals`]).
    #[must_use]
    pub const fn refusal_limits(&self) -> refusals::Limits {
        refusals::Limits {
            samples_per_minute: self.refusal_samples_per_minute,
            sample_cap: self.refusal_sample_cap,
            sample_max_age: std::time::Duration::from_secs(self.refusal_sample_max_age_s),
            count_max_age: std::time::Duration::from_secs(self.refusal_count_max_age_s),
        }
    }

    /// The settlement policy these settings describe.
    #[must_use]
    pub fn settle_policy(&self) -> settle::Policy {
        settle::Policy {
            threshold: self.settle_threshold.0,
            max_age_ms: self.settle_max_age_ms,
            expiry_margin_ms: self.settle_expiry_margin_ms,
            max_batch: self.settle_max_batch,
            max_extrinsics: self.settle_max_extrinsics,
        }
    }

    /// How receipts the chain has settled are compacted ([`retention`], [`commitment`]).
    #[must_use]
    pub const fn retention(&self) -> store::Retention {
        store::Retention {
            keep_for: std::time::Duration::from_secs(self.retention_keep_s),
            lanes_per_pass: self.retention_lanes_per_pass,
            receipts_per_lane: self.retention_receipts_per_lane,
        }
    }
}
