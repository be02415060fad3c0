//! Re-deriving the books from the indexed events alone, in chain order, and checking every rule an
//! auditor relies on: each job's deposits = releases (net + fee) + refunds + what it still holds; each
//! release's fee is exactly the contract's fee rule on cumulative amounts; the stake ledger of every
//! provider adds up (stakes - unbonds, unbonding - withdrawals, slashes from active first); nothing is
//! claimed that was never credited; settings change only as announced and not before their
//! `effective_at`; each job takes the fee and arbiter in force when it opened; no dispute slashes after
//! its `resolve_by`. Pure: the audit feeds it events with their block times and reads its findings.

use std::collections::BTreeMap;

use escrow_client::AccountId;
use settlement::fee::split_step;
use settlement::{Balance, Event, JobId, Timestamp};

/// Where an event is on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Block number.
    pub block: u64,
    /// Index among the block's events.
    pub event: u32,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "block {} event {}", self.block, self.event)
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where it shows.
    pub at: Position,
    /// The job concerned, if any.
    pub job: Option<JobId>,
    /// What is wrong.
    pub what: String,
}

/// One job's books.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobBook {
    /// Whether its opening was indexed (otherwise its books start mid-way and are not balanced).
    pub complete: bool,
    /// Its consumer.
    pub consumer: AccountId,
    /// The payer key receipts are signed with.
    pub payer_key: [u8; 32],
    /// The fee fixed at opening.
    pub fee_bps: u16,
    /// Deposited in total.
    pub deposited: Balance,
    /// Released to providers (net).
    pub net: Balance,
    /// Released to the treasury (fee).
    pub fees: Balance,
    /// Refunded to the consumer.
    pub refunded: Balance,
    /// Slashed from providers' stake in its disputes (credited to the consumer; not from the deposit).
    pub slashed: Balance,
    /// Settled cumulative amount per provider.
    pub lanes: BTreeMap<AccountId, Balance>,
    /// The providers that accepted the job, with their slash bound.
    pub accepted: BTreeMap<AccountId, Balance>,
    /// Refunds seen (one at most).
    pub refunds: u32,
    /// Where its (first) refund is.
    pub refunded_at: Option<Position>,
}

impl JobBook {
    /// Released in total (net + fee).
    #[must_use]
    pub fn released(&self) -> Balance {
        self.net.saturating_add(self.fees)
    }

    /// What the escrow still holds for the job.
    #[must_use]
    pub fn held(&self) -> Balance {
        self.deposited.saturating_sub(self.released()).saturating_sub(self.refunded)
    }
}

/// A provider's stake as the events tell it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StakeBook {
    /// Active stake.
    pub active: Balance,
    /// Unbonding stake.
    pub unbonding: Balance,
    /// Slashed in total.
    pub slashed: Balance,
}

/// A release, for matching against the gateway's stored receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRef {
    /// Where.
    pub at: Position,
    /// The job.
    pub job: JobId,
    /// The provider paid.
    pub provider: AccountId,
    /// The receipt's cumulative amount.
    pub cumulative: Balance,
    /// The receipt's cumulative units.
    pub units: u128,
    /// The receipt's sequence.
    pub sequence: u64,
}

/// Treasury, arbiter, fee, minimum stake and slash share.
pub type SettingsBook = (AccountId, AccountId, u16, Balance, u16);

/// The books, re-derived.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// The settings in force (from the last `SettingsChanged`).
    pub settings: Option<SettingsBook>,
    /// The pending announcement and its `effective_at`.
    pub announced: Option<(SettingsBook, Timestamp)>,
    /// `resolve_by` of each dispute.
    pub resolve_by: BTreeMap<(JobId, AccountId), Timestamp>,
    /// Per job.
    pub jobs: BTreeMap<JobId, JobBook>,
    /// Per provider.
    pub stakes: BTreeMap<AccountId, StakeBook>,
    /// Credited to claimable balances (nets, fees, refunds, slashes).
    pub credited: Balance,
    /// Claimed out.
    pub claimed: Balance,
    /// Every release, in order.
    pub releases: Vec<ReleaseRef>,
    /// Events applied.
    pub events: u64,
    /// Broken rules.
    pub findings: Vec<Finding>,
    /// Whether history before the first event is unknown (indexing began after deployment): stake
    /// and claim totals then start from unknown values, and their checks are skipped.
    pub partial: bool,
}

fn add(a: Balance, b: Balance) -> Balance {
    a.saturating_add(b)
}

impl Ledger {
    fn find(&mut self, at: Position, job: Option<JobId>, what: String) {
        self.findings.push(Finding { at, job, what });
    }

    /// Applies the next event, emitted in a block with timestamp `time` (ms).
    pub fn apply(&mut self, at: Position, time: Timestamp, event: &Event<AccountId>) {
        self.events = self.events.saturating_add(1);
        match event {
            Event::JobOpened { job_id, consumer, deposit, payer_key, fee_bps, slash_bps, arbiter, .. } => {
                if self.jobs.get(job_id).is_some_and(|b| b.complete) {
                    self.find(at, Some(*job_id), "job opened twice".into());
                }
                if let Some((_, in_force, fee, _, share)) = self.settings {
                    if (*arbiter, *fee_bps, *slash_bps) != (in_force, fee, share) {
                        self.find(
                            at,
                            Some(*job_id),
                            "opened with another fee, slash share or arbiter than in force".into(),
                        );
                    }
                }
                let book = JobBook {
                    complete: true,
                    consumer: *consumer,
                    payer_key: *payer_key,
                    fee_bps: *fee_bps,
                    deposited: *deposit,
                    ..JobBook::default()
                };
                self.jobs.insert(*job_id, book);
            }
            Event::ToppedUp { job_id, amount, deposit, .. } => {
                let book = self.jobs.entry(*job_id).or_default();
                let expected = add(book.deposited, *amount);
                book.deposited = *deposit;
                if book.refunds > 0 {
                    self.find(at, Some(*job_id), "top-up after the job was refunded".into());
                } else if book.complete && expected != *deposit {
                    self.find(
                        at,
                        Some(*job_id),
                        format!("top-up of {amount} makes the deposit {deposit}, not {expected}"),
                    );
                }
            }
            Event::Released { job_id, provider, cumulative, units, sequence, amount, fee, net, .. } => {
                self.credited = add(add(self.credited, *net), *fee);
                self.releases.push(ReleaseRef {
                    at,
                    job: *job_id,
                    provider: *provider,
                    cumulative: *cumulative,
                    units: *units,
                    sequence: *sequence,
                });
                let book = self.jobs.entry(*job_id).or_default();
                let prev = book.lanes.insert(*provider, *cumulative).unwrap_or(0);
                book.net = add(book.net, *net);
                book.fees = add(book.fees, *fee);
                if !book.complete {
                    return;
                }
                let mut wrong = Vec::new();
                if !book.accepted.contains_key(provider) {
                    wrong.push("release to a provider that did not accept the job".to_string());
                }
                // Receipts are ordered by cumulative amount only (rules v2): sequence and units are
                // informational and may go any way.
                if *cumulative <= prev {
                    wrong.push(format!("cumulative {cumulative} is not above the lane's {prev}"));
                }
                let step = split_step(prev, *cumulative, book.fee_bps);
                if *amount != cumulative.saturating_sub(prev) {
                    wrong.push(format!("amount {amount} is not cumulative {cumulative} - previous {prev}"));
                }
                if *fee != step.fee {
                    wrong.push(format!("fee {fee} is not the fee rule's {} at {} bps", step.fee, book.fee_bps));
                }
                if *net != amount.saturating_sub(*fee) || add(*net, *fee) != *amount {
                    wrong.push(format!("net {net} + fee {fee} is not the amount {amount}"));
                }
                if add(book.released(), book.refunded) > book.deposited {
                    wrong.push(format!("released {} exceeds the deposit {}", book.released(), book.deposited));
                }
                for w in wrong {
                    self.find(at, Some(*job_id), w);
                }
            }
            Event::Refunded { job_id, amount, .. } => {
                self.credited = add(self.credited, *amount);
                let book = self.jobs.entry(*job_id).or_default();
                let expected = book.held();
                let complete = book.complete;
                let twice = book.refunds > 0;
                book.refunds = book.refunds.saturating_add(1);
                book.refunded_at = book.refunded_at.or(Some(at));
                book.refunded = add(book.refunded, *amount);
                if complete && (*amount != expected || twice) {
                    self.find(at, Some(*job_id), format!("refund {amount}, but the job held {expected}"));
                }
            }
            Event::DisputeResolved { job_id, provider, slashed, .. } => {
                self.credited = add(self.credited, *slashed);
                let late = self.resolve_by.get(&(*job_id, *provider)).is_some_and(|by| time >= *by);
                if *slashed > 0 && late {
                    self.find(at, Some(*job_id), format!("slash of {slashed} after the arbitration period"));
                }
                let bound = self.jobs.get(job_id).filter(|b| b.complete).map(|b| b.accepted.get(provider).copied());
                if let Some(bound) = bound {
                    if *slashed > bound.unwrap_or(0) {
                        self.find(at, Some(*job_id), format!("slash of {slashed} above the bound {bound:?} accepted"));
                    }
                }
                if let Some(book) = self.jobs.get_mut(job_id) {
                    book.slashed = add(book.slashed, *slashed);
                }
                let stake = self.stakes.entry(*provider).or_default();
                let from_active = (*slashed).min(stake.active);
                let from_unbonding = slashed.saturating_sub(from_active);
                let short = from_unbonding > stake.unbonding;
                stake.active = stake.active.saturating_sub(from_active);
                stake.unbonding = stake.unbonding.saturating_sub(from_unbonding);
                stake.slashed = add(stake.slashed, *slashed);
                if short && !self.partial {
                    self.find(at, Some(*job_id), format!("slash of {slashed} exceeds the provider's stake"));
                }
            }
            Event::Staked { provider, amount, active } => {
                let stake = self.stakes.entry(*provider).or_default();
                let expected = add(stake.active, *amount);
                stake.active = *active;
                if expected != *active && !self.partial {
                    self.find(at, None, format!("stake of {amount} makes active {active}, not {expected}"));
                }
            }
            Event::Unbonding { provider, amount, unbonding, .. } => {
                let stake = self.stakes.entry(*provider).or_default();
                let short = *amount > stake.active;
                let expected = add(stake.unbonding, *amount);
                stake.active = stake.active.saturating_sub(*amount);
                stake.unbonding = *unbonding;
                if (short || expected != *unbonding) && !self.partial {
                    self.find(at, None, format!("unbonding {amount} makes {unbonding}, expected {expected}"));
                }
            }
            Event::Withdrawn { provider, amount } => {
                let stake = self.stakes.entry(*provider).or_default();
                let unbonding = stake.unbonding;
                stake.unbonding = 0;
                if *amount != unbonding && !self.partial {
                    self.find(at, None, format!("withdrawal of {amount}, but {unbonding} was unbonding"));
                }
            }
            Event::Claimed { amount, .. } => {
                self.claimed = add(self.claimed, *amount);
                if self.claimed > self.credited && !self.partial {
                    let (claimed, credited) = (self.claimed, self.credited);
                    self.find(at, None, format!("claims {claimed} exceed all credits {credited}"));
                }
            }
            Event::JobAccepted { job_id, provider, max_slash, .. } => {
                let book = self.jobs.entry(*job_id).or_default();
                if book.accepted.insert(*provider, *max_slash).is_some() {
                    self.find(at, Some(*job_id), "a provider accepted the job twice".into());
                }
            }
            Event::DisputeOpened { job_id, provider, resolve_by, .. } => {
                self.resolve_by.insert((*job_id, *provider), *resolve_by);
                if self.jobs.get(job_id).is_some_and(|b| b.complete && !b.accepted.contains_key(provider)) {
                    self.find(at, Some(*job_id), "dispute against a provider that did not accept the job".into());
                }
            }
            Event::SettingsAnnounced { treasury, arbiter, fee_bps, min_stake, slash_bps, effective_at } => {
                self.announced = Some(((*treasury, *arbiter, *fee_bps, *min_stake, *slash_bps), *effective_at));
                if *effective_at <= time {
                    self.find(at, None, format!("settings announced at {time} to apply at once ({effective_at})"));
                }
            }
            Event::SettingsChanged { treasury, arbiter, fee_bps, min_stake, slash_bps, .. } => {
                let values = (*treasury, *arbiter, *fee_bps, *min_stake, *slash_bps);
                // The first is the constructor's; after it only an announced change may apply, when due
                // (the pause alone switches at once and leaves the values as they were).
                if self.settings.is_some_and(|previous| previous != values) && !self.partial {
                    match self.announced.take() {
                        Some((announced, due)) if announced == values && due <= time => {}
                        Some((announced, due)) if announced == values => {
                            self.find(at, None, format!("settings applied at {time}, before their effective_at {due}"));
                        }
                        _ => self.find(at, None, "settings changed without that change announced".into()),
                    }
                }
                self.settings = Some(values);
            }
            Event::JobCompleted { .. }
            | Event::ReputationChanged { .. }
            | Event::OwnershipTransferStarted { .. }
            | Event::OwnershipTransferred { .. } => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    const C: AccountId = [1; 32];
    const P: AccountId = [2; 32];

    fn at(block: u64) -> Position {
        Position { block, event: 0 }
    }

    fn open(deposit: Balance) -> Event<AccountId> {
        Event::JobOpened {
            job_id: 1,
            consumer: C,
            providers: vec![P],
            deposit,
            payer_key: [9; 32],
            terms_hash: [0; 32],
            fee_bps: 500,
            slash_bps: 5_000,
            arbiter: [8; 32],
            expires_at: 10,
        }
    }

    fn release(prev: Balance, cumulative: Balance) -> Event<AccountId> {
        let s = split_step(prev, cumulative, 500);
        Event::Released {
            job_id: 1,
            consumer: C,
            provider: P,
            cumulative,
            units: cumulative,
            sequence: cumulative as u64,
            amount: cumulative - prev,
            fee: s.fee,
            net: s.net,
        }
    }

    /// P accepting job 1 with a slash bound of 500.
    fn accepted() -> Event<AccountId> {
        Event::JobAccepted { job_id: 1, provider: P, funds: 1_000, max_slash: 500, locked_until: 20 }
    }

    /// Applies `events`, with P accepting each job right after it opens (unless `consent` is false).
    fn run_with(events: &[Event<AccountId>], consent: bool) -> Ledger {
        let mut l = Ledger::default();
        for (i, e) in events.iter().enumerate() {
            l.apply(at(i as u64), 1_000 + i as u64, e);
            if consent && matches!(e, Event::JobOpened { .. }) {
                l.apply(at(i as u64), 1_000 + i as u64, &accepted());
            }
        }
        l
    }

    fn run(events: &[Event<AccountId>]) -> Ledger {
        run_with(events, true)
    }

    #[test]
    fn nothing_moves_through_a_job_its_provider_did_not_accept() {
        let dispute = Event::DisputeOpened { job_id: 1, consumer: C, provider: P, reason: [0; 32], resolve_by: 10_000 };
        let unaccepted = run_with(&[open(1_000), release(0, 100), dispute.clone()], false);
        let what: Vec<&str> = unaccepted.findings.iter().map(|f| f.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "release to a provider that did not accept the job",
                "dispute against a provider that did not accept the job"
            ]
        );
        let slash = |slashed| Event::DisputeResolved { job_id: 1, consumer: C, provider: P, slashed };
        let staked = Event::Staked { provider: P, amount: 1_000, active: 1_000 };
        assert!(run(&[staked.clone(), open(1_000), dispute.clone(), slash(500)]).findings.is_empty());
        let over = run(&[staked, open(1_000), dispute, slash(501)]);
        assert_eq!(over.findings.len(), 1, "{:?}", over.findings);
        assert!(over.findings[0].what.contains("above the bound"), "{:?}", over.findings);
        let twice = run(&[open(1_000), accepted()]);
        assert_eq!(twice.findings.len(), 1, "{:?}", twice.findings);
    }

    #[test]
    fn honest_history_balances() {
        let l = run(&[
            open(1_000),
            Event::ToppedUp { job_id: 1, consumer: C, amount: 500, deposit: 1_500 },
            release(0, 333),
            release(333, 1_001),
            Event::Refunded { job_id: 1, consumer: C, amount: 499 },
            Event::Claimed { account: P, amount: 900 },
        ]);
        assert_eq!(l.findings, vec![]);
        let book = &l.jobs[&1];
        assert_eq!((book.deposited, book.released(), book.refunded, book.held()), (1_500, 1_001, 499, 0));
        assert_eq!(book.fees, 16 + 34, "fee on cumulative: floor(333*5%) then floor(1001*5%) - 16");
        assert_eq!(l.releases.len(), 2);
    }

    #[test]
    fn a_fee_off_by_one_is_found_even_when_net_plus_fee_adds_up() {
        let Event::Released { job_id, consumer, provider, cumulative, units, sequence, amount, fee, net } =
            release(0, 1_000)
        else {
            unreachable!()
        };
        let forged = Event::Released {
            job_id,
            consumer,
            provider,
            cumulative,
            units,
            sequence,
            amount,
            fee: fee - 1,
            net: net + 1,
        };
        let l = run(&[open(1_000), forged]);
        assert_eq!(l.findings.len(), 1, "{:?}", l.findings);
        assert!(l.findings[0].what.contains("fee rule"), "{:?}", l.findings);
    }

    #[test]
    fn releasing_more_than_deposited_or_refunding_the_wrong_amount_is_found() {
        let l = run(&[open(100), release(0, 101)]);
        assert!(l.findings.iter().any(|f| f.what.contains("exceeds the deposit")), "{:?}", l.findings);
        let l = run(&[open(100), release(0, 60), Event::Refunded { job_id: 1, consumer: C, amount: 41 }]);
        assert!(l.findings.iter().any(|f| f.what.contains("held 40")), "{:?}", l.findings);
    }

    #[test]
    fn a_wrong_running_total_of_deposits_or_stake_is_found() {
        let l = run(&[open(100), Event::ToppedUp { job_id: 1, consumer: C, amount: 5, deposit: 106 }]);
        assert_eq!(l.findings.len(), 1);
        let l = run(&[
            Event::Staked { provider: P, amount: 10, active: 10 },
            Event::Unbonding { provider: P, amount: 4, unbonding: 4, unlock_at: 1 },
            Event::Withdrawn { provider: P, amount: 5 },
        ]);
        assert_eq!(l.findings.len(), 1, "withdrawing more than unbonding: {:?}", l.findings);
    }

    #[test]
    fn slashes_come_from_active_stake_first_and_claims_never_exceed_credits() {
        let l = run(&[
            Event::Staked { provider: P, amount: 10, active: 10 },
            Event::Unbonding { provider: P, amount: 4, unbonding: 4, unlock_at: 1 },
            Event::DisputeResolved { job_id: 1, consumer: C, provider: P, slashed: 8 },
            Event::Claimed { account: C, amount: 8 },
        ]);
        assert_eq!(l.findings, vec![]);
        assert_eq!(l.stakes[&P], StakeBook { active: 0, unbonding: 2, slashed: 8 });
        let l = run(&[Event::Claimed { account: C, amount: 1 }]);
        assert_eq!(l.findings.len(), 1);
    }

    #[test]
    fn a_job_opened_before_the_indexed_range_is_not_judged() {
        let l = run(&[release(0, 50), Event::Refunded { job_id: 1, consumer: C, amount: 7 }]);
        assert_eq!(l.findings, vec![]);
        assert!(!l.jobs[&1].complete);
    }

    #[test]
    fn partial_history_skips_stake_and_claim_totals_it_cannot_know() {
        let earlier = [
            Event::Staked { provider: P, amount: 10, active: 110 },
            Event::Unbonding { provider: P, amount: 50, unbonding: 50, unlock_at: 1 },
            Event::Withdrawn { provider: P, amount: 50 },
            Event::Claimed { account: C, amount: 7 },
        ];
        assert_eq!(run(&earlier).findings.len(), 2, "from genesis, the stake total and the claim are wrong");
        let mut l = Ledger { partial: true, ..Ledger::default() };
        for (i, e) in earlier.iter().enumerate() {
            l.apply(at(i as u64), 1_000 + i as u64, e);
        }
        assert_eq!(l.findings, vec![], "from a later start block they are unknowable");
    }

    #[test]
    fn a_second_refund_a_late_top_up_or_a_lane_going_backwards_is_found() {
        let refund = Event::Refunded { job_id: 1, consumer: C, amount: 0 };
        let l = run(&[open(0), refund.clone(), refund]);
        assert_eq!(l.findings.len(), 1, "{:?}", l.findings);
        let l = run(&[
            open(5),
            Event::Refunded { job_id: 1, consumer: C, amount: 5 },
            Event::ToppedUp { job_id: 1, consumer: C, amount: 1, deposit: 6 },
        ]);
        assert_eq!(l.findings.len(), 1, "{:?}", l.findings);
        let Event::Released { job_id, consumer, provider, cumulative, units, amount, fee, net, .. } = release(10, 20)
        else {
            unreachable!()
        };
        // Sequence and units are informational: a second release reusing sequence 10, with fewer units,
        // is in order as long as its cumulative amount rises.
        let reused =
            Event::Released { job_id, consumer, provider, cumulative, units: 1, sequence: 10, amount, fee, net };
        let l = run(&[open(100), release(0, 10), reused]);
        assert_eq!(l.findings, vec![], "a rising cumulative with any sequence and units");
        // A cumulative that does not rise is found.
        let back = Event::Released {
            job_id,
            consumer,
            provider,
            cumulative: 10,
            units,
            sequence: 99,
            amount: 0,
            fee: 0,
            net: 0,
        };
        let l = run(&[open(100), release(0, 10), back]);
        assert_eq!(l.findings.len(), 1, "the second release does not raise the lane: {:?}", l.findings);
        assert!(l.findings[0].what.contains("not above the lane's 10"), "{:?}", l.findings);
    }
}
