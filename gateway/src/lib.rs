//! # gateway
//!
//! Receives usage receipts signed by consumers, checks them with the `settlement` rules, keeps them
//! durably in Postgres and turns the newest receipt of each job into a payment release on chain.
//!
//! Not built yet (issue 3): this crate only reserves its place in the workspace.
