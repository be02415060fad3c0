//! The checks a receipt must pass to be settled, each a small named function, in the order they run.
//!
//! The contract runs [`check_domain`] then [`check_against_job`] inside every release; the gateway runs
//! the very same functions before it accepts a receipt, with its own view of the lane (the last
//! *accepted* receipt rather than the last settled one), so it never accepts what the contract refuses.
//!
//! Receipts are ordered by their cumulative amount only (rules v2): a receipt settles if its amount is
//! above the lane's, whatever its sequence and units. Those two are recorded in the lane and the
//! `Released` event but never checked, so no receipt the payer key signs, with any sequence or units,
//! can make a receipt with a higher cumulative amount unsettleable.

use crate::receipt::{Domain, Receipt, SignatureBytes};
use crate::state::{Job, JobStatus, Lane};
use crate::{Balance, Error, Result, Timestamp};

/// The receipt is for this chain.
pub fn chain<A>(domain: &Domain<A>, receipt: &Receipt<A>) -> Result<()> {
    if receipt.domain.genesis_hash != domain.genesis_hash {
        return Err(Error::WrongChain);
    }
    Ok(())
}

/// The receipt is for this escrow contract.
pub fn contract<A: PartialEq>(domain: &Domain<A>, receipt: &Receipt<A>) -> Result<()> {
    if receipt.domain.contract != domain.contract {
        return Err(Error::WrongContract);
    }
    Ok(())
}

/// The job is neither finalized nor past its end.
pub fn job_open<A: PartialEq>(job: &Job<A>, now: Timestamp) -> Result<()> {
    if job.status == JobStatus::Finalized {
        return Err(Error::JobFinalized);
    }
    if job.has_ended(now) {
        return Err(Error::JobEnded);
    }
    Ok(())
}

/// The receipt pays one of the job's providers.
pub fn provider_on_job<A: PartialEq>(job: &Job<A>, receipt: &Receipt<A>) -> Result<()> {
    if !job.has_provider(&receipt.provider) {
        return Err(Error::NotAProvider);
    }
    Ok(())
}

/// The receipt's provider accepted the job (G3): nothing is paid through a job a provider did not
/// consent to.
pub fn provider_accepted<A: PartialEq>(job: &Job<A>, receipt: &Receipt<A>) -> Result<()> {
    if !job.has_accepted(&receipt.provider) {
        return Err(Error::NotAccepted);
    }
    Ok(())
}

/// The receipt's own expiry is still ahead.
pub fn not_expired<A>(receipt: &Receipt<A>, now: Timestamp) -> Result<()> {
    if receipt.expires_at <= now {
        return Err(Error::ReceiptExpired);
    }
    Ok(())
}

/// The cumulative amount is above the lane's: the one order among a lane's receipts (a replay, an older
/// or a superseded receipt has an amount at or below the lane's). Sequence and units are not compared.
pub fn cumulative_increases<A>(lane: &Lane, receipt: &Receipt<A>) -> Result<()> {
    if receipt.amount <= lane.amount {
        return Err(Error::CumulativeNotIncreasing);
    }
    Ok(())
}

/// Injected bug `sequence_orders` (model-test mutant only): restores the v1 sequence order, which lets a
/// low receipt with a high sequence block every higher one. Never compiled into a real build.
#[cfg(settlement_mutant = "sequence_orders")]
fn mutant_sequence_orders<A>(lane: &Lane, receipt: &Receipt<A>) -> Result<()> {
    if receipt.sequence <= lane.sequence {
        return Err(Error::Replayed);
    }
    Ok(())
}

/// The receipt's cumulative amount is within its provider's allocation at `now` (G2): a provider draws
/// only on its own allocation, whatever the job's other providers were paid.
pub fn within_allocation<A: PartialEq>(job: &Job<A>, lane: &Lane, receipt: &Receipt<A>, now: Timestamp) -> Result<()> {
    #[cfg(not(settlement_mutant = "allocation_ignored"))]
    if receipt.amount > job.limit(&receipt.provider, lane.amount, now) {
        return Err(Error::ExceedsAllocation);
    }
    #[cfg(settlement_mutant = "allocation_ignored")]
    let _ = (job, lane, receipt, now);
    Ok(())
}

/// Paying the step from the lane to the receipt keeps the job's releases within its deposit; returns the
/// job's released total after the step.
pub fn within_escrow<A: PartialEq>(job: &Job<A>, lane: &Lane, receipt: &Receipt<A>) -> Result<Balance> {
    let step = receipt.amount.saturating_sub(lane.amount);
    let released = job.released.checked_add(step).ok_or(Error::Overflow)?;
    if released > job.deposit {
        return Err(Error::ExceedsEscrow);
    }
    Ok(released)
}

/// The job's payer key signed the receipt (ed25519 `verify_strict`). The most expensive check: last.
pub fn signature<A: scale::Encode>(job: &Job<A>, receipt: &Receipt<A>, signature: &SignatureBytes) -> Result<()> {
    if !receipt.verify(&job.payer_key, signature) {
        return Err(Error::BadSignature);
    }
    Ok(())
}

/// The domain checks, which need nothing but the receipt.
pub fn check_domain<A: PartialEq>(domain: &Domain<A>, receipt: &Receipt<A>) -> Result<()> {
    chain(domain, receipt)?;
    contract(domain, receipt)
}

/// Every check against the job and the provider's lane but the signature, in order; returns the job's
/// released total after paying the receipt. For callers that verify signatures apart (in parallel).
pub fn check_rules<A: PartialEq>(job: &Job<A>, lane: &Lane, receipt: &Receipt<A>, now: Timestamp) -> Result<Balance> {
    job_open(job, now)?;
    provider_on_job(job, receipt)?;
    provider_accepted(job, receipt)?;
    not_expired(receipt, now)?;
    #[cfg(settlement_mutant = "sequence_orders")]
    mutant_sequence_orders(lane, receipt)?;
    cumulative_increases(lane, receipt)?;
    within_allocation(job, lane, receipt, now)?;
    within_escrow(job, lane, receipt)
}

/// Every check against the job and the provider's lane, in order ([`check_rules`], then the signature);
/// returns the job's released total after paying the receipt.
pub fn check_against_job<A: PartialEq + scale::Encode>(
    job: &Job<A>,
    lane: &Lane,
    receipt: &Receipt<A>,
    sig: &SignatureBytes,
    now: Timestamp,
) -> Result<Balance> {
    let released = check_rules(job, lane, receipt, now)?;
    signature(job, receipt, sig)?;
    Ok(released)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::state::{Slot, Thaw};
    use ed25519_dalek::SigningKey;

    type A = [u8; 32];
    const NOW: Timestamp = 1_000;
    const DOMAIN: Domain<A> = Domain { genesis_hash: [1; 32], contract: [2; 32] };

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[5; 32])
    }

    fn job() -> Job<A> {
        Job {
            consumer: [3; 32],
            providers: vec![[4; 32], [6; 32]],
            slots: vec![Slot { accepted_at: 1, allocation: 1_000, ..Slot::default() }, Slot::default()],
            payer_key: key().verifying_key().to_bytes(),
            arbiter: [9; 32],
            terms_hash: [0; 32],
            fee_bps: 500,
            slash_bps: 0,
            deposit: 1_000,
            unallocated: 0,
            released: 100,
            opened_at: 0,
            expires_at: 2_000,
            ends_at: 2_000,
            status: JobStatus::Open,
        }
    }

    fn lane() -> Lane {
        Lane { amount: 100, units: 10, sequence: 3, fee: 5 }
    }

    fn receipt() -> Receipt<A> {
        Receipt { domain: DOMAIN, job_id: 1, provider: [4; 32], amount: 200, units: 20, sequence: 4, expires_at: 1_500 }
    }

    fn signed(r: &Receipt<A>) -> SignatureBytes {
        r.sign(&key())
    }

    #[test]
    fn chain_and_contract() {
        assert_eq!(chain(&DOMAIN, &receipt()), Ok(()));
        let other_chain = Receipt { domain: Domain { genesis_hash: [9; 32], ..DOMAIN }, ..receipt() };
        assert_eq!(chain(&DOMAIN, &other_chain), Err(Error::WrongChain));
        assert_eq!(contract(&DOMAIN, &other_chain), Ok(()));
        let other_contract = Receipt { domain: Domain { contract: [9; 32], ..DOMAIN }, ..receipt() };
        assert_eq!(contract(&DOMAIN, &other_contract), Err(Error::WrongContract));
        assert_eq!(check_domain(&DOMAIN, &other_contract), Err(Error::WrongContract));
    }

    #[test]
    fn job_open_until_its_end_and_never_once_finalized() {
        assert_eq!(job_open(&job(), 1_999), Ok(()));
        assert_eq!(job_open(&job(), 2_000), Err(Error::JobEnded));
        let finalized = Job { status: JobStatus::Finalized, ..job() };
        assert_eq!(job_open(&finalized, NOW), Err(Error::JobFinalized));
        let completed = Job { status: JobStatus::Completed, ends_at: 1_200, ..job() };
        assert_eq!(job_open(&completed, 1_199), Ok(()));
        assert_eq!(job_open(&completed, 1_200), Err(Error::JobEnded));
    }

    #[test]
    fn provider_must_be_named() {
        assert_eq!(provider_on_job(&job(), &receipt()), Ok(()));
        assert_eq!(provider_on_job(&job(), &Receipt { provider: [6; 32], ..receipt() }), Ok(()));
        assert_eq!(provider_on_job(&job(), &Receipt { provider: [7; 32], ..receipt() }), Err(Error::NotAProvider));
    }

    #[test]
    fn provider_must_have_accepted() {
        // [4; 32] accepted the job, [6; 32] is named but did not, [7; 32] is not named.
        assert_eq!(provider_accepted(&job(), &receipt()), Ok(()));
        assert_eq!(provider_accepted(&job(), &Receipt { provider: [6; 32], ..receipt() }), Err(Error::NotAccepted));
        assert_eq!(provider_accepted(&job(), &Receipt { provider: [7; 32], ..receipt() }), Err(Error::NotAccepted));
        let unaccepted = Receipt { provider: [6; 32], ..receipt() };
        assert_eq!(check_rules(&job(), &lane(), &unaccepted, NOW), Err(Error::NotAccepted));
        let stranger = Receipt { provider: [7; 32], ..receipt() };
        assert_eq!(check_rules(&job(), &lane(), &stranger, NOW), Err(Error::NotAProvider), "named is checked first");
    }

    #[test]
    fn expiry_is_exclusive() {
        assert_eq!(not_expired(&receipt(), 1_499), Ok(()));
        assert_eq!(not_expired(&receipt(), 1_500), Err(Error::ReceiptExpired));
    }

    #[test]
    fn cumulative_orders_sequence_and_units_do_not() {
        let r = receipt();
        assert_eq!(cumulative_increases(&lane(), &r), Ok(()));
        assert_eq!(
            cumulative_increases(&lane(), &Receipt { amount: 100, ..r.clone() }),
            Err(Error::CumulativeNotIncreasing)
        );
        // A higher amount settles whatever its sequence and units: lower, equal or zero.
        for (sequence, units) in [(0, 0), (1, 9), (3, 10), (u64::MAX, u128::MAX)] {
            let any = Receipt { sequence, units, ..r.clone() };
            assert_eq!(check_rules(&job(), &lane(), &any, NOW), Ok(200), "sequence {sequence}, units {units}");
        }
        // A lane left at the top of both by a low receipt still takes a higher amount.
        let blocked = Lane { amount: 1, units: u128::MAX, sequence: u64::MAX, fee: 0 };
        assert_eq!(check_rules(&job(), &blocked, &Receipt { sequence: 10, ..r }, NOW), Ok(299));
    }

    #[test]
    fn allocation_bound_is_inclusive_and_a_thaw_lowers_it_only_once_ended() {
        let mut j = job();
        j.slots[0].allocation = 600;
        let at = |amount| Receipt { amount, ..receipt() };
        assert_eq!(within_allocation(&j, &lane(), &at(600), NOW), Ok(()));
        assert_eq!(within_allocation(&j, &lane(), &at(601), NOW), Err(Error::ExceedsAllocation));
        // A thaw of 400 ending at 1_200: the full allocation until then, 200 from then on.
        j.slots[0].thaw = Thaw { amount: 400, ends_at: 1_200 };
        assert_eq!(within_allocation(&j, &lane(), &at(600), 1_199), Ok(()));
        assert_eq!(within_allocation(&j, &lane(), &at(201), 1_200), Err(Error::ExceedsAllocation));
        assert_eq!(within_allocation(&j, &lane(), &at(200), 1_200), Ok(()));
        // Paid 500 during the thaw: the limit never drops below what was paid, and nothing more settles.
        let paid = Lane { amount: 500, ..lane() };
        assert_eq!(j.limit(&[4; 32], 500, 1_200), 500);
        assert_eq!(within_allocation(&j, &paid, &at(501), 1_200), Err(Error::ExceedsAllocation));
        // Another provider's allocation is its own: [6; 32] has none, whatever the job holds.
        let other = Receipt { provider: [6; 32], ..at(1) };
        assert_eq!(within_allocation(&j, &Lane::default(), &other, NOW), Err(Error::ExceedsAllocation));
    }

    #[test]
    fn folding_an_ended_thaw_moves_the_thaw_less_what_was_paid_above_the_lowered_allocation() {
        let mut s = Slot { allocation: 1_000, thaw: Thaw { amount: 400, ends_at: 50 }, ..Slot::default() };
        assert_eq!(s.clone().fold_thaw(0, 49), 0, "not before it ends");
        assert_eq!(s.clone().fold_thaw(300, 50), 400);
        // Paid 700 during the thaw: only 300 moves, and the limit stays where it was.
        let before = s.limit(700, 50);
        assert_eq!(s.fold_thaw(700, 50), 300);
        assert_eq!((s.allocation, s.thaw, s.limit(700, 50)), (700, Thaw::default(), before));
    }

    #[test]
    fn escrow_bound_is_inclusive() {
        // released 100 + step (1000 - 100) = 1000 = deposit: allowed; one more is not.
        assert_eq!(within_escrow(&job(), &lane(), &Receipt { amount: 1_000, ..receipt() }), Ok(1_000));
        assert_eq!(within_escrow(&job(), &lane(), &Receipt { amount: 1_001, ..receipt() }), Err(Error::ExceedsEscrow));
    }

    #[test]
    fn signature_by_the_payer_key_only() {
        let r = receipt();
        assert_eq!(signature(&job(), &r, &signed(&r)), Ok(()));
        let other = r.sign(&SigningKey::from_bytes(&[8; 32]));
        assert_eq!(signature(&job(), &r, &other), Err(Error::BadSignature));
    }

    #[test]
    fn all_checks_in_order() {
        let r = receipt();
        assert_eq!(check_against_job(&job(), &lane(), &r, &signed(&r), NOW), Ok(200));
        // Several faults at once: the first check in the order decides.
        let bad = Receipt { amount: 50, expires_at: NOW, ..r.clone() };
        assert_eq!(check_against_job(&job(), &lane(), &bad, &signed(&bad), NOW), Err(Error::ReceiptExpired));
        let bad = Receipt { amount: 1_001, sequence: 1, ..r.clone() };
        assert_eq!(check_against_job(&job(), &lane(), &bad, &[0; 64], NOW), Err(Error::ExceedsAllocation));
        assert_eq!(check_against_job(&job(), &lane(), &r, &[0; 64], 2_000), Err(Error::JobEnded));
        // The rules alone pass a receipt whose signature is bad; the full list does not.
        assert_eq!(check_rules(&job(), &lane(), &r, NOW), Ok(200));
        assert_eq!(check_against_job(&job(), &lane(), &r, &[0; 64], NOW), Err(Error::BadSignature));
    }
}
