//! Model-based test of the escrow rules: random operation sequences run against a [`Market`] over a
//! [`MemoryStore`] and, side by side, against a small model written independently of `market.rs`.
//!
//! After every operation the engine must agree with the model (the outcome, including the exact
//! [`Error`], and every record), a refused operation must leave the store untouched, and the money
//! invariants must hold: funds are conserved, no job releases more than its deposit, settled
//! cumulative amounts never decrease, no receipt pays twice and every fee split is exact.
//!
//! Apart from the reference, the promises to honest parties are stated in their own observations only:
//! P-G1 and P-G2, a provider is paid for signed work within its allocation, with a thaw period's notice,
//! against an adversary acting as the consumer (`promises.rs`, with P-G3d and P-G6); P-G3 and P-G4,
//! consent and bounded admin power, against an adversary holding the owner and arbiter keys
//! (`admin.rs`); P-G5, a consumer pays at most what it signed and gets the rest back, against an
//! adversary holding every provider's key (`consumer.rs`); P-G5d, the timing rules (`promises.rs`).
//! `scripts/test` builds this test with injected bugs (`--cfg settlement_mutant="..."`) and requires
//! each to make the property it names fail.

#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used)]

// The crate root owns `tests/`, so the pieces in `tests/model/` are named by path.
#[path = "model/admin.rs"]
mod admin;
#[path = "model/consumer.rs"]
mod consumer;
#[path = "model/harness.rs"]
mod harness;
#[path = "model/invariants.rs"]
mod invariants;
#[path = "model/ops.rs"]
mod ops;
#[path = "model/promises.rs"]
mod promises;
#[path = "model/reference.rs"]
mod reference;
#[path = "model/rules.rs"]
mod rules;
#[path = "model/scenarios.rs"]
mod scenarios;
#[path = "model/strategies.rs"]
mod strategies;
#[path = "model/world.rs"]
mod world;

use proptest::prelude::*;
use proptest::test_runner::RngAlgorithm;

use crate::harness::Harness;
use crate::ops::Op;
use crate::strategies::{op, plausible_open, stake_amount};
use crate::world::cases;

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(10_000), rng_algorithm: RngAlgorithm::XorShift, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_agree_with_the_model(
        stakes in prop::array::uniform4(stake_amount()),
        opens in prop::collection::vec(plausible_open(), 1..=2),
        ops in prop::collection::vec(op(), 1..=40),
    ) {
        let mut h = Harness::new();
        for (p, amount) in stakes.into_iter().enumerate() {
            let _ = h.apply(&Op::Stake { p, amount });
        }
        for op in opens.iter().chain(&ops) {
            let _ = h.apply(op);
        }
    }
}
