//! Per-provider allocations (G2): `open_job`'s split of the deposit, `allocate`, `thaw`, `top_up` to a
//! provider, the allocation bound on releases and on `accept_job`.

use super::*;

/// The consumer raises `who`'s allocation on job 1.
fn allocate(c: &mut Escrow, who: AccountId, amount: Balance) -> Result<Balance, Error> {
    call_as(consumer());
    c.allocate(1, who, amount)
}

/// The consumer starts a thaw of `who`'s allocation on job 1.
fn thaw(c: &mut Escrow, who: AccountId, amount: Balance) -> Result<Timestamp, Error> {
    call_as(consumer());
    c.thaw(1, who, amount)
}

/// Slot `i` of job 1.
fn slot(c: &Escrow, i: usize) -> Slot {
    c.job(1).expect("job 1").slots[i]
}

fn topics(provider: AccountId) -> [Vec<u8>; 3] {
    [job_topic(1), account_topic(consumer()), account_topic(provider)]
}

// ---------------------------------------------------------------- the allocation bound

/// Attack 2 of "Money rules v2": the consumer names P and its own staked account Q, then signs Q a
/// receipt for the whole deposit to drain the job before P is paid. Q draws on its own allocation only.
#[ink::test]
fn attack_2_a_receipt_for_the_whole_deposit_draws_only_on_its_providers_allocation() {
    let mut c = setup();
    let q = provider2();
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, q, DEPOSIT, 1)));
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, q, P2_ALLOCATION + 1, 1)));
    // Q takes all it may; P's allocation stays payable in full.
    assert!(release(&mut c, receipt(1, q, P2_ALLOCATION, 1)).is_ok());
    assert_eq!(release(&mut c, receipt(1, provider(), P_ALLOCATION, 1)), Ok(Split { net: 570, fee: 30 }));
    assert_eq!(c.lane(1, provider()).amount, P_ALLOCATION);
    assert_eq!(c.job(1).unwrap().released, DEPOSIT);
    assert_solvent(&c);
}

#[ink::test]
fn open_job_splits_the_deposit_and_refuses_allocations_above_it() {
    let mut c = deploy();
    // Allocated 300 and 200 of 800: 300 stays unallocated.
    pay_as(consumer(), 800);
    assert_eq!(open_job(&mut c, vec![(provider(), 300), (provider2(), 200)], EXPIRES), Ok(1));
    let job = c.job(1).unwrap();
    assert_eq!((job.slots[0].allocation, job.slots[1].allocation, job.unallocated), (300, 200, 300));
    assert_eq!(decode::<JobOpened>(&events()[event_count() - 1]).allocations, vec![300, 200]);
    // One more than the deposit; a sum that overflows.
    pay_as(consumer(), 800);
    refused(&mut c, Error::InsufficientUnallocated, |c| {
        open_job(c, vec![(provider(), 300), (provider2(), 501)], EXPIRES)
    });
    refused(&mut c, Error::Overflow, |c| open_job(c, vec![(provider(), u128::MAX), (provider2(), 1)], EXPIRES));
    // The checks before come first.
    refused(&mut c, Error::ExpiryInPast, |c| open_job(c, vec![(provider(), 801)], NOW));
}

// ---------------------------------------------------------------- allocate

#[ink::test]
fn allocate_raises_an_allocation_at_once_from_the_unallocated_funds() {
    let mut c = setup();
    pay_as(consumer(), 300);
    c.top_up(1, None).unwrap();
    let count = event_count();
    assert_eq!(allocate(&mut c, provider2(), 200), Ok(P2_ALLOCATION + 200));
    let job = c.job(1).unwrap();
    assert_eq!((job.slots[1].allocation, job.unallocated, job.deposit), (P2_ALLOCATION + 200, 100, DEPOSIT + 300));
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let expected = Allocated {
        job_id: 1,
        consumer: consumer(),
        provider: provider2(),
        amount: 200,
        allocation: P2_ALLOCATION + 200,
        unallocated: 100,
    };
    assert_event(&new[0], &expected, &topics(provider2()));
    // Payable in the same block.
    assert!(release(&mut c, receipt(1, provider2(), P2_ALLOCATION + 200, 1)).is_ok());
    refused(&mut c, Error::InsufficientUnallocated, |c| allocate(c, provider(), 101));
    assert_eq!(allocate(&mut c, provider(), 100), Ok(P_ALLOCATION + 100));
    assert_eq!(c.job(1).unwrap().unallocated, 0);
    assert_solvent(&c);
}

#[ink::test]
fn allocate_refuses_what_it_must() {
    let mut c = setup();
    pay_as(consumer(), 100);
    c.top_up(1, None).unwrap();
    refused(&mut c, Error::ZeroAmount, |c| allocate(c, provider(), 0));
    refused(&mut c, Error::InsufficientUnallocated, |c| allocate(c, provider(), 101));
    refused(&mut c, Error::NotAProvider, |c| allocate(c, stranger(), 1));
    call_as(consumer());
    refused(&mut c, Error::JobNotFound, |c| c.allocate(2, provider(), 1));
    for who in [provider(), owner(), stranger()] {
        call_as(who);
        refused(&mut c, Error::Unauthorized, |c| c.allocate(1, provider(), 1));
    }
    // Not once the job has ended, nor once finalized.
    at(EXPIRES);
    refused(&mut c, Error::JobEnded, |c| allocate(c, provider(), 1));
    call_as(stranger());
    c.refund(1).unwrap();
    refused(&mut c, Error::JobEnded, |c| allocate(c, provider(), 1));
}

// ---------------------------------------------------------------- top_up to a provider

#[ink::test]
fn top_up_to_a_provider_raises_its_allocation_at_once() {
    let mut c = setup();
    let count = event_count();
    pay_as(consumer(), 250);
    assert_eq!(c.top_up(1, Some(provider())), Ok(()));
    let job = c.job(1).unwrap();
    assert_eq!((job.deposit, job.slots[0].allocation, job.unallocated), (DEPOSIT + 250, P_ALLOCATION + 250, 0));
    let new = events_since(count);
    assert_eq!(new.len(), 2);
    let topped = ToppedUp { job_id: 1, consumer: consumer(), amount: 250, deposit: DEPOSIT + 250 };
    assert_event(&new[0], &topped, &[job_topic(1), account_topic(consumer())]);
    let allocated = Allocated {
        job_id: 1,
        consumer: consumer(),
        provider: provider(),
        amount: 250,
        allocation: P_ALLOCATION + 250,
        unallocated: 0,
    };
    assert_event(&new[1], &allocated, &topics(provider()));
    assert_eq!(release(&mut c, receipt(1, provider(), P_ALLOCATION + 250, 1)), Ok(Split { net: 808, fee: 42 }));
    assert_solvent(&c);

    // Only to one of the job's providers.
    pay_as(consumer(), 10);
    refused(&mut c, Error::NotAProvider, |c| c.top_up(1, Some(stranger())));
}

// ---------------------------------------------------------------- thaw

#[ink::test]
fn a_thaw_keeps_the_old_limit_until_it_ends_and_lowers_it_from_then_on() {
    let mut c = setup();
    at(NOW + 10);
    let ends_at = NOW + 10 + TIMING.thaw_period;
    let count = event_count();
    assert_eq!(thaw(&mut c, provider(), 200), Ok(ends_at));
    assert_eq!(thaw(&mut c, provider2(), 100), Ok(ends_at));
    assert_eq!(slot(&c, 0).thaw, Thaw { amount: 200, ends_at });
    assert_eq!(slot(&c, 0).allocation, P_ALLOCATION, "the allocation itself is unchanged");
    let new = events_since(count);
    assert_eq!(new.len(), 2);
    let expected = ThawStarted { job_id: 1, consumer: consumer(), provider: provider(), amount: 200, ends_at };
    assert_event(&new[0], &expected, &topics(provider()));

    // Until the end, the whole allocation is payable: 550 is above the lowered 400.
    at(ends_at - 1);
    assert!(release(&mut c, receipt(1, provider(), 550, 1)).is_ok());
    // From the end on, the limit is the allocation less the thaw, never below what was paid.
    at(ends_at);
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, provider(), 551, 2)));
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, provider2(), P2_ALLOCATION - 99, 1)));
    assert!(release(&mut c, receipt(1, provider2(), P2_ALLOCATION - 100, 1)).is_ok());
    assert_solvent(&c);
}

#[ink::test]
fn what_a_thaw_moves_back_nets_out_what_was_paid_during_it() {
    let mut c = setup();
    let ends_at = thaw(&mut c, provider(), 400).unwrap();
    // Nothing is unallocated before the thaw ends.
    refused(&mut c, Error::InsufficientUnallocated, |c| allocate(c, provider2(), 1));
    at(ends_at - 1);
    assert!(release(&mut c, receipt(1, provider(), 500, 1)).is_ok());
    // Lowered to 200, but 500 was paid: only 100 comes back.
    at(ends_at);
    refused(&mut c, Error::InsufficientUnallocated, |c| allocate(c, provider2(), 101));
    assert_eq!(allocate(&mut c, provider2(), 100), Ok(P2_ALLOCATION + 100));
    assert_eq!(slot(&c, 0), Slot { allocation: 500, thaw: Thaw::default(), ..slot(&c, 0) });
    assert_eq!(c.job(1).unwrap().unallocated, 0);
    // The folded thaw changed no limit: P stays at what it was paid, P2 takes its new allocation.
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, provider(), 501, 2)));
    assert!(release(&mut c, receipt(1, provider2(), P2_ALLOCATION + 100, 1)).is_ok());
    assert_eq!(c.job(1).unwrap().released, DEPOSIT);
    assert_solvent(&c);
}

#[ink::test]
fn a_thaw_of_a_provider_that_has_not_accepted_ends_at_once() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE);
    assert_eq!(open(&mut c, DEPOSIT), Ok(1));
    accept(&mut c, provider2(), 1).unwrap();
    at(NOW + 5);
    let count = event_count();
    assert_eq!(thaw(&mut c, provider(), P_ALLOCATION), Ok(NOW + 5));
    let expected =
        ThawStarted { job_id: 1, consumer: consumer(), provider: provider(), amount: P_ALLOCATION, ends_at: NOW + 5 };
    assert_event(&events_since(count)[0], &expected, &topics(provider()));
    // Moved back in the same block: the standby takes it over.
    assert_eq!(allocate(&mut c, provider2(), P_ALLOCATION), Ok(DEPOSIT));
    assert_eq!(slot(&c, 0).allocation, 0);
    assert!(release(&mut c, receipt(1, provider2(), DEPOSIT, 1)).is_ok());
    // P can no longer accept on the terms it was offered.
    call_as(provider());
    refused(&mut c, Error::TermsChanged, |c| c.accept_job(1, P_ALLOCATION, Balance::MAX));
}

#[ink::test]
fn thaw_refuses_what_it_must() {
    let mut c = setup();
    refused(&mut c, Error::ZeroAmount, |c| thaw(c, provider(), 0));
    refused(&mut c, Error::NotAProvider, |c| thaw(c, stranger(), 1));
    call_as(consumer());
    refused(&mut c, Error::JobNotFound, |c| c.thaw(2, provider(), 1));
    for who in [provider(), owner(), stranger()] {
        call_as(who);
        refused(&mut c, Error::Unauthorized, |c| c.thaw(1, provider(), 1));
    }
    // At most the allocation less what was paid.
    assert!(release(&mut c, receipt(1, provider(), 500, 1)).is_ok());
    refused(&mut c, Error::InsufficientAllocation, |c| thaw(c, provider(), 101));
    let ends_at = thaw(&mut c, provider(), 100).unwrap();
    // One thaw at a time per provider, until it ends (then it is folded in and another may start).
    refused(&mut c, Error::ThawPending, |c| thaw(c, provider(), 1));
    at(ends_at - 1);
    refused(&mut c, Error::ThawPending, |c| thaw(c, provider(), 1));
    assert!(thaw(&mut c, provider2(), 1).is_ok(), "another provider's thaw is its own");
    at(ends_at);
    refused(&mut c, Error::InsufficientAllocation, |c| thaw(c, provider(), 1));
    assert_eq!(slot(&c, 0).allocation, 600, "a refused call folds nothing");
    // Not once the job has ended, nor once finalized.
    at(EXPIRES);
    refused(&mut c, Error::JobEnded, |c| thaw(c, provider2(), 1));
    call_as(stranger());
    c.refund(1).unwrap();
    refused(&mut c, Error::JobEnded, |c| thaw(c, provider2(), 1));
}

// ---------------------------------------------------------------- accept_job

#[ink::test]
fn accept_job_weighs_the_providers_allocation_not_the_deposit() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE);
    change_settings(&mut c, SettingsChange { slash_bps: Some(2_500), ..keep() });
    // 800 allocated to P of a 2 000 deposit.
    pay_as(consumer(), 2_000);
    assert_eq!(open_job(&mut c, vec![(provider(), 800), (provider2(), 0)], EXPIRES), Ok(1));
    call_as(provider());
    refused(&mut c, Error::TermsChanged, |c| c.accept_job(1, 801, Balance::MAX));
    // The slash bound is the job's share (25 %) of the allocation.
    assert_eq!(c.accept_job(1, 800, Balance::MAX), Ok(200));
    assert_eq!(slot(&c, 0).max_slash, 200);
    // A provider with no allocation accepts only if it asks for nothing, and may be slashed nothing.
    call_as(provider2());
    refused(&mut c, Error::TermsChanged, |c| c.accept_job(1, 1, Balance::MAX));
    assert_eq!(c.accept_job(1, 0, Balance::MAX), Ok(0));
}
