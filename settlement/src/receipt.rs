//! The usage receipt: what a consumer signs to pay a provider.
//!
//! A receipt states the *cumulative* amount owed (and usage units consumed) by one job to one of its
//! providers. A receipt with a higher cumulative amount supersedes every lower one, so a provider can
//! stream any number of receipts and settle all of them with one release of the highest. `units` and
//! `sequence` are informational (recorded when the receipt is released, never checked): nothing signed
//! with any sequence or units can keep a higher amount from settling.
//!
//! Signing bytes: [`RECEIPT_TAG`] followed by the SCALE encoding of [`Receipt`]. With 32-byte accounts
//! that is 24 + 152 = 176 bytes. The receipt binds its domain (the chain's genesis hash and the escrow
//! contract's account), so it cannot be replayed on another chain or against another contract.
//!
//! Signatures are ed25519, checked with `verify_strict` everywhere (on chain and off chain), so the
//! gateway never accepts a signature that the contract would refuse.

use alloc::vec::Vec;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use scale::Encode;

use crate::{Balance, JobId, Timestamp};

/// Fixed prefix of every receipt's signing bytes (24 bytes, versioned).
pub const RECEIPT_TAG: &[u8; 24] = b"compute-escrow/receipt/1";

/// An ed25519 public key (the payer key registered on a job).
pub type PublicKey = [u8; 32];
/// An ed25519 signature.
pub type SignatureBytes = [u8; 64];

/// Where a receipt is valid: one escrow contract on one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Domain<A> {
    /// The chain's genesis block hash.
    pub genesis_hash: [u8; 32],
    /// The escrow contract's account.
    pub contract: A,
}

/// A consumer's signed statement of what it owes one provider on one job, cumulatively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, scale::Encode, scale::Decode, scale_info::TypeInfo)]
pub struct Receipt<A> {
    /// Chain and contract this receipt is valid for.
    pub domain: Domain<A>,
    /// The job it pays from.
    pub job_id: JobId,
    /// The provider it pays.
    pub provider: A,
    /// Total amount owed to this provider on this job so far (cumulative): the one order among a
    /// lane's receipts, the highest supersedes.
    pub amount: Balance,
    /// Total usage units consumed so far (cumulative by convention; informational, never checked).
    pub units: u128,
    /// The signer's own counter, by convention increasing per (job, provider) from 1 (informational,
    /// never checked).
    pub sequence: u64,
    /// Milliseconds since the Unix epoch after which the receipt can no longer be settled.
    pub expires_at: Timestamp,
}

impl<A: Encode> Receipt<A> {
    /// The exact bytes that are signed: [`RECEIPT_TAG`] followed by the SCALE encoding.
    #[must_use]
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECEIPT_TAG.len().saturating_add(self.size_hint()));
        out.extend_from_slice(RECEIPT_TAG);
        self.encode_to(&mut out);
        out
    }

    /// Checks `signature` over this receipt against `payer_key` with ed25519 `verify_strict`.
    #[must_use]
    pub fn verify(&self, payer_key: &PublicKey, signature: &SignatureBytes) -> bool {
        verify_strict(payer_key, &self.signing_bytes(), signature)
    }

    /// The payer's signature over this receipt: what a consumer's job runner attaches to it. The one
    /// signer the CLI, the demo, the tests and the benchmarks use.
    #[must_use]
    pub fn sign(&self, payer: &SigningKey) -> SignatureBytes {
        payer.sign(&self.signing_bytes()).to_bytes()
    }
}

/// ed25519 `verify_strict` on raw bytes: rejects malformed and weak keys, non-canonical encodings and
/// signatures that only a cofactored check would accept.
#[must_use]
pub fn verify_strict(public_key: &PublicKey, message: &[u8], signature: &SignatureBytes) -> bool {
    PayerKey::new(public_key).verify_strict(message, signature)
}

/// A payer key decoded once (the point decompressed), for checking many signatures made with it the
/// same way [`verify_strict`] checks each: off chain, where one job's receipts come by the thousand. A
/// key that does not decode verifies nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayerKey(Option<VerifyingKey>);

impl PayerKey {
    /// Decodes `public_key`.
    #[must_use]
    pub fn new(public_key: &PublicKey) -> Self {
        Self(VerifyingKey::from_bytes(public_key).ok())
    }

    /// [`verify_strict`] with this key.
    #[must_use]
    pub fn verify_strict(&self, message: &[u8], signature: &SignatureBytes) -> bool {
        self.0.is_some_and(|key| key.verify_strict(message, &Signature::from_bytes(signature)).is_ok())
    }

    /// [`Receipt::verify`] with this key.
    #[must_use]
    pub fn verify<A: Encode>(&self, receipt: &Receipt<A>, signature: &SignatureBytes) -> bool {
        self.verify_strict(&receipt.signing_bytes(), signature)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn receipt() -> Receipt<[u8; 32]> {
        Receipt {
            domain: Domain { genesis_hash: [7; 32], contract: [9; 32] },
            job_id: 42,
            provider: [3; 32],
            amount: 1_000,
            units: 10,
            sequence: 1,
            expires_at: 1_700_000_000_000,
        }
    }

    #[test]
    fn signing_bytes_are_tag_then_scale_176_bytes() {
        let r = receipt();
        let bytes = r.signing_bytes();
        assert_eq!(bytes.len(), 176);
        assert_eq!(&bytes[..24], RECEIPT_TAG);
        assert_eq!(&bytes[24..], r.encode().as_slice());
    }

    #[test]
    fn verifies_own_signature_and_rejects_changes() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let r = receipt();
        let sig = r.sign(&key);
        assert_eq!(sig, key.sign(&r.signing_bytes()).to_bytes());
        let public = key.verifying_key().to_bytes();
        assert!(r.verify(&public, &sig));

        let mut more = r.clone();
        more.amount += 1;
        assert!(!more.verify(&public, &sig));
        let other = SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes();
        assert!(!r.verify(&other, &sig));
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(!r.verify(&public, &bad));
    }

    #[test]
    fn rejects_weak_and_malformed_keys() {
        let r = receipt();
        // The identity point is a weak (small-order) key: verify_strict refuses it whatever the signature.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1; // R = identity, s = 0 passes a cofactored check for the identity key
        assert!(!r.verify(&identity, &sig));
        // Not a point on the curve.
        assert!(!r.verify(&[0xff; 32], &sig));
    }

    #[test]
    fn a_key_decoded_once_judges_as_verify_does() {
        let signer = SigningKey::from_bytes(&[1; 32]);
        let r = receipt();
        let good = r.sign(&signer);
        let mut flipped = good;
        flipped[0] ^= 1;
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut weak = [0u8; 64];
        weak[0] = 1;
        let keys = [
            signer.verifying_key().to_bytes(),
            SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes(),
            identity,
            [0xff; 32],
        ];
        let mut more = r.clone();
        more.amount += 1;
        let mut accepted = 0;
        for key in &keys {
            for receipt in [&r, &more] {
                for signature in [good, flipped, weak] {
                    let verdict = receipt.verify(key, &signature);
                    assert_eq!(PayerKey::new(key).verify(receipt, &signature), verdict);
                    accepted += usize::from(verdict);
                }
            }
        }
        assert_eq!(accepted, 1, "only the signer's own signature on its own receipt");
    }
}
