//! The gateway's one error type, and the one place errors become HTTP responses: a stable code, a
//! message safe to show, and a status. Internal details (database, node) are logged, never echoed.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::http::respond;
pub use service_kit::http::{ErrorBody, PublicError};

use crate::accept::Refusal;

/// Everything that can go wrong in the gateway.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The request itself is unusable (malformed JSON, wrong field, too large).
    #[error("{message}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// A receipt was refused: it broke a settlement rule, or it (or its job) ends too soon to settle.
    #[error("receipt refused: {0:?}")]
    Refused(Refusal),
    /// Nothing with that id.
    #[error("not found")]
    NotFound,
    /// Postgres failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The node or the contract failed.
    #[error("chain: {0}")]
    Chain(#[from] escrow_client::Error),
    /// A socket failed (binding the listen address, serving).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// This replica no longer leads the settlement loop: its session lost the lock (Postgres restarted,
    /// or the session was ended), so what it was about to send is left to the new leader.
    #[error("no longer the settlement leader")]
    NotLeader,
    /// A failure shared by several requests (a group commit's), answered to each as itself.
    #[error("{0}")]
    Shared(std::sync::Arc<Error>),
    /// The gateway serves as many requests as it allows at once ([`crate::limits`]); this one was shed.
    #[error("overloaded")]
    Overloaded,
    /// The client is over one of its limits ([`crate::limits`]): `too_many_in_flight` or `rate_limited`.
    #[error("{code}")]
    Limited {
        /// Which limit.
        code: &'static str,
        /// When the client may try again.
        retry_after: std::time::Duration,
    },
    /// The request took longer than `request_timeout_ms`.
    #[error("request timed out")]
    TimedOut,
}

/// Result of a gateway operation.
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// A bad-request error with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    /// A receipt refused for breaking settlement rule `e`.
    #[must_use]
    pub const fn rule(e: settlement::Error) -> Self {
        Self::Refused(Refusal::Rule(e))
    }
}

impl PublicError for Error {
    /// The stable code clients see.
    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } => code,
            Self::Refused(e) => refusal_code(*e),
            Self::NotFound => "not_found",
            Self::Shared(e) => e.code(),
            Self::Overloaded => "overloaded",
            Self::Limited { code, .. } => code,
            Self::TimedOut => "timeout",
            Self::Config(_) | Self::Database(_) | Self::Migrate(_) | Self::Chain(_) | Self::Io(_) | Self::NotLeader => {
                "unavailable"
            }
        }
    }

    /// The HTTP status.
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { code: "body_too_large", .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Shared(e) => e.status(),
            Self::Limited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded | Self::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            Self::Config(_) | Self::Database(_) | Self::Migrate(_) | Self::Chain(_) | Self::Io(_) | Self::NotLeader => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The message clients see: the error itself for client faults, a fixed text for ours.
    fn public_message(&self) -> String {
        match self {
            Self::BadRequest { message, .. } => message.clone(),
            Self::Refused(e) => refusal_message(*e).to_string(),
            Self::NotFound => "not found".into(),
            Self::Shared(e) => e.public_message(),
            Self::Overloaded => "the gateway is serving as many requests as it can; retry shortly".into(),
            Self::Limited { code: "too_many_in_flight", .. } => {
                "this client has as many requests in flight as it may; wait for one to finish".into()
            }
            Self::Limited { .. } => {
                "this client is over its request or receipt rate; retry after the delay given".into()
            }
            Self::TimedOut => "the request took too long and was abandoned; retry (a receipt committed meanwhile \
                               is answered as a duplicate)"
                .into(),
            Self::Config(_) | Self::Database(_) | Self::Migrate(_) | Self::Chain(_) | Self::Io(_) | Self::NotLeader => {
                "the gateway cannot serve this right now; retry later".into()
            }
        }
    }
}

impl Error {
    /// When the client may try again, for the `Retry-After` header (whole seconds, at least 1).
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Limited { retry_after, .. } => Some(retry_after.as_secs().saturating_add(1)),
            Self::Overloaded | Self::TimedOut => Some(1),
            Self::Shared(e) => e.retry_after(),
            _ => None,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        // Shedding load is not a fault to log once per request (a flood would fill the log): counted in
        // `gateway_requests_limited_total` instead.
        let mut response = if matches!(self, Self::Overloaded | Self::TimedOut) {
            let body = ErrorBody { code: self.code().into(), message: self.public_message() };
            (self.status(), axum::Json(body)).into_response()
        } else {
            respond(&self)
        };
        if let Some(secs) = self.retry_after() {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// The stable code of each refusal (also the `code` label of the rejection metric): the contract's for
/// its rules, the gateway's own for what would end before a release could land.
#[must_use]
pub fn refusal_code(r: Refusal) -> &'static str {
    match r {
        Refusal::Rule(e) => rule_code(e),
        Refusal::JobEndsTooSoon => "job_ends_too_soon",
        Refusal::ExpiresTooSoon => "expires_too_soon",
        Refusal::AllocationThawing => "allocation_thawing",
    }
}

fn refusal_message(r: Refusal) -> &'static str {
    match r {
        Refusal::Rule(e) => rule_message(e),
        Refusal::JobEndsTooSoon => {
            "the job ends within the gateway's acceptance margin, too soon for a release to land on chain before \
             it does; the gateway accepts no more receipts for it"
        }
        Refusal::ExpiresTooSoon => {
            "the receipt expires within the gateway's acceptance margin, too soon for its release to land on chain; \
             ask the consumer for a receipt with a later expiry"
        }
        Refusal::AllocationThawing => {
            "the consumer is thawing the provider's allocation: it drops below this receipt's amount within the \
             gateway's acceptance margin, too soon for a release to land before it does"
        }
    }
}

/// The stable code of each settlement rule's refusal (the contract's error).
#[must_use]
pub fn rule_code(e: settlement::Error) -> &'static str {
    use settlement::Error as E;
    match e {
        E::WrongChain => "wrong_chain",
        E::WrongContract => "wrong_contract",
        E::JobNotFound => "unknown_job",
        E::JobEnded => "job_ended",
        E::JobFinalized => "job_finalized",
        E::NotAProvider => "not_a_provider",
        E::NotAccepted => "not_accepted",
        E::ReceiptExpired => "receipt_expired",
        E::Replayed => "stale_sequence",
        E::CumulativeNotIncreasing => "cumulative_not_increasing",
        E::UnitsDecreased => "units_decreased",
        E::ExceedsEscrow => "exceeds_escrow",
        E::ExceedsAllocation => "exceeds_allocation",
        E::BadSignature => "bad_signature",
        E::Overflow => "overflow",
        _ => "refused",
    }
}

fn rule_message(e: settlement::Error) -> &'static str {
    use settlement::Error as E;
    match e {
        E::WrongChain => "the receipt was signed for another chain",
        E::WrongContract => "the receipt was signed for another escrow contract",
        E::JobNotFound => "no such job in the escrow",
        E::JobEnded => "the job has ended and accepts no more receipts",
        E::JobFinalized => "the job is finalized",
        E::NotAProvider => "the receipt's provider is not on the job",
        E::NotAccepted => "the receipt's provider has not accepted the job on chain (`accept_job`) yet",
        E::ReceiptExpired => "the receipt has expired",
        // Not returned since v2: receipts are ordered by cumulative amount; sequence and units are
        // informational. Kept so an old code still reads sensibly.
        E::Replayed => "not returned since v2 (receipts are ordered by cumulative amount, not sequence)",
        E::CumulativeNotIncreasing => {
            "the cumulative amount is not above the last accepted or settled receipt's (a replay, an older or a \
             superseded receipt)"
        }
        E::UnitsDecreased => "not returned since v2 (units are informational, never checked)",
        E::ExceedsEscrow => "the cumulative amounts would exceed the job's escrowed deposit",
        E::ExceedsAllocation => "the cumulative amount is above the provider's allocation on the job",
        E::BadSignature => "the signature does not verify against the job's payer key",
        E::Overflow => "an amount overflows",
        _ => "the escrow rules refuse this receipt",
    }
}
