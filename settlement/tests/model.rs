//! Model-based test of the escrow rules: random operation sequences run against a [`Market`] over a
//! [`MemoryStore`] and, side by side, against a small model written independently of `market.rs`.
//!
//! After every operation the engine must agree with the model (the outcome, including the exact
//! [`Error`], and every record), a refused operation must leave the store untouched, and the money
//! invariants must hold: funds are conserved, no job releases more than its deposit, settled
//! cumulative amounts and sequences never decrease, no receipt pays twice and every fee split is exact.

#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::LazyLock;

use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use proptest::test_runner::RngAlgorithm;
use settlement::fee::{self, Split};
use settlement::memory::{AccountBytes, MemoryStore};
use settlement::receipt::SignatureBytes;
use settlement::{
    Config, Dispute, DisputeStatus, Domain, Error, Event, JobStatus, Lane, Market, OpenJob, Receipt, Reputation,
    SettingsChange, Stake, Timing, MAX_PROVIDERS,
};

type Acc = AccountBytes;

// ------------------------------------------------------------------------------------------------ world

const GENESIS: [u8; 32] = [0x6e; 32];
const CONTRACT: Acc = [0xec; 32];
const DOMAIN: Domain<Acc> = Domain { genesis_hash: GENESIS, contract: CONTRACT };
const START: u64 = 1_700_000_000_000;
const TIMING: Timing = Timing { unbond_delay: 300, dispute_window: 100, settle_grace: 30, max_job_duration: 500 };
const INITIAL_FEE_BPS: u16 = 500;
const INITIAL_MIN_STAKE: u128 = 100;
const TERMS: [u8; 32] = [0x7e; 32];
const REASON: [u8; 32] = [0x3e; 32];

const CONSUMERS: [Acc; 2] = [[0xc1; 32], [0xc2; 32]];
/// Providers; the last one is not staked at the start of a random run.
const PROVIDERS: [Acc; 5] = [[0xa1; 32], [0xa2; 32], [0xa3; 32], [0xa4; 32], [0xa5; 32]];
const TREASURIES: [Acc; 2] = [[0x71; 32], [0x72; 32]];
const ARBITERS: [Acc; 2] = [[0xab; 32], [0xac; 32]];
const OWNERS: [Acc; 2] = [[0x01; 32], [0x02; 32]];
const STRANGER: Acc = [0x5e; 32];

/// Who may call a consumer's operation when it is not the job's own consumer.
const OTHER_CALLERS: [Acc; 3] = [CONSUMERS[0], CONSUMERS[1], STRANGER];
/// Accounts named as the provider of a receipt or dispute that need not be on the job.
const ANY_PROVIDER: [Acc; 6] = [PROVIDERS[0], PROVIDERS[1], PROVIDERS[2], PROVIDERS[3], PROVIDERS[4], STRANGER];
/// Who the owner may make the treasury: also a provider or a consumer, whose balances then mix.
const TREASURY_CHOICES: [Acc; 4] = [TREASURIES[0], TREASURIES[1], PROVIDERS[0], CONSUMERS[0]];
/// Callers of the owner's and arbiter's operations when not the current one.
const ADMIN_CALLERS: [Acc; 5] = [OWNERS[0], OWNERS[1], ARBITERS[0], ARBITERS[1], STRANGER];

fn accounts() -> Vec<Acc> {
    let mut all = vec![STRANGER];
    all.extend(CONSUMERS);
    all.extend(PROVIDERS);
    all.extend(TREASURIES);
    all.extend(ARBITERS);
    all.extend(OWNERS);
    all
}

/// Payer keys: jobs use the first two; the third only ever signs as the wrong key.
static KEYS: LazyLock<Vec<SigningKey>> =
    LazyLock::new(|| (1..=3u8).map(|n| SigningKey::from_bytes(&[n; 32])).collect());

fn public(key: usize) -> [u8; 32] {
    KEYS[key].verifying_key().to_bytes()
}

fn sign(key: usize, receipt: &Receipt<Acc>) -> SignatureBytes {
    KEYS[key].sign(&receipt.signing_bytes()).to_bytes()
}

/// The fee rule, written the obvious way: `floor(gross * bps / 10_000)` (the decomposed form only where
/// the product overflows, which the random amounts never reach).
fn naive_fee(gross: u128, bps: u16) -> u128 {
    let bps = u128::from(bps);
    match gross.checked_mul(bps) {
        Some(product) => product / 10_000,
        None => (gross / 10_000) * bps + (gross % 10_000) * bps / 10_000,
    }
}

// ------------------------------------------------------------------------------------------------ model

#[derive(Debug, Clone)]
struct MJob {
    consumer: Acc,
    providers: Vec<Acc>,
    key: usize,
    fee_bps: u16,
    deposit: u128,
    released: u128,
    opened_at: u64,
    expires_at: u64,
    ends_at: u64,
    status: JobStatus,
    lanes: BTreeMap<Acc, Lane>,
}

/// The escrow as the rules describe it, with its own bookkeeping of the money that came in and went out.
#[derive(Debug, Clone)]
struct Model {
    now: u64,
    owner: Acc,
    pending_owner: Option<Acc>,
    treasury: Acc,
    arbiter: Acc,
    fee_bps: u16,
    min_stake: u128,
    paused: bool,
    next_job_id: u64,
    jobs: BTreeMap<u64, MJob>,
    stakes: BTreeMap<Acc, Stake>,
    disputes: BTreeMap<(u64, Acc), Dispute>,
    reputations: BTreeMap<Acc, Reputation>,
    /// Fees credited to each account while it was the treasury.
    fees_to: BTreeMap<Acc, u128>,
    /// Everything each account claimed.
    claimed: BTreeMap<Acc, u128>,
    /// Value sent in: deposits, top-ups, stakes.
    value_in: u128,
    /// Value paid out: claims and withdrawals.
    value_out: u128,
    /// Every receipt that was released, with its signature.
    settled: Vec<(Receipt<Acc>, SignatureBytes)>,
}

impl Model {
    fn new() -> Self {
        Self {
            now: START,
            owner: OWNERS[0],
            pending_owner: None,
            treasury: TREASURIES[0],
            arbiter: ARBITERS[0],
            fee_bps: INITIAL_FEE_BPS,
            min_stake: INITIAL_MIN_STAKE,
            paused: false,
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
    fn job_id(&self, job: JobRef) -> u64 {
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
    fn claimant(&self, sel: usize, guided: bool) -> Acc {
        let all = accounts();
        let owed: Vec<Acc> = all.iter().copied().filter(|a| self.balance(a) > 0).collect();
        if guided && !owed.is_empty() {
            owed[sel % owed.len()]
        } else {
            all[sel % all.len()]
        }
    }

    /// A provider from a selector: if `guided`, one that has unbonding stake (if any).
    fn unbonder(&self, sel: usize, guided: bool) -> Acc {
        let unbonding: Vec<Acc> = PROVIDERS.into_iter().filter(|a| self.stake_of(a).unbonding > 0).collect();
        if guided && !unbonding.is_empty() {
            unbonding[sel % unbonding.len()]
        } else {
            PROVIDERS[sel % PROVIDERS.len()]
        }
    }

    fn provider(&self, job_id: u64, pick: Pick) -> Acc {
        match self.jobs.get(&job_id) {
            Some(job) if pick.on_job => job.providers[pick.idx % job.providers.len()],
            _ => ANY_PROVIDER[pick.idx % ANY_PROVIDER.len()],
        }
    }

    fn consumer_caller(&self, job_id: u64, caller: Option<usize>) -> Acc {
        match (caller, self.jobs.get(&job_id)) {
            (None, Some(job)) => job.consumer,
            (None, None) => CONSUMERS[0],
            (Some(i), _) => OTHER_CALLERS[i % OTHER_CALLERS.len()],
        }
    }

    fn stake_of(&self, who: &Acc) -> Stake {
        self.stakes.get(who).copied().unwrap_or_default()
    }

    fn lane(&self, job_id: u64, provider: &Acc) -> Lane {
        self.jobs.get(&job_id).and_then(|j| j.lanes.get(provider)).copied().unwrap_or_default()
    }

    /// Everything ever credited to `who`, in closed form: its net on every lane it was paid on, the
    /// fees it took as treasury, the remainders of its finalized jobs and the slashes of its disputes.
    fn credited(&self, who: &Acc) -> u128 {
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

    fn balance(&self, who: &Acc) -> u128 {
        self.credited(who) - self.claimed.get(who).copied().unwrap_or(0)
    }

    // ---------------------------------------------------------------- operations (change only on Ok)

    fn open(
        &mut self,
        consumer: Acc,
        deposit: u128,
        providers: &[Acc],
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
        if providers.iter().any(|p| self.stake_of(p).active < self.min_stake) {
            return Err(Error::InsufficientStake);
        }
        let id = self.next_job_id;
        self.next_job_id += 1;
        for p in providers {
            let stake = self.stakes.entry(*p).or_default();
            stake.locked_until = stake.locked_until.max(expires_at + TIMING.dispute_window);
        }
        let job = MJob {
            consumer,
            providers: providers.to_vec(),
            key,
            fee_bps: self.fee_bps,
            deposit,
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

    fn top_up(&mut self, caller: Acc, job_id: u64, amount: u128) -> Result<(), Error> {
        if amount == 0 {
            return Err(Error::ZeroAmount);
        }
        let now = self.now;
        let job = self.jobs.get_mut(&job_id).ok_or(Error::JobNotFound)?;
        if job.consumer != caller {
            return Err(Error::Unauthorized);
        }
        if job.status == JobStatus::Finalized || now >= job.ends_at {
            return Err(Error::JobEnded);
        }
        job.deposit = job.deposit.checked_add(amount).ok_or(Error::Overflow)?;
        self.value_in += amount;
        Ok(())
    }

    /// `signed_by_job_key`: whether the model signed exactly this receipt with the job's payer key.
    fn release(
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
        if receipt.expires_at <= now {
            return Err(Error::ReceiptExpired);
        }
        let lane = job.lanes.get(&receipt.provider).copied().unwrap_or_default();
        if receipt.sequence <= lane.sequence {
            return Err(Error::Replayed);
        }
        if receipt.amount <= lane.amount {
            return Err(Error::CumulativeNotIncreasing);
        }
        if receipt.units < lane.units {
            return Err(Error::UnitsDecreased);
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
        self.reputations.entry(receipt.provider).or_default().volume += step;
        self.settled.push((receipt.clone(), *signature));
        Ok(Split { net, fee })
    }

    fn complete(&mut self, caller: Acc, job_id: u64) -> Result<u64, Error> {
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

    fn refund(&mut self, job_id: u64) -> Result<u128, Error> {
        let now = self.now;
        let job = self.jobs.get_mut(&job_id).ok_or(Error::JobNotFound)?;
        if job.status == JobStatus::Finalized {
            return Err(Error::JobFinalized);
        }
        if now < job.ends_at {
            return Err(Error::JobNotEnded);
        }
        job.status = JobStatus::Finalized;
        for (provider, lane) in &job.lanes {
            if lane.amount > 0 {
                self.reputations.entry(*provider).or_default().jobs_completed += 1;
            }
        }
        Ok(job.deposit - job.released)
    }

    fn claim(&mut self, who: Acc) -> Result<u128, Error> {
        let amount = self.balance(&who);
        if amount == 0 {
            return Err(Error::NothingToClaim);
        }
        *self.claimed.entry(who).or_default() += amount;
        self.value_out += amount;
        Ok(amount)
    }

    fn stake(&mut self, provider: Acc, amount: u128) -> Result<(), Error> {
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

    fn unbond(&mut self, provider: Acc, amount: u128) -> Result<u64, Error> {
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

    fn withdraw(&mut self, provider: Acc) -> Result<u128, Error> {
        let now = self.now;
        let mut stake = self.stake_of(&provider);
        if stake.unbonding == 0 {
            return Err(Error::NothingToClaim);
        }
        if now < stake.unlock_at || now < stake.locked_until || stake.pending_disputes > 0 {
            return Err(Error::StakeLocked);
        }
        let amount = stake.unbonding;
        stake.unbonding = 0;
        self.stakes.insert(provider, stake);
        self.value_out += amount;
        Ok(amount)
    }

    fn dispute(&mut self, caller: Acc, job_id: u64, provider: Acc) -> Result<(), Error> {
        let job = self.jobs.get(&job_id).ok_or(Error::JobNotFound)?;
        if job.consumer != caller {
            return Err(Error::Unauthorized);
        }
        if !job.providers.contains(&provider) {
            return Err(Error::NotAProvider);
        }
        if self.now >= job.ends_at + TIMING.dispute_window {
            return Err(Error::DisputeWindowClosed);
        }
        if self.disputes.contains_key(&(job_id, provider)) {
            return Err(Error::DisputeExists);
        }
        self.stakes.entry(provider).or_default().pending_disputes += 1;
        let dispute = Dispute { reason: REASON, opened_at: self.now, status: DisputeStatus::Pending, slashed: 0 };
        self.disputes.insert((job_id, provider), dispute);
        Ok(())
    }

    fn resolve(&mut self, caller: Acc, job_id: u64, provider: Acc, slash: u128) -> Result<(), Error> {
        if caller != self.arbiter {
            return Err(Error::Unauthorized);
        }
        let dispute = match self.disputes.get_mut(&(job_id, provider)) {
            Some(d) if d.status == DisputeStatus::Pending => d,
            _ => return Err(Error::DisputeNotFound),
        };
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

    fn settings(&mut self, caller: Acc, change: &SettingsChange<Acc>) -> Result<(), Error> {
        if caller != self.owner {
            return Err(Error::Unauthorized);
        }
        if let Some(bps) = change.fee_bps {
            if bps > 1_000 {
                return Err(Error::FeeTooHigh);
            }
            self.fee_bps = bps;
        }
        self.treasury = change.treasury.unwrap_or(self.treasury);
        self.arbiter = change.arbiter.unwrap_or(self.arbiter);
        self.min_stake = change.min_stake.unwrap_or(self.min_stake);
        self.paused = change.paused.unwrap_or(self.paused);
        Ok(())
    }

    fn transfer(&mut self, caller: Acc, to: Acc) -> Result<(), Error> {
        if caller != self.owner {
            return Err(Error::Unauthorized);
        }
        self.pending_owner = Some(to);
        Ok(())
    }

    fn accept(&mut self, caller: Acc) -> Result<(), Error> {
        if self.pending_owner != Some(caller) {
            return Err(Error::NoPendingOwner);
        }
        self.owner = caller;
        self.pending_owner = None;
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------ operations

/// Names a job: by a selector (see [`Model::job_id`]) or by its id.
#[derive(Debug, Clone, Copy)]
enum JobRef {
    Pick(usize),
    Id(u64),
}

/// Chooses a provider: one of the job's own (if the job exists), or any account.
#[derive(Debug, Clone, Copy)]
struct Pick {
    on_job: bool,
    idx: usize,
}

/// An amount relative to what is available (active stake to unbond, total stake to slash).
#[derive(Debug, Clone, Copy)]
enum Amt {
    Zero,
    Part(u128),
    All,
    Over(u128),
}

impl Amt {
    fn of(self, available: u128) -> u128 {
        match self {
            Amt::Zero => 0,
            Amt::Part(r) => r % available.saturating_add(1),
            Amt::All => available,
            Amt::Over(k) => available + 1 + k,
        }
    }
}

/// A receipt's cumulative amount relative to the lane's and the job's remaining escrow.
#[derive(Debug, Clone, Copy)]
enum Cum {
    Small(u128),
    Part(u128),
    Rest,
    Exceed(u128),
    Same,
    Lower(u128),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigKind {
    Valid,
    WrongKey,
    WrongChain,
    WrongContract,
    Corrupt,
}

#[derive(Debug, Clone)]
enum Op {
    Stake {
        p: usize,
        amount: u128,
    },
    Unbond {
        p: usize,
        amount: Amt,
    },
    Withdraw {
        p: usize,
        guided: bool,
    },
    Open {
        consumer: usize,
        providers: Vec<usize>,
        deposit: u128,
        duration: u64,
        key: usize,
    },
    TopUp {
        job: JobRef,
        caller: Option<usize>,
        amount: u128,
    },
    Release {
        job: JobRef,
        provider: Pick,
        cum: Cum,
        units: i8,
        seq: i8,
        expiry: i16,
        sig: SigKind,
    },
    /// Resubmits a receipt that was released before.
    Replay {
        pick: usize,
    },
    /// An explicit receipt with a signature by `key` over `signed_over` (default: the receipt itself).
    Signed {
        receipt: Box<Receipt<Acc>>,
        key: usize,
        signed_over: Option<Box<Receipt<Acc>>>,
    },
    Complete {
        job: JobRef,
        caller: Option<usize>,
    },
    Refund {
        job: JobRef,
    },
    Claim {
        who: usize,
        guided: bool,
    },
    Dispute {
        job: JobRef,
        caller: Option<usize>,
        provider: Pick,
    },
    /// `target`: one of the existing disputes; otherwise `job` and `provider`.
    Resolve {
        target: Option<usize>,
        job: JobRef,
        provider: Pick,
        caller: Option<usize>,
        slash: Amt,
    },
    Advance {
        dt: u64,
    },
    Settings {
        caller: Option<usize>,
        fee_bps: Option<u16>,
        treasury: Option<usize>,
        arbiter: Option<usize>,
        min_stake: Option<u128>,
        paused: Option<bool>,
    },
    Transfer {
        caller: Option<usize>,
        to: usize,
    },
    Accept {
        caller: usize,
    },
}

/// Totals read from the emitted events.
#[derive(Debug, Default)]
struct Flows {
    deposited: u128,
    net: u128,
    fee: u128,
    refunded: u128,
    staked: u128,
    withdrawn: u128,
    slashed: u128,
    claimed: u128,
}

/// The engine and the model side by side.
struct Harness {
    store: MemoryStore,
    model: Model,
    events_seen: usize,
    flows: Flows,
    /// (job, provider, sequence) of every Released event.
    paid: BTreeSet<(u64, Acc, u64)>,
}

fn agree<T: PartialEq + Debug>(op: &Op, actual: Result<T, Error>, expected: Result<T, Error>) -> Result<(), Error> {
    assert_eq!(actual, expected, "engine and model disagree on {op:?}");
    actual.map(|_| ())
}

impl Harness {
    fn new() -> Self {
        let config =
            Config::new(OWNERS[0], TREASURIES[0], ARBITERS[0], INITIAL_FEE_BPS, INITIAL_MIN_STAKE, TIMING, DOMAIN)
                .unwrap();
        Self {
            store: MemoryStore::new(config),
            model: Model::new(),
            events_seen: 0,
            flows: Flows::default(),
            paid: BTreeSet::new(),
        }
    }

    fn market(&mut self) -> Market<'_, MemoryStore> {
        Market::new(&mut self.store, self.model.now)
    }

    /// Runs `op` on both, compares, and checks every invariant; returns the engine's outcome.
    fn apply(&mut self, op: &Op) -> Result<(), Error> {
        let before = self.store.clone();
        let outcome = self.run(op);
        if outcome.is_err() {
            assert!(self.store == before, "refused {op:?} ({outcome:?}) changed the store");
        }
        self.check(&before, op);
        outcome
    }

    fn run(&mut self, op: &Op) -> Result<(), Error> {
        let m = &mut self.model;
        match op {
            Op::Stake { p, amount } => {
                let p = PROVIDERS[p % PROVIDERS.len()];
                let expected = m.stake(p, *amount);
                agree(op, self.market().stake(p, *amount), expected)
            }
            Op::Unbond { p, amount } => {
                let p = PROVIDERS[p % PROVIDERS.len()];
                let amount = amount.of(m.stake_of(&p).active);
                let expected = m.unbond(p, amount);
                agree(op, self.market().unbond(p, amount), expected)
            }
            Op::Withdraw { p, guided } => {
                let p = m.unbonder(*p, *guided);
                let expected = m.withdraw(p);
                agree(op, self.market().withdraw(p), expected)
            }
            Op::Open { consumer, providers, deposit, duration, key } => {
                let consumer = CONSUMERS[consumer % CONSUMERS.len()];
                let providers: Vec<Acc> = providers.iter().map(|i| PROVIDERS[i % PROVIDERS.len()]).collect();
                let expires_at = m.now + duration;
                let expected = m.open(consumer, *deposit, &providers, *key, expires_at);
                let req = OpenJob { providers, payer_key: public(*key), terms_hash: TERMS, expires_at };
                agree(op, self.market().open_job(consumer, *deposit, req), expected)
            }
            Op::TopUp { job, caller, amount } => {
                let id = m.job_id(*job);
                let caller = m.consumer_caller(id, *caller);
                let expected = m.top_up(caller, id, *amount);
                agree(op, self.market().top_up(caller, id, *amount), expected)
            }
            Op::Release { job, provider, cum, units, seq, expiry, sig } => {
                let id = m.job_id(*job);
                let provider = m.provider(id, *provider);
                let lane = m.lane(id, &provider);
                let remaining = m.jobs.get(&id).map_or(0, |j| j.deposit - j.released);
                let amount = match *cum {
                    Cum::Small(k) => lane.amount + 1 + k,
                    Cum::Part(r) => lane.amount + 1 + r % remaining.max(1),
                    Cum::Rest => lane.amount + remaining,
                    Cum::Exceed(k) => lane.amount + remaining + 1 + k,
                    Cum::Same => lane.amount,
                    Cum::Lower(k) => lane.amount.saturating_sub(1 + k),
                };
                let units = lane.units.checked_add_signed(i128::from(*units)).unwrap_or(0);
                let sequence = lane.sequence.checked_add_signed(i64::from(*seq)).unwrap_or(0);
                let expires_at = m.now.checked_add_signed(i64::from(*expiry)).unwrap();
                let mut domain = DOMAIN;
                match sig {
                    SigKind::WrongChain => domain.genesis_hash[0] ^= 1,
                    SigKind::WrongContract => domain.contract[31] ^= 1,
                    _ => {}
                }
                let receipt = Receipt { domain, job_id: id, provider, amount, units, sequence, expires_at };
                let job_key = m.jobs.get(&id).map_or(0, |j| j.key);
                let key = if *sig == SigKind::WrongKey { (job_key + 1) % KEYS.len() } else { job_key };
                let mut signature = sign(key, &receipt);
                if *sig == SigKind::Corrupt {
                    signature[7] ^= 0x10;
                }
                let valid = matches!(sig, SigKind::Valid | SigKind::WrongChain | SigKind::WrongContract);
                let expected = m.release(&receipt, &signature, valid);
                agree(op, self.market().release(&receipt, &signature), expected)
            }
            Op::Replay { pick } => {
                if m.settled.is_empty() {
                    return Ok(());
                }
                let (receipt, signature) = m.settled[pick % m.settled.len()].clone();
                let expected = m.release(&receipt, &signature, true);
                assert!(expected.is_err(), "model would pay {receipt:?} twice");
                let actual = self.market().release(&receipt, &signature);
                assert!(actual.is_err(), "{receipt:?} paid twice: {actual:?}");
                agree(op, actual, expected)
            }
            Op::Signed { receipt, key, signed_over } => {
                let receipt: &Receipt<Acc> = receipt;
                let signed = signed_over.as_deref().unwrap_or(receipt);
                let signature = sign(*key, signed);
                let valid = signed == receipt && m.jobs.get(&receipt.job_id).is_some_and(|j| j.key == *key);
                let expected = m.release(receipt, &signature, valid);
                agree(op, self.market().release(receipt, &signature), expected)
            }
            Op::Complete { job, caller } => {
                let id = m.job_id(*job);
                let caller = m.consumer_caller(id, *caller);
                let expected = m.complete(caller, id);
                agree(op, self.market().complete(caller, id), expected)
            }
            Op::Refund { job } => {
                let id = m.job_id(*job);
                let expected = m.refund(id);
                agree(op, self.market().refund(id), expected)
            }
            Op::Claim { who, guided } => {
                let who = m.claimant(*who, *guided);
                let expected = m.claim(who);
                agree(op, self.market().claim(who), expected)
            }
            Op::Dispute { job, caller, provider } => {
                let id = m.job_id(*job);
                let caller = m.consumer_caller(id, *caller);
                let provider = m.provider(id, *provider);
                let expected = m.dispute(caller, id, provider);
                agree(op, self.market().dispute(caller, id, provider, REASON), expected)
            }
            Op::Resolve { target, job, provider, caller, slash } => {
                let (id, provider) = match target {
                    Some(t) if !m.disputes.is_empty() => *m.disputes.keys().nth(t % m.disputes.len()).unwrap(),
                    _ => {
                        let id = m.job_id(*job);
                        (id, m.provider(id, *provider))
                    }
                };
                let caller = caller.map_or(m.arbiter, |i| ADMIN_CALLERS[i % ADMIN_CALLERS.len()]);
                let stake = m.stake_of(&provider);
                let slash = slash.of(stake.active + stake.unbonding);
                let expected = m.resolve(caller, id, provider, slash);
                agree(op, self.market().resolve_dispute(caller, id, provider, slash), expected)
            }
            Op::Advance { dt } => {
                m.now += dt;
                Ok(())
            }
            Op::Settings { caller, fee_bps, treasury, arbiter, min_stake, paused } => {
                let caller = caller.map_or(m.owner, |i| ADMIN_CALLERS[i % ADMIN_CALLERS.len()]);
                let change = SettingsChange {
                    treasury: treasury.map(|i| TREASURY_CHOICES[i % TREASURY_CHOICES.len()]),
                    arbiter: arbiter.map(|i| ARBITERS[i % ARBITERS.len()]),
                    fee_bps: *fee_bps,
                    min_stake: *min_stake,
                    paused: *paused,
                };
                let expected = m.settings(caller, &change);
                agree(op, self.market().update_settings(caller, change), expected)
            }
            Op::Transfer { caller, to } => {
                let caller = caller.map_or(m.owner, |i| ADMIN_CALLERS[i % ADMIN_CALLERS.len()]);
                let to = ADMIN_CALLERS[to % ADMIN_CALLERS.len()];
                let expected = m.transfer(caller, to);
                agree(op, self.market().transfer_ownership(caller, to), expected)
            }
            Op::Accept { caller } => {
                let caller = ADMIN_CALLERS[caller % ADMIN_CALLERS.len()];
                let expected = m.accept(caller);
                agree(op, self.market().accept_ownership(caller), expected)
            }
        }
    }

    /// Every invariant, after `op` moved the store from `before` to its current state.
    fn check(&mut self, before: &MemoryStore, op: &Op) {
        let s = &self.store;
        let m = &self.model;

        // The configuration.
        let c = &s.config;
        assert_eq!(
            (c.owner, c.pending_owner, c.treasury, c.arbiter),
            (m.owner, m.pending_owner, m.treasury, m.arbiter)
        );
        assert_eq!(
            (c.fee_bps, c.min_stake, c.paused, c.next_job_id),
            (m.fee_bps, m.min_stake, m.paused, m.next_job_id)
        );
        assert_eq!((c.timing, c.domain), (TIMING, DOMAIN));

        // Jobs: as the model has them, never more released than deposited, nothing ever decreasing.
        assert!(s.jobs.keys().eq(m.jobs.keys()), "after {op:?}: jobs differ");
        for (id, job) in &s.jobs {
            let mj = &m.jobs[id];
            assert_eq!(
                (&job.consumer, &job.providers, job.payer_key, job.terms_hash, job.fee_bps),
                (&mj.consumer, &mj.providers, public(mj.key), TERMS, mj.fee_bps),
                "after {op:?}: job {id}"
            );
            assert_eq!(
                (job.deposit, job.released, job.opened_at, job.expires_at, job.ends_at, job.status),
                (mj.deposit, mj.released, mj.opened_at, mj.expires_at, mj.ends_at, mj.status),
                "after {op:?}: job {id}"
            );
            assert!(job.fee_bps <= fee::MAX_FEE_BPS);
            assert!(job.released <= job.deposit, "after {op:?}: job {id} released {} > {}", job.released, job.deposit);
            let lanes: u128 = s.lanes.iter().filter(|((lid, _), _)| lid == id).map(|(_, l)| l.amount).sum();
            assert_eq!(job.released, lanes, "after {op:?}: job {id} released vs its lanes");
            if let Some(prev) = before.jobs.get(id) {
                assert!(job.deposit >= prev.deposit && job.released >= prev.released, "after {op:?}: job {id}");
                assert!(job.ends_at <= prev.ends_at, "after {op:?}: job {id} end moved later");
            }
        }

        // Lanes: as the model has them, fee exact on the cumulative amount, never decreasing.
        let model_lanes: BTreeMap<(u64, Acc), Lane> =
            m.jobs.iter().flat_map(|(id, j)| j.lanes.iter().map(move |(p, l)| ((*id, *p), *l))).collect();
        assert_eq!(s.lanes, model_lanes, "after {op:?}: lanes differ");
        for (key, lane) in &s.lanes {
            let bps = s.jobs[&key.0].fee_bps;
            assert_eq!(lane.fee, fee::fee_of(lane.amount, bps), "lane {key:?}");
            assert_eq!(lane.fee, naive_fee(lane.amount, bps), "lane {key:?}");
            assert!(lane.amount > 0 && lane.sequence > 0, "lane {key:?} written without a payment");
        }
        for (key, prev) in &before.lanes {
            let lane = s.lanes[key];
            assert!(
                lane.amount >= prev.amount
                    && lane.sequence >= prev.sequence
                    && lane.units >= prev.units
                    && lane.fee >= prev.fee,
                "after {op:?}: lane {key:?} went back from {prev:?} to {lane:?}"
            );
        }

        // Stakes, reputations and disputes.
        same_with_default(&s.stakes, &m.stakes, "stakes", op);
        same_with_default(&s.reputations, &m.reputations, "reputations", op);
        assert_eq!(s.disputes, m.disputes, "after {op:?}: disputes differ");

        // Claimable balances: the closed form of the model.
        let mut who: BTreeSet<Acc> = s.balances.keys().copied().collect();
        who.extend(accounts());
        for a in &who {
            let actual = s.balances.get(a).copied().unwrap_or(0);
            assert_eq!(actual, m.balance(a), "after {op:?}: balance of {:#04x}", a[0]);
        }
        let fees: u128 = m.fees_to.values().sum();
        let lane_fees: u128 =
            m.jobs.values().flat_map(|j| j.lanes.values().map(|l| naive_fee(l.amount, j.fee_bps))).sum();
        assert_eq!(fees, lane_fees, "treasury fees vs the fees of the cumulative amounts");

        // Conservation: what came in and did not go out is held, staked or claimable.
        let held: u128 = s.jobs.values().map(settlement::Job::held).sum();
        let staked: u128 = s.stakes.values().map(Stake::total).sum();
        let claimable: u128 = s.balances.values().sum();
        assert_eq!(m.value_in - m.value_out, held + staked + claimable, "after {op:?}: funds not conserved");

        // The events of this operation.
        let f = &mut self.flows;
        for event in &s.events[self.events_seen..] {
            match event {
                Event::JobOpened { deposit, .. } => f.deposited += deposit,
                Event::ToppedUp { amount, .. } => f.deposited += amount,
                Event::Released { job_id, provider, cumulative, sequence, amount, fee, net, units, .. } => {
                    assert_eq!(net + fee, *amount, "{event:?}: net + fee != amount");
                    let lane = s.lanes[&(*job_id, *provider)];
                    let prev = before.lanes.get(&(*job_id, *provider)).copied().unwrap_or_default();
                    let bps = s.jobs[job_id].fee_bps;
                    assert_eq!((lane.amount, lane.units, lane.sequence), (*cumulative, *units, *sequence), "{event:?}");
                    assert_eq!(*amount, cumulative - prev.amount, "{event:?}");
                    assert_eq!(lane.fee, fee::fee_of(*cumulative, bps), "{event:?}: cumulative fee");
                    assert_eq!(*fee, naive_fee(*cumulative, bps) - naive_fee(prev.amount, bps), "{event:?}");
                    assert!(self.paid.insert((*job_id, *provider, *sequence)), "{event:?}: receipt paid twice");
                    f.net += net;
                    f.fee += fee;
                }
                Event::Refunded { amount, .. } => f.refunded += amount,
                Event::Claimed { amount, .. } => f.claimed += amount,
                Event::Staked { amount, .. } => f.staked += amount,
                Event::Withdrawn { amount, .. } => f.withdrawn += amount,
                Event::DisputeResolved { slashed, .. } => f.slashed += slashed,
                _ => {}
            }
        }
        self.events_seen = s.events.len();
        assert_eq!(f.deposited, f.net + f.fee + f.refunded + held, "after {op:?}: deposits not conserved");
        assert_eq!(f.staked, f.withdrawn + f.slashed + staked, "after {op:?}: stakes not conserved");
        assert_eq!(f.net + f.fee + f.refunded + f.slashed, f.claimed + claimable, "after {op:?}: credits");
        assert_eq!((f.deposited + f.staked, f.claimed + f.withdrawn), (m.value_in, m.value_out), "after {op:?}");
    }
}

fn same_with_default<K: Ord + Copy + Debug, V: Default + PartialEq + Debug + Copy>(
    actual: &BTreeMap<K, V>,
    expected: &BTreeMap<K, V>,
    what: &str,
    op: &Op,
) {
    for key in actual.keys().chain(expected.keys()) {
        let a = actual.get(key).copied().unwrap_or_default();
        let e = expected.get(key).copied().unwrap_or_default();
        assert_eq!(a, e, "after {op:?}: {what} of {key:?}");
    }
}

// ------------------------------------------------------------------------------------------------ strategies

fn deposit() -> impl Strategy<Value = u128> {
    prop_oneof![1 => Just(0u128), 3 => 1..=100u128, 4 => 1..=100_000u128, 2 => 1..=(1u128 << 48)]
}

fn stake_amount() -> impl Strategy<Value = u128> {
    prop_oneof![1 => Just(0u128), 1 => 1..=99u128, 3 => Just(100u128), 8 => 100..=10_000u128, 3 => 1..=(1u128 << 48)]
}

fn amt() -> impl Strategy<Value = Amt> {
    prop_oneof![
        1 => Just(Amt::Zero),
        5 => any::<u128>().prop_map(Amt::Part),
        2 => Just(Amt::All),
        1 => (0..1_000u128).prop_map(Amt::Over),
    ]
}

fn cum() -> impl Strategy<Value = Cum> {
    prop_oneof![
        4 => (0..50u128).prop_map(Cum::Small),
        4 => any::<u128>().prop_map(Cum::Part),
        1 => Just(Cum::Rest),
        1 => (0..10u128).prop_map(Cum::Exceed),
        1 => Just(Cum::Same),
        1 => (0..10u128).prop_map(Cum::Lower),
    ]
}

fn sig_kind() -> impl Strategy<Value = SigKind> {
    prop_oneof![
        12 => Just(SigKind::Valid),
        1 => Just(SigKind::WrongKey),
        1 => Just(SigKind::WrongChain),
        1 => Just(SigKind::WrongContract),
        1 => Just(SigKind::Corrupt),
    ]
}

fn pick() -> impl Strategy<Value = Pick> {
    (prop::bool::weighted(0.9), 0..6usize).prop_map(|(on_job, idx)| Pick { on_job, idx })
}

/// `None`: the rightful caller (the job's consumer, the owner, the arbiter); `Some`: someone chosen.
fn caller() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![6 => Just(None), 1 => (0..5usize).prop_map(Some)]
}

fn job() -> impl Strategy<Value = JobRef> {
    (0..1_000usize).prop_map(JobRef::Pick)
}

fn providers() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        8 => prop::sample::subsequence(vec![0usize, 1, 2, 3], 1..=4),
        1 => prop::sample::subsequence(vec![0usize, 1, 2, 3, 4], 1..=4),
        1 => Just(Vec::new()),
        1 => prop::collection::vec(0..5usize, 2..=5),
    ]
}

fn open() -> impl Strategy<Value = Op> {
    (0..2usize, providers(), deposit(), prop_oneof![1 => Just(0u64), 8 => 1..=500u64, 1 => 501..=600u64], 0..2usize)
        .prop_map(|(consumer, providers, deposit, duration, key)| Op::Open {
            consumer,
            providers,
            deposit,
            duration,
            key,
        })
}

/// An opening that passes every check but the stake (to start each run with jobs).
fn plausible_open() -> impl Strategy<Value = Op> {
    (0..2usize, prop::sample::subsequence(vec![0usize, 1, 2, 3], 1..=4), 1..=100_000u128, 1..=500u64, 0..2usize)
        .prop_map(|(consumer, providers, deposit, duration, key)| Op::Open {
            consumer,
            providers,
            deposit,
            duration,
            key,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..5usize, stake_amount()).prop_map(|(p, amount)| Op::Stake { p, amount }),
        2 => (0..5usize, amt()).prop_map(|(p, amount)| Op::Unbond { p, amount }),
        2 => (0..5usize, prop::bool::weighted(0.8)).prop_map(|(p, guided)| Op::Withdraw { p, guided }),
        5 => open(),
        2 => (job(), caller(), deposit()).prop_map(|(job, caller, amount)| Op::TopUp { job, caller, amount }),
        12 => (
            job(),
            pick(),
            cum(),
            prop_oneof![1 => -2..=-1i8, 6 => 0..=5i8],
            prop_oneof![1 => -1..=0i8, 6 => 1..=3i8],
            prop_oneof![1 => -30..=0i16, 8 => 1..=300i16],
            sig_kind(),
        )
            .prop_map(|(job, provider, cum, units, seq, expiry, sig)| Op::Release {
                job,
                provider,
                cum,
                units,
                seq,
                expiry,
                sig
            }),
        2 => any::<usize>().prop_map(|pick| Op::Replay { pick }),
        2 => (job(), caller()).prop_map(|(job, caller)| Op::Complete { job, caller }),
        2 => job().prop_map(|job| Op::Refund { job }),
        3 => (0..100usize, prop::bool::weighted(0.8)).prop_map(|(who, guided)| Op::Claim { who, guided }),
        2 => (job(), caller(), pick()).prop_map(|(job, caller, provider)| Op::Dispute { job, caller, provider }),
        2 => (prop::option::weighted(0.8, any::<usize>()), job(), pick(), caller(), amt()).prop_map(
            |(target, job, provider, caller, slash)| Op::Resolve { target, job, provider, caller, slash }
        ),
        5 => prop_oneof![3 => 0..=20u64, 3 => 21..=150u64, 3 => 151..=1_000u64].prop_map(|dt| Op::Advance { dt }),
        1 => (
            caller(),
            prop_oneof![
                3 => Just(None),
                1 => Just(Some(0u16)),
                1 => Just(Some(1_000u16)),
                1 => Just(Some(1_001u16)),
                1 => Just(Some(u16::MAX)),
                2 => (0..=1_200u16).prop_map(Some),
            ],
            prop::option::weighted(0.3, 0..4usize),
            prop::option::weighted(0.2, 0..2usize),
            prop::option::weighted(0.3, prop_oneof![Just(0u128), Just(100u128), Just(1_000u128), Just(1u128 << 40)]),
            prop::option::weighted(0.3, prop::bool::weighted(0.3)),
        )
            .prop_map(|(caller, fee_bps, treasury, arbiter, min_stake, paused)| Op::Settings {
                caller,
                fee_bps,
                treasury,
                arbiter,
                min_stake,
                paused
            }),
        1 => (caller(), 0..5usize).prop_map(|(caller, to)| Op::Transfer { caller, to }),
        1 => (0..5usize).prop_map(|caller| Op::Accept { caller }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { rng_algorithm: RngAlgorithm::XorShift, ..ProptestConfig::with_cases(10_000) })]

    #[test]
    fn random_operations_agree_with_the_model(
        stakes in prop::array::uniform4(stake_amount()),
        opens in prop::collection::vec(plausible_open(), 1..=2),
        ops in prop::collection::vec(op(), 1..=40),
    ) {
        let mut h = Harness::new();
        for (p, amount) in stakes.into_iter().enumerate() {
            let _ = h.apply(&Op::Stake { p, amount });
        }
        for op in opens.iter().chain(&ops) {
            let _ = h.apply(op);
        }
    }
}

// ------------------------------------------------------------------------------------------------ scenarios
//
// Sequences the random runs reach rarely or never: exact time boundaries, the full withdrawal path,
// forged and superseded receipts, settings and ownership, and amounts at the top of `u128`. Every step
// still goes through the harness, so the model and all the invariants are checked after each one.

fn stake(p: usize, amount: u128) -> Op {
    Op::Stake { p, amount }
}

fn open_job(providers: Vec<usize>, deposit: u128, duration: u64, key: usize) -> Op {
    Op::Open { consumer: 0, providers, deposit, duration, key }
}

fn advance(dt: u64) -> Op {
    Op::Advance { dt }
}

/// `PROVIDERS[p]`, whether or not it is on the job.
fn provider(p: usize) -> Pick {
    Pick { on_job: false, idx: p }
}

fn dispute(job: u64, p: usize) -> Op {
    Op::Dispute { job: JobRef::Id(job), caller: None, provider: provider(p) }
}

fn resolve(job: u64, p: usize, slash: Amt) -> Op {
    Op::Resolve { target: None, job: JobRef::Id(job), provider: provider(p), caller: None, slash }
}

fn withdraw(p: usize) -> Op {
    Op::Withdraw { p, guided: false }
}

fn settings(caller: Option<usize>, change: SettingsChange<usize>) -> Op {
    Op::Settings {
        caller,
        fee_bps: change.fee_bps,
        treasury: change.treasury,
        arbiter: change.arbiter,
        min_stake: change.min_stake,
        paused: change.paused,
    }
}

/// A correctly signed receipt (key 0).
fn signed(receipt: &Receipt<Acc>) -> Op {
    Op::Signed { receipt: Box::new(receipt.clone()), key: 0, signed_over: None }
}

impl Harness {
    /// A receipt on `job_id` for `PROVIDERS[p]`, valid for a while from now.
    fn receipt(&self, job_id: u64, p: usize, amount: u128, units: u128, sequence: u64) -> Receipt<Acc> {
        Receipt {
            domain: DOMAIN,
            job_id,
            provider: PROVIDERS[p],
            amount,
            units,
            sequence,
            expires_at: self.model.now + 1_000,
        }
    }

    fn expect(&mut self, op: &Op, outcome: Result<(), Error>) {
        assert_eq!(self.apply(op), outcome, "{op:?}");
    }

    fn balance(&self, who: &Acc) -> u128 {
        self.store.balances.get(who).copied().unwrap_or(0)
    }
}

#[test]
fn time_boundaries_are_exact() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.expect(&stake(1, 1_000), Ok(()));
    // The expiry is strictly in the future and at most the maximum duration away.
    h.expect(&open_job(vec![0, 1], 1_000, 0, 0), Err(Error::ExpiryInPast));
    h.expect(&open_job(vec![0, 1], 1_000, TIMING.max_job_duration + 1, 0), Err(Error::ExpiryTooFar));
    h.expect(&open_job(vec![0, 1], 1_000, 100, 0), Ok(()));
    h.expect(&open_job(vec![0], 1_000, TIMING.max_job_duration, 0), Ok(()));
    h.expect(&advance(99), Ok(()));
    // A receipt expiring now is expired; one expiring a millisecond later is not.
    let mut r = h.receipt(1, 0, 10, 1, 1);
    r.expires_at = h.model.now;
    h.expect(&signed(&r), Err(Error::ReceiptExpired));
    r.expires_at += 1;
    h.expect(&signed(&r), Ok(()));
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Err(Error::JobNotEnded));
    // From its end on, the job takes nothing more and can be refunded, once.
    h.expect(&advance(1), Ok(()));
    let r = h.receipt(1, 0, 20, 2, 2);
    h.expect(&signed(&r), Err(Error::JobEnded));
    h.expect(&Op::TopUp { job: JobRef::Id(1), caller: None, amount: 5 }, Err(Error::JobEnded));
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: None }, Err(Error::JobEnded));
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Ok(()));
    assert_eq!(h.balance(&CONSUMERS[0]), 990);
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Err(Error::JobFinalized));
    h.expect(&signed(&r), Err(Error::JobFinalized));
    h.expect(&Op::TopUp { job: JobRef::Id(1), caller: None, amount: 5 }, Err(Error::JobEnded));
    assert_eq!(h.store.reputations[&PROVIDERS[0]].jobs_completed, 1);
    assert_eq!(h.store.reputations.get(&PROVIDERS[1]).map_or(0, |r| r.jobs_completed), 0);
    // Disputes stay possible for one dispute window after the end, finalized or not.
    h.expect(&advance(TIMING.dispute_window - 1), Ok(()));
    h.expect(&dispute(1, 0), Ok(()));
    h.expect(&advance(1), Ok(()));
    h.expect(&dispute(1, 1), Err(Error::DisputeWindowClosed));
}

#[test]
fn withdrawal_waits_for_unbonding_job_lock_and_disputes() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.expect(&stake(1, 1_000), Ok(()));
    // Locks both stakes until the job's expiry plus the dispute window: START + 400.
    h.expect(&open_job(vec![0, 1], 1_000, 300, 0), Ok(()));
    h.expect(&advance(50), Ok(()));
    h.expect(&Op::Unbond { p: 0, amount: Amt::Part(400) }, Ok(()));
    h.expect(&Op::Unbond { p: 1, amount: Amt::All }, Ok(()));
    h.expect(&Op::Unbond { p: 1, amount: Amt::Over(0) }, Err(Error::InsufficientActiveStake));
    h.expect(&withdraw(0), Err(Error::StakeLocked));
    h.expect(&dispute(1, 0), Ok(()));
    h.expect(&dispute(1, 0), Err(Error::DisputeExists));
    h.expect(&dispute(1, 1), Ok(()));
    h.expect(&dispute(1, 2), Err(Error::NotAProvider));
    let stranger = Op::Resolve {
        target: None,
        job: JobRef::Id(1),
        provider: provider(0),
        caller: Some(ADMIN_CALLERS.len() - 1),
        slash: Amt::Zero,
    };
    h.expect(&stranger, Err(Error::Unauthorized));
    // The unbonding delay has passed (START + 350), the job lock has not.
    h.expect(&advance(TIMING.unbond_delay), Ok(()));
    h.expect(&withdraw(0), Err(Error::StakeLocked));
    h.expect(&withdraw(1), Err(Error::StakeLocked));
    // The lock has passed too (START + 400); only the pending disputes hold the stakes.
    h.expect(&advance(50), Ok(()));
    h.expect(&withdraw(0), Err(Error::StakeLocked));
    // 700 of 1000: all 600 active first, then 100 of the 400 unbonding.
    h.expect(&resolve(1, 0, Amt::Part(700)), Ok(()));
    let s = h.store.stakes[&PROVIDERS[0]];
    assert_eq!((s.active, s.unbonding, s.pending_disputes), (0, 300, 0));
    assert_eq!(h.balance(&CONSUMERS[0]), 700);
    h.expect(&resolve(1, 0, Amt::Zero), Err(Error::DisputeNotFound));
    h.expect(&withdraw(0), Ok(()));
    h.expect(&withdraw(0), Err(Error::NothingToClaim));
    h.expect(&withdraw(1), Err(Error::StakeLocked));
    h.expect(&resolve(1, 1, Amt::Over(0)), Err(Error::SlashExceedsStake));
    h.expect(&resolve(1, 1, Amt::Zero), Ok(()));
    assert_eq!(h.store.disputes[&(1, PROVIDERS[1])].status, DisputeStatus::Dismissed);
    h.expect(&withdraw(1), Ok(()));
    assert_eq!(h.model.value_out, 300 + 1_000);
    let r = h.store.reputations[&PROVIDERS[0]];
    assert_eq!((r.disputes_lost, r.slashed), (1, 700));
    assert_eq!(h.store.reputations.get(&PROVIDERS[1]).map_or(0, |r| r.disputes_lost), 0);
}

#[test]
fn superseded_replayed_and_forged_receipts_pay_nothing() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.expect(&stake(1, 1_000), Ok(()));
    h.expect(&open_job(vec![0, 1], 1_000, 500, 0), Ok(()));
    h.expect(&open_job(vec![0], 1_000, 500, 0), Ok(()));
    h.expect(&open_job(vec![0], 1_000, 500, 1), Ok(()));
    let r1 = h.receipt(1, 0, 100, 10, 1);
    let r3 = h.receipt(1, 0, 300, 30, 3);
    h.expect(&signed(&r1), Ok(()));
    h.expect(&signed(&r3), Ok(()));
    // Resubmitted, superseded or older receipts.
    h.expect(&signed(&r1), Err(Error::Replayed));
    h.expect(&signed(&r3), Err(Error::Replayed));
    h.expect(&signed(&h.receipt(1, 0, 400, 40, 2)), Err(Error::Replayed));
    h.expect(&signed(&h.receipt(1, 0, 300, 40, 4)), Err(Error::CumulativeNotIncreasing));
    h.expect(&signed(&h.receipt(1, 0, 350, 29, 4)), Err(Error::UnitsDecreased));
    h.expect(&signed(&h.receipt(1, 0, 350, 30, 4)), Ok(()));
    // A signature moved to another job or provider, or a receipt signed by another key than the job's.
    let moved = |receipt: Receipt<Acc>| Op::Signed {
        receipt: Box::new(receipt),
        key: 0,
        signed_over: Some(Box::new(r3.clone())),
    };
    h.expect(&moved(h.receipt(2, 0, 300, 30, 3)), Err(Error::BadSignature));
    h.expect(&moved(h.receipt(1, 1, 300, 30, 3)), Err(Error::BadSignature));
    h.expect(&moved(h.receipt(1, 0, 400, 30, 5)), Err(Error::BadSignature));
    let on_job_3 = h.receipt(3, 0, 100, 1, 1);
    h.expect(&signed(&on_job_3), Err(Error::BadSignature));
    h.expect(&Op::Signed { receipt: Box::new(on_job_3), key: 1, signed_over: None }, Ok(()));
    // The escrow bound, exactly: 650 of job 1's deposit are left for both lanes together.
    h.expect(&signed(&h.receipt(1, 1, 651, 1, 1)), Err(Error::ExceedsEscrow));
    h.expect(&signed(&h.receipt(1, 1, 650, 1, 1)), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 351, 30, 5)), Err(Error::ExceedsEscrow));
    let job = &h.store.jobs[&1];
    assert_eq!((job.released, job.deposit), (1_000, 1_000));
    h.expect(&Op::TopUp { job: JobRef::Id(1), caller: None, amount: 1 }, Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 351, 30, 5)), Ok(()));
    // Every receipt that was released once is refused afterwards.
    for pick in 0..h.model.settled.len() {
        assert!(h.apply(&Op::Replay { pick }).is_err());
    }
}

#[test]
fn completion_shortens_the_job_to_its_settle_grace() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.expect(&open_job(vec![0], 10_000, 500, 0), Ok(()));
    h.expect(&advance(10), Ok(()));
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: Some(2) }, Err(Error::Unauthorized));
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: None }, Ok(()));
    assert_eq!(h.store.jobs[&1].ends_at, h.model.now + TIMING.settle_grace);
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: None }, Err(Error::AlreadyCompleted));
    h.expect(&Op::TopUp { job: JobRef::Id(1), caller: None, amount: 5 }, Ok(()));
    h.expect(&advance(TIMING.settle_grace - 1), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 10_005, 1, 1)), Ok(()));
    h.expect(&advance(1), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 10_005, 1, 2)), Err(Error::JobEnded));
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Ok(()));
    assert_eq!(h.balance(&CONSUMERS[0]), 0);
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: None }, Err(Error::JobFinalized));
    // Completed shortly before its expiry, a job keeps its expiry as its end.
    h.expect(&open_job(vec![0], 100, 500, 0), Ok(()));
    h.expect(&advance(490), Ok(()));
    h.expect(&Op::Complete { job: JobRef::Id(2), caller: None }, Ok(()));
    let job = &h.store.jobs[&2];
    assert_eq!((job.ends_at, job.status), (job.expires_at, JobStatus::Completed));
}

#[test]
fn settings_and_ownership() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.expect(&open_job(vec![0], 10_000, 500, 0), Ok(()));
    let fee = |bps| SettingsChange { fee_bps: Some(bps), ..SettingsChange::default() };
    h.expect(&settings(None, fee(fee::MAX_FEE_BPS + 1)), Err(Error::FeeTooHigh));
    h.expect(&settings(None, fee(u16::MAX)), Err(Error::FeeTooHigh));
    h.expect(&settings(Some(1), fee(0)), Err(Error::Unauthorized));
    let change = SettingsChange { fee_bps: Some(fee::MAX_FEE_BPS), treasury: Some(1), ..SettingsChange::default() };
    h.expect(&settings(None, change), Ok(()));
    h.expect(&open_job(vec![0], 10_000, 500, 0), Ok(()));
    // Job 1 keeps the 5 % it was opened with; job 2 pays 10 %; both to the treasury of the moment.
    h.expect(&signed(&h.receipt(1, 0, 1_000, 1, 1)), Ok(()));
    h.expect(&signed(&h.receipt(2, 0, 1_000, 1, 1)), Ok(()));
    assert_eq!((h.balance(&TREASURIES[0]), h.balance(&TREASURIES[1])), (0, 50 + 100));
    assert_eq!(h.balance(&PROVIDERS[0]), 950 + 900);
    // Rounding favours the provider step by step, and the cumulative fee stays exact.
    h.expect(&signed(&h.receipt(1, 0, 1_019, 1, 2)), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 1_020, 1, 3)), Ok(()));
    assert_eq!(h.store.lanes[&(1, PROVIDERS[0])].fee, 51);
    assert_eq!(h.balance(&TREASURIES[1]), 151);
    // Pausing stops new jobs only.
    let pause = SettingsChange { paused: Some(true), min_stake: Some(5_000), ..SettingsChange::default() };
    h.expect(&settings(None, pause), Ok(()));
    h.expect(&open_job(vec![0], 10_000, 500, 0), Err(Error::Paused));
    h.expect(&Op::TopUp { job: JobRef::Id(1), caller: None, amount: 5 }, Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 1_030, 1, 4)), Ok(()));
    let resume = SettingsChange { paused: Some(false), ..SettingsChange::default() };
    h.expect(&settings(None, resume.clone()), Ok(()));
    h.expect(&open_job(vec![0], 10_000, 500, 0), Err(Error::InsufficientStake));
    // Ownership moves in two steps.
    h.expect(&Op::Transfer { caller: Some(1), to: 1 }, Err(Error::Unauthorized));
    h.expect(&Op::Transfer { caller: None, to: 1 }, Ok(()));
    h.expect(&settings(Some(1), resume.clone()), Err(Error::Unauthorized));
    h.expect(&Op::Accept { caller: 4 }, Err(Error::NoPendingOwner));
    h.expect(&Op::Accept { caller: 1 }, Ok(()));
    h.expect(&Op::Accept { caller: 1 }, Err(Error::NoPendingOwner));
    h.expect(&settings(Some(0), resume.clone()), Err(Error::Unauthorized));
    h.expect(&settings(Some(1), resume), Ok(()));
    assert_eq!(h.store.config.owner, OWNERS[1]);
}

#[test]
fn treasury_may_be_a_provider_or_a_consumer() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.expect(&open_job(vec![0], 10_000, 500, 0), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 1_000, 1, 1)), Ok(()));
    assert_eq!((h.balance(&PROVIDERS[0]), h.balance(&TREASURIES[0])), (950, 50));
    // Provider 0 as the treasury gets the whole step, its net and the fee.
    h.expect(&settings(None, SettingsChange { treasury: Some(2), ..SettingsChange::default() }), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 3_000, 1, 2)), Ok(()));
    assert_eq!((h.balance(&PROVIDERS[0]), h.balance(&TREASURIES[0])), (950 + 2_000, 50));
    // Consumer 0 as the treasury gets the fee on top of its refund.
    h.expect(&settings(None, SettingsChange { treasury: Some(3), ..SettingsChange::default() }), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 4_000, 1, 3)), Ok(()));
    h.expect(&advance(500), Ok(()));
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Ok(()));
    assert_eq!(h.balance(&CONSUMERS[0]), 50 + 6_000);
    assert_eq!(h.balance(&PROVIDERS[0]), 950 + 2_000 + 950);
}

#[test]
fn stake_overflow_is_refused_without_changes() {
    let mut h = Harness::new();
    h.expect(&stake(0, u128::MAX - 10), Ok(()));
    h.expect(&stake(0, 11), Err(Error::Overflow));
    h.expect(&Op::Unbond { p: 0, amount: Amt::Part(5) }, Ok(()));
    // The active stake would fit, the total would not.
    h.expect(&stake(0, 11), Err(Error::Overflow));
    h.expect(&stake(0, 10), Ok(()));
    assert_eq!(h.store.stakes[&PROVIDERS[0]].total(), u128::MAX);
}

#[test]
fn deposit_at_the_top_of_u128_splits_exactly() {
    let mut h = Harness::new();
    let no_minimum = SettingsChange { min_stake: Some(0), ..SettingsChange::default() };
    h.expect(&settings(None, no_minimum), Ok(()));
    h.expect(&open_job(vec![0], u128::MAX - 1, 100, 0), Ok(()));
    h.expect(&Op::TopUp { job: JobRef::Id(1), caller: None, amount: 2 }, Err(Error::Overflow));
    h.expect(&Op::TopUp { job: JobRef::Id(1), caller: None, amount: 1 }, Ok(()));
    h.expect(&signed(&h.receipt(1, 0, u128::MAX / 3, 1, 1)), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, u128::MAX, 2, 2)), Ok(()));
    let fee = fee::fee_of(u128::MAX, INITIAL_FEE_BPS);
    assert_eq!(fee, naive_fee(u128::MAX, INITIAL_FEE_BPS));
    assert_eq!((h.balance(&PROVIDERS[0]), h.balance(&TREASURIES[0])), (u128::MAX - fee, fee));
    h.expect(&advance(100), Ok(()));
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Ok(()));
    assert_eq!(h.balance(&CONSUMERS[0]), 0);
    h.expect(&Op::Claim { who: 0, guided: true }, Ok(()));
    h.expect(&Op::Claim { who: 0, guided: true }, Ok(()));
    h.expect(&Op::Claim { who: 0, guided: true }, Err(Error::NothingToClaim));
    assert_eq!(h.model.value_out, u128::MAX);
}
