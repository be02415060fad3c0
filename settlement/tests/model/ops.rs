//! The operations a run is made of, named by selectors that the harness resolves against the model.

use settlement::Receipt;

use crate::world::Acc;

/// Names a job: by a selector (see [`Model::job_id`]) or by its id.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JobRef {
    Pick(usize),
    Id(u64),
}

/// Chooses a provider: one of the job's own (if the job exists), or any account.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pick {
    pub(crate) on_job: bool,
    pub(crate) idx: usize,
}

/// An amount relative to what is available (active stake to unbond, total stake to slash).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Amt {
    Zero,
    Part(u128),
    All,
    Over(u128),
}

impl Amt {
    pub(crate) fn of(self, available: u128) -> u128 {
        match self {
            Amt::Zero => 0,
            Amt::Part(r) => r % available.saturating_add(1),
            Amt::All => available,
            Amt::Over(k) => available + 1 + k,
        }
    }
}

/// A receipt's cumulative amount relative to the lane's and the job's remaining escrow.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cum {
    Small(u128),
    Part(u128),
    Rest,
    Exceed(u128),
    Same,
    Lower(u128),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigKind {
    Valid,
    WrongKey,
    WrongChain,
    WrongContract,
    Corrupt,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Stake {
        p: usize,
        amount: u128,
    },
    Unbond {
        p: usize,
        amount: Amt,
    },
    Withdraw {
        p: usize,
        guided: bool,
    },
    Open {
        consumer: usize,
        providers: Vec<usize>,
        /// Each provider's allocation, relative to what the deposit has left after the ones before.
        allocs: Vec<Amt>,
        deposit: u128,
        duration: u64,
        key: usize,
    },
    /// The provider accepts: `min_funds` relative to what the job holds, `max_slash` to the stake.
    AcceptJob {
        job: JobRef,
        provider: Pick,
        min_funds: Amt,
        max_slash: Amt,
    },
    /// `to`: one of the job's providers (or any account), whose allocation the top-up raises.
    TopUp {
        job: JobRef,
        caller: Option<usize>,
        amount: u128,
        to: Option<Pick>,
    },
    /// `amount` relative to the job's unallocated funds.
    Allocate {
        job: JobRef,
        caller: Option<usize>,
        provider: Pick,
        amount: Amt,
    },
    /// `amount` relative to the provider's allocation less what it was paid.
    Thaw {
        job: JobRef,
        caller: Option<usize>,
        provider: Pick,
        amount: Amt,
    },
    Release {
        job: JobRef,
        provider: Pick,
        cum: Cum,
        units: i8,
        seq: i8,
        expiry: i16,
        sig: SigKind,
    },
    /// Resubmits a receipt that was released before.
    Replay {
        pick: usize,
    },
    /// An explicit receipt with a signature by `key` over `signed_over` (default: the receipt itself).
    Signed {
        receipt: Box<Receipt<Acc>>,
        key: usize,
        signed_over: Option<Box<Receipt<Acc>>>,
    },
    Complete {
        job: JobRef,
        caller: Option<usize>,
    },
    Refund {
        job: JobRef,
    },
    Claim {
        who: usize,
        guided: bool,
    },
    Dispute {
        job: JobRef,
        caller: Option<usize>,
        provider: Pick,
    },
    /// `target`: one of the existing disputes; otherwise `job` and `provider`.
    Resolve {
        target: Option<usize>,
        job: JobRef,
        provider: Pick,
        caller: Option<usize>,
        slash: Amt,
    },
    Advance {
        dt: u64,
    },
    Announce {
        caller: Option<usize>,
        fee_bps: Option<u16>,
        slash_bps: Option<u16>,
        treasury: Option<usize>,
        arbiter: Option<usize>,
        min_stake: Option<u128>,
    },
    Apply {
        caller: Option<usize>,
    },
    Pause {
        caller: Option<usize>,
        paused: bool,
    },
    Transfer {
        caller: Option<usize>,
        to: usize,
    },
    Accept {
        caller: usize,
    },
}
