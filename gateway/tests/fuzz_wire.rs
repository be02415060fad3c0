//! Bounded fuzzing of the receipt wire decoder (`gateway::wire`): request bodies (`Body::parse`),
//! signed receipts (`SignedReceiptJson::from_value`) and fixed-size hex (`wire::bytes`). Pure: no node,
//! no database. The HTTP-level rows of the bad-input matrix are in `api.rs`.
//!
//! Each property runs a few hundred cases so the file stays within seconds; `FUZZ_CASES=N` runs N
//! per property instead (`FUZZ_CASES=100000 cargo test -p gateway --test fuzz_wire --release`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use escrow_client::AccountId;
use gateway::error::PublicError;
use gateway::wire::{bytes, to_hex, Body, ReceiptJson, Signed, SignedReceiptJson};
use proptest::prelude::*;
use serde_json::{json, Value};
use settlement::{Domain, Receipt};

/// Every code `Body::parse` may answer.
const BODY_CODES: [&str; 5] = ["malformed_json", "empty_batch", "batch_too_large", "duplicate_key", "nul_character"];
/// Every code `SignedReceiptJson::from_value` may answer.
const ITEM_CODES: [&str; 2] = ["invalid_field", "unknown_field"];
const MAX_BATCH: usize = 8;

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn receipt() -> impl Strategy<Value = (Receipt<AccountId>, [u8; 64])> {
    let ids = (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<[u8; 32]>());
    let numbers = (any::<u64>(), any::<u128>(), any::<u128>(), any::<u64>(), any::<u64>());
    (ids, numbers, prop::array::uniform32(any::<u8>()), prop::array::uniform32(any::<u8>())).prop_map(
        |((genesis_hash, contract, provider), (job_id, amount, units, sequence, expires_at), s1, s2)| {
            let mut signature = [0; 64];
            signature[..32].copy_from_slice(&s1);
            signature[32..].copy_from_slice(&s2);
            let domain = Domain { genesis_hash, contract };
            (Receipt { domain, job_id, provider, amount, units, sequence, expires_at }, signature)
        },
    )
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[0-9a-fA-FxX+\\- .e]{0,70}", "(0x)?[0-9a-f]{62,66}"]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What a valid receipt's JSON becomes after one edit of its text.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 0..8u8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
    ]
}

fn mutate(mut raw: Vec<u8>, m: &Mutation) -> Vec<u8> {
    if raw.is_empty() {
        return raw;
    }
    match m {
        Mutation::Flip(i, bit) => {
            let at = i.index(raw.len());
            raw[at] ^= 1 << bit;
        }
        Mutation::Truncate(i) => raw.truncate(i.index(raw.len())),
        Mutation::Insert(i, b) => raw.insert(i.index(raw.len() + 1), *b),
        Mutation::Remove(i) => drop(raw.remove(i.index(raw.len()))),
    }
    raw
}

/// Decodes a whole body as the intake does: `Err(code)` for the body, else each item's result.
/// One item's decoding: the receipt and signature, or the refusal's code.
type Item = Result<Signed, &'static str>;

fn decode(raw: &[u8]) -> Result<Vec<Item>, &'static str> {
    let items = match Body::parse(raw, MAX_BATCH).map_err(|e| e.code())? {
        Body::One(v) => vec![v],
        Body::Many(vs) => vs,
    };
    Ok(items.iter().map(|v| SignedReceiptJson::from_value(v).map_err(|e| e.code())).collect())
}

/// Decoding never panics, and every refusal has one of the documented codes.
fn assert_typed(raw: &[u8]) {
    match decode(raw) {
        Err(code) => assert!(BODY_CODES.contains(&code), "body code {code}"),
        Ok(items) => {
            assert!(!items.is_empty() && items.len() <= MAX_BATCH);
            for item in items {
                if let Err(code) = item {
                    assert!(ITEM_CODES.contains(&code), "item code {code}");
                }
            }
        }
    }
}

/// Whether `text` is what `wire::bytes::<N>` promises to read: `0x` or nothing, then 2N hex digits.
fn is_promised_hex(text: &str, n: usize) -> bool {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    digits.len() == 2 * n && digits.bytes().all(|b| b.is_ascii_hexdigit())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_give_a_typed_answer(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        assert_typed(&raw);
    }

    #[test]
    fn arbitrary_json_gives_a_typed_answer(value in json_value()) {
        assert_typed(&serde_json::to_vec(&value).unwrap());
        // The same value in every slot of a valid receipt.
        let (r, s) = (Receipt { domain: Domain { genesis_hash: [1; 32], contract: [2; 32] }, job_id: 1,
            provider: [3; 32], amount: 4, units: 5, sequence: 6, expires_at: 7 }, [8; 64]);
        let valid = serde_json::to_value(SignedReceiptJson::from_signed(&r, &s)).unwrap();
        for field in ["genesis_hash", "contract", "job_id", "provider", "amount", "units", "sequence", "expires_at"] {
            let mut v = valid.clone();
            v["receipt"][field] = value.clone();
            if let Err(e) = SignedReceiptJson::from_value(&v) {
                prop_assert!(ITEM_CODES.contains(&e.code()), "{field}: {}", e.code());
            }
        }
        let mut v = valid;
        v["signature"] = value;
        if let Err(e) = SignedReceiptJson::from_value(&v) {
            prop_assert_eq!(e.code(), "invalid_field");
        }
    }

    #[test]
    fn mutated_receipts_give_a_typed_answer_and_what_decodes_round_trips(
        (r, s) in receipt(), edits in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut raw = serde_json::to_vec(&SignedReceiptJson::from_signed(&r, &s)).unwrap();
        for m in &edits {
            raw = mutate(raw, m);
        }
        assert_typed(&raw);
        if let Ok(items) = decode(&raw) {
            for (receipt, signature) in items.into_iter().flatten() {
                let again = serde_json::to_vec(&SignedReceiptJson::from_signed(&receipt, &signature)).unwrap();
                prop_assert_eq!(decode(&again).unwrap(), vec![Ok((receipt, signature))]);
            }
        }
    }

    #[test]
    fn every_receipt_round_trips_through_its_json((r, s) in receipt()) {
        let json = SignedReceiptJson::from_signed(&r, &s);
        prop_assert_eq!(ReceiptJson::from_receipt(&json.receipt.parse().unwrap()), json.receipt.clone());
        let raw = serde_json::to_vec(&json).unwrap();
        prop_assert_eq!(decode(&raw).unwrap(), vec![Ok((r.clone(), s))]);
        let batch = serde_json::to_vec(&vec![&json, &json]).unwrap();
        prop_assert_eq!(decode(&batch).unwrap(), vec![Ok((r.clone(), s)), Ok((r, s))]);
    }

    /// Hex is read exactly as promised: an optional `0x`, then digits of either case; nothing else.
    #[test]
    fn hex_is_read_exactly_as_promised(value in any::<[u8; 32]>(), mask in any::<u64>(), other in text()) {
        let lower = hex::encode(value);
        let mixed: String = lower.chars().enumerate()
            .map(|(i, c)| if (mask >> (i % 64)) & 1 == 1 { c.to_ascii_uppercase() } else { c }).collect();
        for form in [lower.clone(), to_hex(&value), mixed.clone(), format!("0x{mixed}"), lower.to_uppercase()] {
            prop_assert_eq!(bytes::<32>("f", &form).unwrap(), value, "{}", form);
        }
        for form in [format!("0X{lower}"), format!(" {lower}"), format!("{lower} "), format!("0x0x{lower}"),
                     format!("+{lower}"), format!("{lower}0"), lower[1..].to_string(), format!("{lower}\0"),
                     format!("0x{lower}00"), String::new(), "0x".into()] {
            prop_assert_eq!(bytes::<32>("f", &form).unwrap_err().code(), "invalid_field", "{:?}", form);
        }
        prop_assert_eq!(bytes::<32>("f", &other).is_ok(), is_promised_hex(&other, 32), "{:?}", other);
    }

    /// Amounts are read exactly as promised: ASCII digits only, at most `u128::MAX`.
    #[test]
    fn amounts_are_read_exactly_as_promised(text in prop_oneof![text(), "[0-9]{1,45}", "0{0,3}[1-9][0-9]{37,38}"]) {
        let (r, s) = (Receipt { domain: Domain { genesis_hash: [1; 32], contract: [2; 32] }, job_id: 1,
            provider: [3; 32], amount: 4, units: 5, sequence: 6, expires_at: 7 }, [8; 64]);
        let mut v = serde_json::to_value(SignedReceiptJson::from_signed(&r, &s)).unwrap();
        v["receipt"]["amount"] = json!(text);
        let promised = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        match (SignedReceiptJson::from_value(&v), promised.then(|| text.parse::<u128>().ok()).flatten()) {
            (Ok((got, _)), Some(amount)) => prop_assert_eq!(got.amount, amount),
            (Err(e), None) => prop_assert_eq!(e.code(), "invalid_field"),
            (got, want) => prop_assert!(false, "{text:?}: got {got:?}, want {want:?}"),
        }
    }

    /// Strictness costs nothing else: a body with neither a repeated key nor U+0000 reads as plain JSON.
    #[test]
    fn a_strict_read_is_a_plain_read_of_unambiguous_json(value in json_value()) {
        let raw = serde_json::to_vec(&json!({ "x": value })).unwrap();
        let plain: Value = serde_json::from_slice(&raw).unwrap();
        match Body::parse(&raw, MAX_BATCH) {
            Ok(Body::One(strict)) => prop_assert_eq!(strict, plain),
            Err(e) => prop_assert!(e.code() == "nul_character" && raw.windows(6).any(|w| w == b"\\u0000")),
            Ok(Body::Many(_)) => prop_assert!(false, "an object read as a batch"),
        }
    }

    /// A receipt naming any of its keys twice is refused, whichever value comes first.
    #[test]
    fn a_repeated_key_is_refused((r, s) in receipt(), which in 0..10usize, first in any::<bool>()) {
        let json = serde_json::to_value(SignedReceiptJson::from_signed(&r, &s)).unwrap();
        let (top, inner) = (json.as_object().unwrap(), json["receipt"].as_object().unwrap());
        let pairs = |o: &serde_json::Map<String, Value>| o.iter().map(|(k, v)| format!("{}:{}", json!(k), v)).collect::<Vec<_>>();
        let (mut outer, mut fields) = (pairs(top), pairs(inner));
        let (list, i) = if which < fields.len() { (&mut fields, which) } else { (&mut outer, which % 2) };
        let key = list[i].split(':').next().unwrap().to_string();
        let twin = format!("{key}:\"1\"");
        list.insert(if first { 0 } else { list.len() }, twin);
        let receipt_text = format!("{{{}}}", fields.join(","));
        let outer: Vec<String> = outer.into_iter()
            .map(|p| if p.starts_with("\"receipt\":") { format!("\"receipt\":{receipt_text}") } else { p }).collect();
        let raw = format!("{{{}}}", outer.join(","));
        prop_assert_eq!(Body::parse(raw.as_bytes(), MAX_BATCH).unwrap_err().code(), "duplicate_key", "{}", raw);
    }

    /// U+0000 anywhere in a receipt's strings or keys refuses the body.
    #[test]
    fn nul_anywhere_in_a_string_is_refused((r, s) in receipt(), at in any::<prop::sample::Index>()) {
        let raw = serde_json::to_string(&SignedReceiptJson::from_signed(&r, &s)).unwrap();
        // The positions just inside a string: after an opening quote.
        let quotes: Vec<usize> = raw.match_indices('"').map(|(i, _)| i).step_by(2).collect();
        let i = quotes[at.index(quotes.len())] + 1;
        let raw = format!("{}\\u0000{}", &raw[..i], &raw[i..]);
        prop_assert_eq!(Body::parse(raw.as_bytes(), MAX_BATCH).unwrap_err().code(), "nul_character", "{}", raw);
    }
}
