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
//! - `new`: FeeTooHigh, InvalidConfig
//! - `open_job`: Paused, ZeroAmount, InvalidProviders, ExpiryInPast, ExpiryTooFar, InsufficientStake
//! - `top_up`: ZeroAmount, JobNotFound, Unauthorized, JobEnded, Overflow (*)
//! - `release`, and each receipt of `release_many`: WrongChain, WrongContract, JobNotFound, JobFinalized,
//!   JobEnded, NotAProvider, ReceiptExpired, Replayed, CumulativeNotIncreasing, UnitsDecreased,
//!   ExceedsEscrow, BadSignature, Overflow (*)
//! - `complete`: JobNotFound, Unauthorized, AlreadyCompleted, JobFinalized, JobEnded
//! - `refund`: JobNotFound, JobNotEnded, JobFinalized, Overflow (*)
//! - `claim`: NothingToClaim, TransferFailed (**)
//! - `stake`: ZeroAmount, Overflow (*)
//! - `unbond`: ZeroAmount, InsufficientActiveStake
//! - `withdraw`: NothingToClaim, StakeLocked (unbonding delay, job lock, pending dispute), TransferFailed (**)
//! - `dispute`: JobNotFound, Unauthorized, NotAProvider, DisputeWindowClosed, DisputeExists
//! - `resolve_dispute`: Unauthorized, DisputeNotFound, SlashExceedsStake, Overflow (*)
//! - `transfer_ownership`: Unauthorized; `accept_ownership`: NoPendingOwner
//! - `update_settings`: Unauthorized, FeeTooHigh
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
//! - Overflow from `open_job` (the `u64` job counter would need 2^64 jobs), from `dispute` (a provider's
//!   `u32` count of pending disputes would need 2^32 disputes, each on its own job) and from `unbond`
//!   (`stake` keeps active + unbonding representable, and unbonding only moves stake between the two).
//! - JobNotFound from `resolve_dispute`: a dispute exists only for an existing job, jobs are never removed,
//!   and DisputeNotFound is checked first.
//! - InvalidConfig from anything but `new`: no message changes the timing.
//! - `release_many` never fails as a whole: it reports each receipt's outcome.
//! - The Overflow of the treasury's claimable balance in `release` is reachable (see
//!   `release_many_keeps_nothing_of_a_receipt_that_overflows_late`): it must leave the provider uncredited.

#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use core::fmt::Debug;

use ed25519_dalek::{Signer, SigningKey};
use ink::env::test::{self, EmittedEvent};
use ink::env::DefaultEnvironment as Env;
use ink::primitives::AccountId;
use scale::{Decode, Encode};
use settlement::fee::{Split, DEFAULT_FEE_BPS, MAX_FEE_BPS};
use settlement::{
    Config, Dispute, DisputeStatus, Domain, Error, Job, JobId, JobStatus, Lane, Receipt, Reputation, SettingsChange,
    Stake, Timestamp, Timing,
};

use crate::escrow::{
    Claimed, DisputeOpened, DisputeResolved, Escrow, JobCompleted, JobOpened, OwnershipTransferStarted,
    OwnershipTransferred, Refunded, Released, ReputationChanged, SettingsChanged, Staked, ToppedUp, Unbonding,
    Withdrawn,
};

type Balance = u128;

// ---------------------------------------------------------------- fixtures

const GENESIS: [u8; 32] = [7; 32];
const TERMS: [u8; 32] = [9; 32];
const REASON: [u8; 32] = [0xEE; 32];
/// Seed of the ed25519 key that signs job receipts.
const PAYER: [u8; 32] = [42; 32];
const NOW: Timestamp = 1_700_000_000_000;
const TIMING: Timing =
    Timing { unbond_delay: 20_000, dispute_window: 10_000, settle_grace: 1_000, max_job_duration: 100_000 };
/// Expiry of the jobs `setup` and `open` create.
const EXPIRES: Timestamp = NOW + 50_000;
const MIN_STAKE: Balance = 1_000;
const DEPOSIT: Balance = 1_000;
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
    SettingsChange { treasury: None, arbiter: None, fee_bps: None, min_stake: None, paused: None }
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
    Escrow::new(GENESIS, treasury(), arbiter(), DEFAULT_FEE_BPS, MIN_STAKE, TIMING).expect("valid configuration")
}

fn stake(c: &mut Escrow, who: AccountId, amount: Balance) {
    pay_as(who, amount);
    c.stake().expect("stake");
}

/// Opens a job for both providers with the default key, terms and expiry; the caller and value are set
/// by the caller of this function.
fn open_job(c: &mut Escrow, providers: Vec<AccountId>, expires_at: Timestamp) -> Result<JobId, Error> {
    c.open_job(providers, payer_key(), TERMS, expires_at)
}

/// The consumer opens a job for both providers, paying `deposit`.
fn open(c: &mut Escrow, deposit: Balance) -> Result<JobId, Error> {
    pay_as(consumer(), deposit);
    open_job(c, vec![provider(), provider2()], EXPIRES)
}

/// Deploys, stakes the minimum for both providers and opens job 1 (consumer, both providers, `DEPOSIT`,
/// expiring at `EXPIRES`).
fn setup() -> Escrow {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE);
    assert_eq!(open(&mut c, DEPOSIT), Ok(1));
    c
}

/// A receipt for this contract and chain, expiring with the job, with as many units as its amount.
fn receipt(job_id: JobId, provider: AccountId, amount: Balance, sequence: u64) -> Receipt<AccountId> {
    Receipt { domain: domain(), job_id, provider, amount, units: amount, sequence, expires_at: EXPIRES }
}

fn sign_with(seed: [u8; 32], receipt: &Receipt<AccountId>) -> [u8; 64] {
    SigningKey::from_bytes(&seed).sign(&receipt.signing_bytes()).to_bytes()
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

// ---------------------------------------------------------------- constructor

#[ink::test]
fn new_stores_the_configuration_for_this_chain_and_contract() {
    let c = deploy();
    assert_eq!(test::callee::<Env>(), contract());
    assert_eq!(
        c.config(),
        Config {
            owner: owner(),
            pending_owner: None,
            treasury: treasury(),
            arbiter: arbiter(),
            fee_bps: DEFAULT_FEE_BPS,
            min_stake: MIN_STAKE,
            paused: false,
            timing: TIMING,
            domain: domain(),
            next_job_id: 1,
        }
    );
    assert_eq!(event_count(), 0);
}

#[ink::test]
fn new_accepts_the_fee_cap_and_refuses_more() {
    test::set_callee::<Env>(contract());
    call_as(owner());
    let fee = |bps| Escrow::new(GENESIS, treasury(), arbiter(), bps, MIN_STAKE, TIMING).err();
    assert_eq!(fee(MAX_FEE_BPS + 1), Some(Error::FeeTooHigh));
    assert_eq!(fee(u16::MAX), Some(Error::FeeTooHigh));
    assert_eq!(fee(MAX_FEE_BPS), None);
    assert_eq!(fee(0), None);
    assert_eq!(event_count(), 0);
}

#[ink::test]
fn new_refuses_invalid_timing() {
    test::set_callee::<Env>(contract());
    call_as(owner());
    let timing = |timing| Escrow::new(GENESIS, treasury(), arbiter(), DEFAULT_FEE_BPS, MIN_STAKE, timing).err();
    let unbond_equals_window = Timing { unbond_delay: TIMING.dispute_window, ..TIMING };
    let unbond_shorter = Timing { unbond_delay: TIMING.dispute_window - 1, ..TIMING };
    let no_duration = Timing { max_job_duration: 0, ..TIMING };
    assert_eq!(timing(unbond_equals_window), Some(Error::InvalidConfig));
    assert_eq!(timing(unbond_shorter), Some(Error::InvalidConfig));
    assert_eq!(timing(no_duration), Some(Error::InvalidConfig));
    assert_eq!(timing(Timing { unbond_delay: TIMING.dispute_window + 1, ..TIMING }), None);
    assert_eq!(event_count(), 0);
}

// ---------------------------------------------------------------- open_job

#[ink::test]
fn open_job_escrows_the_deposit_and_locks_the_providers_stake() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE);
    let count = event_count();
    assert_eq!(open(&mut c, DEPOSIT), Ok(1));

    let job = Job {
        consumer: consumer(),
        providers: vec![provider(), provider2()],
        payer_key: payer_key(),
        terms_hash: TERMS,
        fee_bps: DEFAULT_FEE_BPS,
        deposit: DEPOSIT,
        released: 0,
        opened_at: NOW,
        expires_at: EXPIRES,
        ends_at: EXPIRES,
        status: JobStatus::Open,
    };
    assert_eq!(c.job(1), Some(job));
    assert_eq!(c.config().next_job_id, 2);
    let lock = EXPIRES + TIMING.dispute_window;
    for p in [provider(), provider2()] {
        assert_eq!(c.stake_of(p), Stake { active: MIN_STAKE, locked_until: lock, ..Stake::default() });
    }
    assert_eq!(native(consumer()), FUNDS - DEPOSIT);
    assert_solvent(&c);

    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let expected = JobOpened {
        job_id: 1,
        consumer: consumer(),
        providers: vec![provider(), provider2()],
        deposit: DEPOSIT,
        payer_key: payer_key(),
        terms_hash: TERMS,
        fee_bps: DEFAULT_FEE_BPS,
        expires_at: EXPIRES,
    };
    assert_event(&new[0], &expected, &[job_topic(1), account_topic(consumer())]);

    // Ids count up; a job expiring earlier never shortens an existing lock.
    pay_as(consumer(), 1);
    assert_eq!(open_job(&mut c, vec![provider()], NOW + 1), Ok(2));
    assert_eq!(c.stake_of(provider()).locked_until, lock);
    assert_eq!(c.config().next_job_id, 3);
    assert_solvent(&c);
}

#[ink::test]
fn open_job_accepts_the_limits() {
    let mut c = deploy();
    let four = vec![provider(), provider2(), treasury(), arbiter()];
    for &p in &four {
        stake(&mut c, p, MIN_STAKE);
    }
    pay_as(consumer(), 1);
    assert_eq!(open_job(&mut c, four, NOW + TIMING.max_job_duration), Ok(1));
    pay_as(consumer(), 1);
    assert_eq!(open_job(&mut c, vec![provider()], NOW + 1), Ok(2));
    assert_eq!(c.job(1).unwrap().providers.len(), settlement::MAX_PROVIDERS);
}

#[ink::test]
fn open_job_refused_while_paused() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    call_as(owner());
    c.update_settings(SettingsChange { paused: Some(true), ..keep() }).unwrap();
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::Paused, |c| open_job(c, vec![provider()], EXPIRES));
}

#[ink::test]
fn open_job_refuses_a_zero_deposit() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    pay_as(consumer(), 0);
    refused(&mut c, Error::ZeroAmount, |c| open_job(c, vec![provider()], EXPIRES));
}

#[ink::test]
fn open_job_refuses_invalid_provider_lists() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE);
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::InvalidProviders, |c| open_job(c, vec![], EXPIRES));
    let duplicate = vec![provider(), provider2(), provider()];
    refused(&mut c, Error::InvalidProviders, |c| open_job(c, duplicate, EXPIRES));
    let five = vec![provider(), provider2(), treasury(), arbiter(), stranger()];
    refused(&mut c, Error::InvalidProviders, |c| open_job(c, five, EXPIRES));
}

#[ink::test]
fn open_job_refuses_an_expiry_not_in_the_future() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::ExpiryInPast, |c| open_job(c, vec![provider()], NOW));
    refused(&mut c, Error::ExpiryInPast, |c| open_job(c, vec![provider()], NOW - 1));
}

#[ink::test]
fn open_job_refuses_an_expiry_beyond_the_maximum_duration() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::ExpiryTooFar, |c| open_job(c, vec![provider()], NOW + TIMING.max_job_duration + 1));
}

#[ink::test]
fn open_job_refuses_providers_below_the_minimum_stake() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE - 1);
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::InsufficientStake, |c| open_job(c, vec![provider(), provider2()], EXPIRES));
    refused(&mut c, Error::InsufficientStake, |c| open_job(c, vec![provider(), stranger()], EXPIRES));
    // Unbonding stake does not count.
    call_as(provider());
    c.unbond(1).unwrap();
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::InsufficientStake, |c| open_job(c, vec![provider()], EXPIRES));
}

// ---------------------------------------------------------------- top_up

#[ink::test]
fn top_up_adds_to_the_deposit() {
    let mut c = setup();
    let count = event_count();
    pay_as(consumer(), 250);
    assert_eq!(c.top_up(1), Ok(()));
    assert_eq!(c.job(1).unwrap().deposit, DEPOSIT + 250);
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let expected = ToppedUp { job_id: 1, consumer: consumer(), amount: 250, deposit: DEPOSIT + 250 };
    assert_event(&new[0], &expected, &[job_topic(1), account_topic(consumer())]);
    assert_solvent(&c);

    // The new funds can be released.
    assert_eq!(release(&mut c, receipt(1, provider(), DEPOSIT + 250, 1)), Ok(Split { net: 1_188, fee: 62 }));
}

#[ink::test]
fn top_up_refuses_zero() {
    let mut c = setup();
    pay_as(consumer(), 0);
    refused(&mut c, Error::ZeroAmount, |c| c.top_up(1));
}

#[ink::test]
fn top_up_refuses_an_unknown_job() {
    let mut c = setup();
    pay_as(consumer(), 10);
    refused(&mut c, Error::JobNotFound, |c| c.top_up(2));
}

#[ink::test]
fn top_up_refuses_anyone_but_the_consumer() {
    let mut c = setup();
    pay_as(provider(), 10);
    refused(&mut c, Error::Unauthorized, |c| c.top_up(1));
}

#[ink::test]
fn top_up_refuses_an_ended_job() {
    let mut c = setup();
    at(EXPIRES);
    pay_as(consumer(), 10);
    refused(&mut c, Error::JobEnded, |c| c.top_up(1));
    call_as(stranger());
    c.refund(1).unwrap();
    pay_as(consumer(), 10);
    refused(&mut c, Error::JobEnded, |c| c.top_up(1));
}

#[ink::test]
fn top_up_refuses_a_deposit_that_would_overflow() {
    let mut c = setup();
    fake_pay_as(consumer(), u128::MAX);
    assert_eq!(open_job(&mut c, vec![provider()], EXPIRES), Ok(2));
    fake_pay_as(consumer(), 1);
    refused(&mut c, Error::Overflow, |c| c.top_up(2));
}

// ---------------------------------------------------------------- release

#[ink::test]
fn release_of_100_credits_95_to_the_provider_and_5_to_the_treasury() {
    let mut c = setup();
    let count = event_count();
    assert_eq!(release(&mut c, receipt(1, provider(), 100, 1)), Ok(Split { net: 95, fee: 5 }));

    assert_eq!(c.balance_of(provider()), 95);
    assert_eq!(c.balance_of(treasury()), 5);
    assert_eq!(c.balance_of(stranger()), 0);
    assert_eq!(c.lane(1, provider()), Lane { amount: 100, units: 100, sequence: 1, fee: 5 });
    assert_eq!(c.lane(1, provider2()), Lane::default());
    let job = c.job(1).unwrap();
    assert_eq!((job.released, job.held(), job.status), (100, DEPOSIT - 100, JobStatus::Open));
    let reputation = Reputation { volume: 100, ..Reputation::default() };
    assert_eq!(c.reputation_of(provider()), (reputation, 1000));
    assert_solvent(&c);

    let new = events_since(count);
    assert_eq!(new.len(), 2);
    let released = Released {
        job_id: 1,
        consumer: consumer(),
        provider: provider(),
        cumulative: 100,
        units: 100,
        sequence: 1,
        amount: 100,
        fee: 5,
        net: 95,
    };
    assert_event(&new[0], &released, &[job_topic(1), account_topic(consumer()), account_topic(provider())]);
    assert_event(&new[1], &reputation_event(provider(), reputation), &[account_topic(provider())]);
}

#[ink::test]
fn fees_are_charged_on_cumulative_amounts() {
    let mut c = setup();
    let count = event_count();
    assert_eq!(release(&mut c, receipt(1, provider(), 19, 1)), Ok(Split { net: 19, fee: 0 }));
    assert_eq!(release(&mut c, receipt(1, provider(), 39, 2)), Ok(Split { net: 19, fee: 1 }));
    assert_eq!(c.balance_of(provider()), 38);
    assert_eq!(c.balance_of(treasury()), 1);
    assert_eq!(c.lane(1, provider()), Lane { amount: 39, units: 39, sequence: 2, fee: 1 });
    assert_eq!(c.job(1).unwrap().released, 39);

    let steps: Vec<Released> =
        events_since(count).iter().filter(|e| e.topics.len() == 4).map(decode::<Released>).collect();
    assert_eq!(steps.len(), 2);
    assert_eq!((steps[0].cumulative, steps[0].amount, steps[0].fee, steps[0].net), (19, 19, 0, 19));
    assert_eq!((steps[1].cumulative, steps[1].amount, steps[1].fee, steps[1].net), (39, 20, 1, 19));
    assert_eq!(c.reputation_of(provider()).0.volume, 39);
    assert_solvent(&c);
}

#[ink::test]
fn release_skips_sequences_and_settles_lanes_independently() {
    let mut c = setup();
    assert_eq!(release(&mut c, receipt(1, provider(), 600, 5)), Ok(Split { net: 570, fee: 30 }));
    assert_eq!(release(&mut c, receipt(1, provider2(), 400, 1)), Ok(Split { net: 380, fee: 20 }));
    // Exactly the whole deposit is released.
    let job = c.job(1).unwrap();
    assert_eq!((job.released, job.held()), (DEPOSIT, 0));
    assert_eq!(c.lane(1, provider()).sequence, 5);
    assert_eq!(c.balance_of(treasury()), 50);
    assert_solvent(&c);
}

#[ink::test]
fn release_uses_the_fee_fixed_when_the_job_opened() {
    let mut c = setup();
    call_as(owner());
    c.update_settings(SettingsChange { fee_bps: Some(MAX_FEE_BPS), ..keep() }).unwrap();
    assert_eq!(open(&mut c, DEPOSIT), Ok(2));
    assert_eq!(c.job(2).unwrap().fee_bps, MAX_FEE_BPS);
    assert_eq!(release(&mut c, receipt(1, provider(), 100, 1)), Ok(Split { net: 95, fee: 5 }));
    assert_eq!(release(&mut c, receipt(2, provider(), 100, 1)), Ok(Split { net: 90, fee: 10 }));
    assert_eq!(c.balance_of(treasury()), 15);
    assert_solvent(&c);
}

#[ink::test]
fn release_refuses_a_receipt_for_another_chain() {
    let mut c = setup();
    let mut r = receipt(1, provider(), 100, 1);
    r.domain.genesis_hash = [8; 32];
    refused(&mut c, Error::WrongChain, |c| release(c, r));
}

#[ink::test]
fn release_refuses_a_receipt_for_another_contract() {
    let mut c = setup();
    let mut r = receipt(1, provider(), 100, 1);
    r.domain.contract = stranger();
    refused(&mut c, Error::WrongContract, |c| release(c, r));
}

#[ink::test]
fn release_refuses_an_unknown_job() {
    let mut c = setup();
    refused(&mut c, Error::JobNotFound, |c| release(c, receipt(2, provider(), 100, 1)));
}

#[ink::test]
fn release_refuses_a_finalized_job() {
    let mut c = setup();
    at(EXPIRES);
    call_as(stranger());
    c.refund(1).unwrap();
    refused(&mut c, Error::JobFinalized, |c| release(c, receipt(1, provider(), 100, 1)));
}

#[ink::test]
fn release_refuses_an_ended_job() {
    let mut c = setup();
    at(EXPIRES - 1);
    let mut r = receipt(1, provider(), 100, 1);
    r.expires_at = EXPIRES + 1_000;
    assert_eq!(release(&mut c, r.clone()), Ok(Split { net: 95, fee: 5 }));
    at(EXPIRES);
    r.amount = 200;
    r.sequence = 2;
    refused(&mut c, Error::JobEnded, |c| release(c, r));
}

#[ink::test]
fn release_refuses_a_provider_not_named_on_the_job() {
    let mut c = setup();
    stake(&mut c, stranger(), MIN_STAKE);
    refused(&mut c, Error::NotAProvider, |c| release(c, receipt(1, stranger(), 100, 1)));
}

#[ink::test]
fn release_refuses_an_expired_receipt() {
    let mut c = setup();
    let mut r = receipt(1, provider(), 100, 1);
    r.expires_at = NOW;
    refused(&mut c, Error::ReceiptExpired, |c| release(c, r.clone()));
    r.expires_at = NOW + 1;
    assert_eq!(release(&mut c, r), Ok(Split { net: 95, fee: 5 }));
}

#[ink::test]
fn release_refuses_a_replayed_or_older_sequence() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 2)).is_ok());
    refused(&mut c, Error::Replayed, |c| release(c, receipt(1, provider(), 100, 2)));
    refused(&mut c, Error::Replayed, |c| release(c, receipt(1, provider(), 200, 2)));
    refused(&mut c, Error::Replayed, |c| release(c, receipt(1, provider(), 200, 1)));
    // Sequence 0 is never valid (lanes start at 0).
    refused(&mut c, Error::Replayed, |c| release(c, receipt(1, provider2(), 100, 0)));
}

#[ink::test]
fn release_refuses_a_cumulative_amount_that_does_not_increase() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    refused(&mut c, Error::CumulativeNotIncreasing, |c| release(c, receipt(1, provider(), 100, 2)));
    let mut lower = receipt(1, provider(), 50, 2);
    lower.units = 200;
    refused(&mut c, Error::CumulativeNotIncreasing, |c| release(c, lower));
    // A zero amount never increases.
    refused(&mut c, Error::CumulativeNotIncreasing, |c| release(c, receipt(1, provider2(), 0, 1)));
}

#[ink::test]
fn release_refuses_decreasing_units() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    let mut r = receipt(1, provider(), 200, 2);
    r.units = 99;
    refused(&mut c, Error::UnitsDecreased, |c| release(c, r.clone()));
    r.units = 100;
    assert_eq!(release(&mut c, r), Ok(Split { net: 95, fee: 5 }));
}

#[ink::test]
fn release_refuses_more_than_the_escrowed_deposit() {
    let mut c = setup();
    refused(&mut c, Error::ExceedsEscrow, |c| release(c, receipt(1, provider(), DEPOSIT + 1, 1)));
    assert!(release(&mut c, receipt(1, provider(), 600, 1)).is_ok());
    // Across lanes: 600 + 401 > 1000.
    refused(&mut c, Error::ExceedsEscrow, |c| release(c, receipt(1, provider2(), 401, 1)));
    refused(&mut c, Error::ExceedsEscrow, |c| release(c, receipt(1, provider(), 1_001, 2)));
}

#[ink::test]
fn release_refuses_a_bad_signature() {
    let mut c = setup();
    let r = receipt(1, provider(), 100, 1);
    call_as(stranger());
    let other_key = sign_with([43; 32], &r);
    refused(&mut c, Error::BadSignature, |c| c.release(r.clone(), other_key));
    let signature = sign(&r);
    let mut more = r.clone();
    more.amount = 101;
    refused(&mut c, Error::BadSignature, |c| c.release(more, signature));
    let mut flipped = signature;
    flipped[10] ^= 1;
    refused(&mut c, Error::BadSignature, |c| c.release(r.clone(), flipped));
    refused(&mut c, Error::BadSignature, |c| c.release(r.clone(), [0; 64]));
    assert!(c.release(r, signature).is_ok());
}

#[ink::test]
fn release_refuses_a_total_that_would_overflow() {
    let mut c = setup();
    fake_pay_as(consumer(), u128::MAX);
    assert_eq!(open_job(&mut c, vec![provider(), provider2()], EXPIRES), Ok(2));
    assert!(release(&mut c, receipt(2, provider(), u128::MAX, 1)).is_ok());
    refused(&mut c, Error::Overflow, |c| release(c, receipt(2, provider2(), 1, 1)));
}

// ---------------------------------------------------------------- release_many

#[ink::test]
fn release_many_settles_each_receipt_on_its_own() {
    let mut c = setup();
    assert_eq!(open(&mut c, DEPOSIT), Ok(2));
    let count = event_count();
    let tampered = {
        let (mut r, signature) = signed(receipt(1, provider2(), 40, 1));
        r.amount = 41;
        (r, signature)
    };
    let batch = vec![
        signed(receipt(1, provider(), 100, 1)),
        signed(receipt(1, provider(), 100, 1)),
        tampered,
        signed(receipt(1, provider2(), 60, 1)),
        signed(receipt(2, provider(), 200, 1)),
    ];
    call_as(stranger());
    let outcomes = c.release_many(batch).expect("a batch never fails as a whole");
    assert_eq!(
        outcomes,
        vec![
            Ok(Split { net: 95, fee: 5 }),
            Err(Error::Replayed),
            Err(Error::BadSignature),
            Ok(Split { net: 57, fee: 3 }),
            Ok(Split { net: 190, fee: 10 }),
        ]
    );
    assert_eq!(c.balance_of(provider()), 95 + 190);
    assert_eq!(c.balance_of(provider2()), 57);
    assert_eq!(c.balance_of(treasury()), 18);
    assert_eq!(c.job(1).unwrap().released, 160);
    assert_eq!(c.job(2).unwrap().released, 200);
    // One Released and one ReputationChanged per settled receipt.
    let new = events_since(count);
    assert_eq!(new.iter().map(|e| e.topics.len()).collect::<Vec<_>>(), vec![4, 2, 4, 2, 4, 2]);
    assert_solvent(&c);
}

#[ink::test]
fn release_many_of_refused_receipts_changes_nothing() {
    let mut c = setup();
    let before = snapshot(&c);
    let mut wrong_chain = receipt(1, provider(), 100, 1);
    wrong_chain.domain.genesis_hash = [0; 32];
    let batch = vec![
        signed(wrong_chain),
        signed(receipt(3, provider(), 100, 1)),
        signed(receipt(1, stranger(), 100, 1)),
        signed(receipt(1, provider(), DEPOSIT + 1, 1)),
    ];
    call_as(stranger());
    let outcomes = c.release_many(batch).unwrap();
    let expected =
        vec![Err(Error::WrongChain), Err(Error::JobNotFound), Err(Error::NotAProvider), Err(Error::ExceedsEscrow)];
    assert_eq!(outcomes, expected);
    assert_unchanged(&before, &snapshot(&c), "a batch of refused receipts");

    assert_eq!(c.release_many(vec![]), Ok(vec![]));
    assert_unchanged(&before, &snapshot(&c), "an empty batch");
}

// ---------------------------------------------------------------- complete

#[ink::test]
fn complete_ends_the_job_after_the_settle_grace() {
    let mut c = setup();
    at(NOW + 100);
    let ends_at = NOW + 100 + TIMING.settle_grace;
    let count = event_count();
    call_as(consumer());
    assert_eq!(c.complete(1), Ok(ends_at));
    let job = c.job(1).unwrap();
    assert_eq!((job.status, job.ends_at, job.expires_at), (JobStatus::Completed, ends_at, EXPIRES));
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let expected = JobCompleted { job_id: 1, consumer: consumer(), ends_at };
    assert_event(&new[0], &expected, &[job_topic(1), account_topic(consumer())]);

    // Receipts and top-ups are still accepted during the grace, not after.
    at(ends_at - 1);
    assert_eq!(release(&mut c, receipt(1, provider(), 100, 1)), Ok(Split { net: 95, fee: 5 }));
    pay_as(consumer(), 10);
    assert_eq!(c.top_up(1), Ok(()));
    at(ends_at);
    refused(&mut c, Error::JobEnded, |c| release(c, receipt(1, provider(), 200, 2)));
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(DEPOSIT + 10 - 100));
    assert_solvent(&c);
}

#[ink::test]
fn complete_never_extends_the_expiry() {
    let mut c = setup();
    at(EXPIRES - 10);
    call_as(consumer());
    assert_eq!(c.complete(1), Ok(EXPIRES));
    assert_eq!(c.job(1).unwrap().ends_at, EXPIRES);
}

#[ink::test]
fn complete_refuses_an_unknown_job() {
    let mut c = setup();
    call_as(consumer());
    refused(&mut c, Error::JobNotFound, |c| c.complete(2));
}

#[ink::test]
fn complete_refuses_anyone_but_the_consumer() {
    let mut c = setup();
    for who in [provider(), owner(), stranger()] {
        call_as(who);
        refused(&mut c, Error::Unauthorized, |c| c.complete(1));
    }
}

#[ink::test]
fn complete_refuses_a_completed_job() {
    let mut c = setup();
    call_as(consumer());
    c.complete(1).unwrap();
    at(NOW + 1);
    refused(&mut c, Error::AlreadyCompleted, |c| c.complete(1));
}

#[ink::test]
fn complete_refuses_a_finalized_job() {
    let mut c = setup();
    at(EXPIRES);
    call_as(stranger());
    c.refund(1).unwrap();
    call_as(consumer());
    refused(&mut c, Error::JobFinalized, |c| c.complete(1));
}

#[ink::test]
fn complete_refuses_an_expired_job() {
    let mut c = setup();
    at(EXPIRES);
    call_as(consumer());
    refused(&mut c, Error::JobEnded, |c| c.complete(1));
}

// ---------------------------------------------------------------- refund

#[ink::test]
fn refund_credits_the_remainder_and_counts_the_job_for_paid_providers() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 300, 1)).is_ok());
    at(EXPIRES);
    let count = event_count();
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(700));

    assert_eq!(c.balance_of(consumer()), 700);
    assert_eq!(c.balance_of(stranger()), 0);
    let job = c.job(1).unwrap();
    assert_eq!((job.status, job.held(), job.released, job.deposit), (JobStatus::Finalized, 0, 300, DEPOSIT));
    let paid = Reputation { jobs_completed: 1, volume: 300, ..Reputation::default() };
    assert_eq!(c.reputation_of(provider()), (paid, 1000));
    assert_eq!(c.reputation_of(provider2()), (Reputation::default(), 1000));
    assert_solvent(&c);

    let new = events_since(count);
    assert_eq!(new.len(), 2);
    let refunded = Refunded { job_id: 1, consumer: consumer(), amount: 700 };
    assert_event(&new[0], &refunded, &[job_topic(1), account_topic(consumer())]);
    assert_event(&new[1], &reputation_event(provider(), paid), &[account_topic(provider())]);
}

#[ink::test]
fn refund_of_a_fully_released_job_credits_nothing() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), DEPOSIT, 1)).is_ok());
    call_as(consumer());
    let ends_at = c.complete(1).unwrap();
    at(ends_at);
    call_as(provider());
    assert_eq!(c.refund(1), Ok(0));
    assert_eq!(c.balance_of(consumer()), 0);
    assert_eq!(c.job(1).unwrap().status, JobStatus::Finalized);
    assert_solvent(&c);
}

#[ink::test]
fn refund_refuses_an_unknown_job() {
    let mut c = setup();
    at(EXPIRES);
    call_as(stranger());
    refused(&mut c, Error::JobNotFound, |c| c.refund(2));
}

#[ink::test]
fn refund_refuses_a_job_that_has_not_ended() {
    let mut c = setup();
    call_as(stranger());
    at(EXPIRES - 1);
    refused(&mut c, Error::JobNotEnded, |c| c.refund(1));
    at(NOW);
    call_as(consumer());
    let ends_at = c.complete(1).unwrap();
    at(ends_at - 1);
    refused(&mut c, Error::JobNotEnded, |c| c.refund(1));
}

#[ink::test]
fn refund_refuses_a_finalized_job() {
    let mut c = setup();
    at(EXPIRES);
    call_as(stranger());
    c.refund(1).unwrap();
    refused(&mut c, Error::JobFinalized, |c| c.refund(1));
}

#[ink::test]
fn refund_refuses_a_credit_that_would_overflow() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    fake_pay_as(consumer(), u128::MAX);
    assert_eq!(open_job(&mut c, vec![provider()], EXPIRES), Ok(1));
    fake_pay_as(consumer(), 1);
    assert_eq!(open_job(&mut c, vec![provider()], EXPIRES), Ok(2));
    at(EXPIRES);
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(u128::MAX));
    refused(&mut c, Error::Overflow, |c| c.refund(2));
}

// ---------------------------------------------------------------- claim

#[ink::test]
fn claim_pays_out_the_claimable_balance() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    let contract_before = native(contract());
    let count = event_count();
    assert_eq!(claim(&mut c, provider()), Ok(95));
    assert_eq!(native(provider()), FUNDS - MIN_STAKE + 95);
    assert_eq!(native(contract()), contract_before - 95);
    assert_eq!(c.balance_of(provider()), 0);
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    assert_event(&new[0], &Claimed { account: provider(), amount: 95 }, &[account_topic(provider())]);

    assert_eq!(claim(&mut c, treasury()), Ok(5));
    assert_eq!(native(treasury()), FUNDS + 5);
    at(EXPIRES);
    call_as(stranger());
    c.refund(1).unwrap();
    assert_eq!(claim(&mut c, consumer()), Ok(900));
    assert_eq!(native(consumer()), FUNDS - 100);
    // Only the stakes are left.
    assert_eq!(native(contract()), 2 * MIN_STAKE);
    assert_solvent(&c);
}

#[ink::test]
fn claim_works_while_paused() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    call_as(owner());
    c.update_settings(SettingsChange { paused: Some(true), ..keep() }).unwrap();
    assert_eq!(claim(&mut c, provider()), Ok(95));
}

#[ink::test]
fn claim_refuses_an_empty_balance() {
    let mut c = setup();
    call_as(stranger());
    refused(&mut c, Error::NothingToClaim, |c| c.claim());
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    assert_eq!(claim(&mut c, provider()), Ok(95));
    call_as(provider());
    refused(&mut c, Error::NothingToClaim, |c| c.claim());
}

#[ink::test]
fn claim_reports_a_failed_transfer() {
    let mut c = deploy_without_contract_account();
    fake_pay_as(provider(), MIN_STAKE);
    c.stake().unwrap();
    fake_pay_as(consumer(), DEPOSIT);
    assert_eq!(open_job(&mut c, vec![provider()], EXPIRES), Ok(1));
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    call_as(provider());
    assert_eq!(c.claim(), Err(Error::TransferFailed));
    // No native funds moved (the ledger side is reverted on chain; see the module docs).
    assert_eq!(native(provider()), FUNDS);
    assert!(test::get_account_balance::<Env>(contract()).is_err());
}

// ---------------------------------------------------------------- stake

#[ink::test]
fn stake_bonds_the_transferred_value() {
    let mut c = deploy();
    let count = event_count();
    stake(&mut c, provider(), 600);
    stake(&mut c, provider(), 400);
    assert_eq!(c.stake_of(provider()), Stake { active: 1_000, ..Stake::default() });
    assert_eq!(native(provider()), FUNDS - 1_000);
    assert_solvent(&c);
    let new = events_since(count);
    assert_eq!(new.len(), 2);
    assert_event(&new[0], &Staked { provider: provider(), amount: 600, active: 600 }, &[account_topic(provider())]);
    assert_event(&new[1], &Staked { provider: provider(), amount: 400, active: 1_000 }, &[account_topic(provider())]);
}

#[ink::test]
fn stake_refuses_zero() {
    let mut c = deploy();
    pay_as(provider(), 0);
    refused(&mut c, Error::ZeroAmount, |c| c.stake());
}

#[ink::test]
fn stake_refuses_a_total_that_would_overflow() {
    let mut c = deploy();
    fake_pay_as(provider(), u128::MAX);
    c.stake().unwrap();
    fake_pay_as(provider(), 1);
    refused(&mut c, Error::Overflow, |c| c.stake());
    // Active plus unbonding must stay representable too.
    call_as(provider());
    c.unbond(10).unwrap();
    fake_pay_as(provider(), 1);
    refused(&mut c, Error::Overflow, |c| c.stake());
}

// ---------------------------------------------------------------- unbond

#[ink::test]
fn unbond_moves_active_stake_to_unbonding() {
    let mut c = deploy();
    stake(&mut c, provider(), 1_000);
    let count = event_count();
    call_as(provider());
    assert_eq!(c.unbond(400), Ok(NOW + TIMING.unbond_delay));
    let stake_now = Stake { active: 600, unbonding: 400, unlock_at: NOW + TIMING.unbond_delay, ..Stake::default() };
    assert_eq!(c.stake_of(provider()), stake_now);
    // Each unbond restarts the delay for all unbonding stake.
    at(NOW + 5);
    assert_eq!(c.unbond(600), Ok(NOW + 5 + TIMING.unbond_delay));
    assert_eq!(c.stake_of(provider()).active, 0);
    assert_eq!(c.stake_of(provider()).unbonding, 1_000);
    assert_solvent(&c);

    let new = events_since(count);
    assert_eq!(new.len(), 2);
    let first = Unbonding { provider: provider(), amount: 400, unbonding: 400, unlock_at: NOW + TIMING.unbond_delay };
    assert_event(&new[0], &first, &[account_topic(provider())]);
    let second =
        Unbonding { provider: provider(), amount: 600, unbonding: 1_000, unlock_at: NOW + 5 + TIMING.unbond_delay };
    assert_event(&new[1], &second, &[account_topic(provider())]);
}

#[ink::test]
fn unbond_refuses_zero() {
    let mut c = deploy();
    stake(&mut c, provider(), 1_000);
    call_as(provider());
    refused(&mut c, Error::ZeroAmount, |c| c.unbond(0));
}

#[ink::test]
fn unbond_refuses_more_than_the_active_stake() {
    let mut c = deploy();
    stake(&mut c, provider(), 1_000);
    call_as(provider());
    refused(&mut c, Error::InsufficientActiveStake, |c| c.unbond(1_001));
    c.unbond(600).unwrap();
    refused(&mut c, Error::InsufficientActiveStake, |c| c.unbond(401));
    call_as(stranger());
    refused(&mut c, Error::InsufficientActiveStake, |c| c.unbond(1));
}

// ---------------------------------------------------------------- withdraw

#[ink::test]
fn withdraw_pays_out_unbonded_stake() {
    let mut c = deploy();
    stake(&mut c, provider(), 1_000);
    call_as(provider());
    let unlock_at = c.unbond(700).unwrap();
    at(unlock_at);
    let count = event_count();
    call_as(provider());
    assert_eq!(c.withdraw(), Ok(700));
    assert_eq!(native(provider()), FUNDS - 300);
    assert_eq!(native(contract()), 300);
    assert_eq!(c.stake_of(provider()), Stake { active: 300, unlock_at, ..Stake::default() });
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    assert_event(&new[0], &Withdrawn { provider: provider(), amount: 700 }, &[account_topic(provider())]);
    assert_solvent(&c);
}

#[ink::test]
fn withdraw_refuses_when_nothing_is_unbonding() {
    let mut c = deploy();
    call_as(provider());
    refused(&mut c, Error::NothingToClaim, |c| c.withdraw());
    stake(&mut c, provider(), 1_000);
    at(NOW + TIMING.unbond_delay);
    call_as(provider());
    refused(&mut c, Error::NothingToClaim, |c| c.withdraw());
}

#[ink::test]
fn withdraw_refuses_before_the_unbonding_delay() {
    let mut c = deploy();
    stake(&mut c, provider(), 1_000);
    call_as(provider());
    let unlock_at = c.unbond(1_000).unwrap();
    at(unlock_at - 1);
    refused(&mut c, Error::StakeLocked, |c| c.withdraw());
    at(unlock_at);
    assert_eq!(c.withdraw(), Ok(1_000));
}

#[ink::test]
fn withdraw_refuses_while_a_job_locks_the_stake() {
    let mut c = setup();
    call_as(provider());
    let unlock_at = c.unbond(MIN_STAKE).unwrap();
    let locked_until = EXPIRES + TIMING.dispute_window;
    assert!(unlock_at < locked_until);
    at(unlock_at);
    refused(&mut c, Error::StakeLocked, |c| c.withdraw());
    at(locked_until - 1);
    refused(&mut c, Error::StakeLocked, |c| c.withdraw());
    at(locked_until);
    assert_eq!(c.withdraw(), Ok(MIN_STAKE));
    assert_solvent(&c);
}

#[ink::test]
fn withdraw_refuses_while_a_dispute_is_pending() {
    let mut c = setup();
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    call_as(provider());
    c.unbond(MIN_STAKE).unwrap();
    at(EXPIRES + TIMING.dispute_window + TIMING.unbond_delay);
    refused(&mut c, Error::StakeLocked, |c| c.withdraw());
    call_as(arbiter());
    c.resolve_dispute(1, provider(), 0).unwrap();
    call_as(provider());
    assert_eq!(c.withdraw(), Ok(MIN_STAKE));
}

#[ink::test]
fn withdraw_reports_a_failed_transfer() {
    let mut c = deploy_without_contract_account();
    fake_pay_as(provider(), 1_000);
    c.stake().unwrap();
    call_as(provider());
    let unlock_at = c.unbond(1_000).unwrap();
    at(unlock_at);
    assert_eq!(c.withdraw(), Err(Error::TransferFailed));
    // No native funds moved (the ledger side is reverted on chain; see the module docs).
    assert_eq!(native(provider()), FUNDS);
    assert!(test::get_account_balance::<Env>(contract()).is_err());
}

// ---------------------------------------------------------------- dispute

#[ink::test]
fn dispute_opens_a_pending_dispute_that_holds_the_stake() {
    let mut c = setup();
    at(NOW + 10);
    let count = event_count();
    call_as(consumer());
    assert_eq!(c.dispute(1, provider(), REASON), Ok(()));
    let pending = Dispute { reason: REASON, opened_at: NOW + 10, status: DisputeStatus::Pending, slashed: 0 };
    assert_eq!(c.dispute_of(1, provider()), Some(pending));
    assert_eq!(c.dispute_of(1, provider2()), None);
    assert_eq!(c.stake_of(provider()).pending_disputes, 1);
    assert_eq!(c.stake_of(provider2()).pending_disputes, 0);
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let expected = DisputeOpened { job_id: 1, consumer: consumer(), provider: provider(), reason: REASON };
    assert_event(&new[0], &expected, &[job_topic(1), account_topic(consumer()), account_topic(provider())]);

    // Disputes on two jobs count twice.
    assert_eq!(open(&mut c, DEPOSIT), Ok(2));
    call_as(consumer());
    assert_eq!(c.dispute(2, provider(), REASON), Ok(()));
    assert_eq!(c.stake_of(provider()).pending_disputes, 2);
}

#[ink::test]
fn dispute_is_open_for_one_window_after_the_job_ends() {
    let mut c = setup();
    call_as(consumer());
    let ends_at = c.complete(1).unwrap();
    at(ends_at + TIMING.dispute_window - 1);
    assert_eq!(c.dispute(1, provider(), REASON), Ok(()));
    at(ends_at + TIMING.dispute_window);
    refused(&mut c, Error::DisputeWindowClosed, |c| c.dispute(1, provider2(), REASON));
}

#[ink::test]
fn dispute_refuses_an_unknown_job() {
    let mut c = setup();
    call_as(consumer());
    refused(&mut c, Error::JobNotFound, |c| c.dispute(2, provider(), REASON));
}

#[ink::test]
fn dispute_refuses_anyone_but_the_consumer() {
    let mut c = setup();
    for who in [provider2(), arbiter(), owner(), stranger()] {
        call_as(who);
        refused(&mut c, Error::Unauthorized, |c| c.dispute(1, provider(), REASON));
    }
}

#[ink::test]
fn dispute_refuses_a_provider_not_named_on_the_job() {
    let mut c = setup();
    stake(&mut c, stranger(), MIN_STAKE);
    call_as(consumer());
    refused(&mut c, Error::NotAProvider, |c| c.dispute(1, stranger(), REASON));
}

#[ink::test]
fn dispute_refuses_after_the_window() {
    let mut c = setup();
    at(EXPIRES + TIMING.dispute_window);
    call_as(consumer());
    refused(&mut c, Error::DisputeWindowClosed, |c| c.dispute(1, provider(), REASON));
    at(EXPIRES + TIMING.dispute_window + 1_000_000);
    refused(&mut c, Error::DisputeWindowClosed, |c| c.dispute(1, provider(), REASON));
}

#[ink::test]
fn dispute_refuses_a_second_dispute_of_the_same_provider() {
    let mut c = setup();
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    refused(&mut c, Error::DisputeExists, |c| c.dispute(1, provider(), [1; 32]));
    // Even once resolved.
    call_as(arbiter());
    c.resolve_dispute(1, provider(), 0).unwrap();
    call_as(consumer());
    refused(&mut c, Error::DisputeExists, |c| c.dispute(1, provider(), [1; 32]));
}

// ---------------------------------------------------------------- resolve_dispute

#[ink::test]
fn resolve_dispute_slashes_to_the_consumer() {
    let mut c = setup();
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    let count = event_count();
    call_as(arbiter());
    assert_eq!(c.resolve_dispute(1, provider(), 300), Ok(()));

    let stake_now = c.stake_of(provider());
    assert_eq!((stake_now.active, stake_now.unbonding, stake_now.pending_disputes), (MIN_STAKE - 300, 0, 0));
    assert_eq!(c.balance_of(consumer()), 300);
    let upheld = Dispute { reason: REASON, opened_at: NOW, status: DisputeStatus::Upheld, slashed: 300 };
    assert_eq!(c.dispute_of(1, provider()), Some(upheld));
    let lost = Reputation { disputes_lost: 1, slashed: 300, ..Reputation::default() };
    assert_eq!(c.reputation_of(provider()), (lost, 166));
    assert_solvent(&c);

    let new = events_since(count);
    assert_eq!(new.len(), 2);
    let resolved = DisputeResolved { job_id: 1, consumer: consumer(), provider: provider(), slashed: 300 };
    assert_event(&new[0], &resolved, &[job_topic(1), account_topic(consumer()), account_topic(provider())]);
    assert_event(&new[1], &reputation_event(provider(), lost), &[account_topic(provider())]);

    // The slash is the consumer's to claim.
    assert_eq!(claim(&mut c, consumer()), Ok(300));
    assert_eq!(native(consumer()), FUNDS - DEPOSIT + 300);
}

#[ink::test]
fn resolve_dispute_slashes_active_stake_first_then_unbonding() {
    let mut c = setup();
    call_as(provider());
    c.unbond(400).unwrap();
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    call_as(arbiter());
    assert_eq!(c.resolve_dispute(1, provider(), 800), Ok(()));
    let stake_now = c.stake_of(provider());
    assert_eq!((stake_now.active, stake_now.unbonding), (0, 200));
    assert_eq!(c.balance_of(consumer()), 800);
    assert_solvent(&c);

    // The whole stake may go.
    call_as(consumer());
    c.dispute(1, provider2(), REASON).unwrap();
    call_as(arbiter());
    assert_eq!(c.resolve_dispute(1, provider2(), MIN_STAKE), Ok(()));
    assert_eq!(c.stake_of(provider2()).total(), 0);
    assert_solvent(&c);
}

#[ink::test]
fn resolve_dispute_with_no_slash_dismisses() {
    let mut c = setup();
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    let count = event_count();
    call_as(arbiter());
    assert_eq!(c.resolve_dispute(1, provider(), 0), Ok(()));
    let dismissed = Dispute { reason: REASON, opened_at: NOW, status: DisputeStatus::Dismissed, slashed: 0 };
    assert_eq!(c.dispute_of(1, provider()), Some(dismissed));
    assert_eq!(c.stake_of(provider()).active, MIN_STAKE);
    assert_eq!(c.stake_of(provider()).pending_disputes, 0);
    assert_eq!(c.balance_of(consumer()), 0);
    assert_eq!(c.reputation_of(provider()), (Reputation::default(), 1000));
    // No reputation change when dismissed.
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let resolved = DisputeResolved { job_id: 1, consumer: consumer(), provider: provider(), slashed: 0 };
    assert_event(&new[0], &resolved, &[job_topic(1), account_topic(consumer()), account_topic(provider())]);
}

#[ink::test]
fn resolve_dispute_refuses_anyone_but_the_arbiter() {
    let mut c = setup();
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    for who in [owner(), consumer(), provider(), stranger()] {
        call_as(who);
        refused(&mut c, Error::Unauthorized, |c| c.resolve_dispute(1, provider(), 100));
    }
}

#[ink::test]
fn resolve_dispute_refuses_a_missing_or_resolved_dispute() {
    let mut c = setup();
    call_as(arbiter());
    refused(&mut c, Error::DisputeNotFound, |c| c.resolve_dispute(1, provider(), 0));
    refused(&mut c, Error::DisputeNotFound, |c| c.resolve_dispute(2, provider(), 0));
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    call_as(arbiter());
    c.resolve_dispute(1, provider(), 100).unwrap();
    refused(&mut c, Error::DisputeNotFound, |c| c.resolve_dispute(1, provider(), 100));
}

#[ink::test]
fn resolve_dispute_refuses_a_slash_above_the_stake() {
    let mut c = setup();
    call_as(provider());
    c.unbond(400).unwrap();
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    call_as(arbiter());
    refused(&mut c, Error::SlashExceedsStake, |c| c.resolve_dispute(1, provider(), MIN_STAKE + 1));
    refused(&mut c, Error::SlashExceedsStake, |c| c.resolve_dispute(1, provider(), u128::MAX));
}

#[ink::test]
fn resolve_dispute_refuses_a_credit_that_would_overflow() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    fake_pay_as(consumer(), u128::MAX);
    assert_eq!(open_job(&mut c, vec![provider()], EXPIRES), Ok(1));
    at(EXPIRES);
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(u128::MAX));
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    call_as(arbiter());
    refused(&mut c, Error::Overflow, |c| c.resolve_dispute(1, provider(), 1));
    // Dismissing credits nothing, so it still works.
    assert_eq!(c.resolve_dispute(1, provider(), 0), Ok(()));
}

// ---------------------------------------------------------------- ownership

#[ink::test]
fn ownership_moves_in_two_steps() {
    let mut c = deploy();
    let count = event_count();
    call_as(owner());
    assert_eq!(c.transfer_ownership(stranger()), Ok(()));
    assert_eq!((c.config().owner, c.config().pending_owner), (owner(), Some(stranger())));
    // The old owner still rules until the new one accepts.
    call_as(owner());
    assert_eq!(c.update_settings(keep()), Ok(()));

    call_as(stranger());
    assert_eq!(c.accept_ownership(), Ok(()));
    assert_eq!((c.config().owner, c.config().pending_owner), (stranger(), None));
    call_as(owner());
    refused(&mut c, Error::Unauthorized, |c| c.update_settings(keep()));
    call_as(stranger());
    assert_eq!(c.update_settings(keep()), Ok(()));

    let new = events_since(count);
    assert_eq!(new.len(), 4);
    let started = OwnershipTransferStarted { owner: owner(), pending: stranger() };
    assert_event(&new[0], &started, &[account_topic(owner()), account_topic(stranger())]);
    let transferred = OwnershipTransferred { previous: owner(), owner: stranger() };
    assert_event(&new[2], &transferred, &[account_topic(owner()), account_topic(stranger())]);
}

#[ink::test]
fn transfer_ownership_can_be_redirected() {
    let mut c = deploy();
    call_as(owner());
    c.transfer_ownership(stranger()).unwrap();
    c.transfer_ownership(consumer()).unwrap();
    call_as(stranger());
    refused(&mut c, Error::NoPendingOwner, |c| c.accept_ownership());
    call_as(consumer());
    assert_eq!(c.accept_ownership(), Ok(()));
    assert_eq!(c.config().owner, consumer());
}

#[ink::test]
fn transfer_ownership_refuses_anyone_but_the_owner() {
    let mut c = deploy();
    for who in [treasury(), arbiter(), stranger()] {
        call_as(who);
        refused(&mut c, Error::Unauthorized, |c| c.transfer_ownership(who));
    }
    // A pending owner is not the owner yet.
    call_as(owner());
    c.transfer_ownership(stranger()).unwrap();
    call_as(stranger());
    refused(&mut c, Error::Unauthorized, |c| c.transfer_ownership(consumer()));
}

#[ink::test]
fn accept_ownership_refuses_without_a_pending_transfer() {
    let mut c = deploy();
    call_as(stranger());
    refused(&mut c, Error::NoPendingOwner, |c| c.accept_ownership());
    call_as(owner());
    refused(&mut c, Error::NoPendingOwner, |c| c.accept_ownership());
    c.transfer_ownership(consumer()).unwrap();
    call_as(stranger());
    refused(&mut c, Error::NoPendingOwner, |c| c.accept_ownership());
    call_as(consumer());
    c.accept_ownership().unwrap();
    refused(&mut c, Error::NoPendingOwner, |c| c.accept_ownership());
}

// ---------------------------------------------------------------- update_settings

#[ink::test]
fn update_settings_changes_what_is_given_and_keeps_the_rest() {
    let mut c = deploy();
    let count = event_count();
    call_as(owner());
    let all = SettingsChange {
        treasury: Some(stranger()),
        arbiter: Some(owner()),
        fee_bps: Some(MAX_FEE_BPS),
        min_stake: Some(5),
        paused: Some(true),
    };
    assert_eq!(c.update_settings(all), Ok(()));
    let config = c.config();
    assert_eq!(
        (config.treasury, config.arbiter, config.fee_bps, config.min_stake, config.paused),
        (stranger(), owner(), MAX_FEE_BPS, 5, true)
    );
    assert_eq!((config.owner, config.timing, config.domain, config.next_job_id), (owner(), TIMING, domain(), 1));

    assert_eq!(c.update_settings(SettingsChange { paused: Some(false), ..keep() }), Ok(()));
    let config = c.config();
    assert_eq!(
        (config.treasury, config.arbiter, config.fee_bps, config.min_stake, config.paused),
        (stranger(), owner(), MAX_FEE_BPS, 5, false)
    );

    let new = events_since(count);
    assert_eq!(new.len(), 2);
    let first =
        SettingsChanged { treasury: stranger(), arbiter: owner(), fee_bps: MAX_FEE_BPS, min_stake: 5, paused: true };
    assert_event(&new[0], &first, &[]);
    let second = decode::<SettingsChanged>(&new[1]);
    assert_eq!((second.treasury, second.min_stake, second.paused), (stranger(), 5, false));
}

#[ink::test]
fn new_settings_take_effect() {
    let mut c = setup();
    call_as(owner());
    let change = SettingsChange { treasury: Some(stranger()), arbiter: Some(owner()), ..keep() };
    c.update_settings(change).unwrap();
    // Fees go to the new treasury.
    assert_eq!(release(&mut c, receipt(1, provider(), 100, 1)), Ok(Split { net: 95, fee: 5 }));
    assert_eq!((c.balance_of(stranger()), c.balance_of(treasury())), (5, 0));
    // The new arbiter resolves, the old one cannot.
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    call_as(arbiter());
    refused(&mut c, Error::Unauthorized, |c| c.resolve_dispute(1, provider(), 0));
    call_as(owner());
    assert_eq!(c.resolve_dispute(1, provider(), 0), Ok(()));
    // A higher minimum stake applies to new jobs.
    call_as(owner());
    c.update_settings(SettingsChange { min_stake: Some(MIN_STAKE + 1), ..keep() }).unwrap();
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::InsufficientStake, |c| open_job(c, vec![provider()], EXPIRES));
}

#[ink::test]
fn pause_stops_only_new_jobs() {
    let mut c = setup();
    call_as(owner());
    c.update_settings(SettingsChange { paused: Some(true), ..keep() }).unwrap();
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::Paused, |c| open_job(c, vec![provider()], EXPIRES));
    pay_as(consumer(), 10);
    assert_eq!(c.top_up(1), Ok(()));
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    stake(&mut c, provider(), 1);
    call_as(consumer());
    assert!(c.complete(1).is_ok());
    at(NOW + TIMING.settle_grace);
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(DEPOSIT + 10 - 100));
    assert_eq!(claim(&mut c, consumer()), Ok(DEPOSIT + 10 - 100));
    call_as(owner());
    c.update_settings(SettingsChange { paused: Some(false), ..keep() }).unwrap();
    assert_eq!(open(&mut c, DEPOSIT), Ok(2));
}

#[ink::test]
fn update_settings_refuses_anyone_but_the_owner() {
    let mut c = deploy();
    for who in [treasury(), arbiter(), stranger()] {
        call_as(who);
        refused(&mut c, Error::Unauthorized, |c| {
            c.update_settings(SettingsChange { fee_bps: Some(0), paused: Some(true), ..keep() })
        });
    }
}

#[ink::test]
fn update_settings_refuses_a_fee_above_the_cap() {
    let mut c = deploy();
    call_as(owner());
    // Nothing of a refused change is applied, not even its valid parts.
    let change = SettingsChange { fee_bps: Some(MAX_FEE_BPS + 1), paused: Some(true), ..keep() };
    refused(&mut c, Error::FeeTooHigh, |c| c.update_settings(change));
}

// ---------------------------------------------------------------- views

#[ink::test]
fn views_of_unknown_records_are_empty() {
    let c = deploy();
    assert_eq!(c.job(1), None);
    assert_eq!(c.job(JobId::MAX), None);
    assert_eq!(c.lane(1, provider()), Lane::default());
    assert_eq!(c.stake_of(provider()), Stake::default());
    assert_eq!(c.reputation_of(provider()), (Reputation::default(), 1000));
    assert_eq!(c.balance_of(provider()), 0);
    assert_eq!(c.dispute_of(1, provider()), None);
    assert_eq!(c.config().next_job_id, 1);
    assert_eq!(event_count(), 0);
}

// ---------------------------------------------------------------- a whole job

#[ink::test]
fn a_whole_job_moves_every_unit_of_money_to_the_right_account() {
    let mut c = setup();
    pay_as(consumer(), 500);
    c.top_up(1).unwrap();
    assert_eq!(release(&mut c, receipt(1, provider(), 600, 1)), Ok(Split { net: 570, fee: 30 }));
    assert_eq!(release(&mut c, receipt(1, provider2(), 300, 1)), Ok(Split { net: 285, fee: 15 }));
    at(NOW + 1_000);
    call_as(consumer());
    let ends_at = c.complete(1).unwrap();
    at(ends_at);
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(600));
    call_as(consumer());
    c.dispute(1, provider2(), REASON).unwrap();
    call_as(arbiter());
    c.resolve_dispute(1, provider2(), 200).unwrap();
    assert_solvent(&c);

    assert_eq!(claim(&mut c, provider()), Ok(570));
    assert_eq!(claim(&mut c, provider2()), Ok(285));
    assert_eq!(claim(&mut c, treasury()), Ok(45));
    assert_eq!(claim(&mut c, consumer()), Ok(800));
    call_as(provider());
    c.unbond(MIN_STAKE).unwrap();
    at(EXPIRES + TIMING.dispute_window);
    assert_eq!(c.withdraw(), Ok(MIN_STAKE));
    assert_solvent(&c);

    assert_eq!(native(consumer()), FUNDS - 700);
    assert_eq!(native(provider()), FUNDS + 570);
    assert_eq!(native(provider2()), FUNDS - 715);
    assert_eq!(native(treasury()), FUNDS + 45);
    assert_eq!(native(contract()), 800);
    assert_eq!(c.stake_of(provider2()).active, 800);
    assert_eq!(c.reputation_of(provider()).0, Reputation { jobs_completed: 1, volume: 600, ..Reputation::default() });
    let p2 = Reputation { jobs_completed: 1, volume: 300, disputes_lost: 1, slashed: 200 };
    assert_eq!(c.reputation_of(provider2()), (p2, 285)); // 1000 * 2 / (2 + 5)

    // Every event carries its signature topic plus its indexed fields.
    let expected_topics = [
        (<JobOpened as ink::env::Event>::SIGNATURE_TOPIC, 3),
        (<ToppedUp as ink::env::Event>::SIGNATURE_TOPIC, 3),
        (<Released as ink::env::Event>::SIGNATURE_TOPIC, 4),
        (<JobCompleted as ink::env::Event>::SIGNATURE_TOPIC, 3),
        (<Refunded as ink::env::Event>::SIGNATURE_TOPIC, 3),
        (<Claimed as ink::env::Event>::SIGNATURE_TOPIC, 2),
        (<Staked as ink::env::Event>::SIGNATURE_TOPIC, 2),
        (<Unbonding as ink::env::Event>::SIGNATURE_TOPIC, 2),
        (<Withdrawn as ink::env::Event>::SIGNATURE_TOPIC, 2),
        (<DisputeOpened as ink::env::Event>::SIGNATURE_TOPIC, 4),
        (<DisputeResolved as ink::env::Event>::SIGNATURE_TOPIC, 4),
        (<ReputationChanged as ink::env::Event>::SIGNATURE_TOPIC, 2),
    ];
    let all = events();
    for (signature, count) in expected_topics {
        let signature = signature.unwrap().to_vec();
        let matching: Vec<&EmittedEvent> = all.iter().filter(|e| e.topics[0] == signature).collect();
        assert!(!matching.is_empty());
        assert!(matching.iter().all(|e| e.topics.len() == count));
    }
}

// ---------------------------------------------------------------- known bug

/// `release` credits the provider before the treasury. If the treasury's credit overflows, the rules
/// return `Overflow` with the provider already credited (and the lane and job not updated). A single
/// `release` reverts that on chain, but `release_many` returns `Ok` with the receipt's `Err` inside, so
/// the call commits and the provider keeps an unbacked credit; the receipt can be resubmitted to repeat
/// it. Only reachable with claimable balances near `u128::MAX`, which real issuance cannot back.
#[ink::test]
fn release_many_keeps_nothing_of_a_receipt_that_overflows_late() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    // The consumer's claimable balance reaches u128::MAX, then the consumer becomes the treasury.
    fake_pay_as(consumer(), u128::MAX);
    assert_eq!(open_job(&mut c, vec![provider()], NOW + 1), Ok(1));
    fake_pay_as(consumer(), DEPOSIT);
    assert_eq!(open_job(&mut c, vec![provider()], EXPIRES), Ok(2));
    at(NOW + 1);
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(u128::MAX));
    call_as(owner());
    c.update_settings(SettingsChange { treasury: Some(consumer()), ..keep() }).unwrap();

    let before = snapshot(&c);
    call_as(stranger());
    let outcomes = c.release_many(vec![signed(receipt(2, provider(), 100, 1))]).unwrap();
    assert_eq!(outcomes, vec![Err(Error::Overflow)]);
    assert_unchanged(&before, &snapshot(&c), "a receipt refused inside release_many");
}
