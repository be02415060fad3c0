//! The one error type of the settlement rules, shared verbatim by the contract's messages.

/// Why an operation was refused. A refused operation changes nothing.
///
/// The SCALE index of each variant is part of the contract ABI: append new variants, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
pub enum Error {
    /// The caller is not allowed to perform this operation (wrong owner, consumer or provider, or not the
    /// job's own arbiter).
    Unauthorized,
    /// New jobs are paused by the owner. Top-ups, releases, refunds and claims are never paused.
    Paused,
    /// An amount that must be positive was zero.
    ZeroAmount,
    /// A job names no provider, more than [`crate::MAX_PROVIDERS`], or the same provider twice.
    InvalidProviders,
    /// A provider accepting a job has less active stake than the configured minimum.
    InsufficientStake,
    /// The job's expiry is not in the future.
    ExpiryInPast,
    /// The job's expiry is further away than the configured maximum job duration.
    ExpiryTooFar,
    /// No job exists with this id.
    JobNotFound,
    /// The job has ended (expired, or completed and past its settle grace): it accepts no more funds or
    /// receipts, only its refund.
    JobEnded,
    /// The job has not ended yet, so its remainder cannot be refunded.
    JobNotEnded,
    /// The job was already finalized (its remainder refunded).
    JobFinalized,
    /// The job was already completed by its consumer.
    AlreadyCompleted,
    /// The receipt was signed for another chain (genesis hash differs).
    WrongChain,
    /// The receipt was signed for another escrow contract.
    WrongContract,
    /// The receipt's provider is not one of the job's providers.
    NotAProvider,
    /// The receipt's own expiry has passed.
    ReceiptExpired,
    /// The ed25519 signature does not verify (strictly) against the job's payer key.
    BadSignature,
    /// Not returned since v2 (kept at its index for the ABI). It was: the receipt's sequence is not
    /// above the last settled one. Receipts are now ordered by cumulative amount only, so a replay or
    /// an older receipt is refused as [`Error::CumulativeNotIncreasing`].
    Replayed,
    /// The receipt's cumulative amount is not above what was already released to this provider: a
    /// replay, an older or a superseded receipt (the one order among a lane's receipts).
    CumulativeNotIncreasing,
    /// Not returned since v2 (kept at its index for the ABI). It was: the receipt's cumulative usage
    /// units are below the last settled receipt's. Units are now informational only.
    UnitsDecreased,
    /// Releasing the receipt would pay out more than the job's escrowed deposit. Defensive since v2: a
    /// provider's allocation is checked first ([`Error::ExceedsAllocation`]) and allocations never add up
    /// to more than the deposit.
    ExceedsEscrow,
    /// The account has nothing to claim or withdraw.
    NothingToClaim,
    /// Unbonding more than the active stake.
    InsufficientActiveStake,
    /// The unbonding delay, the provider's job lock, or a pending dispute still holds the stake.
    StakeLocked,
    /// The dispute window of this job has closed.
    DisputeWindowClosed,
    /// A dispute for this job and provider already exists.
    DisputeExists,
    /// No pending dispute exists for this job and provider.
    DisputeNotFound,
    /// The slash is larger than the provider's stake (active plus unbonding).
    SlashExceedsStake,
    /// The platform fee is above the hard cap of [`crate::fee::MAX_FEE_BPS`].
    FeeTooHigh,
    /// The timing breaks a rule: the unbonding delay must be longer than the dispute window, the
    /// maximum job duration, the thaw period and the arbitration period positive, the settle grace at
    /// least the thaw period, and the admin delay longer than the dispute window plus the unbonding delay.
    InvalidConfig,
    /// No ownership transfer is pending for the caller.
    NoPendingOwner,
    /// An amount would overflow `u128` (or a counter its type).
    Overflow,
    /// The contract could not transfer the funds out (the caller gets nothing and the balance is kept).
    TransferFailed,
    /// No settings change was announced, or its admin delay has not passed yet.
    SettingsNotDue,
    /// The dispute's arbitration period has passed: it can no longer slash, only be dismissed.
    DisputeExpired,
    /// The provider has not accepted this job: nothing can be released to it, nor can it be disputed or
    /// slashed, through this job.
    NotAccepted,
    /// The provider accepted this job before.
    AlreadyAccepted,
    /// The provider's allocation on the job is below the minimum it accepts the job with.
    TermsChanged,
    /// The slash is above the bound fixed when the provider accepted the job.
    SlashExceedsBound,
    /// The receipt's cumulative amount is above the provider's allocation on the job (a thaw lowers the
    /// allocation only once it has ended).
    ExceedsAllocation,
    /// The job's unallocated funds (at opening: the deposit) do not cover the allocation.
    InsufficientUnallocated,
    /// The thaw is larger than the provider's allocation less what it was already paid.
    InsufficientAllocation,
    /// A thaw of this provider's allocation has not ended yet.
    ThawPending,
}

/// Result of a settlement operation.
pub type Result<T> = core::result::Result<T, Error>;

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
