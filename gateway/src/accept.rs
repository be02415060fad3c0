//! The acceptance decision, pure: given a job as the chain has it, what the store already holds for it
//! (the receipts accepted before, by digest, and the highest accepted receipt of each provider), the
//! candidate receipts in the order received and [`When`] (now, and the deadline a release must land
//! by), decide each candidate's fate (new, a duplicate, or refused) and where the job's lanes move. No
//! I/O: the store takes the job's lock, reads that state, calls [`decide`] and writes what it returns,
//! in one transaction.
//!
//! It mirrors the contract exactly: receipts are ordered by cumulative amount only, so a receipt with a
//! higher amount than the lane's is accepted whatever its sequence and units (informational, as on
//! chain), and one at or below it is refused as `cumulative_not_increasing`. The contract's time checks
//! are judged at the deadline, so nothing is accepted that the chain would refuse by the time its release
//! lands; what the chain would still take now but not then gets the gateway's own code
//! ([`Refusal::JobEndsTooSoon`], [`Refusal::ExpiresTooSoon`], [`Refusal::AllocationThawing`]), at the
//! place of the contract's check. Each provider draws only on its own allocation (as on chain), lowered by
//! a thaw from the thaw's end, as the chain recorded it, on.

use std::collections::{BTreeMap, HashMap};

use escrow_client::AccountId;
use settlement::{Job, Lane, Receipt, Timestamp};
use sha2::{Digest, Sha256};

use crate::jobs::JobView;

/// A well-formed receipt for the job, with the verdict of its signature check.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The receipt.
    pub receipt: Receipt<AccountId>,
    /// The payer's signature.
    pub signature: [u8; 64],
    /// Whether `verify_strict` accepted the signature against the job's payer key.
    pub signature_ok: bool,
}

/// The highest (and newest) accepted receipt of one provider on one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedLane {
    /// The provider.
    pub provider: AccountId,
    /// The receipt's id.
    pub receipt_id: i64,
    /// Its cumulative amount, units and sequence.
    pub lane: Lane,
}

/// The outcome of storing a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The stored receipt's id.
    pub id: i64,
    /// Whether it had been accepted before (nothing new was written).
    pub duplicate: bool,
}

/// Why a receipt is refused: a settlement rule the contract would enforce now, or one of the gateway's own
/// deadline rules, for what the contract would still take now but not by the time a release lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The contract would refuse it now (at the real `now`), for this rule.
    Rule(settlement::Error),
    /// The job has not ended now but ends by the deadline (`job_ends_too_soon`).
    JobEndsTooSoon,
    /// The receipt has not expired now but expires by the deadline (`expires_too_soon`).
    ExpiresTooSoon,
    /// The receipt is within its provider's allocation now, but a thaw lowers the allocation below it by
    /// the deadline (`allocation_thawing`).
    AllocationThawing,
}

impl From<settlement::Error> for Refusal {
    fn from(e: settlement::Error) -> Self {
        Self::Rule(e)
    }
}

/// When a decision is made: the real `now` and the deadline, the latest moment a release of what is
/// accepted may land (`now` plus the acceptance margin; never before `now`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    now: Timestamp,
    deadline: Timestamp,
}

impl When {
    /// At `now`, with releases landing within `margin_ms`.
    #[must_use]
    pub const fn new(now: Timestamp, margin_ms: u64) -> Self {
        Self { now, deadline: now.saturating_add(margin_ms) }
    }

    /// The real time.
    #[must_use]
    pub const fn now(&self) -> Timestamp {
        self.now
    }

    /// The latest moment a release may land.
    #[must_use]
    pub const fn deadline(&self) -> Timestamp {
        self.deadline
    }
}

/// What became of one receipt offered to [`crate::store::Store::accept`].
pub type Outcome = core::result::Result<Accepted, Refusal>;

/// sha256 over the signing bytes and the signature: how a receipt accepted before is recognised.
#[must_use]
pub fn digest(receipt: &Receipt<AccountId>, signature: &[u8; 64]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(receipt.signing_bytes());
    h.update(signature);
    h.finalize().into()
}

/// One candidate's fate, decided before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Accepted before, with this id: a duplicate, not checked nor written again.
    Known(i64),
    /// Accepted now: to be written.
    New,
    /// The same receipt as the earlier candidate at this index, which is accepted now: a duplicate.
    SameAs(usize),
    /// Refused, for this reason.
    Refused(Refusal),
}

/// Where one provider's lane moves: to its last candidate accepted now (the highest amount).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// The candidate's index.
    pub candidate: usize,
    /// The lane it sets (its cumulative amount, units and sequence).
    pub lane: Lane,
}

/// The decision on a job's candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// One per candidate, in order.
    pub decisions: Vec<Decision>,
    /// The job's lanes the accepted candidates move, by provider (the others stay as they were).
    pub moved: BTreeMap<AccountId, Moved>,
}

/// The settlement rules (but the signature) at `when`, in the contract's order: run at the deadline, so
/// the first check that fails by then decides. A time check that fails at the deadline but not at the
/// real `now` is the gateway's too-soon refusal, at the place of the contract's check; every other
/// failure is the contract's own (the time checks only fail more as time passes, so a check failing now
/// fails at the deadline too, and the other checks do not depend on time).
fn check_rules(job: &Job<AccountId>, lane: &Lane, receipt: &Receipt<AccountId>, when: When) -> Result<(), Refusal> {
    use settlement::checks::{job_open, not_expired, within_allocation};
    use settlement::Error as E;
    match settlement::checks::check_rules(job, lane, receipt, when.deadline) {
        Ok(_) => Ok(()),
        Err(E::JobEnded) if job_open(job, when.now).is_ok() => Err(Refusal::JobEndsTooSoon),
        Err(E::ReceiptExpired) if not_expired(receipt, when.now).is_ok() => Err(Refusal::ExpiresTooSoon),
        Err(E::ExceedsAllocation) if within_allocation(job, lane, receipt, when.now).is_ok() => {
            Err(Refusal::AllocationThawing)
        }
        Err(e) => Err(Refusal::Rule(e)),
    }
}

/// Decides `candidates` (receipts of `view`'s job in the order received, with their [`digest`]s) in
/// turn. One whose digest is in `known` (accepted before) or equal to an earlier candidate's accepted
/// now is a duplicate. Any other runs the settlement rules at `when` ([`check_rules`]: the contract's
/// at the deadline, too-soon refusals told apart), then its signature verdict, against the job and the
/// lanes as accepted so far: `lanes` as stored, each moved by the candidates before it, each the later
/// of that and the chain's, the job's released total their sum.
#[must_use]
pub fn decide(
    view: &JobView,
    known: &HashMap<[u8; 32], i64>,
    lanes: &[AcceptedLane],
    candidates: &[Candidate],
    digests: &[[u8; 32]],
    when: When,
) -> Decided {
    let mut lanes = lanes.to_vec();
    let mut fresh: HashMap<[u8; 32], usize> = HashMap::new();
    let mut moved = BTreeMap::new();
    let mut decisions = Vec::with_capacity(candidates.len());
    for (index, (c, d)) in candidates.iter().zip(digests).enumerate() {
        if let Some(id) = known.get(d) {
            decisions.push(Decision::Known(*id));
        } else if let Some(first) = fresh.get(d) {
            decisions.push(Decision::SameAs(*first));
        } else {
            let (job, lane) = view.with_accepted(&lanes, &c.receipt.provider);
            let signature = if c.signature_ok { Ok(()) } else { Err(Refusal::Rule(settlement::Error::BadSignature)) };
            match check_rules(&job, &lane, &c.receipt, when).and(signature) {
                Err(e) => decisions.push(Decision::Refused(e)),
                Ok(()) => {
                    let r = &c.receipt;
                    let lane = Lane { amount: r.amount, units: r.units, sequence: r.sequence, fee: 0 };
                    match lanes.iter_mut().find(|l| l.provider == r.provider) {
                        Some(l) => l.lane = lane,
                        None => lanes.push(AcceptedLane { provider: r.provider, receipt_id: 0, lane }),
                    }
                    fresh.insert(*d, index);
                    moved.insert(r.provider, Moved { candidate: index, lane });
                    decisions.push(Decision::New);
                }
            }
        }
    }
    Decided { decisions, moved }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use settlement::{Domain, Job, JobStatus};

    const P1: AccountId = [2; 32];
    const P2: AccountId = [3; 32];
    const NOW: Timestamp = 1_000;
    /// The acceptance margin: releases land by `NOW + MARGIN`.
    const MARGIN: u64 = 100;

    fn view() -> JobView {
        JobView {
            job: Job {
                consumer: [1; 32],
                providers: vec![P1, P2],
                slots: vec![settlement::Slot { accepted_at: 1, allocation: 100, ..Default::default() }; 2],
                payer_key: [0; 32],
                arbiter: [0xab; 32],
                terms_hash: [0; 32],
                fee_bps: 500,
                slash_bps: 10_000,
                deposit: 200,
                unallocated: 0,
                released: 0,
                opened_at: 0,
                expires_at: 10_000,
                ends_at: 10_000,
                status: JobStatus::Open,
            },
        }
    }

    fn lane(amount: u128, units: u128, sequence: u64) -> Lane {
        Lane { amount, units, sequence, fee: 0 }
    }

    fn stored(provider: AccountId, amount: u128, units: u128, sequence: u64) -> AcceptedLane {
        AcceptedLane { provider, receipt_id: 1, lane: lane(amount, units, sequence) }
    }

    /// A receipt of `provider` for `amount` at `sequence` (units: amount / 10), expiring at 5 000.
    fn candidate(provider: AccountId, amount: u128, sequence: u64) -> Candidate {
        let receipt = Receipt {
            domain: Domain { genesis_hash: [7; 32], contract: [8; 32] },
            job_id: 1,
            provider,
            amount,
            units: amount / 10,
            sequence,
            expires_at: 5_000,
        };
        Candidate { receipt, signature: [0; 64], signature_ok: true }
    }

    fn run(view: &JobView, known: &HashMap<[u8; 32], i64>, lanes: &[AcceptedLane], cs: &[Candidate]) -> Decided {
        let digests: Vec<[u8; 32]> = cs.iter().map(|c| digest(&c.receipt, &c.signature)).collect();
        decide(view, known, lanes, cs, &digests, When::new(NOW, MARGIN))
    }

    /// The codes of `cs` decided alone (each against the empty store) on `view`.
    fn alone(view: &JobView, cs: &[Candidate]) -> Vec<&'static str> {
        cs.iter().map(|c| codes(&run(view, &nothing(), &[], std::slice::from_ref(c)))[0]).collect()
    }

    fn expiring_at(expires_at: Timestamp) -> Candidate {
        let mut c = candidate(P1, 10, 1);
        c.receipt.expires_at = expires_at;
        c
    }

    fn ending_at(ends_at: Timestamp) -> JobView {
        let mut v = view();
        v.job.ends_at = ends_at;
        v
    }

    /// Each decision as the client sees it: "new", "known", "same" or the refusal's code.
    fn codes(decided: &Decided) -> Vec<&'static str> {
        let code = |d: &Decision| match d {
            Decision::New => "new",
            Decision::Known(_) => "known",
            Decision::SameAs(_) => "same",
            Decision::Refused(e) => crate::error::refusal_code(*e),
        };
        decided.decisions.iter().map(code).collect()
    }

    fn nothing() -> HashMap<[u8; 32], i64> {
        HashMap::new()
    }

    #[test]
    fn a_new_receipt_is_accepted_and_moves_its_lane() {
        let d = run(&view(), &nothing(), &[], &[candidate(P1, 10, 1)]);
        assert_eq!(d.decisions, vec![Decision::New]);
        assert_eq!(d.moved, BTreeMap::from([(P1, Moved { candidate: 0, lane: lane(10, 1, 1) })]));
    }

    #[test]
    fn a_receipt_accepted_before_is_a_duplicate_and_not_checked_again() {
        let c = candidate(P1, 10, 1);
        let known = HashMap::from([(digest(&c.receipt, &c.signature), 7)]);
        // The stored lane is that receipt: checked again, its amount would not increase; and the job ended.
        let mut ended = view();
        ended.job.ends_at = NOW;
        let d = run(&ended, &known, &[stored(P1, 10, 1, 1)], &[c]);
        assert_eq!(d.decisions, vec![Decision::Known(7)]);
        assert!(d.moved.is_empty());
    }

    #[test]
    fn the_same_receipt_twice_in_one_call_is_accepted_once() {
        let c = candidate(P1, 10, 1);
        let d = run(&view(), &nothing(), &[], &[c.clone(), candidate(P1, 20, 2), c]);
        assert_eq!(d.decisions, vec![Decision::New, Decision::New, Decision::SameAs(0)]);
        assert_eq!(d.moved[&P1].candidate, 1);
    }

    #[test]
    fn a_refused_receipt_sent_again_is_checked_again() {
        let over = candidate(P1, 101, 1);
        let d = run(&view(), &nothing(), &[], &[over.clone(), over]);
        assert_eq!(codes(&d), ["exceeds_allocation", "exceeds_allocation"]);
        assert!(d.moved.is_empty());
    }

    #[test]
    fn later_receipts_supersede_by_amount_and_each_sees_those_before_it() {
        let cs = [candidate(P1, 10, 1), candidate(P1, 30, 2), candidate(P1, 20, 3), candidate(P1, 40, 2)];
        let d = run(&view(), &nothing(), &[], &cs);
        assert_eq!(codes(&d), ["new", "new", "cumulative_not_increasing", "new"]);
        assert_eq!(d.moved, BTreeMap::from([(P1, Moved { candidate: 3, lane: lane(40, 4, 2) })]));
    }

    #[test]
    fn the_stored_lane_bounds_the_cumulative_amount_only() {
        let lanes = [stored(P1, 50, 5, 5)];
        let mut fewer_units = candidate(P1, 60, 4);
        fewer_units.receipt.units = 4;
        let cs = [candidate(P1, 50, 6), candidate(P1, 49, u64::MAX), fewer_units, candidate(P1, 70, 0)];
        let d = run(&view(), &nothing(), &lanes, &cs);
        assert_eq!(codes(&d), ["cumulative_not_increasing", "cumulative_not_increasing", "new", "new"]);
        assert_eq!(d.moved[&P1], Moved { candidate: 3, lane: lane(70, 7, 0) });
    }

    #[test]
    fn a_higher_amount_with_a_lower_sequence_is_accepted() {
        // Attack 1: the consumer released a 1-planck receipt with the top sequence and units on chain.
        let mut v = view();
        v.job.slots[0].lane = lane(1, u128::MAX, u64::MAX);
        v.job.released = 1;
        let d = run(&v, &nothing(), &[], &[candidate(P1, 60, 10)]);
        assert_eq!(codes(&d), ["new"]);
        assert_eq!(d.moved[&P1], Moved { candidate: 0, lane: lane(60, 6, 10) });
        // The same against a stored lane the gateway accepted with a higher sequence.
        let d = run(&view(), &nothing(), &[stored(P1, 50, 5, 5)], &[candidate(P1, 60, 1)]);
        assert_eq!(codes(&d), ["new"]);
    }

    #[test]
    fn the_chain_counts_where_it_is_ahead_of_the_store() {
        let mut v = view();
        v.job.slots[0].lane = lane(30, 3, 3);
        v.job.released = 30;
        let cs = [candidate(P1, 20, 2), candidate(P1, 30, 9), candidate(P1, 35, 1)];
        let d = run(&v, &nothing(), &[stored(P1, 10, 1, 1)], &cs);
        assert_eq!(codes(&d), ["cumulative_not_increasing", "cumulative_not_increasing", "new"]);
    }

    #[test]
    fn each_provider_draws_only_on_its_own_allocation() {
        // Attack 2: 100 accepted for P2, its whole allocation; P1 may still take all of its own 100.
        let lanes = [stored(P2, 100, 6, 1)];
        let d = run(&view(), &nothing(), &lanes, &[candidate(P1, 101, 1), candidate(P1, 100, 2)]);
        assert_eq!(codes(&d), ["exceeds_allocation", "new"]);
        // Within one call too, each lane against its own allocation.
        let d = run(&view(), &nothing(), &[], &[candidate(P1, 60, 1), candidate(P2, 101, 1), candidate(P2, 100, 2)]);
        assert_eq!(codes(&d), ["new", "exceeds_allocation", "new"]);
        assert_eq!(d.moved.keys().copied().collect::<Vec<_>>(), vec![P1, P2]);
        assert_eq!(d.moved[&P2].candidate, 2);
        // A provider with no allocation is paid nothing, however much the job holds.
        let mut v = view();
        v.job.slots[1].allocation = 0;
        v.job.unallocated = 100;
        assert_eq!(alone(&v, &[candidate(P2, 1, 1)]), ["exceeds_allocation"]);
    }

    #[test]
    fn the_allocation_bounds_the_cumulative_amount_not_the_step() {
        // On chain 50 released for P1: its allocation of 100 bounds the cumulative amount.
        let mut v = view();
        v.job.slots[0].lane = lane(50, 5, 1);
        v.job.released = 50;
        let d = run(&v, &nothing(), &[], &[candidate(P1, 101, 2), candidate(P1, 100, 2)]);
        assert_eq!(codes(&d), ["exceeds_allocation", "new"]);
    }

    #[test]
    fn a_thaw_ending_by_the_deadline_lowers_the_allocation_now() {
        // A thaw of 40 of P1's 100: from its end on, P1 may reach 60 only.
        let thawing = |ends_at| {
            let mut v = view();
            v.job.slots[0].thaw = settlement::Thaw { amount: 40, ends_at };
            v
        };
        let cs = [candidate(P1, 61, 1), candidate(P1, 60, 2)];
        assert_eq!(alone(&thawing(NOW + MARGIN + 1), &cs[..1]), ["new"], "ends after the deadline");
        assert_eq!(codes(&run(&thawing(NOW + MARGIN), &nothing(), &[], &cs)), ["allocation_thawing", "new"]);
        assert_eq!(codes(&run(&thawing(NOW + 1), &nothing(), &[], &cs)), ["allocation_thawing", "new"]);
        assert_eq!(codes(&run(&thawing(NOW), &nothing(), &[], &cs)), ["exceeds_allocation", "new"], "ended");
        // Paid 80 before the thaw ended: the allocation stays at what was paid, and nothing more is taken.
        let mut paid = thawing(NOW);
        paid.job.slots[0].lane = lane(80, 8, 1);
        assert_eq!(alone(&paid, &[candidate(P1, 81, 2)]), ["exceeds_allocation"]);
    }

    #[test]
    fn a_receipt_is_expired_at_now_and_too_soon_up_to_the_deadline() {
        let cs = [NOW - 1, NOW, NOW + 1, NOW + MARGIN, NOW + MARGIN + 1].map(expiring_at);
        assert_eq!(
            alone(&view(), &cs),
            ["receipt_expired", "receipt_expired", "expires_too_soon", "expires_too_soon", "new"]
        );
        // No margin: the deadline is now, and nothing is too soon.
        let digests = [digest(&cs[2].receipt, &cs[2].signature)];
        let d = decide(&view(), &nothing(), &[], &cs[2..3], &digests, When::new(NOW, 0));
        assert_eq!(codes(&d), ["new"]);
    }

    #[test]
    fn a_job_has_ended_at_now_and_ends_too_soon_up_to_the_deadline() {
        let ends = [NOW - 1, NOW, NOW + 1, NOW + MARGIN, NOW + MARGIN + 1];
        let got: Vec<&str> = ends.iter().map(|t| alone(&ending_at(*t), &[candidate(P1, 10, 1)])[0]).collect();
        assert_eq!(got, ["job_ended", "job_ended", "job_ends_too_soon", "job_ends_too_soon", "new"]);
        // A completed job is judged the same way, by its (shortened) end.
        for (ends_at, code) in [(NOW, "job_ended"), (NOW + MARGIN, "job_ends_too_soon"), (NOW + MARGIN + 1, "new")] {
            let mut completed = ending_at(ends_at);
            completed.job.status = JobStatus::Completed;
            assert_eq!(alone(&completed, &[candidate(P1, 10, 1)]), [code], "completed, ends at {ends_at}");
        }
        let mut finalized = ending_at(NOW + MARGIN);
        finalized.job.status = JobStatus::Finalized;
        assert_eq!(alone(&finalized, &[candidate(P1, 10, 1)]), ["job_finalized"]);
    }

    #[test]
    fn a_too_soon_refusal_counts_at_the_place_of_its_contract_check() {
        // The contract's order: job finalized or ended, provider, expiry, cumulative amount, escrow; then
        // the signature. The first check failing by the deadline decides.
        let soon = ending_at(NOW + MARGIN);
        let stranger = candidate([9; 32], 10, 1);
        let mut expired = expiring_at(NOW);
        assert_eq!(alone(&soon, &[stranger.clone(), expired.clone()]), ["job_ends_too_soon", "job_ends_too_soon"]);
        let mut stranger_soon = expiring_at(NOW + 1);
        stranger_soon.receipt.provider = [9; 32];
        assert_eq!(alone(&view(), &[stranger_soon]), ["not_a_provider"]);

        let (mut low, mut over, mut forged) = (candidate(P1, 5, 1), candidate(P1, 101, 1), candidate(P1, 10, 1));
        forged.signature_ok = false;
        let lanes = [stored(P1, 5, 0, 1)];
        let later = [low.clone(), over.clone(), forged.clone()];
        assert_eq!(
            codes(&run(&view(), &nothing(), &lanes, &later)),
            ["cumulative_not_increasing", "exceeds_allocation", "bad_signature"]
        );
        (low.receipt.expires_at, over.receipt.expires_at, forged.receipt.expires_at) =
            (NOW + 1, NOW + MARGIN, NOW + MARGIN);
        let d = run(&view(), &nothing(), &lanes, &[low, over, forged]);
        assert_eq!(codes(&d), ["expires_too_soon"; 3]);
        assert!(d.moved.is_empty());

        // What fails now keeps the contract's code, whatever fails later.
        expired.receipt.amount = 101;
        assert_eq!(alone(&view(), &[expired]), ["receipt_expired"]);
        assert_eq!(alone(&ending_at(NOW), &[expiring_at(NOW + 1)]), ["job_ended"]);
    }

    #[test]
    fn a_too_soon_receipt_moves_nothing_and_the_next_one_is_judged_as_before() {
        let d = run(&view(), &nothing(), &[], &[expiring_at(NOW + MARGIN), candidate(P1, 10, 1)]);
        assert_eq!(codes(&d), ["expires_too_soon", "new"]);
        assert_eq!(d.moved[&P1].candidate, 1);
    }

    #[test]
    fn a_completed_job_takes_receipts_and_a_finalized_one_none() {
        let mut completed = view();
        completed.job.status = JobStatus::Completed;
        assert_eq!(codes(&run(&completed, &nothing(), &[], &[candidate(P1, 10, 1)])), ["new"]);
        let mut finalized = view();
        finalized.job.status = JobStatus::Finalized;
        assert_eq!(codes(&run(&finalized, &nothing(), &[], &[candidate(P1, 10, 1)])), ["job_finalized"]);
    }

    #[test]
    fn only_the_jobs_providers_are_paid() {
        let d = run(&view(), &nothing(), &[], &[candidate([9; 32], 10, 1)]);
        assert_eq!(codes(&d), ["not_a_provider"]);
        assert!(d.moved.is_empty());
    }

    #[test]
    fn a_bad_signature_is_refused_after_the_rules() {
        let mut forged = candidate(P1, 5, 2);
        (forged.signature, forged.signature_ok) = ([9; 64], false);
        let d = run(&view(), &nothing(), &[stored(P1, 5, 0, 1)], &[forged]);
        assert_eq!(codes(&d), ["cumulative_not_increasing"]);
        let mut forged = candidate(P1, 10, 2);
        (forged.signature, forged.signature_ok) = ([9; 64], false);
        let d = run(&view(), &nothing(), &[stored(P1, 5, 0, 1)], &[forged, candidate(P1, 10, 2)]);
        assert_eq!(codes(&d), ["bad_signature", "new"], "a refused forgery moves nothing");
        assert_eq!(d.moved[&P1].candidate, 1);
    }
}
