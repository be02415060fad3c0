//! The bad-input matrix for the gateway's configuration file (`Config::load`), on what is the gateway's
//! own: amounts (`settle_threshold`, `relayer_min_balance`: any `u128` as a decimal string, or a TOML
//! integer), the strict loader underneath (repeated keys, NUL, unknown keys), and a bounded fuzz of
//! amounts round-tripping through a file. The loader's own fuzzing is `service-kit/tests/fuzz_config.rs`.
//!
//! `FUZZ_CASES=N` runs N cases of the property instead of its default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use figment::Jail;
use gateway::config::Amount;
use gateway::Config;
use proptest::prelude::*;

/// The gateway's configuration from a file holding `text`, in a clean environment.
fn load(text: &str) -> Result<Config, String> {
    let mut loaded = None;
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("gateway.toml", text)?;
        loaded = Some(Config::load(Some(Path::new("gateway.toml"))).map_err(|e| e.to_string()));
        Ok(())
    });
    loaded.expect("ran")
}

#[test]
fn amounts_past_u128_or_not_decimal_are_refused() {
    for value in [
        "\"340282366920938463463374607431768211456\"",
        "\"-1\"",
        "-1",
        "\"1.0\"",
        "1.0",
        "\"1e40\"",
        "1e40",
        "\" 1\"",
        "\"1 \"",
        "\"\"",
        "\"0x10\"",
        "\"1\\u00001\"",
        "99999999999999999999",
        "true",
    ] {
        let err = load(&format!("settle_threshold = {value}\n")).expect_err(value);
        assert!(err.contains("settle_threshold") || err.contains("U+0000"), "{value}: {err}");
    }
    let max = load("relayer_min_balance = \"340282366920938463463374607431768211455\"\n").unwrap();
    assert_eq!(max.relayer_min_balance, Amount(u128::MAX));
    assert_eq!(
        load("settle_threshold = 9223372036854775807\n").unwrap().settle_threshold,
        Amount(u128::try_from(i64::MAX).unwrap())
    );
}

#[test]
fn the_strict_loader_holds_for_the_gateway() {
    for (text, needle) in [
        ("max_batch = 5\nmax_batch = 6\n", "duplicate key"),
        ("database_url = \"postgres://u@h/gateway\\u0000x\"\n", "U+0000"),
        ("relayer_suri = \"//Alice\\u0000\"\n", "U+0000"),
        ("max_batch = 18446744073709551616\n", ""),
        ("max_batch = -1\n", "max_batch"),
        ("max_bach = 5\n", "max_bach"),
        ("[listen]\nport = 1\n", "listen"),
        ("max_batch = 0\n", "positive"),
    ] {
        let err = load(text).expect_err(text);
        assert!(err.contains(needle), "{text:?}: {err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_amount_round_trips_through_a_file(amount in any::<u128>()) {
        let c = load(&format!("settle_threshold = \"{amount}\"\n")).unwrap();
        prop_assert_eq!(c.settle_threshold, Amount(amount));
    }
}

#[test]
fn retention_is_bounded_and_its_passes_positive() {
    let keep = |s: u64| load(&format!("retention_keep_s = {s}\n"));
    assert_eq!(keep(0).unwrap().retention().keep_for, std::time::Duration::ZERO);
    assert!(keep(gateway::config::MAX_RETENTION_S).is_ok());
    let err = keep(gateway::config::MAX_RETENTION_S + 1).unwrap_err();
    assert!(err.contains("retention_keep_s"), "{err}");
    for key in ["retention_interval_s", "retention_lanes_per_pass", "retention_receipts_per_lane"] {
        let err = load(&format!("{key} = 0\n")).unwrap_err();
        assert!(err.contains(key), "{key}: {err}");
    }
}
