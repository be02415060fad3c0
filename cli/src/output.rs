//! How commands read and print amounts and results: amounts in tokens with the chain's decimals
//! (`12.5`), or integer planck with the global `--planck`; a human answer, or one JSON object with the
//! global `--json` (amounts in it are strings, in the same unit, named by its `unit` field).

use std::str::FromStr;

use escrow_client::token::AmountError;
use escrow_client::{now_ms, Chain, Token};
use serde_json::{json, Value};

use crate::context::{CliResult, Global};

/// An amount as typed: digits with at most one decimal point. Its shape is checked when the command
/// line is parsed; it is converted exactly once the chain's decimals are known ([`Out::planck`]).
#[derive(Debug, Clone)]
pub struct Amount(String);

impl FromStr for Amount {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        // The shape alone: 38 decimals accept any well-formed figure a real token would.
        let widest = Token { decimals: 38, symbol: String::new() };
        match widest.parse(text) {
            Err(e @ AmountError::Malformed(_)) => Err(e.to_string()),
            _ => Ok(Self(text.to_string())),
        }
    }
}

/// The chain's token and how the user wants amounts and answers.
#[derive(Debug, Clone)]
pub struct Out {
    /// The chain's native token (decimals, symbol).
    pub token: Token,
    /// Amounts in planck (`--planck`) rather than tokens.
    pub planck: bool,
    /// One JSON object (`--json`) rather than lines for people.
    pub json: bool,
}

impl Out {
    /// The options of `global` with the token the node at `chain` announces.
    pub async fn of(global: &Global, chain: &Chain) -> CliResult<Self> {
        Ok(Self::with_token(global, chain.token().await?))
    }

    /// The options of `global` with a known token.
    #[must_use]
    pub fn with_token(global: &Global, token: Token) -> Self {
        Self { token, planck: global.planck, json: global.json }
    }

    /// `amount` in planck: read as tokens, or as a whole number of planck with `--planck`. `what` names
    /// the option in the error (`--deposit`).
    pub fn planck(&self, amount: &Amount, what: &str) -> CliResult<u128> {
        let text = &amount.0;
        if self.planck {
            return text
                .parse::<u128>()
                .map_err(|_| format!("{what}: `{text}` is not a whole number of planck").into());
        }
        Ok(self.token.parse(text).map_err(|e| format!("{what}: {e}"))?)
    }

    /// An amount without its unit: `12.5`, or `12500000000000` with `--planck`.
    #[must_use]
    pub fn figure(&self, planck: u128) -> String {
        if self.planck {
            planck.to_string()
        } else {
            self.token.format(planck)
        }
    }

    /// An amount for people: `12.5 UNIT`, or `12500000000000 planck`.
    #[must_use]
    pub fn show(&self, planck: u128) -> String {
        format!("{} {}", self.figure(planck), self.unit())
    }

    /// An amount for JSON: the figure as a string (exact past 2^53).
    #[must_use]
    pub fn value(&self, planck: u128) -> Value {
        Value::String(self.figure(planck))
    }

    /// The unit amounts are in: the token's symbol, or `planck`.
    #[must_use]
    pub fn unit(&self) -> &str {
        if self.planck {
            "planck"
        } else {
            &self.token.symbol
        }
    }

    /// Prints a command's answer: `human` as it is, or with `--json` the object `json` with the `unit`
    /// its amounts are in.
    pub fn print(&self, human: &str, mut json: Value) -> CliResult {
        if self.json {
            if let Value::Object(fields) = &mut json {
                fields.insert("unit".into(), json!(self.unit()));
            }
            println!("{}", serde_json::to_string_pretty(&json)?);
        } else {
            println!("{human}");
        }
        Ok(())
    }
}

/// A time for people: ms since the Unix epoch and how far from now (`1767225600000 (in 2 min)`).
#[must_use]
pub fn when(ms: u64) -> String {
    let now = now_ms();
    let (distance, future) = if ms >= now { (ms.saturating_sub(now), true) } else { (now.saturating_sub(ms), false) };
    let secs = std::time::Duration::from_millis(distance).as_secs();
    if secs == 0 {
        return format!("{ms} (now)");
    }
    let span = match secs {
        0..120 => format!("{secs} s"),
        120..7_200 => format!("{} min", secs.div_euclid(60)),
        7_200..172_800 => format!("{} h", secs.div_euclid(3_600)),
        _ => format!("{} days", secs.div_euclid(86_400)),
    };
    if future {
        format!("{ms} (in {span})")
    } else {
        format!("{ms} ({span} ago)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn out(planck: bool) -> Out {
        Out { token: Token::dev(), planck, json: false }
    }

    #[test]
    fn amounts_read_and_print_in_tokens_or_planck() {
        let amount: Amount = "12.5".parse().unwrap();
        assert_eq!(out(false).planck(&amount, "--x").unwrap(), 12_500_000_000_000);
        assert!(out(true).planck(&amount, "--x").unwrap_err().to_string().contains("--x"));
        let whole: Amount = "12500000000000".parse().unwrap();
        assert_eq!(out(true).planck(&whole, "--x").unwrap(), 12_500_000_000_000);
        assert_eq!(out(false).show(12_500_000_000_000), "12.5 UNIT");
        assert_eq!(out(true).show(12_500_000_000_000), "12500000000000 planck");
        assert_eq!(out(false).value(1), json!("0.000000000001"));
        let precise: Amount = "0.0000000000001".parse().unwrap();
        assert!(out(false).planck(&precise, "--x").unwrap_err().to_string().contains("decimal places"));
        for bad in ["", "1,5", "-1", "1e3", "abc", "1."] {
            assert!(bad.parse::<Amount>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_say_how_far_from_now() {
        assert!(when(now_ms().saturating_add(90_500)).ends_with("(in 90 s)"));
        assert!(when(now_ms().saturating_sub(3 * 3_600_000 + 500)).ends_with("(3 h ago)"));
    }
}
