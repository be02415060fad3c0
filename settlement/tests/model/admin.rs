//! P-G4, bounded admin power ("Money rules v2", §7), stated in what an honest provider P observes: the
//! answers to its own calls, the public event log with each event's block time, and the callers of
//! the extrinsics that emitted them (public on chain). Never the `Market`'s records or the reference.
//!
//! The adversary A holds the owner keys, both arbiters, the consumers and a stranger. Between P's steps
//! it opens jobs naming P, announces and applies settings (a new arbiter, treasury, fee, minimum stake),
//! pauses, hands ownership between its owner keys, disputes P and resolves disputes with any key and
//! any slash, and advances time (also straight to an announcement's `effective_at`). P stakes, unbonds
//! and withdraws.
//!
//! - **P-G4a**: every `SettingsChanged` at block time `t` that changes the treasury, the arbiter, the fee
//!   or the minimum stake carries exactly the settings of the last `SettingsAnnounced` before it, whose
//!   `effective_at` is at most `t` and at least its own block time plus `admin_delay`. (The pause alone
//!   may change at once.) Mutant `settings_immediate` fails it.
//! - **P-G4c**: every `DisputeResolved` that slashed was called by the arbiter `JobOpened` named for its
//!   job, before the `resolve_by` its `DisputeOpened` announced. Mutant `global_arbiter` fails it.
//! - **P-G4d**: every `OwnershipTransferred` names the account that the last `OwnershipTransferStarted`
//!   proposed.
//! - **P-G4 withdraw**: P's `withdraw` at any `t >= max(unlock_at of P's last Unbonding answer,
//!   expires_at + dispute_window of each JobOpened naming P, resolve_by of each DisputeOpened against P)`
//!   pays P all of its unbonding stake (as P counts it from its own events: what it unbonded, less the
//!   part of each slash that the documented order, active first, takes from unbonding). Whatever the
//!   disputes' fate: the mutant `dispute_blocks_forever` (a pending dispute blocks withdrawal until
//!   someone resolves it) fails it.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestRunner};
use settlement::memory::MemoryStore;
use settlement::{Event, Market, OpenJob, SettingsChange};

use crate::world::{
    cases, public, Acc, ARBITERS, CONSUMERS, INITIAL_FEE_BPS, INITIAL_MIN_STAKE, INITIAL_SLASH_BPS, OWNERS, PROVIDERS,
    START, STRANGER, TERMS, TIMING, TREASURIES,
};

/// The honest provider.
const P: Acc = PROVIDERS[0];
/// The adversary's keys for the owner's and arbiter's messages.
const ADMIN_KEYS: [Acc; 5] = [OWNERS[0], OWNERS[1], ARBITERS[0], ARBITERS[1], STRANGER];

#[derive(Debug, Clone)]
enum Step {
    Open {
        consumer: usize,
        with_other: bool,
        duration: u64,
    },
    /// `caller`: `None` for the owner of the moment (A holds both owner keys), else any admin key.
    Announce {
        caller: Option<usize>,
        arbiter: Option<usize>,
        treasury: Option<usize>,
        fee_bps: Option<u16>,
    },
    Apply {
        caller: Option<usize>,
    },
    Pause {
        paused: bool,
    },
    Transfer {
        caller: usize,
        to: usize,
    },
    Accept {
        caller: usize,
    },
    Dispute {
        job: usize,
        p_itself: bool,
    },
    Resolve {
        job: usize,
        p_itself: bool,
        caller: Resolver,
        slash: u128,
    },
    Advance {
        dt: u64,
    },
    /// Attack 4 in one go: the owner announces the other arbiter, waits out the delay, applies, and a
    /// consumer disputes P on the newest job.
    Takeover,
    /// Straight to the pending announcement's `effective_at` (plus `extra`).
    AdvanceToDue {
        extra: u64,
    },
    // P's own.
    /// P accepts a job naming it (its policy: whatever the job holds), with its own slash cap.
    AcceptJob {
        job: usize,
        max_slash: u128,
    },
    Stake {
        amount: u128,
    },
    Unbond {
        amount: u128,
    },
    Withdraw,
}

/// Who tries to resolve a dispute.
#[derive(Debug, Clone, Copy)]
enum Resolver {
    /// The arbiter of the moment (per the last `SettingsChanged`): attack 4's shape once it changed.
    Current,
    /// The arbiter the job opened with.
    OfTheJob,
    Key(usize),
}

/// Treasury, arbiter, fee, minimum stake and slash share.
type Values = (Acc, Acc, u16, u128, u16);

/// What P counts from the log and its own answers.
#[derive(Debug, Default)]
struct Seen {
    /// (job, consumer, arbiter, providers, lock = expires_at + dispute_window).
    jobs: Vec<(u64, Acc, Acc, Vec<Acc>)>,
    /// The latest moment anything P saw may hold its stake.
    free_at: u64,
    /// The last `SettingsChanged` values (treasury, arbiter, fee, min stake).
    settings: Option<Values>,
    /// The last `SettingsAnnounced`: its values, `effective_at` and its block time.
    announced: Option<(Values, u64, u64)>,
    /// `resolve_by` per (job, provider) of each `DisputeOpened`.
    resolve_by: Vec<((u64, Acc), u64)>,
    pending_owner: Option<Acc>,
    /// Disputes without a `DisputeResolved`, with their `resolve_by` (to aim at; statistics).
    open: Vec<((u64, Acc), u64)>,
    /// Disputes against P without a `DisputeResolved` (statistics only).
    unresolved: usize,
    /// The jobs P accepted, with the slash bound its `accept_job` answered.
    accepted: Vec<(u64, u128)>,
    /// P's stake as P counts it.
    active: u128,
    unbonding: u128,
}

static APPLIED: AtomicUsize = AtomicUsize::new(0);
static SLASHES_OF_P: AtomicUsize = AtomicUsize::new(0);
static SLASH_TRIES_BY_A_LATER_ARBITER: AtomicUsize = AtomicUsize::new(0);
static WITHDRAWALS_PAST_A_PENDING_DISPUTE: AtomicUsize = AtomicUsize::new(0);

struct Run {
    store: MemoryStore,
    now: u64,
    read: usize,
    seen: Seen,
}

impl Run {
    fn new() -> Self {
        let config = crate::world::config();
        let mut run = Self { store: MemoryStore::new(config), now: START, read: 0, seen: Seen::default() };
        // The constructor's `SettingsChanged` (the contract emits it; the memory store starts without it).
        run.seen.settings = Some((TREASURIES[0], ARBITERS[0], INITIAL_FEE_BPS, INITIAL_MIN_STAKE, INITIAL_SLASH_BPS));
        for p in [P, PROVIDERS[1]] {
            run.market().stake(p, 1_000).unwrap();
        }
        run.follow(None).unwrap();
        run
    }

    fn market(&mut self) -> Market<'_, MemoryStore> {
        Market::new(&mut self.store, self.now)
    }

    /// Folds the new events (emitted now, by `caller`'s extrinsic) and checks P-G4a, c and d on them.
    fn follow(&mut self, caller: Option<Acc>) -> Result<(), TestCaseError> {
        let now = self.now;
        let events: Vec<Event<Acc>> = self.store.events[self.read..].to_vec();
        self.read = self.store.events.len();
        let s = &mut self.seen;
        for event in events {
            match event {
                // Naming P holds nothing of P's (P-G3): only P's own acceptances lock its stake.
                Event::JobOpened { job_id, consumer, providers, arbiter, .. } => {
                    s.jobs.push((job_id, consumer, arbiter, providers));
                }
                Event::JobAccepted { job_id, provider, locked_until, .. } => {
                    prop_assert!(
                        provider != P || s.accepted.iter().any(|(j, _)| *j == job_id),
                        "P-G3: an acceptance P did not give"
                    );
                    if provider == P {
                        s.free_at = s.free_at.max(locked_until);
                    }
                }
                Event::SettingsAnnounced { treasury, arbiter, fee_bps, min_stake, slash_bps, effective_at } => {
                    s.announced = Some(((treasury, arbiter, fee_bps, min_stake, slash_bps), effective_at, now));
                }
                Event::SettingsChanged { treasury, arbiter, fee_bps, min_stake, slash_bps, .. } => {
                    let values = (treasury, arbiter, fee_bps, min_stake, slash_bps);
                    if s.settings.is_some_and(|previous| previous != values) {
                        APPLIED.fetch_add(1, Ordering::Relaxed);
                        let Some((announced, effective_at, at)) = s.announced else {
                            return Err(TestCaseError::fail(format!("P-G4a: {values:?} applied unannounced")));
                        };
                        prop_assert_eq!(announced, values, "P-G4a: applied settings differ from the announcement");
                        prop_assert!(effective_at <= now, "P-G4a: applied at {} before {}", now, effective_at);
                        prop_assert!(
                            effective_at >= at + TIMING.admin_delay,
                            "P-G4a: announced at {} to apply at {}: shorter than the admin delay",
                            at,
                            effective_at
                        );
                    }
                    s.settings = Some(values);
                }
                Event::DisputeOpened { job_id, provider, resolve_by, .. } => {
                    let accepted = s.accepted.iter().any(|(j, _)| *j == job_id);
                    prop_assert!(
                        provider != P || accepted,
                        "P-G3: P disputed through job {} it did not accept",
                        job_id
                    );
                    if provider == P {
                        s.free_at = s.free_at.max(resolve_by);
                        s.unresolved += 1;
                    }
                    s.resolve_by.push(((job_id, provider), resolve_by));
                    s.open.push(((job_id, provider), resolve_by));
                }
                Event::DisputeResolved { job_id, provider, slashed, .. } => {
                    if slashed > 0 {
                        let (_, _, arbiter, _) = s.jobs.iter().find(|j| j.0 == job_id).expect("an opened job");
                        let by = s.resolve_by.iter().rev().find(|(k, _)| *k == (job_id, provider)).map(|(_, t)| *t);
                        prop_assert_eq!(caller, Some(*arbiter), "P-G4c: slashed by another than the job's arbiter");
                        prop_assert!(
                            by.is_some_and(|by| now < by),
                            "P-G4c: slashed at {} past resolve_by {:?}",
                            now,
                            by
                        );
                    }
                    s.open.retain(|(k, _)| *k != (job_id, provider));
                    if provider == P {
                        let bound = s.accepted.iter().find(|(j, _)| *j == job_id).map(|(_, b)| *b);
                        prop_assert!(
                            bound.is_some_and(|b| slashed <= b),
                            "P-G4b: {} slashed on job {} where P accepted a bound of {:?}",
                            slashed,
                            job_id,
                            bound
                        );
                        if slashed > 0 {
                            SLASHES_OF_P.fetch_add(1, Ordering::Relaxed);
                        }
                        s.unresolved -= 1;
                        let from_active = slashed.min(s.active);
                        s.active -= from_active;
                        s.unbonding -= slashed - from_active;
                    }
                }
                Event::OwnershipTransferStarted { pending, .. } => s.pending_owner = Some(pending),
                Event::OwnershipTransferred { owner, .. } => {
                    prop_assert_eq!(Some(owner), s.pending_owner, "P-G4d: owner not the proposed one");
                    s.pending_owner = None;
                }
                Event::Staked { provider, active, .. } if provider == P => s.active = active,
                Event::Unbonding { provider, amount, unbonding, unlock_at } if provider == P => {
                    s.active -= amount;
                    s.unbonding = unbonding;
                    s.free_at = s.free_at.max(unlock_at);
                }
                Event::Withdrawn { provider, .. } if provider == P => s.unbonding = 0,
                _ => {}
            }
        }
        Ok(())
    }

    fn admin(&self, caller: Option<usize>) -> Acc {
        caller.map_or(self.store.config.owner, |c| ADMIN_KEYS[c % ADMIN_KEYS.len()])
    }

    fn job(&self, sel: usize) -> Option<(u64, Acc, Vec<Acc>)> {
        let jobs = &self.seen.jobs;
        (!jobs.is_empty()).then(|| {
            let (id, consumer, _, providers) = &jobs[sel % jobs.len()];
            (*id, *consumer, providers.clone())
        })
    }

    fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let now = self.now;
        let mut caller = None;
        match step {
            Step::Open { consumer, with_other, duration } => {
                let mut providers = vec![P];
                if *with_other {
                    providers.push(PROVIDERS[1]);
                }
                let consumer = CONSUMERS[consumer % CONSUMERS.len()];
                // P is allocated the whole deposit; what matters here is its stake, not its pay.
                let providers =
                    providers.into_iter().enumerate().map(|(i, p)| (p, if i == 0 { 1_000 } else { 0 })).collect();
                let req = OpenJob { providers, payer_key: public(0), terms_hash: TERMS, expires_at: now + duration };
                let _ = self.market().open_job(consumer, 1_000, req);
            }
            Step::Announce { caller: c, arbiter, treasury, fee_bps } => {
                let key = self.admin(*c);
                let change = SettingsChange {
                    treasury: treasury.map(|t| TREASURIES[t % TREASURIES.len()]),
                    arbiter: arbiter.map(|a| ARBITERS[a % ARBITERS.len()]),
                    fee_bps: *fee_bps,
                    min_stake: None,
                    slash_bps: None,
                };
                let _ = self.market().announce_settings(key, change);
            }
            Step::Apply { caller: c } => {
                let key = self.admin(*c);
                let _ = self.market().apply_settings(key);
            }
            Step::Pause { paused } => {
                let owner = self.store.config.owner;
                let _ = self.market().set_paused(owner, *paused);
            }
            Step::Transfer { caller: c, to } => {
                let _ = self.market().transfer_ownership(OWNERS[c % 2], ADMIN_KEYS[to % ADMIN_KEYS.len()]);
            }
            Step::Accept { caller: c } => {
                let _ = self.market().accept_ownership(ADMIN_KEYS[c % ADMIN_KEYS.len()]);
            }
            Step::Dispute { job, p_itself } => {
                if let Some((id, consumer, providers)) = self.job(*job) {
                    let who = if *p_itself { P } else { providers[providers.len() - 1] };
                    let _ = self.market().dispute(consumer, id, who, [0; 32]);
                }
            }
            Step::Resolve { job, p_itself, caller: c, slash } => {
                // Mostly a dispute still open, newest first; else any job and provider.
                let open: Vec<(u64, Acc)> =
                    self.seen.open.iter().rev().filter(|(_, by)| now < *by).map(|(k, _)| *k).collect();
                let target = match (open.get(job % 4), self.job(*job)) {
                    (Some(key), _) if job % 5 != 0 => Some(*key),
                    (_, Some((id, _, providers))) => {
                        Some((id, if *p_itself { P } else { providers[providers.len() - 1] }))
                    }
                    _ => None,
                };
                if let Some((id, who)) = target {
                    let job_arbiter = self.seen.jobs.iter().find(|j| j.0 == id).map(|j| j.2).unwrap();
                    let current = self.seen.settings.map_or(ARBITERS[0], |s| s.1);
                    let key = match c {
                        Resolver::Current => current,
                        Resolver::OfTheJob => job_arbiter,
                        Resolver::Key(k) => ADMIN_KEYS[k % ADMIN_KEYS.len()],
                    };
                    let pending = self
                        .seen
                        .resolve_by
                        .iter()
                        .rev()
                        .find(|(k, _)| *k == (id, who))
                        .is_some_and(|(_, by)| now < *by);
                    if key == current && key != job_arbiter && *slash > 0 && pending {
                        SLASH_TRIES_BY_A_LATER_ARBITER.fetch_add(1, Ordering::Relaxed);
                    }
                    caller = Some(key);
                    let _ = self.market().resolve_dispute(key, id, who, *slash);
                }
            }
            Step::Advance { dt } => self.now += dt,
            Step::Takeover => {
                let owner = self.store.config.owner;
                let other = if self.store.config.arbiter == ARBITERS[0] { ARBITERS[1] } else { ARBITERS[0] };
                let change = SettingsChange { arbiter: Some(other), ..SettingsChange::default() };
                if let Ok(effective_at) = self.market().announce_settings(owner, change) {
                    self.follow(None)?;
                    self.now = effective_at;
                    let _ = self.market().apply_settings(owner);
                    // ... and, as its consumer, disputes P on the newest job P accepted (opened under
                    // the old arbiter).
                    let newest = self.seen.accepted.last().map(|(id, _)| *id);
                    if let Some((id, consumer)) =
                        newest.and_then(|id| self.seen.jobs.iter().find(|j| j.0 == id)).map(|j| (j.0, j.1))
                    {
                        self.follow(None)?;
                        let _ = self.market().dispute(consumer, id, P, [1; 32]);
                    }
                }
            }
            Step::AdvanceToDue { extra } => {
                if let Some((_, effective_at, _)) = self.seen.announced {
                    self.now = self.now.max(effective_at + extra);
                }
            }
            Step::AcceptJob { job, max_slash } => {
                if let Some((id, _, providers)) = self.job(*job) {
                    if providers.contains(&P) && !self.seen.accepted.iter().any(|(j, _)| *j == id) {
                        // Recorded before the answer's events are followed: P's own act.
                        self.seen.accepted.push((id, 0));
                        match self.market().accept_job(P, id, 0, *max_slash) {
                            Ok(bound) => self.seen.accepted.last_mut().unwrap().1 = bound,
                            Err(_) => {
                                self.seen.accepted.pop();
                            }
                        }
                    }
                }
            }
            Step::Stake { amount } => {
                let _ = self.market().stake(P, *amount);
            }
            Step::Unbond { amount } => {
                let _ = self.market().unbond(P, *amount);
            }
            Step::Withdraw => {
                let due = now >= self.seen.free_at && self.seen.unbonding > 0;
                let expected = self.seen.unbonding;
                let pending = self.seen.unresolved > 0;
                let answer = self.market().withdraw(P);
                if due {
                    prop_assert_eq!(
                        answer,
                        Ok(expected),
                        "P-G4: withdrawal at {} (free from {})",
                        now,
                        self.seen.free_at
                    );
                    if pending {
                        WITHDRAWALS_PAST_A_PENDING_DISPUTE.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        self.follow(caller)
    }
}

fn resolver() -> impl Strategy<Value = Resolver> {
    prop_oneof![3 => Just(Resolver::Current), 2 => Just(Resolver::OfTheJob), 2 => (0..5usize).prop_map(Resolver::Key)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..2usize, any::<bool>(), prop_oneof![1 => 1..=500u64, 2 => 300..=500u64]).prop_map(|(consumer, with_other, duration)| Step::Open { consumer, with_other, duration }),
        3 => (
            prop::option::weighted(0.15, 0..5usize),
            prop::option::weighted(0.7, 0..2usize),
            prop::option::weighted(0.3, 0..2usize),
            prop::option::weighted(0.3, prop_oneof![Just(0u16), Just(1_000u16), Just(1_001u16)]),
        )
            .prop_map(|(caller, arbiter, treasury, fee_bps)| Step::Announce { caller, arbiter, treasury, fee_bps }),
        3 => prop::option::weighted(0.15, 0..5usize).prop_map(|caller| Step::Apply { caller }),
        1 => any::<bool>().prop_map(|paused| Step::Pause { paused }),
        1 => (0..2usize, 0..5usize).prop_map(|(caller, to)| Step::Transfer { caller, to }),
        1 => (0..5usize).prop_map(|caller| Step::Accept { caller }),
        3 => (0..100usize, prop::bool::weighted(0.8)).prop_map(|(job, p_itself)| Step::Dispute { job, p_itself }),
        4 => (0..100usize, prop::bool::weighted(0.8), resolver(), prop_oneof![1 => Just(0u128), 3 => 1..=300u128])
            .prop_map(|(job, p_itself, caller, slash)| Step::Resolve { job, p_itself, caller, slash }),
        3 => prop_oneof![2 => 0..=50u64, 2 => 51..=250u64, 1 => 251..=800u64].prop_map(|dt| Step::Advance { dt }),
        2 => (0..=30u64).prop_map(|extra| Step::AdvanceToDue { extra }),
        2 => Just(Step::Takeover),
        1 => (1..=500u128).prop_map(|amount| Step::Stake { amount }),
        5 => (0..100usize, prop_oneof![2 => Just(u128::MAX), 1 => 0..=100u128, 1 => 0..=1_000u128])
            .prop_map(|(job, max_slash)| Step::AcceptJob { job, max_slash }),
        2 => (1..=600u128).prop_map(|amount| Step::Unbond { amount }),
        3 => Just(Step::Withdraw),
    ]
}

fn runs(cases: u32) -> (TestRunner, BoxedStrategy<Vec<Step>>) {
    let config = ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::XorShift,
        source_file: Some(file!()),
        ..ProptestConfig::default()
    };
    (TestRunner::new(config), prop::collection::vec(step(), 1..=50).boxed())
}

#[test]
fn p_g4_bounded_admin_power() {
    let total = cases(10_000);
    let (mut runner, strategy) = runs(total);
    let outcome = runner.run(&strategy, |steps| {
        let mut r = Run::new();
        for s in &steps {
            r.step(s)?;
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    // Not vacuous: changes applied, slash attempts on pending disputes by an arbiter appointed after
    // the job opened, withdrawals past a dispute
    // against P that no one resolved.
    let total = total as usize;
    let applied = APPLIED.load(Ordering::Relaxed);
    let slashes = SLASH_TRIES_BY_A_LATER_ARBITER.load(Ordering::Relaxed);
    let past = WITHDRAWALS_PAST_A_PENDING_DISPUTE.load(Ordering::Relaxed);
    let slashed_p = SLASHES_OF_P.load(Ordering::Relaxed);
    eprintln!(
        "P-G4: {total} cases, {applied} settings changes applied, {slashes} slash attempts by a later arbiter, \
         {past} due withdrawals past an unresolved dispute, {slashed_p} slashes of P"
    );
    if total >= 1_000 {
        assert!(applied >= total / 2, "too few changes applied: {applied}");
        assert!(slashes >= total / 100, "too few slash attempts by a later arbiter: {slashes}");
        assert!(slashed_p >= total / 40, "too few slashes of P: {slashed_p}");
        assert!(past >= total / 50, "too few withdrawals past an unresolved dispute: {past}");
    }
}
