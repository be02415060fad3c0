//! The reference model's operations: each checks the rules in order and changes the model only on `Ok`.

use std::collections::{BTreeMap, BTreeSet};

use settlement::fee::Split;
use settlement::receipt::SignatureBytes;
use settlement::{Dispute, DisputeStatus, Error, JobStatus, Lane, Receipt, SettingsChange, Stake, MAX_PROVIDERS};

use crate::reference::{MJob, Model};
use crate::world::{naive_fee, Acc, CONTRACT, GENESIS, REASON, TIMING};

impl Model {
    pub(crate) fn open(
        &mut self,
        consumer: Acc,
        deposit: u128,
        providers: &[Acc],
        allocs: &[u128],
        key: usize,
        expires_at: u64,
    ) -> Result<u64, Error> {
        if self.paused {
            return Err(Error::Paused);
        }
        if deposit == 0 {
            return Err(Error::ZeroAmount);
        }
        let distinct: BTreeSet<&Acc> = providers.iter().collect();
        if providers.is_empty() || providers.len() > MAX_PROVIDERS || distinct.len() != providers.len() {
            return Err(Error::InvalidProviders);
        }
        if expires_at <= self.now {
            return Err(Error::ExpiryInPast);
        }
        if expires_at > self.now + TIMING.max_job_duration {
            return Err(Error::ExpiryTooFar);
        }
        let allocated = allocs.iter().try_fold(0u128, |sum, a| sum.checked_add(*a)).ok_or(Error::Overflow)?;
        if allocated > deposit {
            return Err(Error::InsufficientUnallocated);
        }
        // Naming providers touches nothing of theirs: stake is checked and locked on acceptance.
        let id = self.next_job_id;
        self.next_job_id += 1;
        let job = MJob {
            consumer,
            providers: providers.to_vec(),
            key,
            arbiter: self.arbiter,
            fee_bps: self.fee_bps,
            slash_bps: self.slash_bps,
            accepted: BTreeMap::new(),
            deposit,
            unallocated: deposit - allocated,
            alloc: providers.iter().copied().zip(allocs.iter().copied()).collect(),
            thaws: BTreeMap::new(),
            released: 0,
            opened_at: self.now,
            expires_at,
            ends_at: expires_at,
            status: JobStatus::Open,
            lanes: BTreeMap::new(),
        };
        self.jobs.insert(id, job);
        self.value_in += deposit;
        Ok(id)
    }

    pub(crate) fn accept_job(
        &mut self,
        caller: Acc,
        job_id: u64,
        min_funds: u128,
        max_slash: u128,
    ) -> Result<u128, Error> {
        let now = self.now;
        let job = self.jobs.get(&job_id).ok_or(Error::JobNotFound)?;
        if job.status == JobStatus::Finalized {
            return Err(Error::JobFinalized);
        }
        if now >= job.ends_at {
            return Err(Error::JobEnded);
        }
        if !job.providers.contains(&caller) {
            return Err(Error::NotAProvider);
        }
        if job.accepted.contains_key(&caller) {
            return Err(Error::AlreadyAccepted);
        }
        if self.stake_of(&caller).active < self.min_stake {
            return Err(Error::InsufficientStake);
        }
        // Nothing was released to it before it accepted.
        let funds = job.limit(&caller, now);
        if funds < min_funds {
            return Err(Error::TermsChanged);
        }
        let bound = max_slash.min(naive_fee(funds, job.slash_bps));
        let lock = job.expires_at + TIMING.dispute_window;
        let job = self.jobs.get_mut(&job_id).unwrap();
        job.accepted.insert(caller, (now, bound));
        // The provider's lane exists from its acceptance on (releases never create records).
        job.lanes.insert(caller, Lane::default());
        let stake = self.stakes.entry(caller).or_default();
        stake.locked_until = stake.locked_until.max(lock);
        Ok(bound)
    }

    /// The consumer's own job, still taking funds, with ended thaws folded in; `provider` must be on it.
    fn consumer_job(&mut self, caller: Acc, job_id: u64, provider: Option<Acc>) -> Result<&mut MJob, Error> {
        let now = self.now;
        let job = self.jobs.get_mut(&job_id).ok_or(Error::JobNotFound)?;
        if job.consumer != caller {
            return Err(Error::Unauthorized);
        }
        if job.status == JobStatus::Finalized || now >= job.ends_at {
            return Err(Error::JobEnded);
        }
        if provider.is_some_and(|p| !job.providers.contains(&p)) {
            return Err(Error::NotAProvider);
        }
        job.fold(now);
        Ok(job)
    }

    pub(crate) fn top_up(&mut self, caller: Acc, job_id: u64, amount: u128, to: Option<Acc>) -> Result<(), Error> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let job = self.consumer_job(caller, job_id, to)?;
        let deposit = job.deposit.checked_add(amount).ok_or(Error::Overflow)?;
        match to {
            Some(p) => {
                let alloc = job.alloc[&p].checked_add(amount).ok_or(Error::Overflow)?;
                job.alloc.insert(p, alloc);
            }
            None => job.unallocated += amount,
        }
        job.deposit = deposit;
        self.value_in += amount;
        Ok(())
    }

    pub(crate) fn allocate(&mut self, caller: Acc, job_id: u64, p: Acc, amount: u128) -> Result<u128, Error> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let job = self.consumer_job(caller, job_id, Some(p))?;
        if amount > job.unallocated {
            return Err(Error::InsufficientUnallocated);
        }
        let alloc = job.alloc[&p].checked_add(amount).ok_or(Error::Overflow)?;
        job.unallocated -= amount;
        job.alloc.insert(p, alloc);
        Ok(alloc)
    }

    pub(crate) fn thaw(&mut self, caller: Acc, job_id: u64, p: Acc, amount: u128) -> Result<u64, Error> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let now = self.now;
        let job = self.consumer_job(caller, job_id, Some(p))?;
        if job.thaws.contains_key(&p) {
            return Err(Error::ThawPending);
        }
        let paid = job.lanes.get(&p).map_or(0, |l| l.amount);
        if amount > job.alloc[&p] - paid {
            return Err(Error::InsufficientAllocation);
        }
        // A provider that has not accepted cannot be paid: its thaw needs no time.
        let ends_at = if job.accepted.contains_key(&p) { now + TIMING.thaw_period } else { now };
        job.thaws.insert(p, (amount, ends_at));
        Ok(ends_at)
    }

    /// `signed_by_job_key`: whether the model signed exactly this receipt with the job's payer key.
    pub(crate) fn release(
        &mut self,
        receipt: &Receipt<Acc>,
        signature: &SignatureBytes,
        signed_by_job_key: bool,
    ) -> Result<Split, Error> {
        if receipt.domain.genesis_hash != GENESIS {
            return Err(Error::WrongChain);
        }
        if receipt.domain.contract != CONTRACT {
            return Err(Error::WrongContract);
        }
        let now = self.now;
        let job = self.jobs.get_mut(&receipt.job_id).ok_or(Error::JobNotFound)?;
        if job.status == JobStatus::Finalized {
            return Err(Error::JobFinalized);
        }
        if now >= job.ends_at {
            return Err(Error::JobEnded);
        }
        if !job.providers.contains(&receipt.provider) {
            return Err(Error::NotAProvider);
        }
        if !job.accepted.contains_key(&receipt.provider) {
            return Err(Error::NotAccepted);
        }
        if receipt.expires_at <= now {
            return Err(Error::ReceiptExpired);
        }
        // Ordered by cumulative amount only: sequence and units are recorded, never compared.
        let lane = job.lanes.get(&receipt.provider).copied().unwrap_or_default();
        if receipt.amount <= lane.amount {
            return Err(Error::CumulativeNotIncreasing);
        }
        if receipt.amount > job.limit(&receipt.provider, now) {
            return Err(Error::ExceedsAllocation);
        }
        let step = receipt.amount - lane.amount;
        if job.released + step > job.deposit {
            return Err(Error::ExceedsEscrow);
        }
        if !signed_by_job_key {
            return Err(Error::BadSignature);
        }
        let fee = naive_fee(receipt.amount, job.fee_bps) - naive_fee(lane.amount, job.fee_bps);
        let net = step - fee;
        job.lanes.insert(
            receipt.provider,
            Lane { amount: receipt.amount, units: receipt.units, sequence: receipt.sequence, fee: lane.fee + fee },
        );
        job.released += step;
        *self.fees_to.entry(self.treasury).or_default() += fee;
        self.settled.push((receipt.clone(), *signature));
        Ok(Split { net, fee })
    }

    pub(crate) fn complete(&mut self, caller: Acc, job_id: u64) -> Result<u64, Error> {
        let now = self.now;
        let job = self.jobs.get_mut(&job_id).ok_or(Error::JobNotFound)?;
        if job.consumer != caller {
            return Err(Error::Unauthorized);
        }
        match job.status {
            JobStatus::Open => {}
            JobStatus::Completed => return Err(Error::AlreadyCompleted),
            JobStatus::Finalized => return Err(Error::JobFinalized),
        }
        if now >= job.ends_at {
            return Err(Error::JobEnded);
        }
        job.ends_at = job.ends_at.min(now + TIMING.settle_grace);
        job.status = JobStatus::Completed;
        Ok(job.ends_at)
    }

    pub(crate) fn refund(&mut self, job_id: u64) -> Result<u128, Error> {
        let now = self.now;
        let job = self.jobs.get_mut(&job_id).ok_or(Error::JobNotFound)?;
        if job.status == JobStatus::Finalized {
            return Err(Error::JobFinalized);
        }
        if now < job.ends_at {
            return Err(Error::JobNotEnded);
        }
        job.status = JobStatus::Finalized;
        // Each provider paid on the job counts it, and what it paid, once the job is finalized.
        for (provider, lane) in &job.lanes {
            if lane.amount > 0 {
                let reputation = self.reputations.entry(*provider).or_default();
                reputation.jobs_completed += 1;
                reputation.volume += lane.amount;
            }
        }
        Ok(job.deposit - job.released)
    }

    pub(crate) fn claim(&mut self, who: Acc) -> Result<u128, Error> {
        let amount = self.balance(&who);
        if amount == 0 {
            return Err(Error::NothingToClaim);
        }
        *self.claimed.entry(who).or_default() += amount;
        self.value_out += amount;
        Ok(amount)
    }

    pub(crate) fn stake(&mut self, provider: Acc, amount: u128) -> Result<(), Error> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let stake = self.stake_of(&provider);
        let active = stake.active.checked_add(amount).ok_or(Error::Overflow)?;
        active.checked_add(stake.unbonding).ok_or(Error::Overflow)?;
        self.stakes.insert(provider, Stake { active, ..stake });
        self.value_in += amount;
        Ok(())
    }

    pub(crate) fn unbond(&mut self, provider: Acc, amount: u128) -> Result<u64, Error> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let now = self.now;
        let stake = self.stakes.entry(provider).or_default();
        if amount > stake.active {
            return Err(Error::InsufficientActiveStake);
        }
        stake.active -= amount;
        stake.unbonding += amount;
        stake.unlock_at = now + TIMING.unbond_delay;
        Ok(stake.unlock_at)
    }

    pub(crate) fn withdraw(&mut self, provider: Acc) -> Result<u128, Error> {
        let now = self.now;
        let mut stake = self.stake_of(&provider);
        if stake.unbonding == 0 {
            return Err(Error::NothingToClaim);
        }
        // Pending disputes hold the stake only until the last of their arbitration periods ends.
        let disputed = stake.pending_disputes > 0 && now < stake.disputed_until;
        if now < stake.unlock_at || now < stake.locked_until || disputed {
            return Err(Error::StakeLocked);
        }
        let amount = stake.unbonding;
        stake.unbonding = 0;
        self.stakes.insert(provider, stake);
        self.value_out += amount;
        Ok(amount)
    }

    pub(crate) fn dispute(&mut self, caller: Acc, job_id: u64, provider: Acc) -> Result<u64, Error> {
        let job = self.jobs.get(&job_id).ok_or(Error::JobNotFound)?;
        if job.consumer != caller {
            return Err(Error::Unauthorized);
        }
        if !job.providers.contains(&provider) {
            return Err(Error::NotAProvider);
        }
        if !job.accepted.contains_key(&provider) {
            return Err(Error::NotAccepted);
        }
        if self.now >= job.ends_at + TIMING.dispute_window {
            return Err(Error::DisputeWindowClosed);
        }
        if self.disputes.contains_key(&(job_id, provider)) {
            return Err(Error::DisputeExists);
        }
        let resolve_by = self.now + TIMING.arbitration_period;
        let stake = self.stakes.entry(provider).or_default();
        stake.pending_disputes += 1;
        stake.disputed_until = stake.disputed_until.max(resolve_by);
        let dispute =
            Dispute { reason: REASON, opened_at: self.now, resolve_by, status: DisputeStatus::Pending, slashed: 0 };
        self.disputes.insert((job_id, provider), dispute);
        Ok(resolve_by)
    }

    pub(crate) fn resolve(&mut self, caller: Acc, job_id: u64, provider: Acc, slash: u128) -> Result<(), Error> {
        let now = self.now;
        let dispute = match self.disputes.get_mut(&(job_id, provider)) {
            Some(d) if d.status == DisputeStatus::Pending => d,
            _ => return Err(Error::DisputeNotFound),
        };
        // Until `resolve_by` only the arbiter the job opened with decides; afterwards anyone may
        // dismiss and no one may slash.
        if now >= dispute.resolve_by {
            if slash > 0 {
                return Err(Error::DisputeExpired);
            }
        } else if caller != self.jobs[&job_id].arbiter {
            return Err(Error::Unauthorized);
        }
        // One dispute slashes at most the bound the provider accepted the job with.
        if slash > self.jobs[&job_id].accepted.get(&provider).map_or(0, |a| a.1) {
            return Err(Error::SlashExceedsBound);
        }
        let stake = self.stakes.entry(provider).or_default();
        if slash > stake.active + stake.unbonding {
            return Err(Error::SlashExceedsStake);
        }
        let from_active = slash.min(stake.active);
        stake.active -= from_active;
        stake.unbonding -= slash - from_active;
        stake.pending_disputes -= 1;
        dispute.status = if slash > 0 { DisputeStatus::Upheld } else { DisputeStatus::Dismissed };
        dispute.slashed = slash;
        if slash > 0 {
            let reputation = self.reputations.entry(provider).or_default();
            reputation.disputes_lost += 1;
            reputation.slashed += slash;
        }
        Ok(())
    }

    pub(crate) fn announce(&mut self, caller: Acc, change: &SettingsChange<Acc>) -> Result<u64, Error> {
        if caller != self.owner {
            return Err(Error::Unauthorized);
        }
        let fee_bps = change.fee_bps.unwrap_or(self.fee_bps);
        if fee_bps > 1_000 {
            return Err(Error::FeeTooHigh);
        }
        let slash_bps = change.slash_bps.unwrap_or(self.slash_bps);
        if slash_bps > 10_000 {
            return Err(Error::InvalidConfig);
        }
        let settings = (
            change.treasury.unwrap_or(self.treasury),
            change.arbiter.unwrap_or(self.arbiter),
            fee_bps,
            change.min_stake.unwrap_or(self.min_stake),
            slash_bps,
        );
        let effective_at = self.now + TIMING.admin_delay;
        self.announced = Some((settings, effective_at));
        Ok(effective_at)
    }

    pub(crate) fn apply(&mut self, caller: Acc) -> Result<(), Error> {
        if caller != self.owner {
            return Err(Error::Unauthorized);
        }
        match self.announced {
            Some(((treasury, arbiter, fee_bps, min_stake, slash_bps), at)) if self.now >= at => {
                (self.treasury, self.arbiter, self.fee_bps, self.min_stake, self.slash_bps) =
                    (treasury, arbiter, fee_bps, min_stake, slash_bps);
                self.announced = None;
                Ok(())
            }
            _ => Err(Error::SettingsNotDue),
        }
    }

    pub(crate) fn pause(&mut self, caller: Acc, paused: bool) -> Result<(), Error> {
        if caller != self.owner {
            return Err(Error::Unauthorized);
        }
        self.paused = paused;
        Ok(())
    }

    pub(crate) fn transfer(&mut self, caller: Acc, to: Acc) -> Result<(), Error> {
        if caller != self.owner {
            return Err(Error::Unauthorized);
        }
        self.pending_owner = Some(to);
        Ok(())
    }

    pub(crate) fn accept(&mut self, caller: Acc) -> Result<(), Error> {
        if self.pending_owner != Some(caller) {
            return Err(Error::NoPendingOwner);
        }
        self.owner = caller;
        self.pending_owner = None;
        Ok(())
    }
}
