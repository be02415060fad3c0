//! The records the escrow keeps: jobs, per-provider settlement lanes, stakes, disputes, reputation
//! and the configuration. Plain data; the transitions live in [`crate::market`].

use alloc::vec::Vec;

use crate::receipt::{Domain, PublicKey};
use crate::{fee, Balance, Error, JobId, Result, Timestamp};

/// The most providers a job may name (one primary plus hot standbys).
pub const MAX_PROVIDERS: usize = 4;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum JobStatus {
    /// Accepting top-ups and receipts until `ends_at` (the expiry).
    Open,
    /// The consumer completed it: receipts are still accepted until `ends_at` (the settle grace).
    Completed,
    /// Ended and its remainder refunded to the consumer. Nothing moves any more.
    Finalized,
}

/// A pending decrease of a provider's allocation (G2): the allocation stays payable in full until
/// `ends_at`, then drops by `amount` (never below what the provider was already paid), and what it
/// drops by returns to the job's unallocated funds. `amount == 0`: none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Thaw {
    /// How much the allocation drops by once the thaw ends.
    pub amount: Balance,
    /// When it drops: the thaw's start plus the thaw period (at once for a provider that has not accepted).
    pub ends_at: Timestamp,
}

/// One named provider's place on a job: its consent (G3), its slash bound (G4) and the share of the
/// deposit its receipts may draw on (G2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Slot {
    /// When the provider accepted, by its own `accept_job`, never withdrawn (0: it has not). Nothing can
    /// lock, dispute or slash its stake, pay it, or count the job in its reputation before.
    pub accepted_at: Timestamp,
    /// The most one dispute on this job may slash from the provider's stake, fixed at acceptance.
    pub max_slash: Balance,
    /// The ceiling on the provider's cumulative amount on this job: only the consumer raises it (at
    /// once) or lowers it (through a thaw).
    pub allocation: Balance,
    /// A pending decrease of the allocation, if any.
    pub thaw: Thaw,
    /// What was settled for the provider on this job (kept with the job: a release reads and writes one
    /// record, not two).
    pub lane: Lane,
}

impl Slot {
    /// Whether the provider accepted.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        self.accepted_at > 0
    }

    /// Whether a thaw has ended by `at` (and not been folded into the allocation yet).
    #[must_use]
    pub fn thaw_matured(&self, at: Timestamp) -> bool {
        #[cfg(not(settlement_mutant = "thaw_immediate"))]
        let ended = at >= self.thaw.ends_at;
        #[cfg(settlement_mutant = "thaw_immediate")]
        let ended = {
            let _ = at;
            true
        };
        self.thaw.amount > 0 && ended
    }

    /// The most the provider's cumulative amount may reach at `at`, given `released`, what it was paid so
    /// far: the allocation, or once a thaw has ended, the allocation less the thaw (never below
    /// `released`).
    #[must_use]
    pub fn limit(&self, released: Balance, at: Timestamp) -> Balance {
        if self.thaw_matured(at) {
            self.allocation.saturating_sub(self.thaw.amount).max(released)
        } else {
            self.allocation
        }
    }

    /// Folds an ended thaw into the allocation; returns what it moved back to the job's unallocated
    /// funds (the thaw, less what the provider was paid above the lowered allocation). Leaves every
    /// [`Slot::limit`] from `at` on unchanged.
    pub fn fold_thaw(&mut self, released: Balance, at: Timestamp) -> Balance {
        if !self.thaw_matured(at) {
            return 0;
        }
        let kept = self.limit(released, at);
        let moved = self.allocation.saturating_sub(kept);
        self.allocation = kept;
        self.thaw = Thaw::default();
        moved
    }
}

/// One escrowed compute job (with its providers' slots, lanes included).
#[derive(Debug, Clone, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Job<A> {
    /// The account that opened and funds the job; refunds and slashes go to it.
    pub consumer: A,
    /// The providers that may be paid (1 to [`MAX_PROVIDERS`]).
    pub providers: Vec<A>,
    /// Each provider's consent, slash bound and allocation, in the order of `providers` (same length,
    /// fixed at opening).
    pub slots: Vec<Slot>,
    /// The ed25519 key whose signatures release funds.
    pub payer_key: PublicKey,
    /// The only account that may resolve this job's disputes: the escrow's arbiter when the job opened,
    /// never changed afterwards (a later arbiter judges only jobs opened after it took office).
    pub arbiter: A,
    /// Hash of the off-chain terms both sides agreed to.
    pub terms_hash: [u8; 32],
    /// The fee in basis points, fixed when the job opened.
    pub fee_bps: u16,
    /// The share of the funds a provider accepts the job with that one dispute may slash, in basis
    /// points, fixed when the job opened.
    pub slash_bps: u16,
    /// Everything deposited so far (opening deposit plus top-ups).
    pub deposit: Balance,
    /// The part of the deposit allocated to no provider (plus what ended thaws moved back, once folded):
    /// the consumer may allocate it at once.
    pub unallocated: Balance,
    /// Everything released to providers so far, gross (provider net plus treasury fee).
    pub released: Balance,
    /// When the job was opened (ms since the Unix epoch).
    pub opened_at: Timestamp,
    /// The expiry set at opening.
    pub expires_at: Timestamp,
    /// When the job stops accepting receipts: its expiry, or earlier once completed.
    pub ends_at: Timestamp,
    /// Where the job is in its life.
    pub status: JobStatus,
}

impl<A: PartialEq> Job<A> {
    /// Funds still held for this job (zero once finalized).
    #[must_use]
    pub fn held(&self) -> Balance {
        match self.status {
            JobStatus::Finalized => 0,
            JobStatus::Open | JobStatus::Completed => self.deposit.saturating_sub(self.released),
        }
    }

    /// Whether `now` is at or past the end of the job.
    #[must_use]
    pub fn has_ended(&self, now: Timestamp) -> bool {
        now >= self.ends_at
    }

    /// Whether `who` is one of the job's providers.
    #[must_use]
    pub fn has_provider(&self, who: &A) -> bool {
        self.providers.contains(who)
    }

    /// The index of `who` among the job's providers.
    #[must_use]
    pub fn index_of(&self, who: &A) -> Option<usize> {
        self.providers.iter().position(|p| p == who)
    }

    /// `who`'s slot on the job, if it is one of its providers.
    #[must_use]
    pub fn slot(&self, who: &A) -> Option<Slot> {
        self.slots.get(self.index_of(who)?).copied()
    }

    /// Whether `who` is one of the job's providers and accepted it.
    #[must_use]
    pub fn has_accepted(&self, who: &A) -> bool {
        self.slot(who).is_some_and(|s| s.is_accepted())
    }

    /// The most `who`'s cumulative amount may reach at `at`, given `released` (0 if not a provider).
    #[must_use]
    pub fn limit(&self, who: &A, released: Balance, at: Timestamp) -> Balance {
        self.slot(who).map_or(0, |s| s.limit(released, at))
    }
}

/// What has been settled on one job for one provider (the released receipt with the highest cumulative
/// amount).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Lane {
    /// Cumulative gross amount released.
    pub amount: Balance,
    /// Cumulative usage units of that receipt (informational, never checked).
    pub units: u128,
    /// Sequence of that receipt (informational, never checked; 0 also when nothing was released).
    pub sequence: u64,
    /// Cumulative fee taken by the treasury.
    pub fee: Balance,
}

/// A provider's stake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Stake {
    /// Bonded and counted towards the minimum stake.
    pub active: Balance,
    /// Leaving: withdrawable after `unlock_at`, still slashable until then.
    pub unbonding: Balance,
    /// When the unbonding amount becomes withdrawable (reset by every unbond).
    pub unlock_at: Timestamp,
    /// No withdrawal before this: the end of the dispute window of the latest job naming the provider.
    pub locked_until: Timestamp,
    /// Disputes against the provider that the arbiter has not resolved; any blocks withdrawal until
    /// `disputed_until`.
    pub pending_disputes: u32,
    /// The latest `resolve_by` of the provider's disputes: after it no pending dispute can slash, so
    /// none blocks withdrawal.
    pub disputed_until: Timestamp,
}

impl Stake {
    /// Everything slashable: active plus unbonding.
    #[must_use]
    pub fn total(&self) -> Balance {
        self.active.saturating_add(self.unbonding)
    }
}

/// Outcome of a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub enum DisputeStatus {
    /// Waiting for the arbiter.
    Pending,
    /// The arbiter found against the provider and slashed it.
    Upheld,
    /// The arbiter found for the provider.
    Dismissed,
}

/// A consumer's dispute against one provider of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Dispute {
    /// Hash of the consumer's off-chain evidence.
    pub reason: [u8; 32],
    /// When it was opened.
    pub opened_at: Timestamp,
    /// The end of the arbitration period: until then the job's arbiter may slash; from then on the
    /// dispute can only be dismissed, by anyone.
    pub resolve_by: Timestamp,
    /// Where it stands.
    pub status: DisputeStatus,
    /// What the arbiter slashed (0 unless upheld).
    pub slashed: Balance,
}

/// A provider's track record, written only by the escrow rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Reputation {
    /// Jobs finalized on which the provider was paid.
    pub jobs_completed: u64,
    /// Gross amount released to the provider over all jobs.
    pub volume: Balance,
    /// Disputes the arbiter upheld against the provider.
    pub disputes_lost: u32,
    /// Total stake slashed.
    pub slashed: Balance,
}

impl Reputation {
    /// Score in per mille: `1000 * (c + 1) / (c + 1 + 5 * d)` for `c` jobs completed and `d` disputes
    /// lost. 1000 with no history; each lost dispute weighs as much as five completed jobs.
    #[must_use]
    pub fn score(&self) -> u32 {
        let good = u128::from(self.jobs_completed).saturating_add(1);
        let bad = u128::from(self.disputes_lost).saturating_mul(5);
        let score = good.saturating_mul(1000).checked_div(good.saturating_add(bad)).unwrap_or(0);
        u32::try_from(score).unwrap_or(u32::MAX)
    }
}

/// The fixed time parameters, set when the escrow is created (all in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Timing {
    /// From unbond to withdrawable; must be longer than `dispute_window`.
    pub unbond_delay: Timestamp,
    /// How long after a job ends its consumer may still dispute a provider.
    pub dispute_window: Timestamp,
    /// How long after the consumer completes a job receipts are still accepted.
    pub settle_grace: Timestamp,
    /// The longest a job may run (bounds how long a job can lock a provider's stake).
    pub max_job_duration: Timestamp,
    /// The shortest time a lowered allocation stays payable; completing a job thaws every allocation at
    /// once, so `settle_grace` must be at least this.
    pub thaw_period: Timestamp,
    /// From the announcement of a settings change to the earliest moment it may apply; longer than
    /// `dispute_window + unbond_delay`, so a provider that disagrees can leave first.
    pub admin_delay: Timestamp,
    /// How long after a dispute opens its arbiter may slash; afterwards it can only be dismissed.
    pub arbitration_period: Timestamp,
}

impl Timing {
    /// Whether the timing keeps every party's promise: unbonding outlasts the dispute window, jobs may
    /// run at all, a thaw takes time and completion's grace is at least a thaw, settings changes wait
    /// out a dispute window plus an unbonding, and arbiters get time to decide.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        let leave = self.dispute_window.checked_add(self.unbond_delay);
        #[cfg(not(settlement_mutant = "grace_unchecked"))]
        let grace_covers_thaw = self.settle_grace >= self.thaw_period;
        #[cfg(settlement_mutant = "grace_unchecked")]
        let grace_covers_thaw = true;
        self.unbond_delay > self.dispute_window
            && self.max_job_duration > 0
            && self.thaw_period > 0
            && grace_covers_thaw
            && leave.is_some_and(|leave| self.admin_delay > leave)
            && self.arbitration_period > 0
    }
}

/// The settings the owner may change, only through an announcement that waits out
/// [`Timing::admin_delay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Settings<A> {
    /// Receives the platform fee.
    pub treasury: A,
    /// Resolves the disputes of jobs opened while it is the arbiter.
    pub arbiter: A,
    /// Fee for new jobs, in basis points (at most [`fee::MAX_FEE_BPS`]).
    pub fee_bps: u16,
    /// Active stake a provider needs to accept a job.
    pub min_stake: Balance,
    /// Share of the funds a provider accepts a job with that one dispute may slash, in basis points (at
    /// most 10 000), for jobs opened from then on.
    pub slash_bps: u16,
}

/// Settings announced by the owner, and the earliest moment they may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Announced<A> {
    /// What the settings will be.
    pub settings: Settings<A>,
    /// Announcement time plus the admin delay.
    pub effective_at: Timestamp,
}

/// The escrow's configuration.
#[derive(Debug, Clone, PartialEq, Eq, scale::Encode, scale::Decode, scale_info::TypeInfo)]
#[cfg_attr(all(feature = "ink", feature = "std"), derive(ink::storage::traits::StorageLayout))]
pub struct Config<A> {
    /// May change the settings below and hand ownership over (two steps).
    pub owner: A,
    /// The account that must accept ownership, if a transfer is under way.
    pub pending_owner: Option<A>,
    /// Receives the platform fee.
    pub treasury: A,
    /// Resolves disputes (and so decides slashes).
    pub arbiter: A,
    /// Fee for new jobs, in basis points (at most [`fee::MAX_FEE_BPS`]).
    pub fee_bps: u16,
    /// Active stake a provider needs to accept a job.
    pub min_stake: Balance,
    /// Share of a provider's funds on a job that one dispute may slash, for jobs opened from now on.
    pub slash_bps: u16,
    /// Whether new jobs are refused (the one setting that changes at once: it touches no promise).
    pub paused: bool,
    /// A settings change waiting for its delay, if any.
    pub announced: Option<Announced<A>>,
    /// Fixed time parameters.
    pub timing: Timing,
    /// The chain and contract receipts must be signed for.
    pub domain: Domain<A>,
    /// The id the next job gets.
    pub next_job_id: JobId,
    /// Fees accrued to the treasury since its last claim (or change): kept in the configuration, which
    /// every call reads and writes anyway, so a release adds no storage access for them. Paid with the
    /// treasury's next claim; credited to the old treasury's balance when the treasury changes.
    pub fees: Balance,
}

impl<A: Copy> Config<A> {
    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> Settings<A> {
        Settings {
            treasury: self.treasury,
            arbiter: self.arbiter,
            fee_bps: self.fee_bps,
            min_stake: self.min_stake,
            slash_bps: self.slash_bps,
        }
    }

    /// Puts `settings` in force.
    pub fn apply(&mut self, settings: Settings<A>) {
        self.treasury = settings.treasury;
        self.arbiter = settings.arbiter;
        self.fee_bps = settings.fee_bps;
        self.min_stake = settings.min_stake;
        self.slash_bps = settings.slash_bps;
    }

    /// A validated configuration: the fee within its cap, the slash share at most 100 % and a timing
    /// that [`Timing::is_valid`].
    pub fn new(owner: A, settings: Settings<A>, timing: Timing, domain: Domain<A>) -> Result<Self> {
        check_settings(&settings)?;
        if !timing.is_valid() {
            return Err(Error::InvalidConfig);
        }
        let Settings { treasury, arbiter, fee_bps, min_stake, slash_bps } = settings;
        Ok(Self {
            owner,
            pending_owner: None,
            treasury,
            arbiter,
            fee_bps,
            min_stake,
            slash_bps,
            paused: false,
            announced: None,
            timing,
            domain,
            next_job_id: 1,
            fees: 0,
        })
    }
}

/// The most a slash share may be: all of the funds a provider accepts a job with.
pub const MAX_SLASH_BPS: u16 = 10_000;

/// Refuses a fee above the hard cap, or a slash share above 100 %.
pub fn check_settings<A>(settings: &Settings<A>) -> Result<()> {
    if settings.fee_bps > fee::MAX_FEE_BPS {
        return Err(Error::FeeTooHigh);
    }
    if settings.slash_bps > MAX_SLASH_BPS {
        return Err(Error::InvalidConfig);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_starts_full_and_drops_with_lost_disputes() {
        let mut r = Reputation::default();
        assert_eq!(r.score(), 1000);
        r.disputes_lost = 1;
        assert_eq!(r.score(), 166); // 1000 * 1 / 6
        r.jobs_completed = 9;
        assert_eq!(r.score(), 666); // 1000 * 10 / 15
        r.disputes_lost = u32::MAX;
        r.jobs_completed = u64::MAX;
        assert!(r.score() <= 1000);
    }

    const T: Timing = Timing {
        unbond_delay: 11,
        dispute_window: 10,
        settle_grace: 5,
        max_job_duration: 5,
        thaw_period: 5,
        admin_delay: 22,
        arbitration_period: 1,
    };

    #[test]
    fn timing_validation_at_every_boundary() {
        assert!(T.is_valid());
        let refused = [
            Timing { unbond_delay: 10, ..T },
            Timing { max_job_duration: 0, ..T },
            Timing { thaw_period: 0, settle_grace: 0, ..T },
            Timing { settle_grace: 4, ..T },
            Timing { settle_grace: 0, ..T },
            Timing { admin_delay: 21, ..T },
            Timing { dispute_window: u64::MAX - 1, unbond_delay: u64::MAX, admin_delay: u64::MAX, ..T },
            Timing { arbitration_period: 0, ..T },
        ];
        for t in refused {
            assert!(!t.is_valid(), "{t:?}");
        }
        // The boundaries themselves are accepted.
        assert!(Timing { settle_grace: 5, thaw_period: 5, ..T }.is_valid());
        assert!(Timing { settle_grace: 6, ..T }.is_valid());
    }

    #[test]
    fn config_validation() {
        let domain = Domain { genesis_hash: [0; 32], contract: 0u8 };
        let bad = Timing { unbond_delay: 10, ..T };
        let s = Settings { treasury: 2u8, arbiter: 3, fee_bps: 1_000, min_stake: 7, slash_bps: 10_000 };
        assert_eq!(Config::new(1u8, s, bad, domain).err(), Some(Error::InvalidConfig));
        assert_eq!(Config::new(1u8, Settings { fee_bps: 1_001, ..s }, T, domain).err(), Some(Error::FeeTooHigh));
        assert_eq!(Config::new(1u8, Settings { slash_bps: 10_001, ..s }, T, domain).err(), Some(Error::InvalidConfig));
        let cfg = Config::new(1u8, s, T, domain).expect("valid");
        assert_eq!((cfg.next_job_id, cfg.paused, cfg.pending_owner, cfg.announced), (1, false, None, None));
        assert_eq!(cfg.settings(), s);
    }
}
