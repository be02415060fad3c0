// The SDK's errors. A contract refusal is an `EscrowError`, one subclass per variant of the contract's
// `Error` enum (settlement/src/error.rs, in ABI order: the index is the SCALE variant index), so callers
// can `catch (e) { if (e instanceof ExceedsAllocation) ... }`. Other failures: the call could not run
// (`ContractCallError`), the transaction failed or was dropped after submission (`TransactionError`).

/** A refusal by the escrow contract's rules, found by a dry-run before anything was submitted. */
export class EscrowError extends Error {
  /** The contract's variant name, e.g. `ExceedsAllocation`. */
  readonly variant: EscrowErrorVariant;
  /** Its SCALE index in the contract's ABI. */
  readonly index: number;
  /** The contract message that was refused (e.g. `release`). */
  readonly call: string;

  constructor(variant: EscrowErrorVariant, call: string) {
    super(`${call} refused by the escrow: ${variant}`);
    this.variant = variant;
    this.index = ESCROW_ERROR_VARIANTS.indexOf(variant);
    this.call = call;
    this.name = variant;
  }
}

/** The contract's `Error` variants, in ABI order (append only). */
export const ESCROW_ERROR_VARIANTS = [
  'Unauthorized', 'Paused', 'ZeroAmount', 'InvalidProviders', 'InsufficientStake', 'ExpiryInPast',
  'ExpiryTooFar', 'JobNotFound', 'JobEnded', 'JobNotEnded', 'JobFinalized', 'AlreadyCompleted', 'WrongChain',
  'WrongContract', 'NotAProvider', 'ReceiptExpired', 'BadSignature', 'Replayed', 'CumulativeNotIncreasing',
  'UnitsDecreased', 'ExceedsEscrow', 'NothingToClaim', 'InsufficientActiveStake', 'StakeLocked',
  'DisputeWindowClosed', 'DisputeExists', 'DisputeNotFound', 'SlashExceedsStake', 'FeeTooHigh',
  'InvalidConfig', 'NoPendingOwner', 'Overflow', 'TransferFailed', 'SettingsNotDue', 'DisputeExpired',
  'NotAccepted', 'AlreadyAccepted', 'TermsChanged', 'SlashExceedsBound', 'ExceedsAllocation',
  'InsufficientUnallocated', 'InsufficientAllocation', 'ThawPending',
] as const;

/** The name of one of the contract's `Error` variants. */
export type EscrowErrorVariant = (typeof ESCROW_ERROR_VARIANTS)[number];

type VariantClass = new (call: string) => EscrowError;

// One class per variant (see settlement/src/error.rs for what each means).
export class Unauthorized extends EscrowError { constructor(call: string) { super('Unauthorized', call); } }
export class Paused extends EscrowError { constructor(call: string) { super('Paused', call); } }
export class ZeroAmount extends EscrowError { constructor(call: string) { super('ZeroAmount', call); } }
export class InvalidProviders extends EscrowError { constructor(call: string) { super('InvalidProviders', call); } }
export class InsufficientStake extends EscrowError { constructor(call: string) { super('InsufficientStake', call); } }
export class ExpiryInPast extends EscrowError { constructor(call: string) { super('ExpiryInPast', call); } }
export class ExpiryTooFar extends EscrowError { constructor(call: string) { super('ExpiryTooFar', call); } }
export class JobNotFound extends EscrowError { constructor(call: string) { super('JobNotFound', call); } }
export class JobEnded extends EscrowError { constructor(call: string) { super('JobEnded', call); } }
export class JobNotEnded extends EscrowError { constructor(call: string) { super('JobNotEnded', call); } }
export class JobFinalized extends EscrowError { constructor(call: string) { super('JobFinalized', call); } }
export class AlreadyCompleted extends EscrowError { constructor(call: string) { super('AlreadyCompleted', call); } }
export class WrongChain extends EscrowError { constructor(call: string) { super('WrongChain', call); } }
export class WrongContract extends EscrowError { constructor(call: string) { super('WrongContract', call); } }
export class NotAProvider extends EscrowError { constructor(call: string) { super('NotAProvider', call); } }
export class ReceiptExpired extends EscrowError { constructor(call: string) { super('ReceiptExpired', call); } }
export class BadSignature extends EscrowError { constructor(call: string) { super('BadSignature', call); } }
export class Replayed extends EscrowError { constructor(call: string) { super('Replayed', call); } }
export class CumulativeNotIncreasing extends EscrowError { constructor(call: string) { super('CumulativeNotIncreasing', call); } }
export class UnitsDecreased extends EscrowError { constructor(call: string) { super('UnitsDecreased', call); } }
export class ExceedsEscrow extends EscrowError { constructor(call: string) { super('ExceedsEscrow', call); } }
export class NothingToClaim extends EscrowError { constructor(call: string) { super('NothingToClaim', call); } }
export class InsufficientActiveStake extends EscrowError { constructor(call: string) { super('InsufficientActiveStake', call); } }
export class StakeLocked extends EscrowError { constructor(call: string) { super('StakeLocked', call); } }
export class DisputeWindowClosed extends EscrowError { constructor(call: string) { super('DisputeWindowClosed', call); } }
export class DisputeExists extends EscrowError { constructor(call: string) { super('DisputeExists', call); } }
export class DisputeNotFound extends EscrowError { constructor(call: string) { super('DisputeNotFound', call); } }
export class SlashExceedsStake extends EscrowError { constructor(call: string) { super('SlashExceedsStake', call); } }
export class FeeTooHigh extends EscrowError { constructor(call: string) { super('FeeTooHigh', call); } }
export class InvalidConfig extends EscrowError { constructor(call: string) { super('InvalidConfig', call); } }
export class NoPendingOwner extends EscrowError { constructor(call: string) { super('NoPendingOwner', call); } }
export class Overflow extends EscrowError { constructor(call: string) { super('Overflow', call); } }
export class TransferFailed extends EscrowError { constructor(call: string) { super('TransferFailed', call); } }
export class SettingsNotDue extends EscrowError { constructor(call: string) { super('SettingsNotDue', call); } }
export class DisputeExpired extends EscrowError { constructor(call: string) { super('DisputeExpired', call); } }
export class NotAccepted extends EscrowError { constructor(call: string) { super('NotAccepted', call); } }
export class AlreadyAccepted extends EscrowError { constructor(call: string) { super('AlreadyAccepted', call); } }
export class TermsChanged extends EscrowError { constructor(call: string) { super('TermsChanged', call); } }
export class SlashExceedsBound extends EscrowError { constructor(call: string) { super('SlashExceedsBound', call); } }
export class ExceedsAllocation extends EscrowError { constructor(call: string) { super('ExceedsAllocation', call); } }
export class InsufficientUnallocated extends EscrowError { constructor(call: string) { super('InsufficientUnallocated', call); } }
export class InsufficientAllocation extends EscrowError { constructor(call: string) { super('InsufficientAllocation', call); } }
export class ThawPending extends EscrowError { constructor(call: string) { super('ThawPending', call); } }

const CLASSES: Record<EscrowErrorVariant, VariantClass> = {
  Unauthorized, Paused, ZeroAmount, InvalidProviders, InsufficientStake, ExpiryInPast, ExpiryTooFar, JobNotFound,
  JobEnded, JobNotEnded, JobFinalized, AlreadyCompleted, WrongChain, WrongContract, NotAProvider, ReceiptExpired,
  BadSignature, Replayed, CumulativeNotIncreasing, UnitsDecreased, ExceedsEscrow, NothingToClaim,
  InsufficientActiveStake, StakeLocked, DisputeWindowClosed, DisputeExists, DisputeNotFound, SlashExceedsStake,
  FeeTooHigh, InvalidConfig, NoPendingOwner, Overflow, TransferFailed, SettingsNotDue, DisputeExpired, NotAccepted,
  AlreadyAccepted, TermsChanged, SlashExceedsBound, ExceedsAllocation, InsufficientUnallocated,
  InsufficientAllocation, ThawPending,
};

/** Whether `name` is one of the contract's `Error` variants. */
export function isEscrowErrorVariant(name: string): name is EscrowErrorVariant {
  return (ESCROW_ERROR_VARIANTS as readonly string[]).includes(name);
}

/** The typed error for the contract's variant `name`, refusing the message `call`. */
export function escrowError(name: string, call: string): EscrowError {
  if (!isEscrowErrorVariant(name)) {
    throw new ContractCallError(`${call}: the contract refused it with ${name}, a variant this SDK does not know`);
  }
  return new CLASSES[name](call);
}

/**
 * The call could not run as a contract message: the dry-run failed in the runtime (out of gas, trapped,
 * a module error), ink! could not read the input (`CouldNotReadInput`), or its output did not decode.
 */
export class ContractCallError extends Error {
  /** The runtime module error (`contracts.OutOfGas`, ...) or ink!'s `LangError`, when there is one. */
  readonly reason: string | undefined;

  constructor(message: string, reason?: string) {
    super(message);
    this.name = 'ContractCallError';
    this.reason = reason;
  }
}

/**
 * A receipt of a `releaseMany` that its dry-run settled but the chain, when the call ran, did not (no
 * `Released` event for it: another release of its lane came first, or the state changed). Read the lane
 * to see what is settled.
 */
export class NotSettled extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotSettled';
  }
}

/**
 * A transaction was signed and sent, but what became of it is not known: no final status came within
 * the wait (a dropped connection loses the node's status updates), finality timed out, or the node could
 * not give the block's events. It may still be (or have been) included: look it up by `txHash` (or the
 * sender's nonce) before sending it again, or a payable message (a deposit, a stake) may be paid twice.
 */
export class OutcomeUnknown extends Error {
  readonly txHash: string;
  readonly sender: string;
  readonly blockHash: string | undefined;

  constructor(message: string, txHash: string, sender: string, blockHash?: string) {
    super(`${message} (transaction ${txHash} from ${sender}: check whether it was included before sending it again)`);
    this.name = 'OutcomeUnknown';
    this.txHash = txHash;
    this.sender = sender;
    this.blockHash = blockHash;
  }
}

/**
 * A submitted transaction failed or never made it: dispatched with an error (e.g.
 * `contracts.ContractReverted` when the state changed between the dry-run and inclusion), or invalid,
 * dropped or usurped in the pool. `blockHash` is set when it was included.
 */
export class TransactionError extends Error {
  /** `section.name` of the dispatch error, or the pool status (`Invalid`, `Dropped`, `Usurped`). */
  readonly reason: string;
  readonly blockHash: string | undefined;
  /** The fee the signer paid for the failed transaction, when it was included. */
  readonly fee: bigint | undefined;

  /**
   * `cause`: for `contracts.ContractReverted`, the contract's refusal as the same call dry-run at the
   * inclusion block gives it (its typed `EscrowError`), when it gives one.
   */
  constructor(message: string, reason: string, blockHash?: string, options: { fee?: bigint; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransactionError';
    this.reason = reason;
    this.blockHash = blockHash;
    this.fee = options.fee;
  }
}
