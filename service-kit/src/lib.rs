//! # service-kit
//!
//! The plumbing the two services (`gateway`, `indexer`) share, so each keeps only what is its own:
//! [`config`] loads a configuration from its layers, [`http`] turns a service's error into the one JSON
//! error response, [`sql`] reads exact amounts and fixed-size bytes from Postgres rows.

pub mod config;
pub mod http;
pub mod sql;
