//! The settlement loop: releases, per (job, provider), the newest accepted receipt (the highest
//! cumulative amount: the gateway accepts only rising amounts) the chain has not settled yet, many jobs
//! per extrinsic (`release_many`). A lane is released as rarely as safety allows: once its unreleased
//! amount reaches the threshold, and at once when its job is completed or close to its end, its receipt
//! close to expiry, or a thaw of its provider's allocation is pending (what was accepted against the
//! allocation must land before the thaw ends); besides, once its oldest unreleased receipt passes the
//! maximum age (a cap on a provider's wait, not a safety rule).
//!
//! A tick sends up to `max_extrinsics` extrinsics, one after another (each signed with the next nonce
//! once the node holds the previous one), then follows them to finality together, so a tick's
//! throughput is not one extrinsic per finality delay.
//!
//! Every submission is written to Postgres before it is sent (pending), then followed to in block and
//! finalized, or failed. The chain is the judge of what was paid: each tick first reads the providers'
//! settled lanes from the contract, and the contract refuses a receipt that does not raise a lane's
//! cumulative amount, so a retry after a crash or a failure can never pay twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use escrow_client::{AccountId, Escrow, Keypair, TxStatus};
use settlement::fee::Split;
use settlement::{Event, JobId, JobStatus, Receipt};

use crate::error::{Error, Result};
use crate::jobs::JobView;
use crate::metrics::Metrics;
use crate::store::{PendingLane, Store};
use crate::views::JobViews;
use escrow_client::now_ms;

/// When a lane is due for release.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Unreleased amount that makes a lane due.
    pub threshold: u128,
    /// Age of the oldest unreleased receipt that makes a lane due, in ms.
    pub max_age_ms: u64,
    /// A job ending within this many ms (or completed) makes its lanes due, in ms.
    pub expiry_margin_ms: u64,
    /// Most receipts per extrinsic.
    pub max_batch: usize,
    /// Most extrinsics one tick sends (each of at most `max_batch` receipts), followed together.
    pub max_extrinsics: usize,
}

/// Blocks a release extrinsic stays valid for (rounded up to a power of two): after a crash, its lanes
/// wait at most this long for it before being released again.
pub const RELEASE_MORTALITY: u64 = 16;

/// Rounds of falling back to older receipts, per tick, when the chain refuses a lane's newest.
pub const FALLBACK_ROUNDS: usize = 4;

/// How the loop runs.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// Time between ticks.
    pub interval: Duration,
    /// The longest one tick may take, chain waits included.
    pub tick_timeout: Duration,
    /// The relayer's balance below which it is taken to be unable to pay (not ready).
    pub min_relayer_balance: u128,
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Receipts sent in a release extrinsic.
    pub submitted: usize,
    /// Receipts the chain released (finalized).
    pub released: usize,
}

/// Is `provider`'s lane with `unreleased` value, `age_ms` and a newest receipt expiring at
/// `receipt_expires_at`, on `view`'s job, due at `now`? At once while a thaw of the provider's allocation
/// is pending: what was accepted against the allocation must land before the thaw ends.
#[must_use]
pub fn is_due(
    policy: &Policy,
    view: &JobView,
    provider: &AccountId,
    unreleased: u128,
    age_ms: u64,
    receipt_expires_at: u64,
    now: u64,
) -> bool {
    let thawing = view.job.slot(provider).is_some_and(|s| s.thaw.amount > 0 && now < s.thaw.ends_at);
    thawing
        || unreleased >= policy.threshold
        || age_ms >= policy.max_age_ms
        || view.job.status == JobStatus::Completed
        || view.job.ends_at.saturating_sub(now) <= policy.expiry_margin_ms
        || receipt_expires_at.saturating_sub(now) <= policy.expiry_margin_ms
}

/// A lane due for release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Its newest accepted receipt.
    pub receipt_id: i64,
    /// The consumer whose job it is.
    pub consumer: AccountId,
    /// The latest moment its release can land: the earlier of its job's end and its receipt's expiry.
    pub deadline: u64,
}

/// The due lanes one extrinsic releases (at most `max`): deadline first, and fair across consumers.
/// Consumers take turns, the one whose most urgent lane has the earliest deadline first; on its turn each
/// gives its most urgent lane left. So a consumer with one due lane gets it into the batch however many
/// lanes another has due, and however early their deadlines: its lane's deadline is never pushed back by
/// another consumer's volume. (Within one consumer, and among consumers' first lanes, the earliest
/// deadline goes first.)
#[must_use]
pub fn select(mut due: Vec<Due>, max: usize) -> Vec<Due> {
    due.sort_by_key(|d| (d.deadline, d.receipt_id));
    let mut turns: Vec<(AccountId, std::collections::VecDeque<Due>)> = Vec::new();
    for d in due {
        match turns.iter_mut().find(|(consumer, _)| *consumer == d.consumer) {
            Some((_, lanes)) => lanes.push_back(d),
            None => turns.push((d.consumer, std::collections::VecDeque::from([d]))),
        }
    }
    let mut out = Vec::with_capacity(max);
    while out.len() < max && !turns.is_empty() {
        for (_, lanes) in &mut turns {
            if out.len() == max {
                break;
            }
            out.extend(lanes.pop_front());
        }
        turns.retain(|(_, lanes)| !lanes.is_empty());
    }
    out
}

/// The (receipt, signature) pairs `release_many` takes, of stored receipts (id, receipt, signature).
fn items_of(batch: &[(i64, Receipt<AccountId>, [u8; 64])]) -> Vec<(Receipt<AccountId>, [u8; 64])> {
    batch.iter().map(|(_, r, s)| (r.clone(), *s)).collect()
}

/// The loop's state.
pub struct Settler {
    store: Store,
    escrow: Escrow,
    signer: Keypair,
    policy: Policy,
    metrics: Metrics,
    views: Arc<JobViews>,
    /// While this replica leads through [`Settler::run`], its session's fence
    /// ([`crate::store::Leadership::fence`]): a release is sent only while that session holds the lock.
    fence: std::sync::Mutex<Option<i32>>,
}

impl Settler {
    /// A settler submitting with `signer`, reading jobs through `views` (kept between ticks while their
    /// follower runs).
    #[must_use]
    pub fn new(
        store: Store,
        escrow: Escrow,
        views: Arc<JobViews>,
        signer: Keypair,
        policy: Policy,
        metrics: Metrics,
    ) -> Self {
        Self { store, escrow, signer, policy, metrics, views, fence: std::sync::Mutex::new(None) }
    }

    /// Runs until `stop` resolves: every `cadence.interval`, checks the relayer's balance
    /// ([`Settler::check_relayer`]) and, while this replica leads ([`Settler::leading`]), ticks, each tick
    /// bounded by `cadence.tick_timeout` (a tick cut short leaves its submission recorded, for the next
    /// tick's recovery). Errors are logged and retried next time.
    pub async fn run(self, cadence: Cadence, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut last_balance = None;
        let mut session = None;
        loop {
            match self.check_relayer(cadence.min_relayer_balance, last_balance).await {
                Ok(balance) => last_balance = Some(balance),
                Err(e) => tracing::warn!(error = %e, "cannot read the relayer's balance"),
            }
            if self.leading(&mut session).await {
                match tokio::time::timeout(cadence.tick_timeout, self.tick()).await {
                    Ok(Ok(t)) if t.submitted > 0 => {
                        tracing::info!(submitted = t.submitted, released = t.released, "settled");
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "settlement tick failed"),
                    Err(_) => tracing::warn!(timeout = ?cadence.tick_timeout, "settlement tick timed out; retrying"),
                }
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(cadence.interval) => {}
            }
        }
    }

    /// Whether this replica leads the settlement loop: one replica per database does, holding a session
    /// advisory lock ([`crate::store::Leadership`]); the others try again each time, and one takes over
    /// once the leader's session ends (its process died, or Postgres went away). `session` is this
    /// replica's session, opened again after it fails.
    pub async fn leading(&self, session: &mut Option<crate::store::Leadership>) -> bool {
        let was = self.metrics.settle_leader.get() == 1;
        if session.is_none() {
            match self.store.leadership().await {
                Ok(s) => *session = Some(s),
                Err(e) => tracing::warn!(error = %e, "cannot open the leadership session"),
            }
        }
        let leads = match session.as_mut() {
            Some(s) => match s.lead().await {
                Ok(leads) => leads,
                Err(e) => {
                    tracing::warn!(error = %e, "the leadership session failed; opening a new one");
                    *session = None;
                    false
                }
            },
            None => false,
        };
        if leads != was {
            tracing::info!(leads, "settlement loop leadership changed");
        }
        *self.fence.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            session.as_ref().and_then(crate::store::Leadership::fence);
        self.metrics.settle_leader.set(i64::from(leads));
        leads
    }

    /// Reads the relayer's free balance into the metrics (`gateway_relayer_balance`, and what it went
    /// down by since `last`, its fees, into `gateway_relayer_spent_total`) and says whether it can pay:
    /// `gateway_relayer_ready` is 0 below `minimum` (then `/readyz` fails and the log says why), 1
    /// otherwise. Returns the balance.
    pub async fn check_relayer(&self, minimum: u128, last: Option<u128>) -> Result<u128> {
        let relayer = escrow_client::account_of(&self.signer);
        let balance = self.escrow.chain().free_balance(relayer).await?;
        #[allow(clippy::cast_precision_loss)]
        {
            self.metrics.relayer_balance.set(balance as f64);
            if let Some(spent) = last.and_then(|last| last.checked_sub(balance)) {
                self.metrics.relayer_spent.inc_by(spent as f64);
            }
        }
        let ready = balance >= minimum;
        if !ready {
            tracing::warn!(
                relayer = %escrow_client::accounts::ss58(relayer),
                balance,
                minimum,
                "the relayer cannot pay for releases: its balance is below relayer_min_balance; top it up"
            );
        }
        self.metrics.relayer_ready.set(i64::from(ready));
        Ok(balance)
    }

    /// Resolves submissions a crash (or a leader's death) left pending or in block: the chain's lanes
    /// decide whether each was paid (finalized) or not (failed, and its receipts are released again by
    /// the next tick). One whose extrinsic may still be included is not judged unpaid: it stays open
    /// and its lanes, returned, wait, so the same receipts are not sent twice. It may be included while
    /// it was signed, the finalized head is short of the block it dies from, and the node holds it (in its
    /// pool, or its effect in the best chain); a node that lost it (restarted) lets it go.
    pub async fn recover(&self) -> Result<HashSet<(JobId, AccountId)>> {
        let mut waiting = HashSet::new();
        let open = self.store.open_submissions().await?;
        if open.is_empty() {
            return Ok(waiting);
        }
        // The head first: the lanes below are read as of it or later.
        let chain = self.escrow.chain();
        let (head, _) = chain.finalized_head().await?;
        for (id, signed) in open {
            let items = self.store.submission_items(id).await?;
            let paid = self.paid(&items, None).await?;
            let all_paid = paid.iter().all(|p| *p);
            if !all_paid {
                if let Some((hash, dead_from)) = signed {
                    let may_land = head < dead_from
                        && (chain.in_pool(hash).await?
                            || self.paid(&items, Some(chain.best_hash().await?)).await?.iter().all(|p| *p));
                    if may_land {
                        waiting.extend(items.iter().map(|item| (item.job_id, item.provider)));
                        continue;
                    }
                }
            }
            for (item, paid) in items.iter().zip(paid) {
                self.store
                    .set_item_outcome(id, item.receipt_id, if paid { "released" } else { "not_released" })
                    .await?;
            }
            let (status, error) =
                if all_paid { ("finalized", None) } else { ("failed", Some("interrupted before finality")) };
            self.store.set_submission_status(id, status, error).await?;
        }
        Ok(waiting)
    }

    /// Whether the chain, as of block `at` (the latest finalized if `None`), paid each of `items`.
    async fn paid(&self, items: &[crate::store::SubmissionItem], at: Option<[u8; 32]>) -> Result<Vec<bool>> {
        let mut paid = Vec::with_capacity(items.len());
        for item in items {
            paid.push(self.escrow.lane_at(at, item.job_id, item.provider).await?.amount >= item.amount);
        }
        Ok(paid)
    }

    /// Leaves a lane alone until a newer receipt is accepted for it.
    async fn stall(&self, job_id: JobId, provider: &AccountId, reason: &str) -> Result<()> {
        tracing::warn!(job_id, reason, "lane stalled: its newest receipt cannot be settled");
        self.store.stall(job_id, provider, reason).await
    }

    async fn receipts(&self, ids: &[i64]) -> Result<Vec<(i64, Receipt<AccountId>, [u8; 64])>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let stored = self.store.receipt(*id).await?.ok_or(Error::NotFound)?;
            out.push((stored.id, stored.receipt, stored.signature));
        }
        Ok(out)
    }

    /// One pass: resolve interrupted submissions, refresh what the chain settled, pick the due lanes
    /// (at most `max_batch` × `max_extrinsics`), drop the receipts the chain would refuse (stalling their
    /// lanes), release the rest in extrinsics of at most `max_batch`, sent one after another, and follow
    /// them to finality together. A failed extrinsic does not hold up the others: the tick fails only
    /// when none got through.
    pub async fn tick(&self) -> Result<Tick> {
        let in_flight = self.recover().await?;
        let pending = self.store.pending_lanes().await?;
        let now = now_ms();
        let mut by_job: BTreeMap<JobId, Vec<PendingLane>> = BTreeMap::new();
        for p in pending {
            by_job.entry(p.job_id).or_default().push(p);
        }
        let mut due = Vec::new();
        let mut settled_of = HashMap::new();
        let mut queue = 0i64;
        let job_ids: Vec<JobId> = by_job.keys().copied().collect();
        let mut views = self.views.lookup(&job_ids).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the jobs at once; reading them one by one");
            HashMap::new()
        });
        for (job_id, lanes) in by_job {
            let read = match views.remove(&job_id) {
                Some(view) => Ok(view),
                None => JobView::fetch(&self.escrow, job_id).await,
            };
            let view = match read {
                Ok(view) => view,
                Err(e) => {
                    // One job's trouble does not hold up the others.
                    tracing::warn!(job_id, error = %e, "cannot read the job; retrying next tick");
                    continue;
                }
            };
            for lane in lanes {
                if in_flight.contains(&(job_id, lane.provider)) {
                    // An interrupted submission of this lane may still land: it waits for it.
                    continue;
                }
                let Some(view) = &view else {
                    // The escrow never removes a job, and this one was on chain when its receipt was
                    // accepted: a node that does not know it is behind (resyncing, or another node behind
                    // a balancer). Not a reason to give the lane up: tried again next tick.
                    tracing::warn!(job_id, "the node does not know this job; is it behind? retrying next tick");
                    continue;
                };
                let settled = view.settled(&lane.provider);
                if settled.amount >= lane.amount {
                    self.store.mark_settled(job_id, &lane.provider, settled.amount, settled.sequence).await?;
                    continue;
                }
                if view.job.status == JobStatus::Finalized || view.job.has_ended(now) {
                    self.stall(job_id, &lane.provider, "job_ended").await?;
                    continue;
                }
                queue = queue.saturating_add(1);
                let unreleased = lane.amount.saturating_sub(settled.amount);
                settled_of.insert((job_id, lane.provider), settled.amount);
                if is_due(&self.policy, view, &lane.provider, unreleased, lane.age_ms, lane.expires_at, now) {
                    let deadline = view.job.ends_at.min(lane.expires_at);
                    due.push(Due { receipt_id: lane.receipt_id, consumer: view.job.consumer, deadline });
                }
            }
        }
        self.metrics.settle_queue.set(queue);
        let room = self.policy.max_batch.saturating_mul(self.policy.max_extrinsics.max(1));
        let chosen: Vec<i64> = select(due, room).into_iter().map(|d| d.receipt_id).collect();
        let mut sent = Vec::new();
        let mut failed = None;
        for chunk in chosen.chunks(self.policy.max_batch.max(1)) {
            // Whatever fails here, the extrinsics already sent are still followed; the rest of the due
            // lanes wait for the next tick.
            let keep = match self.receipts(chunk).await {
                Ok(batch) => self.what_the_chain_takes(batch, &settled_of).await,
                Err(e) => Err(e),
            };
            let sending = match keep {
                Ok(keep) if keep.is_empty() => continue,
                Ok(keep) => self.send(&keep).await.map(|(id, progress)| (id, keep, progress)),
                Err(e) => Err(e),
            };
            match sending {
                Ok(one) => sent.push(one),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let followed = futures::future::join_all(
            sent.into_iter()
                .map(|(id, batch, progress)| async move { (batch.len(), self.finish(id, &batch, progress).await) }),
        )
        .await;
        let mut tick = Tick::default();
        for (submitted, outcome) in followed {
            match outcome {
                Ok(released) => {
                    tick.submitted = tick.submitted.saturating_add(submitted);
                    tick.released = tick.released.saturating_add(released);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a release extrinsic was not followed to finality; recovery lets the chain decide");
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) if tick.submitted == 0 => Err(e),
            _ => Ok(tick),
        }
    }

    /// Of `batch`, what the chain would take (per a dry-run of `release_many`). A lane whose receipt it
    /// refuses falls back to the lane's newest older accepted receipt still above what the chain
    /// settled (`settled`, by job and provider), tried in the next round, for at most
    /// [`FALLBACK_ROUNDS`] rounds; a lane with nothing left to try is stalled with the refusal's code
    /// until a newer receipt is accepted for it.
    async fn what_the_chain_takes(
        &self,
        mut batch: Vec<(i64, Receipt<AccountId>, [u8; 64])>,
        settled: &HashMap<(JobId, AccountId), u128>,
    ) -> Result<Vec<(i64, Receipt<AccountId>, [u8; 64])>> {
        let relayer = escrow_client::account_of(&self.signer);
        let mut keep = Vec::with_capacity(batch.len());
        for round in 0..=FALLBACK_ROUNDS {
            if batch.is_empty() {
                break;
            }
            let (outcomes, _) = self
                .escrow
                .dry_run::<Vec<core::result::Result<Split, settlement::Error>>>(
                    relayer,
                    0,
                    "release_many",
                    &items_of(&batch),
                )
                .await?;
            let mut retry = Vec::new();
            for (entry, outcome) in batch.drain(..).zip(outcomes.map_err(Error::rule)?) {
                let Err(refused) = outcome else {
                    keep.push(entry);
                    continue;
                };
                let (job_id, provider) = (entry.1.job_id, entry.1.provider);
                let floor = settled.get(&(job_id, provider)).copied().unwrap_or(0);
                let older = if round < FALLBACK_ROUNDS {
                    self.store.older_receipt(job_id, &provider, floor, entry.1.amount).await?
                } else {
                    None
                };
                match older {
                    Some(older) => {
                        tracing::info!(job_id, refused = ?refused, "the chain refuses a lane's newest receipt; trying an older one");
                        retry.push((older.id, older.receipt, older.signature));
                    }
                    None => self.stall(job_id, &provider, crate::error::rule_code(refused)).await?,
                }
            }
            batch = retry;
        }
        Ok(keep)
    }

    /// Records a submission of `batch` (pending), signs it (mortal for [`RELEASE_MORTALITY`] blocks, with
    /// the signer's next nonce), records its hash and the block it dies from, and sends it. Recorded before
    /// anything is sent, so a crash from here on is resolved by [`Settler::recover`]; one the node did not
    /// take is failed at once, its lanes free.
    async fn send(&self, batch: &[(i64, Receipt<AccountId>, [u8; 64])]) -> Result<(i64, escrow_client::TxProgress)> {
        let receipt_ids: Vec<i64> = batch.iter().map(|(receipt_id, _, _)| *receipt_id).collect();
        let id = self.store.record_submission(&receipt_ids).await?;
        let signed = self
            .escrow
            .sign::<Vec<core::result::Result<Split, settlement::Error>>>(
                &self.signer,
                0,
                "release_many",
                &items_of(batch),
                RELEASE_MORTALITY,
            )
            .await;
        let signed = match signed {
            Ok((_outcomes, _dry, signed)) => signed,
            Err(e) => {
                self.store.set_submission_status(id, "failed", Some(&e.to_string())).await?;
                return Err(e.into());
            }
        };
        // Recorded before it is sent: a leader taking over knows it may land, and until when. Not
        // recorded (this replica lost the leadership meanwhile): not sent.
        let fence = *self.fence.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // It stays pending, unsigned: the new leader's recovery resolves it from the chain.
        if !self.store.set_submission_signed(id, &signed.hash, signed.dead_from, fence).await? {
            return Err(Error::NotLeader);
        }
        match signed.submit().await {
            Ok(progress) => Ok((id, progress)),
            Err(e) => {
                // The node did not take it (as far as it answered): failed, its lanes free at once.
                self.store.set_submission_status(id, "failed", Some(&e.to_string())).await?;
                Err(e.into())
            }
        }
    }

    /// Follows submission `id` of `batch` to finality and records what the chain released of it; returns
    /// how many receipts it released. Once sent, an extrinsic that is not followed to its end may still
    /// land: its status stays open and the next ticks' recovery lets the chain decide.
    async fn finish(
        &self,
        id: i64,
        batch: &[(i64, Receipt<AccountId>, [u8; 64])],
        progress: escrow_client::TxProgress,
    ) -> Result<usize> {
        let started = Instant::now();
        let events = self.follow(id, progress).await?;
        self.metrics.release_seconds.observe(started.elapsed().as_secs_f64());
        // The outcomes first, the status last: a crash in between leaves the submission open, for the
        // next recovery to resolve from the chain again.
        let mut released = 0usize;
        for (receipt_id, receipt, _) in batch {
            let paid = events.iter().any(|e| {
                matches!(e, Event::Released { job_id, provider, cumulative, .. }
                    if *job_id == receipt.job_id && *provider == receipt.provider && *cumulative == receipt.amount)
            });
            self.store.set_item_outcome(id, *receipt_id, if paid { "released" } else { "refused" }).await?;
            if paid {
                released = released.saturating_add(1);
                self.store.mark_settled(receipt.job_id, &receipt.provider, receipt.amount, receipt.sequence).await?;
            }
        }
        self.metrics.released.inc_by(u64::try_from(released).unwrap_or(u64::MAX));
        self.store.set_submission_status(id, "finalized", None).await?;
        Ok(released)
    }

    /// Follows submission `id`'s extrinsic: in block, then finalized; returns the escrow's events.
    async fn follow(&self, id: i64, mut progress: escrow_client::TxProgress) -> Result<Vec<Event<AccountId>>> {
        while let Some(status) = progress.next().await {
            match status.map_err(escrow_client::Error::from)? {
                TxStatus::InBestBlock(block) => {
                    self.store.set_submission_in_block(id, &block.block_hash().0[..]).await?;
                }
                TxStatus::InFinalizedBlock(block) => {
                    let events = block.wait_for_success().await.map_err(escrow_client::Error::from)?;
                    return Ok(self.escrow.events_of(&events)?);
                }
                TxStatus::Error { message } | TxStatus::Invalid { message } | TxStatus::Dropped { message } => {
                    return Err(Error::Chain(escrow_client::Error::Call(message)));
                }
                TxStatus::Validated | TxStatus::Broadcasted | TxStatus::NoLongerInBestBlock => {}
            }
        }
        Err(Error::Chain(escrow_client::Error::Call("the node stopped reporting the release".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use settlement::{Job, Slot, Thaw};

    const P: AccountId = [2; 32];
    const NOW: u64 = 1_000;

    fn view(thaw: Thaw) -> JobView {
        let job = Job {
            consumer: [1; 32],
            providers: vec![P, [3; 32]],
            slots: vec![Slot { accepted_at: 1, allocation: 100, thaw, ..Slot::default() }, Slot::default()],
            payer_key: [0; 32],
            arbiter: [0; 32],
            terms_hash: [0; 32],
            fee_bps: 500,
            slash_bps: 0,
            deposit: 100,
            unallocated: 0,
            released: 0,
            opened_at: 0,
            expires_at: 100_000,
            ends_at: 100_000,
            status: JobStatus::Open,
        };
        JobView { job }
    }

    fn due(receipt_id: i64, consumer: u8, deadline: u64) -> Due {
        Due { receipt_id, consumer: [consumer; 32], deadline }
    }

    #[test]
    fn a_thousand_due_lanes_of_one_consumer_cannot_push_anothers_lane_past_its_deadline() {
        // Consumer 1 has 1,000 lanes due, every one with an earlier deadline than consumer 2's one lane,
        // which must land within the next extrinsic. Ticks of 64 releases each: consumer 2's lane goes in
        // the first, and consumer 1's go deadline first in the rest.
        let mut lanes: Vec<Due> = (0..1_000).map(|i| due(i, 1, 1_000 + i as u64)).collect();
        lanes.push(due(5_000, 2, 3_000));
        let mut released_at = std::collections::HashMap::new();
        let mut tick = 0;
        while !lanes.is_empty() {
            let batch = select(lanes.clone(), 64);
            assert_eq!(batch.len(), 64.min(lanes.len()));
            for d in &batch {
                released_at.insert(d.receipt_id, tick);
            }
            lanes.retain(|d| !batch.contains(d));
            tick += 1;
        }
        assert_eq!(released_at[&5_000], 0, "the other consumer's lane is in the first extrinsic");
        let order: Vec<i64> = (0..1_000).collect();
        assert!(order.windows(2).all(|w| released_at[&w[0]] <= released_at[&w[1]]), "deadline first");
        assert_eq!(tick, 1_001usize.div_ceil(64));
    }

    #[test]
    fn consumers_take_turns_the_most_urgent_first_and_each_its_earliest_lane() {
        let lanes = vec![due(1, 1, 50), due(2, 1, 10), due(3, 2, 30), due(4, 3, 20), due(5, 3, 5), due(6, 2, 40)];
        let ids = |v: Vec<Due>| v.into_iter().map(|d| d.receipt_id).collect::<Vec<_>>();
        // Turn order: consumer 3 (deadline 5), 1 (10), 2 (30); each gives its earliest lane left.
        assert_eq!(ids(select(lanes.clone(), 6)), [5, 2, 3, 4, 1, 6]);
        assert_eq!(ids(select(lanes.clone(), 2)), [5, 2]);
        assert!(select(lanes, 0).is_empty());
        assert!(select(Vec::new(), 64).is_empty());
    }

    #[test]
    fn a_pending_thaw_makes_the_providers_lane_due_at_once() {
        let policy =
            Policy { threshold: 1_000, max_age_ms: 60_000, expiry_margin_ms: 100, max_batch: 10, max_extrinsics: 1 };
        let due = |v: &JobView, who: &AccountId| is_due(&policy, v, who, 1, 0, 100_000, NOW);
        assert!(!due(&view(Thaw::default()), &P), "nothing makes it due");
        let pending = view(Thaw { amount: 10, ends_at: NOW + 50_000 });
        assert!(due(&pending, &P));
        assert!(!due(&pending, &[3; 32]), "another provider's lane is not");
        assert!(!due(&view(Thaw { amount: 10, ends_at: NOW }), &P), "an ended thaw: nothing left to land");
    }
}
