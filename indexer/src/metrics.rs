//! Prometheus metrics of the indexer: how far it got, how far the chain is, how much it mirrored.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntGauge, Registry, TextEncoder};

/// The indexer's gauges and counters, in their own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// The last block indexed (the cursor).
    pub last_block: IntGauge,
    /// The chain's finalized head, as last seen.
    pub chain_height: IntGauge,
    /// Blocks indexed since start.
    pub blocks: IntCounter,
    /// Contract events indexed since start.
    pub events: IntCounter,
    /// Reconnections after a dropped node or database.
    pub reconnects: IntCounter,
    /// Time to write one batch (its transaction, commit included).
    pub commit_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).unwrap_or_else(|e| unreachable!("fixed metric {name}: {e}"))
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).unwrap_or_else(|e| unreachable!("fixed metric {name}: {e}"))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Fresh metrics; `last_block` and `chain_height` start at -1 (not known yet).
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new();
        let last_block = gauge("last_block", "The last block indexed (the cursor); -1 before the first");
        let chain_height = gauge("chain_height", "The chain's finalized head as last seen; -1 before the first");
        let blocks = counter("indexer_blocks_total", "Blocks indexed since start");
        let events = counter("indexer_events_total", "Contract events indexed since start");
        let reconnects = counter("indexer_reconnects_total", "Reconnections after a dropped node or database");
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new("indexer_commit_seconds", "Time to write one batch, commit included")
                .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
        )
        .unwrap_or_else(|e| unreachable!("fixed metric: {e}"));
        let _ = registry.register(Box::new(commit_seconds.clone()));
        last_block.set(-1);
        chain_height.set(-1);
        for m in [&last_block, &chain_height] {
            let _ = registry.register(Box::new(m.clone()));
        }
        for m in [&blocks, &events, &reconnects] {
            let _ = registry.register(Box::new(m.clone()));
        }
        Self { registry, last_block, chain_height, blocks, events, reconnects, commit_seconds }
    }

    /// Records a committed batch ending at `last`.
    pub fn indexed(&self, last: u64, blocks: usize, events: usize) {
        self.last_block.set(to_i64(last));
        self.blocks.inc_by(u64::try_from(blocks).unwrap_or(u64::MAX));
        self.events.inc_by(u64::try_from(events).unwrap_or(u64::MAX));
    }

    /// Records the finalized head.
    pub fn set_chain_height(&self, head: u64) {
        self.chain_height.set(to_i64(head));
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
