// The machinery every escrow call shares: a connection and the bundle's ABI, a dry-run of any message
// (bounded by the chain's per-extrinsic weight), a read-only query, and `exec` (dry-run, refuse typed,
// submit, wait, decode). The typed messages and reads are `Escrow`'s, in client.ts.

import '@polkadot/api-augment';
import { ApiPromise, WsProvider } from '@polkadot/api';
import type { Abi } from '@polkadot/api-contract';
import type { AbiMessage } from '@polkadot/api-contract/types';
import type { Codec } from '@polkadot/types/types';

import { type AccountLike, type Address, type Hex, accountHex, checkUint, toAddress } from './bytes.js';
import {
  type DryRun, type Failed, type Sender, type SubmitOptions, type Submitted, type Weight, callData, decodeReturn, describeDispatchError,
  depositLimit, escrowEvents, failure, feesOf, maxExtrinsicWeight, signAndWait, withMargin,
} from './chain.js';
import { toPlain } from './codec.js';
import { ContractCallError } from './errors.js';
import type { Receipt } from './receipt.js';

/** A node: its WebSocket URL, or a connected polkadot.js `ApiPromise` (the caller keeps ownership of it). */
export type NodeLike = string | ApiPromise;

export async function apiOf(node: NodeLike): Promise<{ api: ApiPromise; owned: boolean }> {
  if (typeof node !== 'string') {
    await node.isReady;
    return { api: node, owned: false };
  }
  const api = await ApiPromise.create({ provider: new WsProvider(node), noInitWarn: true, throwOnConnect: true });
  return { api, owned: true };
}

/** The shared machinery of a connected escrow (see `Escrow` for the typed API). */
export class EscrowBase {
  /** The polkadot.js API it uses. */
  readonly api: ApiPromise;
  /** The bundle's ABI. */
  readonly abi: Abi;
  /** The contract's account, as hex. */
  readonly address: Hex;
  readonly #owned: boolean;
  readonly #maxWeight: Weight;

  protected constructor(api: ApiPromise, abi: Abi, address: AccountLike, owned: boolean) {
    this.api = api;
    this.abi = abi;
    this.address = accountHex(address, 'contract address');
    this.#owned = owned;
    this.#maxWeight = maxExtrinsicWeight(api);
  }

  /** Closes the connection if `connect`/`deploy` opened it. */
  async disconnect(): Promise<void> {
    if (this.#owned) await this.api.disconnect();
  }

  /** The genesis hash of the chain (every receipt's domain). */
  get genesisHash(): Hex {
    return this.api.genesisHash.toHex() as Hex;
  }

  /** The latest block's timestamp (ms since the Unix epoch): the "now" the contract sees in a dry-run. */
  async now(): Promise<bigint> {
    return (await this.api.query.timestamp.now()).toBigInt();
  }

  /** An account's free native balance. */
  async freeBalance(account: AccountLike): Promise<bigint> {
    const info = await this.api.query.system.account(accountHex(account));
    return info.data.free.toBigInt();
  }

  /** A receipt for this escrow on this chain (its domain filled in). */
  receipt(fields: Omit<Receipt, 'genesisHash' | 'contract'>): Receipt {
    return { genesisHash: this.genesisHash, contract: this.address, ...fields };
  }

  /** The address of the contract, as SS58. */
  get ss58(): Address {
    return toAddress(this.address);
  }

  #message(label: string): AbiMessage {
    return this.abi.findMessage(label);
  }

  /** Runs `label(args)` as `origin` with `value` attached without committing it (on the state `at` a block). */
  async dryRun(origin: AccountLike, label: string, args: unknown[], value = 0n, at?: Hex): Promise<{ dry: DryRun; data: Hex }> {
    const data = callData(this.#message(label), args);
    const api = at === undefined ? this.api : await this.api.at(at);
    const raw = await api.call.contractsApi.call(
      accountHex(origin, 'origin'), this.address, checkUint(value, 'u128', 'value'), this.#maxWeight, null, data);
    if (raw.result.isErr) {
      const reason = describeDispatchError(this.api, raw.result.asErr);
      throw new ContractCallError(`${label}: the dry-run failed (${reason})`, reason);
    }
    const ok = raw.result.asOk;
    const dry: DryRun = {
      gasConsumed: { refTime: raw.gasConsumed.refTime.toBigInt(), proofSize: raw.gasConsumed.proofSize.toBigInt() },
      gasRequired: { refTime: raw.gasRequired.refTime.toBigInt(), proofSize: raw.gasRequired.proofSize.toBigInt() },
      storageDeposit: raw.storageDeposit.isCharge ? raw.storageDeposit.asCharge.toBigInt() : -raw.storageDeposit.asRefund.toBigInt(),
      // polkadot.js decodes the flags as `{ bits }` for this metadata (no `isRevert`): bit 0 is the revert flag.
      reverted: (ok.flags.bits.toNumber() & 1) === 1,
      data: ok.data.toU8a(true),
    };
    return { dry, data };
  }

  /** Runs read-only `label(args)` and returns its value as a plain value. */
  async query(label: string, args: unknown[] = []): Promise<unknown> {
    const { dry } = await this.dryRun(this.address, label, args);
    return toPlain(decodeReturn(this.abi, this.#message(label), dry));
  }

  /**
   * Dry-runs `label(args)` as `sender` (a refusal is thrown as its typed `EscrowError` and nothing is
   * submitted), then submits it with the dry-run's weight (plus a quarter) and storage deposit and waits
   * for inclusion (`options.finalized`: finality). `convert` turns the dry-run's return value into `T`.
   */
  async exec<T>(
    sender: Sender,
    label: string,
    args: unknown[],
    value: bigint,
    convert: (value: Codec) => T,
    options: SubmitOptions = {},
  ): Promise<Submitted<T>> {
    const { dry, data } = await this.dryRun(sender.address, label, args, value);
    const out = convert(decodeReturn(this.abi, this.#message(label), dry));
    const gas = withMargin(dry.gasRequired, this.#maxWeight);
    const limit = depositLimit(dry, options.storageDepositLimit);
    const tx = this.api.tx.contracts.call(this.address, value, gas, limit, data);
    // Reverted at inclusion (the state changed since the dry-run): the same call dry-run on the block's
    // state names the contract's refusal, as the error's cause.
    const onFailed = async (failed: Failed): Promise<Error> => {
      let cause: unknown;
      if (failed.reason === 'contracts.ContractReverted') {
        try {
          const { dry: again } = await this.dryRun(sender.address, label, args, value, failed.blockHash);
          decodeReturn(this.abi, this.#message(label), again);
        } catch (e) {
          cause = e;
        }
      }
      return failure(this.api, sender.address, failed, cause);
    };
    const included = await signAndWait(this.api, tx, sender, options.finalized ?? false, options.timeoutMs, onFailed);
    const { fee, storageDeposit } = feesOf(this.api, sender.address, included.records);
    return {
      value: out,
      events: escrowEvents(this.api, this.abi, this.address, included.records),
      blockHash: included.blockHash,
      txHash: included.txHash,
      fee,
      storageDeposit,
      dryRun: dry,
    };
  }
}
