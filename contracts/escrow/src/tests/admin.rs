//! The constructor, two-step ownership, announced settings (`announce_settings`, `apply_settings`),
//! the pause, what new settings change (and what they do not: jobs keep their fee and arbiter) and the
//! views of unknown records.

use crate::escrow::{OwnershipTransferStarted, OwnershipTransferred, SettingsAnnounced, SettingsChanged};

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
            slash_bps: SLASH_BPS,
            paused: false,
            announced: None,
            timing: TIMING,
            domain: domain(),
            next_job_id: 1,
            fees: 0,
        }
    );
    // The initial settings are announced, so an indexer knows the treasury from the first block.
    let initial = SettingsChanged {
        treasury: treasury(),
        arbiter: arbiter(),
        fee_bps: DEFAULT_FEE_BPS,
        min_stake: MIN_STAKE,
        slash_bps: SLASH_BPS,
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
    let fee = |bps| Escrow::new(GENESIS, treasury(), arbiter(), bps, MIN_STAKE, SLASH_BPS, TIMING).err();
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
    let timing =
        |timing| Escrow::new(GENESIS, treasury(), arbiter(), DEFAULT_FEE_BPS, MIN_STAKE, SLASH_BPS, timing).err();
    let unbond_equals_window = Timing { unbond_delay: TIMING.dispute_window, ..TIMING };
    let unbond_shorter = Timing { unbond_delay: TIMING.dispute_window - 1, ..TIMING };
    let no_duration = Timing { max_job_duration: 0, ..TIMING };
    let leave = TIMING.dispute_window + TIMING.unbond_delay;
    let refused = [
        unbond_equals_window,
        unbond_shorter,
        no_duration,
        // A settle grace of 0, or any shorter than a thaw (completion thaws every allocation at once).
        Timing { settle_grace: 0, ..TIMING },
        Timing { settle_grace: TIMING.thaw_period - 1, ..TIMING },
        Timing { thaw_period: 0, settle_grace: 0, ..TIMING },
        // Settings must wait longer than a provider needs to leave.
        Timing { admin_delay: leave, ..TIMING },
        Timing { admin_delay: 0, ..TIMING },
        Timing { arbitration_period: 0, ..TIMING },
    ];
    for t in refused {
        assert_eq!(timing(t), Some(Error::InvalidConfig), "{t:?}");
    }
    assert_eq!(event_count(), 0);
    assert_eq!(timing(Timing { unbond_delay: TIMING.dispute_window + 1, admin_delay: leave, ..TIMING }), None);
    assert_eq!(timing(Timing { settle_grace: TIMING.thaw_period, admin_delay: leave + 1, ..TIMING }), None);
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
    assert_eq!(c.set_paused(false), Ok(()));

    call_as(stranger());
    assert_eq!(c.accept_ownership(), Ok(()));
    assert_eq!((c.config().owner, c.config().pending_owner), (stranger(), None));
    call_as(owner());
    refused(&mut c, Error::Unauthorized, |c| c.set_paused(false));
    call_as(stranger());
    assert_eq!(c.set_paused(false), Ok(()));

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

// ---------------------------------------------------------------- settings

#[ink::test]
fn settings_apply_only_as_announced_and_after_the_admin_delay() {
    let mut c = deploy();
    let count = event_count();
    call_as(owner());
    let all = SettingsChange {
        treasury: Some(stranger()),
        arbiter: Some(owner()),
        fee_bps: Some(MAX_FEE_BPS),
        min_stake: Some(5),
        slash_bps: Some(2_500),
    };
    let due = NOW + TIMING.admin_delay;
    assert_eq!(c.announce_settings(all), Ok(due));
    let announced = SettingsAnnounced {
        treasury: stranger(),
        arbiter: owner(),
        fee_bps: MAX_FEE_BPS,
        min_stake: 5,
        slash_bps: 2_500,
        effective_at: due,
    };
    assert_event(&events_since(count)[0], &announced, &[]);
    // Announced is not applied: nothing changes until the delay has passed, to the millisecond.
    let config = c.config();
    assert_eq!(
        (config.treasury, config.arbiter, config.fee_bps, config.min_stake),
        (treasury(), arbiter(), DEFAULT_FEE_BPS, MIN_STAKE)
    );
    at(due - 1);
    refused(&mut c, Error::SettingsNotDue, |c| c.apply_settings());
    at(due);
    for who in [treasury(), arbiter(), stranger()] {
        call_as(who);
        refused(&mut c, Error::Unauthorized, |c| c.apply_settings());
    }
    call_as(owner());
    assert_eq!(c.apply_settings(), Ok(()));
    let config = c.config();
    assert_eq!(
        (config.treasury, config.arbiter, config.fee_bps, config.min_stake, config.slash_bps, config.paused),
        (stranger(), owner(), MAX_FEE_BPS, 5, 2_500, false)
    );
    assert_eq!((config.owner, config.timing, config.domain, config.next_job_id), (owner(), TIMING, domain(), 1));
    assert_eq!(config.announced, None);
    let changed = SettingsChanged {
        treasury: stranger(),
        arbiter: owner(),
        fee_bps: MAX_FEE_BPS,
        min_stake: 5,
        slash_bps: 2_500,
        paused: false,
    };
    assert_event(&events_since(count)[1], &changed, &[]);
    // Applied once: nothing is pending any more.
    refused(&mut c, Error::SettingsNotDue, |c| c.apply_settings());
}

#[ink::test]
fn a_new_announcement_replaces_the_pending_one_and_restarts_the_delay() {
    let mut c = deploy();
    call_as(owner());
    c.announce_settings(SettingsChange { fee_bps: Some(0), ..keep() }).unwrap();
    at(NOW + 10);
    let due = c.announce_settings(SettingsChange { min_stake: Some(7), ..keep() }).unwrap();
    assert_eq!(due, NOW + 10 + TIMING.admin_delay);
    at(NOW + TIMING.admin_delay);
    refused(&mut c, Error::SettingsNotDue, |c| c.apply_settings());
    at(due);
    c.apply_settings().unwrap();
    // The replaced change is gone: the fee is as before.
    assert_eq!((c.config().fee_bps, c.config().min_stake), (DEFAULT_FEE_BPS, 7));
}

#[ink::test]
fn new_settings_take_effect_but_jobs_keep_their_arbiter() {
    let mut c = setup();
    change_settings(&mut c, SettingsChange { treasury: Some(stranger()), arbiter: Some(owner()), ..keep() });
    // Fees go to the new treasury.
    assert_eq!(release(&mut c, receipt(1, provider(), 100, 1)), Ok(Split { net: 95, fee: 5 }));
    assert_eq!((c.balance_of(stranger()), c.balance_of(treasury())), (5, 0));
    // Job 1 keeps the arbiter it opened with: the new one cannot slash through it (attack 4).
    pay_as(consumer(), DEPOSIT);
    assert_eq!(open_job(&mut c, vec![(provider(), DEPOSIT)], EXPIRES + TIMING.admin_delay), Ok(2));
    accept(&mut c, provider(), 2).unwrap();
    assert_eq!((c.job(1).unwrap().arbiter, c.job(2).unwrap().arbiter), (arbiter(), owner()));
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    c.dispute(2, provider(), REASON).unwrap();
    call_as(owner());
    refused(&mut c, Error::Unauthorized, |c| c.resolve_dispute(1, provider(), 100));
    call_as(arbiter());
    refused(&mut c, Error::Unauthorized, |c| c.resolve_dispute(2, provider(), 100));
    assert_eq!(c.resolve_dispute(1, provider(), 100), Ok(()));
    call_as(owner());
    assert_eq!(c.resolve_dispute(2, provider(), 100), Ok(()));
    // A higher minimum stake applies to acceptances from then on.
    change_settings(&mut c, SettingsChange { min_stake: Some(MIN_STAKE + 1), ..keep() });
    pay_as(consumer(), DEPOSIT);
    let later = c.config().timing.max_job_duration / 2 + ink::env::block_timestamp::<Env>();
    assert_eq!(open_job(&mut c, vec![(provider(), DEPOSIT)], later), Ok(3));
    call_as(provider());
    refused(&mut c, Error::InsufficientStake, |c| c.accept_job(3, 0, Balance::MAX));
}

#[ink::test]
fn pause_stops_only_new_jobs_and_switches_at_once() {
    let mut c = setup();
    let count = event_count();
    set_paused(&mut c, true);
    let paused = SettingsChanged {
        treasury: treasury(),
        arbiter: arbiter(),
        fee_bps: DEFAULT_FEE_BPS,
        min_stake: MIN_STAKE,
        slash_bps: SLASH_BPS,
        paused: true,
    };
    assert_event(&events_since(count)[0], &paused, &[]);
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::Paused, |c| open_job(c, vec![(provider(), DEPOSIT)], EXPIRES));
    pay_as(consumer(), 10);
    assert_eq!(c.top_up(1, None), Ok(()));
    assert!(release(&mut c, receipt(1, provider(), 100, 1)).is_ok());
    stake(&mut c, provider(), 1);
    call_as(consumer());
    assert!(c.complete(1).is_ok());
    at(NOW + TIMING.settle_grace);
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(DEPOSIT + 10 - 100));
    assert_eq!(claim(&mut c, consumer()), Ok(DEPOSIT + 10 - 100));
    set_paused(&mut c, false);
    assert_eq!(open(&mut c, DEPOSIT), Ok(2));
}

#[ink::test]
fn settings_messages_refuse_anyone_but_the_owner() {
    let mut c = deploy();
    for who in [treasury(), arbiter(), stranger()] {
        call_as(who);
        refused(&mut c, Error::Unauthorized, |c| c.announce_settings(SettingsChange { fee_bps: Some(0), ..keep() }));
        refused(&mut c, Error::Unauthorized, |c| c.set_paused(true));
    }
}

#[ink::test]
fn announce_settings_refuses_a_fee_above_the_cap_or_a_slash_share_above_all() {
    let mut c = deploy();
    call_as(owner());
    // Nothing of a refused change is announced, not even its valid parts.
    let change = SettingsChange { fee_bps: Some(MAX_FEE_BPS + 1), min_stake: Some(1), ..keep() };
    refused(&mut c, Error::FeeTooHigh, |c| c.announce_settings(change));
    let change = SettingsChange { slash_bps: Some(10_001), min_stake: Some(1), ..keep() };
    refused(&mut c, Error::InvalidConfig, |c| c.announce_settings(change));
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
