//! # gateway
//!
//! Receives usage receipts signed by consumers, checks them with the `settlement` rules, keeps them
//! durably in Postgres and turns the newest receipt of each job into a payment release on chain
//! (issue 3; the service itself is not built yet).
//!
//! Today this crate holds the project's command-line tool, `escrow`, and the account parsing it uses.

pub mod accounts;
