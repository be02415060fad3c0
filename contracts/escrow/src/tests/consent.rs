//! `accept_job` (G3): a provider's consent, on its own terms, and everything that needs it: releases,
//! disputes, slashes (at most the bound fixed at acceptance) and the stake lock.

use crate::escrow::JobAccepted;

use super::*;

/// Deploys, stakes the minimum for both providers and opens job 1 for both, which neither accepted.
fn opened() -> Escrow {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE);
    assert_eq!(open(&mut c, DEPOSIT), Ok(1));
    c
}

#[ink::test]
fn accept_job_records_the_consent_locks_the_stake_and_fixes_the_slash_bound() {
    let mut c = opened();
    at(NOW + 5);
    let count = event_count();
    call_as(provider());
    // The job's share (100 % of its allocation of 600) is above the provider's own cap of 300.
    assert_eq!(c.accept_job(1, P_ALLOCATION, 300), Ok(300));
    let lock = EXPIRES + TIMING.dispute_window;
    assert_eq!(
        c.job(1).unwrap().slots,
        vec![
            Slot { accepted_at: NOW + 5, max_slash: 300, allocation: P_ALLOCATION, ..Slot::default() },
            Slot { allocation: P2_ALLOCATION, ..Slot::default() },
        ]
    );
    assert_eq!(c.stake_of(provider()).locked_until, lock);
    assert_eq!(c.stake_of(provider2()).locked_until, 0, "the other provider's stake is untouched");
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let expected =
        JobAccepted { job_id: 1, provider: provider(), funds: P_ALLOCATION, max_slash: 300, locked_until: lock };
    assert_event(&new[0], &expected, &[job_topic(1), account_topic(provider())]);
    // Without a cap of its own the bound is the job's share of the provider's allocation.
    assert_eq!(accept(&mut c, provider2(), 1), Ok(P2_ALLOCATION));
    assert_solvent(&c);
}

#[ink::test]
fn nothing_is_released_disputed_or_locked_through_a_job_not_accepted() {
    // Attack 3: a stranger's job naming a staked provider locks nothing, and cannot be disputed.
    let mut c = opened();
    refused(&mut c, Error::NotAccepted, |c| release(c, receipt(1, provider(), 100, 1)));
    call_as(consumer());
    refused(&mut c, Error::NotAccepted, |c| c.dispute(1, provider(), REASON));
    call_as(provider());
    c.unbond(MIN_STAKE).unwrap();
    at(NOW + TIMING.unbond_delay);
    assert_eq!(c.withdraw(), Ok(MIN_STAKE));
    // Once accepted, the provider is paid by its receipts.
    assert_eq!(accept(&mut c, provider2(), 1), Ok(P2_ALLOCATION));
    assert_eq!(release(&mut c, receipt(1, provider2(), 100, 1)), Ok(Split { net: 95, fee: 5 }));
}

#[ink::test]
fn accept_job_refuses_what_it_must() {
    let mut c = opened();
    call_as(provider());
    refused(&mut c, Error::JobNotFound, |c| c.accept_job(2, 0, 0));
    call_as(stranger());
    refused(&mut c, Error::NotAProvider, |c| c.accept_job(1, 0, 0));
    // The provider's terms: its allocation must be what it expects (a front-run cannot lower it).
    call_as(provider());
    refused(&mut c, Error::TermsChanged, |c| c.accept_job(1, P_ALLOCATION + 1, 0));
    assert_eq!(c.accept_job(1, P_ALLOCATION, 0), Ok(0));
    refused(&mut c, Error::AlreadyAccepted, |c| c.accept_job(1, 0, 0));
    // Unbonding stake does not count towards the minimum.
    call_as(provider2());
    c.unbond(1).unwrap();
    refused(&mut c, Error::InsufficientStake, |c| c.accept_job(1, 0, 0));
    stake(&mut c, provider2(), 1);
    // An ended job, or a finalized one, takes no acceptance.
    at(EXPIRES);
    call_as(provider2());
    refused(&mut c, Error::JobEnded, |c| c.accept_job(1, 0, 0));
    call_as(stranger());
    c.refund(1).unwrap();
    call_as(provider2());
    refused(&mut c, Error::JobFinalized, |c| c.accept_job(1, 0, 0));
}

#[ink::test]
fn one_dispute_slashes_at_most_the_bound_accepted() {
    let mut c = opened();
    call_as(provider());
    assert_eq!(c.accept_job(1, 0, 250), Ok(250));
    call_as(consumer());
    c.dispute(1, provider(), REASON).unwrap();
    call_as(arbiter());
    refused(&mut c, Error::SlashExceedsBound, |c| c.resolve_dispute(1, provider(), 251));
    assert_eq!(c.resolve_dispute(1, provider(), 250), Ok(()));
    assert_eq!(c.stake_of(provider()).active, MIN_STAKE - 250);
    assert_solvent(&c);
}
