// The low-level contract layer over polkadot.js: encode a message with the bundle's ABI, dry-run it
// through the `ContractsApi_call` runtime API with an explicit weight limit (the chain's per-extrinsic
// maximum: without one polkadot.js dry-runs out of gas), decode its return value and turn a refusal into
// the typed error, then submit `contracts.call` with the dry-run's weight and storage deposit and wait for
// inclusion (or finality), decoding the contract's events and the signer's fee and storage deposit.

import '@polkadot/api-augment';
import type { ApiPromise } from '@polkadot/api';
import type { Abi } from '@polkadot/api-contract';
import type { AbiMessage } from '@polkadot/api-contract/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import { Result } from '@polkadot/types-codec';
import type { Codec, ISubmittableResult, Signer } from '@polkadot/types/types';
import type { DispatchError, EventRecord } from '@polkadot/types/interfaces';
import type { SpRuntimeDispatchError } from '@polkadot/types/lookup';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import { compactStripLength, u8aToHex } from '@polkadot/util';

import { type AccountLike, type Hex, accountHex } from './bytes.js';
import { toPlain } from './codec.js';
import { ContractCallError, OutcomeUnknown, TransactionError, escrowError } from './errors.js';
import type { EscrowEvent } from './types.js';

/** Who signs a transaction: a keyring pair, or an address with a signer (a browser wallet's extension). */
export type Sender = KeyringPair | { address: string; signer: Signer };

/** Execution weight: reference time (ps) and proof size (bytes). */
export interface Weight {
  refTime: bigint;
  proofSize: bigint;
}

/** A contract call run without committing it. */
export interface DryRun {
  gasConsumed: Weight;
  /** The weight the real call needs. */
  gasRequired: Weight;
  /** Storage deposit the call charges (positive) or refunds (negative). */
  storageDeposit: bigint;
  /** Whether the contract reverted (its revert flag, bit 0 of `flags.bits`). */
  reverted: boolean;
  /** The raw return data. */
  data: Uint8Array;
}

/** How long a submission waits. */
export interface SubmitOptions {
  /** Wait for the block to be finalized, not just included (default: included). */
  finalized?: boolean;
  /**
   * The most storage deposit to agree to pay (default: what the dry-run charged plus a quarter, as the
   * weight: state may grow between the dry-run and inclusion; 0 if it charged none).
   */
  storageDepositLimit?: bigint;
  /**
   * How long to wait for the transaction's final status once sent (default 120 s for inclusion, 300 s for finality);
   * past it `OutcomeUnknown` is thrown (the transaction may still be included).
   */
  timeoutMs?: number;
}

/** A transaction that went through. */
export interface Submitted<T> {
  /** What the message returned in the dry-run (the events say what the chain did when it ran). */
  value: T;
  /** The escrow's events, decoded, in order. */
  events: EscrowEvent[];
  blockHash: Hex;
  txHash: Hex;
  /** The transaction fee the signer paid (`TransactionFeePaid.actual_fee`, which includes any tip). */
  fee: bigint;
  /** Net storage deposit the signer paid (negative: refunded to it). */
  storageDeposit: bigint;
  dryRun: DryRun;
}

function weightOf(w: { refTime: { toBigInt(): bigint }; proofSize: { toBigInt(): bigint } }): Weight {
  return { refTime: w.refTime.toBigInt(), proofSize: w.proofSize.toBigInt() };
}

/** The chain's maximum weight of one normal extrinsic: the limit every dry-run gets. */
export function maxExtrinsicWeight(api: ApiPromise): Weight {
  const max = api.consts.system.blockWeights.perClass.normal.maxExtrinsic;
  if (max.isNone) {
    throw new ContractCallError('the chain sets no maxExtrinsic weight for normal extrinsics: cannot bound a dry-run');
  }
  return weightOf(max.unwrap());
}

/**
 * The storage deposit limit of a call: `given` (checked as a u128), else what the dry-run charged plus a
 * quarter (state may grow between the dry-run and inclusion; the chain charges only what is used), else 0.
 */
export function depositLimit(dry: DryRun, given: bigint | undefined): bigint {
  if (given !== undefined) {
    if (typeof given !== 'bigint' || given < 0n || given >= 1n << 128n) {
      throw new RangeError('storageDepositLimit: expected a bigint from 0 to 2^128 - 1');
    }
    return given;
  }
  return dry.storageDeposit > 0n ? dry.storageDeposit + dry.storageDeposit / 4n : 0n;
}

/** What failed at inclusion, as a `TransactionError` with the fee `who` paid for it. */
export function failure(api: ApiPromise, who: AccountLike, failed: Failed, cause?: unknown): TransactionError {
  const { fee } = feesOf(api, who, failed.records);
  return new TransactionError(
    `the transaction failed in block ${failed.blockHash}: ${failed.reason}`, failed.reason, failed.blockHash, { fee, cause });
}

/** `weight` plus a quarter (state may change between the dry-run and inclusion), at most `max`. */
export function withMargin(weight: Weight, max: Weight): Weight {
  const up = (v: bigint, m: bigint): bigint => (v + v / 4n < m ? v + v / 4n : m);
  return { refTime: up(weight.refTime, max.refTime), proofSize: up(weight.proofSize, max.proofSize) };
}

/** The `section.name` of a dispatch error (with its docs when the metadata has them). */
export function describeDispatchError(api: ApiPromise, error: DispatchError | SpRuntimeDispatchError): string {
  if (error.isModule) {
    const { index, error: code } = error.asModule;
    const meta = api.registry.findMetaError({ index: index.toBn(), error: code.toU8a() });
    return `${meta.section}.${meta.name}`;
  }
  return error.type;
}

/** The call data of `message(args)`: its selector and SCALE arguments, without the length prefix. */
export function callData(message: AbiMessage, args: unknown[]): Hex {
  const [, data] = compactStripLength(message.toU8a(args));
  return u8aToHex(data) as Hex;
}

/** A dry-run's outcome: ink!'s `Result<_, LangError>` decoded, then the message's own `Result` if any. */
export function decodeReturn(abi: Abi, message: AbiMessage, dry: DryRun): Codec {
  const type = message.returnType;
  if (!type) {
    throw new ContractCallError(`${message.identifier} has no return type in the metadata`);
  }
  let outer: Result<Codec, Codec>;
  try {
    outer = abi.registry.createTypeUnsafe(type.lookupName ?? type.type, [dry.data], { isPedantic: true });
  } catch (e) {
    throw new ContractCallError(`${message.identifier}: its output does not decode (${(e as Error).message})`);
  }
  if (outer.isErr) {
    const lang = (outer.asErr as unknown as { type: string }).type;
    throw new ContractCallError(`${message.identifier}: ink! refused the call (${lang})`, lang);
  }
  const inner = outer.asOk;
  if (inner instanceof Result) {
    if (inner.isErr) {
      throw escrowError((inner.asErr as unknown as { type: string }).type, message.identifier);
    }
    if (dry.reverted) {
      throw new ContractCallError(`${message.identifier}: the contract reverted but returned Ok`);
    }
    return inner.asOk;
  }
  if (dry.reverted) {
    throw new ContractCallError(`${message.identifier}: the contract reverted`);
  }
  return inner;
}

/** Decodes the escrow's events among `records` (one extrinsic's), skipping other contracts'. */
export function escrowEvents(api: ApiPromise, abi: Abi, address: Hex, records: EventRecord[]): EscrowEvent[] {
  const out: EscrowEvent[] = [];
  for (const record of records) {
    if (!api.events.contracts.ContractEmitted.is(record.event)) {
      continue;
    }
    if (u8aToHex(record.event.data[0].toU8a()) !== address) {
      continue;
    }
    const decoded = abi.decodeEvent(record);
    const name = decoded.event.identifier.split('::').pop() ?? decoded.event.identifier;
    const args: Record<string, unknown> = {};
    decoded.event.args.forEach((arg, i) => {
      const value = decoded.args[i];
      if (value === undefined) {
        throw new ContractCallError(`event ${name}: field ${arg.name} did not decode`);
      }
      args[arg.name] = toPlain(value);
    });
    out.push({ name, args } as EscrowEvent);
  }
  return out;
}

/** The signer's fee and net storage deposit among one extrinsic's events. */
export function feesOf(api: ApiPromise, who: AccountLike, records: EventRecord[]): { fee: bigint; storageDeposit: bigint } {
  const me = accountHex(who);
  let fee = 0n;
  let storageDeposit = 0n;
  for (const { event } of records) {
    if (api.events.transactionPayment.TransactionFeePaid.is(event)) {
      // `actual_fee` already includes the tip.
      fee += event.data.actualFee.toBigInt();
    } else if (api.events.contracts.StorageDepositTransferredAndHeld.is(event)) {
      if (u8aToHex(event.data.from.toU8a()) === me) {
        storageDeposit += event.data.amount.toBigInt();
      }
    } else if (api.events.contracts.StorageDepositTransferredAndReleased.is(event)) {
      if (u8aToHex(event.data.to.toU8a()) === me) {
        storageDeposit -= event.data.amount.toBigInt();
      }
    }
  }
  return { fee, storageDeposit };
}

/** What a submitted extrinsic came to. */
export interface Included {
  blockHash: Hex;
  txHash: Hex;
  records: EventRecord[];
}

/** A dispatch error at inclusion: its `section.name`, the block, and the fee paid. */
export interface Failed {
  reason: string;
  blockHash: Hex;
  records: EventRecord[];
}

/**
 * Signs and sends `tx` as `sender`, waiting for inclusion (or finality) at most `timeoutMs` once sent. Resolves
 * only when the block's events show the extrinsic's `system.ExtrinsicSuccess`. A dispatch error is
 * `onFailed`'s to throw (a `TransactionError`); a pool status that means it will never be included
 * (invalid, dropped, usurped) is a `TransactionError`; no final status in time, finality timing out, or a
 * block whose events the node could not give is `OutcomeUnknown`.
 */
export function signAndWait(
  api: ApiPromise,
  tx: SubmittableExtrinsic<'promise'>,
  sender: Sender,
  finalized: boolean,
  timeoutMs: number | undefined,
  onFailed: (failed: Failed) => Promise<Error>,
): Promise<Included> {
  return new Promise<Included>((resolve, reject) => {
    let unsubscribe: (() => void) | undefined;
    let settled = false;
    const wait = timeoutMs ?? (finalized ? 300_000 : 120_000);
    const txHash = (): Hex => (tx.isSigned ? tx.hash.toHex() : '0x') as Hex;
    const unknown = (why: string, blockHash?: Hex): OutcomeUnknown =>
      new OutcomeUnknown(why, txHash(), sender.address, blockHash);
    // The wait starts once the transaction is sent (signing may wait on a person approving it).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe?.();
      f();
    };
    const onStatus = (result: ISubmittableResult): void => {
      const { status } = result;
      if (status.isInvalid || status.isDropped || status.isUsurped) {
        finish(() => reject(new TransactionError(`the transaction was not included: ${status.type}`, status.type)));
        return;
      }
      if (status.isFinalityTimeout) {
        finish(() => reject(unknown('its block was not finalized in time', status.asFinalityTimeout.toHex() as Hex)));
        return;
      }
      // (A retracted block: its transaction goes back to the pool and a new status follows.)
      const done = finalized ? status.isFinalized : status.isInBlock || status.isFinalized;
      if (!done) return;
      const blockHash = (status.isFinalized ? status.asFinalized : status.asInBlock).toHex() as Hex;
      const internal = (result as ISubmittableResult & { internalError?: Error }).internalError;
      if (internal) {
        finish(() => reject(unknown(`included, but its events could not be read (${internal.message})`, blockHash)));
        return;
      }
      if (result.dispatchError) {
        const reason = describeDispatchError(api, result.dispatchError);
        const failed = { reason, blockHash, records: result.events };
        finish(() => {
          onFailed(failed).then(reject, reject);
        });
        return;
      }
      if (!result.events.some(({ event }) => api.events.system.ExtrinsicSuccess.is(event))) {
        finish(() => reject(unknown('included, but its events show neither success nor failure', blockHash)));
        return;
      }
      finish(() => resolve({ blockHash, txHash: result.txHash.toHex() as Hex, records: result.events }));
    };
    const sending = 'signer' in sender && !('sign' in sender)
      ? tx.signAndSend(sender.address, { signer: sender.signer, nonce: -1 }, onStatus)
      : tx.signAndSend(sender as KeyringPair, { nonce: -1 }, onStatus);
    sending.then(
      (unsub) => {
        if (settled) {
          unsub();
          return;
        }
        unsubscribe = unsub;
        timer = setTimeout(() => finish(() => reject(unknown(`no final status within ${wait} ms of sending it`))), wait);
      },
      (e: unknown) => finish(() => reject(e)),
    );
  });
}
