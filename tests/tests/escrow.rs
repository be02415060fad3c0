//! The escrow on a real `substrate-contracts-node --dev`, deployed from its release bundle:
//! (a) the happy path, (b) every bad receipt refused, (c) disputes and slashing, (d) refund after
//! expiry, (e) a hot-standby provider paid by its own receipts; and the attacks of "Money rules v2"
//! replayed (attack 1: a low receipt with the top sequence and units cannot block a higher one; attack
//! 4: the owner cannot make itself arbiter and slash a provider's stake).
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::cast_possible_wrap)]

use escrow_client::{account_of, AccountId, Error, Keypair};
use settlement::{fee, Domain, Event, JobStatus, OpenJob};
use testkit::*;

/// What a signer's native balance changed by for a submitted message: `gain` from the contract, less
/// the transaction fee and the storage deposit paid (or plus the deposit refunded).
fn native_delta<T>(gain: u128, s: &escrow_client::Submitted<T>) -> i128 {
    gain as i128 - s.fee_paid as i128 - s.storage_deposit
}

/// Funds a provider and stakes the minimum.
async fn staked_provider(m: &Market, uri: &str) -> TestResult<Keypair> {
    let p = funded(m.escrow.chain(), uri, 1_000 * UNIT).await?;
    m.escrow.stake(&p, m.min_stake).await?;
    Ok(p)
}

/// A job naming `providers`, each allocated `each`.
fn job_request(providers: &[&Keypair], each: u128, payer_seed: u8, lasts_ms: u64) -> OpenJob<AccountId> {
    OpenJob {
        providers: providers.iter().map(|p| (account_of(p), each)).collect(),
        payer_key: payer(payer_seed).verifying_key().to_bytes(),
        terms_hash: [0xAB; 32],
        expires_at: now_ms() + lasts_ms,
    }
}

fn escrow_error<T: std::fmt::Debug>(r: Result<T, Error>) -> settlement::Error {
    match r {
        Err(Error::Escrow(e)) => e,
        other => panic!("expected an escrow error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_job_streams_receipts_settles_once_and_everyone_is_paid() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let provider = staked_provider(&m, "//ProviderA").await?;
    let consumer = funded(&chain, "//ConsumerA", 10_000 * UNIT).await?;
    let deposit = 1_000 * UNIT;

    let opened = m.escrow.open_job(&consumer, deposit, &job_request(&[&provider], deposit, 1, 600_000)).await?;
    let job = opened.value;
    accept_all(&m, job, &[&provider]).await?;
    assert!(matches!(opened.events[0], Event::JobOpened { job_id, deposit: d, .. } if job_id == job && d == deposit));

    // Ten streamed receipts, cumulative; only the newest is released.
    let key = payer(1);
    let receipts: Vec<_> = (1..=10u64)
        .map(|seq| signed_receipt(&m, &key, job, account_of(&provider), u128::from(seq) * 40 * UNIT, seq))
        .collect();
    let (last, sig) = receipts.last().unwrap();
    let released = m.escrow.release(&m.owner, last, sig).await?; // anyone may submit
    let gross = 400 * UNIT;
    assert_eq!(released.value, fee::split(gross, 500));
    assert_eq!(released.value.net, 380 * UNIT);
    assert_eq!(released.value.fee, 20 * UNIT);
    assert!(released.events.iter().any(|e| matches!(e,
        Event::Released { amount, fee, net, sequence: 10, .. } if *amount == gross && *fee == 20 * UNIT && *net == 380 * UNIT)));
    // An older receipt of the stream can no longer pay: its cumulative amount is below the lane's.
    let (old, old_sig) = &receipts[4];
    assert_eq!(
        escrow_error(m.escrow.release(&m.owner, old, old_sig).await),
        settlement::Error::CumulativeNotIncreasing
    );

    // Provider and treasury pull their shares; the native balances move by exactly that, less the fee.
    for (who, share) in [(&provider, 380 * UNIT), (&m.treasury, 20 * UNIT)] {
        assert_eq!(m.escrow.balance_of(account_of(who)).await?, share);
        let before = chain.free_balance(account_of(who)).await?;
        let claimed = m.escrow.claim(who).await?;
        assert_eq!(claimed.value, share);
        assert_eq!(chain.free_balance(account_of(who)).await? as i128, before as i128 + native_delta(share, &claimed));
        assert_eq!(m.escrow.balance_of(account_of(who)).await?, 0);
    }

    // The consumer completes; after the settle grace the remainder is refunded and claimed.
    let completed = m.escrow.complete(&consumer, job).await?;
    // The committed call ran in a later block than its dry-run: the event has the real end.
    let ends_at = match completed.events[..] {
        [Event::JobCompleted { ends_at, .. }] => ends_at,
        ref other => panic!("expected JobCompleted, got {other:?}"),
    };
    assert_eq!(
        escrow_error(m.escrow.refund(&consumer, job).await),
        settlement::Error::JobNotEnded,
        "no refund during the settle grace"
    );
    wait_until(&chain, ends_at).await?;
    let refunded = m.escrow.refund(&m.owner, job).await?;
    assert_eq!(refunded.value, deposit - gross);
    let before = chain.free_balance(account_of(&consumer)).await?;
    let claimed = m.escrow.claim(&consumer).await?;
    assert_eq!(claimed.value, deposit - gross);
    assert_eq!(
        chain.free_balance(account_of(&consumer)).await? as i128,
        before as i128 + native_delta(deposit - gross, &claimed)
    );

    let state = m.escrow.job(job).await?.unwrap();
    assert_eq!((state.status, state.released), (JobStatus::Finalized, gross));
    let (reputation, _) = m.escrow.reputation_of(account_of(&provider)).await?;
    assert_eq!((reputation.jobs_completed, reputation.volume), (1, gross));
    Ok(())
}

#[tokio::test]
async fn b_bad_receipts_are_refused_each_with_its_own_error_and_move_nothing() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let provider = staked_provider(&m, "//ProviderB").await?;
    let other_provider = staked_provider(&m, "//ProviderB2").await?;
    let consumer = funded(&chain, "//ConsumerB", 10_000 * UNIT).await?;
    let job = m.escrow.open_job(&consumer, 100 * UNIT, &job_request(&[&provider], 100 * UNIT, 2, 600_000)).await?.value;
    accept_all(&m, job, &[&provider]).await?;
    // A second job of the same consumer and payer key, for another provider.
    let other_job =
        m.escrow.open_job(&consumer, 100 * UNIT, &job_request(&[&other_provider], 100 * UNIT, 2, 600_000)).await?.value;
    accept_all(&m, other_job, &[&other_provider]).await?;
    let key = payer(2);
    let p = account_of(&provider);

    // One good release first, so that replays and lower cumulatives have something to collide with.
    let (good, good_sig) = signed_receipt(&m, &key, job, p, 10 * UNIT, 5);
    m.escrow.release(&m.owner, &good, &good_sig).await?;

    let mut cases = Vec::new();
    let (r, mut sig) = signed_receipt(&m, &key, job, p, 20 * UNIT, 6);
    sig[10] ^= 0x40;
    cases.push(("forged signature", r, sig, settlement::Error::BadSignature));
    let (r, _) = signed_receipt(&m, &key, job, p, 20 * UNIT, 6);
    cases.push(("signed by another key", r.clone(), r.sign(&payer(99)), settlement::Error::BadSignature));
    let (r, sig) = signed_receipt(&m, &key, other_job, p, 20 * UNIT, 6);
    cases.push(("another job (provider not on it)", r, sig, settlement::Error::NotAProvider));
    let (r, sig) = signed_receipt(&m, &key, 999, p, 20 * UNIT, 6);
    cases.push(("a job that does not exist", r, sig, settlement::Error::JobNotFound));
    let (mut r, _) = signed_receipt(&m, &key, job, p, 20 * UNIT, 6);
    r.domain = Domain { contract: [7; 32], ..r.domain };
    cases.push(("another contract", r.clone(), r.sign(&key), settlement::Error::WrongContract));
    r.domain = Domain { genesis_hash: [8; 32], contract: m.escrow.address() };
    cases.push(("another chain", r.clone(), r.sign(&key), settlement::Error::WrongChain));
    let (r, sig) = signed_receipt(&m, &key, job, p, 9 * UNIT, 6);
    cases.push(("lower cumulative", r, sig, settlement::Error::CumulativeNotIncreasing));
    let (mut r, _) = signed_receipt(&m, &key, job, p, 20 * UNIT, 6);
    r.expires_at = now_ms() - 1_000;
    cases.push(("expired", r.clone(), r.sign(&key), settlement::Error::ReceiptExpired));
    // Receipts are ordered by cumulative amount only: a replay, or the settled amount again with a
    // higher sequence, or a lower one with the top sequence and units, is refused for its amount.
    cases.push(("replayed", good.clone(), good_sig, settlement::Error::CumulativeNotIncreasing));
    let (r, sig) = signed_receipt(&m, &key, job, p, 10 * UNIT, 7);
    cases.push(("settled amount, higher sequence", r, sig, settlement::Error::CumulativeNotIncreasing));
    let (mut r, _) = signed_receipt(&m, &key, job, p, 10 * UNIT - 1, u64::MAX);
    r.units = u128::MAX;
    cases.push((
        "lower amount, top sequence and units",
        r.clone(),
        r.sign(&key),
        settlement::Error::CumulativeNotIncreasing,
    ));
    let (r, sig) = signed_receipt(&m, &key, job, p, 101 * UNIT, 6);
    cases.push(("over its allocation", r, sig, settlement::Error::ExceedsAllocation));

    let snapshot = || async {
        let e = &m.escrow;
        let balances = (
            e.balance_of(p).await?,
            e.balance_of(account_of(&m.treasury)).await?,
            chain.free_balance(e.address()).await?,
        );
        Ok::<_, escrow_client::Error>((balances, e.job(job).await?, e.lane(job, p).await?))
    };
    let before = snapshot().await?;
    for (what, receipt, signature, expected) in cases {
        // The dry-run names the error ...
        let refused = m.escrow.release(&m.owner, &receipt, &signature).await;
        assert_eq!(escrow_error(refused), expected, "{what}");
        // ... and the chain itself refuses the transaction when it is submitted anyway.
        let submitted = m.escrow.exec_unchecked(&m.owner, 0, "release", (&receipt, &signature)).await;
        assert!(submitted.is_err(), "{what}: the extrinsic must fail on chain");
    }
    assert_eq!(snapshot().await?, before, "no balance, job or lane moved");
    Ok(())
}

#[tokio::test]
async fn c_dispute_slashes_stake_lowers_reputation_and_unbonding_cannot_escape() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let provider = staked_provider(&m, "//ProviderC").await?;
    let consumer = funded(&chain, "//ConsumerC", 10_000 * UNIT).await?;
    let p = account_of(&provider);
    // Twice the stake escrowed: the provider's slash bound on the job (all of it) is above its stake.
    let job = m
        .escrow
        .open_job(&consumer, 2 * m.min_stake, &job_request(&[&provider], 2 * m.min_stake, 3, 3_000))
        .await?
        .value;
    accept_all(&m, job, &[&provider]).await?;

    m.escrow.dispute(&consumer, job, p, [0xEE; 32]).await?;
    // The provider tries to leave with its stake.
    m.escrow.unbond(&provider, m.min_stake).await?;
    let stake = m.escrow.stake_of(p).await?;
    let unlock_at = stake.unlock_at;
    assert_eq!((stake.active, stake.unbonding, stake.pending_disputes), (0, m.min_stake, 1));
    // Past the unbonding delay and the job's dispute lock, the pending dispute still holds it.
    let lock = m.escrow.job(job).await?.unwrap().expires_at + TEST_TIMING.dispute_window;
    wait_until(&chain, unlock_at.max(lock)).await?;
    assert_eq!(escrow_error(m.escrow.withdraw(&provider).await), settlement::Error::StakeLocked);

    // Only the arbiter resolves; the slash goes to the consumer.
    assert_eq!(escrow_error(m.escrow.resolve_dispute(&consumer, job, p, UNIT).await), settlement::Error::Unauthorized);
    assert_eq!(
        escrow_error(m.escrow.resolve_dispute(&m.arbiter, job, p, m.min_stake + 1).await),
        settlement::Error::SlashExceedsStake
    );
    let slash = 30 * UNIT;
    let resolved = m.escrow.resolve_dispute(&m.arbiter, job, p, slash).await?;
    assert!(resolved.events.iter().any(|e| matches!(e, Event::DisputeResolved { slashed, .. } if *slashed == slash)));
    assert_eq!(m.escrow.balance_of(account_of(&consumer)).await?, slash);
    let (reputation, score) = m.escrow.reputation_of(p).await?;
    assert_eq!((reputation.disputes_lost, reputation.slashed), (1, slash));
    assert!(score < 1000, "score {score}");

    // The rest of the stake can now leave.
    let before = chain.free_balance(p).await?;
    let withdrawn = m.escrow.withdraw(&provider).await?;
    assert_eq!(withdrawn.value, m.min_stake - slash);
    assert_eq!(chain.free_balance(p).await? as i128, before as i128 + native_delta(m.min_stake - slash, &withdrawn));
    assert_eq!(m.escrow.stake_of(p).await?.total(), 0);
    Ok(())
}

#[tokio::test]
async fn d_refund_after_expiry_returns_the_unreleased_remainder() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let provider = staked_provider(&m, "//ProviderD").await?;
    let consumer = funded(&chain, "//ConsumerD", 10_000 * UNIT).await?;
    let job = m.escrow.open_job(&consumer, 80 * UNIT, &job_request(&[&provider], 80 * UNIT, 4, 4_000)).await?.value;
    accept_all(&m, job, &[&provider]).await?;
    m.escrow.top_up(&consumer, job, 20 * UNIT, Some(account_of(&provider))).await?;
    let (r, sig) = signed_receipt(&m, &payer(4), job, account_of(&provider), 30 * UNIT, 1);
    m.escrow.release(&provider, &r, &sig).await?;
    assert_eq!(escrow_error(m.escrow.refund(&consumer, job).await), settlement::Error::JobNotEnded);

    let expires_at = m.escrow.job(job).await?.unwrap().expires_at;
    wait_until(&chain, expires_at).await?;
    // After expiry, receipts no longer settle, and the remainder goes back.
    let (late, late_sig) = signed_receipt(&m, &payer(4), job, account_of(&provider), 40 * UNIT, 2);
    assert_eq!(escrow_error(m.escrow.release(&provider, &late, &late_sig).await), settlement::Error::JobEnded);
    let refunded = m.escrow.refund(&consumer, job).await?;
    assert_eq!(refunded.value, 70 * UNIT);
    assert_eq!(escrow_error(m.escrow.refund(&consumer, job).await), settlement::Error::JobFinalized);
    assert_eq!(m.escrow.claim(&consumer).await?.value, 70 * UNIT);
    Ok(())
}

/// The hot standby takes over through an allocation (G2): the primary holds the whole deposit; the
/// consumer thaws what the primary was not paid, and the primary may still settle against it until the
/// thaw ends; then the consumer allocates what the thaw freed to the standby, which is paid by its own
/// receipts. A receipt of the primary cannot be moved to the standby.
#[tokio::test]
async fn e_hot_standby_takes_over_through_an_allocation() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let primary = staked_provider(&m, "//Primary").await?;
    let standby = staked_provider(&m, "//Standby").await?;
    let consumer = funded(&chain, "//ConsumerE", 10_000 * UNIT).await?;
    let request = OpenJob {
        providers: vec![(account_of(&primary), 100 * UNIT), (account_of(&standby), 0)],
        ..job_request(&[], 0, 5, 600_000)
    };
    let job = m.escrow.open_job(&consumer, 100 * UNIT, &request).await?.value;
    accept_all(&m, job, &[&primary, &standby]).await?;
    let key = payer(5);
    let (r1, s1) = signed_receipt(&m, &key, job, account_of(&primary), 30 * UNIT, 3);
    m.escrow.release(&m.owner, &r1, &s1).await?;
    // The standby has no allocation yet: nothing of the deposit is its to draw on.
    let (early, early_sig) = signed_receipt(&m, &key, job, account_of(&standby), UNIT, 1);
    let refused = m.escrow.release(&m.owner, &early, &early_sig).await;
    assert_eq!(escrow_error(refused), settlement::Error::ExceedsAllocation);

    // The primary stops answering: the consumer thaws the 70 it was not paid. Until the thaw ends the
    // primary may still settle against its whole allocation (here 40 more).
    let thaw = m.escrow.thaw(&consumer, job, account_of(&primary), 70 * UNIT).await?;
    // The end as the block recorded it (the answer is the dry-run's, a block earlier).
    let ends_at = thaw
        .event(|e| match e {
            Event::ThawStarted { ends_at, .. } => Some(*ends_at),
            _ => None,
        })
        .expect("ThawStarted");
    let (r2, s2) = signed_receipt(&m, &key, job, account_of(&primary), 70 * UNIT, 4);
    m.escrow.release(&m.owner, &r2, &s2).await?;
    assert_eq!(
        escrow_error(m.escrow.allocate(&consumer, job, account_of(&standby), UNIT).await),
        settlement::Error::InsufficientUnallocated
    );
    wait_until(&chain, ends_at).await?;
    // Ended: the primary keeps what it was paid (70); the 30 it was not paid go to the standby.
    let (r3, s3) = signed_receipt(&m, &key, job, account_of(&primary), 71 * UNIT, 5);
    assert_eq!(escrow_error(m.escrow.release(&m.owner, &r3, &s3).await), settlement::Error::ExceedsAllocation);
    assert_eq!(m.escrow.allocate(&consumer, job, account_of(&standby), 30 * UNIT).await?.value, 30 * UNIT);
    let (r4, s4) = signed_receipt(&m, &key, job, account_of(&standby), 30 * UNIT, 1);
    // A receipt of the primary cannot be used to pay the standby: the provider is signed.
    let (mut stolen, stolen_sig) = signed_receipt(&m, &key, job, account_of(&primary), 20 * UNIT, 6);
    stolen.provider = account_of(&standby);
    assert_eq!(escrow_error(m.escrow.release(&m.owner, &stolen, &stolen_sig).await), settlement::Error::BadSignature);
    m.escrow.release(&m.owner, &r4, &s4).await?;

    assert_eq!(m.escrow.balance_of(account_of(&primary)).await?, fee::split(70 * UNIT, 500).net);
    assert_eq!(m.escrow.balance_of(account_of(&standby)).await?, fee::split(30 * UNIT, 500).net);
    assert_eq!(m.escrow.balance_of(account_of(&m.treasury)).await?, 5 * UNIT);
    assert_eq!(m.escrow.job(job).await?.unwrap().released, 100 * UNIT);
    Ok(())
}

/// Attack 2 of "Money rules v2", exactly: job [P, Q], deposit 1 000, Q the consumer's own staked account.
/// P holds a receipt for the whole deposit (accepted, say, by the gateway). The consumer signs 1 000 for
/// Q and releases it itself: refused, since Q draws only on its own allocation (0); P's receipt then
/// settles in full.
#[tokio::test]
async fn attack_2_a_standby_the_consumer_controls_cannot_drain_the_deposit() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let p = staked_provider(&m, "//ProviderAttack2").await?;
    let consumer = funded(&chain, "//ConsumerAttack2", 10_000 * UNIT).await?;
    let q = funded(&chain, "//ConsumerAttack2Q", 1_000 * UNIT).await?;
    m.escrow.stake(&q, m.min_stake).await?;
    let request = OpenJob {
        providers: vec![(account_of(&p), 1_000 * UNIT), (account_of(&q), 0)],
        ..job_request(&[], 0, 10, 600_000)
    };
    let job = m.escrow.open_job(&consumer, 1_000 * UNIT, &request).await?.value;
    accept_all(&m, job, &[&p, &q]).await?;
    let key = payer(10);
    let held = signed_receipt(&m, &key, job, account_of(&p), 1_000 * UNIT, 1);
    let (drain, drain_sig) = signed_receipt(&m, &key, job, account_of(&q), 1_000 * UNIT, 1);
    assert_eq!(
        escrow_error(m.escrow.release(&consumer, &drain, &drain_sig).await),
        settlement::Error::ExceedsAllocation
    );
    // Raising Q's allocation needs unallocated funds: there are none, and lowering P's takes a thaw.
    assert_eq!(
        escrow_error(m.escrow.allocate(&consumer, job, account_of(&q), UNIT).await),
        settlement::Error::InsufficientUnallocated
    );
    let paid = m.escrow.release(&p, &held.0, &held.1).await?;
    assert_eq!(paid.value, fee::split(1_000 * UNIT, 500));
    assert_eq!(m.escrow.balance_of(account_of(&q)).await?, 0);
    Ok(())
}

/// Attack 1 of "Money rules v2", exactly: the provider holds receipt R (cumulative 600, sequence 10),
/// not yet released (say, accepted by the gateway). The consumer signs R2 (cumulative 1 planck, sequence
/// `u64::MAX`, units `u128::MAX`) with the payer key and releases it itself. Under v1 R then failed
/// with `Replayed` (and `UnitsDecreased`) and the lane could never rise again; now R settles, and the
/// provider is paid its 600 gross, 570 net.
#[tokio::test]
async fn attack_1_a_low_receipt_with_the_top_sequence_cannot_block_a_higher_one() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let provider = staked_provider(&m, "//ProviderAttack1").await?;
    let consumer = funded(&chain, "//ConsumerAttack1", 10_000 * UNIT).await?;
    let p = account_of(&provider);
    let job =
        m.escrow.open_job(&consumer, 1_000 * UNIT, &job_request(&[&provider], 1_000 * UNIT, 6, 600_000)).await?.value;
    accept_all(&m, job, &[&provider]).await?;
    let key = payer(6);

    // The provider holds R.
    let (r, r_sig) = signed_receipt(&m, &key, job, p, 600 * UNIT, 10);
    // The consumer signs R2 and releases it directly.
    let (mut r2, _) = signed_receipt(&m, &key, job, p, 1, u64::MAX);
    r2.units = u128::MAX;
    let r2_sig = r2.sign(&key);
    let low = m.escrow.release(&consumer, &r2, &r2_sig).await?;
    assert_eq!((low.value.net, low.value.fee), (1, 0));
    assert!(low.events.iter().any(|e| matches!(e,
        Event::Released { cumulative: 1, units, sequence, .. } if *units == u128::MAX && *sequence == u64::MAX)));
    let lane = m.escrow.lane(job, p).await?;
    assert_eq!((lane.amount, lane.units, lane.sequence), (1, u128::MAX, u64::MAX));

    // R still settles, to its full cumulative amount.
    let paid = m.escrow.release(&provider, &r, &r_sig).await?;
    assert_eq!((paid.value.net, paid.value.fee), (570 * UNIT - 1, 30 * UNIT));
    assert!(paid.events.iter().any(|e| matches!(e,
        Event::Released { cumulative, sequence: 10, amount, .. } if *cumulative == 600 * UNIT && *amount == 600 * UNIT - 1)));
    let lane = m.escrow.lane(job, p).await?;
    assert_eq!((lane.amount, lane.fee, lane.sequence), (600 * UNIT, 30 * UNIT, 10));
    // Paid 600 gross: 570 net to the provider, 30 to the treasury.
    assert_eq!(m.escrow.job(job).await?.unwrap().released, 600 * UNIT);
    assert_eq!(m.escrow.balance_of(p).await?, 570 * UNIT);
    assert_eq!(m.escrow.balance_of(account_of(&m.treasury)).await?, 30 * UNIT);
    // R is spent: its replay, and R2's, are refused by their amounts.
    for (receipt, signature) in [(&r, &r_sig), (&r2, &r2_sig)] {
        assert_eq!(
            escrow_error(m.escrow.release(&consumer, receipt, signature).await),
            settlement::Error::CumulativeNotIncreasing
        );
    }
    Ok(())
}

#[tokio::test]
async fn attack_4_the_owner_cannot_make_itself_arbiter_and_slash_a_providers_stake() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let provider = staked_provider(&m, "//ProviderAttack4").await?;
    let p = account_of(&provider);
    let owner = account_of(&m.owner);
    // The owner opens a job of its own naming the provider, then announces itself as the arbiter.
    let job = m.escrow.open_job(&m.owner, 10 * UNIT, &job_request(&[&provider], 10 * UNIT, 7, 600_000)).await?.value;
    accept_all(&m, job, &[&provider]).await?;
    let change = settlement::SettingsChange { arbiter: Some(owner), ..settlement::SettingsChange::default() };
    let announced = m.escrow.announce_settings(&m.owner, &change).await?;
    // The dry run's answer is a block early: the event carries the time the block set.
    let due = announced
        .event(|e| match e {
            Event::SettingsAnnounced { arbiter, effective_at, .. } if *arbiter == owner => Some(*effective_at),
            _ => None,
        })
        .expect("SettingsAnnounced");
    // One block later the change is not in force: it waits out the admin delay, which is longer than
    // a dispute window plus an unbonding, so a provider that disagrees can leave first.
    assert_eq!(escrow_error(m.escrow.apply_settings(&m.owner).await), settlement::Error::SettingsNotDue);
    assert_eq!(m.escrow.config().await?.arbiter, account_of(&m.arbiter));
    m.escrow.dispute(&m.owner, job, p, [0x44; 32]).await?;
    let stake = m.escrow.stake_of(p).await?.total();
    assert_eq!(escrow_error(m.escrow.resolve_dispute(&m.owner, job, p, stake).await), settlement::Error::Unauthorized);

    // Once due the change applies, but the job keeps the arbiter it opened with.
    wait_until(&chain, due).await?;
    m.escrow.apply_settings(&m.owner).await?;
    assert_eq!(m.escrow.config().await?.arbiter, owner);
    assert_eq!(m.escrow.job(job).await?.unwrap().arbiter, account_of(&m.arbiter));
    assert_eq!(escrow_error(m.escrow.resolve_dispute(&m.owner, job, p, stake).await), settlement::Error::Unauthorized);
    assert_eq!(m.escrow.stake_of(p).await?.total(), stake, "the provider's stake is untouched");
    // A job opened now shows its arbiter to the provider before it is named on it.
    let later = m.escrow.open_job(&m.owner, 10 * UNIT, &job_request(&[&provider], 10 * UNIT, 7, 600_000)).await?;
    assert!(later.events.iter().any(|e| matches!(e, Event::JobOpened { arbiter, .. } if *arbiter == owner)));
    // The job's own arbiter still decides the old dispute.
    m.escrow.resolve_dispute(&m.arbiter, job, p, 0).await?;
    Ok(())
}

#[tokio::test]
async fn timing_that_breaks_a_promise_is_refused_at_deployment() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let alice = escrow_client::dev::alice();
    let leave = TEST_TIMING.dispute_window + TEST_TIMING.unbond_delay;
    let broken = [
        // `complete` would cut the provider's last receipts off at once.
        settlement::Timing { settle_grace: 0, ..TEST_TIMING },
        settlement::Timing { settle_grace: TEST_TIMING.thaw_period - 1, ..TEST_TIMING },
        // Settings could change before a provider can leave.
        settlement::Timing { admin_delay: leave, ..TEST_TIMING },
        settlement::Timing { arbitration_period: 0, ..TEST_TIMING },
    ];
    for timing in broken {
        let params = escrow_client::Deploy {
            treasury: account_of(&alice),
            arbiter: account_of(&alice),
            fee_bps: 500,
            min_stake: UNIT,
            slash_bps: TEST_SLASH_BPS,
            timing,
            salt: unique_salt(),
        };
        let refused = escrow_client::Escrow::deploy(&chain, &alice, escrow_bundle()?, &params).await.map(|_| ());
        assert_eq!(escrow_error(refused), settlement::Error::InvalidConfig, "{timing:?}");
    }
    Ok(())
}

#[tokio::test]
async fn attack_3_a_strangers_job_cannot_lock_dispute_or_pay_a_provider() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let provider = staked_provider(&m, "//ProviderAttack3").await?;
    let stranger = funded(&chain, "//StrangerAttack3", 10 * UNIT).await?;
    let p = account_of(&provider);
    // A stranger opens a 1-planck job naming the provider, with about the longest expiry allowed.
    let lasts = TEST_TIMING.max_job_duration - 60_000;
    let job = m.escrow.open_job(&stranger, 1, &job_request(&[&provider], 1, 8, lasts)).await?.value;
    let stake = m.escrow.stake_of(p).await?;
    assert_eq!((stake.locked_until, stake.pending_disputes), (0, 0), "naming the provider locked nothing");
    // Disputing it, or paying through it, is refused: the provider never accepted the job.
    assert_eq!(escrow_error(m.escrow.dispute(&stranger, job, p, [0x33; 32]).await), settlement::Error::NotAccepted);
    let (r, s) = signed_receipt(&m, &payer(8), job, p, 1, 1);
    assert_eq!(escrow_error(m.escrow.release(&stranger, &r, &s).await), settlement::Error::NotAccepted);
    // The provider leaves on its own schedule: the unbonding delay, nothing more.
    let unbonded = m.escrow.unbond(&provider, m.min_stake).await?;
    let unlock_at = unbonded
        .event(|e| match e {
            Event::Unbonding { unlock_at, .. } => Some(*unlock_at),
            _ => None,
        })
        .expect("Unbonding");
    wait_until(&chain, unlock_at).await?;
    assert_eq!(m.escrow.withdraw(&provider).await?.value, m.min_stake);
    // And a job it did not accept never counts in its reputation.
    assert_eq!(m.escrow.reputation_of(p).await?.0.jobs_completed, 0);
    Ok(())
}

#[tokio::test]
async fn g6_releases_charge_their_submitter_no_storage_deposit_and_claims_refund_none() -> TestResult {
    let (_node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let consumer = funded(&chain, "//ConsumerG6", 10_000 * UNIT).await?;
    let relayer = funded(&chain, "//RelayerG6", 10 * UNIT).await?;
    let mut providers = Vec::new();
    for name in ["//ProviderG6a", "//ProviderG6b", "//ProviderG6c"] {
        providers.push(staked_provider(&m, name).await?);
    }
    let refs: Vec<&Keypair> = providers.iter().collect();
    let job = m.escrow.open_job(&consumer, 300 * UNIT, &job_request(&refs, 100 * UNIT, 9, 600_000)).await?.value;
    // Each provider pays for its own records when it accepts (its lane, its balance, its reputation).
    for p in &providers {
        let accepted = m.escrow.accept_job(p, job, 0, u128::MAX).await?;
        assert!(accepted.storage_deposit > 0, "the provider pays its own records' deposit");
    }
    let receipts: Vec<_> =
        providers.iter().map(|p| signed_receipt(&m, &payer(9), job, account_of(p), 10 * UNIT, 1)).collect();

    // The relayer's release of three fresh lanes creates no storage: submitted with a deposit limit of 0,
    // it goes through and costs the relayer its fee alone.
    let before = chain.free_balance(account_of(&relayer)).await?;
    let many = m.escrow.release_many(&relayer, &receipts).await?;
    assert!(many.value.iter().all(Result::is_ok), "{:?}", many.value);
    assert_eq!(many.storage_deposit, 0);
    assert_eq!(chain.free_balance(account_of(&relayer)).await?, before - many.fee_paid);
    let later = signed_receipt(&m, &payer(9), job, account_of(&providers[0]), 20 * UNIT, 2);
    assert_eq!(m.escrow.release(&relayer, &later.0, &later.1).await?.storage_deposit, 0);

    // A provider's claim pays out its net and no deposit someone else paid: the record stays.
    for (i, p) in providers.iter().enumerate() {
        let who = account_of(p);
        let owed = m.escrow.balance_of(who).await?;
        assert_eq!(owed, if i == 0 { 19 * UNIT } else { 19 * UNIT / 2 });
        let before = chain.free_balance(who).await?;
        let claimed = m.escrow.claim(p).await?;
        assert_eq!(claimed.storage_deposit, 0, "nothing refunded on claim");
        assert_eq!(chain.free_balance(who).await? as i128, before as i128 + native_delta(owed, &claimed));
    }
    Ok(())
}
