//! The `escrow` tool's subcommands for consumers and providers: payer keys, signing receipts, sending
//! them to a gateway, and a provider's balance and payout.

use std::path::Path;

use ed25519_dalek::{Signer, SigningKey};
use escrow_client::{AccountId, Escrow, Keypair};
use serde_json::{json, Value};
use settlement::{Domain, Receipt};

use crate::error::{Error, Result};
use crate::wire::{bytes, to_hex, SignedReceiptJson};

/// A fresh ed25519 payer key: `{ "secret": seed hex, "public": key hex }`.
#[must_use]
pub fn keygen() -> Value {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    json!({ "secret": to_hex(key.as_bytes()), "public": to_hex(key.verifying_key().as_bytes()) })
}

/// Reads a payer key: a file holding the JSON `keygen` writes, or holding the seed hex alone.
pub fn payer_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::bad_request("key_file", format!("{}: {e}", path.display())))?;
    let secret = match serde_json::from_str::<Value>(&text) {
        Ok(v) => v["secret"].as_str().map(str::to_owned).unwrap_or_default(),
        Err(_) => text.trim().to_owned(),
    };
    Ok(SigningKey::from_bytes(&bytes::<32>("secret", &secret)?))
}

/// What a consumer's job runner puts in a receipt.
#[derive(Debug, Clone)]
pub struct ReceiptArgs {
    /// The chain's genesis hash.
    pub genesis_hash: [u8; 32],
    /// The escrow contract.
    pub contract: AccountId,
    /// The job.
    pub job_id: u64,
    /// The provider paid.
    pub provider: AccountId,
    /// Cumulative amount owed.
    pub amount: u128,
    /// Cumulative usage units.
    pub units: u128,
    /// Sequence number.
    pub sequence: u64,
    /// Expiry, ms since the Unix epoch.
    pub expires_at: u64,
}

/// Signs a receipt with the payer key; returns it in the gateway's JSON form.
#[must_use]
pub fn sign(key: &SigningKey, a: &ReceiptArgs) -> SignedReceiptJson {
    let receipt = Receipt {
        domain: Domain { genesis_hash: a.genesis_hash, contract: a.contract },
        job_id: a.job_id,
        provider: a.provider,
        amount: a.amount,
        units: a.units,
        sequence: a.sequence,
        expires_at: a.expires_at,
    };
    let signature = key.sign(&receipt.signing_bytes()).to_bytes();
    SignedReceiptJson::from_signed(&receipt, &signature)
}

/// Posts receipts (one JSON object or an array) to a gateway; returns the HTTP status and the answer.
pub async fn submit(gateway: &str, body: &Value) -> Result<(u16, Value)> {
    let url = format!("{}/v1/receipts", gateway.trim_end_matches('/'));
    let unreachable = |e: reqwest::Error| Error::bad_request("gateway_unreachable", format!("{url}: {e}"));
    let response = reqwest::Client::new().post(&url).json(body).send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    let answer = response.json::<Value>().await.map_err(unreachable)?;
    Ok((status, answer))
}

/// A provider's claimable balance, stake and reputation.
pub async fn balance(escrow: &Escrow, account: AccountId) -> Result<Value> {
    let claimable = escrow.balance_of(account).await?;
    let stake = escrow.stake_of(account).await?;
    let (reputation, score) = escrow.reputation_of(account).await?;
    Ok(json!({
        "claimable": claimable.to_string(),
        "stake": { "active": stake.active.to_string(), "unbonding": stake.unbonding.to_string(),
                   "unlock_at": stake.unlock_at, "pending_disputes": stake.pending_disputes },
        "reputation": { "jobs_completed": reputation.jobs_completed, "volume": reputation.volume.to_string(),
                        "disputes_lost": reputation.disputes_lost, "slashed": reputation.slashed.to_string(),
                        "score": score },
    }))
}

/// Pays out the signer's claimable balance; returns the amount.
pub async fn claim(escrow: &Escrow, signer: &Keypair) -> Result<u128> {
    Ok(escrow.claim(signer).await?.value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_a_file_and_sign_verifiable_receipts() {
        let key = keygen();
        let dir = std::env::temp_dir().join(format!("escrow-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json_file = dir.join("payer.json");
        std::fs::write(&json_file, key.to_string()).unwrap();
        let seed_file = dir.join("payer.seed");
        std::fs::write(&seed_file, format!("{}\n", key["secret"].as_str().unwrap())).unwrap();
        let from_json = payer_key(&json_file).unwrap();
        assert_eq!(from_json.to_bytes(), payer_key(&seed_file).unwrap().to_bytes());
        assert_eq!(to_hex(from_json.verifying_key().as_bytes()), key["public"]);

        let args = ReceiptArgs {
            genesis_hash: [1; 32],
            contract: [2; 32],
            job_id: 3,
            provider: [4; 32],
            amount: 500,
            units: 6,
            sequence: 7,
            expires_at: 8,
        };
        let signed = sign(&from_json, &args);
        let (receipt, signature) = SignedReceiptJson::from_value(&serde_json::to_value(&signed).unwrap()).unwrap();
        assert!(receipt.verify(&from_json.verifying_key().to_bytes(), &signature));
        std::fs::write(&seed_file, "not hex").unwrap();
        assert!(payer_key(&seed_file).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
