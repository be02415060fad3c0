//! One job end to end, from deposit to every payout, with the events it records.

use super::*;

// ---------------------------------------------------------------- a whole job

#[ink::test]
fn a_whole_job_moves_every_unit_of_money_to_the_right_account() {
    let mut c = setup();
    pay_as(consumer(), 500);
    c.top_up(1, Some(provider2())).unwrap();
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
        (<Allocated as ink::env::Event>::SIGNATURE_TOPIC, 4),
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
