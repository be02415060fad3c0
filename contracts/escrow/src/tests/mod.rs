//! The contract's `#[ink::test]` suite: every message (the constructor, every transaction and every view)
//! and every error a message can return, driven through the contract in ink!'s off-chain environment.
//!
//! Conventions:
//! - Every refused call goes through [`refused`], which asserts the exact error and that nothing
//!   observable changed: configuration, jobs, lanes, disputes, stakes, reputations, claimable balances,
//!   native balances and the number of recorded events. The off-chain environment has no revert, so this
//!   checks that the rules refuse before they write anything.
//! - Payable calls go through [`pay_as`], which moves the value from the caller to the contract account
//!   (`test::transfer_in`), so native balances add up: [`assert_solvent`] checks that the contract holds
//!   exactly the claimable balances plus the escrowed deposits plus the stakes. [`fake_pay_as`] only
//!   declares a transferred value, for amounts (`u128::MAX`) that no account holds.
//! - The contract's account (`Self::env().account_id()`, the receipts' domain) is the callee, set to
//!   [`contract`] before deploying.
//!
//! `settlement::Error` variants triggered through the contract, by message:
//! - `new`: FeeTooHigh, InvalidConfig (each timing rule)
//! - `open_job`: Paused, ZeroAmount, InvalidProviders, ExpiryInPast, ExpiryTooFar, InsufficientUnallocated,
//!   Overflow (*) (the sum of the allocations)
//! - `accept_job`: JobNotFound, JobFinalized, JobEnded, NotAProvider, AlreadyAccepted, InsufficientStake,
//!   TermsChanged
//! - `top_up`: ZeroAmount, JobNotFound, Unauthorized, JobEnded, NotAProvider (to a provider), Overflow (*)
//! - `allocate`: ZeroAmount, JobNotFound, Unauthorized, JobEnded, NotAProvider, InsufficientUnallocated
//! - `thaw`: ZeroAmount, JobNotFound, Unauthorized, JobEnded, NotAProvider, ThawPending,
//!   InsufficientAllocation
//! - `release`, and each receipt of `release_many`: WrongChain, WrongContract, JobNotFound, JobFinalized,
//!   JobEnded, NotAProvider, NotAccepted, ReceiptExpired, CumulativeNotIncreasing, ExceedsAllocation,
//!   BadSignature, Overflow (*) (a claimable balance)
//! - `complete`: JobNotFound, Unauthorized, AlreadyCompleted, JobFinalized, JobEnded
//! - `refund`: JobNotFound, JobNotEnded, JobFinalized, Overflow (*)
//! - `claim`: NothingToClaim, TransferFailed (**)
//! - `stake`: ZeroAmount, Overflow (*)
//! - `unbond`: ZeroAmount, InsufficientActiveStake
//! - `withdraw`: NothingToClaim, StakeLocked (unbonding delay, job lock, a pending dispute within its
//!   arbitration period), TransferFailed (**)
//! - `dispute`: JobNotFound, Unauthorized, NotAProvider, NotAccepted, DisputeWindowClosed, DisputeExists
//! - `resolve_dispute`: Unauthorized (not the job's arbiter), DisputeNotFound, DisputeExpired,
//!   SlashExceedsBound, SlashExceedsStake, Overflow (*)
//! - `transfer_ownership`: Unauthorized; `accept_ownership`: NoPendingOwner
//! - `announce_settings`: Unauthorized, FeeTooHigh, InvalidConfig (slash share above 100 %); `apply_settings`: Unauthorized, SettingsNotDue;
//!   `set_paused`: Unauthorized
//!
//! (*) Overflow needs amounts near `u128::MAX`, which no real chain's issuance reaches (every claimable
//! balance, deposit and stake is backed by native funds the contract holds). The off-chain environment lets
//! a test declare any transferred value, so these paths are exercised anyway.
//!
//! (**) TransferFailed: the off-chain engine's transfer fails only when the contract account has no
//! balance record at all ([`deploy_without_contract_account`]); an existing but too small balance makes
//! the engine panic on a subtraction overflow instead. The rules have already emptied the claimable
//! balance (or the unbonding stake) and emitted `Claimed`/`Withdrawn` when the transfer fails; on chain
//! the `Err` reverts all of it, but the off-chain environment has no revert, so those tests check the
//! error and that no native funds moved.
//!
//! Not reachable through the contract:
//! - Overflow from `open_job`'s job counter (the `u64` would need 2^64 jobs), from `dispute` (a provider's
//!   `u32` count of pending disputes would need 2^32 disputes, each on its own job), from `unbond`
//!   (`stake` keeps active + unbonding representable, and unbonding only moves stake between the two)
//!   from `announce_settings` and `thaw` (block time plus the admin delay or the thaw period would pass
//!   `u64::MAX` ms), and from `allocate` (an allocation plus what is unallocated never passes the deposit).
//! - ExceedsEscrow, and the Overflow of a job's released total in `release`: a receipt is refused as
//!   ExceedsAllocation first, and a job's allocations (each at least what its provider was paid) never add
//!   up to more than its deposit.
//! - JobNotFound from `resolve_dispute`: a dispute exists only for an existing job, jobs are never removed,
//!   and DisputeNotFound is checked first.
//! - InvalidConfig from anything but `new`: no message changes the timing.
//! - `release_many` never fails as a whole: it reports each receipt's outcome.
//! - Replayed and UnitsDecreased: not returned since v2 (receipts are ordered by cumulative amount only;
//!   sequence and units are recorded, never checked). They keep their indices for the ABI.
//! - The Overflow of the treasury's claimable balance in `release` is reachable (see
//!   `release_many_keeps_nothing_of_a_receipt_that_overflows_late`): it must leave the provider uncredited.
//!
//! Layout: this module holds the fixtures and helpers; the tests live in one submodule per topic:
//! [`admin`] (constructor, ownership, settings, views), [`jobs`] (`open_job`, `top_up`, `complete`,
//! `refund`), [`consent`] (`accept_job` and what needs it), [`allocation`] (`allocate`, `thaw`, `top_up` to a
//! provider, and the allocation bound on releases), [`release`] (`release`, `release_many`, fees),
//! [`claims`], [`staking`] (`stake`, `unbond`, `withdraw`), [`disputes`] (`dispute`, `resolve_dispute`),
//! [`lifecycle`] (one job end to end) and [`events`] (every event as ink! would emit it).

#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use core::fmt::Debug;

use ed25519_dalek::SigningKey;
use ink::env::test::{self, EmittedEvent};
use ink::env::DefaultEnvironment as Env;
use ink::primitives::AccountId;
use scale::{Decode, Encode};
use settlement::fee::{Split, DEFAULT_FEE_BPS, MAX_FEE_BPS};
use settlement::{
    Config, Dispute, Domain, Error, Job, JobId, JobStatus, Lane, Receipt, Reputation, SettingsChange, Slot, Stake,
    Thaw, Timestamp, Timing,
};

use crate::escrow::{
    Allocated, Claimed, DisputeOpened, DisputeResolved, Escrow, JobCompleted, JobOpened, Refunded, Released,
    ReputationChanged, Staked, ThawStarted, ToppedUp, Unbonding, Withdrawn,
};

type Balance = u128;

mod admin;
mod allocation;
mod claims;
mod consent;
mod disputes;
mod events;
mod jobs;
mod lifecycle;
mod release;
mod staking;

// ---------------------------------------------------------------- fixtures

const GENESIS: [u8; 32] = [7; 32];
const TERMS: [u8; 32] = [9; 32];
const REASON: [u8; 32] = [0xEE; 32];
/// Seed of the ed25519 key that signs job receipts.
const PAYER: [u8; 32] = [42; 32];
const NOW: Timestamp = 1_700_000_000_000;
const TIMING: Timing = Timing {
    unbond_delay: 20_000,
    dispute_window: 10_000,
    settle_grace: 1_000,
    max_job_duration: 100_000,
    thaw_period: 1_000,
    admin_delay: 30_001,
    arbitration_period: 20_000,
};
/// Expiry of the jobs `setup` and `open` create.
const EXPIRES: Timestamp = NOW + 50_000;
const MIN_STAKE: Balance = 1_000;
/// One dispute may slash all of what a provider accepted a job with (capped further by its own bound).
const SLASH_BPS: u16 = 10_000;
const DEPOSIT: Balance = 1_000;
/// What `open` allocates to `provider()` of `DEPOSIT` (three fifths); `provider2()` gets the rest.
const P_ALLOCATION: Balance = 600;
const P2_ALLOCATION: Balance = DEPOSIT - P_ALLOCATION;
/// Native balance every test account starts with (at least the off-chain existential deposit).
const FUNDS: Balance = 1_000_000_000;
/// Job ids 1..=LAST_JOB are part of every snapshot.
const LAST_JOB: JobId = 4;

fn accounts() -> test::DefaultAccounts<Env> {
    test::default_accounts::<Env>()
}
/// Deploys the escrow and owns it.
fn owner() -> AccountId {
    accounts().alice
}
/// Opens and funds the jobs.
fn consumer() -> AccountId {
    accounts().bob
}
fn provider() -> AccountId {
    accounts().charlie
}
fn provider2() -> AccountId {
    accounts().django
}
fn treasury() -> AccountId {
    accounts().eve
}
fn arbiter() -> AccountId {
    accounts().frank
}
/// Anyone else (submits receipts, calls refunds).
fn stranger() -> AccountId {
    AccountId::from([0x77; 32])
}
/// The escrow contract's own account: the callee.
fn contract() -> AccountId {
    AccountId::from([0xC0; 32])
}
fn people() -> [AccountId; 7] {
    [owner(), consumer(), provider(), provider2(), treasury(), arbiter(), stranger()]
}

fn domain() -> Domain<AccountId> {
    Domain { genesis_hash: GENESIS, contract: contract() }
}

/// A settings change that keeps everything (`SettingsChange::default()` needs `AccountId: Default`).
fn keep() -> SettingsChange<AccountId> {
    SettingsChange { treasury: None, arbiter: None, fee_bps: None, min_stake: None, slash_bps: None }
}

/// The owner announces `change`, the clock moves to its `effective_at` and the owner applies it.
fn change_settings(c: &mut Escrow, change: SettingsChange<AccountId>) {
    call_as(c.config().owner);
    let due = c.announce_settings(change).expect("announced");
    at(due);
    c.apply_settings().expect("applied");
}

/// The owner pauses or resumes new jobs (at once).
fn set_paused(c: &mut Escrow, paused: bool) {
    call_as(c.config().owner);
    c.set_paused(paused).expect("pause switched");
}

fn payer_key() -> [u8; 32] {
    SigningKey::from_bytes(&PAYER).verifying_key().to_bytes()
}

// ---------------------------------------------------------------- environment helpers

fn at(now: Timestamp) {
    test::set_block_timestamp::<Env>(now);
}

/// `who` makes the next call, transferring nothing.
fn call_as(who: AccountId) {
    test::set_caller::<Env>(who);
    test::set_value_transferred::<Env>(0);
}

/// `who` makes the next (payable) call transferring `value`, moved from its native balance to the
/// contract's.
fn pay_as(who: AccountId, value: Balance) {
    test::set_caller::<Env>(who);
    test::transfer_in::<Env>(value);
}

/// `who` makes the next call declaring `value` transferred, without moving native funds.
fn fake_pay_as(who: AccountId, value: Balance) {
    test::set_caller::<Env>(who);
    test::set_value_transferred::<Env>(value);
}

fn native(who: AccountId) -> Balance {
    test::get_account_balance::<Env>(who).expect("account has a balance record")
}

fn events() -> Vec<EmittedEvent> {
    test::recorded_events().collect()
}

fn event_count() -> usize {
    test::recorded_events().count()
}

fn events_since(count: usize) -> Vec<EmittedEvent> {
    test::recorded_events().skip(count).collect()
}

fn job_topic(id: JobId) -> Vec<u8> {
    let mut topic = id.encode();
    topic.resize(32, 0);
    topic
}

fn account_topic(who: AccountId) -> Vec<u8> {
    who.encode()
}

/// Asserts an emitted event: its signature topic followed by `topics`, and its data.
fn assert_event<Ev: ink::env::Event>(got: &EmittedEvent, expected: &Ev, topics: &[Vec<u8>]) {
    let name = core::any::type_name::<Ev>();
    let signature = Ev::SIGNATURE_TOPIC.expect("events are not anonymous").to_vec();
    let want: Vec<Vec<u8>> = core::iter::once(signature).chain(topics.iter().cloned()).collect();
    assert_eq!(got.topics.len(), want.len(), "topic count of {name}");
    assert_eq!(got.topics, want, "topics of {name}");
    assert_eq!(got.data, expected.encode(), "data of {name}");
}

fn decode<Ev: Decode>(event: &EmittedEvent) -> Ev {
    Ev::decode(&mut &event.data[..]).expect("event data decodes")
}

fn reputation_event(provider: AccountId, reputation: Reputation) -> ReputationChanged {
    ReputationChanged { provider, reputation, score: reputation.score() }
}

// ---------------------------------------------------------------- contract helpers

/// Funds every test account, makes `contract()` the callee with an empty balance and deploys with the
/// default fee as `owner()`, at `NOW`.
fn deploy() -> Escrow {
    test::set_account_balance::<Env>(contract(), 0);
    deploy_without_contract_account()
}

/// Like [`deploy`], but the contract account has no balance record, so the off-chain engine refuses
/// every transfer out of it. Pay into it only with [`fake_pay_as`].
fn deploy_without_contract_account() -> Escrow {
    for who in people() {
        test::set_account_balance::<Env>(who, FUNDS);
    }
    test::set_callee::<Env>(contract());
    at(NOW);
    call_as(owner());
    Escrow::new(GENESIS, treasury(), arbiter(), DEFAULT_FEE_BPS, MIN_STAKE, SLASH_BPS, TIMING)
        .expect("valid configuration")
}

fn stake(c: &mut Escrow, who: AccountId, amount: Balance) {
    pay_as(who, amount);
    c.stake().expect("stake");
}

/// Opens a job for `providers` (each with its allocation) with the default key and terms; the caller and
/// value are set by the caller of this function.
fn open_job(c: &mut Escrow, providers: Vec<(AccountId, Balance)>, expires_at: Timestamp) -> Result<JobId, Error> {
    c.open_job(providers, payer_key(), TERMS, expires_at)
}

/// `provider()`'s and `provider2()`'s allocations of a `deposit` that `open` splits: three fifths to the
/// first (600 of `DEPOSIT`), the rest to the second.
fn shares(deposit: Balance) -> [Balance; 2] {
    let first = deposit / 5 * 3;
    [first, deposit - first]
}

/// The consumer opens a job for both providers, paying `deposit`, all of it allocated (see [`shares`]).
fn open(c: &mut Escrow, deposit: Balance) -> Result<JobId, Error> {
    open_with(c, shares(deposit))
}

/// The consumer opens a job allocating `allocations` to `provider()` and `provider2()`, paying their sum.
fn open_with(c: &mut Escrow, allocations: [Balance; 2]) -> Result<JobId, Error> {
    pay_as(consumer(), allocations[0] + allocations[1]);
    open_job(c, vec![(provider(), allocations[0]), (provider2(), allocations[1])], EXPIRES)
}

/// `who` accepts job `id` on any terms (no minimum, no slash cap of its own).
fn accept(c: &mut Escrow, who: AccountId, id: JobId) -> Result<Balance, Error> {
    call_as(who);
    c.accept_job(id, 0, Balance::MAX)
}

/// The consumer opens a job for both providers, paying `deposit` (see [`open`]), and both accept it.
fn open_accepted(c: &mut Escrow, deposit: Balance) -> Result<JobId, Error> {
    open_accepted_with(c, shares(deposit))
}

/// The consumer opens a job allocating `allocations` (see [`open_with`]), and both providers accept it.
fn open_accepted_with(c: &mut Escrow, allocations: [Balance; 2]) -> Result<JobId, Error> {
    let id = open_with(c, allocations)?;
    accept(c, provider(), id)?;
    accept(c, provider2(), id)?;
    Ok(id)
}

/// Deploys, stakes the minimum for both providers and opens job 1 (consumer, both providers, `DEPOSIT`
/// allocated `P_ALLOCATION` and `P2_ALLOCATION`, expiring at `EXPIRES`), which both accept.
fn setup() -> Escrow {
    setup_with([P_ALLOCATION, P2_ALLOCATION])
}

/// [`setup`] with job 1 allocating `allocations` (and depositing their sum).
fn setup_with(allocations: [Balance; 2]) -> Escrow {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE);
    assert_eq!(open_accepted_with(&mut c, allocations), Ok(1));
    c
}

/// A receipt for this contract and chain, expiring with the job, with as many units as its amount.
fn receipt(job_id: JobId, provider: AccountId, amount: Balance, sequence: u64) -> Receipt<AccountId> {
    Receipt { domain: domain(), job_id, provider, amount, units: amount, sequence, expires_at: EXPIRES }
}

fn sign_with(seed: [u8; 32], receipt: &Receipt<AccountId>) -> [u8; 64] {
    receipt.sign(&SigningKey::from_bytes(&seed))
}

fn sign(receipt: &Receipt<AccountId>) -> [u8; 64] {
    sign_with(PAYER, receipt)
}

fn signed(receipt: Receipt<AccountId>) -> (Receipt<AccountId>, [u8; 64]) {
    let signature = sign(&receipt);
    (receipt, signature)
}

/// A stranger submits `receipt` signed by the payer key.
fn release(c: &mut Escrow, receipt: Receipt<AccountId>) -> Result<Split, Error> {
    call_as(stranger());
    let (receipt, signature) = signed(receipt);
    c.release(receipt, signature)
}

/// `who` claims its claimable balance.
fn claim(c: &mut Escrow, who: AccountId) -> Result<Balance, Error> {
    call_as(who);
    c.claim()
}

/// Everything a call could change.
#[derive(Debug)]
struct Snapshot {
    config: Config<AccountId>,
    jobs: Vec<Option<Job<AccountId>>>,
    lanes: Vec<Lane>,
    disputes: Vec<Option<Dispute>>,
    stakes: Vec<Stake>,
    reputations: Vec<(Reputation, u32)>,
    claimable: Vec<Balance>,
    native: Vec<Option<Balance>>,
    events: usize,
}

fn snapshot(c: &Escrow) -> Snapshot {
    let jobs = 1..=LAST_JOB;
    let pairs: Vec<(JobId, AccountId)> = jobs.clone().flat_map(|id| people().map(|who| (id, who))).collect();
    Snapshot {
        config: c.config(),
        jobs: jobs.map(|id| c.job(id)).collect(),
        lanes: pairs.iter().map(|&(id, who)| c.lane(id, who)).collect(),
        disputes: pairs.iter().map(|&(id, who)| c.dispute_of(id, who)).collect(),
        stakes: people().map(|who| c.stake_of(who)).to_vec(),
        reputations: people().map(|who| c.reputation_of(who)).to_vec(),
        claimable: people().map(|who| c.balance_of(who)).to_vec(),
        native: people()
            .into_iter()
            .chain([contract()])
            .map(|who| test::get_account_balance::<Env>(who).ok())
            .collect(),
        events: event_count(),
    }
}

/// Runs `call`, asserts it fails with exactly `expected` and that it changed nothing.
fn refused<T: Debug>(c: &mut Escrow, expected: Error, call: impl FnOnce(&mut Escrow) -> Result<T, Error>) {
    let before = snapshot(c);
    match call(c) {
        Err(error) => assert_eq!(error, expected),
        Ok(value) => panic!("expected Err({expected:?}), got Ok({value:?})"),
    }
    assert_unchanged(&before, &snapshot(c), &format!("refused with {expected:?}"));
}

/// Compares two snapshots record kind by record kind, so a failure names what changed.
fn assert_unchanged(before: &Snapshot, after: &Snapshot, context: &str) {
    assert_eq!(after.config, before.config, "{context}: the configuration changed");
    assert_eq!(after.jobs, before.jobs, "{context}: a job changed");
    assert_eq!(after.lanes, before.lanes, "{context}: a lane changed");
    assert_eq!(after.disputes, before.disputes, "{context}: a dispute changed");
    assert_eq!(after.stakes, before.stakes, "{context}: a stake changed");
    assert_eq!(after.reputations, before.reputations, "{context}: a reputation changed");
    assert_eq!(after.claimable, before.claimable, "{context}: a claimable balance changed");
    assert_eq!(after.native, before.native, "{context}: a native balance changed");
    assert_eq!(after.events, before.events, "{context}: an event was recorded");
}

/// The contract's native balance is exactly what it owes: claimable balances, escrowed deposits and
/// stakes (valid when every payment went through [`pay_as`]).
fn assert_solvent(c: &Escrow) {
    let claimable: Balance = people().iter().map(|&who| c.balance_of(who)).sum();
    let held: Balance = (1..=LAST_JOB).filter_map(|id| c.job(id)).map(|job| job.held()).sum();
    let staked: Balance = people().iter().map(|&who| c.stake_of(who).total()).sum();
    assert_eq!(native(contract()), claimable + held + staked, "contract balance = claimable + held + staked");
}
