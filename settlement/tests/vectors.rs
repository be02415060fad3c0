//! Receipt test vectors for the other languages that sign receipts (the TypeScript SDK in `sdk/ts`):
//! receipts with edge values, signed from fixed seeds, their signing bytes and signatures (ed25519 is
//! deterministic), and `verify_strict` verdicts on signatures that must be refused. Written as JSON to
//! `sdk/ts/test/vectors.json`, which is committed: this test fails if the committed file differs from
//! what this code produces, so a change on either side is caught. `UPDATE_VECTORS=1` rewrites the file.

// Test-only code: plain arithmetic on small, known values.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use settlement::receipt::{verify_strict, RECEIPT_TAG};
use settlement::{Domain, Receipt};

/// Lower-case hex with a `0x` prefix.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + 2 * bytes.len());
    out.push_str("0x");
    for b in bytes {
        write!(out, "{b:02x}").expect("writing to a String");
    }
    out
}

/// 32 bytes counting up from `start` (wrapping).
fn counting(start: u8) -> [u8; 32] {
    core::array::from_fn(|i| start.wrapping_add(u8::try_from(i).expect("i < 32")))
}

/// The group order L of ed25519, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The signature with its scalar `s` replaced by `s + L`: the same value modulo L, but not canonical
/// (`verify_strict` refuses it; a check that reduces `s` first would accept it).
fn non_canonical_s(signature: &[u8; 64]) -> [u8; 64] {
    let mut out = *signature;
    let mut carry = 0u16;
    for (i, l) in L.iter().enumerate() {
        let sum = u16::from(signature[32 + i]) + u16::from(*l) + carry;
        out[32 + i] = u8::try_from(sum & 0xff).expect("masked");
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "s + L fits in 32 bytes (s < L < 2^253)");
    out
}

struct Case {
    name: &'static str,
    seed: [u8; 32],
    receipt: Receipt<[u8; 32]>,
}

fn cases() -> Vec<Case> {
    let typical_genesis = counting(0x10);
    vec![
        Case {
            name: "all zero",
            seed: [0; 32],
            receipt: Receipt {
                domain: Domain { genesis_hash: [0; 32], contract: [0; 32] },
                job_id: 0,
                provider: [0; 32],
                amount: 0,
                units: 0,
                sequence: 0,
                expires_at: 0,
            },
        },
        Case {
            name: "all maximal",
            seed: [0xff; 32],
            receipt: Receipt {
                domain: Domain { genesis_hash: [0xff; 32], contract: [0xff; 32] },
                job_id: u64::MAX,
                provider: [0xff; 32],
                amount: u128::MAX,
                units: u128::MAX,
                sequence: u64::MAX,
                expires_at: u64::MAX,
            },
        },
        Case {
            name: "typical",
            seed: [1; 32],
            receipt: Receipt {
                domain: Domain { genesis_hash: typical_genesis, contract: counting(0x80) },
                job_id: 42,
                provider: counting(0xc0),
                amount: 1_000_000_000_000,
                units: 12_345,
                sequence: 1,
                expires_at: 1_700_000_000_000,
            },
        },
        Case {
            name: "past JavaScript's safe integers",
            seed: counting(0x21),
            receipt: Receipt {
                domain: Domain { genesis_hash: typical_genesis, contract: counting(0x80) },
                job_id: (1 << 53) + 1,
                provider: counting(0x33),
                amount: (1 << 64) + 7,
                units: (1 << 100) + 3,
                sequence: (1 << 53) + 1,
                expires_at: u64::MAX,
            },
        },
        Case {
            name: "another provider, same job",
            seed: [1; 32],
            receipt: Receipt {
                domain: Domain { genesis_hash: typical_genesis, contract: counting(0x80) },
                job_id: 42,
                provider: counting(0x44),
                amount: 1_000_000_000_000,
                units: 12_345,
                sequence: 1,
                expires_at: 1_700_000_000_000,
            },
        },
    ]
}

/// The JSON text of the vectors (hand-written: fixed key order, amounts and 64-bit integers as decimal
/// strings so JavaScript reads them exactly).
fn vectors_json() -> String {
    let mut out = String::new();
    out.push_str("{\n");
    out.push_str("  \"comment\": \"Written by settlement/tests/vectors.rs (UPDATE_VECTORS=1 cargo test -p settlement --test vectors); do not edit.\",\n");
    out.push_str(&format!("  \"tag\": \"{}\",\n", hex(RECEIPT_TAG)));
    out.push_str("  \"receipts\": [\n");
    let all = cases();
    let mut verify = Vec::new();
    for (i, case) in all.iter().enumerate() {
        let key = SigningKey::from_bytes(&case.seed);
        let public = key.verifying_key().to_bytes();
        let r = &case.receipt;
        let bytes = r.signing_bytes();
        assert_eq!(bytes.len(), 176);
        let signature = r.sign(&key);
        assert!(r.verify(&public, &signature));
        out.push_str("    {\n");
        out.push_str(&format!("      \"name\": \"{}\",\n", case.name));
        out.push_str(&format!("      \"seed\": \"{}\",\n", hex(&case.seed)));
        out.push_str(&format!("      \"public_key\": \"{}\",\n", hex(&public)));
        out.push_str("      \"receipt\": {\n");
        out.push_str(&format!("        \"genesis_hash\": \"{}\",\n", hex(&r.domain.genesis_hash)));
        out.push_str(&format!("        \"contract\": \"{}\",\n", hex(&r.domain.contract)));
        out.push_str(&format!("        \"job_id\": \"{}\",\n", r.job_id));
        out.push_str(&format!("        \"provider\": \"{}\",\n", hex(&r.provider)));
        out.push_str(&format!("        \"amount\": \"{}\",\n", r.amount));
        out.push_str(&format!("        \"units\": \"{}\",\n", r.units));
        out.push_str(&format!("        \"sequence\": \"{}\",\n", r.sequence));
        out.push_str(&format!("        \"expires_at\": \"{}\"\n", r.expires_at));
        out.push_str("      },\n");
        out.push_str(&format!("      \"signing_bytes\": \"{}\",\n", hex(&bytes)));
        out.push_str(&format!("      \"signature\": \"{}\"\n", hex(&signature)));
        out.push_str(if i + 1 == all.len() { "    }\n" } else { "    },\n" });
        if case.name == "typical" {
            verify = verify_cases(&public, &bytes, &signature);
            verify.extend(crafted_cases());
        }
    }
    out.push_str("  ],\n");
    out.push_str("  \"verify\": [\n");
    for (i, (name, public, message, signature)) in verify.iter().enumerate() {
        let valid = verify_strict(public, message, signature);
        out.push_str("    {\n");
        out.push_str(&format!("      \"name\": \"{name}\",\n"));
        out.push_str(&format!("      \"public_key\": \"{}\",\n", hex(public)));
        out.push_str(&format!("      \"message\": \"{}\",\n", hex(message)));
        out.push_str(&format!("      \"signature\": \"{}\",\n", hex(signature)));
        out.push_str(&format!("      \"valid\": {valid}\n"));
        out.push_str(if i + 1 == verify.len() { "    }\n" } else { "    },\n" });
    }
    out.push_str("  ]\n");
    out.push_str("}\n");
    out
}

type VerifyCase = (&'static str, [u8; 32], Vec<u8>, [u8; 64]);

/// `verify_strict` cases around one good signature: what the other languages' verifiers must judge
/// the same.
fn verify_cases(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Vec<VerifyCase> {
    let mut flipped_signature = *signature;
    flipped_signature[0] ^= 1;
    let mut flipped_message = message.to_vec();
    flipped_message[100] ^= 0x80;
    let other = SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes();
    // The identity point: a weak (small-order) key; R = identity and s = 0 pass a cofactored check.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut weak_signature = [0u8; 64];
    weak_signature[0] = 1;
    vec![
        ("good", *public, message.to_vec(), *signature),
        ("signature byte flipped", *public, message.to_vec(), flipped_signature),
        ("message byte flipped", *public, flipped_message, *signature),
        ("another key", other, message.to_vec(), *signature),
        ("s not canonical (s + L)", *public, message.to_vec(), non_canonical_s(signature)),
        ("identity key, identity R, s = 0", identity, message.to_vec(), weak_signature),
        ("key not on the curve", [0xff; 32], message.to_vec(), *signature),
    ]
}

/// The message of [`CRAFTED`].
const CRAFTED_MESSAGE: &[u8] = b"compute-escrow: verify_strict edge cases";

/// Inputs crafted (with a reference model of curve25519-dalek's decoding, in JavaScript) at the edges
/// where verifiers differ: (name, public key hex, signature hex), all over [`CRAFTED_MESSAGE`]. Their
/// verdicts in the vectors are `verify_strict`'s, judged here.
const CRAFTED: [(&str, &str, &str); 6] = [
        ("R the identity, equation satisfied (s = k a)", "ce0835d5eef35d3d7194904428ab19ee30b76afce559883b3b3542994e42af45", "0100000000000000000000000000000000000000000000000000000000000000476a8f68a810493fb7fae1228577e226660c96fa323b6d4276c8ca1a4a2ae00f"),
        ("mixed-order key, 8 does not divide k", "11cafa6189fadaeb44521804c87f0e5cbc49236185e67e41742c3dbcfc553d92", "e7caaa83373a94afae43fec59b447c99ba282b19a7616c24c785ad8966a1e10e3a3ed1e6499cba6f1b0893aa62beebb1b4623e1e79a532a241b741c46768b80c"),
        ("mixed-order key, 8 divides k", "11cafa6189fadaeb44521804c87f0e5cbc49236185e67e41742c3dbcfc553d92", "60fee75f227c8647e10404ab2397a2f06c16e820b477e638f7629a41c175958febd82fcd3dc99c5fd8102c4e5ab511907935149b83c33ed9803859f074488602"),
        ("R encoded with y + p", "ce0835d5eef35d3d7194904428ab19ee30b76afce559883b3b3542994e42af45", "efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7fa1f618e46eb279150c8c2fc72d964eb7aeb78a922edb683cdab0a3046a6f3f0c"),
        ("key encoded with y + p", "efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "1d84c09c915b1e355f4130b3950f6754270b37696f36f1b6ca5d4a9b4cf48860a1f618e46eb279150c8c2fc72d964eb7aeb78a922edb683cdab0a3046a6f3f0c"),
        ("good (this key)", "ce0835d5eef35d3d7194904428ab19ee30b76afce559883b3b3542994e42af45", "1d84c09c915b1e355f4130b3950f6754270b37696f36f1b6ca5d4a9b4cf48860a1f618e46eb279150c8c2fc72d964eb7aeb78a922edb683cdab0a3046a6f3f0c"),
];

fn unhex<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

/// [`CRAFTED`] as verify cases.
fn crafted_cases() -> Vec<VerifyCase> {
    CRAFTED.iter().map(|(name, key, sig)| (*name, unhex(key), CRAFTED_MESSAGE.to_vec(), unhex(sig))).collect()
}

#[test]
fn the_crafted_edges_are_judged_as_their_names_say() {
    let verdicts: Vec<bool> =
        crafted_cases().iter().map(|(_, key, message, sig)| verify_strict(key, message, sig)).collect();
    // Refused: a small-order R even when the equation holds, a mixed-order key when 8 does not divide
    // k, non-canonical encodings; accepted: a mixed-order key when 8 divides k, and the good signature.
    assert_eq!(verdicts, [false, false, true, false, false, true]);
}

#[test]
fn committed_vectors_match_what_settlement_produces() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk/ts/test/vectors.json");
    let produced = vectors_json();
    if std::env::var_os("UPDATE_VECTORS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &produced).expect("write the vectors");
        return;
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (write it with UPDATE_VECTORS=1)", path.display()));
    assert!(
        committed == produced,
        "{} differs from what settlement produces: the receipt format or its signing changed (or the file \
         was edited). If the change is intended, rewrite it with UPDATE_VECTORS=1 and update every other \
         language's signer to match.",
        path.display()
    );
}
