//! The proptest strategies that generate operations, weighted towards those that succeed.

use proptest::prelude::*;

use crate::ops::{Amt, Cum, JobRef, Op, Pick, SigKind};

pub(crate) fn deposit() -> impl Strategy<Value = u128> {
    prop_oneof![1 => Just(0u128), 3 => 1..=100u128, 4 => 1..=100_000u128, 2 => 1..=(1u128 << 48)]
}

pub(crate) fn stake_amount() -> impl Strategy<Value = u128> {
    prop_oneof![1 => Just(0u128), 1 => 1..=99u128, 3 => Just(100u128), 8 => 100..=10_000u128, 3 => 1..=(1u128 << 48)]
}

pub(crate) fn amt() -> impl Strategy<Value = Amt> {
    prop_oneof![
        1 => Just(Amt::Zero),
        5 => any::<u128>().prop_map(Amt::Part),
        2 => Just(Amt::All),
        1 => (0..1_000u128).prop_map(Amt::Over),
    ]
}

pub(crate) fn cum() -> impl Strategy<Value = Cum> {
    prop_oneof![
        4 => (0..50u128).prop_map(Cum::Small),
        4 => any::<u128>().prop_map(Cum::Part),
        1 => Just(Cum::Rest),
        1 => (0..10u128).prop_map(Cum::Exceed),
        1 => Just(Cum::Same),
        1 => (0..10u128).prop_map(Cum::Lower),
    ]
}

pub(crate) fn sig_kind() -> impl Strategy<Value = SigKind> {
    prop_oneof![
        12 => Just(SigKind::Valid),
        1 => Just(SigKind::WrongKey),
        1 => Just(SigKind::WrongChain),
        1 => Just(SigKind::WrongContract),
        1 => Just(SigKind::Corrupt),
    ]
}

pub(crate) fn pick() -> impl Strategy<Value = Pick> {
    (prop::bool::weighted(0.9), 0..6usize).prop_map(|(on_job, idx)| Pick { on_job, idx })
}

/// `None`: the rightful caller (the job's consumer, the owner, the arbiter); `Some`: someone chosen.
pub(crate) fn caller() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![6 => Just(None), 1 => (0..5usize).prop_map(Some)]
}

pub(crate) fn job() -> impl Strategy<Value = JobRef> {
    (0..1_000usize).prop_map(JobRef::Pick)
}

pub(crate) fn providers() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        8 => prop::sample::subsequence(vec![0usize, 1, 2, 3], 1..=4),
        1 => prop::sample::subsequence(vec![0usize, 1, 2, 3, 4], 1..=4),
        1 => Just(Vec::new()),
        1 => prop::collection::vec(0..5usize, 2..=5),
    ]
}

/// Allocations at opening: mostly within the deposit (a part, all that is left, or nothing), rarely past it.
pub(crate) fn allocs() -> impl Strategy<Value = Vec<Amt>> {
    let one = prop_oneof![
        2 => Just(Amt::Zero),
        5 => any::<u128>().prop_map(Amt::Part),
        3 => Just(Amt::All),
        1 => (0..10u128).prop_map(Amt::Over),
    ];
    prop::collection::vec(one, 0..=4)
}

/// Allocations that fit the deposit.
fn plausible_allocs() -> impl Strategy<Value = Vec<Amt>> {
    let one = prop_oneof![1 => Just(Amt::Zero), 3 => any::<u128>().prop_map(Amt::Part), 2 => Just(Amt::All)];
    prop::collection::vec(one, 1..=4)
}

pub(crate) fn open() -> impl Strategy<Value = Op> {
    (
        0..2usize,
        providers(),
        allocs(),
        deposit(),
        prop_oneof![1 => Just(0u64), 8 => 1..=500u64, 1 => 501..=600u64],
        0..2usize,
    )
        .prop_map(|(consumer, providers, allocs, deposit, duration, key)| Op::Open {
            consumer,
            providers,
            allocs,
            deposit,
            duration,
            key,
        })
}

/// An opening that passes every check (to start each run with jobs).
pub(crate) fn plausible_open() -> impl Strategy<Value = Op> {
    (
        0..2usize,
        prop::sample::subsequence(vec![0usize, 1, 2, 3], 1..=4),
        plausible_allocs(),
        1..=100_000u128,
        1..=500u64,
        0..2usize,
    )
        .prop_map(|(consumer, providers, allocs, deposit, duration, key)| Op::Open {
            consumer,
            providers,
            allocs,
            deposit,
            duration,
            key,
        })
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..5usize, stake_amount()).prop_map(|(p, amount)| Op::Stake { p, amount }),
        2 => (0..5usize, amt()).prop_map(|(p, amount)| Op::Unbond { p, amount }),
        2 => (0..5usize, prop::bool::weighted(0.8)).prop_map(|(p, guided)| Op::Withdraw { p, guided }),
        5 => open(),
        2 => (job(), caller(), deposit(), prop::option::weighted(0.5, pick()))
            .prop_map(|(job, caller, amount, to)| Op::TopUp { job, caller, amount, to }),
        3 => (job(), caller(), pick(), amt())
            .prop_map(|(job, caller, provider, amount)| Op::Allocate { job, caller, provider, amount }),
        3 => (job(), caller(), pick(), amt())
            .prop_map(|(job, caller, provider, amount)| Op::Thaw { job, caller, provider, amount }),
        12 => (
            job(),
            pick(),
            cum(),
            prop_oneof![1 => -2..=-1i8, 6 => 0..=5i8],
            prop_oneof![1 => -1..=0i8, 6 => 1..=3i8],
            prop_oneof![1 => -30..=0i16, 8 => 1..=300i16],
            sig_kind(),
        )
            .prop_map(|(job, provider, cum, units, seq, expiry, sig)| Op::Release {
                job,
                provider,
                cum,
                units,
                seq,
                expiry,
                sig
            }),
        2 => any::<usize>().prop_map(|pick| Op::Replay { pick }),
        2 => (job(), caller()).prop_map(|(job, caller)| Op::Complete { job, caller }),
        2 => job().prop_map(|job| Op::Refund { job }),
        3 => (0..100usize, prop::bool::weighted(0.8)).prop_map(|(who, guided)| Op::Claim { who, guided }),
        2 => (job(), caller(), pick()).prop_map(|(job, caller, provider)| Op::Dispute { job, caller, provider }),
        2 => (prop::option::weighted(0.8, any::<usize>()), job(), pick(), caller(), amt()).prop_map(
            |(target, job, provider, caller, slash)| Op::Resolve { target, job, provider, caller, slash }
        ),
        5 => prop_oneof![3 => 0..=20u64, 3 => 21..=150u64, 3 => 151..=1_000u64].prop_map(|dt| Op::Advance { dt }),
        1 => (
            caller(),
            prop_oneof![
                3 => Just(None),
                1 => Just(Some(0u16)),
                1 => Just(Some(1_000u16)),
                1 => Just(Some(1_001u16)),
                1 => Just(Some(u16::MAX)),
                2 => (0..=1_200u16).prop_map(Some),
            ],
            prop::option::weighted(0.3, 0..4usize),
            prop::option::weighted(0.2, 0..2usize),
            prop::option::weighted(0.3, prop_oneof![Just(0u128), Just(100u128), Just(1_000u128), Just(1u128 << 40)]),
        )
            .prop_map(|(caller, fee_bps, treasury, arbiter, min_stake)| Op::Announce {
                caller,
                fee_bps,
                slash_bps: None,
                treasury,
                arbiter,
                min_stake,
            }),
        1 => prop_oneof![Just(0u16), Just(2_500u16), Just(10_000u16), Just(10_001u16)]
            .prop_map(|bps| Op::Announce { caller: None, fee_bps: None, slash_bps: Some(bps), treasury: None, arbiter: None, min_stake: None }),
        8 => (job(), pick(), prop_oneof![4 => Just(Amt::Zero), 2 => Just(Amt::All), 1 => (0..u128::MAX).prop_map(Amt::Part), 1 => (0..5u128).prop_map(Amt::Over)], amt())
            .prop_map(|(job, provider, min_funds, max_slash)| Op::AcceptJob { job, provider, min_funds, max_slash }),
        1 => caller().prop_map(|caller| Op::Apply { caller }),
        1 => (caller(), prop::bool::weighted(0.3)).prop_map(|(caller, paused)| Op::Pause { caller, paused }),
        1 => (caller(), 0..5usize).prop_map(|(caller, to)| Op::Transfer { caller, to }),
        1 => (0..5usize).prop_map(|caller| Op::Accept { caller }),
    ]
}
