// Usage receipts: what a consumer signs to pay a provider, byte-identical to the Rust `settlement`
// crate's `Receipt` (settlement/src/receipt.rs). Signing bytes: the 24-byte tag
// "compute-escrow/receipt/1" then the SCALE encoding of the receipt, 176 bytes in all, hand-encoded here
// (no polkadot.js involved) and checked against vectors the Rust code writes (test/vectors.json).

import { u8aToHex } from '@polkadot/util';

import { type AccountLike, type Address, type BytesLike, type Hex, accountBytes, checkUint, concat, le, toAddress, toBytes, toHex } from './bytes.js';
import { publicKeyOf, sign, verifyStrict } from './ed25519.js';

/** The fixed prefix of every receipt's signing bytes. */
export const RECEIPT_TAG = new TextEncoder().encode('compute-escrow/receipt/1');

/** A consumer's statement of what it owes one provider on one job, cumulatively. */
export interface Receipt {
  /** The chain's genesis hash (32 bytes): receipts cannot be replayed on another chain. */
  genesisHash: BytesLike;
  /** The escrow contract's account: receipts cannot be replayed against another escrow. */
  contract: AccountLike;
  /** The job it pays from (u64). */
  jobId: bigint;
  /** The provider it pays. */
  provider: AccountLike;
  /** Total owed to this provider on this job so far (u128, cumulative: the highest supersedes). */
  amount: bigint;
  /** Total usage units so far (u128; informational, never checked). */
  units: bigint;
  /** The signer's own counter (u64; informational, never checked). */
  sequence: bigint;
  /** Milliseconds since the Unix epoch after which it can no longer be settled (u64). */
  expiresAt: bigint;
}

/** A receipt in canonical form: hex bytes, SS58 accounts, checked integers. */
export interface NormalReceipt {
  genesisHash: Hex;
  contract: Address;
  jobId: bigint;
  provider: Address;
  amount: bigint;
  units: bigint;
  sequence: bigint;
  expiresAt: bigint;
}

/** A receipt with the payer's ed25519 signature over its signing bytes. */
export interface SignedReceipt {
  receipt: NormalReceipt;
  /** 64 bytes, hex. */
  signature: Hex;
}

/** `receipt` checked (every integer within its Rust type, every byte string its length) and normalized. */
export function normalizeReceipt(receipt: Receipt): NormalReceipt {
  return {
    genesisHash: toHex(receipt.genesisHash, 32, 'receipt.genesisHash'),
    contract: toAddress(accountBytes(receipt.contract, 'receipt.contract')),
    jobId: checkUint(receipt.jobId, 'u64', 'receipt.jobId'),
    provider: toAddress(accountBytes(receipt.provider, 'receipt.provider')),
    amount: checkUint(receipt.amount, 'u128', 'receipt.amount'),
    units: checkUint(receipt.units, 'u128', 'receipt.units'),
    sequence: checkUint(receipt.sequence, 'u64', 'receipt.sequence'),
    expiresAt: checkUint(receipt.expiresAt, 'u64', 'receipt.expiresAt'),
  };
}

/** The exact bytes that are signed: the tag, then the receipt's SCALE encoding (176 bytes). */
export function signingBytes(receipt: Receipt): Uint8Array {
  const r = normalizeReceipt(receipt);
  return concat(
    RECEIPT_TAG,
    toBytes(r.genesisHash, 32, 'receipt.genesisHash'),
    accountBytes(r.contract),
    le(r.jobId, 8),
    accountBytes(r.provider),
    le(r.amount, 16),
    le(r.units, 16),
    le(r.sequence, 8),
    le(r.expiresAt, 8),
  );
}

/** A payer key: the 32-byte ed25519 secret seed a consumer's job runner signs receipts with. */
export class PayerKey {
  readonly #seed: Uint8Array;
  /** The public key to register on the job (`openJob`'s `payerKey`). */
  readonly publicKey: Hex;

  constructor(seed: BytesLike) {
    this.#seed = toBytes(seed, 32, 'payer seed');
    this.publicKey = u8aToHex(publicKeyOf(this.#seed)) as Hex;
  }

  /**
   * A fresh random payer key. Keep its `exportSeed()` as safely as a wallet's secret: without it no more
   * receipts can be signed for the job (which then pays its provider nothing more until refunded).
   */
  static generate(): PayerKey {
    return new PayerKey(crypto.getRandomValues(new Uint8Array(32)));
  }

  /** The 32-byte secret seed as hex, to store (`new PayerKey(seed)` restores the key). */
  exportSeed(): Hex {
    return u8aToHex(this.#seed) as Hex;
  }

  /** Signs `receipt` (deterministic: the same receipt and key always give the same signature). */
  sign(receipt: Receipt): SignedReceipt {
    const normal = normalizeReceipt(receipt);
    return { receipt: normal, signature: u8aToHex(sign(signingBytes(normal), this.#seed)) as Hex };
  }
}

/**
 * Whether `signature` over `receipt` verifies against `payerKey` exactly as the contract and the gateway
 * judge it (ed25519 `verify_strict`).
 */
export function verifyReceipt(receipt: Receipt, payerKey: BytesLike, signature: BytesLike): boolean {
  // Anything malformed (the key, the signature, or the receipt's fields) verifies nothing.
  try {
    return verifyStrict(toBytes(payerKey, 32, 'payer key'), signingBytes(receipt), toBytes(signature, 64, 'signature'));
  } catch {
    return false;
  }
}
