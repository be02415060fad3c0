//! Job views shared between requests. A request sees every job as of the latest finalized block when
//! it starts, or later. Each job read costs the node two or more contract dry-runs, so views are
//! kept: while the follower reads every finalized block in order and drops the view of each job that
//! an escrow event in it names (every change to a job emits one), a kept view is the job as of the
//! last block the follower read. A request uses kept views only once the follower has read up to the
//! request's block; otherwise, or while the follower is stopped or retrying, it reads the node at
//! that block.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use escrow_client::blocks::ChainBlock;
use escrow_client::{Escrow, Finalized, FollowOptions};
use futures::{StreamExt, TryStreamExt};
use settlement::JobId;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::jobs::JobView;
use crate::metrics::Metrics;

/// Chain lookups in flight at once for one request.
const LOOKUPS_AT_ONCE: usize = 16;

/// How long a request waits for the follower to reach its block before reading the node instead.
const CATCH_UP: Duration = Duration::from_millis(250);

/// The longest the follower waits for one block; then it starts over (views dropped meanwhile).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the follower looks for new finalized blocks when the node announces none.
const POLL: Duration = Duration::from_secs(2);

/// How the follower reads the chain: one block at a time as it goes, each within [`READ_TIMEOUT`] and
/// in the runtime the client's metadata describes (events are decoded with it: a stale one could miss
/// the escrow's events after an upgrade).
const FOLLOW: FollowOptions =
    FollowOptions { poll: POLL, concurrency: 1, read_ahead: 0, read_timeout: Some(READ_TIMEOUT), check_runtime: true };

/// The kept views and the last block the follower has read (`None` while it is not following).
#[derive(Default)]
struct Kept {
    seen: Option<u64>,
    views: HashMap<JobId, JobView>,
}

/// Job views as of the latest finalized block, kept between requests while a follower runs.
pub struct JobViews {
    escrow: Escrow,
    capacity: usize,
    metrics: Metrics,
    kept: Mutex<Kept>,
    seen: watch::Sender<Option<u64>>,
}

impl JobViews {
    /// Views over `escrow`, keeping at most `capacity` jobs (0 keeps none). Nothing is kept until
    /// [`JobViews::follow`] runs.
    #[must_use]
    pub fn new(escrow: Escrow, capacity: usize, metrics: Metrics) -> Self {
        Self { escrow, capacity, metrics, kept: Mutex::default(), seen: watch::Sender::new(None) }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the follower has started reading blocks (views are kept from then on).
    pub async fn following(&self) {
        let _ = self.seen.subscribe().wait_for(Option::is_some).await;
    }

    /// Each job as of the latest finalized block (`None`: no such job), one snapshot for all.
    pub async fn lookup(&self, job_ids: &[JobId]) -> Result<HashMap<JobId, Option<JobView>>> {
        if job_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let (head, hash) = self.escrow.chain().finalized_head().await?;
        let following = self.capacity > 0 && self.kept().seen.is_some();
        let caught_up = following && {
            let mut seen = self.seen.subscribe();
            // Done when the follower reaches the block, or stops (then `None`).
            let reached = tokio::time::timeout(CATCH_UP, seen.wait_for(|s| s.is_none_or(|s| s >= head))).await;
            matches!(reached, Ok(Ok(s)) if s.is_some())
        };
        let mut found = HashMap::with_capacity(job_ids.len());
        let mut missing = Vec::new();
        if caught_up {
            let kept = self.kept();
            for id in job_ids {
                match kept.views.get(id) {
                    Some(view) => {
                        found.insert(*id, Some(view.clone()));
                    }
                    None => missing.push(*id),
                }
            }
        } else {
            missing.extend_from_slice(job_ids);
        }
        self.metrics.job_views.with_label_values(&["kept"]).inc_by(u64::try_from(found.len()).unwrap_or(u64::MAX));
        self.metrics.job_views.with_label_values(&["node"]).inc_by(u64::try_from(missing.len()).unwrap_or(u64::MAX));

        let reads = missing.into_iter().map(|id| {
            let escrow = self.escrow.clone();
            async move { JobView::fetch_at(&escrow, id, Some(hash)).await.map(|view| (id, view)) }
        });
        let read: Vec<(JobId, Option<JobView>)> =
            futures::stream::iter(reads).buffered(LOOKUPS_AT_ONCE).try_collect().await?;
        if caught_up {
            let mut kept = self.kept();
            // Kept only if no later block has been read since: such a block may have changed the job.
            if kept.seen == Some(head) {
                for (id, view) in &read {
                    if let Some(view) = view {
                        if kept.views.len() >= self.capacity && !kept.views.contains_key(id) {
                            kept.views.clear();
                        }
                        kept.views.insert(*id, view.clone());
                    }
                }
            }
        }
        found.extend(read);
        Ok(found)
    }

    /// Follows the finalized chain for as long as it runs, starting over with backoff after a failure;
    /// kept views are dropped whenever it stops following. Also keeps the client's metadata in step
    /// with runtime upgrades, which event decoding depends on.
    pub async fn follow(self: Arc<Self>) {
        let _upgrades = self.escrow.chain().spawn_runtime_upgrades();
        let mut backoff = Duration::from_millis(250);
        loop {
            let outcome = self.follow_once(&mut backoff).await;
            self.stop_following();
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "job view follower stopped; retrying in {backoff:?}");
            }
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2).min(Duration::from_secs(10));
        }
    }

    fn stop_following(&self) {
        let mut kept = self.kept();
        kept.seen = None;
        kept.views.clear();
        drop(kept);
        self.seen.send_replace(None);
    }

    /// Reads every finalized block after the head it starts at, until the stream of them fails.
    async fn follow_once(&self, backoff: &mut Duration) -> Result<()> {
        let chain = self.escrow.chain();
        let (start, _) = chain.finalized_head().await?;
        let mut blocks = chain.finalized_blocks(start.saturating_add(1), FOLLOW).await?;
        {
            let mut kept = self.kept();
            kept.views.clear();
            kept.seen = Some(start);
        }
        self.seen.send_replace(Some(start));
        while let Some(item) = blocks.next().await {
            if let Finalized::Block(block) = item? {
                self.apply(&block);
                *backoff = Duration::from_millis(250);
            }
        }
        Err(Error::Chain(escrow_client::Error::Call("finalized blocks ended".into())))
    }

    /// Drops the views of the jobs `block`'s escrow events name (all of them if one cannot be read),
    /// then records the block as read.
    fn apply(&self, block: &ChainBlock) {
        let mut jobs = Vec::new();
        let mut unreadable = false;
        for event in &block.events {
            match self.escrow.decode_emitted(event) {
                Ok(Some(e)) => jobs.extend(e.job_id()),
                Ok(None) => {}
                Err(_) => unreadable = true,
            }
        }
        let mut kept = self.kept();
        if unreadable {
            kept.views.clear();
        }
        for id in jobs {
            kept.views.remove(&id);
        }
        kept.seen = Some(block.number);
        drop(kept);
        self.seen.send_replace(Some(block.number));
    }
}
