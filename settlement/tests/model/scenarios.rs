//! Sequences the random runs reach rarely or never: exact time boundaries, the full withdrawal path,
//! forged and superseded receipts, settings and ownership, and amounts at the top of `u128`. Every step
//! still goes through the harness, so the model and all the invariants are checked after each one.

use settlement::fee;
use settlement::{DisputeStatus, Error, JobStatus, Receipt, SettingsChange};

use crate::harness::Harness;
use crate::ops::{Amt, JobRef, Op, Pick};
use crate::world::{
    naive_fee, Acc, ADMIN_CALLERS, CONSUMERS, DOMAIN, INITIAL_FEE_BPS, OWNERS, PROVIDERS, TIMING, TREASURIES,
};

fn stake(p: usize, amount: u128) -> Op {
    Op::Stake { p, amount }
}

/// A job whose providers are allocated equal parts of the deposit (the remainder of the division stays
/// unallocated).
fn open_job(providers: Vec<usize>, deposit: u128, duration: u64, key: usize) -> Op {
    let allocs = vec![Amt::Part(deposit / providers.len().max(1) as u128); providers.len()];
    Op::Open { consumer: 0, providers, allocs, deposit, duration, key }
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

/// The owner's announcement of `change` (with `caller`: someone else's).
fn announce(caller: Option<usize>, change: SettingsChange<usize>) -> Op {
    Op::Announce {
        caller,
        fee_bps: change.fee_bps,
        slash_bps: change.slash_bps,
        treasury: change.treasury,
        arbiter: change.arbiter,
        min_stake: change.min_stake,
    }
}

fn pause(caller: Option<usize>, paused: bool) -> Op {
    Op::Pause { caller, paused }
}

/// A correctly signed receipt (key 0).
fn signed(receipt: &Receipt<Acc>) -> Op {
    Op::Signed { receipt: Box::new(receipt.clone()), key: 0, signed_over: None }
}

fn accept(job: u64, p: usize, max_slash: Amt) -> Op {
    Op::AcceptJob { job: JobRef::Id(job), provider: provider(p), min_funds: Amt::Zero, max_slash }
}

impl Harness {
    /// Opens a job (it must open) and every provider accepts it, with no cap of its own on slashes (the
    /// bound is then the job's slash share of its deposit).
    fn open_accepted(&mut self, providers: Vec<usize>, deposit: u128, duration: u64, key: usize) {
        self.expect(&open_job(providers.clone(), deposit, duration, key), Ok(()));
        let id = self.model.next_job_id - 1;
        for p in providers {
            self.expect(&accept(id, p, Amt::Over(1 << 100)), Ok(()));
        }
    }

    /// The owner announces `change`, waits out the admin delay and applies it.
    fn change_settings(&mut self, change: SettingsChange<usize>) {
        self.expect(&announce(None, change), Ok(()));
        self.expect(&advance(TIMING.admin_delay), Ok(()));
        self.expect(&Op::Apply { caller: None }, Ok(()));
    }

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
        self.store.claimable(who)
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
    h.open_accepted(vec![0, 1], 1_000, 100, 0);
    h.open_accepted(vec![0], 1_000, TIMING.max_job_duration, 0);
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
    h.expect(
        &Op::TopUp { job: JobRef::Id(1), caller: None, amount: 5, to: Some(Pick { on_job: true, idx: 0 }) },
        Err(Error::JobEnded),
    );
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: None }, Err(Error::JobEnded));
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Ok(()));
    assert_eq!(h.balance(&CONSUMERS[0]), 990);
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Err(Error::JobFinalized));
    h.expect(&signed(&r), Err(Error::JobFinalized));
    h.expect(
        &Op::TopUp { job: JobRef::Id(1), caller: None, amount: 5, to: Some(Pick { on_job: true, idx: 0 }) },
        Err(Error::JobEnded),
    );
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
    // Accepting locks both stakes until the job's expiry plus the dispute window: START + 400. One dispute
    // may slash half of each provider's 4 000 allocation, more than either stake.
    h.open_accepted(vec![0, 1], 8_000, 300, 0);
    h.expect(&advance(50), Ok(()));
    h.expect(&Op::Unbond { p: 0, amount: Amt::Part(400) }, Ok(()));
    h.expect(&Op::Unbond { p: 1, amount: Amt::All }, Ok(()));
    h.expect(&Op::Unbond { p: 1, amount: Amt::Over(0) }, Err(Error::InsufficientActiveStake));
    h.expect(&withdraw(0), Err(Error::StakeLocked));
    // Its arbitration period ends at START + 250.
    h.expect(&dispute(1, 0), Ok(()));
    h.expect(&dispute(1, 0), Err(Error::DisputeExists));
    h.expect(&dispute(1, 2), Err(Error::NotAProvider));
    let stranger = |p: usize, slash: Amt| Op::Resolve {
        target: None,
        job: JobRef::Id(1),
        provider: provider(p),
        caller: Some(ADMIN_CALLERS.len() - 1),
        slash,
    };
    h.expect(&stranger(0, Amt::Zero), Err(Error::Unauthorized));
    // The job's arbiter slashes within the period: 700 of 1000, all 600 active first, then 100 of the
    // 400 unbonding.
    h.expect(&advance(150), Ok(()));
    h.expect(&resolve(1, 0, Amt::Part(700)), Ok(()));
    let s = h.store.stakes[&PROVIDERS[0]];
    assert_eq!((s.active, s.unbonding, s.pending_disputes), (0, 300, 0));
    assert_eq!(h.balance(&CONSUMERS[0]), 700);
    h.expect(&resolve(1, 0, Amt::Zero), Err(Error::DisputeNotFound));
    // The unbonding delay has passed (START + 350), the job lock has not.
    h.expect(&advance(150), Ok(()));
    h.expect(&withdraw(0), Err(Error::StakeLocked));
    h.expect(&withdraw(1), Err(Error::StakeLocked));
    // A dispute opened at the end of the window holds provider 1 for its arbitration period (to START + 599).
    h.expect(&advance(49), Ok(()));
    h.expect(&dispute(1, 1), Ok(()));
    h.expect(&advance(1), Ok(()));
    h.expect(&withdraw(0), Ok(()));
    h.expect(&withdraw(0), Err(Error::NothingToClaim));
    h.expect(&withdraw(1), Err(Error::StakeLocked));
    h.expect(&advance(TIMING.arbitration_period - 2), Ok(()));
    h.expect(&withdraw(1), Err(Error::StakeLocked));
    h.expect(&resolve(1, 1, Amt::Over(0)), Err(Error::SlashExceedsStake));
    // Past the period the dispute can no longer slash, nor hold the stake; anyone may dismiss it.
    h.expect(&advance(1), Ok(()));
    h.expect(&resolve(1, 1, Amt::Part(1)), Err(Error::DisputeExpired));
    h.expect(&withdraw(1), Ok(()));
    h.expect(&stranger(1, Amt::Zero), Ok(()));
    assert_eq!(h.store.disputes[&(1, PROVIDERS[1])].status, DisputeStatus::Dismissed);
    assert_eq!(h.model.value_out, 300 + 1_000);
    let r = h.store.reputations[&PROVIDERS[0]];
    assert_eq!((r.disputes_lost, r.slashed), (1, 700));
    assert_eq!(h.store.reputations.get(&PROVIDERS[1]).map_or(0, |r| r.disputes_lost), 0);
}

#[test]
fn only_the_arbiter_a_job_opened_with_resolves_its_disputes() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.open_accepted(vec![0], 1_000, 500, 0);
    // The owner makes the second arbiter the arbiter; job 1 keeps the first.
    h.change_settings(SettingsChange { arbiter: Some(1), ..SettingsChange::default() });
    h.open_accepted(vec![0], 1_000, 500, 0);
    h.expect(&dispute(1, 0), Ok(()));
    h.expect(&dispute(2, 0), Ok(()));
    let by = |job: u64, caller: usize| Op::Resolve {
        target: None,
        job: JobRef::Id(job),
        provider: provider(0),
        caller: Some(caller),
        slash: Amt::Part(10),
    };
    // ADMIN_CALLERS[2] and [3] are the first and second arbiters.
    h.expect(&by(1, 3), Err(Error::Unauthorized));
    h.expect(&by(2, 2), Err(Error::Unauthorized));
    h.expect(&by(1, 2), Ok(()));
    h.expect(&by(2, 3), Ok(()));
}

#[test]
fn superseded_replayed_and_forged_receipts_pay_nothing() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.expect(&stake(1, 1_000), Ok(()));
    h.open_accepted(vec![0, 1], 1_000, 500, 0);
    h.open_accepted(vec![0], 1_000, 500, 0);
    h.open_accepted(vec![0], 1_000, 500, 1);
    let r1 = h.receipt(1, 0, 100, 10, 1);
    let r3 = h.receipt(1, 0, 300, 30, 3);
    h.expect(&signed(&r1), Ok(()));
    h.expect(&signed(&r3), Ok(()));
    // Resubmitted, superseded or older receipts: refused by their amount, whatever their sequence.
    h.expect(&signed(&r1), Err(Error::CumulativeNotIncreasing));
    h.expect(&signed(&r3), Err(Error::CumulativeNotIncreasing));
    h.expect(&signed(&h.receipt(1, 0, 300, 40, 4)), Err(Error::CumulativeNotIncreasing));
    h.expect(&signed(&h.receipt(1, 0, 299, u128::MAX, u64::MAX)), Err(Error::CumulativeNotIncreasing));
    // A higher amount settles with a lower sequence, or fewer units: both are informational.
    h.expect(&signed(&h.receipt(1, 0, 320, 40, 2)), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 350, 29, 0)), Ok(()));
    assert_eq!((h.store.lanes()[&(1, PROVIDERS[0])].units, h.store.lanes()[&(1, PROVIDERS[0])].sequence), (29, 0));
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
    // The allocation bound, exactly: each provider draws on its own 500 of job 1's 1 000, whatever the
    // other was paid.
    h.expect(&signed(&h.receipt(1, 1, 501, 1, 1)), Err(Error::ExceedsAllocation));
    h.expect(&signed(&h.receipt(1, 1, 500, 1, 1)), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 501, 30, 5)), Err(Error::ExceedsAllocation));
    h.expect(&signed(&h.receipt(1, 0, 500, 30, 5)), Ok(()));
    let job = &h.store.jobs[&1];
    assert_eq!((job.released, job.deposit), (1_000, 1_000));
    h.expect(
        &Op::TopUp { job: JobRef::Id(1), caller: None, amount: 1, to: Some(Pick { on_job: true, idx: 0 }) },
        Ok(()),
    );
    h.expect(&signed(&h.receipt(1, 0, 501, 30, 5)), Ok(()));
    // Every receipt that was released once is refused afterwards.
    for pick in 0..h.model.settled.len() {
        assert!(h.apply(&Op::Replay { pick }).is_err());
    }
}

/// Attack 1 of "Money rules v2": the provider holds R (cumulative 600, sequence 10); the consumer signs
/// R2 (1, sequence `u64::MAX`, units `u128::MAX`) and releases it itself. R still settles in full.
#[test]
fn a_low_receipt_with_the_top_sequence_and_units_cannot_block_a_higher_one() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.open_accepted(vec![0], 1_000, 500, 0);
    let held = h.receipt(1, 0, 600, 60, 10);
    h.expect(&signed(&h.receipt(1, 0, 1, u128::MAX, u64::MAX)), Ok(()));
    h.expect(&signed(&held), Ok(()));
    let lane = h.store.lanes()[&(1, PROVIDERS[0])];
    assert_eq!((lane.amount, lane.units, lane.sequence, lane.fee), (600, 60, 10, 30));
    assert_eq!((h.balance(&PROVIDERS[0]), h.balance(&TREASURIES[0])), (570, 30));
    h.expect(&signed(&held), Err(Error::CumulativeNotIncreasing));
}

#[test]
fn completion_shortens_the_job_to_its_settle_grace() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.open_accepted(vec![0], 10_000, 500, 0);
    h.expect(&advance(10), Ok(()));
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: Some(2) }, Err(Error::Unauthorized));
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: None }, Ok(()));
    assert_eq!(h.store.jobs[&1].ends_at, h.model.now + TIMING.settle_grace);
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: None }, Err(Error::AlreadyCompleted));
    h.expect(
        &Op::TopUp { job: JobRef::Id(1), caller: None, amount: 5, to: Some(Pick { on_job: true, idx: 0 }) },
        Ok(()),
    );
    h.expect(&advance(TIMING.settle_grace - 1), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 10_005, 1, 1)), Ok(()));
    h.expect(&advance(1), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 10_005, 1, 2)), Err(Error::JobEnded));
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Ok(()));
    assert_eq!(h.balance(&CONSUMERS[0]), 0);
    h.expect(&Op::Complete { job: JobRef::Id(1), caller: None }, Err(Error::JobFinalized));
    // Completed shortly before its expiry, a job keeps its expiry as its end.
    h.open_accepted(vec![0], 100, 500, 0);
    h.expect(&advance(490), Ok(()));
    h.expect(&Op::Complete { job: JobRef::Id(2), caller: None }, Ok(()));
    let job = &h.store.jobs[&2];
    assert_eq!((job.ends_at, job.status), (job.expires_at, JobStatus::Completed));
}

#[test]
fn settings_and_ownership() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.open_accepted(vec![0], 10_000, 500, 0);
    let fee = |bps| SettingsChange { fee_bps: Some(bps), ..SettingsChange::default() };
    h.expect(&announce(None, fee(fee::MAX_FEE_BPS + 1)), Err(Error::FeeTooHigh));
    h.expect(&announce(None, fee(u16::MAX)), Err(Error::FeeTooHigh));
    h.expect(&announce(Some(1), fee(0)), Err(Error::Unauthorized));
    h.expect(&Op::Apply { caller: None }, Err(Error::SettingsNotDue));
    let change = SettingsChange { fee_bps: Some(fee::MAX_FEE_BPS), treasury: Some(1), ..SettingsChange::default() };
    h.expect(&announce(None, change), Ok(()));
    // Nothing changes before the admin delay has passed, not even one ms before.
    h.expect(&advance(TIMING.admin_delay - 1), Ok(()));
    h.expect(&Op::Apply { caller: None }, Err(Error::SettingsNotDue));
    h.open_accepted(vec![0], 10_000, 500, 0);
    h.expect(&advance(1), Ok(()));
    h.expect(&Op::Apply { caller: Some(2) }, Err(Error::Unauthorized));
    h.expect(&Op::Apply { caller: None }, Ok(()));
    h.expect(&Op::Apply { caller: None }, Err(Error::SettingsNotDue));
    h.open_accepted(vec![0], 10_000, 500, 0);
    // Job 2 keeps the 5 % it was opened with; job 3 pays 10 %; both to the treasury of the moment.
    h.expect(&signed(&h.receipt(2, 0, 1_000, 1, 1)), Ok(()));
    h.expect(&signed(&h.receipt(3, 0, 1_000, 1, 1)), Ok(()));
    assert_eq!((h.balance(&TREASURIES[0]), h.balance(&TREASURIES[1])), (0, 50 + 100));
    assert_eq!(h.balance(&PROVIDERS[0]), 950 + 900);
    // Rounding favours the provider step by step, and the cumulative fee stays exact.
    h.expect(&signed(&h.receipt(2, 0, 1_019, 1, 2)), Ok(()));
    h.expect(&signed(&h.receipt(2, 0, 1_020, 1, 3)), Ok(()));
    assert_eq!(h.store.lanes()[&(2, PROVIDERS[0])].fee, 51);
    assert_eq!(h.balance(&TREASURIES[1]), 151);
    // A later announcement replaces a pending one and restarts the delay.
    h.expect(&announce(None, SettingsChange { min_stake: Some(1), ..SettingsChange::default() }), Ok(()));
    h.expect(&advance(100), Ok(()));
    h.expect(&announce(None, SettingsChange { min_stake: Some(5_000), ..SettingsChange::default() }), Ok(()));
    h.expect(&advance(TIMING.admin_delay - 50), Ok(()));
    h.expect(&Op::Apply { caller: None }, Err(Error::SettingsNotDue));
    // Pausing takes effect at once and stops new jobs only.
    h.expect(&pause(Some(1), true), Err(Error::Unauthorized));
    h.expect(&pause(None, true), Ok(()));
    h.expect(&open_job(vec![0], 10_000, 500, 0), Err(Error::Paused));
    h.expect(
        &Op::TopUp { job: JobRef::Id(3), caller: None, amount: 5, to: Some(Pick { on_job: true, idx: 0 }) },
        Ok(()),
    );
    h.expect(&signed(&h.receipt(3, 0, 1_030, 1, 2)), Ok(()));
    h.expect(&pause(None, false), Ok(()));
    h.open_accepted(vec![0], 10_000, 500, 0);
    h.expect(&advance(50), Ok(()));
    h.expect(&Op::Apply { caller: None }, Ok(()));
    h.expect(&open_job(vec![0], 10_000, 500, 0), Ok(()));
    h.expect(&accept(h.model.next_job_id - 1, 0, Amt::All), Err(Error::InsufficientStake));
    // Ownership moves in two steps; a pending announcement survives it and only the new owner applies.
    h.expect(&announce(None, SettingsChange { min_stake: Some(0), ..SettingsChange::default() }), Ok(()));
    h.expect(&Op::Transfer { caller: Some(1), to: 1 }, Err(Error::Unauthorized));
    h.expect(&Op::Transfer { caller: None, to: 1 }, Ok(()));
    h.expect(&pause(Some(1), false), Err(Error::Unauthorized));
    h.expect(&Op::Accept { caller: 4 }, Err(Error::NoPendingOwner));
    h.expect(&Op::Accept { caller: 1 }, Ok(()));
    h.expect(&Op::Accept { caller: 1 }, Err(Error::NoPendingOwner));
    h.expect(&pause(Some(0), false), Err(Error::Unauthorized));
    h.expect(&pause(Some(1), false), Ok(()));
    h.expect(&advance(TIMING.admin_delay), Ok(()));
    h.expect(&Op::Apply { caller: Some(0) }, Err(Error::Unauthorized));
    h.expect(&Op::Apply { caller: Some(1) }, Ok(()));
    assert_eq!((h.store.config.owner, h.store.config.min_stake), (OWNERS[1], 0));
}

#[test]
fn treasury_may_be_a_provider_or_a_consumer() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    // Provider 0 as the treasury gets the whole step, its net and the fee.
    h.change_settings(SettingsChange { treasury: Some(2), ..SettingsChange::default() });
    h.open_accepted(vec![0], 10_000, 500, 0);
    h.expect(&signed(&h.receipt(1, 0, 1_000, 1, 1)), Ok(()));
    assert_eq!((h.balance(&PROVIDERS[0]), h.balance(&TREASURIES[0])), (1_000, 0));
    // Consumer 0 as the treasury gets the fee on top of its refund.
    h.change_settings(SettingsChange { treasury: Some(3), ..SettingsChange::default() });
    h.expect(&signed(&h.receipt(1, 0, 4_000, 1, 2)), Ok(()));
    h.expect(&advance(500), Ok(()));
    h.expect(&Op::Refund { job: JobRef::Id(1) }, Ok(()));
    assert_eq!(h.balance(&CONSUMERS[0]), 150 + 6_000);
    assert_eq!(h.balance(&PROVIDERS[0]), 1_000 + 2_850);
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
    h.change_settings(no_minimum);
    h.open_accepted(vec![0], u128::MAX - 1, 100, 0);
    h.expect(
        &Op::TopUp { job: JobRef::Id(1), caller: None, amount: 2, to: Some(Pick { on_job: true, idx: 0 }) },
        Err(Error::Overflow),
    );
    h.expect(
        &Op::TopUp { job: JobRef::Id(1), caller: None, amount: 1, to: Some(Pick { on_job: true, idx: 0 }) },
        Ok(()),
    );
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

#[test]
fn nothing_touches_a_provider_through_a_job_it_did_not_accept() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.expect(&stake(1, 1_000), Ok(()));
    // Attack 3: a stranger's 1-planck job with the longest expiry names provider 0. Nothing of the
    // provider's moves: no lock, no dispute, no payment.
    h.expect(&open_job(vec![0, 1], 1, TIMING.max_job_duration, 0), Ok(()));
    assert_eq!(h.store.stakes[&PROVIDERS[0]].locked_until, 0);
    h.expect(&dispute(1, 0), Err(Error::NotAccepted));
    h.expect(&signed(&h.receipt(1, 0, 1, 1, 1)), Err(Error::NotAccepted));
    h.expect(&Op::Unbond { p: 0, amount: Amt::All }, Ok(()));
    h.expect(&advance(TIMING.unbond_delay), Ok(()));
    h.expect(&withdraw(0), Ok(()));

    // Provider 1 accepts on its own terms, a slash cap of 0 (the job's share of what it holds, half of
    // 1 planck, would be 0 anyway); its stake is locked from now on.
    h.expect(&accept(1, 1, Amt::Zero), Ok(()));
    h.expect(&accept(1, 1, Amt::Zero), Err(Error::AlreadyAccepted));
    assert_eq!(h.store.jobs[&1].slots[1].max_slash, 0);
    assert_eq!(h.store.stakes[&PROVIDERS[1]].locked_until, h.store.jobs[&1].expires_at + TIMING.dispute_window);
    h.expect(&dispute(1, 1), Ok(()));
    h.expect(&resolve(1, 1, Amt::Part(1)), Err(Error::SlashExceedsBound));
    h.expect(&resolve(1, 1, Amt::Zero), Ok(()));

    // A second job: the consumer's front-run cannot lower what the provider accepts with.
    h.expect(&stake(2, 1_000), Ok(()));
    h.expect(&open_job(vec![2], 1_000, 500, 0), Ok(()));
    let terms =
        |min_funds| Op::AcceptJob { job: JobRef::Id(2), provider: provider(2), min_funds, max_slash: Amt::Part(300) };
    h.expect(&terms(Amt::Over(0)), Err(Error::TermsChanged));
    h.expect(
        &Op::AcceptJob { job: JobRef::Id(2), provider: provider(3), min_funds: Amt::Zero, max_slash: Amt::Zero },
        Err(Error::NotAProvider),
    );
    h.expect(
        &Op::AcceptJob { job: JobRef::Id(9), provider: provider(2), min_funds: Amt::Zero, max_slash: Amt::Zero },
        Err(Error::JobNotFound),
    );
    h.expect(&terms(Amt::All), Ok(()));
    // Its bound is its own cap (300), below half the 1 000 held.
    assert_eq!(h.store.jobs[&2].slots[0].max_slash, 300);
    h.expect(&dispute(2, 2), Ok(()));
    h.expect(&resolve(2, 2, Amt::Part(301)), Err(Error::SlashExceedsBound));
    h.expect(&resolve(2, 2, Amt::Part(300)), Ok(()));
    // An ended job takes no acceptance.
    h.expect(&stake(3, 1_000), Ok(()));
    h.expect(&open_job(vec![3], 1_000, 10, 0), Ok(()));
    h.expect(&advance(10), Ok(()));
    h.expect(&accept(3, 3, Amt::Zero), Err(Error::JobEnded));
    h.expect(&Op::Refund { job: JobRef::Id(3) }, Ok(()));
    h.expect(&accept(3, 3, Amt::Zero), Err(Error::JobFinalized));
}

/// Attack 2 of "Money rules v2", and the thaw that moves funds to a hot standby: job [P, Q], Q the
/// consumer's own staked account. Q's receipt for the whole deposit is refused (it draws only on its own
/// allocation); a thaw of P's allocation keeps it payable in full for a thaw period; what it frees then
/// goes to Q, net of what P was paid meanwhile.
#[test]
fn a_standby_draws_only_on_its_own_allocation_and_a_thaw_gives_notice() {
    let mut h = Harness::new();
    h.expect(&stake(0, 1_000), Ok(()));
    h.expect(&stake(1, 1_000), Ok(()));
    let open =
        Op::Open { consumer: 0, providers: vec![0, 1], allocs: vec![Amt::All], deposit: 1_000, duration: 500, key: 0 };
    h.expect(&open, Ok(()));
    for p in [0, 1] {
        h.expect(&accept(1, p, Amt::Zero), Ok(()));
    }
    h.expect(&signed(&h.receipt(1, 1, 1_000, 1, 1)), Err(Error::ExceedsAllocation));
    h.expect(&signed(&h.receipt(1, 1, 1, 1, 1)), Err(Error::ExceedsAllocation));
    h.expect(&signed(&h.receipt(1, 0, 400, 1, 1)), Ok(()));
    // The consumer thaws all of P's unpaid 600: P may still reach 1 000 until the thaw ends.
    let thaw = |amount| Op::Thaw { job: JobRef::Id(1), caller: None, provider: provider(0), amount };
    let allocate = |p, amount| Op::Allocate { job: JobRef::Id(1), caller: None, provider: provider(p), amount };
    h.expect(&thaw(Amt::Over(0)), Err(Error::InsufficientAllocation));
    h.expect(&thaw(Amt::All), Ok(()));
    h.expect(&thaw(Amt::Part(1)), Err(Error::ThawPending));
    h.expect(&allocate(1, Amt::Over(0)), Err(Error::InsufficientUnallocated));
    h.expect(&advance(TIMING.thaw_period - 1), Ok(()));
    h.expect(&signed(&h.receipt(1, 0, 700, 2, 2)), Ok(()));
    h.expect(&advance(1), Ok(()));
    // Ended: P keeps what it was paid (700), nothing more; the 300 it was not paid are free for Q.
    h.expect(&signed(&h.receipt(1, 0, 701, 3, 3)), Err(Error::ExceedsAllocation));
    h.expect(&allocate(1, Amt::Over(0)), Err(Error::InsufficientUnallocated));
    h.expect(&allocate(1, Amt::All), Ok(()));
    assert_eq!((h.store.jobs[&1].slots[0].allocation, h.store.jobs[&1].slots[1].allocation), (700, 300));
    h.expect(&signed(&h.receipt(1, 1, 300, 1, 1)), Ok(()));
    // A top-up straight to the standby raises its allocation at once.
    h.expect(&Op::TopUp { job: JobRef::Id(1), caller: None, amount: 50, to: Some(provider(1)) }, Ok(()));
    h.expect(&signed(&h.receipt(1, 1, 350, 2, 2)), Ok(()));
    // A provider that has not accepted can be thawed at once: nothing of it needs protecting.
    h.expect(&stake(2, 1_000), Ok(()));
    let open =
        Op::Open { consumer: 0, providers: vec![2], allocs: vec![Amt::All], deposit: 100, duration: 500, key: 0 };
    h.expect(&open, Ok(()));
    h.expect(&Op::Thaw { job: JobRef::Id(2), caller: None, provider: provider(2), amount: Amt::All }, Ok(()));
    assert_eq!(h.store.jobs[&2].slots[0].thaw.ends_at, h.model.now);
    let terms =
        Op::AcceptJob { job: JobRef::Id(2), provider: provider(2), min_funds: Amt::Over(0), max_slash: Amt::Zero };
    h.expect(&terms, Err(Error::TermsChanged));
}
