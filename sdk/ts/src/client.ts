// `Escrow`: the typed client of the escrow contract. Every consumer, provider, arbiter and owner message
// (dry-run first: a refusal is thrown as its typed EscrowError before anything is submitted; then
// submitted and waited for), and the reads, decoded into the plain types of types.ts.

import '@polkadot/api-augment';
import { Abi } from '@polkadot/api-contract';
import type { Codec } from '@polkadot/types/types';
import { Result } from '@polkadot/types-codec';

import { loadBundle, type BundleSource } from './bundle.js';
import { type AccountLike, type BytesLike, accountHex, checkUint, toHex } from './bytes.js';
import type { Sender, SubmitOptions, Submitted } from './chain.js';
import { toPlain } from './codec.js';
import { type DeployParams, type Deployed, deployEscrow } from './deploy.js';
import { ContractCallError, type EscrowError, NotSettled, OutcomeUnknown, escrowError } from './errors.js';
import { EscrowBase, type NodeLike, apiOf } from './escrow.js';
import type { SignedReceipt } from './receipt.js';
import type { Config, Dispute, EscrowEvent, EscrowEventMap, EscrowEventName, Job, Lane, Reputation, SettingsChange, Split, Stake } from './types.js';

/** Most receipts one `releaseMany` carries (ink!'s 16 KiB input buffer; as the Rust client). */
export const MAX_RELEASES_PER_CALL = 64;

/** A job's opening terms. */
export interface OpenJob {
  /** The deposit, transferred with the call. */
  deposit: bigint;
  /** 1 to 4 distinct providers, each with its allocation (together at most the deposit). */
  providers: { provider: AccountLike; allocation: bigint }[];
  /** The ed25519 public key that signs the job's receipts (`PayerKey.publicKey`). */
  payerKey: BytesLike;
  /** Hash of the agreed terms (32 bytes). */
  termsHash: BytesLike;
  /** Expiry, ms since the Unix epoch, within the maximum job duration. */
  expiresAt: bigint;
}

/** What a claim paid out. */
export interface Claim extends Submitted<bigint> {
  /** The `Claimed` event's amount: the claimable balance transferred. */
  claimed: bigint;
  /** Storage deposit released to the claimer (its balance record is removed), from the `contracts` events. */
  storageDepositRefund: bigint;
  /**
   * What the claimer actually received: `claimed + storageDepositRefund`. Its free balance changed by
   * `paidOut - fee`. Measured from the transaction's events, not from balances (which other transfers move).
   */
  paidOut: bigint;
}

/** The first event named `name` among `events`, or undefined. */
export function findEvent<N extends EscrowEventName>(events: EscrowEvent[], name: N): EscrowEventMap[N] | undefined {
  const found = events.find((e) => e.name === name);
  return found?.args as EscrowEventMap[N] | undefined;
}

const big = (c: Codec): bigint => toPlain(c) as bigint;
const none = (): void => undefined;
const u64 = (v: bigint | number, what: string): bigint => checkUint(v, 'u64', what);
const u128 = (v: bigint, what: string): bigint => checkUint(v, 'u128', what);

/** The split the chain settled for `signed`: its `Released` event (same job, provider and cumulative). */
function releasedBy(events: EscrowEvent[], { receipt }: SignedReceipt): Split | undefined {
  const provider = accountHex(receipt.provider);
  const found = events.find((e): e is Extract<EscrowEvent, { name: 'Released' }> =>
    e.name === 'Released' && e.args.jobId === BigInt(receipt.jobId) && accountHex(e.args.provider) === provider
    && e.args.cumulative === receipt.amount);
  return found && { net: found.args.net, fee: found.args.fee };
}

/** A receipt as the contract's `Receipt` argument. */
function receiptArg({ receipt: r, signature }: SignedReceipt): [Record<string, unknown>, string] {
  return [
    {
      domain: { genesis_hash: toHex(r.genesisHash, 32, 'receipt.genesisHash'), contract: accountHex(r.contract) },
      job_id: u64(r.jobId, 'receipt.jobId'),
      provider: accountHex(r.provider),
      amount: u128(r.amount, 'receipt.amount'),
      units: u128(r.units, 'receipt.units'),
      sequence: u64(r.sequence, 'receipt.sequence'),
      expires_at: u64(r.expiresAt, 'receipt.expiresAt'),
    },
    toHex(signature, 64, 'signature'),
  ];
}

/** The escrow contract, connected. */
export class Escrow extends EscrowBase {
  /**
   * Connects to the escrow deployed at `address` on `node`, with its bundle (path, JSON text or parsed
   * JSON). Refuses an address with no contract, or one whose code is not the bundle's (its code hash is
   * not the bundle's `source.hash`): messages would go, deposits and stakes with them, to a contract the
   * bundle does not describe.
   */
  static async connect(node: NodeLike, bundle: BundleSource, address: AccountLike): Promise<Escrow> {
    const json = await loadBundle(bundle);
    const { api, owned } = await apiOf(node);
    try {
      const escrow = new Escrow(api, new Abi(json, api.registry.getChainProperties()), address, owned);
      const info = await api.query.contracts.contractInfoOf(escrow.address);
      if (info.isNone) {
        throw new ContractCallError(`no contract at ${escrow.ss58} on this chain`);
      }
      const deployed = info.unwrap().codeHash.toHex();
      const bundled = escrow.abi.info.source.wasmHash.toHex();
      if (deployed !== bundled) {
        throw new ContractCallError(`the contract at ${escrow.ss58} runs code ${deployed}, not the bundle's ${bundled}`);
      }
      return escrow;
    } catch (e) {
      if (owned) await api.disconnect();
      throw e;
    }
  }

  /** Deploys the escrow (the deployer becomes its owner; a refusal of `new` is thrown typed) and connects. */
  static async deploy(
    node: NodeLike, bundle: BundleSource, deployer: Sender, params: DeployParams, options: SubmitOptions = {},
  ): Promise<Escrow & { deployed: Deployed }> {
    const json = await loadBundle(bundle);
    const { api, owned } = await apiOf(node);
    try {
      const abi = new Abi(json, api.registry.getChainProperties());
      const deployed = await deployEscrow(api, abi, deployer, params, options);
      return Object.assign(new Escrow(api, abi, deployed.address, owned), { deployed });
    } catch (e) {
      if (owned) await api.disconnect();
      throw e;
    }
  }

  // ---------------------------------------------------------------- consumer

  /** Opens a job funded with `job.deposit`; `jobId` is the id the chain gave it (from `JobOpened`). */
  async openJob(consumer: Sender, job: OpenJob, options?: SubmitOptions): Promise<Submitted<bigint> & { jobId: bigint }> {
    const providers = job.providers.map((p, i) => [accountHex(p.provider, `providers[${i}]`), u128(p.allocation, `providers[${i}].allocation`)]);
    const args = [providers, toHex(job.payerKey, 32, 'payerKey'), toHex(job.termsHash, 32, 'termsHash'), u64(job.expiresAt, 'expiresAt')];
    const done = await this.exec(consumer, 'open_job', args, u128(job.deposit, 'deposit'), big, options);
    const opened = findEvent(done.events, 'JobOpened');
    if (!opened) throw new OutcomeUnknown('open_job went through without a JobOpened event', done.txHash, consumer.address, done.blockHash);
    // The chain's id (the dry-run's may differ: another job may have been opened in between).
    return { ...done, value: opened.jobId, jobId: opened.jobId };
  }

  /** Adds `amount` to a job: to `to`'s allocation at once, or (no `to`) to its unallocated funds. */
  async topUp(consumer: Sender, jobId: bigint, amount: bigint, to?: AccountLike | null, options?: SubmitOptions): Promise<Submitted<void>> {
    const target = to == null ? null : accountHex(to, 'to');
    return this.exec(consumer, 'top_up', [u64(jobId, 'jobId'), target], u128(amount, 'amount'), none, options);
  }

  /** Raises `provider`'s allocation by `amount` at once from the unallocated funds; returns the new allocation. */
  async allocate(consumer: Sender, jobId: bigint, provider: AccountLike, amount: bigint, options?: SubmitOptions): Promise<Submitted<bigint>> {
    return this.exec(consumer, 'allocate', [u64(jobId, 'jobId'), accountHex(provider, 'provider'), u128(amount, 'amount')], 0n, big, options);
  }

  /** Starts lowering `provider`'s allocation by `amount`; returns when the thaw ends (the dry-run's moment). */
  async thaw(consumer: Sender, jobId: bigint, provider: AccountLike, amount: bigint, options?: SubmitOptions): Promise<Submitted<bigint>> {
    return this.exec(consumer, 'thaw', [u64(jobId, 'jobId'), accountHex(provider, 'provider'), u128(amount, 'amount')], 0n, big, options);
  }

  /** Completes a job; returns when it stops accepting receipts (the dry-run's; `JobCompleted` has the block's). */
  async complete(consumer: Sender, jobId: bigint, options?: SubmitOptions): Promise<Submitted<bigint>> {
    return this.exec(consumer, 'complete', [u64(jobId, 'jobId')], 0n, big, options);
  }

  /** Finalizes an ended job (anyone may): credits the remainder to the consumer's claimable balance. */
  async refund(caller: Sender, jobId: bigint, options?: SubmitOptions): Promise<Submitted<bigint>> {
    return this.exec(caller, 'refund', [u64(jobId, 'jobId')], 0n, big, options);
  }

  /** Disputes `provider`'s work on a job (`reason`: 32-byte hash of the evidence); returns the arbitration deadline. */
  async dispute(consumer: Sender, jobId: bigint, provider: AccountLike, reason: BytesLike, options?: SubmitOptions): Promise<Submitted<bigint>> {
    const args = [u64(jobId, 'jobId'), accountHex(provider, 'provider'), toHex(reason, 32, 'reason')];
    return this.exec(consumer, 'dispute', args, 0n, big, options);
  }

  // ---------------------------------------------------------------- provider

  /** Accepts a job naming the caller: its allocation at least `minFunds`, one dispute slashing at most `maxSlash`. */
  async acceptJob(provider: Sender, jobId: bigint, terms: { minFunds: bigint; maxSlash: bigint }, options?: SubmitOptions): Promise<Submitted<bigint>> {
    const args = [u64(jobId, 'jobId'), u128(terms.minFunds, 'minFunds'), u128(terms.maxSlash, 'maxSlash')];
    return this.exec(provider, 'accept_job', args, 0n, big, options);
  }

  /**
   * Settles one signed receipt (anyone may submit it); `value` is the split of the step the chain settled,
   * from its `Released` event (the dry-run's could differ if the lane moved in between).
   */
  async release(submitter: Sender, signed: SignedReceipt, options?: SubmitOptions): Promise<Submitted<Split>> {
    const done = await this.exec(submitter, 'release', receiptArg(signed), 0n, (c) => toPlain(c) as Split, options);
    const settled = releasedBy(done.events, signed);
    if (!settled) throw new OutcomeUnknown('release went through without its Released event', done.txHash, submitter.address, done.blockHash);
    return { ...done, value: settled };
  }

  /**
   * Settles up to 64 receipts in one call, each on its own. Per receipt, in order: the split the chain
   * settled (its `Released` event); or the typed error the dry-run refused it with (the call settles the
   * others); or `NotSettled`, when the dry-run settled it but the chain did not (the lane moved in between).
   */
  async releaseMany(submitter: Sender, signed: SignedReceipt[], options?: SubmitOptions): Promise<Submitted<(Split | EscrowError | NotSettled)[]>> {
    if (signed.length > MAX_RELEASES_PER_CALL) {
      throw new RangeError(`releaseMany takes at most ${MAX_RELEASES_PER_CALL} receipts, got ${signed.length}`);
    }
    const convert = (c: Codec): (Split | EscrowError)[] =>
      [...(c as unknown as Iterable<Result<Codec, Codec>>)].map((r) =>
        r.isOk ? (toPlain(r.asOk) as Split) : escrowError((r.asErr as unknown as { type: string }).type, 'release'));
    const done = await this.exec(submitter, 'release_many', [signed.map(receiptArg)], 0n, convert, options);
    const value = signed.map((s, i) => {
      const settled = releasedBy(done.events, s);
      if (settled) return settled;
      const dry = done.value[i];
      return dry && !('net' in dry)
        ? dry
        : new NotSettled(`receipt ${i} (job ${s.receipt.jobId}, cumulative ${s.receipt.amount}) was settled by the dry-run, not by the chain`);
    });
    return { ...done, value };
  }

  /** Pays out the caller's claimable balance; see `Claim` for what was actually received. */
  async claim(caller: Sender, options?: SubmitOptions): Promise<Claim> {
    const done = await this.exec(caller, 'claim', [], 0n, big, options);
    const me = accountHex(caller.address);
    const claimed = done.events.find((e): e is Extract<EscrowEvent, { name: 'Claimed' }> => e.name === 'Claimed' && accountHex(e.args.account) === me);
    if (!claimed) throw new OutcomeUnknown('claim went through without a Claimed event for the caller', done.txHash, caller.address, done.blockHash);
    const storageDepositRefund = -done.storageDeposit;
    return { ...done, claimed: claimed.args.amount, storageDepositRefund, paidOut: claimed.args.amount + storageDepositRefund };
  }

  /** Bonds `amount` as the caller's provider stake. */
  async stake(provider: Sender, amount: bigint, options?: SubmitOptions): Promise<Submitted<void>> {
    return this.exec(provider, 'stake', [], u128(amount, 'amount'), none, options);
  }

  /** Starts unbonding `amount` of the active stake; returns when it unlocks. */
  async unbond(provider: Sender, amount: bigint, options?: SubmitOptions): Promise<Submitted<bigint>> {
    return this.exec(provider, 'unbond', [u128(amount, 'amount')], 0n, big, options);
  }

  /** Withdraws the unbonded stake once its delay, job locks and disputes are past; returns the amount. */
  async withdraw(provider: Sender, options?: SubmitOptions): Promise<Submitted<bigint>> {
    return this.exec(provider, 'withdraw', [], 0n, big, options);
  }

  // ---------------------------------------------------------------- arbiter

  /** The job's arbiter resolves a pending dispute, slashing `slash` (0n dismisses) to the consumer. */
  async resolveDispute(arbiter: Sender, jobId: bigint, provider: AccountLike, slash: bigint, options?: SubmitOptions): Promise<Submitted<void>> {
    const args = [u64(jobId, 'jobId'), accountHex(provider, 'provider'), u128(slash, 'slash')];
    return this.exec(arbiter, 'resolve_dispute', args, 0n, none, options);
  }

  // ---------------------------------------------------------------- owner

  /** Proposes `newOwner`, who must `acceptOwnership`. */
  async transferOwnership(owner: Sender, newOwner: AccountLike, options?: SubmitOptions): Promise<Submitted<void>> {
    return this.exec(owner, 'transfer_ownership', [accountHex(newOwner, 'newOwner')], 0n, none, options);
  }

  /** The proposed owner accepts ownership. */
  async acceptOwnership(pending: Sender, options?: SubmitOptions): Promise<Submitted<void>> {
    return this.exec(pending, 'accept_ownership', [], 0n, none, options);
  }

  /** Announces a settings change (unset keeps a setting); returns when it may apply (one admin delay on). */
  async announceSettings(owner: Sender, change: SettingsChange, options?: SubmitOptions): Promise<Submitted<bigint>> {
    const arg = {
      treasury: change.treasury == null ? null : accountHex(change.treasury, 'treasury'),
      arbiter: change.arbiter == null ? null : accountHex(change.arbiter, 'arbiter'),
      fee_bps: change.feeBps == null ? null : Number(checkUint(change.feeBps, 'u16', 'feeBps')),
      min_stake: change.minStake == null ? null : u128(change.minStake, 'minStake'),
      slash_bps: change.slashBps == null ? null : Number(checkUint(change.slashBps, 'u16', 'slashBps')),
    };
    return this.exec(owner, 'announce_settings', [arg], 0n, big, options);
  }

  /** Puts the announced settings in force once their admin delay has passed. */
  async applySettings(owner: Sender, options?: SubmitOptions): Promise<Submitted<void>> {
    return this.exec(owner, 'apply_settings', [], 0n, none, options);
  }

  /** Pauses or resumes the opening of new jobs. */
  async setPaused(owner: Sender, paused: boolean, options?: SubmitOptions): Promise<Submitted<void>> {
    return this.exec(owner, 'set_paused', [paused], 0n, none, options);
  }

  // ---------------------------------------------------------------- reads

  /** The configuration. */
  async config(): Promise<Config> {
    return (await this.query('config')) as Config;
  }

  /** A job, or null if none has this id. */
  async job(jobId: bigint): Promise<Job | null> {
    return (await this.query('job', [u64(jobId, 'jobId')])) as Job | null;
  }

  /** What has been settled on a job for `provider` (zeros if nothing). */
  async lane(jobId: bigint, provider: AccountLike): Promise<Lane> {
    return (await this.query('lane', [u64(jobId, 'jobId'), accountHex(provider, 'provider')])) as Lane;
  }

  /** An account's provider stake. */
  async stakeOf(provider: AccountLike): Promise<Stake> {
    return (await this.query('stake_of', [accountHex(provider, 'provider')])) as Stake;
  }

  /** A provider's reputation counters and score (per mille). */
  async reputationOf(provider: AccountLike): Promise<Reputation> {
    const [reputation, score] = (await this.query('reputation_of', [accountHex(provider, 'provider')])) as [Omit<Reputation, 'score'>, number];
    return { ...reputation, score };
  }

  /** An account's claimable balance (the treasury's includes its accrued fees). */
  async balanceOf(account: AccountLike): Promise<bigint> {
    return (await this.query('balance_of', [accountHex(account, 'account')])) as bigint;
  }

  /** The dispute of a job against `provider`, or null. */
  async disputeOf(jobId: bigint, provider: AccountLike): Promise<Dispute | null> {
    return (await this.query('dispute_of', [u64(jobId, 'jobId'), accountHex(provider, 'provider')])) as Dispute | null;
  }
}
