//! Group commit: the receipts of concurrent requests are decided and committed together. Each request
//! hands its checked receipts, grouped by job, to a queue and waits; a few workers each take what is
//! queued (up to `commit_max_receipts`), merge it by job ([`merge`]) and commit it through
//! [`Store::accept`] in one transaction (several only past `max_jobs_per_transaction` jobs), then hand
//! each request its own outcomes ([`Merged::split`]). So a request's answer still means committed, and
//! a Postgres transaction, its locks and its fsync are shared by every request that arrived while the
//! previous commit ran.
//!
//! Merging changes no decision: a job's candidates are decided in the order the requests were queued,
//! each request's in the order received, so a receipt that another request in the same commit carries
//! too is a duplicate of it, as it would be of a receipt committed just before. Time is judged once, at
//! the commit (later than any of the requests' own start, so nothing passes that would not have). A
//! job takes the newest of the requests' views of it.

use std::collections::HashMap;
use std::sync::Arc;

use escrow_client::now_ms;
use settlement::JobId;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::accept::{Candidate, Outcome, When};
use crate::error::{Error, Result};
use crate::jobs::JobView;
use crate::metrics::Metrics;
use crate::store::Store;

/// One request's receipts: groups of one job each, with the job as of block `at` or later.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The finalized block the views are as of (or later).
    pub at: u64,
    /// Each job's view and its candidates in the order received.
    pub groups: Vec<(JobView, Vec<Candidate>)>,
}

impl Batch {
    fn receipts(&self) -> usize {
        self.groups.iter().map(|(_, c)| c.len()).sum()
    }
}

/// Several requests' batches as one: a group per job, and where each request's candidates went.
#[derive(Debug, Default)]
pub struct Merged {
    /// A job's newest view and the candidates of every request, in the order they were queued.
    pub groups: Vec<(JobView, Vec<Candidate>)>,
    /// For request `r`, its group `g`'s candidate `i`: `places[r][g][i]` = (merged group, position).
    places: Vec<Vec<Vec<(usize, usize)>>>,
}

/// Merges `batches` (in the order queued) by job.
#[must_use]
pub fn merge(batches: Vec<Batch>) -> Merged {
    let mut merged = Merged::default();
    let mut of_job: HashMap<JobId, (usize, u64)> = HashMap::new();
    for batch in batches {
        let mut places = Vec::with_capacity(batch.groups.len());
        for (view, candidates) in batch.groups {
            let Some(job_id) = candidates.first().map(|c| c.receipt.job_id) else {
                places.push(Vec::new());
                continue;
            };
            let g = match of_job.get_mut(&job_id) {
                Some((g, at)) => {
                    if batch.at > *at {
                        *at = batch.at;
                        merged.groups[*g].0 = view;
                    }
                    *g
                }
                None => {
                    let g = merged.groups.len();
                    merged.groups.push((view, Vec::new()));
                    of_job.insert(job_id, (g, batch.at));
                    g
                }
            };
            let group = &mut merged.groups[g].1;
            places.push((group.len()..).take(candidates.len()).map(|i| (g, i)).collect());
            group.extend(candidates);
        }
        merged.places.push(places);
    }
    merged
}

impl Merged {
    /// Each request's outcomes, group by group, from the merged groups' `outcomes`.
    ///
    /// # Errors
    /// If `outcomes` does not have an outcome for every merged candidate.
    pub fn split(&self, outcomes: &[Vec<Outcome>]) -> Result<Vec<Vec<Vec<Outcome>>>> {
        let at = |&(g, i): &(usize, usize)| {
            outcomes.get(g).and_then(|o| o.get(i)).copied().ok_or(Error::Config("a receipt got no outcome".into()))
        };
        self.places.iter().map(|request| request.iter().map(|group| group.iter().map(at).collect()).collect()).collect()
    }
}

/// What a request waits for: its outcomes, or the commit's failure (shared by every request in it).
type Reply = core::result::Result<Vec<Vec<Outcome>>, Arc<Error>>;

struct Queued {
    batch: Batch,
    reply: oneshot::Sender<Reply>,
}

/// How the workers commit.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Workers committing side by side.
    pub workers: usize,
    /// A worker stops taking requests once it holds this many receipts (one more request may pass it).
    pub max_receipts: usize,
    /// Most jobs per transaction.
    pub max_jobs_per_transaction: usize,
    /// The acceptance margin, in ms ([`When`]).
    pub accept_margin_ms: u64,
}

/// Requests queued at most before a new one waits for room.
const QUEUE: usize = 1_024;

/// The queue to the commit workers. Cloned by every request; the workers stop when the last clone is
/// dropped.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<Queued>,
}

impl Committer {
    /// Starts `settings.workers` workers committing to `store`. Needs a Tokio runtime.
    #[must_use]
    pub fn start(store: Store, settings: Settings, metrics: Metrics) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..settings.workers.max(1) {
            tokio::spawn(work(rx.clone(), store.clone(), settings, metrics.clone()));
        }
        Self { queue }
    }

    /// Requests queued and not yet taken by a worker.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.queue.max_capacity().saturating_sub(self.queue.capacity())
    }

    /// Commits `batch` with whatever else is queued; returns its outcomes, group by group, once they are
    /// committed.
    pub async fn commit(&self, batch: Batch) -> Result<Vec<Vec<Outcome>>> {
        if batch.groups.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::Config("the commit workers stopped".into());
        self.queue.send(Queued { batch, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(Error::Shared)
    }
}

/// A worker: takes the queued requests, commits them together, answers each.
async fn work(queue: Arc<Mutex<mpsc::Receiver<Queued>>>, store: Store, settings: Settings, metrics: Metrics) {
    loop {
        let mut taken = Vec::new();
        {
            let mut rx = queue.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut receipts = first.batch.receipts();
            taken.push(first);
            while receipts < settings.max_receipts {
                let Ok(next) = rx.try_recv() else { break };
                receipts = receipts.saturating_add(next.batch.receipts());
                taken.push(next);
            }
            metrics.commit_receipts.observe(receipts as f64);
        }
        let (batches, replies): (Vec<Batch>, Vec<_>) = taken.into_iter().map(|q| (q.batch, q.reply)).unzip();
        let merged = merge(batches);
        let when = When::new(now_ms(), settings.accept_margin_ms);
        let outcomes = commit(&store, &merged, when, settings.max_jobs_per_transaction).await;
        match outcomes.and_then(|o| merged.split(&o)) {
            Ok(each) => {
                for (reply, outcomes) in replies.into_iter().zip(each) {
                    let _ = reply.send(Ok(outcomes));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = replies.len(), "group commit failed");
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

async fn commit(store: &Store, merged: &Merged, when: When, jobs_per_transaction: usize) -> Result<Vec<Vec<Outcome>>> {
    let mut outcomes = Vec::with_capacity(merged.groups.len());
    for chunk in merged.groups.chunks(jobs_per_transaction.max(1)) {
        outcomes.extend(store.accept(chunk, when).await?);
    }
    Ok(outcomes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::accept::{Accepted, Refusal};
    use settlement::{Domain, Job, JobStatus, Receipt};

    /// A job view told apart by its deposit.
    fn view(deposit: u128) -> JobView {
        let job = Job {
            consumer: [1; 32],
            providers: vec![[2; 32]],
            slots: vec![settlement::Slot::default()],
            payer_key: [0; 32],
            arbiter: [0; 32],
            terms_hash: [0; 32],
            fee_bps: 0,
            slash_bps: 0,
            deposit,
            unallocated: 0,
            released: 0,
            opened_at: 0,
            expires_at: 0,
            ends_at: 0,
            status: JobStatus::Open,
        };
        JobView { job }
    }

    fn candidate(job_id: JobId, amount: u128) -> Candidate {
        let receipt = Receipt {
            domain: Domain { genesis_hash: [0; 32], contract: [0; 32] },
            job_id,
            provider: [2; 32],
            amount,
            units: 0,
            sequence: 0,
            expires_at: 0,
        };
        Candidate { receipt, signature: [0; 64], signature_ok: true }
    }

    fn amounts(group: &(JobView, Vec<Candidate>)) -> Vec<u128> {
        group.1.iter().map(|c| c.receipt.amount).collect()
    }

    #[test]
    fn requests_merge_by_job_in_the_order_queued_and_split_back() {
        let a = Batch {
            at: 5,
            groups: vec![(view(1), vec![candidate(1, 10), candidate(1, 20)]), (view(1), vec![candidate(2, 7)])],
        };
        let b = Batch { at: 4, groups: vec![(view(2), vec![candidate(2, 8)]), (view(2), vec![candidate(1, 30)])] };
        let c = Batch { at: 6, groups: vec![(view(3), vec![candidate(1, 40)])] };
        let merged = merge(vec![a, b, c]);
        assert_eq!(merged.groups.len(), 2, "one group per job");
        assert_eq!(amounts(&merged.groups[0]), [10, 20, 30, 40]);
        assert_eq!(amounts(&merged.groups[1]), [7, 8]);
        // Job 1: the newest view is c's (block 6); job 2: a's (block 5), not b's older one.
        assert_eq!(merged.groups[0].0.job.deposit, 3);
        assert_eq!(merged.groups[1].0.job.deposit, 1);

        // Outcomes named by their place come back to the request and position they came from.
        let outcome = |id: i64| Ok(Accepted { id, duplicate: false });
        let outcomes = vec![
            vec![outcome(10), outcome(20), Err(Refusal::JobEndsTooSoon), outcome(40)],
            vec![outcome(7), outcome(8)],
        ];
        let each = merged.split(&outcomes).unwrap();
        assert_eq!(each[0], vec![vec![outcome(10), outcome(20)], vec![outcome(7)]]);
        assert_eq!(each[1], vec![vec![outcome(8)], vec![Err(Refusal::JobEndsTooSoon)]]);
        assert_eq!(each[2], vec![vec![outcome(40)]]);
    }

    #[test]
    fn missing_outcomes_are_an_error_not_a_guess() {
        let merged = merge(vec![Batch { at: 1, groups: vec![(view(1), vec![candidate(1, 1), candidate(1, 2)])] }]);
        assert!(merged.split(&[vec![Ok(Accepted { id: 1, duplicate: false })]]).is_err());
    }
}
