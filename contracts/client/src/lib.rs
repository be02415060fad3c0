//! # escrow-client
//!
//! The Rust side of the escrow contract on a Substrate node, over subxt: loads the contract's
//! `.contract` bundle, deploys it, dry-runs and submits its messages with SCALE-encoded `settlement`
//! types, and decodes its events. The gateway, the indexer and the end-to-end tests all talk to the
//! chain through this crate.
//!
//! The node's runtime types come from `metadata/contracts-node-0.42.0.scale` (the V15 metadata of
//! `substrate-contracts-node` 0.42.0, fetched with the `Metadata_metadata_at_version` runtime call).

pub mod accounts;
pub mod blocks;
pub mod bundle;
pub mod chain;
pub mod error;
pub mod escrow;
pub mod events;
pub mod finalized;
mod rpc;
pub mod token;

pub use bundle::Bundle;
pub use chain::{Chain, DryRun, SignedCall, TxEvents, TxProgress, TxStatus, Weight};
pub use error::{Error, Result};
pub use escrow::{Deploy, Escrow, Submitted, MAX_RELEASES_PER_CALL};
pub use finalized::{Finalized, FinalizedBlocks, FollowOptions};
pub use subxt_signer::sr25519::{dev, Keypair};
pub use token::Token;

/// The node's runtime API, generated from its metadata.
#[subxt::subxt(runtime_metadata_path = "metadata/contracts-node-0.42.0.scale")]
#[allow(missing_docs, clippy::all, clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod node {}

/// A 32-byte account id, as the chain and the `settlement` rules use it.
pub type AccountId = [u8; 32];

/// The account id of a key pair.
#[must_use]
pub fn account_of(key: &Keypair) -> AccountId {
    key.public_key().0
}

/// Milliseconds since the Unix epoch by the wall clock, as the node stamps its blocks: what a receipt's
/// expiry and a job's end are compared with off chain.
#[must_use]
pub fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    u64::try_from(since.map(|d| d.as_millis()).unwrap_or_default()).unwrap_or(u64::MAX)
}
