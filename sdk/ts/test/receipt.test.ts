// Receipts signed in TypeScript are the Rust settlement crate's, byte for byte: the vectors
// settlement/tests/vectors.rs writes (and fails on if this file drifts) give the fields, the signing bytes
// and the signature (ed25519 is deterministic), and verify_strict's verdicts on signatures it refuses.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519';
import { sha512 } from '@noble/hashes/sha2';
import { hexToU8a, u8aToHex } from '@polkadot/util';

import { PayerKey, RECEIPT_TAG, type Receipt, signingBytes, verifyReceipt, verifyStrict } from 'compute-escrow-sdk';

interface Vector {
  name: string;
  seed: string;
  public_key: string;
  receipt: Record<'genesis_hash' | 'contract' | 'job_id' | 'provider' | 'amount' | 'units' | 'sequence' | 'expires_at', string>;
  signing_bytes: string;
  signature: string;
}
interface VerifyCase { name: string; public_key: string; message: string; signature: string; valid: boolean }

const vectors = JSON.parse(readFileSync(new URL('../test/vectors.json', import.meta.url), 'utf8')) as {
  tag: string; receipts: Vector[]; verify: VerifyCase[];
};

function receiptOf(v: Vector): Receipt {
  const r = v.receipt;
  return {
    genesisHash: r.genesis_hash, contract: r.contract, jobId: BigInt(r.job_id), provider: r.provider,
    amount: BigInt(r.amount), units: BigInt(r.units), sequence: BigInt(r.sequence), expiresAt: BigInt(r.expires_at),
  };
}

describe('receipts match the Rust vectors', () => {
  test('the tag', () => {
    assert.equal(u8aToHex(RECEIPT_TAG), vectors.tag);
    assert.equal(RECEIPT_TAG.length, 24);
  });

  test('there are vectors with edge values', () => {
    assert.ok(vectors.receipts.length >= 5);
    const amounts = vectors.receipts.map((v) => BigInt(v.receipt.amount));
    assert.ok(amounts.includes(0n) && amounts.includes((1n << 128n) - 1n));
    assert.ok(vectors.receipts.some((v) => BigInt(v.receipt.expires_at) === (1n << 64n) - 1n));
  });

  for (const v of vectors.receipts) {
    test(`${v.name}: signing bytes, public key and signature are byte-identical`, () => {
      const receipt = receiptOf(v);
      const bytes = signingBytes(receipt);
      assert.equal(bytes.length, 176);
      assert.equal(u8aToHex(bytes), v.signing_bytes);
      // Raw bytes and hex give the same receipt.
      assert.equal(u8aToHex(signingBytes({ ...receipt, genesisHash: hexToU8a(v.receipt.genesis_hash), provider: hexToU8a(v.receipt.provider) })), v.signing_bytes);

      const key = new PayerKey(v.seed);
      assert.equal(key.publicKey, v.public_key);
      const signed = key.sign(receipt);
      assert.equal(signed.signature, v.signature);
      assert.equal(new PayerKey(hexToU8a(v.seed)).sign(receipt).signature, v.signature);

      assert.ok(verifyReceipt(receipt, v.public_key, v.signature));
      assert.ok(verifyReceipt(signed.receipt, hexToU8a(v.public_key), hexToU8a(v.signature)));
      const flipped = hexToU8a(v.signature);
      flipped[5] = (flipped[5] ?? 0) ^ 1;
      assert.equal(verifyReceipt(receipt, v.public_key, flipped), false, 'a flipped signature byte');
      assert.equal(verifyReceipt({ ...receipt, amount: receipt.amount ^ 1n }, v.public_key, v.signature), false, 'a changed amount');
    });
  }

  for (const c of vectors.verify) {
    test(`verify_strict agrees: ${c.name} is ${c.valid ? 'accepted' : 'refused'}`, () => {
      assert.equal(verifyStrict(hexToU8a(c.public_key), hexToU8a(c.message), hexToU8a(c.signature)), c.valid);
    });
  }

  test('a mixed-order key is refused as verify_strict refuses it, though a cofactored check accepts it', () => {
    // A' = A + T (T of order 8), with a signature made for A' from A's secret scalar: the cofactored
    // equation holds, the cofactorless one (dalek's verify_strict, the contract's) does not.
    const Point = ed25519.Point;
    const L = Point.CURVE().n;
    const torsion = Point.fromHex(ED25519_TORSION_SUBGROUP[1] ?? '');
    assert.ok(torsion.multiplyUnsafe(8n).is0() && !torsion.multiplyUnsafe(4n).is0(), 'a point of order 8');
    const a = 0x1234_5678_9abc_def0_1234_5678_9abc_def0n % L;
    const mixed = Point.BASE.multiply(a).add(torsion).toBytes();
    const message = new TextEncoder().encode('mixed order');
    // A nonce whose challenge k is not a multiple of 8 (else [k]T vanishes and both checks agree).
    let r = 0x0fed_cba9_8765_4321n;
    let rBytes: Uint8Array;
    let k: bigint;
    for (;;) {
      rBytes = Point.BASE.multiply(r).toBytes();
      k = leBig(sha512(concat(rBytes, mixed, message))) % L;
      if (k % 8n !== 0n) break;
      r += 1n;
    }
    const s = (r + k * a) % L;
    const signature = concat(rBytes, leBytes(s));
    assert.equal(ed25519.verify(signature, message, mixed), true, 'noble (cofactored, ZIP-215) accepts it');
    assert.equal(verifyStrict(mixed, message, signature), false, 'verify_strict refuses it');
  });
});


function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
function leBig(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}
function leBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) { out[i] = Number((n >> BigInt(8 * i)) & 0xffn); }
  return out;
}
