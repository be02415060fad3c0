//! Job views shared between requests. A request sees every job as of the latest finalized block it
//! knows of when it starts, or later. Each job read costs the node a contract dry-run, so views are
//! kept: while the follower reads every finalized block in order and drops the view of each job that
//! an escrow event in it names (every change to a job emits one), a kept view is the job as of the
//! last block the follower read.
//!
//! On the intake's hot path the finalized head is followed, not asked for
//! ([`JobViews::lookup_followed`]): the follower hears it from the node's finality notifications (and
//! a poll every [`POLL`]), so a request whose follower heard from the node within [`FRESH`] takes the
//! head it heard, waits for the follower to read up to it, and makes no node call when its jobs are
//! kept. Otherwise (the follower stopped, retrying, silent or behind) the request asks the node for
//! the head and reads its jobs at that block. Such a request's head is at most [`FRESH`] behind the
//! node's, and in practice the time the follower takes to read a block: a change finalized a moment
//! ago may not be seen yet, which the acceptance margin and the thaw period absorb. The settlement loop
//! and reads ask the node for the head ([`JobViews::lookup`]).
//!
//! Unknown jobs cost the node nothing: the escrow numbers jobs from 1 in order and never removes one, so
//! the follower keeps its next job id (read at the block it starts from, raised by every event naming a
//! job), and every id from it on is unknown without a read ([`beyond`]); off the followed path it is read
//! once per block for all who ask. The node's finalized head, when it must be asked, is asked once for
//! every request asking at once ([`JobViews::node_head`]). So however many unknown ids a flood sends, the
//! node calls it causes are bounded by time, not by the flood.
//!
//! While the node cannot be reached, nothing is judged from kept views: the follower's finality
//! notifications end with the connection, so it stops and drops every view, and a request then asks
//! the node and fails (503). A live chain goes on finalizing without our node, so a view cannot be
//! vouched for past [`FRESH`]. Once the node is back the client connects again, requests read their
//! jobs from it at once, and the follower starts over after its backoff (at most 10 s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use escrow_client::blocks::ChainBlock;
use escrow_client::{Escrow, Finalized, FollowOptions};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt, TryStreamExt};
use settlement::{JobId, PayerKey};
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::jobs::JobView;
use crate::metrics::Metrics;

/// Chain lookups in flight at once for one request.
const LOOKUPS_AT_ONCE: usize = 16;

/// The longest the node's finalized head is waited for ([`JobViews::node_head`]).
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for the follower to reach its block before reading the node instead.
const CATCH_UP: Duration = Duration::from_millis(250);

/// The longest the follower waits for one block; then it starts over (views dropped meanwhile).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the follower looks for new finalized blocks when the node announces none.
const POLL: Duration = Duration::from_secs(2);

/// How recently the follower must have heard the finalized head for a request to take it rather
/// than ask the node: a poll's interval and a margin.
pub const FRESH: Duration = Duration::from_secs(3);

/// How the follower reads the chain: one block at a time as it goes, each within [`READ_TIMEOUT`] and
/// in the runtime the client's metadata describes (events are decoded with it: a stale one could miss
/// the escrow's events after an upgrade).
const FOLLOW: FollowOptions =
    FollowOptions { poll: POLL, concurrency: 1, read_ahead: 0, read_timeout: Some(READ_TIMEOUT), check_runtime: true };

/// The kept views, the last block the follower has read (number and hash; `None` while it is not
/// following) and the last finalized head it heard of, with when.
#[derive(Default)]
struct Kept {
    seen: Option<(u64, [u8; 32])>,
    heard: Option<(u64, Instant)>,
    views: HashMap<JobId, JobView>,
    /// The last [`RECENT`] blocks read, in order, each with the jobs its events named (`None`: it had an
    /// event that could not be read, so any job may have changed).
    recent: std::collections::VecDeque<(u64, Option<Vec<JobId>>)>,
    /// The escrow's next job id as of the last block read (`None`: not known). The escrow numbers jobs
    /// from 1 in order and never removes one, so every id from it on, and 0, is unknown: a negative
    /// cache of every unknown job at once.
    next_job: Option<JobId>,
}

/// Whether job `id` cannot exist while the escrow's next job id is `next_job`.
#[must_use]
pub const fn beyond(id: JobId, next_job: JobId) -> bool {
    id == 0 || id >= next_job
}

/// Blocks whose changed jobs are remembered, so a view read a few blocks back can still be kept.
const RECENT: usize = 64;

impl Kept {
    /// Whether job `id`, read as of block `at`, is still as of the last block read: no block read
    /// since named it (all of them remembered).
    fn unchanged_since(&self, at: u64, id: JobId) -> bool {
        let Some((seen, _)) = self.seen else { return false };
        if seen == at {
            return true;
        }
        let since: Vec<_> = self.recent.iter().filter(|(n, _)| *n > at).collect();
        let all_remembered = u64::try_from(since.len()).is_ok_and(|n| Some(n) == seen.checked_sub(at));
        all_remembered && since.iter().all(|(_, jobs)| jobs.as_ref().is_some_and(|jobs| !jobs.contains(&id)))
    }
}

/// Jobs as of one finalized block.
#[derive(Debug, Default)]
pub struct Lookup {
    /// The block's number: the jobs are as of it or later.
    pub at: u64,
    /// Each job asked for (`None`: no such job).
    pub views: HashMap<JobId, Option<JobView>>,
    /// Whether the block is the followed head (rather than the node's, asked for).
    pub followed: bool,
}

/// Job views as of the latest finalized block, kept between requests while a follower runs.
pub struct JobViews {
    escrow: Escrow,
    capacity: usize,
    metrics: Metrics,
    kept: Mutex<Kept>,
    seen: watch::Sender<Option<u64>>,
    reading: Arc<Mutex<Reading>>,
    keys: Mutex<HashMap<[u8; 32], PayerKey>>,
    head: Mutex<Option<HeadCall>>,
    next_jobs: Arc<Mutex<NextJobs>>,
}

/// The node's finalized head, asked once for every request that asks at once.
type HeadRead = Shared<BoxFuture<'static, core::result::Result<(u64, [u8; 32]), Arc<Error>>>>;

/// A call for the node's finalized head and when it was made.
struct HeadCall {
    started: Instant,
    read: HeadRead,
}

/// The escrow's next job id at a block, read once for all who ask at once.
type NextJobRead = Shared<BoxFuture<'static, core::result::Result<JobId, Arc<Error>>>>;

/// The next-job-id reads in flight by block hash, and the last one read.
#[derive(Default)]
struct NextJobs {
    reading: HashMap<[u8; 32], NextJobRead>,
    last: Option<([u8; 32], JobId)>,
}

/// A job read from the node, shared by every request that needs it at that block.
type Read = Shared<BoxFuture<'static, core::result::Result<Option<JobView>, Arc<Error>>>>;

/// The node reads in flight, by (job, block hash): requests that need the same job at the same block
/// at once share one read (after a job's event drops its view, every request for it would otherwise
/// read it). An entry lives while its read runs.
type Reading = HashMap<(JobId, [u8; 32]), Read>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl JobViews {
    /// Views over `escrow`, keeping at most `capacity` jobs (0 keeps none). Nothing is kept until
    /// [`JobViews::follow`] runs.
    #[must_use]
    pub fn new(escrow: Escrow, capacity: usize, metrics: Metrics) -> Self {
        Self {
            escrow,
            capacity,
            metrics,
            kept: Mutex::default(),
            seen: watch::Sender::new(None),
            reading: Arc::default(),
            keys: Mutex::default(),
            head: Mutex::default(),
            next_jobs: Arc::default(),
        }
    }

    /// The node's finalized head, as of a call made at `since` or later: requests asking at once share
    /// one call, so however many ask, at most one call is in flight (and one waiting behind it).
    pub async fn node_head(&self, since: Instant) -> Result<(u64, [u8; 32])> {
        loop {
            let (read, fresh) = {
                let mut head = lock(&self.head);
                match head.as_ref() {
                    Some(call) if call.started >= since => (call.read.clone(), true),
                    Some(call) if call.read.peek().is_none() => (call.read.clone(), false),
                    _ => {
                        let chain = self.escrow.chain().clone();
                        // Bounded, so one stuck call cannot hold up every request behind it.
                        let read = async move {
                            match tokio::time::timeout(HEAD_TIMEOUT, chain.finalized_head()).await {
                                Ok(head) => head.map_err(|e| Arc::new(Error::Chain(e))),
                                Err(_) => Err(Arc::new(Error::Chain(escrow_client::Error::Call(
                                    "the node did not tell its finalized head in time".into(),
                                )))),
                            }
                        }
                        .boxed()
                        .shared();
                        *head = Some(HeadCall { started: Instant::now(), read: read.clone() });
                        (read, true)
                    }
                }
            };
            let answer = read.await;
            if fresh {
                return answer.map_err(Error::Shared);
            }
        }
    }

    /// The escrow's next job id as of block `hash`: one read for all who ask at once, the last kept.
    async fn next_job_at(&self, hash: [u8; 32]) -> Result<JobId> {
        let read = {
            let mut next_jobs = lock(&self.next_jobs);
            if let Some((at, next)) = next_jobs.last {
                if at == hash {
                    return Ok(next);
                }
            }
            if let Some(read) = next_jobs.reading.get(&hash) {
                read.clone()
            } else {
                let (escrow, all) = (self.escrow.clone(), self.next_jobs.clone());
                let task = tokio::spawn(async move {
                    let config =
                        escrow.query_at::<settlement::Config<escrow_client::AccountId>>(Some(hash), "config", ()).await;
                    let next = config.map(|c| c.next_job_id).map_err(|e| Arc::new(Error::Chain(e)));
                    let mut next_jobs = lock(&all);
                    next_jobs.reading.remove(&hash);
                    if let Ok(next) = next {
                        next_jobs.last = Some((hash, next));
                    }
                    next
                });
                let read = async move {
                    task.await.unwrap_or_else(|e| Err(Arc::new(Error::Config(format!("next job id read: {e}")))))
                }
                .boxed()
                .shared();
                next_jobs.reading.insert(hash, read.clone());
                read
            }
        };
        read.await.map_err(Error::Shared)
    }

    /// A job's payer key, decoded once and kept (at most as many as views; a job's key never changes).
    pub fn payer_key(&self, key: &[u8; 32]) -> PayerKey {
        let mut keys = lock(&self.keys);
        if let Some(decoded) = keys.get(key) {
            return *decoded;
        }
        let decoded = PayerKey::new(key);
        if self.capacity > 0 {
            if keys.len() >= self.capacity {
                keys.clear();
            }
            keys.insert(*key, decoded);
        }
        decoded
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        lock(&self.kept)
    }

    /// Job `id` at block `hash`, read from the node once for all who ask at once: the read runs in a
    /// task of its own (so a request that gives up does not stop it) and leaves [`Reading`] when done.
    fn read(&self, id: JobId, hash: [u8; 32]) -> Read {
        let mut reading = lock(&self.reading);
        if let Some(read) = reading.get(&(id, hash)) {
            return read.clone();
        }
        let (escrow, all, reads) = (self.escrow.clone(), self.reading.clone(), self.metrics.job_reads.clone());
        // The task's removal waits for this lock, so it comes after the insertion below.
        let task = tokio::spawn(async move {
            reads.inc();
            let view = JobView::fetch_at(&escrow, id, Some(hash)).await.map_err(Arc::new);
            lock(&all).remove(&(id, hash));
            view
        });
        let read =
            async move { task.await.unwrap_or_else(|e| Err(Arc::new(Error::Config(format!("job view read: {e}"))))) }
                .boxed()
                .shared();
        reading.insert((id, hash), read.clone());
        read
    }

    /// Waits until the follower has started reading blocks (views are kept from then on).
    pub async fn following(&self) {
        let _ = self.seen.subscribe().wait_for(Option::is_some).await;
    }

    /// Waits (at most [`READ_TIMEOUT`]) until the follower has read the block the node now calls its
    /// finalized head: from then on requests see everything finalized before this was called.
    pub async fn caught_up(&self) -> Result<()> {
        let (head, _) = self.escrow.chain().finalized_head().await?;
        let mut seen = self.seen.subscribe();
        let reached = tokio::time::timeout(READ_TIMEOUT, seen.wait_for(|s| s.is_some_and(|s| s >= head))).await;
        if matches!(reached, Ok(Ok(_))) {
            return Ok(());
        }
        Err(Error::Chain(escrow_client::Error::Call("the job view follower did not catch up".into())))
    }

    /// Each job as of the node's latest finalized block (`None`: no such job), one snapshot for all: it
    /// asks the node for the head. For the settlement loop and reads, where a view must not miss what was
    /// just finalized.
    pub async fn lookup(&self, job_ids: &[JobId]) -> Result<HashMap<JobId, Option<JobView>>> {
        Ok(self.lookup_at_node(job_ids).await?.views)
    }

    /// [`JobViews::lookup`], with the block the jobs are as of.
    pub async fn lookup_at_node(&self, job_ids: &[JobId]) -> Result<Lookup> {
        self.lookup_from(job_ids, false).await
    }

    /// Each job as of the finalized head the follower heard (at most [`FRESH`] behind the node's), or
    /// the node's when the follower has not heard it recently: the intake's hot path, which asks the
    /// node nothing when its jobs are kept.
    pub async fn lookup_followed(&self, job_ids: &[JobId]) -> Result<Lookup> {
        self.lookup_from(job_ids, true).await
    }

    /// Whether the follower (if it runs and views are kept) has read block `head`, waiting at most
    /// [`CATCH_UP`].
    async fn caught_up_to(&self, head: u64) -> bool {
        if self.capacity == 0 || self.kept().seen.is_none() {
            return false;
        }
        let mut seen = self.seen.subscribe();
        // Done when the follower reaches the block, or stops (then `None`).
        let reached = tokio::time::timeout(CATCH_UP, seen.wait_for(|s| s.is_none_or(|s| s >= head))).await;
        matches!(reached, Ok(Ok(s)) if s.is_some())
    }

    /// The finalized head the follower heard within [`FRESH`], once it has read up to it (waiting at
    /// most [`CATCH_UP`]): the block's number and hash. `None` if it is not following, heard nothing
    /// recent, or did not catch up in time.
    async fn followed_head(&self) -> Option<(u64, [u8; 32])> {
        if self.capacity == 0 {
            return None;
        }
        let heard = {
            let kept = self.kept();
            kept.seen?;
            let (heard, at) = kept.heard?;
            (at.elapsed() < FRESH).then_some(heard)?
        };
        if !self.caught_up_to(heard).await {
            return None;
        }
        self.kept().seen
    }

    /// The jobs as of the followed head (if `follow` and it is fresh) or the node's.
    async fn lookup_from(&self, job_ids: &[JobId], follow: bool) -> Result<Lookup> {
        if job_ids.is_empty() {
            return Ok(Lookup::default());
        }
        let asked = Instant::now();
        let followed = if follow { self.followed_head().await } else { None };
        let (head, hash) = match followed {
            Some(head) => head,
            None => self.node_head(asked).await?,
        };
        let caught_up = followed.is_some() || self.caught_up_to(head).await;
        let mut found = HashMap::with_capacity(job_ids.len());
        let mut missing = Vec::new();
        // Jobs beyond the next job id are unknown without a read: as of the last block the follower read
        // if it has read this one (ids only grow), else as of this block, read once for all (when more
        // than one job would otherwise be read).
        let mut next_job = None;
        if caught_up {
            let kept = self.kept();
            // The follower may have started over meanwhile, from an older block: its next job id then
            // says nothing of this one.
            next_job = kept.next_job.filter(|_| kept.seen.is_some_and(|(seen, _)| seen >= head));
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
        if next_job.is_none() && !missing.is_empty() {
            // Read once per block for all; if it cannot be read, the jobs are read one by one.
            next_job = self.next_job_at(hash).await.ok();
        }
        if let Some(next_job) = next_job {
            missing.retain(|id| {
                let unknown = beyond(*id, next_job);
                if unknown {
                    found.insert(*id, None);
                }
                !unknown
            });
        }
        // Views kept, unknown jobs among them.
        self.metrics.job_views.with_label_values(&["kept"]).inc_by(u64::try_from(found.len()).unwrap_or(u64::MAX));
        self.metrics.job_views.with_label_values(&["node"]).inc_by(u64::try_from(missing.len()).unwrap_or(u64::MAX));

        let reads = missing.into_iter().map(|id| {
            let read = self.read(id, hash);
            async move { read.await.map(|view| (id, view)).map_err(Error::Shared) }
        });
        let read: Vec<(JobId, Option<JobView>)> =
            futures::stream::iter(reads).buffered(LOOKUPS_AT_ONCE).try_collect().await?;
        if caught_up {
            let mut kept = self.kept();
            // Kept only if no block read since may have changed the job.
            for (id, view) in &read {
                if let Some(view) = view {
                    if !kept.unchanged_since(head, *id) {
                        continue;
                    }
                    if kept.views.len() >= self.capacity && !kept.views.contains_key(id) {
                        kept.views.clear();
                    }
                    kept.views.insert(*id, view.clone());
                }
            }
        }
        found.extend(read);
        Ok(Lookup { at: head, views: found, followed: followed.is_some() })
    }

    /// Follows the finalized chain for as long as it runs, starting over with backoff after a failure
    /// (the node went away: the client connects again when it is back); kept views are dropped whenever
    /// it stops following. Also keeps the client's metadata in step with runtime upgrades, which event
    /// decoding depends on.
    pub async fn follow(self: Arc<Self>) {
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
        kept.heard = None;
        kept.views.clear();
        kept.recent.clear();
        kept.next_job = None;
        drop(kept);
        self.seen.send_replace(None);
    }

    /// Reads every finalized block after the head it starts at, until the stream of them fails.
    async fn follow_once(&self, backoff: &mut Duration) -> Result<()> {
        let chain = self.escrow.chain();
        // Its subscription ends with the connection, so it starts again with each attempt.
        let _upgrades = chain.spawn_runtime_upgrades();
        let (start, hash) = chain.finalized_head().await?;
        // Unknown, if it cannot be read: lookups then read it per block, or read their jobs.
        let next_job = self.next_job_at(hash).await.ok();
        let mut blocks = chain.finalized_blocks(start.saturating_add(1), FOLLOW).await?;
        {
            let mut kept = self.kept();
            kept.views.clear();
            kept.recent.clear();
            kept.next_job = next_job;
            kept.seen = Some((start, hash));
            kept.heard = Some((start, Instant::now()));
        }
        self.seen.send_replace(Some(start));
        while let Some(item) = blocks.next().await {
            match item? {
                Finalized::Block(block) => {
                    self.apply(&block);
                    *backoff = Duration::from_millis(250);
                }
                Finalized::Head(head) => self.kept().heard = Some((head, Instant::now())),
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
            // An unreadable event may have opened a job: the next job id is no longer known.
            kept.views.clear();
            kept.next_job = None;
        }
        for id in &jobs {
            kept.views.remove(id);
        }
        // Every job an event names exists.
        if let (Some(next), Some(highest)) = (kept.next_job, jobs.iter().max()) {
            kept.next_job = Some(next.max(highest.saturating_add(1)));
        }
        kept.recent.push_back((block.number, (!unreadable).then_some(jobs)));
        if kept.recent.len() > RECENT {
            kept.recent.pop_front();
        }
        kept.seen = Some((block.number, block.hash));
        drop(kept);
        self.seen.send_replace(Some(block.number));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(seen: u64, recent: &[(u64, Option<Vec<JobId>>)]) -> Kept {
        Kept { seen: Some((seen, [0; 32])), recent: recent.iter().cloned().collect(), ..Kept::default() }
    }

    #[test]
    fn only_job_zero_and_ids_from_the_next_one_on_are_unknown_without_a_read() {
        assert!(beyond(0, 5));
        assert!(!beyond(1, 5) && !beyond(4, 5));
        assert!(beyond(5, 5) && beyond(u64::MAX, 5));
        assert!(beyond(1, 1), "no job opened yet");
    }

    #[test]
    fn a_view_read_blocks_back_is_kept_only_if_no_block_since_named_its_job() {
        let k = kept(12, &[(10, Some(vec![1])), (11, Some(vec![2])), (12, Some(vec![]))]);
        assert!(k.unchanged_since(12, 1), "read at the last block");
        assert!(k.unchanged_since(10, 1), "block 10 named it, but the view is as of 10");
        assert!(!k.unchanged_since(10, 2), "block 11 named it");
        assert!(!k.unchanged_since(9, 1), "block 10 named it");
        assert!(!k.unchanged_since(5, 3), "blocks 6 to 9 are not remembered");
        let unreadable = kept(11, &[(10, Some(vec![])), (11, None)]);
        assert!(!unreadable.unchanged_since(10, 7), "an unreadable block may have changed any job");
        assert!(!Kept::default().unchanged_since(10, 1), "not following");
    }
}
