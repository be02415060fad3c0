//! Amounts as people read and write them: tokens with the chain's decimals (`12.5`), converted exactly
//! to and from the chain's smallest unit (planck), which is what the contract and every service use.

use crate::chain::Chain;
use crate::error::{Error, Result};

/// Decimals of the dev chain's native token (`substrate-contracts-node --dev`).
pub const DEV_DECIMALS: u8 = 12;

/// One token of the dev chain, in planck.
pub const DEV_UNIT: u128 = 1_000_000_000_000;

/// The chain's native token: how many decimals one token has, and its symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Decimal places between a token and the smallest unit.
    pub decimals: u8,
    /// Its ticker, as the chain announces it.
    pub symbol: String,
}

/// Why a text is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not digits with at most one decimal point.
    #[error("`{0}` is not an amount (digits, optionally one `.` and more digits)")]
    Malformed(String),
    /// More decimal places than the token has.
    #[error("`{text}` has more than {decimals} decimal places")]
    TooPrecise {
        /// The text given.
        text: String,
        /// The token's decimals.
        decimals: u8,
    },
    /// Past `u128::MAX` planck.
    #[error("`{0}` is too large")]
    TooLarge(String),
}

impl Token {
    /// The dev chain's token: 12 decimals.
    #[must_use]
    pub fn dev() -> Self {
        Self { decimals: DEV_DECIMALS, symbol: "UNIT".into() }
    }

    /// One token in planck (`None` past `u128`: more than 38 decimals).
    #[must_use]
    pub fn unit(&self) -> Option<u128> {
        10u128.checked_pow(u32::from(self.decimals))
    }

    /// `amount` planck in tokens, exactly: no trailing zeros, no rounding (`28.5`, `0.000000000001`).
    #[must_use]
    pub fn format(&self, amount: u128) -> String {
        let digits = amount.to_string();
        let decimals = usize::from(self.decimals);
        if decimals == 0 {
            return digits;
        }
        let padded = format!("{digits:0>width$}", width = decimals.saturating_add(1));
        let (whole, frac) = padded.split_at(padded.len().saturating_sub(decimals));
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{frac}")
        }
    }

    /// Tokens (`12.5`, `0.000000000001`, `7`) in planck, exactly; more decimal places than the token
    /// has, or a value past `u128`, is an error, never rounded.
    pub fn parse(&self, text: &str) -> std::result::Result<u128, AmountError> {
        let malformed = || AmountError::Malformed(text.to_string());
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) || text.ends_with('.') {
            return Err(malformed());
        }
        let decimals = usize::from(self.decimals);
        if frac.len() > decimals {
            return Err(AmountError::TooPrecise { text: text.to_string(), decimals: self.decimals });
        }
        let mut planck = String::with_capacity(whole.len().saturating_add(decimals));
        planck.push_str(whole);
        planck.push_str(frac);
        planck.extend(std::iter::repeat_n('0', decimals.saturating_sub(frac.len())));
        let planck = planck.trim_start_matches('0');
        if planck.is_empty() {
            return Ok(0);
        }
        planck.parse::<u128>().map_err(|_| AmountError::TooLarge(text.to_string()))
    }
}

impl Chain {
    /// The native token as the node announces it (`system_properties`: `tokenDecimals`,
    /// `tokenSymbol`). A node that announces no decimals is only taken to have the dev chain's 12 when it
    /// is a dev chain (`system_chain` is `Development`, as `substrate-contracts-node --dev` says);
    /// anywhere else guessing could misread every amount by powers of ten, so that is an error.
    pub async fn token(&self) -> Result<Token> {
        let props = self.rpc().system_properties().await.map_err(subxt::Error::from)?;
        let first = |v: Option<&serde_json::Value>| match v {
            Some(serde_json::Value::Array(items)) => items.first().cloned(),
            other => other.cloned(),
        };
        let symbol = first(props.get("tokenSymbol")).and_then(|v| v.as_str().map(str::to_string));
        let decimals = match first(props.get("tokenDecimals")) {
            Some(v) => v
                .as_u64()
                .and_then(|d| u8::try_from(d).ok())
                .ok_or_else(|| Error::Call(format!("the node announces token decimals {v}")))?,
            None => {
                let chain = self.rpc().system_chain().await.map_err(subxt::Error::from)?;
                if chain != "Development" {
                    return Err(Error::Call(format!(
                        "the node ({chain}) announces no token decimals; give amounts in planck (--planck)"
                    )));
                }
                DEV_DECIMALS
            }
        };
        Ok(Token { decimals, symbol: symbol.unwrap_or_else(|| "UNIT".into()) })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_exactly() {
        let t = Token::dev();
        assert_eq!(t.format(0), "0");
        assert_eq!(t.format(30 * DEV_UNIT), "30");
        assert_eq!(t.format(28_500_000_000_000), "28.5");
        assert_eq!(t.format(1), "0.000000000001");
        assert_eq!(t.format(u128::MAX), "340282366920938463463374607.431768211455");
        assert_eq!(Token { decimals: 0, symbol: "X".into() }.format(17), "17");
    }

    #[test]
    fn parses_exactly_and_round_trips() {
        let t = Token::dev();
        assert_eq!(t.parse("12.5"), Ok(12_500_000_000_000));
        assert_eq!(t.parse("7"), Ok(7 * DEV_UNIT));
        assert_eq!(t.parse(".5"), Ok(DEV_UNIT / 2));
        assert_eq!(t.parse("0.000000000001"), Ok(1));
        assert_eq!(t.parse("000"), Ok(0));
        for amount in [0, 1, 999, DEV_UNIT, 12_345_678_901_234_567, u128::MAX] {
            assert_eq!(t.parse(&t.format(amount)), Ok(amount));
        }
    }

    #[test]
    fn refuses_what_is_not_an_exact_amount() {
        let t = Token::dev();
        for bad in ["", ".", "1.", "-1", "+1", "1e3", "1,5", "1.2.3", " 1", "0x10", "½"] {
            assert!(matches!(t.parse(bad), Err(AmountError::Malformed(_))), "{bad:?}");
        }
        assert!(matches!(t.parse("0.0000000000001"), Err(AmountError::TooPrecise { decimals: 12, .. })));
        assert!(matches!(t.parse("340282366920938463463374607.431768211456"), Err(AmountError::TooLarge(_))));
        assert!(matches!(t.parse("1000000000000000000000000000000"), Err(AmountError::TooLarge(_))));
    }
}
