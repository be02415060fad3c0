//! The constructor, two-step ownership, `update_settings` (and what the new settings change) and the
//! views of unknown records.

use crate::escrow::{OwnershipTransferStarted, OwnershipTransferred, SettingsChanged};

use super::*;

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
    // The initial settings are announced, so an indexer knows the treasury from the first block.
    let initial = SettingsChanged {
        treasury: treasury(),
        arbiter: arbiter(),
        fee_bps: DEFAULT_FEE_BPS,
        min_stake: MIN_STAKE,
        paused: false,
    };
    let all = events();
    assert_eq!(all.len(), 1);
    assert_event(&all[0], &initial, &[]);
}

#[ink::test]
fn new_accepts_the_fee_cap_and_refuses_more() {
    test::set_callee::<Env>(contract());
    call_as(owner());
    let fee = |bps| Escrow::new(GENESIS, treasury(), arbiter(), bps, MIN_STAKE, TIMING).err();
    assert_eq!(fee(MAX_FEE_BPS + 1), Some(Error::FeeTooHigh));
    assert_eq!(fee(u16::MAX), Some(Error::FeeTooHigh));
    assert_eq!(event_count(), 0, "a refused constructor emits nothing");
    assert_eq!(fee(MAX_FEE_BPS), None);
    assert_eq!(fee(0), None);
    assert_eq!(event_count(), 2, "each accepted one announces its settings");
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
    assert_eq!(event_count(), 0);
    assert_eq!(timing(Timing { unbond_delay: TIMING.dispute_window + 1, ..TIMING }), None);
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
    assert_eq!(event_count(), 1, "views emit nothing; the one event is the constructor's");
}
