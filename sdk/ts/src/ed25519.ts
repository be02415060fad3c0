// ed25519 signing and strict verification, judging exactly as ed25519-dalek's `verify_strict` (which
// the contract and the gateway use): a canonical scalar s < L, both the key and R decoded as dalek
// decodes points, neither of small order, and the cofactorless equation [s]B - [k]A == R compared as
// encoded bytes. noble's own `verify` is cofactored and would accept signatures the contract refuses.

import { ed25519 } from '@noble/curves/ed25519';
import { sha512 } from '@noble/hashes/sha2';

import { concat } from './bytes.js';

const Point = ed25519.Point;
/** The order of ed25519's prime subgroup. */
const L = Point.CURVE().n;

function leToBigint(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) {
    n = (n << 8n) | BigInt(bytes[i] ?? 0);
  }
  return n;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    return false;
  }
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  }
  return diff === 0;
}

/** A point decoded as curve25519-dalek decompresses it (y taken modulo p, the sign bit of x = 0 ignored). */
function decode(bytes: Uint8Array): ReturnType<typeof Point.fromBytes> | null {
  try {
    return Point.fromBytes(bytes, true);
  } catch {
    return null;
  }
}

/** The ed25519 public key of a 32-byte secret seed. */
export function publicKeyOf(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}

/** The ed25519 signature (RFC 8032, deterministic) of `message` by the 32-byte secret `seed`. */
export function sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed25519.sign(message, seed);
}

/** Whether `signature` over `message` verifies against `publicKey` as ed25519-dalek's `verify_strict` judges. */
export function verifyStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) {
    return false;
  }
  const rBytes = signature.subarray(0, 32);
  const s = leToBigint(signature.subarray(32, 64));
  if (s >= L) {
    return false;
  }
  const a = decode(publicKey);
  const r = decode(rBytes);
  if (a === null || r === null || a.isSmallOrder() || r.isSmallOrder()) {
    return false;
  }
  const k = leToBigint(sha512(concat(rBytes, publicKey, message))) % L;
  const expected = Point.BASE.multiplyUnsafe(s).add(a.negate().multiplyUnsafe(k));
  return equalBytes(expected.toBytes(), rBytes);
}
