// Deploying the escrow: upload its Wasm and run its `new` constructor through `contracts.instantiateWithCode`,
// dry-run first through the `ContractsApi_instantiate` runtime API (the constructor's
// `Result<Result<(), Error>, LangError>` decoded by hand from the return data, so a refusal such as
// `InvalidConfig` is thrown as its typed error before anything is submitted).

import '@polkadot/api-augment';
import type { ApiPromise } from '@polkadot/api';
import type { Abi } from '@polkadot/api-contract';
import { isHex, isU8a, u8aToHex } from '@polkadot/util';

import { type AccountLike, type BytesLike, type Hex, accountHex, checkUint, toHex } from './bytes.js';
import {
  type DryRun, type Sender, type SubmitOptions, callData, decodeReturn, depositLimit, describeDispatchError, escrowEvents,
  failure, maxExtrinsicWeight, signAndWait, withMargin,
} from './chain.js';
import { ContractCallError, OutcomeUnknown } from './errors.js';
import type { EscrowEvent, Timing } from './types.js';

/** The escrow's time parameters as given to `deploy` (ms; bigints or safe integers). */
export type TimingInput = { [K in keyof Timing]: bigint | number };

/** What the constructor takes (the deployer becomes the owner). */
export interface DeployParams {
  treasury: AccountLike;
  arbiter: AccountLike;
  /** Fee in basis points (at most 1 000). */
  feeBps: number;
  minStake: bigint;
  /** Share of a provider's accepted funds one dispute may slash, in basis points (at most 10 000). */
  slashBps: number;
  timing: TimingInput;
  /** Salt of the contract's address (default: 32 random bytes). */
  salt?: BytesLike;
  /** The genesis hash receipts must be signed for (default: this chain's). */
  genesisHash?: BytesLike;
}

/** A deployed escrow. */
export interface Deployed {
  address: Hex;
  events: EscrowEvent[];
  blockHash: Hex;
}

const TIMING_KEYS = {
  unbondDelay: 'unbond_delay', disputeWindow: 'dispute_window', settleGrace: 'settle_grace',
  maxJobDuration: 'max_job_duration', thawPeriod: 'thaw_period', adminDelay: 'admin_delay',
  arbitrationPeriod: 'arbitration_period',
} as const;

/** Instantiates the escrow with `params` as `deployer`; returns its address and constructor events. */
export async function deployEscrow(
  api: ApiPromise,
  abi: Abi,
  deployer: Sender,
  params: DeployParams,
  options: SubmitOptions = {},
): Promise<Deployed> {
  const ctor = abi.findConstructor('new');
  const timing: Record<string, bigint> = {};
  for (const [key, field] of Object.entries(TIMING_KEYS)) {
    timing[field] = checkUint(params.timing[key as keyof Timing], 'u64', `timing.${key}`);
  }
  const args = [
    toHex(params.genesisHash ?? api.genesisHash.toU8a(), 32, 'genesisHash'),
    accountHex(params.treasury, 'treasury'),
    accountHex(params.arbiter, 'arbiter'),
    Number(checkUint(params.feeBps, 'u16', 'feeBps')),
    checkUint(params.minStake, 'u128', 'minStake'),
    Number(checkUint(params.slashBps, 'u16', 'slashBps')),
    timing,
  ];
  const data = callData(ctor, args);
  const salt = saltHex(params.salt);
  const code = abi.info.source.wasm.toHex();
  const max = maxExtrinsicWeight(api);

  const raw = await api.call.contractsApi.instantiate(deployer.address, 0, max, null, { Upload: code }, data, salt);
  if (raw.result.isErr) {
    const reason = describeDispatchError(api, raw.result.asErr);
    throw new ContractCallError(`new: the instantiation dry-run failed (${reason})`, reason);
  }
  const ok = raw.result.asOk;
  const dry: DryRun = {
    gasConsumed: { refTime: raw.gasConsumed.refTime.toBigInt(), proofSize: raw.gasConsumed.proofSize.toBigInt() },
    gasRequired: { refTime: raw.gasRequired.refTime.toBigInt(), proofSize: raw.gasRequired.proofSize.toBigInt() },
    storageDeposit: raw.storageDeposit.isCharge ? raw.storageDeposit.asCharge.toBigInt() : -raw.storageDeposit.asRefund.toBigInt(),
    reverted: (ok.result.flags.bits.toNumber() & 1) === 1,
    data: ok.result.data.toU8a(true),
  };
  decodeReturn(abi, ctor, dry); // throws the typed refusal
  const expected = u8aToHex(ok.accountId.toU8a()) as Hex;

  const gas = withMargin(dry.gasRequired, max);
  const limit = depositLimit(dry, options.storageDepositLimit);
  const tx = api.tx.contracts.instantiateWithCode(0, gas, limit, code, data, salt);
  const included = await signAndWait(
    api, tx, deployer, options.finalized ?? false, options.timeoutMs, async (failed) => failure(api, deployer.address, failed));
  const created = included.records.find(({ event }) => api.events.contracts.Instantiated.is(event));
  if (!created || !api.events.contracts.Instantiated.is(created.event)) {
    throw new OutcomeUnknown('the deployment was included but no contracts.Instantiated event came', included.txHash, deployer.address, included.blockHash);
  }
  const address = u8aToHex(created.event.data.contract.toU8a()) as Hex;
  if (address !== expected) {
    throw new OutcomeUnknown(`the escrow was instantiated at ${address}, not at the dry-run's ${expected}`, included.txHash, deployer.address, included.blockHash);
  }
  return { address, events: escrowEvents(api, abi, address, included.records), blockHash: included.blockHash };
}

/** The salt as hex: any bytes given (hex or raw), or 32 random ones. */
function saltHex(salt: BytesLike | undefined): Hex {
  if (salt === undefined) return u8aToHex(crypto.getRandomValues(new Uint8Array(32))) as Hex;
  if (isU8a(salt)) return u8aToHex(salt) as Hex;
  if (!isHex(salt)) throw new TypeError('salt: expected 0x-prefixed hex or a Uint8Array');
  return salt.toLowerCase() as Hex;
}
