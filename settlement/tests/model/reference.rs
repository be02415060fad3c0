//! The reference model: the escrow as the rules describe it, written independently of `market.rs`,
//! with the queries the harness uses to resolve an operation's selectors. Its operations are in
//! [`crate::rules`].

use std::collections::BTreeMap;

use settlement::receipt::SignatureBytes;
use settlement::{Dispute, JobStatus, Lane, Receipt, Reputation, Stake};

use crate::ops::{JobRef, Pick};
use crate::world::{
    accounts, naive_fee, Acc, ANY_PROVIDER, ARBITERS, CONSUMERS, INITIAL_FEE_BPS, INITIAL_MIN_STAKE, INITIAL_SLASH_BPS,
    OTHER_CALLERS, OWNERS, PROVIDERS, START, TREASURIES,
};

/// Treasury, arbiter, fee, minimum stake and slash share.
pub(crate) type Announced = (Acc, Acc, u16, u128, u16);

#[derive(Debug, Clone)]
pub(crate) struct MJob {
    pub(crate) consumer: Acc,
    pub(crate) providers: Vec<Acc>,
    pub(crate) key: usize,
    pub(crate) arbiter: Acc,
    pub(crate) fee_bps: u16,
    pub(crate) slash_bps: u16,
    /// Per provider that accepted: when, and its slash bound.
    pub(crate) accepted: BTreeMap<Acc, (u64, u128)>,
    pub(crate) deposit: u128,
    /// Allocated to no provider (ended thaws are folded in by [`MJob::fold`]).
    pub(crate) unallocated: u128,
    /// Each provider's allocation.
    pub(crate) alloc: BTreeMap<Acc, u128>,
    /// Each provider's pending thaw: how much, and when it ends.
    pub(crate) thaws: BTreeMap<Acc, (u128, u64)>,
    pub(crate) released: u128,
    pub(crate) opened_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) ends_at: u64,
    pub(crate) status: JobStatus,
    pub(crate) lanes: BTreeMap<Acc, Lane>,
}

impl MJob {
    /// The most `p`'s cumulative amount may reach at `now`: its allocation, less an ended thaw (never
    /// below what it was paid).
    pub(crate) fn limit(&self, p: &Acc, now: u64) -> u128 {
        let alloc = self.alloc.get(p).copied().unwrap_or(0);
        let paid = self.lanes.get(p).map_or(0, |l| l.amount);
        match self.thaws.get(p) {
            Some(&(amount, ends_at)) if now >= ends_at => (alloc - amount).max(paid),
            _ => alloc,
        }
    }

    /// Moves every ended thaw back to the unallocated funds (limits unchanged).
    pub(crate) fn fold(&mut self, now: u64) {
        let ended: Vec<Acc> = self.thaws.iter().filter(|(_, t)| now >= t.1).map(|(p, _)| *p).collect();
        for p in ended {
            let kept = self.limit(&p, now);
            let alloc = self.alloc.get_mut(&p).unwrap();
            self.unallocated += *alloc - kept;
            *alloc = kept;
            self.thaws.remove(&p);
        }
    }
}

/// The escrow as the rules describe it, with its own bookkeeping of the money that came in and went out.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) now: u64,
    pub(crate) owner: Acc,
    pub(crate) pending_owner: Option<Acc>,
    pub(crate) treasury: Acc,
    pub(crate) arbiter: Acc,
    pub(crate) fee_bps: u16,
    pub(crate) min_stake: u128,
    pub(crate) slash_bps: u16,
    pub(crate) paused: bool,
    /// The announced (treasury, arbiter, fee_bps, min_stake, slash_bps) and when they may apply.
    pub(crate) announced: Option<(Announced, u64)>,
    pub(crate) next_job_id: u64,
    pub(crate) jobs: BTreeMap<u64, MJob>,
    pub(crate) stakes: BTreeMap<Acc, Stake>,
    pub(crate) disputes: BTreeMap<(u64, Acc), Dispute>,
    pub(crate) reputations: BTreeMap<Acc, Reputation>,
    /// Fees credited to each account while it was the treasury.
    pub(crate) fees_to: BTreeMap<Acc, u128>,
    /// Everything each account claimed.
    pub(crate) claimed: BTreeMap<Acc, u128>,
    /// Value sent in: deposits, top-ups, stakes.
    pub(crate) value_in: u128,
    /// Value paid out: claims and withdrawals.
    pub(crate) value_out: u128,
    /// Every receipt that was released, with its signature.
    pub(crate) settled: Vec<(Receipt<Acc>, SignatureBytes)>,
}

impl Model {
    pub(crate) fn new() -> Self {
        Self {
            now: START,
            owner: OWNERS[0],
            pending_owner: None,
            treasury: TREASURIES[0],
            arbiter: ARBITERS[0],
            fee_bps: INITIAL_FEE_BPS,
            min_stake: INITIAL_MIN_STAKE,
            slash_bps: INITIAL_SLASH_BPS,
            paused: false,
            announced: None,
            next_job_id: 1,
            jobs: BTreeMap::new(),
            stakes: BTreeMap::new(),
            disputes: BTreeMap::new(),
            reputations: BTreeMap::new(),
            fees_to: BTreeMap::new(),
            claimed: BTreeMap::new(),
            value_in: 0,
            value_out: 0,
            settled: Vec::new(),
        }
    }

    /// The job a reference names: for a selector mostly an existing job, sometimes the next (not yet
    /// existing) one.
    pub(crate) fn job_id(&self, job: JobRef) -> u64 {
        match job {
            JobRef::Id(id) => id,
            JobRef::Pick(sel) => {
                let sel = u64::try_from(sel).unwrap();
                let existing = self.next_job_id - 1;
                if existing == 0 || sel % 10 == 0 {
                    self.next_job_id
                } else {
                    1 + sel / 10 % existing
                }
            }
        }
    }

    /// An account from a selector: if `guided`, one that has something to claim (if any).
    pub(crate) fn claimant(&self, sel: usize, guided: bool) -> Acc {
        let all = accounts();
        let owed: Vec<Acc> = all.iter().copied().filter(|a| self.balance(a) > 0).collect();
        if guided && !owed.is_empty() {
            owed[sel % owed.len()]
        } else {
            all[sel % all.len()]
        }
    }

    /// A provider from a selector: if `guided`, one that has unbonding stake (if any).
    pub(crate) fn unbonder(&self, sel: usize, guided: bool) -> Acc {
        let unbonding: Vec<Acc> = PROVIDERS.into_iter().filter(|a| self.stake_of(a).unbonding > 0).collect();
        if guided && !unbonding.is_empty() {
            unbonding[sel % unbonding.len()]
        } else {
            PROVIDERS[sel % PROVIDERS.len()]
        }
    }

    pub(crate) fn provider(&self, job_id: u64, pick: Pick) -> Acc {
        match self.jobs.get(&job_id) {
            Some(job) if pick.on_job => job.providers[pick.idx % job.providers.len()],
            _ => ANY_PROVIDER[pick.idx % ANY_PROVIDER.len()],
        }
    }

    pub(crate) fn consumer_caller(&self, job_id: u64, caller: Option<usize>) -> Acc {
        match (caller, self.jobs.get(&job_id)) {
            (None, Some(job)) => job.consumer,
            (None, None) => CONSUMERS[0],
            (Some(i), _) => OTHER_CALLERS[i % OTHER_CALLERS.len()],
        }
    }

    /// Job `id` with its ended thaws folded in (what the consumer's operations see).
    pub(crate) fn folded(&self, id: u64) -> Option<MJob> {
        let mut job = self.jobs.get(&id)?.clone();
        job.fold(self.now);
        Some(job)
    }

    pub(crate) fn stake_of(&self, who: &Acc) -> Stake {
        self.stakes.get(who).copied().unwrap_or_default()
    }

    pub(crate) fn lane(&self, job_id: u64, provider: &Acc) -> Lane {
        self.jobs.get(&job_id).and_then(|j| j.lanes.get(provider)).copied().unwrap_or_default()
    }

    /// Everything ever credited to `who`, in closed form: its net on every lane it was paid on, the
    /// fees it took as treasury, the remainders of its finalized jobs and the slashes of its disputes.
    pub(crate) fn credited(&self, who: &Acc) -> u128 {
        let mut total = self.fees_to.get(who).copied().unwrap_or(0);
        for job in self.jobs.values() {
            if let Some(lane) = job.lanes.get(who) {
                total += lane.amount - naive_fee(lane.amount, job.fee_bps);
            }
            if job.consumer == *who && job.status == JobStatus::Finalized {
                total += job.deposit - job.released;
            }
        }
        for ((job_id, _), dispute) in &self.disputes {
            if self.jobs[job_id].consumer == *who {
                total += dispute.slashed;
            }
        }
        total
    }

    pub(crate) fn balance(&self, who: &Acc) -> u128 {
        self.credited(who) - self.claimed.get(who).copied().unwrap_or(0)
    }
}
