//! The invariants checked after every operation: the engine's records match the model's, nothing that
//! only grows ever shrinks, every fee split is exact, no receipt pays twice and funds are conserved.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use settlement::fee;
use settlement::memory::MemoryStore;
use settlement::{Event, Lane, Slot, Stake, Thaw};

use crate::harness::Harness;
use crate::ops::Op;
use crate::world::{accounts, naive_fee, public, Acc, DOMAIN, TERMS, TIMING};

impl Harness {
    /// Every invariant, after `op` moved the store from `before` to its current state.
    pub(crate) fn check(&mut self, before: &MemoryStore, op: &Op) {
        let s = &self.store;
        let m = &self.model;
        // The lanes live in the jobs' slots: those of the providers that accepted, before and after.
        let (lanes, lanes_before) = (s.lanes(), before.lanes());

        // The configuration.
        let c = &s.config;
        assert_eq!(
            (c.owner, c.pending_owner, c.treasury, c.arbiter),
            (m.owner, m.pending_owner, m.treasury, m.arbiter)
        );
        assert_eq!(
            (c.fee_bps, c.min_stake, c.slash_bps, c.paused, c.next_job_id),
            (m.fee_bps, m.min_stake, m.slash_bps, m.paused, m.next_job_id)
        );
        assert_eq!((c.timing, c.domain), (TIMING, DOMAIN));
        let announced = c.announced.map(|a| {
            let s = a.settings;
            ((s.treasury, s.arbiter, s.fee_bps, s.min_stake, s.slash_bps), a.effective_at)
        });
        assert_eq!(announced, m.announced, "after {op:?}: announced settings differ");

        // Jobs: as the model has them, never more released than deposited, nothing ever decreasing.
        assert!(s.jobs.keys().eq(m.jobs.keys()), "after {op:?}: jobs differ");
        for (id, job) in &s.jobs {
            let mj = &m.jobs[id];
            assert_eq!(
                (&job.consumer, &job.providers, job.payer_key, job.terms_hash, job.fee_bps, job.arbiter),
                (&mj.consumer, &mj.providers, public(mj.key), TERMS, mj.fee_bps, mj.arbiter),
                "after {op:?}: job {id}"
            );
            // Consent, slash bound and allocation per provider, with ended thaws folded in on both sides
            // (folding changes no limit, and each side folds at its own moments).
            let mut folded = job.clone();
            for (p, slot) in folded.providers.iter().zip(folded.slots.iter_mut()) {
                let paid = lanes.get(&(*id, *p)).map_or(0, |l| l.amount);
                folded.unallocated += slot.fold_thaw(paid, m.now);
            }
            let mf = m.folded(*id).unwrap();
            let slots: Vec<Slot> = mf
                .providers
                .iter()
                .map(|p| {
                    let (accepted_at, max_slash) = mf.accepted.get(p).copied().unwrap_or_default();
                    let thaw =
                        mf.thaws.get(p).map_or_else(Thaw::default, |&(amount, ends_at)| Thaw { amount, ends_at });
                    Slot {
                        accepted_at,
                        max_slash,
                        allocation: mf.alloc[p],
                        thaw,
                        lane: mf.lanes.get(p).copied().unwrap_or_default(),
                    }
                })
                .collect();
            assert_eq!(
                (job.slash_bps, &folded.slots, folded.unallocated),
                (mj.slash_bps, &slots, mf.unallocated),
                "after {op:?}: job {id} slots"
            );
            // Allocations never add up to more than the deposit, nor a provider's payments to more than
            // its allocation (G2: a provider draws only on its own).
            let allocated: u128 = job.slots.iter().map(|s| s.allocation).sum();
            assert_eq!(job.unallocated + allocated, job.deposit, "after {op:?}: job {id} allocations");
            for (p, slot) in job.providers.iter().zip(&job.slots) {
                let paid = lanes.get(&(*id, *p)).map_or(0, |l| l.amount);
                assert!(paid <= slot.limit(paid, m.now) && paid <= slot.allocation, "after {op:?}: job {id} {p:?}");
            }
            if let Some(prev) = before.jobs.get(id) {
                // Consent, once given, is never withdrawn nor changed.
                for (a, b) in prev.slots.iter().zip(&job.slots) {
                    assert!(
                        !a.is_accepted() || (a.accepted_at, a.max_slash) == (b.accepted_at, b.max_slash),
                        "after {op:?}: job {id} acceptance changed"
                    );
                }
            }
            assert_eq!(
                (job.deposit, job.released, job.opened_at, job.expires_at, job.ends_at, job.status),
                (mj.deposit, mj.released, mj.opened_at, mj.expires_at, mj.ends_at, mj.status),
                "after {op:?}: job {id}"
            );
            assert!(job.fee_bps <= fee::MAX_FEE_BPS);
            assert!(job.released <= job.deposit, "after {op:?}: job {id} released {} > {}", job.released, job.deposit);
            let paid: u128 = lanes.iter().filter(|((lid, _), _)| lid == id).map(|(_, l)| l.amount).sum();
            assert_eq!(job.released, paid, "after {op:?}: job {id} released vs its lanes");
            let unaccepted = job.slots.iter().filter(|s| !s.is_accepted());
            assert!(unaccepted.clone().all(|s| s.lane == Lane::default()), "after {op:?}: job {id} paid unaccepted");
            if let Some(prev) = before.jobs.get(id) {
                assert!(job.deposit >= prev.deposit && job.released >= prev.released, "after {op:?}: job {id}");
                assert!(job.ends_at <= prev.ends_at, "after {op:?}: job {id} end moved later");
            }
        }

        // Lanes: as the model has them, fee exact on the cumulative amount, never decreasing.
        let model_lanes: BTreeMap<(u64, Acc), Lane> =
            m.jobs.iter().flat_map(|(id, j)| j.lanes.iter().map(move |(p, l)| ((*id, *p), *l))).collect();
        assert_eq!(lanes, model_lanes, "after {op:?}: lanes differ");
        for (key, lane) in &lanes {
            let bps = s.jobs[&key.0].fee_bps;
            assert_eq!(lane.fee, fee::fee_of(lane.amount, bps), "lane {key:?}");
            assert_eq!(lane.fee, naive_fee(lane.amount, bps), "lane {key:?}");
            assert!(s.jobs[&key.0].has_accepted(&key.1), "lane {key:?} of a provider that did not accept");
        }
        for (key, prev) in &lanes_before {
            let lane = lanes[key];
            // Only the amount (and its fee) orders a lane; units and sequence are the last receipt's.
            assert!(
                lane.amount >= prev.amount && lane.fee >= prev.fee,
                "after {op:?}: lane {key:?} went back from {prev:?} to {lane:?}"
            );
        }

        // Stakes, reputations and disputes.
        same_with_default(&s.stakes, &m.stakes, "stakes", op);
        same_with_default(&s.reputations, &m.reputations, "reputations", op);
        assert_eq!(s.disputes, m.disputes, "after {op:?}: disputes differ");

        // Claimable balances: the closed form of the model.
        let mut who: BTreeSet<Acc> = s.balances.keys().copied().collect();
        who.extend(accounts());
        for a in &who {
            // The treasury's claimable includes the fees accrued in the configuration.
            assert_eq!(s.claimable(a), m.balance(a), "after {op:?}: balance of {:#04x}", a[0]);
        }
        let fees: u128 = m.fees_to.values().sum();
        let lane_fees: u128 =
            m.jobs.values().flat_map(|j| j.lanes.values().map(|l| naive_fee(l.amount, j.fee_bps))).sum();
        assert_eq!(fees, lane_fees, "treasury fees vs the fees of the cumulative amounts");

        // Conservation: what came in and did not go out is held, staked or claimable.
        let held: u128 = s.jobs.values().map(settlement::Job::held).sum();
        let staked: u128 = s.stakes.values().map(Stake::total).sum();
        let claimable: u128 = s.balances.values().sum::<u128>() + s.config.fees;
        assert_eq!(m.value_in - m.value_out, held + staked + claimable, "after {op:?}: funds not conserved");

        // The events of this operation.
        let f = &mut self.flows;
        for event in &s.events[self.events_seen..] {
            match event {
                Event::JobOpened { deposit, .. } => f.deposited += deposit,
                Event::ToppedUp { amount, .. } => f.deposited += amount,
                Event::Released { job_id, provider, cumulative, sequence, amount, fee, net, units, .. } => {
                    assert_eq!(net + fee, *amount, "{event:?}: net + fee != amount");
                    let lane = lanes[&(*job_id, *provider)];
                    let prev = lanes_before.get(&(*job_id, *provider)).copied().unwrap_or_default();
                    let bps = s.jobs[job_id].fee_bps;
                    assert_eq!((lane.amount, lane.units, lane.sequence), (*cumulative, *units, *sequence), "{event:?}");
                    assert_eq!(*amount, cumulative - prev.amount, "{event:?}");
                    assert_eq!(lane.fee, fee::fee_of(*cumulative, bps), "{event:?}: cumulative fee");
                    assert_eq!(*fee, naive_fee(*cumulative, bps) - naive_fee(prev.amount, bps), "{event:?}");
                    assert!(self.paid.insert((*job_id, *provider, *cumulative)), "{event:?}: receipt paid twice");
                    f.net += net;
                    f.fee += fee;
                }
                Event::Refunded { amount, .. } => f.refunded += amount,
                Event::Claimed { amount, .. } => f.claimed += amount,
                Event::Staked { amount, .. } => f.staked += amount,
                Event::Withdrawn { amount, .. } => f.withdrawn += amount,
                Event::DisputeResolved { slashed, .. } => f.slashed += slashed,
                _ => {}
            }
        }
        self.events_seen = s.events.len();
        assert_eq!(f.deposited, f.net + f.fee + f.refunded + held, "after {op:?}: deposits not conserved");
        assert_eq!(f.staked, f.withdrawn + f.slashed + staked, "after {op:?}: stakes not conserved");
        assert_eq!(f.net + f.fee + f.refunded + f.slashed, f.claimed + claimable, "after {op:?}: credits");
        assert_eq!((f.deposited + f.staked, f.claimed + f.withdrawn), (m.value_in, m.value_out), "after {op:?}");
    }
}

fn same_with_default<K: Ord + Copy + Debug, V: Default + PartialEq + Debug + Copy>(
    actual: &BTreeMap<K, V>,
    expected: &BTreeMap<K, V>,
    what: &str,
    op: &Op,
) {
    for key in actual.keys().chain(expected.keys()) {
        let a = actual.get(key).copied().unwrap_or_default();
        let e = expected.get(key).copied().unwrap_or_default();
        assert_eq!(a, e, "after {op:?}: {what} of {key:?}");
    }
}
