//! An in-memory [`Store`], for off-chain simulation and the model tests.

use std::collections::BTreeMap;

use scale::Encode;

use crate::market::Store;
use crate::state::{Config, Dispute, Job, Lane, Reputation, Stake};
use crate::{Balance, Event, JobId};

/// A 32-byte account, as on Substrate chains.
pub type AccountBytes = [u8; 32];

/// Every record in ordered maps, and every event in the order emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryStore {
    /// The configuration.
    pub config: Config<AccountBytes>,
    /// Jobs by id.
    pub jobs: BTreeMap<JobId, Job<AccountBytes>>,
    /// Stakes by provider.
    pub stakes: BTreeMap<AccountBytes, Stake>,
    /// Reputation by provider.
    pub reputations: BTreeMap<AccountBytes, Reputation>,
    /// Claimable balances by account.
    pub balances: BTreeMap<AccountBytes, Balance>,
    /// Disputes by (job, provider).
    pub disputes: BTreeMap<(JobId, AccountBytes), Dispute>,
    /// Everything emitted, oldest first.
    pub events: Vec<Event<AccountBytes>>,
}

impl MemoryStore {
    /// An escrow with `config` and, as the contract's constructor leaves it, nothing but the
    /// treasury's (empty) claimable balance record.
    #[must_use]
    pub fn new(config: Config<AccountBytes>) -> Self {
        let balances = BTreeMap::from([(config.treasury, 0)]);
        Self {
            config,
            jobs: BTreeMap::new(),
            stakes: BTreeMap::new(),
            reputations: BTreeMap::new(),
            balances,
            disputes: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    /// The lanes of every provider that accepted its job, by (job, provider) (they live in the jobs).
    #[must_use]
    pub fn lanes(&self) -> BTreeMap<(JobId, AccountBytes), Lane> {
        let mut lanes = BTreeMap::new();
        for (id, job) in &self.jobs {
            for (provider, slot) in job.providers.iter().zip(&job.slots) {
                if slot.is_accepted() {
                    lanes.insert((*id, *provider), slot.lane);
                }
            }
        }
        lanes
    }

    /// What `who` can claim: its balance, and for the treasury the fees accrued since its last claim.
    #[must_use]
    pub fn claimable(&self, who: &AccountBytes) -> Balance {
        let fees = if *who == self.config.treasury { self.config.fees } else { 0 };
        self.balances.get(who).copied().unwrap_or_default().saturating_add(fees)
    }

    /// The storage the escrow occupies, as pallet-contracts charges deposits for it: per map (and the
    /// root cell, `config`), how many items and how many bytes of SCALE-encoded keys and values.
    #[must_use]
    pub fn footprint(&self) -> Vec<(&'static str, usize, usize)> {
        fn map<K: Encode, V: Encode>(name: &'static str, m: &BTreeMap<K, V>) -> (&'static str, usize, usize) {
            (
                name,
                m.len(),
                m.iter().map(|(k, v)| k.encoded_size().saturating_add(v.encoded_size())).fold(0, usize::saturating_add),
            )
        }
        vec![
            ("config", 1, self.config.encoded_size()),
            map("jobs", &self.jobs),
            map("stakes", &self.stakes),
            map("reputations", &self.reputations),
            map("balances", &self.balances),
            map("disputes", &self.disputes),
        ]
    }
}

impl Store for MemoryStore {
    type Account = AccountBytes;

    fn config(&self) -> Config<AccountBytes> {
        self.config.clone()
    }
    fn set_config(&mut self, config: &Config<AccountBytes>) {
        self.config = config.clone();
    }
    fn job(&self, id: JobId) -> Option<Job<AccountBytes>> {
        self.jobs.get(&id).cloned()
    }
    fn set_job(&mut self, id: JobId, job: &Job<AccountBytes>) {
        self.jobs.insert(id, job.clone());
    }
    fn stake(&self, who: &AccountBytes) -> Stake {
        self.stakes.get(who).copied().unwrap_or_default()
    }
    fn set_stake(&mut self, who: &AccountBytes, stake: &Stake) {
        self.stakes.insert(*who, *stake);
    }
    fn reputation(&self, who: &AccountBytes) -> Reputation {
        self.reputations.get(who).copied().unwrap_or_default()
    }
    fn set_reputation(&mut self, who: &AccountBytes, reputation: &Reputation) {
        self.reputations.insert(*who, *reputation);
    }
    fn balance(&self, who: &AccountBytes) -> Balance {
        self.balances.get(who).copied().unwrap_or_default()
    }
    fn set_balance(&mut self, who: &AccountBytes, balance: Balance) {
        self.balances.insert(*who, balance);
    }
    fn dispute(&self, id: JobId, provider: &AccountBytes) -> Option<Dispute> {
        self.disputes.get(&(id, *provider)).copied()
    }
    fn set_dispute(&mut self, id: JobId, provider: &AccountBytes, dispute: &Dispute) {
        self.disputes.insert((id, *provider), *dispute);
    }
    fn emit(&mut self, event: Event<AccountBytes>) {
        self.events.push(event);
    }
}
