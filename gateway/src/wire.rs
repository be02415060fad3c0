//! The JSON wire format of receipts: fixed-size byte strings as hex (`0x` optional, digits of either
//! case; written as `0x` and lower case), `u128` amounts as decimal strings of ASCII digits only (JSON
//! numbers lose precision past 2^53; leading zeros are read, never written), everything else as JSON
//! numbers. Unknown fields are refused.
//!
//! A request body is read strictly ([`Body::parse`]): an object naming a key twice is refused
//! (`duplicate_key`: which of two `amount`s a receipt meant is not ours to pick), and so is U+0000 in
//! any string or key (`nul_character`: nothing on the wire may hold it, and Postgres can store it in
//! neither text nor `jsonb`). Nesting is bounded by `serde_json`'s recursion limit (128).

mod strict;

use escrow_client::AccountId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use settlement::{Domain, Receipt};

use crate::error::{Error, Result};

/// A receipt as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptJson {
    /// Chain genesis hash (32 bytes, hex).
    pub genesis_hash: String,
    /// Escrow contract account (32 bytes, hex).
    pub contract: String,
    /// Job id.
    pub job_id: u64,
    /// Provider account (32 bytes, hex).
    pub provider: String,
    /// Cumulative amount (decimal string).
    pub amount: String,
    /// Cumulative usage units (decimal string).
    pub units: String,
    /// Sequence number.
    pub sequence: u64,
    /// Expiry, ms since the Unix epoch.
    pub expires_at: u64,
}

/// A receipt and the payer's signature, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReceiptJson {
    /// The receipt.
    pub receipt: ReceiptJson,
    /// ed25519 signature over the receipt's signing bytes (64 bytes, hex).
    pub signature: String,
}

/// A parsed, well-formed receipt (not yet checked against any rule).
pub type Signed = (Receipt<AccountId>, [u8; 64]);

fn invalid(field: &str, why: impl std::fmt::Display) -> Error {
    Error::bad_request("invalid_field", format!("`{field}`: {why}"))
}

/// `N` bytes from hex, with or without `0x`.
pub fn bytes<const N: usize>(field: &str, text: &str) -> Result<[u8; N]> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let raw = hex::decode(digits).map_err(|e| invalid(field, format!("not hex ({e})")))?;
    let len = raw.len();
    raw.try_into().map_err(|_| invalid(field, format!("expected {N} bytes, got {len}")))
}

/// A decimal amount (any `u128`).
pub fn amount(field: &str, text: &str) -> Result<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(field, "expected a decimal string of digits"));
    }
    text.parse().map_err(|_| invalid(field, "does not fit in 128 bits"))
}

/// `0x`-prefixed hex.
#[must_use]
pub fn to_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

impl ReceiptJson {
    /// The receipt these fields describe.
    pub fn parse(&self) -> Result<Receipt<AccountId>> {
        Ok(Receipt {
            domain: Domain {
                genesis_hash: bytes("receipt.genesis_hash", &self.genesis_hash)?,
                contract: bytes("receipt.contract", &self.contract)?,
            },
            job_id: self.job_id,
            provider: bytes("receipt.provider", &self.provider)?,
            amount: amount("receipt.amount", &self.amount)?,
            units: amount("receipt.units", &self.units)?,
            sequence: self.sequence,
            expires_at: self.expires_at,
        })
    }

    /// The JSON form of a receipt.
    #[must_use]
    pub fn from_receipt(r: &Receipt<AccountId>) -> Self {
        Self {
            genesis_hash: to_hex(&r.domain.genesis_hash),
            contract: to_hex(&r.domain.contract),
            job_id: r.job_id,
            provider: to_hex(&r.provider),
            amount: r.amount.to_string(),
            units: r.units.to_string(),
            sequence: r.sequence,
            expires_at: r.expires_at,
        }
    }
}

impl SignedReceiptJson {
    /// Parses one JSON value as a signed receipt.
    pub fn from_value(value: &serde_json::Value) -> Result<Signed> {
        let json = Self::deserialize(value).map_err(|e| {
            let code = if e.to_string().contains("unknown field") { "unknown_field" } else { "invalid_field" };
            Error::bad_request(code, e.to_string())
        })?;
        Ok((json.receipt.parse()?, bytes("signature", &json.signature)?))
    }

    /// The JSON form of a signed receipt.
    #[must_use]
    pub fn from_signed(receipt: &Receipt<AccountId>, signature: &[u8; 64]) -> Self {
        Self { receipt: ReceiptJson::from_receipt(receipt), signature: to_hex(signature) }
    }
}

/// A request body: one signed receipt (an object) or a batch (an array of them).
#[derive(Debug)]
pub enum Body {
    /// One receipt.
    One(serde_json::Value),
    /// A batch.
    Many(Vec<serde_json::Value>),
}

impl Body {
    /// Splits a body into its receipts without parsing them yet; `max_batch` caps a batch.
    pub fn parse(raw: &[u8], max_batch: usize) -> Result<Self> {
        match strict::read(raw)? {
            Value::Array(items) if items.is_empty() => {
                Err(Error::bad_request("empty_batch", "the batch holds no receipts"))
            }
            Value::Array(items) if items.len() > max_batch => Err(Error::bad_request(
                "batch_too_large",
                format!("{} receipts; at most {max_batch} per request", items.len()),
            )),
            Value::Array(items) => Ok(Self::Many(items)),
            obj @ Value::Object(_) => Ok(Self::One(obj)),
            _ => Err(Error::bad_request("malformed_json", "expected an object or an array of objects")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::PublicError;

    fn sample() -> SignedReceiptJson {
        let r = Receipt {
            domain: Domain { genesis_hash: [1; 32], contract: [2; 32] },
            job_id: 7,
            provider: [3; 32],
            amount: u128::MAX,
            units: 5,
            sequence: 9,
            expires_at: 1_000,
        };
        SignedReceiptJson::from_signed(&r, &[4; 64])
    }

    #[test]
    fn round_trips_through_json() {
        let json = serde_json::to_value(sample()).unwrap();
        let (r, sig) = SignedReceiptJson::from_value(&json).unwrap();
        assert_eq!((r.amount, r.job_id, r.provider, sig), (u128::MAX, 7, [3; 32], [4; 64]));
    }

    fn code_of(mutate: impl FnOnce(&mut serde_json::Value)) -> &'static str {
        let mut json = serde_json::to_value(sample()).unwrap();
        mutate(&mut json);
        SignedReceiptJson::from_value(&json).unwrap_err().code()
    }

    #[test]
    fn bad_fields_have_codes() {
        assert_eq!(code_of(|j| j["signature"] = "0x12".into()), "invalid_field");
        assert_eq!(code_of(|j| j["signature"] = "zz".into()), "invalid_field");
        assert_eq!(code_of(|j| j["receipt"]["provider"] = "0xabcd".into()), "invalid_field");
        assert_eq!(code_of(|j| j["receipt"]["amount"] = "-1".into()), "invalid_field");
        assert_eq!(code_of(|j| j["receipt"]["amount"] = "1e3".into()), "invalid_field");
        assert_eq!(
            code_of(|j| j["receipt"]["amount"] = "340282366920938463463374607431768211456".into()),
            "invalid_field"
        );
        assert_eq!(code_of(|j| j["receipt"]["amount"] = 5.into()), "invalid_field");
        assert_eq!(code_of(|j| j["extra"] = 1.into()), "unknown_field");
        assert_eq!(code_of(|j| j["receipt"]["tip"] = 1.into()), "unknown_field");
        assert_eq!(
            code_of(|j| j["receipt"].as_object_mut().unwrap().remove("job_id").map(drop).unwrap()),
            "invalid_field"
        );
    }

    #[test]
    fn bodies() {
        assert!(matches!(Body::parse(b"{}", 10), Ok(Body::One(_))));
        assert!(matches!(Body::parse(b"[{}, {}]", 10), Ok(Body::Many(v)) if v.len() == 2));
        assert_eq!(Body::parse(b"[]", 10).unwrap_err().code(), "empty_batch");
        assert_eq!(Body::parse(b"[{},{},{}]", 2).unwrap_err().code(), "batch_too_large");
        assert_eq!(Body::parse(b"{\"a\":", 10).unwrap_err().code(), "malformed_json");
        assert_eq!(Body::parse(b"42", 10).unwrap_err().code(), "malformed_json");
    }

    #[test]
    fn bodies_are_read_strictly() {
        let code = |raw: &[u8]| Body::parse(raw, 10).unwrap_err().code();
        assert_eq!(code(br#"{"receipt": {"amount": "1", "amount": "2"}}"#), "duplicate_key");
        assert_eq!(code(br#"[{}, {"a": 1, "b": 2, "a": 1}]"#), "duplicate_key", "even the same value twice");
        assert_eq!(code(br#"{"signature": "0x\u0000"}"#), "nul_character");
        assert_eq!(code(br#"{"a\u0000": 1}"#), "nul_character");
        assert_eq!(code(b"{\"a\": \"\0\"}"), "malformed_json", "a raw control character");
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(code(deep.as_bytes()), "malformed_json");
        assert!(Body::parse(format!("{}{}", "[".repeat(127), "]".repeat(127)).as_bytes(), 10).is_ok());
    }
}
