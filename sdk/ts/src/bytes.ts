// Byte and integer normalization: every byte argument the SDK takes (a hex string or a Uint8Array) and
// every account (SS58, hex or 32 raw bytes) becomes one canonical form before it reaches polkadot.js,
// which reads the two forms differently (a Uint8Array given for a `Vec<u8>` or an `Option<_>` is taken as
// already SCALE-encoded, a hex string is not). Integers are checked against their Rust type's range.

import { hexToU8a, isHex, isU8a, u8aToHex } from '@polkadot/util';
import { decodeAddress, encodeAddress } from '@polkadot/util-crypto';

/** Bytes as the SDK takes them: `0x`-prefixed hex (either case) or raw. */
export type BytesLike = string | Uint8Array;

/** An account as the SDK takes it: SS58 text, `0x` hex of 32 bytes, or the 32 raw bytes. */
export type AccountLike = string | Uint8Array;

/** An SS58 address (the form accounts come back in). */
export type Address = string;

/** `0x`-prefixed lower-case hex (the form byte values come back in). */
export type Hex = `0x${string}`;

/** Exactly `length` bytes from hex or raw bytes; throws a TypeError naming `what` otherwise. */
export function toBytes(value: BytesLike, length: number, what: string): Uint8Array {
  let bytes: Uint8Array;
  if (isU8a(value)) {
    bytes = new Uint8Array(value);
  } else if (typeof value === 'string' && isHex(value)) {
    bytes = hexToU8a(value);
  } else {
    throw new TypeError(`${what}: expected ${length} bytes as 0x-prefixed hex or a Uint8Array`);
  }
  if (bytes.length !== length) {
    throw new TypeError(`${what}: expected ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** `value` as `0x` hex of exactly `length` bytes. */
export function toHex(value: BytesLike, length: number, what: string): Hex {
  return u8aToHex(toBytes(value, length, what)) as Hex;
}

/** The 32 bytes of an account given as SS58, hex or raw bytes. */
export function accountBytes(account: AccountLike, what = 'account'): Uint8Array {
  if (isU8a(account) || isHex(account)) {
    return toBytes(account, 32, what);
  }
  if (typeof account !== 'string') {
    throw new TypeError(`${what}: expected an SS58 address, 0x hex or 32 bytes`);
  }
  try {
    const bytes = decodeAddress(account);
    if (bytes.length !== 32) {
      throw new TypeError(`${what}: ${account} is not a 32-byte account`);
    }
    return bytes;
  } catch (e) {
    throw new TypeError(`${what}: ${account} is not an SS58 address (${(e as Error).message})`);
  }
}

/** An account as `0x` hex: the one form the SDK hands polkadot.js (also inside `Option`s). */
export function accountHex(account: AccountLike, what = 'account'): Hex {
  return u8aToHex(accountBytes(account, what)) as Hex;
}

/** An account as SS58 with the generic prefix 42, or `ss58Prefix`. */
export function toAddress(account: AccountLike, ss58Prefix = 42): Address {
  return encodeAddress(accountBytes(account), ss58Prefix);
}

/** Whether two accounts, in any accepted form, are the same. */
export function sameAccount(a: AccountLike, b: AccountLike): boolean {
  return accountHex(a) === accountHex(b);
}

const MAX = { u16: (1n << 16n) - 1n, u32: (1n << 32n) - 1n, u64: (1n << 64n) - 1n, u128: (1n << 128n) - 1n };

/** An unsigned integer type of the contract. */
export type UintType = keyof typeof MAX;

/**
 * `value` checked to fit the unsigned Rust type `type`. Amounts must be bigints; other integers may be
 * safe JavaScript integers. Throws a RangeError or TypeError naming `what`.
 */
export function checkUint(value: bigint | number, type: UintType, what: string): bigint {
  let big: bigint;
  if (typeof value === 'bigint') {
    big = value;
  } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
    if (type === 'u128') {
      throw new TypeError(`${what}: amounts (u128) must be bigints, got the number ${value}`);
    }
    big = BigInt(value);
  } else {
    throw new TypeError(`${what}: expected a ${type} as a bigint, got ${String(value)}`);
  }
  if (big < 0n || big > MAX[type]) {
    throw new RangeError(`${what}: ${big} does not fit in ${type}`);
  }
  return big;
}

/** `value` (checked to fit `size` bytes) as little-endian bytes: the SCALE encoding of a fixed-width uint. */
export function le(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = value;
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n || value < 0n) {
    throw new RangeError(`${value} does not fit in ${size} bytes`);
  }
  return out;
}

/** The concatenation of `parts`. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
