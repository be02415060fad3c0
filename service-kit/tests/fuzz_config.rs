//! Bounded fuzzing of the configuration loader (`service_kit::config::load`) through its file layer,
//! with a configuration shaped like the services' (strings, integers of several widths, a flag, unknown
//! fields denied), and the bad-input matrix for configuration files: repeated keys, NUL, numbers out of
//! range, unknown keys. The services' own value checks are tested in their crates.
//!
//! Each property runs a few hundred cases so the file stays within seconds; `FUZZ_CASES=N` runs N
//! per property instead (`FUZZ_CASES=20000 cargo test -p service-kit --test fuzz_config --release`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use std::path::Path;

use figment::Jail;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use service_kit::config::load;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Demo {
    node_url: String,
    batch: u32,
    start_block: u64,
    max_body_bytes: usize,
    progress: bool,
}

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Loads `Demo` from a file holding `bytes`, in a clean environment.
fn load_file(bytes: &[u8]) -> Result<Demo, String> {
    let mut loaded = None;
    Jail::expect_with(|jail| {
        jail.clear_env();
        std::fs::write(jail.directory().join("demo.toml"), bytes).expect("write");
        loaded = Some(load::<Demo>("DEMO__", Some(Path::new("demo.toml"))).map_err(|e| e.to_string()));
        Ok(())
    });
    loaded.expect("ran")
}

/// `text` as a TOML basic string: every control character, quote and backslash escaped.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c.is_control() || c == '"' || c == '\\' {
            out.push_str(&format!("\\U{:08X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

fn toml_of(d: &Demo) -> String {
    format!(
        "node_url = {}\nbatch = {}\nstart_block = {}\nmax_body_bytes = {}\nprogress = {}\n",
        toml_string(&d.node_url),
        d.batch,
        d.start_block,
        d.max_body_bytes,
        d.progress
    )
}

fn demo() -> impl Strategy<Value = Demo> {
    // TOML integers are i64: the file layer holds no `u64` past `i64::MAX`.
    let wide = 0..=u64::try_from(i64::MAX).unwrap();
    let text = any::<String>().prop_filter("no NUL", |s| !s.contains('\0'));
    (text, any::<u32>(), wide.clone(), wide, any::<bool>()).prop_map(
        |(node_url, batch, start_block, max_body_bytes, progress)| Demo {
            node_url,
            batch,
            start_block,
            max_body_bytes: usize::try_from(max_body_bytes).unwrap(),
            progress,
        },
    )
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_files_load_or_give_an_error(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = load_file(&bytes);
    }

    #[test]
    fn every_value_round_trips_through_a_file(d in demo()) {
        prop_assert_eq!(load_file(toml_of(&d).as_bytes()).unwrap(), d);
    }

    #[test]
    fn mutated_files_load_or_give_an_error(
        d in demo(), at in any::<prop::sample::Index>(), bit in 0..8u8, byte in any::<u8>(),
    ) {
        let text = toml_of(&d).into_bytes();
        let mut flipped = text.clone();
        flipped[at.index(text.len())] ^= 1 << bit;
        let _ = load_file(&flipped);
        let mut inserted = text.clone();
        inserted.insert(at.index(text.len() + 1), byte);
        let _ = load_file(&inserted);
        let _ = load_file(&text[..at.index(text.len())]);
    }
}

/// Refused, with `needle` in the error.
fn refused(file: &str, needle: &str) {
    let err = load_file(file.as_bytes()).expect_err(file);
    assert!(err.contains(needle), "{file:?}: {err}");
}

#[test]
fn repeated_keys_are_refused() {
    refused("batch = 1\nbatch = 2\n", "duplicate key");
    refused("batch = 1\n\"batch\" = 1\n", "duplicate key");
    refused("[x]\n[x]\n", "duplicate key");
}

#[test]
fn nul_is_refused_wherever_it_is() {
    refused("batch = 1\0\n", "");
    refused("node_url = \"a\0b\"\n", "");
    refused("\"bat\\u0000ch\" = 1\n", "U+0000");
    refused("[extra]\n\"\\u0000\" = 1\n", "U+0000");
    refused("node_url = \"ws://a\\u0000b\"\n", "U+0000");
    refused("node_url = 'ws://a\0b'\n", "");
}

#[test]
fn numbers_out_of_range_or_of_the_wrong_kind_are_refused() {
    for (line, needle) in [
        ("batch = 4294967296", "batch"),
        ("batch = -1", "batch"),
        ("start_block = 99999999999999999999", ""),
        ("start_block = 340282366920938463463374607431768211456", ""),
        ("batch = 1.0", "batch"),
        ("batch = 1e3", "batch"),
        ("batch = 1e40", "batch"),
        ("batch = 007", ""),
        ("batch = \"5\"", "batch"),
        ("batch = 5 5", ""),
        ("batch = inf", "batch"),
        ("batch = nan", "batch"),
        ("progress = 1", "progress"),
    ] {
        refused(line, needle);
    }
    // TOML's own integer forms are TOML's: a sign, digit separators, hex.
    for (line, batch) in
        [("batch = +5", 5), ("batch = 1_000", 1_000), ("batch = 0x10", 16), ("batch = 4294967295", u32::MAX)]
    {
        assert_eq!(load_file(line.as_bytes()).unwrap().batch, batch, "{line}");
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    for depth in [1_000, 100_000] {
        refused(&format!("batch = {}{}\n", "[".repeat(depth), "]".repeat(depth)), "");
        refused(&format!("batch = {}1{}\n", "{a = ".repeat(depth), "}".repeat(depth)), "");
    }
}

#[test]
fn unknown_keys_are_refused_at_every_depth_and_layer() {
    refused("batch = 1\nbath = 2\n", "bath");
    refused("[node_url]\nhost = \"x\"\n", "node_url");
    refused("[extra]\nbatch = 1\n", "extra");
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("DEMO__BATCH__INNER", "1");
        assert!(load::<Demo>("DEMO__", None).is_err(), "a nested env key");
        Ok(())
    });
}
