//! The gateway's HTTP answers as types: the server serializes them and its clients (the `escrow` CLI,
//! the demo) deserialize them, so both sides read one definition. Amounts are decimal strings (they
//! pass 2^53), accounts and hashes hex. Errors answer with [`crate::error::ErrorBody`].

use serde::{Deserialize, Serialize};

use crate::wire::ReceiptJson;

/// The verdict on one receipt: the body of `POST /v1/receipts` with one receipt, and each item of a
/// batch's [`BatchAnswer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// Committed: stored durably (now, or before if `duplicate`).
    Accepted {
        /// The stored receipt's id.
        id: i64,
        /// The same receipt was stored before; nothing changed.
        duplicate: bool,
    },
    /// Refused; nothing was stored for it.
    Rejected {
        /// The stable code (`exceeds_escrow`, `bad_signature`, ...).
        code: String,
        /// What is wrong, for people.
        message: String,
    },
}

impl Verdict {
    /// Whether the receipt is stored.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }
}

/// The answer to a batch: one verdict per receipt, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// The verdicts.
    pub results: Vec<Verdict>,
}

/// `GET /v1/receipts/{id}`: a stored receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReceipt {
    /// Its id.
    pub id: i64,
    /// The receipt.
    pub receipt: ReceiptJson,
    /// The payer's signature (hex).
    pub signature: String,
    /// When it was committed (UTC, RFC 3339).
    pub accepted_at: String,
}

/// `GET /v1/jobs/{id}/settlement`: a job's lanes, accepted here against released on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSettlement {
    /// The job.
    pub job_id: u64,
    /// Its status on chain (`Open`, `Completed`, `Finalized`).
    pub status: String,
    /// Its deposit.
    pub deposit: String,
    /// Released on chain in all.
    pub released: String,
    /// When it stops taking receipts (ms since the Unix epoch).
    pub ends_at: u64,
    /// One entry per provider on the job.
    pub providers: Vec<ProviderSettlement>,
}

/// One provider's lane of a [`JobSettlement`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSettlement {
    /// The provider (hex).
    pub provider: String,
    /// The newest receipt accepted here, if any.
    pub accepted: Option<AcceptedReceipt>,
    /// What the chain has released.
    pub released: Released,
    /// Accepted here and not yet released.
    pub pending: String,
}

/// The newest accepted receipt of a lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedReceipt {
    /// Its id.
    pub receipt_id: i64,
    /// Its cumulative amount.
    pub amount: String,
    /// Its cumulative units.
    pub units: String,
    /// Its sequence.
    pub sequence: u64,
}

/// What the chain has released on a lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// Cumulative amount released.
    pub amount: String,
    /// The sequence of the receipt released last.
    pub sequence: u64,
}

/// `GET /v1/jobs/{id}/lanes/{provider}/commitments`: a page of a lane's compaction commitments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitments {
    /// Every receipt the lane accepted at or below this amount is a leaf of one of these commitments
    /// (a range with none has no commitment).
    pub compacted_to: String,
    /// In amount order.
    pub commitments: Vec<LaneCommitment>,
    /// The `after` of the next page (null at the end).
    pub next: Option<String>,
}

/// `GET /v1/jobs/{id}/lanes/{provider}/receipts`: a page of a lane's stored receipts, in amount order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneReceipts {
    /// In amount order.
    pub receipts: Vec<StoredReceipt>,
    /// The `after` of the next page (null at the end).
    pub next: Option<String>,
}

/// What a lane keeps of one compaction ([`crate::commitment::Commitment`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneCommitment {
    /// The amount the range starts above.
    pub from: String,
    /// The highest amount of the range.
    pub to: String,
    /// How many accepted receipts the range held (the tree's leaves).
    pub leaves: u64,
    /// The Merkle root over their digests in amount order, hex.
    pub root: String,
    /// How many of them were deleted; the others are still stored.
    pub deleted: u64,
    /// When (RFC 3339).
    pub compacted_at: String,
}

/// `GET /readyz`: whether each dependency answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Postgres answered.
    pub postgres: bool,
    /// The node answered.
    pub node: bool,
    /// The relayer can pay for releases (absent without a relayer, or before its first check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relayer: Option<bool>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_back_as_sent_and_keep_their_wire_form() {
        let accepted = Verdict::Accepted { id: 7, duplicate: false };
        let rejected = Verdict::Rejected { code: "bad_signature".into(), message: "no".into() };
        let batch = BatchAnswer { results: vec![accepted.clone(), rejected.clone()] };
        let text = serde_json::to_string(&batch).unwrap();
        assert_eq!(
            text,
            r#"{"results":[{"status":"accepted","id":7,"duplicate":false},{"status":"rejected","code":"bad_signature","message":"no"}]}"#
        );
        assert_eq!(serde_json::from_str::<BatchAnswer>(&text).unwrap(), batch);
        assert!(accepted.is_accepted() && !rejected.is_accepted());
    }
}
