//! Provider stakes: `stake`, `unbond` and `withdraw`.

use super::*;

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
fn withdraw_refuses_while_a_dispute_is_pending_within_its_arbitration_period() {
    let mut c = setup();
    call_as(provider());
    c.unbond(MIN_STAKE).unwrap();
    // Disputed at the last moment of the window: the dispute outlasts the job lock and the unbonding.
    let lock = EXPIRES + TIMING.dispute_window;
    at(lock - 1);
    call_as(consumer());
    let resolve_by = c.dispute(1, provider(), REASON).unwrap();
    assert_eq!(c.stake_of(provider()).disputed_until, resolve_by);
    call_as(provider());
    at(lock);
    refused(&mut c, Error::StakeLocked, |c| c.withdraw());
    at(resolve_by - 1);
    refused(&mut c, Error::StakeLocked, |c| c.withdraw());
    call_as(arbiter());
    c.resolve_dispute(1, provider(), 0).unwrap();
    call_as(provider());
    assert_eq!(c.withdraw(), Ok(MIN_STAKE));
}

#[ink::test]
fn a_dispute_no_one_resolved_stops_holding_the_stake_at_its_resolve_by() {
    let mut c = setup();
    call_as(provider());
    c.unbond(MIN_STAKE).unwrap();
    at(EXPIRES + TIMING.dispute_window - 1);
    call_as(consumer());
    let resolve_by = c.dispute(1, provider(), REASON).unwrap();
    call_as(provider());
    at(resolve_by - 1);
    refused(&mut c, Error::StakeLocked, |c| c.withdraw());
    at(resolve_by);
    assert_eq!(c.withdraw(), Ok(MIN_STAKE));
    // Still pending, but it can no longer slash.
    assert_eq!(c.stake_of(provider()).pending_disputes, 1);
    call_as(arbiter());
    refused(&mut c, Error::DisputeExpired, |c| c.resolve_dispute(1, provider(), 1));
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
