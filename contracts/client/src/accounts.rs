//! Naming accounts on the command line: a secret URI (`//Alice`, a mnemonic, `0x` seed) for signers, and
//! for plain accounts also an SS58 address or 32 bytes of hex.

use std::str::FromStr;

use crate::{account_of, AccountId, Keypair};
use subxt::utils::AccountId32;
use subxt_signer::SecretUri;

/// Why an account could not be read.
#[derive(Debug, thiserror::Error)]
#[error("`{input}` is not an SS58 address, 32-byte hex or secret URI: {reason}")]
pub struct AccountError {
    input: String,
    reason: String,
}

/// A signing key from a secret URI such as `//Alice`. The error never repeats the input: a mistyped
/// mnemonic or seed is still a secret.
pub fn keypair(uri: &str) -> Result<Keypair, AccountError> {
    let err = |reason: String| AccountError { input: "(the secret URI given)".to_string(), reason };
    let secret = SecretUri::from_str(uri).map_err(|e| err(e.to_string()))?;
    Keypair::from_uri(&secret).map_err(|e| err(e.to_string()))
}

/// An account from an SS58 address, `0x` + 64 hex digits, or a secret URI (its public key).
pub fn account(input: &str) -> Result<AccountId, AccountError> {
    if let Ok(id) = AccountId32::from_str(input) {
        return Ok(id.0);
    }
    if let Some(hex_digits) = input.strip_prefix("0x").filter(|h| h.len() == 64) {
        let bytes = hex::decode(hex_digits).map_err(|e| AccountError { input: input.into(), reason: e.to_string() })?;
        let mut id = [0u8; 32];
        id.copy_from_slice(&bytes);
        return Ok(id);
    }
    keypair(input).map(|k| account_of(&k))
}

/// The SS58 form of an account (generic Substrate prefix 42).
#[must_use]
pub fn ss58(account: AccountId) -> String {
    AccountId32(account).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_name_the_same_account() {
        let alice = account("//Alice").unwrap_or_default();
        assert_eq!(account(&ss58(alice)).ok(), Some(alice));
        assert_eq!(account(&format!("0x{}", hex::encode(alice))).ok(), Some(alice));
        assert_eq!(ss58(alice), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    }

    #[test]
    fn garbage_is_refused_without_echoing_what_may_be_a_secret() {
        // Words that are not a mnemonic may be a mistyped one: the error never repeats them.
        let e = account("not an account").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("not an SS58 address") && !e.contains("not an account"), "{e}");
        let typo = keypair("bottom drive obey lake curtain smoke basket hold race lonely fit walks");
        let e = typo.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!e.is_empty() && !e.contains("bottom drive"), "{e}");
        assert!(account("0x1234").is_err());
    }
}
