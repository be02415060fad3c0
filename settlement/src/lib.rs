//! # settlement
//!
//! The rules of the compute escrow, written once and used everywhere: by the ink! contract on chain,
//! by the gateway that checks receipts, by the indexer's auditor, and by the tests.
//!
//! - [`fee`]: the 95/5 platform fee split, exact in integers.
//! - [`receipt`]: the signed usage receipt and its ed25519 (`verify_strict`) check.
//! - [`state`]: the records (jobs, lanes, stakes, disputes, reputation, configuration).
//! - [`checks`]: the named checks a receipt must pass, shared by the contract and the gateway.
//! - [`market`]: the escrow, staking, dispute and administration transitions over a [`market::Store`].
//! - [`events`]: what each state change reports.
//!
//! No I/O, no allocation beyond `alloc`, `no_std` without the `std` feature. Money is `u128`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod checks;
pub mod error;
pub mod events;
pub mod fee;
pub mod market;
#[cfg(feature = "std")]
pub mod memory;
pub mod receipt;
pub mod state;

pub use error::{Error, Result};
pub use events::Event;
pub use market::{Market, OpenJob, SettingsChange, Store};
pub use receipt::{Domain, PayerKey, Receipt};
pub use state::{
    Announced, Config, Dispute, DisputeStatus, Job, JobStatus, Lane, Reputation, Settings, Slot, Stake, Thaw, Timing,
    MAX_PROVIDERS,
};

/// An amount of the chain's native token, in its smallest unit.
pub type Balance = u128;
/// A job's id, assigned by the escrow from 1 upwards.
pub type JobId = u64;
/// Milliseconds since the Unix epoch (the block timestamp on chain).
pub type Timestamp = u64;
