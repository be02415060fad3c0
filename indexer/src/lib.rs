//! # indexer
//!
//! Follows the chain's finalized blocks, mirrors every event of the escrow contract into Postgres
//! exactly once (typed tables, each block linked into a tamper-evident hash chain, the cursor moved in
//! the same transaction as the rows), serves auditors the settlement history, and audits it: the
//! `escrow index` and `escrow audit` commands.
//!
//! - [`follow`]: the follower (gap-free by block number, batched, reconnecting with backoff).
//! - [`record`]: what is stored, and the hash chain. [`store`]: all the SQL (tables, typed tables).
//! - [`ledger`] and [`audit`]: re-deriving the books and checking them.
//! - [`api`]: the auditor routes ([`admission`]: how many at once, how long); [`overview`]: the dashboard and its routes; [`page`]: their pages;
//!   [`query`]: their query strings (`400 bad_query`).

pub mod admission;
pub mod api;
pub mod audit;
pub mod config;
pub mod error;
pub mod follow;
pub mod ledger;
pub mod metrics;
pub mod overview;
pub mod page;
pub mod query;
pub mod record;
pub mod service;
pub mod store;

pub use api::app;
pub use config::Config;
pub use error::{Error, Result};

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Postgres.
    pub db: store::Db,
    /// The follower's gauges (the chain height the status route reports).
    pub metrics: metrics::Metrics,
}
