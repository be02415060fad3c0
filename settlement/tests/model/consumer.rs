//! P-G5, the consumer's promises ("Money rules v2", §7, issue G5): a consumer never pays a provider more
//! than the highest cumulative amount it signed for that provider, and gets back everything unreleased
//! after the end. Stated only in what the honest consumer C observes: the answers to its own calls, the
//! receipts it signed, and the public event log with each event's block time. Never the `Market`'s
//! records, the reference model or `settlement::checks`: they must hold with the reference deleted.
//!
//! C has its own payer key and gives it to no one; every receipt it signs it hands to its providers,
//! that is to the adversary A, who holds every other key: the providers (which accept C's jobs, or not),
//! the other consumer, the owner, the arbiters and any relayer. Between C's steps A may release any
//! receipt C signed (any subset, in any order, again and again), release one of them altered under C's
//! signature (another amount, provider, job, domain, sequence, units or expiry), release receipts for
//! C's jobs signed with other keys, and receipts C signed for another escrow contract; open its own jobs
//! (also under C's public key), accept jobs, dispute on its own jobs, resolve any dispute (slashing on
//! C's jobs too), announce and apply settings (making C the treasury, among others), pause, stake,
//! advance time, refund any job and claim. C opens jobs naming 1 to 3 providers with allocations, signs
//! receipts with rising cumulative amounts per provider (sometimes skipping ahead, past the allocation,
//! re-signing the same or a lower amount, with any sequence and units, sometimes for another escrow
//! contract), tops up (to the unallocated funds or a provider), allocates, thaws, completes, disputes its
//! providers, refunds after the end and claims.
//!
//! With, for a job J that C opened (its id from C's own `open_job` answer) and a provider X:
//! `paid(J, X)`, the sum of `Released.amount` for (J, X); `signed(J, X)`, the cumulative amounts of the
//! receipts C signed for (J, X) for this escrow; `deposit(J)`, C's opening deposit plus the top-ups C's
//! own calls were answered `Ok` for; `end(J)`, the last `JobCompleted(J).ends_at`, else the expiry C
//! asked for; after every step:
//!
//! - **P-G5.1**: `paid(J, X) <= max signed(J, X)` (0 if C signed none), whatever was replayed or forged.
//! - **P-G5.2**: every `Released` on J carries a cumulative amount in `signed(J, X)`: nothing C did not
//!   sign for this escrow moves C's money (and no job in C's name appears that C did not open).
//! - **P-G5.3**: `Refunded(J)` comes once, at or after `end(J)`, for C, with
//!   `amount = deposit(J) - sum over X of paid(J, X)` (never negative: at no time does J pay more than
//!   `deposit(J)`), and nothing is released on J after it. A refund of
//!   J by anyone is answered `Ok` exactly when it is at or after `end(J)` and J was not refunded yet: C's
//!   own refund once past the end is answered `Ok(deposit(J) - paid(J))`, and a second one is refused.
//! - **P-G5.4**: each `claim` of C is answered with exactly what C was credited and has not claimed yet
//!   (`NothingToClaim` meaning 0): the `Refunded` amounts of its jobs, plus every
//!   `DisputeResolved.slashed` on its jobs, plus the fees of the releases made while the log's treasury
//!   was C (the owner may make it so). At the end of each case C waits for the end of all its jobs,
//!   refunds them and claims: what it claimed in all is `sum over J of (deposit(J) - paid(J))` plus
//!   those slashes and fees.
//! - **P-G5.5** (G2, the consumer's side): every `Released` for X on J carries a cumulative amount at
//!   most what C allocated X by its own successful calls (`open_job`, `top_up` to X, `allocate`; thaws
//!   only lower it). The mutant `allocation_ignored` fails it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestRunner};
use settlement::memory::MemoryStore;
use settlement::receipt::SignatureBytes;
use settlement::{Error, Event, Market, OpenJob, Receipt, SettingsChange};

use crate::world::{
    cases, public, sign, Acc, ARBITERS, CONSUMERS, DOMAIN, OWNERS, PROVIDERS, START, TERMS, TREASURIES,
};

/// The honest consumer.
const C: Acc = CONSUMERS[0];
/// C's payer key (`world::KEYS[0]`): only C signs with it.
const C_KEY: usize = 0;
/// The adversary's consumer.
const A_CONSUMER: Acc = CONSUMERS[1];
/// The adversary's payer key, and one no job uses.
const A_KEYS: [usize; 2] = [1, 2];
/// The providers jobs may name (all the adversary's): the first three staked from the start.
const NAMED: [Acc; 4] = [PROVIDERS[0], PROVIDERS[1], PROVIDERS[2], PROVIDERS[3]];
/// Whom the owner (A) may make the treasury: C among them.
const TREASURY_CHOICES: [Acc; 3] = [TREASURIES[0], C, PROVIDERS[0]];
/// Who the adversary claims as.
const A_CLAIMERS: [Acc; 4] = [PROVIDERS[0], PROVIDERS[1], TREASURIES[0], A_CONSUMER];

// ---------------------------------------------------------------- what C knows

/// One of C's jobs: what C did (its own calls and signatures) and what the log told it.
#[derive(Debug, Clone, Default)]
struct Mine {
    providers: Vec<Acc>,
    /// The opening deposit plus every top-up C was answered `Ok` for.
    deposit: u128,
    /// What C allocated each provider by its own successful calls (thaws only lower it).
    allocated: BTreeMap<Acc, u128>,
    /// Every cumulative amount C signed per provider, for this escrow.
    signed: BTreeMap<Acc, BTreeSet<u128>>,
    /// C's own counter per provider (its sequence convention, when it keeps it).
    seq: BTreeMap<Acc, u64>,
    /// The last `JobCompleted.ends_at`, else the expiry C asked for.
    end: u64,
    /// Sum of `Released.amount` per provider.
    paid: BTreeMap<Acc, u128>,
    /// `Refunded.amount`, once.
    refunded: Option<u128>,
    /// Sum of `DisputeResolved.slashed`.
    slashed: u128,
}

impl Mine {
    fn highest(&self, x: &Acc) -> u128 {
        self.signed.get(x).and_then(|s| s.last()).copied().unwrap_or(0)
    }

    fn paid(&self, x: &Acc) -> u128 {
        self.paid.get(x).copied().unwrap_or(0)
    }

    fn paid_total(&self) -> u128 {
        self.paid.values().sum()
    }

    fn allocated(&self, x: &Acc) -> u128 {
        self.allocated.get(x).copied().unwrap_or(0)
    }
}

/// Any job as the log tells it (for the adversary's choices).
#[derive(Debug, Clone)]
struct Seen {
    consumer: Acc,
    providers: Vec<Acc>,
    arbiter: Acc,
}

// ---------------------------------------------------------------- the steps

/// The cumulative amount of a receipt C signs, from its own records of the lane.
#[derive(Debug, Clone, Copy)]
enum SignAmount {
    /// Above the highest C signed by `1 + r mod` a third of the allocation: the usual stream.
    Rise(u128),
    /// Above the highest by `1 + r mod` the deposit: a skip, often past the allocation.
    Jump(u128),
    /// Exactly what C allocated the provider.
    Allocation,
    /// Below the highest C signed (re-signing a lower amount).
    Lower(u128),
    /// The highest again (with another sequence, units or expiry).
    Same,
    /// `1 + k`.
    Low(u128),
}

#[derive(Debug, Clone, Copy)]
enum Seq {
    /// C's counter plus one.
    Next,
    /// C's counter again.
    Repeat,
    Zero,
    Max,
    Any(u64),
}

#[derive(Debug, Clone, Copy)]
enum Expiry {
    /// `now + 1 + d`.
    Later(u64),
    /// `now - d`: already expired.
    Past(u64),
    Never,
}

#[derive(Debug, Clone, Copy)]
struct Sign {
    job: usize,
    provider: usize,
    amount: SignAmount,
    seq: Seq,
    units: u128,
    expiry: Expiry,
    /// For another escrow contract (C uses its key there too).
    elsewhere: bool,
}

/// What the adversary changes in a receipt C signed, keeping C's signature.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// `amount + 1 + k`.
    AmountUp(u128),
    /// Another provider.
    Provider(usize),
    /// Another job (any, also one the adversary opened under C's public key).
    Job(usize),
    /// Another contract or chain.
    Domain(bool),
    Sequence(u64),
    Units(u128),
    /// Later.
    Expiry(u64),
}

/// The cumulative amount of a receipt the adversary signs with another key.
#[derive(Debug, Clone, Copy)]
enum Forged {
    /// Above the highest C signed for the lane (or what it was paid) by `1 + k`.
    Above(u128),
    /// The whole deposit as C made it.
    Deposit,
    Any(u128),
}

#[derive(Debug, Clone)]
enum Attack {
    /// A receipt C signed, as signed.
    Replay { pick: usize },
    /// One of the last receipts C signed (`back` from the newest): what a provider submits.
    Latest { back: usize },
    /// Several of C's receipts, in the order given (repeats included).
    Burst { picks: Vec<usize> },
    /// Every receipt C signed for one of its jobs, in signing order or reversed.
    Sweep { job: usize, reverse: bool },
    /// A receipt C signed, altered, under C's signature.
    Tamper { pick: usize, field: Field },
    /// A receipt for a job (mostly C's), signed with another key.
    Forge { job: usize, provider: usize, amount: Forged, key: usize, domain: bool },
}

#[derive(Debug, Clone)]
enum Step {
    // C, the honest consumer.
    /// Providers (indices into `NAMED`, duplicates dropped) with weights for their allocations out of
    /// `deposit` (the rest, `slack` parts, unallocated).
    Open {
        providers: Vec<(usize, u128)>,
        slack: u128,
        deposit: u128,
        duration: u64,
    },
    Sign(Sign),
    TopUp {
        job: usize,
        amount: u128,
        to: Option<usize>,
    },
    Allocate {
        job: usize,
        provider: usize,
        amount: u128,
    },
    Thaw {
        job: usize,
        provider: usize,
        part: u128,
    },
    Complete {
        job: usize,
    },
    Dispute {
        job: usize,
        provider: usize,
    },
    /// C waits for the end of one of its jobs (first trying at the moment before it, if `early`), plus
    /// `extra`, and refunds it; then tries again.
    RefundAfterEnd {
        job: usize,
        early: bool,
        extra: u64,
    },
    Claim,
    // The adversary.
    /// A provider of C's newest job accepts it.
    AcceptNewest {
        provider: usize,
    },
    Accept {
        job: usize,
        provider: usize,
        max_slash: u128,
    },
    AOpen {
        providers: Vec<usize>,
        deposit: u128,
        duration: u64,
        /// C's public key (0), A's own (1) or one no one signs with.
        key: usize,
    },
    Release(Attack),
    Refund {
        job: usize,
    },
    ADispute {
        job: usize,
        provider: usize,
    },
    /// Resolves a pending dispute (as the log tells them), by the job's arbiter or another key, slashing
    /// `quarters` of the bound the provider accepted (per its `JobAccepted`), else more than it.
    Resolve {
        pick: usize,
        quarters: Option<u128>,
        job_arbiter: bool,
    },
    Announce {
        treasury: Option<usize>,
        arbiter: Option<usize>,
        fee_bps: Option<u16>,
    },
    /// Applies the announced settings, first waiting for their `effective_at` if `wait`.
    Apply {
        wait: bool,
    },
    Pause {
        paused: bool,
    },
    Stake {
        who: usize,
        amount: u128,
    },
    Advance {
        dt: u64,
    },
    AClaim {
        who: usize,
    },
}

// ---------------------------------------------------------------- one run

/// Releases of receipts C signed, answered `Ok`.
static RELEASED: AtomicUsize = AtomicUsize::new(0);
/// Releases after which a lane was paid exactly the highest amount C signed for it (P-G5.1 tight).
static PAID_IN_FULL: AtomicUsize = AtomicUsize::new(0);
/// Releases of receipts C signed at or below what the lane was paid (replays, superseded), refused.
static REPLAYS_REFUSED: AtomicUsize = AtomicUsize::new(0);
/// Of those, receipts of a lower amount than one already paid (a superseded receipt, not the same one).
static LOWER_REFUSED: AtomicUsize = AtomicUsize::new(0);
/// Altered receipts under C's signature, receipts for C's jobs under another key and receipts C signed
/// for another contract, refused.
static FORGERIES_REFUSED: AtomicUsize = AtomicUsize::new(0);
/// Releases of receipts C signed above what it allocated the provider, refused (P-G5.5 exercised).
static BEYOND_ALLOCATION_REFUSED: AtomicUsize = AtomicUsize::new(0);
/// `Refunded` events of C's jobs checked (P-G5.3), of which the adversary's refunds.
static REFUNDS_CHECKED: AtomicUsize = AtomicUsize::new(0);
static REFUNDS_BY_A: AtomicUsize = AtomicUsize::new(0);
/// Refunds of C's jobs by C, once past the end, answered `Ok` as expected.
static OWN_REFUNDS: AtomicUsize = AtomicUsize::new(0);
/// Refunds of C's jobs (by anyone) before the end, refused.
static EARLY_REFUSED: AtomicUsize = AtomicUsize::new(0);
/// Refunds of C's jobs (by anyone) after one went through, refused.
static SECOND_REFUSED: AtomicUsize = AtomicUsize::new(0);
/// Refunds of C's jobs that had paid a provider something (so the refund is less than the deposit).
static REFUNDS_AFTER_RELEASES: AtomicUsize = AtomicUsize::new(0);
/// C's claims answered with a non-zero amount as expected (P-G5.4).
static CLAIMS_CHECKED: AtomicUsize = AtomicUsize::new(0);
/// Slashes credited to C (`DisputeResolved.slashed > 0` on C's jobs).
static SLASHES_TO_C: AtomicUsize = AtomicUsize::new(0);
/// Cases in which C earned fees as the treasury.
static FEES_TO_C: AtomicUsize = AtomicUsize::new(0);

struct Run {
    store: MemoryStore,
    now: u64,
    read: usize,
    /// C's jobs by id.
    mine: BTreeMap<u64, Mine>,
    /// Every job opened, by id.
    jobs: BTreeMap<u64, Seen>,
    /// Every receipt C signed (for this escrow or another), as it handed them to A.
    pool: Vec<(Receipt<Acc>, SignatureBytes)>,
    /// The treasury, per the last `SettingsChanged` (the constructor's included).
    treasury: Acc,
    /// The `effective_at` of the last `SettingsAnnounced`.
    announced: Option<u64>,
    /// Disputes opened and not resolved, per the log.
    disputes: Vec<(u64, Acc)>,
    /// The slash bound of each acceptance, per the log.
    bounds: BTreeMap<(u64, Acc), u128>,
    /// Fees of releases made while C was the treasury.
    fees: u128,
    /// What C's own claims were answered.
    claimed: u128,
    /// What `Claimed` events paid C.
    claimed_logged: u128,
}

impl Run {
    fn new() -> Self {
        let mut run = Self {
            store: MemoryStore::new(crate::world::config()),
            now: START,
            read: 0,
            mine: BTreeMap::new(),
            jobs: BTreeMap::new(),
            pool: Vec::new(),
            // The constructor's `SettingsChanged` (the contract emits it; the memory store starts without it).
            treasury: TREASURIES[0],
            announced: None,
            disputes: Vec::new(),
            bounds: BTreeMap::new(),
            fees: 0,
            claimed: 0,
            claimed_logged: 0,
        };
        // Stakes large enough that slashes rarely push a provider under the minimum.
        for p in &NAMED[..3] {
            run.market().stake(*p, 1 << 50).unwrap();
        }
        run.read = run.store.events.len();
        run
    }

    fn market(&mut self) -> Market<'_, MemoryStore> {
        Market::new(&mut self.store, self.now)
    }

    /// Folds the events emitted since the last call (all at block time `now`), checking P-G5.1, .2, .3
    /// and .5 on each.
    fn follow(&mut self) -> Result<(), TestCaseError> {
        let now = self.now;
        let events: Vec<Event<Acc>> = self.store.events[self.read..].to_vec();
        self.read = self.store.events.len();
        for event in events {
            match event {
                Event::JobOpened { job_id, consumer, providers, arbiter, .. } => {
                    prop_assert!(
                        consumer != C || self.mine.contains_key(&job_id),
                        "P-G5.2: job {} opened in C's name, not by C",
                        job_id
                    );
                    self.jobs.insert(job_id, Seen { consumer, providers, arbiter });
                }
                Event::JobCompleted { job_id, ends_at, .. } => {
                    if let Some(m) = self.mine.get_mut(&job_id) {
                        m.end = ends_at;
                    }
                }
                Event::Released { job_id, consumer, provider, cumulative, amount, fee, .. } => {
                    if self.treasury == C {
                        self.fees += fee;
                    }
                    if let Some(m) = self.mine.get_mut(&job_id) {
                        prop_assert_eq!(consumer, C, "a release on C's job {} names another consumer", job_id);
                        prop_assert!(
                            m.refunded.is_none(),
                            "P-G5.3: {} released on C's job {} after its refund",
                            amount,
                            job_id
                        );
                        *m.paid.entry(provider).or_default() += amount;
                        prop_assert!(
                            m.paid_total() <= m.deposit,
                            "P-G5.3: C's job {} paid {} in all, more than its deposit {}",
                            job_id,
                            m.paid_total(),
                            m.deposit
                        );
                        let (paid, highest) = (m.paid(&provider), m.highest(&provider));
                        prop_assert!(
                            m.signed.get(&provider).is_some_and(|s| s.contains(&cumulative)),
                            "P-G5.2: a release on C's job {} for {:?} at cumulative {}, which C never signed (it signed {:?})",
                            job_id,
                            provider[0],
                            cumulative,
                            m.signed.get(&provider)
                        );
                        prop_assert!(
                            paid <= highest,
                            "P-G5.1: C's job {} paid {:?} {} in all, above the highest C signed for it, {}",
                            job_id,
                            provider[0],
                            paid,
                            highest
                        );
                        let allocated = m.allocated(&provider);
                        prop_assert!(
                            cumulative <= allocated,
                            "P-G5.5: C's job {} paid {:?} up to {}, above the {} C allocated it",
                            job_id,
                            provider[0],
                            cumulative,
                            allocated
                        );
                        if paid == highest {
                            PAID_IN_FULL.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Event::Refunded { job_id, consumer, amount } => {
                    if let Some(m) = self.mine.get_mut(&job_id) {
                        prop_assert_eq!(consumer, C, "C's job {} refunded to another", job_id);
                        prop_assert!(m.refunded.is_none(), "P-G5.3: C's job {} refunded twice", job_id);
                        prop_assert!(
                            now >= m.end,
                            "P-G5.3: C's job {} refunded at {}, before its end {}",
                            job_id,
                            now,
                            m.end
                        );
                        let paid = m.paid_total();
                        let expected = m.deposit.checked_sub(paid);
                        prop_assert_eq!(
                            Some(amount),
                            expected,
                            "P-G5.3: C's job {} (deposit {}, paid {}) refunded {}",
                            job_id,
                            m.deposit,
                            paid,
                            amount
                        );
                        m.refunded = Some(amount);
                        REFUNDS_CHECKED.fetch_add(1, Ordering::Relaxed);
                        if paid > 0 {
                            REFUNDS_AFTER_RELEASES.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Event::JobAccepted { job_id, provider, max_slash, .. } => {
                    self.bounds.insert((job_id, provider), max_slash);
                }
                Event::DisputeOpened { job_id, provider, .. } => self.disputes.push((job_id, provider)),
                Event::DisputeResolved { job_id, provider, slashed, .. } => {
                    self.disputes.retain(|d| *d != (job_id, provider));
                    if let Some(m) = self.mine.get_mut(&job_id) {
                        m.slashed += slashed;
                        if slashed > 0 {
                            SLASHES_TO_C.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Event::SettingsAnnounced { effective_at, .. } => self.announced = Some(effective_at),
                Event::SettingsChanged { treasury, .. } => self.treasury = treasury,
                Event::Claimed { account, amount } if account == C => self.claimed_logged += amount,
                _ => {}
            }
        }
        Ok(())
    }

    /// One of C's jobs.
    fn my_job(&self, sel: usize) -> Option<u64> {
        (!self.mine.is_empty()).then(|| *self.mine.keys().nth(sel % self.mine.len()).unwrap())
    }

    /// Mostly one of C's jobs (three times in four, if it has any), else any job.
    fn any_job(&self, sel: usize) -> Option<u64> {
        if sel % 4 != 0 {
            if let Some(id) = self.my_job(sel / 4) {
                return Some(id);
            }
        }
        (!self.jobs.is_empty()).then(|| *self.jobs.keys().nth(sel % self.jobs.len()).unwrap())
    }

    /// One of the adversary's jobs.
    fn a_job(&self, sel: usize) -> Option<u64> {
        let theirs: Vec<u64> = self.jobs.iter().filter(|(_, j)| j.consumer != C).map(|(id, _)| *id).collect();
        (!theirs.is_empty()).then(|| theirs[sel % theirs.len()])
    }

    fn owed(&self) -> u128 {
        let credited: u128 = self.mine.values().map(|m| m.refunded.unwrap_or(0) + m.slashed).sum();
        credited + self.fees - self.claimed
    }

    // ------------------------------------------------------------ C's acts

    fn open(
        &mut self,
        providers: &[(usize, u128)],
        slack: u128,
        deposit: u128,
        duration: u64,
    ) -> Result<(), TestCaseError> {
        let mut named: Vec<(Acc, u128)> = Vec::new();
        for (p, w) in providers {
            let p = NAMED[p % NAMED.len()];
            if !named.iter().any(|(q, _)| *q == p) {
                named.push((p, *w));
            }
        }
        let weights: u128 = named.iter().map(|(_, w)| w).sum::<u128>() + slack;
        let providers: Vec<(Acc, u128)> =
            named.iter().map(|(p, w)| (*p, if weights == 0 { 0 } else { deposit * w / weights })).collect();
        let expires_at = self.now + duration;
        let req = OpenJob { providers: providers.clone(), payer_key: public(C_KEY), terms_hash: TERMS, expires_at };
        if let Ok(id) = self.market().open_job(C, deposit, req) {
            let mine = Mine {
                providers: providers.iter().map(|(p, _)| *p).collect(),
                deposit,
                allocated: providers.into_iter().collect(),
                end: expires_at,
                ..Mine::default()
            };
            self.mine.insert(id, mine);
        }
        Ok(())
    }

    fn sign(&mut self, s: &Sign) {
        let Some(id) = self.my_job(s.job) else { return };
        let now = self.now;
        let m = self.mine.get_mut(&id).unwrap();
        let x = m.providers[s.provider % m.providers.len()];
        let (h, a) = (m.highest(&x), m.allocated(&x));
        let amount = match s.amount {
            SignAmount::Rise(r) => h + 1 + r % (a / 3).max(1),
            SignAmount::Jump(r) => h + 1 + r % m.deposit.max(1),
            SignAmount::Allocation => a,
            SignAmount::Lower(k) => h.saturating_sub(1 + k % h.max(1)),
            SignAmount::Same => h,
            SignAmount::Low(k) => 1 + k,
        };
        let counter = m.seq.entry(x).or_default();
        let sequence = match s.seq {
            Seq::Next => {
                *counter = counter.saturating_add(1);
                *counter
            }
            Seq::Repeat => *counter,
            Seq::Zero => 0,
            Seq::Max => u64::MAX,
            Seq::Any(v) => v,
        };
        let expires_at = match s.expiry {
            Expiry::Later(d) => now + 1 + d,
            Expiry::Past(d) => now - d,
            Expiry::Never => u64::MAX,
        };
        let mut domain = DOMAIN;
        if s.elsewhere {
            domain.contract[31] ^= 1;
        } else {
            m.signed.entry(x).or_default().insert(amount);
        }
        let receipt = Receipt { domain, job_id: id, provider: x, amount, units: s.units, sequence, expires_at };
        let signature = sign(C_KEY, &receipt);
        self.pool.push((receipt, signature));
    }

    /// A refund of `id` by anyone, with P-G5.3's timing checked if it is C's job.
    fn refund(&mut self, id: u64, by_c: bool) -> Result<Result<u128, Error>, TestCaseError> {
        let state = self.mine.get(&id).map(|m| (self.now >= m.end, m.refunded.is_some(), m.end));
        let answer = self.market().refund(id);
        self.follow()?;
        if let Some((ended, done, end)) = state {
            prop_assert_eq!(
                answer.is_ok(),
                ended && !done,
                "P-G5.3: a refund of C's job {} at {} (end {}, refunded before: {}) was answered {:?}",
                id,
                self.now,
                end,
                done,
                answer
            );
            if let Ok(amount) = answer {
                prop_assert_eq!(Some(amount), self.mine[&id].refunded, "the refund's answer is not its event");
                if !by_c {
                    REFUNDS_BY_A.fetch_add(1, Ordering::Relaxed);
                }
            } else if !ended {
                EARLY_REFUSED.fetch_add(1, Ordering::Relaxed);
            } else {
                SECOND_REFUSED.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(answer)
    }

    /// C waits for the end of `id` (plus `extra`) and refunds it: `Ok` with the rest of the deposit, unless
    /// someone refunded it already; then a second refund, refused.
    fn refund_after_end(&mut self, id: u64, extra: u64) -> Result<(), TestCaseError> {
        let m = &self.mine[&id];
        self.now = self.now.max(m.end) + extra;
        let expected = m.refunded.is_none().then(|| m.deposit - m.paid_total());
        let answer = self.refund(id, true)?;
        if let Some(expected) = expected {
            prop_assert_eq!(answer, Ok(expected), "P-G5.3: C's refund of job {} past its end", id);
            OWN_REFUNDS.fetch_add(1, Ordering::Relaxed);
        }
        let again = self.refund(id, true)?;
        prop_assert!(again.is_err(), "P-G5.3: C's job {} refunded a second time", id);
        Ok(())
    }

    /// C claims: exactly what it was credited and did not claim yet (P-G5.4).
    fn claim(&mut self) -> Result<(), TestCaseError> {
        let owed = self.owed();
        let answer = self.market().claim(C);
        self.follow()?;
        if owed == 0 {
            prop_assert_eq!(answer, Err(Error::NothingToClaim), "P-G5.4: C was credited nothing");
        } else {
            prop_assert_eq!(answer, Ok(owed), "P-G5.4: C's claim");
            self.claimed += owed;
            CLAIMS_CHECKED.fetch_add(1, Ordering::Relaxed);
        }
        prop_assert_eq!(self.claimed_logged, self.claimed, "P-G5.4: `Claimed` events for C that C did not claim");
        Ok(())
    }

    /// The end of a case: C waits for the end of all its jobs, refunds each, and claims everything.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        if let Some(last) = self.mine.values().map(|m| m.end).max() {
            self.now = self.now.max(last);
        }
        let open: Vec<u64> = self.mine.iter().filter(|(_, m)| m.refunded.is_none()).map(|(id, _)| *id).collect();
        for id in open {
            self.refund_after_end(id, 0)?;
        }
        self.claim()?;
        let unreleased: u128 = self.mine.values().map(|m| m.deposit - m.paid_total()).sum();
        let slashed: u128 = self.mine.values().map(|m| m.slashed).sum();
        prop_assert_eq!(
            self.claimed,
            unreleased + slashed + self.fees,
            "P-G5.4: C claimed {} in all; unreleased {}, slashed {}, fees {}",
            self.claimed,
            unreleased,
            slashed,
            self.fees
        );
        if self.fees > 0 {
            FEES_TO_C.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    // ------------------------------------------------------------ the adversary's releases

    /// A releases `receipt`, which C signed if `signed_by_c` (for this escrow or, if its domain says so,
    /// for another).
    fn release(
        &mut self,
        receipt: &Receipt<Acc>,
        signature: &SignatureBytes,
        signed_by_c: bool,
    ) -> Result<(), TestCaseError> {
        let lane = self.mine.get(&receipt.job_id).map(|m| (m.paid(&receipt.provider), m.allocated(&receipt.provider)));
        let answer = self.market().release(receipt, signature);
        self.follow()?;
        let Some((paid, allocated)) = lane else { return Ok(()) };
        match answer {
            Ok(_) if signed_by_c && receipt.domain == DOMAIN => {
                RELEASED.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(_) if !signed_by_c || receipt.domain != DOMAIN => {
                FORGERIES_REFUSED.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if receipt.amount <= paid && paid > 0 {
                    REPLAYS_REFUSED.fetch_add(1, Ordering::Relaxed);
                    if receipt.amount < paid {
                        LOWER_REFUSED.fetch_add(1, Ordering::Relaxed);
                    }
                } else if e == Error::ExceedsAllocation && receipt.amount > allocated {
                    BEYOND_ALLOCATION_REFUSED.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    fn release_signed(&mut self, pick: usize) -> Result<(), TestCaseError> {
        if self.pool.is_empty() {
            return Ok(());
        }
        let (receipt, signature) = self.pool[pick % self.pool.len()].clone();
        self.release(&receipt, &signature, true)
    }

    fn attack(&mut self, attack: &Attack) -> Result<(), TestCaseError> {
        match attack {
            Attack::Replay { pick } => self.release_signed(*pick)?,
            Attack::Latest { back } => {
                let n = self.pool.len();
                if n > 0 {
                    self.release_signed(n - 1 - back % n)?;
                }
            }
            Attack::Burst { picks } => {
                for pick in picks {
                    self.release_signed(*pick)?;
                }
            }
            Attack::Sweep { job, reverse } => {
                let Some(id) = self.my_job(*job) else { return Ok(()) };
                let mut all: Vec<usize> = (0..self.pool.len()).filter(|i| self.pool[*i].0.job_id == id).collect();
                if *reverse {
                    all.reverse();
                }
                for i in all {
                    self.release_signed(i)?;
                }
            }
            Attack::Tamper { pick, field } => {
                if self.pool.is_empty() {
                    return Ok(());
                }
                let (mut receipt, signature) = self.pool[pick % self.pool.len()].clone();
                match *field {
                    Field::AmountUp(k) => receipt.amount = receipt.amount.saturating_add(1 + k),
                    Field::Provider(p) => {
                        let others: Vec<Acc> = NAMED.iter().copied().filter(|q| *q != receipt.provider).collect();
                        receipt.provider = others[p % others.len()];
                    }
                    Field::Job(j) => {
                        let ids: Vec<u64> = self.jobs.keys().copied().filter(|id| *id != receipt.job_id).collect();
                        receipt.job_id = if ids.is_empty() { receipt.job_id + 1 } else { ids[j % ids.len()] };
                    }
                    Field::Domain(chain) => {
                        if chain {
                            receipt.domain.genesis_hash[0] ^= 1;
                        } else {
                            receipt.domain.contract[0] ^= 1;
                        }
                    }
                    Field::Sequence(s) => receipt.sequence = receipt.sequence.wrapping_add(1 + s),
                    Field::Units(u) => receipt.units = receipt.units.wrapping_add(1 + u),
                    Field::Expiry(d) => receipt.expires_at = receipt.expires_at.saturating_add(1 + d),
                }
                // The same job under another id may also be C's: the release counts as a forgery then too.
                self.release(&receipt, &signature, false)?;
            }
            Attack::Forge { job, provider, amount, key, domain } => {
                let Some(id) = self.any_job(*job) else { return Ok(()) };
                let seen = &self.jobs[&id];
                let x = seen.providers[provider % seen.providers.len()];
                let base = self.mine.get(&id).map_or(0, |m| m.highest(&x).max(m.paid(&x)));
                let deposit = self.mine.get(&id).map_or(1_000, |m| m.deposit);
                let amount = match *amount {
                    Forged::Above(k) => base + 1 + k,
                    Forged::Deposit => deposit,
                    Forged::Any(a) => a,
                };
                let mut d = DOMAIN;
                if !domain {
                    d.contract[0] ^= 1;
                }
                let receipt = Receipt {
                    domain: d,
                    job_id: id,
                    provider: x,
                    amount,
                    units: 1,
                    sequence: u64::MAX,
                    expires_at: self.now + 1_000,
                };
                let signature = sign(*key, &receipt);
                self.release(&receipt, &signature, false)?;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ one step

    fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let now = self.now;
        match step {
            Step::Open { providers, slack, deposit, duration } => self.open(providers, *slack, *deposit, *duration)?,
            Step::Sign(s) => self.sign(s),
            Step::TopUp { job, amount, to } => {
                if let Some(id) = self.my_job(*job) {
                    let m = &self.mine[&id];
                    let to = to.map(|sel| m.providers[sel % m.providers.len()]);
                    if self.market().top_up(C, id, *amount, to).is_ok() {
                        let m = self.mine.get_mut(&id).unwrap();
                        m.deposit += amount;
                        if let Some(x) = to {
                            *m.allocated.entry(x).or_default() += amount;
                        }
                    }
                }
            }
            Step::Allocate { job, provider, amount } => {
                if let Some(id) = self.my_job(*job) {
                    let m = &self.mine[&id];
                    let x = m.providers[provider % m.providers.len()];
                    let amount = 1 + amount % (m.deposit / 2).max(1);
                    if self.market().allocate(C, id, x, amount).is_ok() {
                        *self.mine.get_mut(&id).unwrap().allocated.entry(x).or_default() += amount;
                    }
                }
            }
            Step::Thaw { job, provider, part } => {
                if let Some(id) = self.my_job(*job) {
                    let m = &self.mine[&id];
                    let x = m.providers[provider % m.providers.len()];
                    let free = m.allocated(&x).saturating_sub(m.paid(&x));
                    let _ = self.market().thaw(C, id, x, 1 + part % free.max(1));
                }
            }
            Step::Complete { job } => {
                if let Some(id) = self.my_job(*job) {
                    let _ = self.market().complete(C, id);
                }
            }
            Step::Dispute { job, provider } => {
                if let Some(id) = self.my_job(*job) {
                    let m = &self.mine[&id];
                    let x = m.providers[provider % m.providers.len()];
                    let _ = self.market().dispute(C, id, x, [0xc5; 32]);
                }
            }
            Step::RefundAfterEnd { job, early, extra } => {
                // Mostly a job not refunded yet.
                let open: Vec<u64> =
                    self.mine.iter().filter(|(_, m)| m.refunded.is_none()).map(|(id, _)| *id).collect();
                let id = if open.is_empty() || job % 5 == 0 { self.my_job(*job) } else { Some(open[job % open.len()]) };
                if let Some(id) = id {
                    let end = self.mine[&id].end;
                    if *early && now + 1 < end {
                        self.now = end - 1;
                        let answer = self.refund(id, true)?;
                        prop_assert!(answer.is_err(), "P-G5.3: C's job {} refunded before its end", id);
                    }
                    self.refund_after_end(id, *extra)?;
                }
            }
            Step::Claim => self.claim()?,
            Step::AcceptNewest { provider } => {
                if let Some((&id, m)) = self.mine.last_key_value() {
                    let x = m.providers[provider % m.providers.len()];
                    let _ = self.market().accept_job(x, id, 0, u128::MAX);
                }
            }
            Step::Accept { job, provider, max_slash } => {
                if let Some(id) = self.any_job(*job) {
                    let providers = &self.jobs[&id].providers;
                    let x = providers[provider % providers.len()];
                    let _ = self.market().accept_job(x, id, 0, *max_slash);
                }
            }
            Step::AOpen { providers, deposit, duration, key } => {
                let mut named: Vec<Acc> = Vec::new();
                for p in providers {
                    let p = NAMED[p % NAMED.len()];
                    if !named.contains(&p) {
                        named.push(p);
                    }
                }
                let each = deposit / named.len() as u128;
                let req = OpenJob {
                    providers: named.iter().map(|p| (*p, each)).collect(),
                    payer_key: public(*key),
                    terms_hash: TERMS,
                    expires_at: now + duration,
                };
                if let Ok(id) = self.market().open_job(A_CONSUMER, *deposit, req) {
                    for p in named {
                        let _ = self.market().accept_job(p, id, 0, u128::MAX);
                    }
                }
            }
            Step::Release(attack) => self.attack(attack)?,
            Step::Refund { job } => {
                if let Some(id) = self.any_job(*job) {
                    let _ = self.refund(id, false)?;
                }
            }
            Step::ADispute { job, provider } => {
                if let Some(id) = self.a_job(*job) {
                    let seen = &self.jobs[&id];
                    let (consumer, x) = (seen.consumer, seen.providers[provider % seen.providers.len()]);
                    let _ = self.market().dispute(consumer, id, x, [0xa5; 32]);
                }
            }
            Step::Resolve { pick, quarters, job_arbiter } => {
                if !self.disputes.is_empty() {
                    let (id, x) = self.disputes[pick % self.disputes.len()];
                    let bound = self.bounds.get(&(id, x)).copied().unwrap_or(0);
                    let slash = quarters.map_or(bound.saturating_add(1), |q| bound / 4 * q);
                    let arbiter = if *job_arbiter { self.jobs[&id].arbiter } else { ARBITERS[pick % ARBITERS.len()] };
                    let _ = self.market().resolve_dispute(arbiter, id, x, slash);
                }
            }
            Step::Announce { treasury, arbiter, fee_bps } => {
                let change = SettingsChange {
                    treasury: treasury.map(|t| TREASURY_CHOICES[t % TREASURY_CHOICES.len()]),
                    arbiter: arbiter.map(|a| ARBITERS[a % ARBITERS.len()]),
                    fee_bps: *fee_bps,
                    min_stake: None,
                    slash_bps: None,
                };
                let _ = self.market().announce_settings(OWNERS[0], change);
            }
            Step::Apply { wait } => {
                if *wait {
                    if let Some(at) = self.announced {
                        self.now = self.now.max(at);
                    }
                }
                let _ = self.market().apply_settings(OWNERS[0]);
            }
            Step::Pause { paused } => {
                let _ = self.market().set_paused(OWNERS[0], *paused);
            }
            Step::Stake { who, amount } => {
                let _ = self.market().stake(NAMED[who % NAMED.len()], *amount);
            }
            Step::Advance { dt } => self.now += dt,
            Step::AClaim { who } => {
                let _ = self.market().claim(A_CLAIMERS[who % A_CLAIMERS.len()]);
            }
        }
        self.follow()
    }
}

// ---------------------------------------------------------------- strategies

#[path = "consumer_strategies.rs"]
mod strategies;

// ---------------------------------------------------------------- the property

#[test]
fn p_g5_a_consumer_pays_at_most_what_it_signed_and_gets_the_rest_back() {
    let config = ProptestConfig {
        cases: cases(10_000),
        rng_algorithm: RngAlgorithm::XorShift,
        source_file: Some(file!()),
        ..ProptestConfig::default()
    };
    let total = config.cases as usize;
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&strategies::run(), |(opens, steps)| {
        let mut r = Run::new();
        for s in opens.iter().chain(&steps) {
            r.step(s)?;
        }
        r.finish()
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    let load = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    let (released, full, replays, lower, forged, beyond) = (
        load(&RELEASED),
        load(&PAID_IN_FULL),
        load(&REPLAYS_REFUSED),
        load(&LOWER_REFUSED),
        load(&FORGERIES_REFUSED),
        load(&BEYOND_ALLOCATION_REFUSED),
    );
    let (refunds, by_a, own, early, second, after) = (
        load(&REFUNDS_CHECKED),
        load(&REFUNDS_BY_A),
        load(&OWN_REFUNDS),
        load(&EARLY_REFUSED),
        load(&SECOND_REFUSED),
        load(&REFUNDS_AFTER_RELEASES),
    );
    let (claims, slashes, fees) = (load(&CLAIMS_CHECKED), load(&SLASHES_TO_C), load(&FEES_TO_C));
    eprintln!(
        "P-G5: {total} cases; {released} releases of C's receipts ({full} paying a lane the highest C signed), {replays} \
         replays refused ({lower} below what the lane was paid), {forged} forged or altered receipts refused, {beyond} \
         receipts past C's allocation refused; {refunds} refunds of C's jobs checked ({by_a} by the adversary, {after} \
         after releases), {own} by C past the end, {early} early and {second} second refunds refused; {claims} claims \
         checked, {slashes} slashes credited to C, {fees} cases with fees to C as the treasury"
    );
    if total >= 1_000 {
        let at_least = |name: &str, n: usize, per: usize| {
            assert!(n * per >= total, "P-G5 is exercised too rarely: {n} {name} in {total} cases");
        };
        // About half of what 10,000 cases show.
        at_least("releases of C's receipts", released, 4);
        at_least("lanes paid the highest C signed", full, 4);
        at_least("replays refused", replays, 2);
        at_least("lower receipts refused", lower, 8);
        at_least("forgeries refused", forged, 1);
        at_least("receipts past the allocation refused", beyond, 5);
        at_least("refunds checked", refunds, 1);
        at_least("refunds by the adversary", by_a, 25);
        at_least("refunds after releases", after, 4);
        at_least("early refunds refused", early, 4);
        at_least("second refunds refused", second, 1);
        at_least("claims checked", claims, 2);
        at_least("slashes credited to C", slashes, 25);
        at_least("cases with fees to C", fees, 100);
    }
}
