//! The compaction task: every `retention_interval_s`, one pass over the lanes whose finalized release
//! covers receipts older than the retention period ([`crate::store::Store::compact`], decided by
//! [`crate::commitment::plan`]). It runs apart from the settlement loop, so a long pass never holds up
//! a release, and on every replica: each lane is compacted under its job's advisory lock and its row
//! lock, and what it relies on (the settled amounts) is only ever written from finalized blocks.

use std::time::Duration;

use crate::metrics::Metrics;
use crate::store::{Compacted, Retention, Store};

/// One pass: compacts, counts what it deleted (`gateway_receipts_compacted_total`) and logs it. Errors
/// are logged and left for the next pass.
pub async fn pass(store: &Store, metrics: &Metrics, retention: &Retention) -> Option<Compacted> {
    match store.compact(retention).await {
        Ok(done) => {
            metrics.compacted.inc_by(done.deleted);
            if done.commitments > 0 || done.failed > 0 {
                tracing::info!(
                    lanes = done.commitments,
                    deleted = done.deleted,
                    failed = done.failed,
                    "receipts compacted"
                );
            }
            Some(done)
        }
        Err(e) => {
            tracing::warn!(error = %e, "receipt compaction failed; retrying next pass");
            None
        }
    }
}

/// Runs a pass every `interval` until `stop` resolves; a pass that took as many lanes as it may is
/// followed by the next a tenth of a second later.
pub async fn run(
    store: Store,
    metrics: Metrics,
    retention: Retention,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let full = pass(&store, &metrics, &retention).await.is_some_and(|d| d.lanes >= retention.lanes_per_pass);
        let next = if full { Duration::from_millis(100).min(interval) } else { interval };
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(next) => {}
        }
    }
}
