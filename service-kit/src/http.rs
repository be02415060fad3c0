//! The one shape of an error answer: every service's error type says its status, a stable code and a
//! message safe to show ([`PublicError`]); [`respond`] logs server faults and answers
//! `{"code", "message"}`, so internals (database, node) never reach a client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// The JSON body of every error response.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// What a service's error shows a client.
pub trait PublicError: std::fmt::Display {
    /// The HTTP status.
    fn status(&self) -> StatusCode;
    /// The stable code.
    fn code(&self) -> &'static str;
    /// The message: the error itself for client faults, a fixed text for the service's own.
    fn public_message(&self) -> String;
}

/// The response for `error`; a server fault is logged with its details first.
pub fn respond(error: &impl PublicError) -> Response {
    let status = error.status();
    if status.is_server_error() {
        tracing::error!(error = %error, "request failed");
    }
    (status, Json(ErrorBody { code: error.code().into(), message: error.public_message() })).into_response()
}
