//! Prometheus metrics of the gateway.

use prometheus::{
    Counter, Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The gateway's counters, in their own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Receipts newly accepted and committed.
    pub accepted: IntCounter,
    /// Receipts sent again after being accepted (answered idempotently).
    pub duplicates: IntCounter,
    /// Receipts refused, by code.
    pub rejected: IntCounterVec,
    /// Requests turned away by admission ([`crate::limits`]), by code: `overloaded`,
    /// `too_many_in_flight`, `rate_limited`, `timeout`.
    pub limited: IntCounterVec,
    /// Time to answer a receipt request.
    pub request_seconds: Histogram,
    /// Lanes whose newest accepted receipt the chain has not settled yet.
    pub settle_queue: IntGauge,
    /// Receipts released on chain.
    pub released: IntCounter,
    /// Time from sending a release extrinsic to its finality.
    pub release_seconds: Histogram,
    /// Job views a request used, by where they came from: `kept` (no node call) or `node`.
    pub job_views: IntCounterVec,
    /// Jobs read from the node (one read serves every request that needs the job at that block at once).
    pub job_reads: IntCounter,
    /// Receipts committed together by one group commit.
    pub commit_receipts: Histogram,
    /// The relayer's free balance (planck; a float, as Prometheus values are).
    pub relayer_balance: Gauge,
    /// What the relayer's balance went down by (its fees), planck.
    pub relayer_spent: Counter,
    /// Whether this replica runs the settlement loop (holds the leadership): 1 or 0.
    pub settle_leader: IntGauge,
    /// Whether the relayer can pay for releases: 1 yes, 0 no (its balance is below the minimum), -1 no
    /// relayer (or not checked yet).
    pub relayer_ready: IntGauge,
    /// Receipts deleted by compaction once the chain's finalized release covered them.
    pub compacted: IntCounter,
}

impl Metrics {
    /// Fresh metrics.
    ///
    /// # Panics
    /// Never in practice: the names are fixed and registered once into a new registry.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let registry = Registry::new();
        let accepted = IntCounter::new("gateway_receipts_accepted_total", "Receipts accepted and committed")
            .expect("valid metric");
        let duplicates = IntCounter::new("gateway_receipts_duplicate_total", "Receipts re-sent after acceptance")
            .expect("valid metric");
        let rejected =
            IntCounterVec::new(Opts::new("gateway_receipts_rejected_total", "Receipts refused, by code"), &["code"])
                .expect("valid metric");
        let limited = IntCounterVec::new(
            Opts::new("gateway_requests_limited_total", "Requests turned away by admission limits, by code"),
            &["code"],
        )
        .expect("valid metric");
        let request_seconds = Histogram::with_opts(
            HistogramOpts::new("gateway_receipt_request_seconds", "Time to answer POST /v1/receipts")
                .buckets(prometheus::exponential_buckets(0.0005, 2.0, 16).expect("valid buckets")),
        )
        .expect("valid metric");
        let settle_queue =
            IntGauge::new("gateway_settle_queue_depth", "Lanes with accepted receipts not yet settled on chain")
                .expect("valid metric");
        let released =
            IntCounter::new("gateway_receipts_released_total", "Receipts released on chain").expect("valid metric");
        let release_seconds = Histogram::with_opts(
            HistogramOpts::new("gateway_release_seconds", "Time from sending a release to its finality")
                .buckets(prometheus::exponential_buckets(0.05, 2.0, 12).expect("valid buckets")),
        )
        .expect("valid metric");
        let job_views = IntCounterVec::new(
            Opts::new("gateway_job_views_total", "Job views used by requests, by source (kept or node)"),
            &["source"],
        )
        .expect("valid metric");
        let job_reads = IntCounter::new("gateway_job_reads_total", "Jobs read from the node (contract dry-runs)")
            .expect("valid metric");
        let commit_receipts = Histogram::with_opts(
            HistogramOpts::new("gateway_commit_receipts", "Receipts of concurrent requests committed together")
                .buckets(prometheus::exponential_buckets(1.0, 2.0, 14).expect("valid buckets")),
        )
        .expect("valid metric");
        let relayer_balance =
            Gauge::new("gateway_relayer_balance", "The relayer's free balance, planck").expect("valid metric");
        let relayer_spent =
            Counter::new("gateway_relayer_spent_total", "What the relayer paid (its balance's decreases), planck")
                .expect("valid metric");
        let relayer_ready =
            IntGauge::new("gateway_relayer_ready", "1: the relayer can pay; 0: it cannot; -1: no relayer")
                .expect("valid metric");
        relayer_ready.set(-1);
        let settle_leader = IntGauge::new("gateway_settle_leader", "1 while this replica runs the settlement loop")
            .expect("valid metric");
        let compacted = IntCounter::new(
            "gateway_receipts_compacted_total",
            "Receipts deleted by compaction once a finalized release covered them",
        )
        .expect("valid metric");
        let collectors: [Box<dyn prometheus::core::Collector>; 16] = [
            Box::new(accepted.clone()),
            Box::new(duplicates.clone()),
            Box::new(rejected.clone()),
            Box::new(limited.clone()),
            Box::new(request_seconds.clone()),
            Box::new(settle_queue.clone()),
            Box::new(released.clone()),
            Box::new(release_seconds.clone()),
            Box::new(job_views.clone()),
            Box::new(job_reads.clone()),
            Box::new(commit_receipts.clone()),
            Box::new(relayer_balance.clone()),
            Box::new(relayer_spent.clone()),
            Box::new(relayer_ready.clone()),
            Box::new(settle_leader.clone()),
            Box::new(compacted.clone()),
        ];
        for c in collectors {
            registry.register(c).expect("registered once");
        }
        Self {
            registry,
            accepted,
            duplicates,
            rejected,
            limited,
            request_seconds,
            settle_queue,
            released,
            release_seconds,
            job_views,
            job_reads,
            commit_receipts,
            relayer_balance,
            relayer_spent,
            relayer_ready,
            settle_leader,
            compacted,
        }
    }

    /// The text exposition format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
