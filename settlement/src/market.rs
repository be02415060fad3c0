//! The escrow state machine: every operation the contract offers, as plain code over a [`Store`].
//!
//! Each operation checks everything first and writes only when all checks pass, so a refused
//! operation changes nothing: every checked sum is formed before the first write. Money moves only as credits to claimable balances; the caller of
//! [`Market::claim`] and [`Market::withdraw`] transfers the returned amount out.

use alloc::vec::Vec;
use scale::{Decode, Encode};

use crate::checks;
use crate::events::Event;
use crate::fee::split_step;
use crate::receipt::{PublicKey, Receipt, SignatureBytes};
use crate::state::{
    check_settings, Announced, Config, Dispute, DisputeStatus, Job, JobStatus, Lane, Reputation, Settings, Slot, Stake,
    Thaw, MAX_PROVIDERS,
};
use crate::{Balance, Error, JobId, Result, Timestamp};

/// Where the escrow's records live: contract storage on chain, maps in memory off chain.
pub trait Store {
    /// The chain's account type.
    type Account: Copy + Eq + Encode + Decode;

    /// The configuration.
    fn config(&self) -> Config<Self::Account>;
    /// Replaces the configuration.
    fn set_config(&mut self, config: &Config<Self::Account>);
    /// A job, if it exists.
    fn job(&self, id: JobId) -> Option<Job<Self::Account>>;
    /// Writes a job.
    fn set_job(&mut self, id: JobId, job: &Job<Self::Account>);
    /// A provider's stake (default: none).
    fn stake(&self, who: &Self::Account) -> Stake;
    /// Writes a stake.
    fn set_stake(&mut self, who: &Self::Account, stake: &Stake);
    /// A provider's reputation (default: no history).
    fn reputation(&self, who: &Self::Account) -> Reputation;
    /// Writes a reputation.
    fn set_reputation(&mut self, who: &Self::Account, reputation: &Reputation);
    /// An account's claimable balance.
    fn balance(&self, who: &Self::Account) -> Balance;
    /// Writes a claimable balance.
    fn set_balance(&mut self, who: &Self::Account, balance: Balance);
    /// The dispute of a job against a provider, if any.
    fn dispute(&self, id: JobId, provider: &Self::Account) -> Option<Dispute>;
    /// Writes a dispute.
    fn set_dispute(&mut self, id: JobId, provider: &Self::Account, dispute: &Dispute);
    /// Reports a state change.
    fn emit(&mut self, event: Event<Self::Account>);
}

/// What a new job needs besides its deposit.
#[derive(Debug, Clone, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
pub struct OpenJob<A> {
    /// 1 to [`MAX_PROVIDERS`] distinct providers, each with its allocation: the most its receipts may
    /// draw from the deposit (together at most the deposit; the rest stays unallocated).
    pub providers: Vec<(A, Balance)>,
    /// The ed25519 key that will sign the job's receipts.
    pub payer_key: PublicKey,
    /// Hash of the off-chain terms.
    pub terms_hash: [u8; 32],
    /// Expiry in ms since the Unix epoch: in the future, within the maximum job duration.
    pub expires_at: Timestamp,
}

/// The escrow rules applied to a [`Store`] at one moment.
pub struct Market<'s, S: Store> {
    store: &'s mut S,
    now: Timestamp,
}

fn add(a: Balance, b: Balance) -> Result<Balance> {
    a.checked_add(b).ok_or(Error::Overflow)
}

impl<'s, S: Store> Market<'s, S> {
    /// The rules over `store` at time `now` (ms since the Unix epoch: the block timestamp on chain).
    pub fn new(store: &'s mut S, now: Timestamp) -> Self {
        Self { store, now }
    }

    fn existing_job(&self, id: JobId) -> Result<Job<S::Account>> {
        self.store.job(id).ok_or(Error::JobNotFound)
    }

    /// Writes `who`'s claimable balance as it is, so that its record exists (records are never removed).
    fn keep_balance_record(&mut self, who: &S::Account) {
        let balance = self.store.balance(who);
        self.store.set_balance(who, balance);
    }

    fn credit(&mut self, who: &S::Account, amount: Balance) -> Result<()> {
        if amount > 0 {
            let balance = add(self.store.balance(who), amount)?;
            self.store.set_balance(who, balance);
        }
        Ok(())
    }

    /// Adds `change`, counter by counter (saturating), to `who`'s reputation. One function for every
    /// change, not one per kind of change: smaller on chain.
    fn update_reputation(&mut self, who: &S::Account, change: Reputation) {
        let mut reputation = self.store.reputation(who);
        reputation.jobs_completed = reputation.jobs_completed.saturating_add(change.jobs_completed);
        reputation.volume = reputation.volume.saturating_add(change.volume);
        reputation.disputes_lost = reputation.disputes_lost.saturating_add(change.disputes_lost);
        reputation.slashed = reputation.slashed.saturating_add(change.slashed);
        self.store.set_reputation(who, &reputation);
        self.store.emit(Event::ReputationChanged { provider: *who, reputation, score: reputation.score() });
    }

    // ---------------------------------------------------------------- jobs

    /// Opens a job funded with `deposit` by `consumer`; returns its id.
    pub fn open_job(&mut self, consumer: S::Account, deposit: Balance, req: OpenJob<S::Account>) -> Result<JobId> {
        let mut config = self.store.config();
        if config.paused {
            return Err(Error::Paused);
        }
        if deposit == 0 {
            return Err(Error::ZeroAmount);
        }
        let count = req.providers.len();
        if count == 0 || count > MAX_PROVIDERS {
            return Err(Error::InvalidProviders);
        }
        // One pass builds the job's and the event's lists (no more than they need).
        let mut providers = Vec::with_capacity(count);
        let mut allocations = Vec::with_capacity(count);
        let mut slots = Vec::with_capacity(count);
        let mut distinct = true;
        // Their sum (`None` on overflow), checked after the expiry.
        let mut allocated = Some(0);
        for &(provider, allocation) in &req.providers {
            distinct &= !providers.contains(&provider);
            providers.push(provider);
            allocations.push(allocation);
            slots.push(Slot { allocation, ..Slot::default() });
            allocated = allocated.and_then(|sum: Balance| sum.checked_add(allocation));
        }
        if !distinct {
            return Err(Error::InvalidProviders);
        }
        if req.expires_at <= self.now {
            return Err(Error::ExpiryInPast);
        }
        if req.expires_at > self.now.saturating_add(config.timing.max_job_duration) {
            return Err(Error::ExpiryTooFar);
        }
        let allocated = allocated.ok_or(Error::Overflow)?;
        let unallocated = deposit.checked_sub(allocated).ok_or(Error::InsufficientUnallocated)?;
        let job_id = config.next_job_id;
        config.next_job_id = job_id.checked_add(1).ok_or(Error::Overflow)?;
        // Naming a provider touches nothing of its own (G3): its stake is checked and locked only when
        // it accepts the job.
        #[cfg(settlement_mutant = "lock_on_open")]
        for p in &providers {
            let mut stake = self.store.stake(p);
            stake.locked_until = stake.locked_until.max(req.expires_at.saturating_add(config.timing.dispute_window));
            self.store.set_stake(p, &stake);
        }
        let job = Job {
            consumer,
            providers,
            slots,
            payer_key: req.payer_key,
            arbiter: config.arbiter,
            terms_hash: req.terms_hash,
            fee_bps: config.fee_bps,
            slash_bps: config.slash_bps,
            deposit,
            unallocated,
            released: 0,
            opened_at: self.now,
            expires_at: req.expires_at,
            ends_at: req.expires_at,
            status: JobStatus::Open,
        };
        self.store.set_job(job_id, &job);
        self.store.set_config(&config);
        // The consumer's claimable balance record, for its refund and slashes: created now, at its cost.
        self.keep_balance_record(&consumer);
        let Job { providers, arbiter, fee_bps, slash_bps, .. } = job;
        self.store.emit(Event::JobOpened {
            job_id,
            consumer,
            providers,
            allocations,
            deposit,
            payer_key: req.payer_key,
            terms_hash: req.terms_hash,
            fee_bps,
            slash_bps,
            arbiter,
            expires_at: req.expires_at,
        });
        Ok(job_id)
    }

    /// A provider named on a job accepts it (G3), with its own terms: its allocation must be at least
    /// `min_funds` (so a front-running consumer cannot change what it accepts), and one dispute may slash
    /// at most `max_slash`, further capped at the job's slash share of that allocation. Checks the
    /// provider's minimum stake and locks it until the job's expiry plus the dispute window. Returns the
    /// slash bound, fixed from now on.
    pub fn accept_job(
        &mut self,
        caller: S::Account,
        job_id: JobId,
        min_funds: Balance,
        max_slash: Balance,
    ) -> Result<Balance> {
        let mut job = self.existing_job(job_id)?;
        checks::job_open(&job, self.now)?;
        let i = job.index_of(&caller).ok_or(Error::NotAProvider)?;
        let mut slot = job.slots.get(i).copied().ok_or(Error::InvalidProviders)?;
        if slot.is_accepted() {
            return Err(Error::AlreadyAccepted);
        }
        let config = self.store.config();
        let mut stake = self.store.stake(&caller);
        if stake.active < config.min_stake {
            return Err(Error::InsufficientStake);
        }
        // Nothing was released to it yet: releases need its acceptance.
        let funds = slot.limit(0, self.now);
        if funds < min_funds {
            return Err(Error::TermsChanged);
        }
        let bound = max_slash.min(crate::fee::fee_of(funds, job.slash_bps));
        slot.accepted_at = self.now;
        slot.max_slash = bound;
        set_slot(&mut job, i, slot)?;
        // The stake stays until the last dispute this job allows is possible.
        stake.locked_until = stake.locked_until.max(job.expires_at.saturating_add(config.timing.dispute_window));
        self.store.set_stake(&caller, &stake);
        self.store.set_job(job_id, &job);
        // Every record a release will write exists from now on, created at the provider's cost (G6): its
        // claimable balance and its reputation (its lane lives in the job). Releases then only rewrite
        // records of the same size, so whoever submits them pays no storage deposit.
        #[cfg(not(settlement_mutant = "release_creates_records"))]
        {
            self.keep_balance_record(&caller);
            let reputation = self.store.reputation(&caller);
            self.store.set_reputation(&caller, &reputation);
        }
        self.store.emit(Event::JobAccepted {
            job_id,
            provider: caller,
            funds,
            max_slash: bound,
            locked_until: stake.locked_until,
        });
        Ok(bound)
    }

    /// The consumer's own job, still taking funds (neither finalized nor ended), with its ended thaws
    /// folded in; `provider`, if given, must be one of its providers.
    fn consumer_job(
        &self,
        caller: &S::Account,
        job_id: JobId,
        provider: Option<&S::Account>,
    ) -> Result<Job<S::Account>> {
        let mut job = self.existing_job(job_id)?;
        if job.consumer != *caller {
            return Err(Error::Unauthorized);
        }
        if job.status == JobStatus::Finalized || job.has_ended(self.now) {
            return Err(Error::JobEnded);
        }
        if provider.is_some_and(|p| !job.has_provider(p)) {
            return Err(Error::NotAProvider);
        }
        self.fold_thaws(&mut job)?;
        Ok(job)
    }

    /// Folds every ended thaw of `job` into its allocations, moving what they free back to the job's
    /// unallocated funds. Changes no provider's limit.
    fn fold_thaws(&self, job: &mut Job<S::Account>) -> Result<()> {
        for slot in &mut job.slots {
            if slot.thaw_matured(self.now) {
                let moved = slot.fold_thaw(slot.lane.amount, self.now);
                job.unallocated = add(job.unallocated, moved)?;
            }
        }
        Ok(())
    }

    /// The consumer adds `amount` to a job that has not ended: to `to`'s allocation at once, or to the
    /// job's unallocated funds.
    pub fn top_up(&mut self, caller: S::Account, job_id: JobId, amount: Balance, to: Option<S::Account>) -> Result<()> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let mut job = self.consumer_job(&caller, job_id, to.as_ref())?;
        job.deposit = add(job.deposit, amount)?;
        let raised = match to {
            Some(provider) => Some((provider, self.raise(&mut job, &provider, amount)?)),
            None => {
                job.unallocated = add(job.unallocated, amount)?;
                None
            }
        };
        self.store.set_job(job_id, &job);
        self.store.emit(Event::ToppedUp { job_id, consumer: caller, amount, deposit: job.deposit });
        if let Some((provider, allocation)) = raised {
            self.emit_allocated(job_id, &job, provider, amount, allocation);
        }
        Ok(())
    }

    /// Raises `provider`'s allocation by `amount` (the caller took it from somewhere); returns the new
    /// allocation.
    fn raise(&self, job: &mut Job<S::Account>, provider: &S::Account, amount: Balance) -> Result<Balance> {
        let i = job.index_of(provider).ok_or(Error::NotAProvider)?;
        let mut slot = job.slots.get(i).copied().ok_or(Error::InvalidProviders)?;
        slot.allocation = add(slot.allocation, amount)?;
        set_slot(job, i, slot)?;
        Ok(slot.allocation)
    }

    fn emit_allocated(
        &mut self,
        job_id: JobId,
        job: &Job<S::Account>,
        provider: S::Account,
        amount: Balance,
        allocation: Balance,
    ) {
        let (consumer, unallocated) = (job.consumer, job.unallocated);
        self.store.emit(Event::Allocated { job_id, consumer, provider, amount, allocation, unallocated });
    }

    /// The consumer raises `provider`'s allocation by `amount`, at once, from the job's unallocated funds
    /// (ended thaws included); returns the new allocation.
    pub fn allocate(
        &mut self,
        caller: S::Account,
        job_id: JobId,
        provider: S::Account,
        amount: Balance,
    ) -> Result<Balance> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let mut job = self.consumer_job(&caller, job_id, Some(&provider))?;
        job.unallocated = job.unallocated.checked_sub(amount).ok_or(Error::InsufficientUnallocated)?;
        let allocation = self.raise(&mut job, &provider, amount)?;
        self.store.set_job(job_id, &job);
        self.emit_allocated(job_id, &job, provider, amount, allocation);
        Ok(allocation)
    }

    /// The consumer lowers `provider`'s allocation by `amount` through a thaw (G2): the provider may
    /// still be paid against the whole allocation until the returned moment, one thaw period from now
    /// (at once if it has not accepted the job); then the allocation drops by `amount`, never below what
    /// the provider was paid, and the rest returns to the job's unallocated funds. One thaw at a time
    /// per provider; `amount` at most the allocation less what was paid.
    pub fn thaw(
        &mut self,
        caller: S::Account,
        job_id: JobId,
        provider: S::Account,
        amount: Balance,
    ) -> Result<Timestamp> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let mut job = self.consumer_job(&caller, job_id, Some(&provider))?;
        let i = job.index_of(&provider).ok_or(Error::NotAProvider)?;
        let mut slot = job.slots.get(i).copied().ok_or(Error::InvalidProviders)?;
        if slot.thaw.amount > 0 {
            return Err(Error::ThawPending);
        }
        let paid = slot.lane.amount;
        if amount > slot.allocation.saturating_sub(paid) {
            return Err(Error::InsufficientAllocation);
        }
        let ends_at = if slot.is_accepted() {
            self.now.checked_add(self.store.config().timing.thaw_period).ok_or(Error::Overflow)?
        } else {
            self.now
        };
        slot.thaw = Thaw { amount, ends_at };
        set_slot(&mut job, i, slot)?;
        self.store.set_job(job_id, &job);
        self.store.emit(Event::ThawStarted { job_id, consumer: caller, provider, amount, ends_at });
        Ok(ends_at)
    }

    /// Settles a signed receipt (anyone may submit it): credits the provider the net and the treasury the
    /// fee of the step from the last settled cumulative amount to the receipt's. Reads and writes the
    /// job (with the provider's lane) and the provider's balance only: the treasury's fees accrue in the
    /// configuration, and the provider's reputation counts the job when it is finalized.
    pub fn release(&mut self, receipt: &Receipt<S::Account>, signature: &SignatureBytes) -> Result<crate::fee::Split> {
        let mut config = self.store.config();
        checks::check_domain(&config.domain, receipt)?;
        let job_id = receipt.job_id;
        let mut job = self.existing_job(job_id)?;
        let provider = receipt.provider;
        let lane = job.slot(&provider).map(|s| s.lane).unwrap_or_default();
        let released = checks::check_against_job(&job, &lane, receipt, signature, self.now)?;
        let i = job.index_of(&provider).ok_or(Error::NotAProvider)?;
        let mut slot = job.slots.get(i).copied().ok_or(Error::InvalidProviders)?;
        let step = receipt.amount.saturating_sub(lane.amount);

        let split = split_step(lane.amount, receipt.amount, job.fee_bps);
        // Every sum is formed before the first write, so an overflow changes nothing.
        let provider_balance = add(self.store.balance(&provider), split.net)?;
        config.fees = add(config.fees, split.fee)?;
        let fee_total = add(lane.fee, split.fee)?;
        self.store.set_balance(&provider, provider_balance);
        self.store.set_config(&config);
        slot.lane = Lane { amount: receipt.amount, units: receipt.units, sequence: receipt.sequence, fee: fee_total };
        set_slot(&mut job, i, slot)?;
        job.released = released;
        self.store.set_job(job_id, &job);
        self.store.emit(Event::Released {
            job_id,
            consumer: job.consumer,
            provider,
            cumulative: receipt.amount,
            units: receipt.units,
            sequence: receipt.sequence,
            amount: step,
            fee: split.fee,
            net: split.net,
        });
        Ok(split)
    }

    /// The consumer declares the job done: receipts are accepted for the settle grace (never past the
    /// expiry), then the remainder can be refunded.
    pub fn complete(&mut self, caller: S::Account, job_id: JobId) -> Result<Timestamp> {
        let mut job = self.existing_job(job_id)?;
        if job.consumer != caller {
            return Err(Error::Unauthorized);
        }
        match job.status {
            JobStatus::Open => {}
            JobStatus::Completed => return Err(Error::AlreadyCompleted),
            JobStatus::Finalized => return Err(Error::JobFinalized),
        }
        if job.has_ended(self.now) {
            return Err(Error::JobEnded);
        }
        let grace_end = self.now.saturating_add(self.store.config().timing.settle_grace);
        job.ends_at = job.ends_at.min(grace_end);
        job.status = JobStatus::Completed;
        self.store.set_job(job_id, &job);
        self.store.emit(Event::JobCompleted { job_id, consumer: caller, ends_at: job.ends_at });
        Ok(job.ends_at)
    }

    /// Finalizes an ended job (anyone may call): credits the unreleased remainder to the consumer and
    /// counts the job, and what it paid them, in the reputation of every provider that was paid on it.
    pub fn refund(&mut self, job_id: JobId) -> Result<Balance> {
        let mut job = self.existing_job(job_id)?;
        if job.status == JobStatus::Finalized {
            return Err(Error::JobFinalized);
        }
        if !job.has_ended(self.now) {
            return Err(Error::JobNotEnded);
        }
        #[cfg(not(settlement_mutant = "refund_whole_deposit"))]
        let remainder = job.held();
        #[cfg(settlement_mutant = "refund_whole_deposit")]
        let remainder = job.deposit;
        self.credit(&job.consumer, remainder)?;
        job.status = JobStatus::Finalized;
        self.store.set_job(job_id, &job);
        self.store.emit(Event::Refunded { job_id, consumer: job.consumer, amount: remainder });
        for (provider, slot) in job.providers.iter().zip(&job.slots) {
            if slot.lane.amount > 0 {
                let done = Reputation { jobs_completed: 1, volume: slot.lane.amount, ..Reputation::default() };
                self.update_reputation(provider, done);
            }
        }
        Ok(remainder)
    }

    /// Empties `caller`'s claimable balance (for the treasury, with the fees accrued since its last
    /// claim) and returns it; the caller transfers it out.
    pub fn claim(&mut self, caller: S::Account) -> Result<Balance> {
        let mut config = self.store.config();
        let fees = if caller == config.treasury { config.fees } else { 0 };
        let amount = add(self.store.balance(&caller), fees)?;
        if amount == 0 {
            return Err(Error::NothingToClaim);
        }
        self.store.set_balance(&caller, 0);
        if fees > 0 {
            config.fees = 0;
            self.store.set_config(&config);
        }
        self.store.emit(Event::Claimed { account: caller, amount });
        Ok(amount)
    }

    // ---------------------------------------------------------------- staking

    /// Bonds `amount` more for `provider`.
    pub fn stake(&mut self, provider: S::Account, amount: Balance) -> Result<()> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let mut stake = self.store.stake(&provider);
        stake.active = add(stake.active, amount)?;
        // Keep the total representable too, so slashing arithmetic never overflows.
        add(stake.active, stake.unbonding)?;
        self.store.set_stake(&provider, &stake);
        self.store.emit(Event::Staked { provider, amount, active: stake.active });
        Ok(())
    }

    /// Moves `amount` of active stake to unbonding; all unbonding stake unlocks one unbonding delay
    /// from now.
    pub fn unbond(&mut self, provider: S::Account, amount: Balance) -> Result<Timestamp> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let mut stake = self.store.stake(&provider);
        if amount > stake.active {
            return Err(Error::InsufficientActiveStake);
        }
        stake.active = stake.active.saturating_sub(amount);
        stake.unbonding = add(stake.unbonding, amount)?;
        stake.unlock_at = self.now.saturating_add(self.store.config().timing.unbond_delay);
        self.store.set_stake(&provider, &stake);
        self.store.emit(Event::Unbonding { provider, amount, unbonding: stake.unbonding, unlock_at: stake.unlock_at });
        Ok(stake.unlock_at)
    }

    /// Releases all unbonded stake once its delay, every job lock and the arbitration period of every
    /// pending dispute are past; returns the amount for the caller to transfer out.
    pub fn withdraw(&mut self, provider: S::Account) -> Result<Balance> {
        let mut stake = self.store.stake(&provider);
        if stake.unbonding == 0 {
            return Err(Error::NothingToClaim);
        }
        if self.now < stake.unlock_at || self.now < stake.locked_until || disputes_hold(&stake, self.now) {
            return Err(Error::StakeLocked);
        }
        let amount = stake.unbonding;
        stake.unbonding = 0;
        self.store.set_stake(&provider, &stake);
        self.store.emit(Event::Withdrawn { provider, amount });
        Ok(amount)
    }

    // ---------------------------------------------------------------- disputes

    /// The consumer disputes a provider of its job, up to one dispute window after the job ends; returns
    /// the end of the arbitration period.
    pub fn dispute(
        &mut self,
        caller: S::Account,
        job_id: JobId,
        provider: S::Account,
        reason: [u8; 32],
    ) -> Result<Timestamp> {
        let job = self.existing_job(job_id)?;
        if job.consumer != caller {
            return Err(Error::Unauthorized);
        }
        if !job.has_provider(&provider) {
            return Err(Error::NotAProvider);
        }
        #[cfg(not(settlement_mutant = "dispute_unaccepted"))]
        if !job.has_accepted(&provider) {
            return Err(Error::NotAccepted);
        }
        let window = self.store.config().timing.dispute_window;
        if self.now >= job.ends_at.saturating_add(window) {
            return Err(Error::DisputeWindowClosed);
        }
        if self.store.dispute(job_id, &provider).is_some() {
            return Err(Error::DisputeExists);
        }
        let resolve_by = self.now.saturating_add(self.store.config().timing.arbitration_period);
        let mut stake = self.store.stake(&provider);
        stake.pending_disputes = stake.pending_disputes.checked_add(1).ok_or(Error::Overflow)?;
        stake.disputed_until = stake.disputed_until.max(resolve_by);
        self.store.set_stake(&provider, &stake);
        let dispute = Dispute { reason, opened_at: self.now, resolve_by, status: DisputeStatus::Pending, slashed: 0 };
        self.store.set_dispute(job_id, &provider, &dispute);
        self.store.emit(Event::DisputeOpened { job_id, consumer: caller, provider, reason, resolve_by });
        Ok(resolve_by)
    }

    /// The job's own arbiter resolves a pending dispute before its `resolve_by`: `slash` (at most the
    /// provider's whole stake, active first, then unbonding) goes to the consumer; zero dismisses the
    /// dispute. From `resolve_by` on, anyone may dismiss it and no one may slash.
    pub fn resolve_dispute(
        &mut self,
        caller: S::Account,
        job_id: JobId,
        provider: S::Account,
        slash: Balance,
    ) -> Result<()> {
        let mut dispute = match self.store.dispute(job_id, &provider) {
            Some(d) if d.status == DisputeStatus::Pending => d,
            _ => return Err(Error::DisputeNotFound),
        };
        let job = self.existing_job(job_id)?;
        #[cfg(not(settlement_mutant = "global_arbiter"))]
        let arbiter = job.arbiter;
        #[cfg(settlement_mutant = "global_arbiter")]
        let arbiter = self.store.config().arbiter;
        if self.now >= dispute.resolve_by {
            if slash > 0 {
                return Err(Error::DisputeExpired);
            }
        } else if caller != arbiter {
            return Err(Error::Unauthorized);
        }
        #[cfg(not(settlement_mutant = "slash_unbounded"))]
        if slash > job.slot(&provider).map_or(0, |a| a.max_slash) {
            return Err(Error::SlashExceedsBound);
        }
        let mut stake = self.store.stake(&provider);
        if slash > stake.total() {
            return Err(Error::SlashExceedsStake);
        }
        let from_active = slash.min(stake.active);
        stake.active = stake.active.saturating_sub(from_active);
        stake.unbonding = stake.unbonding.saturating_sub(slash.saturating_sub(from_active));
        stake.pending_disputes = stake.pending_disputes.saturating_sub(1);
        self.credit(&job.consumer, slash)?;
        self.store.set_stake(&provider, &stake);
        dispute.status = if slash > 0 { DisputeStatus::Upheld } else { DisputeStatus::Dismissed };
        dispute.slashed = slash;
        self.store.set_dispute(job_id, &provider, &dispute);
        self.store.emit(Event::DisputeResolved { job_id, consumer: job.consumer, provider, slashed: slash });
        if slash > 0 {
            self.update_reputation(&provider, Reputation { disputes_lost: 1, slashed: slash, ..Reputation::default() });
        }
        Ok(())
    }

    // ---------------------------------------------------------------- administration

    fn owner_config(&self, caller: &S::Account) -> Result<Config<S::Account>> {
        let config = self.store.config();
        if *caller != config.owner {
            return Err(Error::Unauthorized);
        }
        Ok(config)
    }

    /// The owner names a new owner, who must accept.
    pub fn transfer_ownership(&mut self, caller: S::Account, pending: S::Account) -> Result<()> {
        let mut config = self.owner_config(&caller)?;
        config.pending_owner = Some(pending);
        self.store.set_config(&config);
        self.store.emit(Event::OwnershipTransferStarted { owner: caller, pending });
        Ok(())
    }

    /// The named account accepts ownership.
    pub fn accept_ownership(&mut self, caller: S::Account) -> Result<()> {
        let mut config = self.store.config();
        if config.pending_owner != Some(caller) {
            return Err(Error::NoPendingOwner);
        }
        let previous = config.owner;
        config.owner = caller;
        config.pending_owner = None;
        self.store.set_config(&config);
        self.store.emit(Event::OwnershipTransferred { previous, owner: caller });
        Ok(())
    }

    /// The owner announces a settings change (`None` keeps the value in force): it may apply from the
    /// returned moment, one admin delay from now, and replaces any change announced before. Announcing
    /// the settings in force withdraws a pending change.
    pub fn announce_settings(&mut self, caller: S::Account, change: SettingsChange<S::Account>) -> Result<Timestamp> {
        let mut config = self.owner_config(&caller)?;
        let now = config.settings();
        let settings = Settings {
            treasury: change.treasury.unwrap_or(now.treasury),
            arbiter: change.arbiter.unwrap_or(now.arbiter),
            fee_bps: change.fee_bps.unwrap_or(now.fee_bps),
            min_stake: change.min_stake.unwrap_or(now.min_stake),
            slash_bps: change.slash_bps.unwrap_or(now.slash_bps),
        };
        check_settings(&settings)?;
        #[cfg(not(settlement_mutant = "settings_immediate"))]
        let effective_at = self.now.checked_add(config.timing.admin_delay).ok_or(Error::Overflow)?;
        #[cfg(settlement_mutant = "settings_immediate")]
        let effective_at = self.now;
        config.announced = Some(Announced { settings, effective_at });
        self.store.set_config(&config);
        let Settings { treasury, arbiter, fee_bps, min_stake, slash_bps } = settings;
        self.store.emit(Event::SettingsAnnounced { treasury, arbiter, fee_bps, min_stake, slash_bps, effective_at });
        Ok(effective_at)
    }

    /// The owner puts the announced settings in force once their admin delay has passed.
    pub fn apply_settings(&mut self, caller: S::Account) -> Result<()> {
        let mut config = self.owner_config(&caller)?;
        let announced = match config.announced {
            Some(a) if self.now >= a.effective_at => a,
            _ => return Err(Error::SettingsNotDue),
        };
        // Fees accrued so far are the outgoing treasury's: credited to its balance record (which exists
        // since it became the treasury) before the new one takes over.
        if announced.settings.treasury != config.treasury && config.fees > 0 {
            let old = config.treasury;
            let balance = add(self.store.balance(&old), config.fees)?;
            self.store.set_balance(&old, balance);
            config.fees = 0;
        }
        config.apply(announced.settings);
        config.announced = None;
        self.store.set_config(&config);
        // A new treasury's claimable balance record, created at the owner's cost, so no release ever
        // creates it.
        self.keep_balance_record(&announced.settings.treasury);
        self.emit_settings(&config);
        Ok(())
    }

    /// The owner pauses or resumes the opening of new jobs, at once: nothing else is ever paused, so
    /// the pause breaks no promise.
    pub fn set_paused(&mut self, caller: S::Account, paused: bool) -> Result<()> {
        let mut config = self.owner_config(&caller)?;
        config.paused = paused;
        self.store.set_config(&config);
        self.emit_settings(&config);
        Ok(())
    }

    fn emit_settings(&mut self, config: &Config<S::Account>) {
        let Settings { treasury, arbiter, fee_bps, min_stake, slash_bps } = config.settings();
        self.store.emit(Event::SettingsChanged {
            treasury,
            arbiter,
            fee_bps,
            min_stake,
            slash_bps,
            paused: config.paused,
        });
    }
}

/// Writes slot `i` of `job`.
fn set_slot<A>(job: &mut Job<A>, i: usize, slot: Slot) -> Result<()> {
    *job.slots.get_mut(i).ok_or(Error::InvalidProviders)? = slot;
    Ok(())
}

/// Whether pending disputes still hold a provider's stake: only until the last of their arbitration
/// periods ends, since no dispute can slash after that.
fn disputes_hold(stake: &Stake, now: Timestamp) -> bool {
    #[cfg(not(settlement_mutant = "dispute_blocks_forever"))]
    let open = now < stake.disputed_until;
    #[cfg(settlement_mutant = "dispute_blocks_forever")]
    let open = {
        let _ = now;
        true
    };
    stake.pending_disputes > 0 && open
}

/// A change of the owner's settings, to be announced; `None` keeps the value in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
pub struct SettingsChange<A> {
    /// New fee recipient.
    pub treasury: Option<A>,
    /// New dispute resolver.
    pub arbiter: Option<A>,
    /// New fee for jobs opened from now on.
    pub fee_bps: Option<u16>,
    /// New minimum provider stake for accepting jobs.
    pub min_stake: Option<Balance>,
    /// New slash share for jobs opened from then on (at most 10 000 bps).
    pub slash_bps: Option<u16>,
}
