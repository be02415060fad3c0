//! The crate's one error type.

/// What can go wrong talking to the chain or the contract.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node could not be reached, or refused or failed the transaction.
    #[error("chain: {0}")]
    Chain(#[from] Box<subxt::Error>),
    /// The contract bundle could not be read or lacks something.
    #[error("contract bundle: {0}")]
    Bundle(String),
    /// Bytes from the chain did not decode as expected.
    #[error("decoding: {0}")]
    Decode(#[from] scale::Error),
    /// The contract refused the message with this escrow error.
    #[error("escrow refused: {0:?}")]
    Escrow(settlement::Error),
    /// The contract call did not run to a result (trapped, ran out of gas, or an ink! language error).
    #[error("contract call failed: {0}")]
    Call(String),
}

impl From<subxt::Error> for Error {
    fn from(e: subxt::Error) -> Self {
        Self::Chain(Box::new(e))
    }
}

/// Result of a client operation.
pub type Result<T> = core::result::Result<T, Error>;
