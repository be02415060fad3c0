//! What every state change reports. The contract turns each into an ink! event with topics for the
//! job, the consumer and the provider; the indexer mirrors them.

// The SCALE derive on `Event` casts each variant's index to `u8` without allowing this lint (its other
// derives do); nothing else here casts.
#![allow(clippy::cast_possible_truncation)]

use alloc::vec::Vec;

use crate::receipt::PublicKey;
use crate::state::Reputation;
use crate::{Balance, JobId, Timestamp};

/// One state change, in the order it happened.
///
/// Its SCALE encoding is the variant's index followed by its fields in order: the contract deposits those
/// fields as the data of the ink! event of the same name, whose fields are the same in the same order.
#[derive(Debug, Clone, PartialEq, Eq, scale::Encode)]
pub enum Event<A> {
    /// A job was opened with its first deposit.
    JobOpened {
        /// The new job.
        job_id: JobId,
        /// Who funds it.
        consumer: A,
        /// Who may be paid.
        providers: Vec<A>,
        /// Each provider's allocation, in the order of `providers`.
        allocations: Vec<Balance>,
        /// The opening deposit.
        deposit: Balance,
        /// The key that signs receipts.
        payer_key: PublicKey,
        /// Hash of the agreed terms.
        terms_hash: [u8; 32],
        /// The fee fixed for this job.
        fee_bps: u16,
        /// The slash share fixed for this job (of the funds a provider accepts it with).
        slash_bps: u16,
        /// The arbiter fixed for this job: the only account that may slash through it.
        arbiter: A,
        /// The job's expiry.
        expires_at: Timestamp,
    },
    /// A provider accepted a job: from now on it can be paid, disputed and slashed (at most
    /// `max_slash` per dispute) through it, and its stake is locked until `locked_until`.
    JobAccepted {
        /// The job.
        job_id: JobId,
        /// The provider.
        provider: A,
        /// Its allocation when it accepted.
        funds: Balance,
        /// The most one dispute on this job may slash from its stake.
        max_slash: Balance,
        /// Its stake's lock after accepting.
        locked_until: Timestamp,
    },
    /// The consumer added funds.
    ToppedUp {
        /// The job.
        job_id: JobId,
        /// Its consumer.
        consumer: A,
        /// Added now.
        amount: Balance,
        /// Deposited in total.
        deposit: Balance,
    },
    /// The consumer raised a provider's allocation, at once, from the job's unallocated funds.
    Allocated {
        /// The job.
        job_id: JobId,
        /// Its consumer.
        consumer: A,
        /// The provider.
        provider: A,
        /// Added now.
        amount: Balance,
        /// The provider's allocation after it.
        allocation: Balance,
        /// The job's unallocated funds after it (ended thaws folded in).
        unallocated: Balance,
    },
    /// The consumer started lowering a provider's allocation: it stays payable in full until `ends_at`,
    /// then drops by `amount` (never below what the provider was paid), and the difference returns to
    /// the job's unallocated funds.
    ThawStarted {
        /// The job.
        job_id: JobId,
        /// Its consumer.
        consumer: A,
        /// The provider.
        provider: A,
        /// How much the allocation drops by.
        amount: Balance,
        /// When it drops.
        ends_at: Timestamp,
    },
    /// A receipt was settled: `net` credited to the provider, `fee` to the treasury.
    Released {
        /// The job.
        job_id: JobId,
        /// Its consumer.
        consumer: A,
        /// The provider paid.
        provider: A,
        /// The receipt's cumulative amount, now settled.
        cumulative: Balance,
        /// The receipt's cumulative usage units.
        units: u128,
        /// The released receipt's sequence (informational: receipts are ordered by cumulative amount).
        sequence: u64,
        /// Gross released by this step (`net + fee`).
        amount: Balance,
        /// Treasury's share of this step.
        fee: Balance,
        /// Provider's share of this step.
        net: Balance,
    },
    /// The consumer completed the job; receipts are accepted until `ends_at`.
    JobCompleted {
        /// The job.
        job_id: JobId,
        /// Its consumer.
        consumer: A,
        /// When it stops accepting receipts.
        ends_at: Timestamp,
    },
    /// The job ended and its unreleased remainder was credited back to the consumer.
    Refunded {
        /// The job.
        job_id: JobId,
        /// Its consumer.
        consumer: A,
        /// The remainder credited.
        amount: Balance,
    },
    /// An account was paid out its whole claimable balance.
    Claimed {
        /// The account paid.
        account: A,
        /// The amount transferred.
        amount: Balance,
    },
    /// A provider bonded stake.
    Staked {
        /// The provider.
        provider: A,
        /// Added now.
        amount: Balance,
        /// Active stake after it.
        active: Balance,
    },
    /// A provider started unbonding.
    Unbonding {
        /// The provider.
        provider: A,
        /// Moved from active to unbonding now.
        amount: Balance,
        /// Unbonding in total.
        unbonding: Balance,
        /// When it becomes withdrawable (barring locks and disputes).
        unlock_at: Timestamp,
    },
    /// A provider withdrew its unbonded stake.
    Withdrawn {
        /// The provider.
        provider: A,
        /// The amount transferred.
        amount: Balance,
    },
    /// A consumer disputed a provider's work on a job.
    DisputeOpened {
        /// The job.
        job_id: JobId,
        /// Its consumer.
        consumer: A,
        /// The provider disputed.
        provider: A,
        /// Hash of the evidence.
        reason: [u8; 32],
        /// Until when the job's arbiter may slash; afterwards the dispute can only be dismissed.
        resolve_by: Timestamp,
    },
    /// The arbiter resolved a dispute; a non-zero `slashed` was taken from the provider's stake and
    /// credited to the consumer.
    DisputeResolved {
        /// The job.
        job_id: JobId,
        /// Its consumer.
        consumer: A,
        /// The provider.
        provider: A,
        /// Amount slashed (0: dismissed).
        slashed: Balance,
    },
    /// A provider's reputation counters changed.
    ReputationChanged {
        /// The provider.
        provider: A,
        /// The counters now.
        reputation: Reputation,
        /// Its score now (per mille).
        score: u32,
    },
    /// The owner proposed a new owner, who must accept.
    OwnershipTransferStarted {
        /// The current owner.
        owner: A,
        /// The proposed one.
        pending: A,
    },
    /// The proposed owner accepted.
    OwnershipTransferred {
        /// The old owner.
        previous: A,
        /// The new owner.
        owner: A,
    },
    /// The owner announced a settings change: it may apply from `effective_at` (the admin delay later),
    /// and replaces any change announced before.
    SettingsAnnounced {
        /// Fee recipient then.
        treasury: A,
        /// Arbiter of jobs opened from then on.
        arbiter: A,
        /// Fee for jobs opened from then on.
        fee_bps: u16,
        /// Minimum provider stake then.
        min_stake: Balance,
        /// Slash share for jobs opened from then on.
        slash_bps: u16,
        /// The earliest moment the change may apply.
        effective_at: Timestamp,
    },
    /// The settings changed (an announced change applied, or the pause switched); carries all of them
    /// as they now are. The constructor emits it too, with the initial settings.
    SettingsChanged {
        /// Fee recipient.
        treasury: A,
        /// Dispute resolver.
        arbiter: A,
        /// Fee for new jobs.
        fee_bps: u16,
        /// Minimum provider stake for accepting jobs.
        min_stake: Balance,
        /// Slash share for new jobs.
        slash_bps: u16,
        /// Whether new jobs are refused.
        paused: bool,
    },
}

impl<A> Event<A> {
    /// The job the event belongs to, if any. Every change to a job (its record or a provider's lane)
    /// emits an event naming it.
    #[must_use]
    pub fn job_id(&self) -> Option<JobId> {
        match self {
            Self::JobOpened { job_id, .. }
            | Self::JobAccepted { job_id, .. }
            | Self::ToppedUp { job_id, .. }
            | Self::Allocated { job_id, .. }
            | Self::ThawStarted { job_id, .. }
            | Self::Released { job_id, .. }
            | Self::JobCompleted { job_id, .. }
            | Self::Refunded { job_id, .. }
            | Self::DisputeOpened { job_id, .. }
            | Self::DisputeResolved { job_id, .. } => Some(*job_id),
            Self::Claimed { .. }
            | Self::Staked { .. }
            | Self::Unbonding { .. }
            | Self::Withdrawn { .. }
            | Self::ReputationChanged { .. }
            | Self::OwnershipTransferStarted { .. }
            | Self::OwnershipTransferred { .. }
            | Self::SettingsAnnounced { .. }
            | Self::SettingsChanged { .. } => None,
        }
    }
}
