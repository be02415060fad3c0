//! Settling receipts: `release` (fee split, lanes, every refusal) and `release_many`.

use super::*;

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
    // The release touches no reputation record: the job counts once it is finalized.
    assert_eq!(c.reputation_of(provider()), (Reputation::default(), 1000));
    assert_solvent(&c);

    let new = events_since(count);
    assert_eq!(new.len(), 1);
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
    assert_eq!(c.reputation_of(provider()).0.volume, 0, "counted when the job is finalized");
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
    change_settings(&mut c, SettingsChange { fee_bps: Some(MAX_FEE_BPS), ..keep() });
    assert_eq!(open_accepted(&mut c, DEPOSIT), Ok(2));
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
fn release_refuses_a_replayed_or_superseded_receipt_by_its_cumulative_amount() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 2)).is_ok());
    // The same receipt again, and any receipt whose amount is not above the lane's, whatever its sequence.
    refused(&mut c, Error::CumulativeNotIncreasing, |c| release(c, receipt(1, provider(), 100, 2)));
    refused(&mut c, Error::CumulativeNotIncreasing, |c| release(c, receipt(1, provider(), 100, 3)));
    refused(&mut c, Error::CumulativeNotIncreasing, |c| release(c, receipt(1, provider(), 99, u64::MAX)));
    let mut lower = receipt(1, provider(), 50, 2);
    lower.units = 200;
    refused(&mut c, Error::CumulativeNotIncreasing, |c| release(c, lower));
    // A zero amount never increases.
    refused(&mut c, Error::CumulativeNotIncreasing, |c| release(c, receipt(1, provider2(), 0, 1)));
}

#[ink::test]
fn release_orders_by_cumulative_amount_not_by_sequence_or_units() {
    let mut c = setup();
    assert!(release(&mut c, receipt(1, provider(), 100, 2)).is_ok());
    // A higher amount with an equal or lower sequence, or fewer units, settles: both are informational.
    assert_eq!(release(&mut c, receipt(1, provider(), 200, 2)), Ok(Split { net: 95, fee: 5 }));
    assert_eq!(release(&mut c, receipt(1, provider(), 300, 1)), Ok(Split { net: 95, fee: 5 }));
    let mut fewer_units = receipt(1, provider(), 400, 1);
    fewer_units.units = 99;
    assert_eq!(release(&mut c, fewer_units), Ok(Split { net: 95, fee: 5 }));
    // Sequence 0 is as good as any.
    assert_eq!(release(&mut c, receipt(1, provider2(), 100, 0)), Ok(Split { net: 95, fee: 5 }));
    // The lane records the released receipt's units and sequence as they were.
    assert_eq!(c.lane(1, provider()), Lane { amount: 400, units: 99, sequence: 1, fee: 20 });
    assert_eq!(c.lane(1, provider2()), Lane { amount: 100, units: 100, sequence: 0, fee: 5 });
    assert_eq!(c.balance_of(provider()), 380);
    assert_solvent(&c);
}

/// Attack 1 of "Money rules v2": the provider holds receipt R (cumulative 600, sequence 10), not yet
/// released; the consumer signs R2 (cumulative 1 planck, sequence `u64::MAX`) and releases it itself. R
/// must still settle, to its full cumulative amount.
#[ink::test]
fn low_receipt_with_max_sequence_cannot_block_a_higher_one() {
    let mut c = setup();
    let held = signed(receipt(1, provider(), 600, 10));
    call_as(consumer());
    let (low, low_sig) = signed(receipt(1, provider(), 1, u64::MAX));
    assert_eq!(c.release(low, low_sig), Ok(Split { net: 1, fee: 0 }));
    assert_eq!(c.lane(1, provider()).sequence, u64::MAX);

    call_as(provider());
    assert_eq!(c.release(held.0.clone(), held.1), Ok(Split { net: 569, fee: 30 }));
    assert_eq!(c.lane(1, provider()), Lane { amount: 600, units: 600, sequence: 10, fee: 30 });
    assert_eq!(c.balance_of(provider()), 570);
    assert_eq!(c.balance_of(treasury()), 30);
    assert_eq!(c.job(1).unwrap().released, 600);
    // R itself is now spent: a replay is refused by its amount.
    refused(&mut c, Error::CumulativeNotIncreasing, |c| c.release(held.0, held.1));
    assert_solvent(&c);
}

/// The same with units: the consumer's low receipt carries `u128::MAX` units (and the top sequence).
#[ink::test]
fn low_receipt_with_max_units_cannot_block_a_higher_one() {
    let mut c = setup();
    let held = signed(receipt(1, provider(), 600, 10));
    let mut low = receipt(1, provider(), 1, u64::MAX);
    low.units = u128::MAX;
    call_as(consumer());
    let low_sig = sign(&low);
    assert_eq!(c.release(low, low_sig), Ok(Split { net: 1, fee: 0 }));
    assert_eq!(c.lane(1, provider()).units, u128::MAX);

    call_as(provider());
    assert_eq!(c.release(held.0, held.1), Ok(Split { net: 569, fee: 30 }));
    assert_eq!(c.lane(1, provider()), Lane { amount: 600, units: 600, sequence: 10, fee: 30 });
    assert_eq!(c.balance_of(provider()), 570);
    assert_solvent(&c);
}

#[ink::test]
fn release_refuses_more_than_the_providers_allocation() {
    let mut c = setup();
    // Each provider draws on its own allocation only, up to it inclusive, never on the deposit.
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, provider(), DEPOSIT + 1, 1)));
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, provider(), P_ALLOCATION + 1, 1)));
    assert!(release(&mut c, receipt(1, provider(), P_ALLOCATION, 1)).is_ok());
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, provider2(), P2_ALLOCATION + 1, 1)));
    refused(&mut c, Error::ExceedsAllocation, |c| release(c, receipt(1, provider(), P_ALLOCATION + 1, 2)));
    assert!(release(&mut c, receipt(1, provider2(), P2_ALLOCATION, 1)).is_ok());
    assert_eq!(c.job(1).unwrap().held(), 0);
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
fn release_refuses_a_credit_that_would_overflow() {
    let mut c = setup();
    // The provider's claimable balance reaches u128::MAX (as the consumer of a refunded job of its own).
    fake_pay_as(provider(), u128::MAX);
    assert_eq!(open_job(&mut c, vec![(stranger(), 0)], NOW + 1), Ok(2));
    at(NOW + 1);
    call_as(stranger());
    assert_eq!(c.refund(2), Ok(u128::MAX));
    refused(&mut c, Error::Overflow, |c| release(c, receipt(1, provider(), 100, 1)));
}

// ---------------------------------------------------------------- release_many

#[ink::test]
fn release_many_settles_each_receipt_on_its_own() {
    let mut c = setup();
    assert_eq!(open_accepted(&mut c, DEPOSIT), Ok(2));
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
            Err(Error::CumulativeNotIncreasing),
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
    // One Released per settled receipt, and nothing else (reputation counts a job when it is finalized).
    let new = events_since(count);
    assert_eq!(new.iter().map(|e| e.topics.len()).collect::<Vec<_>>(), vec![4, 4, 4]);
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
        signed(receipt(1, provider(), P_ALLOCATION + 1, 1)),
    ];
    call_as(stranger());
    let outcomes = c.release_many(batch).unwrap();
    let expected =
        vec![Err(Error::WrongChain), Err(Error::JobNotFound), Err(Error::NotAProvider), Err(Error::ExceedsAllocation)];
    assert_eq!(outcomes, expected);
    assert_unchanged(&before, &snapshot(&c), "a batch of refused receipts");

    assert_eq!(c.release_many(vec![]), Ok(vec![]));
    assert_unchanged(&before, &snapshot(&c), "an empty batch");
}

// ---------------------------------------------------------------- regression: late overflow

/// Regression test. `release` once credited the provider before checking the treasury's credit: when
/// that overflowed, `release_many` (which commits with each receipt's `Err` inside) kept an unbacked
/// provider credit. Every sum is now formed before the first write (the treasury's fees accrue in the
/// configuration), so a refused receipt leaves nothing behind. Only reachable with claimable balances
/// near `u128::MAX`.
#[ink::test]
fn release_many_keeps_nothing_of_a_receipt_whose_credit_overflows() {
    let mut c = deploy();
    stake(&mut c, provider(), MIN_STAKE);
    // The provider's claimable balance reaches u128::MAX: it is also the consumer of a refunded job.
    fake_pay_as(provider(), u128::MAX);
    assert_eq!(open_job(&mut c, vec![(provider2(), 0)], NOW + 1), Ok(1));
    fake_pay_as(consumer(), DEPOSIT);
    assert_eq!(open_job(&mut c, vec![(provider(), DEPOSIT)], EXPIRES), Ok(2));
    accept(&mut c, provider(), 2).unwrap();
    at(NOW + 1);
    call_as(stranger());
    assert_eq!(c.refund(1), Ok(u128::MAX));

    let before = snapshot(&c);
    call_as(stranger());
    let outcomes = c.release_many(vec![signed(receipt(2, provider(), 100, 1))]).unwrap();
    assert_eq!(outcomes, vec![Err(Error::Overflow)]);
    assert_unchanged(&before, &snapshot(&c), "a receipt refused inside release_many");
}
