//! The adversary's and the consumer's steps for P-G5 (`consumer.rs`), weighted towards those that
//! succeed: jobs C opens, receipts C signs, and what the adversary tries between them.

use proptest::prelude::*;

use super::*;

fn deposit() -> impl Strategy<Value = u128> {
    prop_oneof![3 => 1..=1_000u128, 3 => 1..=100_000u128, 1 => 1..=(1u128 << 48)]
}

/// One of `NAMED`: rarely the one not staked from the start.
fn named() -> impl Strategy<Value = usize> {
    prop_oneof![9 => 0..3usize, 1 => Just(3usize)]
}

fn open() -> impl Strategy<Value = Step> {
    (
        prop::collection::vec((named(), prop_oneof![1 => Just(0u128), 4 => 1..=4u128]), 1..=3),
        prop_oneof![2 => Just(0u128), 1 => 1..=3u128],
        deposit(),
        prop_oneof![1 => 1..=50u64, 3 => 51..=500u64],
    )
        .prop_map(|(providers, slack, deposit, duration)| Step::Open { providers, slack, deposit, duration })
}

fn sign_amount() -> impl Strategy<Value = SignAmount> {
    prop_oneof![
        8 => any::<u128>().prop_map(SignAmount::Rise),
        2 => any::<u128>().prop_map(SignAmount::Jump),
        2 => Just(SignAmount::Allocation),
        2 => any::<u128>().prop_map(SignAmount::Lower),
        1 => Just(SignAmount::Same),
        1 => (0..10u128).prop_map(SignAmount::Low),
    ]
}

fn seq() -> impl Strategy<Value = Seq> {
    prop_oneof![
        6 => Just(Seq::Next),
        1 => Just(Seq::Repeat),
        1 => Just(Seq::Zero),
        1 => Just(Seq::Max),
        1 => any::<u64>().prop_map(Seq::Any),
    ]
}

fn expiry() -> impl Strategy<Value = Expiry> {
    prop_oneof![8 => (0..1_000u64).prop_map(Expiry::Later), 1 => (0..50u64).prop_map(Expiry::Past), 1 => Just(Expiry::Never)]
}

fn sign_step() -> impl Strategy<Value = Step> {
    (
        0..100usize,
        0..3usize,
        sign_amount(),
        seq(),
        prop_oneof![2 => 0..100u128, 1 => any::<u128>()],
        expiry(),
        prop::bool::weighted(0.06),
    )
        .prop_map(|(job, provider, amount, seq, units, expiry, elsewhere)| {
            Step::Sign(Sign { job, provider, amount, seq, units, expiry, elsewhere })
        })
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        3 => (0..100u128).prop_map(Field::AmountUp),
        1 => (0..4usize).prop_map(Field::Provider),
        1 => (0..100usize).prop_map(Field::Job),
        1 => any::<bool>().prop_map(Field::Domain),
        1 => any::<u64>().prop_map(Field::Sequence),
        1 => any::<u128>().prop_map(Field::Units),
        1 => (0..1_000u64).prop_map(Field::Expiry),
    ]
}

fn attack() -> impl Strategy<Value = Attack> {
    let forged = prop_oneof![
        3 => (0..100u128).prop_map(Forged::Above),
        1 => Just(Forged::Deposit),
        1 => any::<u128>().prop_map(Forged::Any),
    ];
    prop_oneof![
        4 => any::<usize>().prop_map(|pick| Attack::Replay { pick }),
        6 => (0..3usize).prop_map(|back| Attack::Latest { back }),
        3 => prop::collection::vec(any::<usize>(), 2..=4).prop_map(|picks| Attack::Burst { picks }),
        2 => (0..100usize, any::<bool>()).prop_map(|(job, reverse)| Attack::Sweep { job, reverse }),
        3 => (any::<usize>(), field()).prop_map(|(pick, field)| Attack::Tamper { pick, field }),
        3 => (0..100usize, 0..3usize, forged, 0..2usize, prop::bool::weighted(0.9)).prop_map(
            |(job, provider, amount, key, domain)| Attack::Forge { job, provider, amount, key: A_KEYS[key], domain }
        ),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        // C.
        14 => sign_step(),
        2 => (0..100usize, deposit(), prop::option::weighted(0.5, 0..3usize))
            .prop_map(|(job, amount, to)| Step::TopUp { job, amount, to }),
        2 => (0..100usize, 0..3usize, any::<u128>()).prop_map(|(job, provider, amount)| Step::Allocate { job, provider, amount }),
        2 => (0..100usize, 0..3usize, any::<u128>()).prop_map(|(job, provider, part)| Step::Thaw { job, provider, part }),
        1 => (0..100usize).prop_map(|job| Step::Complete { job }),
        2 => (0..100usize, 0..3usize).prop_map(|(job, provider)| Step::Dispute { job, provider }),
        1 => (0..100usize, prop::bool::weighted(0.3), prop_oneof![2 => Just(0u64), 1 => 1..=30u64])
            .prop_map(|(job, early, extra)| Step::RefundAfterEnd { job, early, extra }),
        1 => Just(Step::Claim),
        // The adversary.
        3 => (0..100usize, 0..3usize, prop_oneof![2 => Just(u128::MAX), 1 => 0..=300u128])
            .prop_map(|(job, provider, max_slash)| Step::Accept { job, provider, max_slash }),
        1 => (prop::collection::vec(named(), 1..=2), deposit(), 1..=500u64, 0..3usize)
            .prop_map(|(providers, deposit, duration, key)| Step::AOpen { providers, deposit, duration, key }),
        14 => attack().prop_map(Step::Release),
        2 => (0..100usize).prop_map(|job| Step::Refund { job }),
        1 => (0..100usize, 0..3usize).prop_map(|(job, provider)| Step::ADispute { job, provider }),
        3 => (any::<usize>(), prop::option::weighted(0.9, 0..=4u128), prop::bool::weighted(0.8))
            .prop_map(|(pick, quarters, job_arbiter)| Step::Resolve { pick, quarters, job_arbiter }),
        1 => (
            prop::option::weighted(0.6, 0..3usize),
            prop::option::weighted(0.3, 0..2usize),
            prop::option::weighted(0.5, 0..=1_000u16),
        )
            .prop_map(|(treasury, arbiter, fee_bps)| Step::Announce { treasury, arbiter, fee_bps }),
        1 => prop::bool::weighted(0.5).prop_map(|wait| Step::Apply { wait }),
        1 => prop::bool::weighted(0.3).prop_map(|paused| Step::Pause { paused }),
        1 => (0..4usize, 1..=1_000u128).prop_map(|(who, amount)| Step::Stake { who, amount }),
        4 => prop_oneof![6 => 0..=20u64, 3 => 21..=100u64, 1 => 101..=600u64].prop_map(|dt| Step::Advance { dt }),
        1 => (0..4usize).prop_map(|who| Step::AClaim { who }),
    ]
}

/// One case: C opens one or two jobs, the adversary's providers mostly accept them at once, then the
/// steps.
pub(super) fn run() -> impl Strategy<Value = (Vec<Step>, Vec<Step>)> {
    // The owner (A) may have made C (or another) the treasury, with some fee, before the case.
    let takeover = prop::option::weighted(0.3, (0..3usize, prop::option::of(0..=1_000u16))).prop_map(|t| {
        t.map_or_else(Vec::new, |(treasury, fee_bps)| {
            vec![Step::Announce { treasury: Some(treasury), arbiter: None, fee_bps }, Step::Apply { wait: true }]
        })
    });
    let steps = prop::collection::vec(prop_oneof![1 => opened(), 20 => step().prop_map(|s| vec![s])], 1..=40)
        .prop_map(|s| s.concat());
    (takeover, prop::collection::vec(opened(), 1..=2), steps)
        .prop_map(|(takeover, opens, steps)| ([takeover, opens.concat()].concat(), steps))
}

/// C opens a job; the adversary's providers mostly accept it at once.
fn opened() -> impl Strategy<Value = Vec<Step>> {
    (open(), prop::collection::vec(prop::bool::weighted(0.85), 3)).prop_map(|(open, accepts)| {
        let mut steps = vec![open];
        for (provider, accept) in accepts.into_iter().enumerate() {
            if accept {
                steps.push(Step::AcceptNewest { provider });
            }
        }
        steps
    })
}
