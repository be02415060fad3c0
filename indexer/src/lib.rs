//! # indexer
//!
//! Follows the chain, mirrors every escrow contract event into Postgres and serves auditors the
//! settlement history.
//!
//! Not built yet (issue 4): this crate only reserves its place in the workspace.
