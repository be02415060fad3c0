//! The engine and the model side by side: every operation runs on both and the outcomes must agree.

use std::collections::BTreeSet;
use std::fmt::Debug;

use settlement::memory::MemoryStore;
use settlement::{Error, Market, OpenJob, Receipt, SettingsChange};

use crate::ops::{Amt, Cum, Op, SigKind};
use crate::reference::Model;
use crate::world::{
    public, sign, Acc, ADMIN_CALLERS, ARBITERS, CONSUMERS, DOMAIN, KEYS, PROVIDERS, REASON, TERMS, TREASURY_CHOICES,
};

/// Totals read from the emitted events.
#[derive(Debug, Default)]
pub(crate) struct Flows {
    pub(crate) deposited: u128,
    pub(crate) net: u128,
    pub(crate) fee: u128,
    pub(crate) refunded: u128,
    pub(crate) staked: u128,
    pub(crate) withdrawn: u128,
    pub(crate) slashed: u128,
    pub(crate) claimed: u128,
}

/// The engine and the model side by side.
pub(crate) struct Harness {
    pub(crate) store: MemoryStore,
    pub(crate) model: Model,
    pub(crate) events_seen: usize,
    pub(crate) flows: Flows,
    /// (job, provider, cumulative) of every Released event.
    pub(crate) paid: BTreeSet<(u64, Acc, u128)>,
}

pub(crate) fn agree<T: PartialEq + Debug>(
    op: &Op,
    actual: Result<T, Error>,
    expected: Result<T, Error>,
) -> Result<(), Error> {
    assert_eq!(actual, expected, "engine and model disagree on {op:?}");
    actual.map(|_| ())
}

impl Harness {
    pub(crate) fn new() -> Self {
        let config = crate::world::config();
        Self {
            store: MemoryStore::new(config),
            model: Model::new(),
            events_seen: 0,
            flows: Flows::default(),
            paid: BTreeSet::new(),
        }
    }

    pub(crate) fn market(&mut self) -> Market<'_, MemoryStore> {
        Market::new(&mut self.store, self.model.now)
    }

    /// Runs `op` on both, compares, and checks every invariant; returns the engine's outcome.
    pub(crate) fn apply(&mut self, op: &Op) -> Result<(), Error> {
        let before = self.store.clone();
        let outcome = self.run(op);
        if outcome.is_err() {
            assert!(self.store == before, "refused {op:?} ({outcome:?}) changed the store");
        }
        self.check(&before, op);
        outcome
    }

    pub(crate) fn run(&mut self, op: &Op) -> Result<(), Error> {
        let m = &mut self.model;
        match op {
            Op::Stake { p, amount } => {
                let p = PROVIDERS[p % PROVIDERS.len()];
                let expected = m.stake(p, *amount);
                agree(op, self.market().stake(p, *amount), expected)
            }
            Op::Unbond { p, amount } => {
                let p = PROVIDERS[p % PROVIDERS.len()];
                let amount = amount.of(m.stake_of(&p).active);
                let expected = m.unbond(p, amount);
                agree(op, self.market().unbond(p, amount), expected)
            }
            Op::Withdraw { p, guided } => {
                let p = m.unbonder(*p, *guided);
                let expected = m.withdraw(p);
                agree(op, self.market().withdraw(p), expected)
            }
            Op::Open { consumer, providers, allocs, deposit, duration, key } => {
                let consumer = CONSUMERS[consumer % CONSUMERS.len()];
                let providers: Vec<Acc> = providers.iter().map(|i| PROVIDERS[i % PROVIDERS.len()]).collect();
                let mut left = *deposit;
                let allocs: Vec<u128> = (0..providers.len())
                    .map(|i| {
                        let a = allocs.get(i).copied().unwrap_or(Amt::Zero).of(left);
                        left = left.saturating_sub(a);
                        a
                    })
                    .collect();
                let expires_at = m.now + duration;
                let expected = m.open(consumer, *deposit, &providers, &allocs, *key, expires_at);
                let providers = providers.into_iter().zip(allocs).collect();
                let req = OpenJob { providers, payer_key: public(*key), terms_hash: TERMS, expires_at };
                agree(op, self.market().open_job(consumer, *deposit, req), expected)
            }
            Op::AcceptJob { job, provider, min_funds, max_slash } => {
                let id = m.job_id(*job);
                let provider = m.provider(id, *provider);
                let held = m.jobs.get(&id).map_or(0, |j| j.limit(&provider, m.now));
                let min_funds = min_funds.of(held);
                let stake = m.stake_of(&provider);
                let max_slash = max_slash.of(stake.active + stake.unbonding);
                let expected = m.accept_job(provider, id, min_funds, max_slash);
                agree(op, self.market().accept_job(provider, id, min_funds, max_slash), expected)
            }
            Op::TopUp { job, caller, amount, to } => {
                let id = m.job_id(*job);
                let caller = m.consumer_caller(id, *caller);
                let to = to.map(|pick| m.provider(id, pick));
                let expected = m.top_up(caller, id, *amount, to);
                agree(op, self.market().top_up(caller, id, *amount, to), expected)
            }
            Op::Allocate { job, caller, provider, amount } => {
                let id = m.job_id(*job);
                let caller = m.consumer_caller(id, *caller);
                let provider = m.provider(id, *provider);
                let amount = amount.of(m.folded(id).map_or(0, |j| j.unallocated));
                let expected = m.allocate(caller, id, provider, amount);
                agree(op, self.market().allocate(caller, id, provider, amount), expected)
            }
            Op::Thaw { job, caller, provider, amount } => {
                let id = m.job_id(*job);
                let caller = m.consumer_caller(id, *caller);
                let provider = m.provider(id, *provider);
                let free = m.folded(id).map_or(0, |j| {
                    j.alloc.get(&provider).copied().unwrap_or(0) - j.lanes.get(&provider).map_or(0, |l| l.amount)
                });
                let amount = amount.of(free);
                let expected = m.thaw(caller, id, provider, amount);
                agree(op, self.market().thaw(caller, id, provider, amount), expected)
            }
            Op::Release { job, provider, cum, units, seq, expiry, sig } => {
                let id = m.job_id(*job);
                let provider = m.provider(id, *provider);
                let lane = m.lane(id, &provider);
                let remaining = m.jobs.get(&id).map_or(0, |j| j.limit(&provider, m.now).saturating_sub(lane.amount));
                let amount = match *cum {
                    Cum::Small(k) => lane.amount + 1 + k,
                    Cum::Part(r) => lane.amount + 1 + r % remaining.max(1),
                    Cum::Rest => lane.amount + remaining,
                    Cum::Exceed(k) => lane.amount + remaining + 1 + k,
                    Cum::Same => lane.amount,
                    Cum::Lower(k) => lane.amount.saturating_sub(1 + k),
                };
                let units = lane.units.checked_add_signed(i128::from(*units)).unwrap_or(0);
                let sequence = lane.sequence.checked_add_signed(i64::from(*seq)).unwrap_or(0);
                let expires_at = m.now.checked_add_signed(i64::from(*expiry)).unwrap();
                let mut domain = DOMAIN;
                match sig {
                    SigKind::WrongChain => domain.genesis_hash[0] ^= 1,
                    SigKind::WrongContract => domain.contract[31] ^= 1,
                    _ => {}
                }
                let receipt = Receipt { domain, job_id: id, provider, amount, units, sequence, expires_at };
                let job_key = m.jobs.get(&id).map_or(0, |j| j.key);
                let key = if *sig == SigKind::WrongKey { (job_key + 1) % KEYS.len() } else { job_key };
                let mut signature = sign(key, &receipt);
                if *sig == SigKind::Corrupt {
                    signature[7] ^= 0x10;
                }
                let valid = matches!(sig, SigKind::Valid | SigKind::WrongChain | SigKind::WrongContract);
                let expected = m.release(&receipt, &signature, valid);
                agree(op, self.market().release(&receipt, &signature), expected)
            }
            Op::Replay { pick } => {
                if m.settled.is_empty() {
                    return Ok(());
                }
                let (receipt, signature) = m.settled[pick % m.settled.len()].clone();
                let expected = m.release(&receipt, &signature, true);
                assert!(expected.is_err(), "model would pay {receipt:?} twice");
                let actual = self.market().release(&receipt, &signature);
                assert!(actual.is_err(), "{receipt:?} paid twice: {actual:?}");
                agree(op, actual, expected)
            }
            Op::Signed { receipt, key, signed_over } => {
                let receipt: &Receipt<Acc> = receipt;
                let signed = signed_over.as_deref().unwrap_or(receipt);
                let signature = sign(*key, signed);
                let valid = signed == receipt && m.jobs.get(&receipt.job_id).is_some_and(|j| j.key == *key);
                let expected = m.release(receipt, &signature, valid);
                agree(op, self.market().release(receipt, &signature), expected)
            }
            Op::Complete { job, caller } => {
                let id = m.job_id(*job);
                let caller = m.consumer_caller(id, *caller);
                let expected = m.complete(caller, id);
                agree(op, self.market().complete(caller, id), expected)
            }
            Op::Refund { job } => {
                let id = m.job_id(*job);
                let expected = m.refund(id);
                agree(op, self.market().refund(id), expected)
            }
            Op::Claim { who, guided } => {
                let who = m.claimant(*who, *guided);
                let expected = m.claim(who);
                agree(op, self.market().claim(who), expected)
            }
            Op::Dispute { job, caller, provider } => {
                let id = m.job_id(*job);
                let caller = m.consumer_caller(id, *caller);
                let provider = m.provider(id, *provider);
                let expected = m.dispute(caller, id, provider);
                agree(op, self.market().dispute(caller, id, provider, REASON), expected)
            }
            Op::Resolve { target, job, provider, caller, slash } => {
                let (id, provider) = match target {
                    Some(t) if !m.disputes.is_empty() => *m.disputes.keys().nth(t % m.disputes.len()).unwrap(),
                    _ => {
                        let id = m.job_id(*job);
                        (id, m.provider(id, *provider))
                    }
                };
                let arbiter = m.jobs.get(&id).map_or(m.arbiter, |j| j.arbiter);
                let caller = caller.map_or(arbiter, |i| ADMIN_CALLERS[i % ADMIN_CALLERS.len()]);
                let stake = m.stake_of(&provider);
                let slash = slash.of(stake.active + stake.unbonding);
                let expected = m.resolve(caller, id, provider, slash);
                agree(op, self.market().resolve_dispute(caller, id, provider, slash), expected)
            }
            Op::Advance { dt } => {
                m.now += dt;
                Ok(())
            }
            Op::Announce { caller, fee_bps, slash_bps, treasury, arbiter, min_stake } => {
                let caller = caller.map_or(m.owner, |i| ADMIN_CALLERS[i % ADMIN_CALLERS.len()]);
                let change = SettingsChange {
                    treasury: treasury.map(|i| TREASURY_CHOICES[i % TREASURY_CHOICES.len()]),
                    arbiter: arbiter.map(|i| ARBITERS[i % ARBITERS.len()]),
                    fee_bps: *fee_bps,
                    min_stake: *min_stake,
                    slash_bps: *slash_bps,
                };
                let expected = m.announce(caller, &change);
                agree(op, self.market().announce_settings(caller, change), expected)
            }
            Op::Apply { caller } => {
                let caller = caller.map_or(m.owner, |i| ADMIN_CALLERS[i % ADMIN_CALLERS.len()]);
                let expected = m.apply(caller);
                agree(op, self.market().apply_settings(caller), expected)
            }
            Op::Pause { caller, paused } => {
                let caller = caller.map_or(m.owner, |i| ADMIN_CALLERS[i % ADMIN_CALLERS.len()]);
                let expected = m.pause(caller, *paused);
                agree(op, self.market().set_paused(caller, *paused), expected)
            }
            Op::Transfer { caller, to } => {
                let caller = caller.map_or(m.owner, |i| ADMIN_CALLERS[i % ADMIN_CALLERS.len()]);
                let to = ADMIN_CALLERS[to % ADMIN_CALLERS.len()];
                let expected = m.transfer(caller, to);
                agree(op, self.market().transfer_ownership(caller, to), expected)
            }
            Op::Accept { caller } => {
                let caller = ADMIN_CALLERS[caller % ADMIN_CALLERS.len()];
                let expected = m.accept(caller);
                agree(op, self.market().accept_ownership(caller), expected)
            }
        }
    }
}
