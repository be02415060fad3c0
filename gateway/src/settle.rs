//! The settlement loop: releases, per (job, provider), the newest accepted receipt (the highest
//! cumulative amount: the gateway accepts only rising amounts) the chain has not settled yet, many jobs
//! per extrinsic (`release_many`). A lane is released once its unreleased amount reaches the threshold,
//! once its oldest unreleased receipt passes the maximum age, and at once when its job is completed or
//! close to its end, or a thaw of its provider's allocation is pending (what was accepted against the
//! allocation must land before the thaw ends).
//!
//! Every submission is written to Postgres before it is sent (pending), then followed to in block and
//! finalized, or failed. The chain is the judge of what was paid: each tick first reads the providers'
//! settled lanes from the contract, and the contract refuses a receipt that does not raise a lane's
//! cumulative amount, so a retry after a crash or a failure can never pay twice.

use std::collections::{BTreeMap, HashMap};
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

/// The loop's state.
pub struct Settler {
    store: Store,
    escrow: Escrow,
    signer: Keypair,
    policy: Policy,
    metrics: Metrics,
    views: Arc<JobViews>,
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
        Self { store, escrow, signer, policy, metrics, views }
    }

    /// Runs ticks every `interval` until `stop` resolves. Errors are logged and retried next tick.
    pub async fn run(self, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            match self.tick().await {
                Ok(t) if t.submitted > 0 => tracing::info!(submitted = t.submitted, released = t.released, "settled"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "settlement tick failed"),
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Resolves submissions a crash left pending or in block: the chain's lanes decide whether each
    /// was paid (finalized) or not (failed, and its receipts are released again by the next tick).
    pub async fn recover(&self) -> Result<usize> {
        let open = self.store.open_submissions().await?;
        for id in &open {
            let items = self.store.submission_items(*id).await?;
            let mut all_paid = true;
            for item in &items {
                let lane = self.escrow.lane(item.job_id, item.provider).await?;
                let paid = lane.amount >= item.amount;
                all_paid &= paid;
                self.store
                    .set_item_outcome(*id, item.receipt_id, if paid { "released" } else { "not_released" })
                    .await?;
            }
            let (status, error) =
                if all_paid { ("finalized", None) } else { ("failed", Some("interrupted before finality")) };
            self.store.set_submission_status(*id, status, error).await?;
        }
        Ok(open.len())
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

    /// One pass: resolve interrupted submissions, refresh what the chain settled, pick the due lanes,
    /// drop the receipts the chain would refuse (stalling their lanes), release the rest in one
    /// extrinsic and follow it to finality.
    pub async fn tick(&self) -> Result<Tick> {
        self.recover().await?;
        let pending = self.store.pending_lanes().await?;
        let now = now_ms();
        let mut by_job: BTreeMap<JobId, Vec<PendingLane>> = BTreeMap::new();
        for p in pending {
            by_job.entry(p.job_id).or_default().push(p);
        }
        let mut due = Vec::new();
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
                let Some(view) = &view else {
                    self.stall(job_id, &lane.provider, "unknown_job").await?;
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
                if due.len() < self.policy.max_batch
                    && is_due(&self.policy, view, &lane.provider, unreleased, lane.age_ms, lane.expires_at, now)
                {
                    due.push(lane.receipt_id);
                }
            }
        }
        self.metrics.settle_queue.set(queue);
        if due.is_empty() {
            return Ok(Tick::default());
        }
        // What the chain would refuse is not sent: its lane waits for a newer receipt.
        let mut batch = self.receipts(&due).await?;
        let items: Vec<(Receipt<AccountId>, [u8; 64])> = batch.iter().map(|(_, r, s)| (r.clone(), *s)).collect();
        let relayer = escrow_client::account_of(&self.signer);
        let (outcomes, _) = self
            .escrow
            .dry_run::<Vec<core::result::Result<Split, settlement::Error>>>(relayer, 0, "release_many", &items)
            .await?;
        let outcomes = outcomes.map_err(Error::rule)?;
        let mut keep = Vec::with_capacity(batch.len());
        for (entry, outcome) in batch.drain(..).zip(outcomes) {
            match outcome {
                Ok(_) => keep.push(entry),
                Err(e) => self.stall(entry.1.job_id, &entry.1.provider, crate::error::rule_code(e)).await?,
            }
        }
        if keep.is_empty() {
            return Ok(Tick::default());
        }
        let items: Vec<(Receipt<AccountId>, [u8; 64])> = keep.iter().map(|(_, r, s)| (r.clone(), *s)).collect();
        self.submit(&keep, &items).await
    }

    async fn submit(
        &self,
        batch: &[(i64, Receipt<AccountId>, [u8; 64])],
        items: &[(Receipt<AccountId>, [u8; 64])],
    ) -> Result<Tick> {
        // Recorded before it is sent, so a crash from here on is resolved by `recover`.
        let receipt_ids: Vec<i64> = batch.iter().map(|(receipt_id, _, _)| *receipt_id).collect();
        let id = self.store.record_submission(&receipt_ids).await?;

        let started = Instant::now();
        let outcome = self.follow(id, items).await;
        if let Err(e) = &outcome {
            // Once sent, the extrinsic may still land: the status stays open and the next tick's
            // recovery lets the chain decide. Not sent at all: it failed.
            if !self.store.submission_sent(id).await? {
                self.store.set_submission_status(id, "failed", Some(&e.to_string())).await?;
            }
        }
        let events = outcome?;
        self.store.set_submission_status(id, "finalized", None).await?;
        self.metrics.release_seconds.observe(started.elapsed().as_secs_f64());
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
        Ok(Tick { submitted: batch.len(), released })
    }

    /// Sends the extrinsic and follows it: in block, then finalized; returns the escrow's events.
    async fn follow(&self, id: i64, items: &[(Receipt<AccountId>, [u8; 64])]) -> Result<Vec<Event<AccountId>>> {
        let (_outcomes, _dry, mut progress) = self
            .escrow
            .start::<Vec<core::result::Result<Split, settlement::Error>>>(&self.signer, 0, "release_many", items)
            .await?;
        self.store.set_submission_sent(id, &progress.extrinsic_hash().0[..]).await?;
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

    #[test]
    fn a_pending_thaw_makes_the_providers_lane_due_at_once() {
        let policy = Policy { threshold: 1_000, max_age_ms: 60_000, expiry_margin_ms: 100, max_batch: 10 };
        let due = |v: &JobView, who: &AccountId| is_due(&policy, v, who, 1, 0, 100_000, NOW);
        assert!(!due(&view(Thaw::default()), &P), "nothing makes it due");
        let pending = view(Thaw { amount: 10, ends_at: NOW + 50_000 });
        assert!(due(&pending, &P));
        assert!(!due(&pending, &[3; 32]), "another provider's lane is not");
        assert!(!due(&view(Thaw { amount: 10, ends_at: NOW }), &P), "an ended thaw: nothing left to land");
    }
}
