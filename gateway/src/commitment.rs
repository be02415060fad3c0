//! Receipt retention: which of a lane's receipts may go once the chain's finalized release covers them
//! ([`plan`]), and the commitment the lane keeps to them ([`Commitment`]), so that whoever holds a
//! receipt can still prove the gateway accepted it.
//!
//! A lane's accepted receipts rise strictly in cumulative amount, and a release needs only the newest.
//! A compaction covers the receipts with amounts in `(from, to]`, all of them, in amount order: their
//! digests ([`crate::accept::digest`]) are the leaves of a Merkle tree (`rs_merkle`, sha256), whose root
//! and leaf count the lane keeps. A receipt in that range was accepted if and only if it is a leaf: its
//! holder shows it with a path ([`Commitment::verify`]), or rebuilds the root from every accepted
//! receipt of the range ([`root`]). A path proves one position among the leaf count the lane keeps (the
//! count shapes the paths but is not hashed into the root: it is not what membership rests on), and a
//! digest is sha256 over a consumer-signed receipt, so no inner node of the tree passes for one.
//!
//! The receipts kept whatever their amount (the lane's newest, the one at the lane's settled amount,
//! any a release submission carried) are leaves too, so a holder need not know which were kept.

use rs_merkle::algorithms::Sha256;
use rs_merkle::{MerkleProof, MerkleTree};

/// A receipt's digest: sha256 over its signing bytes and signature.
pub type Digest = [u8; 32];

/// What a lane keeps of one compaction: every receipt it accepted with an amount in `(from, to]`,
/// committed to by `root` over `leaves` digests in amount order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commitment {
    /// The amount the covered range starts above (the previous compaction's `to`, or 0).
    pub from: u128,
    /// The highest amount covered.
    pub to: u128,
    /// How many receipts the range held.
    pub leaves: u64,
    /// The Merkle root over their digests, in amount order.
    pub root: Digest,
}

/// The Merkle root over `digests` in this order; `None` if there are none.
#[must_use]
pub fn root(digests: &[Digest]) -> Option<Digest> {
    MerkleTree::<Sha256>::from_leaves(digests).root()
}

/// The path proving the digests at `indices` (ascending) among `digests`: the sibling hashes a verifier
/// needs besides those digests.
#[must_use]
pub fn prove(digests: &[Digest], indices: &[usize]) -> Vec<Digest> {
    MerkleTree::<Sha256>::from_leaves(digests).proof(indices).proof_hashes().to_vec()
}

impl Commitment {
    /// Whether a receipt of `amount` falls in the range this commitment covers.
    #[must_use]
    pub const fn covers(&self, amount: u128) -> bool {
        amount > self.from && amount <= self.to
    }

    /// Whether `digests`, at positions `indices` (ascending) among the range's receipts in amount order,
    /// with the sibling hashes `path` ([`prove`]), are leaves of this commitment.
    #[must_use]
    pub fn verify(&self, indices: &[usize], digests: &[Digest], path: &[Digest]) -> bool {
        let Ok(total) = usize::try_from(self.leaves) else { return false };
        if indices.is_empty() || indices.iter().any(|i| *i >= total) || !indices.is_sorted_by(|a, b| a < b) {
            return false;
        }
        MerkleProof::<Sha256>::new(path.to_vec()).verify(self.root, indices, digests, total)
    }

    /// Whether `digests` (every receipt of the range, in amount order) are exactly what was committed.
    #[must_use]
    pub fn matches(&self, digests: &[Digest]) -> bool {
        u64::try_from(digests.len()).is_ok_and(|n| n == self.leaves) && root(digests) == Some(self.root)
    }
}

/// A receipt a compaction may cover: those of a lane above its last compaction and up to its settled
/// amount, in amount order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The receipt's id.
    pub id: i64,
    /// Its cumulative amount.
    pub amount: u128,
    /// Its digest.
    pub digest: Digest,
    /// Whether it was accepted longer ago than the retention period.
    pub ripe: bool,
    /// Whether it must be kept (the lane's newest, the one at its settled amount, or a submission's).
    pub kept: bool,
}

/// What one compaction of a lane does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Not yet: the candidate at this index (the last read) is younger than the retention period. A
    /// range is covered once all of it is ripe, so a release's receipts make one commitment, not one
    /// per pass.
    Wait(usize),
    /// No receipt lies between the last compaction and `to`: the lane moves on.
    Advance {
        /// The new end of what is compacted.
        to: u128,
    },
    /// Cover a range: commit to it, delete what is not kept.
    Compact {
        /// What the lane keeps.
        commitment: Commitment,
        /// The receipts to delete.
        delete: Vec<i64>,
    },
}

/// The compaction of a lane compacted up to `from`, which may go up to `upper` (the lower of its
/// finalized settled amount and its newest accepted amount), given the `candidates` with amounts in
/// `(from, upper]` in amount order; `complete` if they are all of them (not cut at a limit).
#[must_use]
pub fn plan(from: u128, upper: u128, candidates: &[Candidate], complete: bool) -> Plan {
    let Some(last) = candidates.last() else {
        return if complete { Plan::Advance { to: upper } } else { Plan::Wait(0) };
    };
    if !candidates.iter().all(|c| c.ripe) {
        return Plan::Wait(candidates.len().saturating_sub(1));
    }
    let to = if complete { upper } else { last.amount };
    let digests: Vec<Digest> = candidates.iter().map(|c| c.digest).collect();
    let Some(root) = root(&digests) else { return Plan::Wait(0) };
    Plan::Compact {
        commitment: Commitment { from, to, leaves: u64::try_from(candidates.len()).unwrap_or(u64::MAX), root },
        delete: candidates.iter().filter(|c| !c.kept).map(|c| c.id).collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects, clippy::panic, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        <Sha256 as rs_merkle::Hasher>::hash(&[n])
    }

    fn digests(n: u8) -> Vec<Digest> {
        (0..n).map(digest).collect()
    }

    fn candidate(n: u8, ripe: bool, kept: bool) -> Candidate {
        Candidate { id: i64::from(n), amount: u128::from(n) * 10, digest: digest(n), ripe, kept }
    }

    fn commitment(d: &[Digest]) -> Commitment {
        Commitment { from: 0, to: 100, leaves: d.len() as u64, root: root(d).unwrap() }
    }

    #[test]
    fn every_leaf_of_trees_of_one_to_seventeen_leaves_is_proved_and_no_other_digest_is() {
        for n in 1..=17u8 {
            let d = digests(n);
            let c = commitment(&d);
            assert!(c.matches(&d));
            for i in 0..usize::from(n) {
                let path = prove(&d, &[i]);
                assert!(c.verify(&[i], &[d[i]], &path), "leaf {i} of {n}");
                assert!(!c.verify(&[i], &[digest(200)], &path), "a foreign digest at {i} of {n}");
                if n > 1 {
                    let j = (i + 1) % usize::from(n);
                    assert!(!c.verify(&[j], &[d[i]], &path), "leaf {i} claimed at {j} of {n}");
                }
            }
        }
    }

    #[test]
    fn a_commitment_refuses_a_leaf_past_its_count_an_empty_claim_and_indices_out_of_order_or_range() {
        let d = digests(6);
        let c = commitment(&d);
        let path = prove(&d, &[1, 4]);
        assert!(c.verify(&[1, 4], &[d[1], d[4]], &path));
        assert!(!c.verify(&[4, 1], &[d[4], d[1]], &path));
        assert!(!c.verify(&[], &[], &[]));
        assert!(!c.verify(&[6], &[d[5]], &prove(&d, &[5])));
        // The count only shapes the paths (rs_merkle does not hash it into the root): a count too high
        // still makes no foreign digest a leaf.
        let seven = digests(7);
        assert!(!Commitment { leaves: 7, ..c }.verify(&[6], &[seven[6]], &prove(&seven, &[6])));
        assert!(!c.matches(&d[..5]));
        assert!(!c.matches(&[d[1], d[0], d[2], d[3], d[4], d[5]]), "the order is committed");
    }

    #[test]
    fn covers_is_the_half_open_range() {
        let c = Commitment { from: 10, to: 20, leaves: 1, root: [0; 32] };
        assert!(!c.covers(10));
        assert!(c.covers(11));
        assert!(c.covers(20));
        assert!(!c.covers(21));
    }

    #[test]
    fn a_ripe_complete_range_is_covered_up_to_its_upper_bound_and_kept_receipts_stay() {
        let cs = [candidate(1, true, false), candidate(2, true, true), candidate(3, true, false)];
        let Plan::Compact { commitment, delete } = plan(5, 35, &cs, true) else { panic!() };
        assert_eq!((commitment.from, commitment.to, commitment.leaves), (5, 35, 3));
        assert!(commitment.matches(&[digest(1), digest(2), digest(3)]));
        assert_eq!(delete, vec![1, 3]);
    }

    #[test]
    fn a_range_waits_for_its_last_receipt_to_ripen_and_stops_at_the_limit() {
        // Two transactions' clocks may cross: the wait is for the last one read, whichever is unripe.
        for unripe in 0..3u8 {
            let cs: Vec<Candidate> = (1..=3).map(|n| candidate(n, n != unripe + 1, false)).collect();
            assert_eq!(plan(0, 35, &cs, true), Plan::Wait(2));
        }
        let ripe = [candidate(1, true, false), candidate(2, true, false)];
        let Plan::Compact { commitment, .. } = plan(0, 35, &ripe, false) else { panic!() };
        assert_eq!(commitment.to, 20, "cut at the limit: only up to the last one read");
    }

    #[test]
    fn an_empty_range_advances() {
        assert_eq!(plan(7, 35, &[], true), Plan::Advance { to: 35 });
        assert_eq!(plan(7, 35, &[], false), Plan::Wait(0));
    }
}
