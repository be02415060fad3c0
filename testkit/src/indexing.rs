//! Shared by the indexer's integration tests: an in-process follower over a test database, waiting
//! for it to catch up, and dumps of every indexed table for comparing two databases.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::*;
use escrow_client::accounts::ss58;
use escrow_client::Chain;
use indexer::follow::Follower;
use indexer::metrics::Metrics;
use indexer::store::typed::TABLES;
use indexer::store::Db;
use indexer::Config;
use sqlx::PgPool;
use tokio::sync::watch;

/// Indexer settings for a test: this node, this contract, from block 0.
pub fn config(node_url: &str, m: &Market) -> Config {
    Config {
        node_url: node_url.into(),
        contract: ss58(m.escrow.address()),
        bundle: std::env::var("ESCROW_BUNDLE").unwrap_or_default(),
        poll_interval_ms: 200,
        reconnect_min_ms: 100,
        reconnect_max_ms: 1_000,
        progress: false,
        ..Config::default()
    }
}

/// The indexer's database over this test's database.
pub async fn db(pool: &PgPool) -> Db {
    Db::connect(&database_url(pool.connect_options().get_database().unwrap()), 4).await.unwrap()
}

/// A follower running in this process; stops when dropped.
pub struct Running {
    /// The follower's gauges and counters.
    pub metrics: Metrics,
    stop: watch::Sender<bool>,
    handle: Option<tokio::task::JoinHandle<indexer::Result<()>>>,
}

impl Running {
    /// Starts a follower over `db` with `config`.
    pub fn start(config: Config, db: Db) -> Self {
        let metrics = Metrics::new();
        let bundle = Arc::new(escrow_client::Bundle::load(&config.bundle).unwrap());
        let contract = escrow_client::accounts::account(&config.contract).unwrap();
        let follower = Follower::new(Arc::new(config), db, bundle, contract, metrics.clone());
        let (stop, rx) = watch::channel(false);
        let handle = tokio::spawn(async move { follower.run(rx).await });
        Self { metrics, stop, handle: Some(handle) }
    }

    /// Waits for it to end on its own (a fatal error) and returns how it ended.
    pub async fn join(mut self) -> indexer::Result<()> {
        self.handle.take().unwrap().await.unwrap()
    }

    /// Stops it and returns how it ended.
    pub async fn stop(mut self) -> indexer::Result<()> {
        let _ = self.stop.send(true);
        self.handle.take().unwrap().await.unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// Waits until the database's cursor reaches the chain's finalized head.
pub async fn caught_up(db: &Db, chain: &Chain) -> u64 {
    let (head, _) = chain.finalized_head().await.unwrap();
    let started = Instant::now();
    loop {
        let at = db.state().await.unwrap().and_then(|s| s.cursor).map(|c| c.number);
        if at.is_some_and(|n| n >= head) {
            return head;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "indexer stuck at {at:?}, head {head}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every indexed row of every table (state, blocks, events, typed tables) as text, in a fixed order.
pub async fn dump(pool: &PgPool) -> Vec<String> {
    let mut out = Vec::new();
    let mut tables = vec!["blocks", "events"];
    tables.extend(TABLES);
    for table in tables {
        let order = if table == "blocks" { "number" } else { "block_number, event_index" };
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t ORDER BY {order}"))
            .fetch_all(pool)
            .await
            .unwrap();
        out.extend(rows.into_iter().map(|r| format!("{table}: {r}")));
    }
    let state: Vec<String> = sqlx::query_scalar("SELECT t::text FROM indexer_state t").fetch_all(pool).await.unwrap();
    out.extend(state);
    out
}
