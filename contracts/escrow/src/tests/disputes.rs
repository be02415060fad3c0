//! `dispute` and `resolve_dispute`: opening, slashing, dismissing.

use settlement::DisputeStatus;

use super::*;

// ---------------------------------------------------------------- dispute

#[ink::test]
fn dispute_opens_a_pending_dispute_that_holds_the_stake() {
    let mut c = setup();
    at(NOW + 10);
    let count = event_count();
    call_as(consumer());
    let resolve_by = NOW + 10 + TIMING.arbitration_period;
    assert_eq!(c.dispute(1, provider(), REASON), Ok(resolve_by));
    let pending =
        Dispute { reason: REASON, opened_at: NOW + 10, resolve_by, status: DisputeStatus::Pending, slashed: 0 };
    assert_eq!(c.dispute_of(1, provider()), Some(pending));
    assert_eq!(c.dispute_of(1, provider2()), None);
    assert_eq!((c.stake_of(provider()).pending_disputes, c.stake_of(provider()).disputed_until), (1, resolve_by));
    assert_eq!(c.stake_of(provider2()).pending_disputes, 0);
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let expected = DisputeOpened { job_id: 1, consumer: consumer(), provider: provider(), reason: REASON, resolve_by };
    assert_event(&new[0], &expected, &[job_topic(1), account_topic(consumer()), account_topic(provider())]);

    // Disputes on two jobs count twice.
    assert_eq!(open_accepted(&mut c, DEPOSIT), Ok(2));
    call_as(consumer());
    assert!(c.dispute(2, provider(), REASON).is_ok());
    assert_eq!(c.stake_of(provider()).pending_disputes, 2);
}

#[ink::test]
fn dispute_is_open_for_one_window_after_the_job_ends() {
    let mut c = setup();
    call_as(consumer());
    let ends_at = c.complete(1).unwrap();
    at(ends_at + TIMING.dispute_window - 1);
    assert!(c.dispute(1, provider(), REASON).is_ok());
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
    let resolve_by = NOW + TIMING.arbitration_period;
    let upheld = Dispute { reason: REASON, opened_at: NOW, resolve_by, status: DisputeStatus::Upheld, slashed: 300 };
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
    // Allocations as large as the stakes: the bounds accepted are no obstacle here.
    let mut c = setup_with([MIN_STAKE, MIN_STAKE]);
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
    let resolve_by = NOW + TIMING.arbitration_period;
    let dismissed =
        Dispute { reason: REASON, opened_at: NOW, resolve_by, status: DisputeStatus::Dismissed, slashed: 0 };
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
    // A job allocating the provider twice its stake: its slash bound is above the stake.
    let mut c = setup_with([2 * MIN_STAKE, 0]);
    call_as(provider());
    c.unbond(400).unwrap();
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    call_as(arbiter());
    refused(&mut c, Error::SlashExceedsStake, |c| c.resolve_dispute(1, provider(), MIN_STAKE + 1));
    // Past the bound accepted (2 000), the bound speaks first.
    refused(&mut c, Error::SlashExceedsBound, |c| c.resolve_dispute(1, provider(), u128::MAX));
}

#[ink::test]
fn resolve_dispute_refuses_a_credit_that_would_overflow() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    fake_pay_as(consumer(), u128::MAX);
    assert_eq!(open_job(&mut c, vec![(provider(), u128::MAX)], EXPIRES), Ok(1));
    accept(&mut c, provider(), 1).unwrap();
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

#[ink::test]
fn past_its_arbitration_period_a_dispute_can_only_be_dismissed_by_anyone() {
    let mut c = setup();
    call_as(consumer());
    let resolve_by = c.dispute(1, provider(), REASON).unwrap();
    at(resolve_by - 1);
    call_as(stranger());
    refused(&mut c, Error::Unauthorized, |c| c.resolve_dispute(1, provider(), 0));
    at(resolve_by);
    for who in [arbiter(), owner(), stranger()] {
        call_as(who);
        refused(&mut c, Error::DisputeExpired, |c| c.resolve_dispute(1, provider(), 1));
    }
    call_as(stranger());
    assert_eq!(c.resolve_dispute(1, provider(), 0), Ok(()));
    assert_eq!(c.dispute_of(1, provider()).unwrap().status, DisputeStatus::Dismissed);
    assert_eq!((c.stake_of(provider()).active, c.stake_of(provider()).pending_disputes), (MIN_STAKE, 0));
}
