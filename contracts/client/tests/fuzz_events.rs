//! Bounded fuzzing of the event decoder (`escrow_client::events::decode_labelled`), which reads the
//! bytes the contract deposits for each `settlement::Event` (its SCALE encoding after the variant index).
//! Pure: no node.
//!
//! Each property runs a few hundred cases so the file stays within seconds; `FUZZ_CASES=N` runs N
//! per property instead (`FUZZ_CASES=100000 cargo test -p escrow-client --test fuzz_events --release`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use escrow_client::events::decode_labelled;
use escrow_client::AccountId;
use proptest::prelude::*;
use scale::Encode;
use settlement::{Event, Reputation};

/// Every event name the contract emits.
const LABELS: [&str; 19] = [
    "JobOpened",
    "JobAccepted",
    "ToppedUp",
    "Allocated",
    "ThawStarted",
    "Released",
    "JobCompleted",
    "Refunded",
    "Claimed",
    "Staked",
    "Unbonding",
    "Withdrawn",
    "DisputeOpened",
    "DisputeResolved",
    "ReputationChanged",
    "OwnershipTransferStarted",
    "OwnershipTransferred",
    "SettingsAnnounced",
    "SettingsChanged",
];

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Random field values, from which an event of any kind takes what it needs.
#[derive(Debug, Clone)]
struct Fields {
    accounts: [AccountId; 3],
    hash: [u8; 32],
    many: (Vec<AccountId>, Vec<u128>),
    big: [u128; 5],
    small: [u64; 3],
    bps: [u16; 2],
    words: [u32; 2],
    flag: bool,
}

fn fields() -> impl Strategy<Value = Fields> {
    let account = prop_oneof![Just([0; 32]), Just([0xff; 32]), any::<[u8; 32]>()];
    let big = prop_oneof![Just(0u128), Just(u128::MAX), any::<u128>(), 0..300u128];
    let small = prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 0..300u64];
    (
        prop::array::uniform3(account.clone()),
        any::<[u8; 32]>(),
        (prop::collection::vec(account, 0..6), prop::collection::vec(big.clone(), 0..70)),
        prop::array::uniform5(big),
        prop::array::uniform3(small),
        any::<[u16; 2]>(),
        any::<[u32; 2]>(),
        any::<bool>(),
    )
        .prop_map(|(accounts, hash, many, big, small, bps, words, flag)| Fields {
            accounts,
            hash,
            many,
            big,
            small,
            bps,
            words,
            flag,
        })
}

/// The event of kind `kind` (an index into [`LABELS`]) made of `f`.
fn event(kind: usize, f: Fields) -> Event<AccountId> {
    let ([a, b, c], [n0, n1, n2, n3, n4], [t0, t1, t2], [p0, p1], [w0, w1]) =
        (f.accounts, f.big, f.small, f.bps, f.words);
    let reputation = Reputation { jobs_completed: t2, volume: n1, disputes_lost: w0, slashed: n2 };
    match kind {
        0 => Event::JobOpened {
            job_id: t0,
            consumer: a,
            providers: f.many.0,
            allocations: f.many.1,
            deposit: n0,
            payer_key: f.hash,
            terms_hash: b,
            fee_bps: p0,
            slash_bps: p1,
            arbiter: c,
            expires_at: t1,
        },
        1 => Event::JobAccepted { job_id: t0, provider: a, funds: n0, max_slash: n1, locked_until: t1 },
        2 => Event::ToppedUp { job_id: t0, consumer: a, amount: n0, deposit: n1 },
        3 => Event::Allocated { job_id: t0, consumer: a, provider: b, amount: n0, allocation: n1, unallocated: n2 },
        4 => Event::ThawStarted { job_id: t0, consumer: a, provider: b, amount: n0, ends_at: t1 },
        5 => Event::Released {
            job_id: t0,
            consumer: a,
            provider: b,
            cumulative: n0,
            units: n1,
            sequence: t1,
            amount: n2,
            fee: n3,
            net: n4,
        },
        6 => Event::JobCompleted { job_id: t0, consumer: a, ends_at: t1 },
        7 => Event::Refunded { job_id: t0, consumer: a, amount: n0 },
        8 => Event::Claimed { account: a, amount: n0 },
        9 => Event::Staked { provider: a, amount: n0, active: n1 },
        10 => Event::Unbonding { provider: a, amount: n0, unbonding: n1, unlock_at: t0 },
        11 => Event::Withdrawn { provider: a, amount: n0 },
        12 => Event::DisputeOpened { job_id: t0, consumer: a, provider: b, reason: f.hash, resolve_by: t1 },
        13 => Event::DisputeResolved { job_id: t0, consumer: a, provider: b, slashed: n0 },
        14 => Event::ReputationChanged { provider: a, reputation, score: w1 },
        15 => Event::OwnershipTransferStarted { owner: a, pending: b },
        16 => Event::OwnershipTransferred { previous: a, owner: b },
        17 => Event::SettingsAnnounced {
            treasury: a,
            arbiter: b,
            fee_bps: p0,
            min_stake: n0,
            slash_bps: p1,
            effective_at: t0,
        },
        _ => Event::SettingsChanged {
            treasury: a,
            arbiter: b,
            fee_bps: p0,
            min_stake: n0,
            slash_bps: p1,
            paused: f.flag,
        },
    }
}

/// An event of any kind, with its label and the bytes the contract deposits for it.
fn emitted() -> impl Strategy<Value = (&'static str, Event<AccountId>, Vec<u8>)> {
    (0..LABELS.len(), fields()).prop_map(|(kind, f)| {
        let e = event(kind, f);
        let data = e.encode().split_off(1);
        (LABELS[kind], e, data)
    })
}

/// Anything the decoder accepts is the one encoding of what it decodes to, of the kind it was asked for.
fn assert_canonical(label: &str, data: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(event) = decode_labelled(label, data) {
        prop_assert!(format!("{event:?}").starts_with(&format!("{label} ")), "{label} read as {event:?}");
        let encoded = event.encode();
        prop_assert_eq!(&encoded[1..], data, "{} accepted a non-canonical encoding", label);
    }
    Ok(())
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(LABELS.to_vec()).prop_map(String::from), 1 => any::<String>()]
}

proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn every_event_round_trips((label, event, data) in emitted()) {
        prop_assert_eq!(decode_labelled(label, &data).unwrap(), event);
    }

    #[test]
    fn arbitrary_bytes_are_refused_or_read_canonically(label in label(), data in prop::collection::vec(any::<u8>(), 0..400)) {
        let got = decode_labelled(&label, &data);
        if !LABELS.contains(&label.as_str()) {
            prop_assert!(got.is_err());
        }
        assert_canonical(&label, &data)?;
    }

    /// Bit flips, insertions and removals never panic and, if read, are read canonically; any cut or
    /// any extension of a valid encoding is refused.
    #[test]
    fn mutated_events_are_refused_or_read_canonically(
        (label, _event, data) in emitted(),
        at in any::<prop::sample::Index>(), bit in 0..8u8, byte in any::<u8>(),
    ) {
        let mut flipped = data.clone();
        if !flipped.is_empty() {
            flipped[at.index(data.len())] ^= 1 << bit;
        }
        assert_canonical(label, &flipped)?;
        let mut inserted = data.clone();
        inserted.insert(at.index(data.len() + 1), byte);
        assert_canonical(label, &inserted)?;
        if !data.is_empty() {
            let mut removed = data.clone();
            removed.remove(at.index(data.len()));
            assert_canonical(label, &removed)?;
            prop_assert!(decode_labelled(label, &data[..at.index(data.len())]).is_err(), "a cut encoding");
        }
        let mut longer = data.clone();
        longer.push(byte);
        prop_assert!(decode_labelled(label, &longer).is_err(), "an encoding with a byte left over");
        // Another kind's label on these bytes: refused, or read canonically as that kind.
        for other in LABELS {
            assert_canonical(other, &data)?;
        }
    }
}
