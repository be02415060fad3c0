//! # e2e
//!
//! End-to-end tests of the escrow contract on a real `substrate-contracts-node --dev` (`tests/`) and its
//! benchmark (`benches/`). The helpers they share live in the `testkit` crate; this library is empty.
