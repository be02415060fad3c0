// The contract's records and events as plain TypeScript values (field names camelCase, as polkadot.js
// names them): u64 and u128 as bigint (amounts, job ids, timestamps in ms since the Unix epoch), u16 and
// u32 as number, accounts as SS58 text (generic prefix 42; compare them with sameAccount), byte arrays as
// 0x hex, `Option` as `null` or the value, unit enums as their variant name. Mirrors
// settlement/src/state.rs and events.rs.

import type { Address, Hex } from './bytes.js';

export type JobStatus = 'Open' | 'Completed' | 'Finalized';
export type DisputeStatus = 'Pending' | 'Upheld' | 'Dismissed';

/** Fixed time parameters, all in milliseconds. */
export interface Timing {
  unbondDelay: bigint;
  disputeWindow: bigint;
  settleGrace: bigint;
  maxJobDuration: bigint;
  thawPeriod: bigint;
  adminDelay: bigint;
  arbitrationPeriod: bigint;
}

export interface Settings {
  treasury: Address;
  arbiter: Address;
  feeBps: number;
  minStake: bigint;
  slashBps: number;
}

export interface Config {
  owner: Address;
  pendingOwner: Address | null;
  treasury: Address;
  arbiter: Address;
  feeBps: number;
  minStake: bigint;
  slashBps: number;
  paused: boolean;
  announced: { settings: Settings; effectiveAt: bigint } | null;
  timing: Timing;
  domain: { genesisHash: Hex; contract: Address };
  nextJobId: bigint;
  /** Fees accrued to the treasury since its last claim (included in `balance(treasury)`). */
  fees: bigint;
}

/** What has been settled on one job for one provider. */
export interface Lane {
  amount: bigint;
  units: bigint;
  sequence: bigint;
  fee: bigint;
}

export interface Slot {
  /** When the provider accepted (0n: it has not). */
  acceptedAt: bigint;
  maxSlash: bigint;
  allocation: bigint;
  thaw: { amount: bigint; endsAt: bigint };
  lane: Lane;
}

export interface Job {
  consumer: Address;
  providers: Address[];
  /** One per provider, in the order of `providers`. */
  slots: Slot[];
  payerKey: Hex;
  arbiter: Address;
  termsHash: Hex;
  feeBps: number;
  slashBps: number;
  deposit: bigint;
  unallocated: bigint;
  released: bigint;
  openedAt: bigint;
  expiresAt: bigint;
  endsAt: bigint;
  status: JobStatus;
}

export interface Stake {
  active: bigint;
  unbonding: bigint;
  unlockAt: bigint;
  lockedUntil: bigint;
  pendingDisputes: number;
  disputedUntil: bigint;
}

export interface Reputation {
  jobsCompleted: bigint;
  volume: bigint;
  disputesLost: number;
  slashed: bigint;
  /** Per mille: 1000 with no history. */
  score: number;
}

export interface Dispute {
  reason: Hex;
  openedAt: bigint;
  resolveBy: bigint;
  status: DisputeStatus;
  slashed: bigint;
}

/** A release's split of the step it settled. */
export interface Split {
  net: bigint;
  fee: bigint;
}

/** A change of settings the owner announces (`null` or absent keeps a setting). */
export interface SettingsChange {
  treasury?: string | Uint8Array | null;
  arbiter?: string | Uint8Array | null;
  feeBps?: number | null;
  minStake?: bigint | null;
  slashBps?: number | null;
}

/** The contract's events, by name (see contracts/escrow/src/lib.rs for each field's meaning). */
export interface EscrowEventMap {
  JobOpened: {
    jobId: bigint; consumer: Address; providers: Address[]; allocations: bigint[]; deposit: bigint; payerKey: Hex;
    termsHash: Hex; feeBps: number; slashBps: number; arbiter: Address; expiresAt: bigint;
  };
  JobAccepted: { jobId: bigint; provider: Address; funds: bigint; maxSlash: bigint; lockedUntil: bigint };
  ToppedUp: { jobId: bigint; consumer: Address; amount: bigint; deposit: bigint };
  Allocated: {
    jobId: bigint; consumer: Address; provider: Address; amount: bigint; allocation: bigint; unallocated: bigint;
  };
  ThawStarted: { jobId: bigint; consumer: Address; provider: Address; amount: bigint; endsAt: bigint };
  Released: {
    jobId: bigint; consumer: Address; provider: Address; cumulative: bigint; units: bigint; sequence: bigint;
    amount: bigint; fee: bigint; net: bigint;
  };
  JobCompleted: { jobId: bigint; consumer: Address; endsAt: bigint };
  Refunded: { jobId: bigint; consumer: Address; amount: bigint };
  Claimed: { account: Address; amount: bigint };
  Staked: { provider: Address; amount: bigint; active: bigint };
  Unbonding: { provider: Address; amount: bigint; unbonding: bigint; unlockAt: bigint };
  Withdrawn: { provider: Address; amount: bigint };
  DisputeOpened: { jobId: bigint; consumer: Address; provider: Address; reason: Hex; resolveBy: bigint };
  DisputeResolved: { jobId: bigint; consumer: Address; provider: Address; slashed: bigint };
  ReputationChanged: {
    provider: Address; reputation: Omit<Reputation, 'score'>; score: number;
  };
  OwnershipTransferStarted: { owner: Address; pending: Address };
  OwnershipTransferred: { previous: Address; owner: Address };
  SettingsAnnounced: Settings & { effectiveAt: bigint };
  SettingsChanged: Settings & { paused: boolean };
}

export type EscrowEventName = keyof EscrowEventMap;

/** One contract event: its name and its fields. */
export type EscrowEvent = { [N in EscrowEventName]: { name: N; args: EscrowEventMap[N] } }[EscrowEventName];
