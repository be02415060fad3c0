//! Re-deriving the books from the indexed events alone, in chain order, and checking every rule an
//! auditor relies on: each job's deposits = releases (net + fee) + refunds + what it still holds; each
//! release's fee is exactly the contract's fee rule on cumulative amounts; the stake ledger of every
//! provider adds up (stakes - unbonds, unbonding - withdrawals, slashes from active first); no account
//! claims more than it was owed then ([`claims`]: per account, nets, fees, refunds and slash credits
//! against its claims); settings change only as announced and not before their
//! `effective_at`; each job takes the fee and arbiter in force when it opened; no dispute slashes after
//! its `resolve_by`. Per provider (G2), with settlement's own [`Slot`] rules at each event's block time:
//! the opening allocations fit in the deposit, an allocation draws no more than the job's unallocated
//! funds (unless it came in with a top-up to that provider), a thaw lowers no more than the allocation
//! less what was paid and waits (only) for a provider that accepted, and no release goes above the
//! provider's limit. Pure: the audit feeds it events with their block times and reads its findings.

pub mod claims;

use std::collections::BTreeMap;

use escrow_client::AccountId;
use settlement::fee::split_step;
use settlement::{Balance, Event, JobId, Slot, Thaw, Timestamp};

use self::claims::{claim_above_owed, ClaimBook};

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
    /// Each named provider's slot: its allocation and pending thaw (G2), and when it accepted. Ended
    /// thaws are folded where the contract folds them (before an allocation from the unallocated funds
    /// and before a thaw), so the books match what the events report; folding changes no limit.
    pub slots: BTreeMap<AccountId, Slot>,
    /// The part of the deposit allocated to no provider (what ended thaws freed counts once folded).
    pub unallocated: Balance,
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

    /// What `provider` was paid on the job so far (its lane's settled cumulative amount).
    #[must_use]
    pub fn settled(&self, provider: &AccountId) -> Balance {
        self.lanes.get(provider).copied().unwrap_or(0)
    }

    /// The most `provider`'s cumulative amount may reach at `at` ([`Slot::limit`] of what it was paid;
    /// 0 for a provider the job does not name).
    #[must_use]
    pub fn limit(&self, provider: &AccountId, at: Timestamp) -> Balance {
        self.slots.get(provider).map_or(0, |slot| slot.limit(self.settled(provider), at))
    }

    /// Folds every thaw ended by `at` into its allocation, moving what it frees back to the unallocated
    /// funds ([`Slot::fold_thaw`]), as the contract does before allocating or thawing.
    fn fold_thaws(&mut self, at: Timestamp) {
        for (provider, slot) in &mut self.slots {
            let paid = self.lanes.get(provider).copied().unwrap_or(0);
            self.unallocated = add(self.unallocated, slot.fold_thaw(paid, at));
        }
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
    /// Each account's claimable balance: what it was credited, claimed and is owed. (A fee credited
    /// while the treasury is unknown, before the first `SettingsChanged` indexed, counts in
    /// `credited` only.)
    pub accounts: BTreeMap<AccountId, ClaimBook>,
    /// Every release, in order.
    pub releases: Vec<ReleaseRef>,
    /// Events applied.
    pub events: u64,
    /// Broken rules.
    pub findings: Vec<Finding>,
    /// Whether history before the first event is unknown (indexing began after deployment): stake
    /// and claim totals then start from unknown values, and their checks are skipped.
    pub partial: bool,
    /// The last event applied, if it was a top-up: where, its job and amount. A top-up to a provider
    /// (`top_up(to)`) is a `ToppedUp` followed at once (the next event of the block) by an `Allocated`
    /// of the same amount, which came in with the top-up, not out of the unallocated funds.
    pub top_up: Option<(Position, JobId, Balance)>,
}

fn add(a: Balance, b: Balance) -> Balance {
    a.saturating_add(b)
}

impl Ledger {
    fn find(&mut self, at: Position, job: Option<JobId>, what: String) {
        self.findings.push(Finding { at, job, what });
    }

    /// Credits `amount` to `who`'s claimable balance (`None`: an account the events do not tell).
    fn credit(&mut self, who: Option<AccountId>, amount: Balance) {
        self.credited = add(self.credited, amount);
        if let Some(who) = who {
            self.accounts.entry(who).or_default().credit(amount);
        }
    }

    /// A claim paying `account` `amount`: at most what it was owed ([`claim_above_owed`]).
    fn claimed_by(&mut self, at: Position, account: AccountId, amount: Balance) {
        self.claimed = add(self.claimed, amount);
        let book = self.accounts.entry(account).or_default();
        let wrong = claim_above_owed(&account, book, amount);
        book.claim(amount);
        if let Some(what) = wrong.filter(|_| !self.partial) {
            self.find(at, None, what);
        }
    }

    fn find_all(&mut self, at: Position, job: JobId, wrong: Vec<String>) {
        for what in wrong {
            self.find(at, Some(job), what);
        }
    }

    /// An `Allocated` on `job` of `amount` to `provider` at `time`, reporting `(allocation, unallocated)`
    /// after it; `with_top_up`: it follows the top-up that brought the amount in (`top_up(to)`).
    fn allocated(
        &mut self,
        (at, time): (Position, Timestamp),
        (job, provider, amount): (JobId, AccountId, Balance),
        reported: (Balance, Balance),
        with_top_up: bool,
    ) {
        let book = self.jobs.entry(job).or_default();
        let mut wrong = Vec::new();
        if !book.complete {
            // Its opening is not indexed: take the event's word.
            book.slots.entry(provider).or_default().allocation = reported.0;
            book.unallocated = reported.1;
        } else {
            if with_top_up {
                // The top-up added it to the unallocated funds; it goes to the provider instead, and
                // the contract folds nothing here.
                book.unallocated = book.unallocated.saturating_sub(amount);
            } else {
                book.fold_thaws(time);
                if amount > book.unallocated {
                    let free = book.unallocated;
                    wrong.push(format!("allocation of {amount} draws more than the job's {free} unallocated"));
                }
                book.unallocated = book.unallocated.saturating_sub(amount);
            }
            match book.slots.get_mut(&provider) {
                Some(slot) => {
                    let books = (add(slot.allocation, amount), book.unallocated);
                    if books != reported {
                        wrong.push(format!(
                            "allocation {} and unallocated {} after an allocation of {amount}, the books say {} and {}",
                            reported.0, reported.1, books.0, books.1
                        ));
                    }
                    // From here on the books take the event's word (one finding, not one per event).
                    slot.allocation = reported.0;
                    book.unallocated = reported.1;
                }
                None => wrong.push("allocation to a provider the job does not name".into()),
            }
        }
        self.find_all(at, job, wrong);
    }

    /// A `ThawStarted` of `provider`'s allocation at `time`.
    fn thaw_started(&mut self, at: Position, time: Timestamp, job: JobId, provider: AccountId, thaw: Thaw) {
        let book = self.jobs.entry(job).or_default();
        let mut wrong = Vec::new();
        if !book.complete {
            book.slots.entry(provider).or_default().thaw = thaw;
        } else {
            book.fold_thaws(time);
            let paid = book.settled(&provider);
            let accepted = book.accepted.contains_key(&provider);
            match book.slots.get_mut(&provider) {
                Some(slot) => {
                    if slot.thaw.amount > 0 {
                        let (pending, until) = (slot.thaw.amount, slot.thaw.ends_at);
                        wrong.push(format!("thaw started while one of {pending} is pending until {until}"));
                    }
                    if thaw.amount > slot.allocation.saturating_sub(paid) {
                        wrong.push(format!(
                            "thaw of {} is more than the allocation {} less the {paid} released",
                            thaw.amount, slot.allocation
                        ));
                    }
                    slot.thaw = thaw;
                }
                None => wrong.push("thaw of a provider the job does not name".into()),
            }
            // The thaw period is not indexed: an accepted provider's thaw must end later than it starts,
            // an unaccepted one's at once.
            if accepted && thaw.ends_at <= time {
                wrong.push(format!(
                    "thaw of an accepted provider ends at {}, not after it starts ({time})",
                    thaw.ends_at
                ));
            }
            if !accepted && thaw.ends_at != time {
                wrong.push(format!(
                    "thaw of a provider that has not accepted ends at {}, not at once ({time})",
                    thaw.ends_at
                ));
            }
        }
        self.find_all(at, job, wrong);
    }

    /// Applies the next event, emitted in a block with timestamp `time` (ms).
    pub fn apply(&mut self, at: Position, time: Timestamp, event: &Event<AccountId>) {
        self.events = self.events.saturating_add(1);
        let top_up = self.top_up.take();
        match event {
            Event::JobOpened {
                job_id,
                consumer,
                providers,
                allocations,
                deposit,
                payer_key,
                fee_bps,
                slash_bps,
                arbiter,
                ..
            } => {
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
                let allocated = allocations.iter().fold(0, |sum: Balance, a| sum.saturating_add(*a));
                if allocations.len() != providers.len() {
                    let (a, p) = (allocations.len(), providers.len());
                    self.find(at, Some(*job_id), format!("opened with {a} allocations for {p} providers"));
                }
                if allocated > *deposit {
                    self.find(
                        at,
                        Some(*job_id),
                        format!("opening allocations add up to {allocated}, more than the deposit {deposit}"),
                    );
                }
                let slots =
                    providers.iter().zip(allocations).map(|(p, a)| (*p, Slot { allocation: *a, ..Slot::default() }));
                let book = JobBook {
                    complete: true,
                    consumer: *consumer,
                    payer_key: *payer_key,
                    fee_bps: *fee_bps,
                    deposited: *deposit,
                    slots: slots.collect(),
                    unallocated: deposit.saturating_sub(allocated),
                    ..JobBook::default()
                };
                self.jobs.insert(*job_id, book);
            }
            Event::ToppedUp { job_id, amount, deposit, .. } => {
                let book = self.jobs.entry(*job_id).or_default();
                let expected = add(book.deposited, *amount);
                book.deposited = *deposit;
                // Unallocated, unless the next event allocates it to a provider (top_up(to)).
                book.unallocated = add(book.unallocated, *amount);
                self.top_up = Some((at, *job_id, *amount));
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
                self.credit(Some(*provider), *net);
                self.credit(self.settings.map(|(treasury, ..)| treasury), *fee);
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
                // G2: each provider draws only on its own allocation, as it stands at the block time.
                let limit = book.slots.get(provider).map_or(0, |slot| slot.limit(prev, time));
                if *cumulative > limit {
                    wrong.push(format!(
                        "released above the provider's allocation: cumulative {cumulative}, its limit at {time} was {limit}"
                    ));
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
            Event::Refunded { job_id, consumer, amount } => {
                self.credit(Some(*consumer), *amount);
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
            Event::DisputeResolved { job_id, consumer, provider, slashed } => {
                self.credit(Some(*consumer), *slashed);
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
            Event::Claimed { account, amount } => self.claimed_by(at, *account, *amount),
            Event::JobAccepted { job_id, provider, funds, max_slash, .. } => {
                let book = self.jobs.entry(*job_id).or_default();
                let twice = book.accepted.insert(*provider, *max_slash).is_some();
                let complete = book.complete;
                // What it accepts: its limit then (nothing can have been paid to it before).
                let limit = book.slots.get_mut(provider).map(|slot| {
                    (slot.accepted_at, slot.max_slash) = (time, *max_slash);
                    slot.limit(0, time)
                });
                if twice {
                    self.find(at, Some(*job_id), "a provider accepted the job twice".into());
                }
                match limit {
                    _ if !complete => {}
                    None => self.find(at, Some(*job_id), "a provider the job does not name accepted it".into()),
                    Some(limit) if limit != *funds => self.find(
                        at,
                        Some(*job_id),
                        format!("accepted with funds {funds}, but its allocation then was {limit}"),
                    ),
                    Some(_) => {}
                }
            }
            Event::Allocated { job_id, provider, amount, allocation, unallocated, .. } => {
                let with_top_up = top_up.is_some_and(|(p, job, topped)| {
                    p.block == at.block
                        && p.event.checked_add(1) == Some(at.event)
                        && job == *job_id
                        && topped == *amount
                });
                self.allocated((at, time), (*job_id, *provider, *amount), (*allocation, *unallocated), with_top_up);
            }
            Event::ThawStarted { job_id, provider, amount, ends_at, .. } => {
                self.thaw_started(at, time, *job_id, *provider, Thaw { amount: *amount, ends_at: *ends_at });
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
#[allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::unwrap_used)]
mod tests {
    use super::*;

    const C: AccountId = [1; 32];
    const P: AccountId = [2; 32];

    fn at(block: u64) -> Position {
        Position { block, event: 0 }
    }

    /// Job 1 with `deposit`, all of it allocated to P.
    fn open(deposit: Balance) -> Event<AccountId> {
        open_with(deposit, &[(P, deposit)])
    }

    /// Job 1 with `deposit` and these providers and allocations.
    fn open_with(deposit: Balance, slots: &[(AccountId, Balance)]) -> Event<AccountId> {
        Event::JobOpened {
            job_id: 1,
            consumer: C,
            providers: slots.iter().map(|(p, _)| *p).collect(),
            allocations: slots.iter().map(|(_, a)| *a).collect(),
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
        release_to(P, prev, cumulative)
    }

    fn release_to(provider: AccountId, prev: Balance, cumulative: Balance) -> Event<AccountId> {
        let s = split_step(prev, cumulative, 500);
        Event::Released {
            job_id: 1,
            consumer: C,
            provider,
            cumulative,
            units: cumulative,
            sequence: cumulative as u64,
            amount: cumulative - prev,
            fee: s.fee,
            net: s.net,
        }
    }

    /// P accepting job 1 (allocated 1 000) with a slash bound of 500.
    fn accepted() -> Event<AccountId> {
        accept(P, 1_000)
    }

    /// `provider` accepting job 1 with `funds` allocated and a slash bound of 500.
    fn accept(provider: AccountId, funds: Balance) -> Event<AccountId> {
        Event::JobAccepted { job_id: 1, provider, funds, max_slash: 500, locked_until: 20 }
    }

    /// Applies `events`, with P accepting each job right after it opens (unless `consent` is false).
    fn run_with(events: &[Event<AccountId>], consent: bool) -> Ledger {
        let mut l = Ledger::default();
        for (i, e) in events.iter().enumerate() {
            l.apply(at(i as u64), 1_000 + i as u64, e);
            if let (true, Event::JobOpened { providers, allocations, .. }) = (consent, e) {
                let funds = providers.iter().position(|p| *p == P).map_or(0, |i| allocations[i]);
                l.apply(at(i as u64), 1_000 + i as u64, &accept(P, funds));
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
            allocated(P, 500, 1_500, 0),
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

    const Q: AccountId = [3; 32];

    fn allocated(provider: AccountId, amount: Balance, allocation: Balance, unallocated: Balance) -> Event<AccountId> {
        Event::Allocated { job_id: 1, consumer: C, provider, amount, allocation, unallocated }
    }

    fn thaw(provider: AccountId, amount: Balance, ends_at: Timestamp) -> Event<AccountId> {
        Event::ThawStarted { job_id: 1, consumer: C, provider, amount, ends_at }
    }

    /// Applies `events`, one block apart, each at its block time.
    fn timed(events: &[(Timestamp, Event<AccountId>)]) -> Ledger {
        let mut l = Ledger::default();
        for (i, (time, e)) in events.iter().enumerate() {
            l.apply(at(i as u64), *time, e);
        }
        l
    }

    fn whats(l: &Ledger) -> Vec<&str> {
        l.findings.iter().map(|f| f.what.as_str()).collect()
    }

    #[test]
    fn opening_allocations_above_the_deposit_are_found() {
        let l = run(&[open_with(1_000, &[(P, 600), (Q, 300)])]);
        assert_eq!(l.findings, vec![]);
        let book = &l.jobs[&1];
        assert_eq!((book.slots[&P].allocation, book.slots[&Q].allocation, book.unallocated), (600, 300, 100));
        assert_eq!(run(&[open_with(1_000, &[(P, 600), (Q, 400)])]).findings, vec![], "all of it allocated");
        let over = run(&[open_with(1_000, &[(P, 600), (Q, 401)])]);
        assert_eq!(whats(&over), ["opening allocations add up to 1001, more than the deposit 1000"]);
    }

    /// P (600, accepted) starts a thaw of 200 at 1 002 ending at 1 010 and is paid 500 meanwhile; Q
    /// (nothing) gets the 400 unallocated at once, then `last` happens.
    fn thaw_then(last: (Timestamp, Event<AccountId>)) -> Ledger {
        timed(&[
            (1_000, open_with(1_000, &[(P, 600), (Q, 0)])),
            (1_000, accept(P, 600)),
            (1_001, allocated(Q, 400, 400, 0)),
            (1_002, thaw(P, 200, 1_010)),
            (1_003, release_to(P, 0, 500)),
            last,
        ])
    }

    #[test]
    fn an_allocation_draws_only_on_the_unallocated_funds_with_ended_thaws_folded_in() {
        // At its end the thaw frees 600 - max(400, 500 paid) = 100, and only then.
        let l = thaw_then((1_010, allocated(Q, 100, 500, 0)));
        assert_eq!(l.findings, vec![]);
        let book = &l.jobs[&1];
        assert_eq!((book.slots[&P].allocation, book.slots[&P].thaw, book.unallocated), (500, Thaw::default(), 0));
        let l = thaw_then((1_010, allocated(Q, 101, 501, 0)));
        assert_eq!(whats(&l), ["allocation of 101 draws more than the job's 100 unallocated"]);
        let l = thaw_then((1_009, allocated(Q, 100, 500, 0)));
        assert_eq!(whats(&l), ["allocation of 100 draws more than the job's 0 unallocated"], "not before it ends");
        // The totals the event reports are checked too.
        let l = thaw_then((1_010, allocated(Q, 100, 500, 1)));
        assert_eq!(whats(&l), ["allocation 500 and unallocated 1 after an allocation of 100, the books say 500 and 0"]);
    }

    #[test]
    fn a_top_up_to_a_provider_brings_its_own_allocation() {
        let top_up = Event::ToppedUp { job_id: 1, consumer: C, amount: 300, deposit: 1_300 };
        let pos = |block, event| Position { block, event };
        let run_at = |events: &[(Position, Event<AccountId>)]| {
            let mut l = Ledger::default();
            l.apply(pos(1, 0), 1_000, &open(1_000));
            l.apply(pos(1, 1), 1_000, &accepted());
            for (p, e) in events {
                l.apply(*p, 1_000 + p.block, e);
            }
            l
        };
        // top_up(to = P): the Allocated right after the ToppedUp; nothing was unallocated, nothing is.
        let l = run_at(&[
            (pos(2, 4), top_up.clone()),
            (pos(2, 5), allocated(P, 300, 1_300, 0)),
            (pos(3, 0), release(0, 1_300)),
        ]);
        assert_eq!(l.findings, vec![]);
        assert_eq!((l.jobs[&1].slots[&P].allocation, l.jobs[&1].unallocated), (1_300, 0));
        // top_up(None), then (another extrinsic) an allocation of it: as good.
        let l = run_at(&[(pos(2, 4), top_up.clone()), (pos(2, 9), allocated(P, 300, 1_300, 0))]);
        assert_eq!(l.findings, vec![]);
        // The top-up's amount is allocated once, not twice.
        let l = run_at(&[
            (pos(2, 4), top_up.clone()),
            (pos(2, 5), allocated(P, 300, 1_300, 0)),
            (pos(3, 0), allocated(P, 300, 1_600, 0)),
        ]);
        assert_eq!(whats(&l), ["allocation of 300 draws more than the job's 0 unallocated"]);
        // Right after a top-up, but more than it brought.
        let l = run_at(&[(pos(2, 4), top_up), (pos(2, 5), allocated(P, 400, 1_400, 0))]);
        assert_eq!(whats(&l), ["allocation of 400 draws more than the job's 300 unallocated"]);
    }

    #[test]
    fn a_thaw_above_the_allocation_less_what_was_paid_is_found() {
        let paid = |last| timed(&[(1_000, open(1_000)), (1_000, accepted()), (1_001, release(0, 600)), (1_002, last)]);
        assert_eq!(paid(thaw(P, 400, 1_100)).findings, vec![]);
        let l = paid(thaw(P, 401, 1_100));
        assert_eq!(whats(&l), ["thaw of 401 is more than the allocation 1000 less the 600 released"]);
        // One thaw at a time.
        let l =
            timed(&[(1_000, open(1_000)), (1_000, accepted()), (1_001, thaw(P, 1, 1_100)), (1_002, thaw(P, 1, 1_100))]);
        assert_eq!(whats(&l), ["thaw started while one of 1 is pending until 1100"]);
    }

    #[test]
    fn a_release_above_the_providers_limit_at_its_block_time_is_found() {
        let thawed = |rest: &[(Timestamp, Event<AccountId>)]| {
            let mut events = vec![(1_000, open(1_000)), (1_000, accepted()), (1_001, thaw(P, 400, 1_100))];
            events.extend_from_slice(rest);
            timed(&events)
        };
        // The whole allocation until the thaw ends, the lowered one from then on.
        assert_eq!(thawed(&[(1_099, release(0, 1_000))]).findings, vec![]);
        assert_eq!(thawed(&[(1_100, release(0, 600))]).findings, vec![]);
        let l = thawed(&[(1_100, release(0, 601))]);
        assert_eq!(whats(&l), ["released above the provider's allocation: cumulative 601, its limit at 1100 was 600"]);
        // Paid 700 during the thaw: the limit stays there, and nothing more is payable.
        assert_eq!(thawed(&[(1_050, release(0, 700))]).jobs[&1].limit(&P, 1_100), 700);
        let l = thawed(&[(1_050, release(0, 700)), (1_100, release(700, 701))]);
        assert_eq!(whats(&l), ["released above the provider's allocation: cumulative 701, its limit at 1100 was 700"]);
        // A provider draws on its own allocation only, whatever the job holds.
        let l = timed(&[
            (1_000, open_with(1_000, &[(P, 1_000), (Q, 0)])),
            (1_000, accept(Q, 0)),
            (1_001, release_to(Q, 0, 1)),
        ]);
        assert_eq!(whats(&l), ["released above the provider's allocation: cumulative 1, its limit at 1001 was 0"]);
    }

    #[test]
    fn a_thaw_waits_for_a_provider_that_accepted_and_only_for_it() {
        let two = |rest: &[(Timestamp, Event<AccountId>)]| {
            let mut events = vec![(1_000, open_with(1_000, &[(P, 500), (Q, 500)])), (1_000, accept(P, 500))];
            events.extend_from_slice(rest);
            timed(&events)
        };
        // P accepted: its thaw ends a thaw period later; Q did not: at once, so Q accepts what is left.
        let l = two(&[(1_001, thaw(P, 100, 1_501)), (1_001, thaw(Q, 100, 1_001)), (1_002, accept(Q, 400))]);
        assert_eq!(l.findings, vec![]);
        let l = two(&[(1_001, thaw(P, 100, 1_001)), (1_001, thaw(Q, 100, 1_501))]);
        assert_eq!(
            whats(&l),
            [
                "thaw of an accepted provider ends at 1001, not after it starts (1001)",
                "thaw of a provider that has not accepted ends at 1501, not at once (1001)"
            ]
        );
        // What a provider accepts is its limit then.
        let l = two(&[(1_001, thaw(Q, 100, 1_001)), (1_002, accept(Q, 500))]);
        assert_eq!(whats(&l), ["accepted with funds 500, but its allocation then was 400"]);
    }

    /// The escrow's own rules (settlement's `Market` over a `MemoryStore`) allocating, topping up to a
    /// provider, thawing an accepted and an unaccepted provider, releasing around a thaw's end, folding
    /// and refunding: their events, each call in its own block, leave the books without a finding.
    #[test]
    fn the_rules_own_history_of_allocations_and_thaws_is_clean() {
        use settlement::memory::MemoryStore;
        use settlement::{Config, Domain, Market, OpenJob, Receipt, Settings, Timing};

        let timing = Timing {
            unbond_delay: 11,
            dispute_window: 10,
            settle_grace: 100,
            max_job_duration: 10_000,
            thaw_period: 100,
            admin_delay: 22,
            arbitration_period: 1,
        };
        let domain = Domain { genesis_hash: [7; 32], contract: [6; 32] };
        let settings = Settings { treasury: [5; 32], arbiter: [8; 32], fee_bps: 500, min_stake: 0, slash_bps: 5_000 };
        let mut store = MemoryStore::new(Config::new([4; 32], settings, timing, domain).unwrap());
        let key = testkit::payer(1);
        let mut ledger = Ledger::default();
        let mut block = 0;
        let mut call = |store: &mut MemoryStore, now: Timestamp, op: &dyn Fn(&mut Market<'_, MemoryStore>)| {
            let seen = store.events.len();
            op(&mut Market::new(store, now));
            assert!(store.events.len() > seen, "call {block} at {now} was refused");
            block += 1;
            for (i, e) in store.events[seen..].iter().enumerate() {
                ledger.apply(Position { block, event: 2 + i as u32 }, now, e);
            }
        };
        let receipt = |provider, amount| {
            let r = Receipt { domain, job_id: 1, provider, amount, units: 1, sequence: 1, expires_at: 100_000 };
            let signature = r.sign(&key);
            (r, signature)
        };
        let release = |m: &mut Market<'_, MemoryStore>, provider, amount| {
            let (r, signature) = receipt(provider, amount);
            m.release(&r, &signature).unwrap();
        };
        let req = OpenJob {
            providers: vec![(P, 600), (Q, 0)],
            payer_key: key.verifying_key().to_bytes(),
            terms_hash: [0; 32],
            expires_at: 5_000,
        };
        call(&mut store, 1_000, &|m| assert_eq!(m.open_job(C, 1_000, req.clone()), Ok(1)));
        call(&mut store, 1_001, &|m| {
            m.accept_job(P, 1, 600, u128::MAX).unwrap();
        });
        call(&mut store, 1_002, &|m| release(m, P, 300));
        call(&mut store, 1_003, &|m| m.top_up(C, 1, 200, Some(P)).unwrap());
        call(&mut store, 1_004, &|m| m.top_up(C, 1, 100, None).unwrap());
        call(&mut store, 1_005, &|m| {
            m.allocate(C, 1, Q, 500).unwrap();
        });
        call(&mut store, 1_006, &|m| assert_eq!(m.thaw(C, 1, Q, 200), Ok(1_006)));
        call(&mut store, 1_007, &|m| assert_eq!(m.thaw(C, 1, P, 300), Ok(1_107)));
        call(&mut store, 1_106, &|m| release(m, P, 800));
        // Both thaws have ended: Q's 200 went back to the unallocated funds (folded by P's thaw), P's frees
        // nothing (it was paid 800).
        call(&mut store, 1_107, &|m| {
            m.allocate(C, 1, Q, 200).unwrap();
        });
        call(&mut store, 1_108, &|m| {
            m.accept_job(Q, 1, 500, u128::MAX).unwrap();
        });
        call(&mut store, 1_109, &|m| release(m, Q, 500));
        call(&mut store, 1_110, &|m| {
            m.complete(C, 1).unwrap();
        });
        call(&mut store, 1_210, &|m| {
            m.refund(1).unwrap();
        });
        assert_eq!(ledger.findings, vec![]);
        let book = &ledger.jobs[&1];
        let job = &store.jobs[&1];
        for (provider, slot) in job.providers.iter().zip(&job.slots) {
            // The books keep the lane apart (`lanes`); the rest of the slot is the contract's.
            let without_lane = settlement::Slot { lane: settlement::Lane::default(), ..*slot };
            assert_eq!(book.slots[provider], without_lane, "the books' slot is the contract's");
            assert_eq!(book.lanes.get(provider).copied().unwrap_or(0), slot.lane.amount);
        }
        assert_eq!((book.unallocated, book.held()), (job.unallocated, 0));
    }
}
