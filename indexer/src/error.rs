//! The indexer's one error type, and the one place errors become HTTP responses: a stable code, a
//! message safe to show, and a status. Internal details (database, node) are logged, never echoed.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::http::respond;
pub use service_kit::http::{ErrorBody, PublicError};

/// Everything that can go wrong in the indexer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A request is unusable (bad account, bad period, unknown format).
    #[error("{message}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// Nothing with that id.
    #[error("not found")]
    NotFound,
    /// The chain and the database disagree in a way retrying cannot fix (a stored block the chain no
    /// longer has, an event the contract's metadata does not describe; another chain or contract are
    /// [`Error::OtherChain`] and [`Error::OtherContract`]).
    #[error("{0}")]
    Fatal(String),
    /// The database was built for another chain than the node serves: it is refused, not followed.
    #[error(
        "this database indexes the chain with genesis 0x{}, the node serves 0x{}",
        hex::encode(.stored),
        hex::encode(.node)
    )]
    OtherChain {
        /// The genesis hash the database records.
        stored: [u8; 32],
        /// The node's.
        node: [u8; 32],
    },
    /// The database was built for another contract than the configured one: it is refused, not
    /// followed.
    #[error(
        "this database indexes contract {}, configured: {}",
        escrow_client::accounts::ss58(*.stored),
        escrow_client::accounts::ss58(*.configured)
    )]
    OtherContract {
        /// The contract the database records.
        stored: escrow_client::AccountId,
        /// The configured one.
        configured: escrow_client::AccountId,
    },
    /// Stored or chain data did not decode.
    #[error("decoding: {0}")]
    Decode(String),
    /// Postgres failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The node failed or could not be reached.
    #[error("chain: {0}")]
    Chain(#[from] escrow_client::Error),
    /// The API is serving as many requests as it may ([`crate::admission`]).
    #[error("overloaded")]
    Overloaded,
    /// A request took longer than the API allows ([`crate::admission`]).
    #[error("timed out")]
    TimedOut,
}

/// Result of an indexer operation.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// A bad-request error with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    /// Whether reconnecting and retrying may help (a dropped node or database), as opposed to a
    /// disagreement that needs an operator.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            // Constraint violations (class 23) and data exceptions (class 22) repeat on every retry:
            // the stored rows disagree with what is being written. Stop and say so.
            Self::Database(sqlx::Error::Database(e)) => {
                !e.code().is_some_and(|code| code.starts_with("23") || code.starts_with("22"))
            }
            Self::Database(_) | Self::Chain(_) => true,
            _ => false,
        }
    }
}

impl PublicError for Error {
    /// The stable code clients see.
    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } => code,
            Self::NotFound => "not_found",
            Self::Overloaded => "overloaded",
            Self::TimedOut => "timeout",
            Self::Config(_)
            | Self::Fatal(_)
            | Self::OtherChain { .. }
            | Self::OtherContract { .. }
            | Self::Decode(_)
            | Self::Database(_)
            | Self::Migrate(_)
            | Self::Chain(_) => "unavailable",
        }
    }

    /// The HTTP status.
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Overloaded | Self::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            Self::Config(_)
            | Self::Fatal(_)
            | Self::OtherChain { .. }
            | Self::OtherContract { .. }
            | Self::Decode(_)
            | Self::Database(_)
            | Self::Migrate(_)
            | Self::Chain(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The message clients see: the error itself for client faults, a fixed text for ours.
    fn public_message(&self) -> String {
        match self {
            Self::BadRequest { message, .. } => message.clone(),
            Self::NotFound => "not found".into(),
            Self::Overloaded => "the indexer is serving as many requests as it may; retry later".into(),
            Self::TimedOut => "the request took too long; ask for a smaller page or retry later".into(),
            _ => "the indexer cannot serve this right now; retry later".into(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        respond(&self)
    }
}
