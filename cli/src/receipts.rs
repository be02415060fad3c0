//! Receipts from the command line: `escrow keygen` (a consumer's payer key), `escrow sign` (a consumer's
//! job runner signs a cumulative receipt) and `escrow submit` (a provider sends receipts to a gateway).

use std::path::{Path, PathBuf};

use clap::Args;
use ed25519_dalek::SigningKey;
use escrow_client::accounts::account;
use escrow_client::{Chain, Token};
use gateway::answers::BatchAnswer;
use gateway::wire::{bytes, to_hex, SignedReceiptJson};
use serde_json::{json, Value};
use settlement::{Domain, Receipt};

use crate::context::{CliResult, Global};
use crate::output::{Amount, Out};

/// `escrow sign`'s options.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// File with the payer key (from `keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// The escrow contract's address.
    #[arg(long, env = "ESCROW_CONTRACT")]
    pub contract: String,
    /// The chain's genesis hash (hex); read from the node when omitted (with it and --planck, the
    /// node is not needed).
    #[arg(long)]
    pub genesis_hash: Option<String>,
    /// The job.
    #[arg(long)]
    pub job: u64,
    /// The provider paid.
    #[arg(long)]
    pub provider: String,
    /// Cumulative amount owed to this provider on this job.
    #[arg(long)]
    pub amount: Amount,
    /// Cumulative usage units.
    #[arg(long, default_value_t = 0)]
    pub units: u128,
    /// Sequence number (informational, recorded when released: by convention increasing per job and
    /// provider from 1; receipts are ordered by --amount).
    #[arg(long)]
    pub sequence: u64,
    /// Expiry, ms since the Unix epoch (default: in 24 hours).
    #[arg(long)]
    pub expires_at: Option<u64>,
}

/// `escrow submit`'s options.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The gateway's base URL.
    #[arg(long, env = "ESCROW_GATEWAY", default_value = "http://127.0.0.1:8080")]
    pub gateway: String,
    /// The receipts (a JSON object or array; `-` reads stdin).
    pub file: PathBuf,
}

/// A fresh ed25519 payer key: `{ "secret": seed hex, "public": key hex }`.
#[must_use]
pub fn keygen() -> Value {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    json!({ "secret": to_hex(key.as_bytes()), "public": to_hex(key.verifying_key().as_bytes()) })
}

/// Reads a payer key: a file holding the JSON `keygen` writes, or holding the seed hex alone.
pub fn payer_key(path: &Path) -> CliResult<SigningKey> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let secret = match serde_json::from_str::<Value>(&text) {
        Ok(v) => v["secret"].as_str().map(str::to_owned).unwrap_or_default(),
        Err(_) => text.trim().to_owned(),
    };
    Ok(SigningKey::from_bytes(&bytes::<32>("secret", &secret)?))
}

/// Signs `receipt` with the payer key; returns it in the gateway's JSON form.
#[must_use]
pub fn sign(key: &SigningKey, receipt: &Receipt<escrow_client::AccountId>) -> SignedReceiptJson {
    SignedReceiptJson::from_signed(receipt, &receipt.sign(key))
}

/// `escrow sign`: prints the signed receipt.
pub async fn sign_command(a: SignArgs, global: &Global) -> CliResult {
    let chain = match (&a.genesis_hash, global.planck) {
        (Some(_), true) => None,
        _ => Some(Chain::connect(&global.node_url).await?),
    };
    let out = match &chain {
        Some(chain) => Out::of(global, chain).await?,
        None => Out::with_token(global, Token::dev()),
    };
    let genesis_hash = match (a.genesis_hash, &chain) {
        (Some(hex), _) => bytes::<32>("genesis_hash", &hex)?,
        (None, Some(chain)) => chain.genesis_hash(),
        (None, None) => return Err("give --genesis-hash or reach the node".into()),
    };
    let receipt = Receipt {
        domain: Domain { genesis_hash, contract: account(&a.contract)? },
        job_id: a.job,
        provider: account(&a.provider)?,
        amount: out.planck(&a.amount, "--amount")?,
        units: a.units,
        sequence: a.sequence,
        expires_at: a.expires_at.unwrap_or_else(|| escrow_client::now_ms().saturating_add(86_400_000)),
    };
    println!("{}", serde_json::to_string_pretty(&sign(&payer_key(&a.key)?, &receipt))?);
    Ok(())
}

/// Posts receipts (one JSON object or an array) to a gateway; returns the HTTP status and the answer.
pub async fn submit(gateway: &str, body: &Value) -> CliResult<(u16, Value)> {
    let url = format!("{}/v1/receipts", gateway.trim_end_matches('/'));
    let unreachable = |e: reqwest::Error| {
        format!("gateway unreachable at {url} (is `escrow serve` running there? --gateway or ESCROW_GATEWAY): {e}")
    };
    let response = reqwest::Client::new().post(&url).json(body).send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    let answer = response.json::<Value>().await.map_err(unreachable)?;
    Ok((status, answer))
}

/// `escrow submit`: prints the gateway's answer; fails unless it was a 2xx.
pub async fn submit_command(a: SubmitArgs) -> CliResult {
    let text = if a.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&a.file)?
    };
    let (status, answer) = submit(&a.gateway, &serde_json::from_str(&text)?).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    if !(200..300).contains(&status) {
        return Err(format!("the gateway answered {status}").into());
    }
    // A batch is answered 200 whatever became of its receipts: fail if any was refused.
    if let Ok(batch) = serde_json::from_value::<BatchAnswer>(answer) {
        let refused = batch.results.iter().filter(|v| !v.is_accepted()).count();
        if refused > 0 {
            return Err(format!("the gateway refused {refused} of {} receipts (see above)", batch.results.len()).into());
        }
    }
    Ok(())
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

        let args = Receipt {
            domain: Domain { genesis_hash: [1; 32], contract: [2; 32] },
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
