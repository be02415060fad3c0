//! What the chain says about a job: the job record, with each provider's settled lane in its slot, read
//! from the escrow contract in one dry-run, and combined with the gateway's accepted lanes for the
//! settlement checks.

use escrow_client::{AccountId, Escrow};
use settlement::{Job, JobId, Lane};

use crate::accept::AcceptedLane;
use crate::error::Result;

/// A job as the chain has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    /// The job record, with what was settled on chain for each provider in its slot.
    pub job: Job<AccountId>,
}

/// The later of two lanes: the one with the higher cumulative amount (the chain's, `a`, on a tie), whole.
/// Receipts are ordered by cumulative amount only; units and sequence just come along.
fn later_lane(a: &Lane, b: &Lane) -> Lane {
    if b.amount > a.amount {
        *b
    } else {
        *a
    }
}

impl JobView {
    /// Reads the job (its providers' lanes included) from the contract as of the latest finalized block;
    /// `None` if there is no such job.
    pub async fn fetch(escrow: &Escrow, job_id: JobId) -> Result<Option<Self>> {
        Self::fetch_at(escrow, job_id, None).await
    }

    /// [`JobView::fetch`] as of block `at` (the latest finalized block if `None`).
    pub async fn fetch_at(escrow: &Escrow, job_id: JobId, at: Option<[u8; 32]>) -> Result<Option<Self>> {
        let Some(job) = escrow.job_at(at, job_id).await? else { return Ok(None) };
        Ok(Some(Self { job }))
    }

    /// What was settled on chain for `provider` (nothing if it is not on the job).
    #[must_use]
    pub fn settled(&self, provider: &AccountId) -> Lane {
        self.job.slot(provider).map(|s| s.lane).unwrap_or_default()
    }

    /// The job and `provider`'s lane as a new receipt must see them: each lane the later (by cumulative
    /// amount) of what was settled on chain and what the gateway accepted, and the job's released total
    /// the sum of those lanes. The provider's allocation bounds its own lane only (as on chain); the total
    /// feeds the contract's defensive whole-deposit check.
    #[must_use]
    pub fn with_accepted(&self, accepted: &[AcceptedLane], provider: &AccountId) -> (Job<AccountId>, Lane) {
        let effective = |p: &AccountId| {
            let chain = self.settled(p);
            let ours = accepted.iter().find(|a| a.provider == *p).map(|a| a.lane).unwrap_or_default();
            later_lane(&chain, &ours)
        };
        let mut job = self.job.clone();
        job.released = job.providers.iter().fold(0u128, |sum, p| sum.saturating_add(effective(p).amount));
        (job, effective(provider))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use settlement::JobStatus;

    fn view() -> JobView {
        let mut v = JobView {
            job: Job {
                consumer: [1; 32],
                providers: vec![[2; 32], [3; 32]],
                slots: vec![settlement::Slot { accepted_at: 1, allocation: 500, ..Default::default() }; 2],
                payer_key: [0; 32],
                arbiter: [0xab; 32],
                terms_hash: [0; 32],
                fee_bps: 500,
                slash_bps: 10_000,
                deposit: 1_000,
                unallocated: 0,
                released: 150,
                opened_at: 0,
                expires_at: 10,
                ends_at: 10,
                status: JobStatus::Open,
            },
        };
        v.job.slots[0].lane = Lane { amount: 100, units: 1, sequence: 2, fee: 5 };
        v.job.slots[1].lane = Lane { amount: 50, units: 1, sequence: 1, fee: 2 };
        v
    }

    #[test]
    fn accepted_lanes_ahead_of_the_chain_count() {
        let accepted = [AcceptedLane {
            provider: [3; 32],
            receipt_id: 9,
            lane: Lane { amount: 400, units: 4, sequence: 5, fee: 0 },
        }];
        let (job, lane) = view().with_accepted(&accepted, &[3; 32]);
        assert_eq!(job.released, 100 + 400);
        assert_eq!((lane.amount, lane.units, lane.sequence), (400, 4, 5));
        let (_, other) = view().with_accepted(&accepted, &[2; 32]);
        assert_eq!((other.amount, other.sequence), (100, 2));
    }

    #[test]
    fn the_chain_wins_where_it_is_ahead() {
        let accepted = [AcceptedLane {
            provider: [2; 32],
            receipt_id: 1,
            lane: Lane { amount: 60, units: 9, sequence: 1, fee: 0 },
        }];
        let (job, lane) = view().with_accepted(&accepted, &[2; 32]);
        assert_eq!(job.released, 150);
        assert_eq!((lane.amount, lane.units, lane.sequence), (100, 1, 2));
    }

    #[test]
    fn the_later_lane_is_the_higher_amount_whatever_its_sequence() {
        // The consumer released a low receipt with the top sequence and units on chain; the gateway
        // accepted a higher amount with an ordinary sequence: that is the lane a new receipt must pass.
        let mut v = view();
        v.job.slots[0].lane = Lane { amount: 1, units: u128::MAX, sequence: u64::MAX, fee: 0 };
        let accepted = [AcceptedLane {
            provider: [2; 32],
            receipt_id: 3,
            lane: Lane { amount: 600, units: 60, sequence: 10, fee: 0 },
        }];
        let (job, lane) = v.with_accepted(&accepted, &[2; 32]);
        assert_eq!(lane, Lane { amount: 600, units: 60, sequence: 10, fee: 0 });
        assert_eq!(job.released, 600 + 50);
    }
}
