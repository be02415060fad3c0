//! The acceptance decision, pure: given a job as the chain has it, what the store already holds for it
//! (the receipts accepted before, by digest, and the highest accepted receipt of each provider), the
//! candidate receipts in the order received and `now`, decide each candidate's fate (new, a duplicate,
//! or refused with a settlement error) and where the job's lanes move. No I/O: the store takes the
//! job's lock, reads that state, calls [`decide`] and writes what it returns, in one transaction.
//!
//! It mirrors the contract exactly: receipts are ordered by cumulative amount only, so a receipt with a
//! higher amount than the lane's is accepted whatever its sequence and units (informational, as on
//! chain), and one at or below it is refused as `cumulative_not_increasing`.

use std::collections::{BTreeMap, HashMap};

use escrow_client::AccountId;
use settlement::{Lane, Receipt, Timestamp};
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

/// What became of one receipt offered to [`crate::store::Store::accept`].
pub type Outcome = core::result::Result<Accepted, settlement::Error>;

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
    /// Refused by this settlement rule.
    Refused(settlement::Error),
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

/// Decides `candidates` (receipts of `view`'s job in the order received, with their [`digest`]s) in
/// turn. One whose digest is in `known` (accepted before) or equal to an earlier candidate's accepted
/// now is a duplicate. Any other runs the settlement rules at `now`, then its signature verdict,
/// against the job and the lanes as accepted so far: `lanes` as stored, each moved by the candidates
/// before it, each the later of that and the chain's, the job's released total their sum.
#[must_use]
pub fn decide(
    view: &JobView,
    known: &HashMap<[u8; 32], i64>,
    lanes: &[AcceptedLane],
    candidates: &[Candidate],
    digests: &[[u8; 32]],
    now: Timestamp,
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
            let signature = if c.signature_ok { Ok(()) } else { Err(settlement::Error::BadSignature) };
            match settlement::checks::check_rules(&job, &lane, &c.receipt, now).and(signature) {
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

    fn view() -> JobView {
        JobView {
            job: Job {
                consumer: [1; 32],
                providers: vec![P1, P2],
                payer_key: [0; 32],
                terms_hash: [0; 32],
                fee_bps: 500,
                deposit: 100,
                released: 0,
                opened_at: 0,
                expires_at: 10_000,
                ends_at: 10_000,
                status: JobStatus::Open,
            },
            settled: vec![(P1, Lane::default()), (P2, Lane::default())],
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
        decide(view, known, lanes, cs, &digests, NOW)
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
        assert_eq!(codes(&d), ["exceeds_escrow", "exceeds_escrow"]);
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
        v.settled[0].1 = lane(1, u128::MAX, u64::MAX);
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
        v.settled[0].1 = lane(30, 3, 3);
        v.job.released = 30;
        let cs = [candidate(P1, 20, 2), candidate(P1, 30, 9), candidate(P1, 35, 1)];
        let d = run(&v, &nothing(), &[stored(P1, 10, 1, 1)], &cs);
        assert_eq!(codes(&d), ["cumulative_not_increasing", "cumulative_not_increasing", "new"]);
    }

    #[test]
    fn every_providers_accepted_lane_counts_against_the_deposit() {
        // 60 accepted for P2 (not settled yet): P1 may take 40 of the 100 deposited, not 41.
        let lanes = [stored(P2, 60, 6, 1)];
        let d = run(&view(), &nothing(), &lanes, &[candidate(P1, 41, 1), candidate(P1, 40, 2)]);
        assert_eq!(codes(&d), ["exceeds_escrow", "new"]);
        // Within one call too: the first receipt accepted counts against the next.
        let d = run(&view(), &nothing(), &[], &[candidate(P1, 60, 1), candidate(P2, 50, 1), candidate(P2, 40, 2)]);
        assert_eq!(codes(&d), ["new", "exceeds_escrow", "new"]);
        assert_eq!(d.moved.keys().copied().collect::<Vec<_>>(), vec![P1, P2]);
        assert_eq!(d.moved[&P2].candidate, 2);
    }

    #[test]
    fn the_deposit_bound_is_the_step_from_the_lane() {
        // On chain 50 released for P1, and the job's released total counts it once.
        let mut v = view();
        v.settled[0].1 = lane(50, 5, 1);
        v.job.released = 50;
        let d = run(&v, &nothing(), &[], &[candidate(P1, 101, 2), candidate(P1, 100, 2)]);
        assert_eq!(codes(&d), ["exceeds_escrow", "new"]);
    }

    #[test]
    fn time_is_judged_at_now() {
        // `now` is the latest moment the release may land (the caller adds its margin).
        let mut expiring = candidate(P1, 10, 1);
        expiring.receipt.expires_at = NOW;
        let mut later = candidate(P1, 10, 1);
        later.receipt.expires_at = NOW + 1;
        assert_eq!(codes(&run(&view(), &nothing(), &[], &[expiring, later])), ["receipt_expired", "new"]);

        let mut ended = view();
        ended.job.ends_at = NOW;
        assert_eq!(codes(&run(&ended, &nothing(), &[], &[candidate(P1, 10, 1)])), ["job_ended"]);
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
