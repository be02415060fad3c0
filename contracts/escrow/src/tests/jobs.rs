//! A job's own lifecycle: `open_job`, `top_up`, `complete` and `refund`.

use super::*;

// ---------------------------------------------------------------- open_job

#[ink::test]
fn open_job_escrows_the_deposit_and_touches_nothing_of_the_providers() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE);
    let count = event_count();
    assert_eq!(open(&mut c, DEPOSIT), Ok(1));

    let job = Job {
        consumer: consumer(),
        providers: vec![provider(), provider2()],
        slots: vec![
            Slot { allocation: P_ALLOCATION, ..Slot::default() },
            Slot { allocation: P2_ALLOCATION, ..Slot::default() },
        ],
        payer_key: payer_key(),
        arbiter: arbiter(),
        terms_hash: TERMS,
        fee_bps: DEFAULT_FEE_BPS,
        slash_bps: SLASH_BPS,
        deposit: DEPOSIT,
        unallocated: 0,
        released: 0,
        opened_at: NOW,
        expires_at: EXPIRES,
        ends_at: EXPIRES,
        status: JobStatus::Open,
    };
    assert_eq!(c.job(1), Some(job));
    assert_eq!(c.config().next_job_id, 2);
    // Naming a provider locks nothing of its (G3): only its own `accept_job` does.
    for p in [provider(), provider2()] {
        assert_eq!(c.stake_of(p), Stake { active: MIN_STAKE, ..Stake::default() });
    }
    assert_eq!(native(consumer()), FUNDS - DEPOSIT);
    assert_solvent(&c);

    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let expected = JobOpened {
        job_id: 1,
        consumer: consumer(),
        providers: vec![provider(), provider2()],
        allocations: vec![P_ALLOCATION, P2_ALLOCATION],
        deposit: DEPOSIT,
        payer_key: payer_key(),
        terms_hash: TERMS,
        fee_bps: DEFAULT_FEE_BPS,
        slash_bps: SLASH_BPS,
        arbiter: arbiter(),
        expires_at: EXPIRES,
    };
    assert_event(&new[0], &expected, &[job_topic(1), account_topic(consumer())]);

    // Ids count up; a provider without stake may be named (it could not accept). What is allocated to
    // no provider stays unallocated.
    pay_as(consumer(), 10);
    assert_eq!(open_job(&mut c, vec![(stranger(), 3)], NOW + 1), Ok(2));
    assert_eq!(c.config().next_job_id, 3);
    let job = c.job(2).unwrap();
    assert_eq!((job.deposit, job.slots[0].allocation, job.unallocated), (10, 3, 7));
    assert_solvent(&c);
}

#[ink::test]
fn open_job_accepts_the_limits() {
    let mut c = deploy();
    let four = vec![(provider(), 1), (provider2(), 0), (treasury(), 2), (arbiter(), 0)];
    for &(p, _) in &four {
        stake(&mut c, p, MIN_STAKE);
    }
    pay_as(consumer(), 3);
    assert_eq!(open_job(&mut c, four, NOW + TIMING.max_job_duration), Ok(1));
    pay_as(consumer(), 1);
    assert_eq!(open_job(&mut c, vec![(provider(), 1)], NOW + 1), Ok(2));
    assert_eq!(c.job(1).unwrap().providers.len(), settlement::MAX_PROVIDERS);
    assert_eq!(c.job(1).unwrap().unallocated, 0, "the whole deposit allocated");
}

#[ink::test]
fn open_job_refused_while_paused() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    call_as(owner());
    set_paused(&mut c, true);
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::Paused, |c| open_job(c, vec![(provider(), DEPOSIT)], EXPIRES));
}

#[ink::test]
fn open_job_refuses_a_zero_deposit() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    pay_as(consumer(), 0);
    refused(&mut c, Error::ZeroAmount, |c| open_job(c, vec![(provider(), 0)], EXPIRES));
}

#[ink::test]
fn open_job_refuses_invalid_provider_lists() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    stake(&mut c, provider2(), MIN_STAKE);
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::InvalidProviders, |c| open_job(c, vec![], EXPIRES));
    let duplicate = vec![(provider(), 0), (provider2(), 0), (provider(), 0)];
    refused(&mut c, Error::InvalidProviders, |c| open_job(c, duplicate, EXPIRES));
    let five = [provider(), provider2(), treasury(), arbiter(), stranger()].map(|p| (p, 0)).to_vec();
    refused(&mut c, Error::InvalidProviders, |c| open_job(c, five, EXPIRES));
}

#[ink::test]
fn open_job_refuses_an_expiry_not_in_the_future() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    pay_as(consumer(), DEPOSIT);
    refused(&mut c, Error::ExpiryInPast, |c| open_job(c, vec![(provider(), DEPOSIT)], NOW));
    refused(&mut c, Error::ExpiryInPast, |c| open_job(c, vec![(provider(), DEPOSIT)], NOW - 1));
}

#[ink::test]
fn open_job_refuses_an_expiry_beyond_the_maximum_duration() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    pay_as(consumer(), DEPOSIT);
    let too_far = NOW + TIMING.max_job_duration + 1;
    refused(&mut c, Error::ExpiryTooFar, |c| open_job(c, vec![(provider(), DEPOSIT)], too_far));
}

// ---------------------------------------------------------------- top_up

#[ink::test]
fn top_up_adds_to_the_deposit() {
    let mut c = setup();
    let count = event_count();
    pay_as(consumer(), 250);
    assert_eq!(c.top_up(1, None), Ok(()));
    let job = c.job(1).unwrap();
    assert_eq!((job.deposit, job.unallocated), (DEPOSIT + 250, 250));
    assert_eq!(job.slots.iter().map(|s| s.allocation).collect::<Vec<_>>(), vec![P_ALLOCATION, P2_ALLOCATION]);
    let new = events_since(count);
    assert_eq!(new.len(), 1);
    let expected = ToppedUp { job_id: 1, consumer: consumer(), amount: 250, deposit: DEPOSIT + 250 };
    assert_event(&new[0], &expected, &[job_topic(1), account_topic(consumer())]);
    assert_solvent(&c);

    // The new funds can be released once allocated.
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, provider(), P_ALLOCATION + 250, 1)));
    call_as(consumer());
    assert_eq!(c.allocate(1, provider(), 250), Ok(P_ALLOCATION + 250));
    assert_eq!(release(&mut c, receipt(1, provider(), P_ALLOCATION + 250, 1)), Ok(Split { net: 808, fee: 42 }));
}

#[ink::test]
fn top_up_refuses_zero() {
    let mut c = setup();
    pay_as(consumer(), 0);
    refused(&mut c, Error::ZeroAmount, |c| c.top_up(1, None));
    refused(&mut c, Error::ZeroAmount, |c| c.top_up(1, Some(provider())));
}

#[ink::test]
fn top_up_refuses_an_unknown_job() {
    let mut c = setup();
    pay_as(consumer(), 10);
    refused(&mut c, Error::JobNotFound, |c| c.top_up(2, None));
    refused(&mut c, Error::JobNotFound, |c| c.top_up(2, Some(provider())));
}

#[ink::test]
fn top_up_refuses_anyone_but_the_consumer() {
    let mut c = setup();
    pay_as(provider(), 10);
    refused(&mut c, Error::Unauthorized, |c| c.top_up(1, None));
    refused(&mut c, Error::Unauthorized, |c| c.top_up(1, Some(provider())));
}

#[ink::test]
fn top_up_refuses_an_ended_job() {
    let mut c = setup();
    at(EXPIRES);
    pay_as(consumer(), 10);
    refused(&mut c, Error::JobEnded, |c| c.top_up(1, None));
    refused(&mut c, Error::JobEnded, |c| c.top_up(1, Some(provider())));
    call_as(stranger());
    c.refund(1).unwrap();
    pay_as(consumer(), 10);
    refused(&mut c, Error::JobEnded, |c| c.top_up(1, None));
    refused(&mut c, Error::JobEnded, |c| c.top_up(1, Some(provider())));
}

#[ink::test]
fn top_up_refuses_a_deposit_that_would_overflow() {
    let mut c = setup();
    fake_pay_as(consumer(), u128::MAX);
    assert_eq!(open_job(&mut c, vec![(provider(), 0)], EXPIRES), Ok(2));
    fake_pay_as(consumer(), 1);
    refused(&mut c, Error::Overflow, |c| c.top_up(2, None));
    refused(&mut c, Error::Overflow, |c| c.top_up(2, Some(provider())));
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
    assert_eq!(c.top_up(1, None), Ok(()));
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
    assert!(release(&mut c, receipt(1, provider(), P_ALLOCATION, 1)).is_ok());
    assert!(release(&mut c, receipt(1, provider2(), P2_ALLOCATION, 1)).is_ok());
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
    assert_eq!(open_job(&mut c, vec![(provider(), u128::MAX)], EXPIRES), Ok(1));
    fake_pay_as(consumer(), 1);
    assert_eq!(open_job(&mut c, vec![(provider(), 1)], EXPIRES), Ok(2));
    at(EXPIRES);
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(u128::MAX));
    refused(&mut c, Error::Overflow, |c| c.refund(2));
}
