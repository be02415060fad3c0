//! The synthetic history: `settlement::Market` over a `MemoryStore` plays a marketplace block by
//! block, and each block's events leave as the `ChainBlock` the chain would hold for them.

use std::collections::{BTreeMap, HashMap, VecDeque};

use escrow_client::blocks::{ChainBlock, EmittedEvent};
use escrow_client::AccountId;
use scale::Encode;
use settlement::memory::MemoryStore;
use settlement::{Domain, Event, JobId, Market, OpenJob, Receipt, SettingsChange};
use sha2::{Digest, Sha256};

/// The synthetic market's timing: `escrow deploy`'s defaults (30-day jobs, 10 min settle grace and
/// thaw, 1 h dispute window, 2 h unbonding, 4 h admin delay, 3 days to arbitrate).
pub const TIMING: settlement::Timing = settlement::Timing {
    unbond_delay: 2 * 3_600_000,
    dispute_window: 3_600_000,
    settle_grace: 600_000,
    max_job_duration: 30 * 24 * 3_600_000,
    thaw_period: 600_000,
    admin_delay: 4 * 3_600_000,
    arbitration_period: 3 * 24 * 3_600_000,
};
/// Providers and consumers of the synthetic market.
pub const PROVIDERS: usize = 1_000;
/// See [`PROVIDERS`].
pub const CONSUMERS: usize = 250;
/// The first synthetic job id (the live contract's count from 1).
pub const FIRST_JOB: JobId = 1_000_000;
/// Jobs open at once.
const ACTIVE_JOBS: usize = 150;
/// Stake calls per block while the providers join.
const STAKES_PER_BLOCK: usize = 200;
/// The largest step of a lane's cumulative amount per receipt.
const STEP: u128 = 20_000_000_000;
/// Blocks sent to the writer at once.
const CHUNK: usize = 32;

/// What to generate.
pub struct Plan {
    /// About this many events.
    pub events: u64,
    /// The real hashes of blocks `0..hashes.len()`.
    pub hashes: Vec<[u8; 32]>,
    /// Block 0's synthetic timestamp.
    pub first_ts: u64,
    /// Synthetic time between blocks.
    pub block_ms: u64,
    /// The chain.
    pub genesis: [u8; 32],
    /// The escrow.
    pub contract: AccountId,
    /// Its owner, treasury and arbiter.
    pub owner: AccountId,
    /// See `owner`.
    pub treasury: AccountId,
    /// See `owner`.
    pub arbiter: AccountId,
    /// Its minimum stake.
    pub min_stake: u128,
    /// Signature topic per event label.
    pub topics: HashMap<String, [u8; 32]>,
}

/// What was generated.
pub struct Made {
    /// Events made.
    pub events: u64,
    /// Each job: id, first and last block.
    pub jobs: Vec<(JobId, u64, u64)>,
    /// Providers, busiest first.
    pub providers: Vec<AccountId>,
    /// Consumers, busiest first.
    pub consumers: Vec<AccountId>,
    /// Events concerning each account.
    pub concerning: HashMap<AccountId, u64>,
    /// Events per kind.
    pub kinds: BTreeMap<&'static str, u64>,
}

/// splitmix64.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    /// An index in `0..n`, low ones far likelier (the product of two uniforms).
    pub fn skewed(&mut self, n: usize) -> usize {
        let n = n as u64;
        (self.below(n) * self.below(n) / n.max(1)) as usize
    }
    /// True `per_mille` times in 1,000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1_000) < per_mille
    }
}

/// The ink! event label of `e` (the variant's name).
#[must_use]
pub fn label(e: &Event<AccountId>) -> &'static str {
    match e {
        Event::JobOpened { .. } => "JobOpened",
        Event::JobAccepted { .. } => "JobAccepted",
        Event::ToppedUp { .. } => "ToppedUp",
        Event::Allocated { .. } => "Allocated",
        Event::ThawStarted { .. } => "ThawStarted",
        Event::Released { .. } => "Released",
        Event::JobCompleted { .. } => "JobCompleted",
        Event::Refunded { .. } => "Refunded",
        Event::Claimed { .. } => "Claimed",
        Event::Staked { .. } => "Staked",
        Event::Unbonding { .. } => "Unbonding",
        Event::Withdrawn { .. } => "Withdrawn",
        Event::DisputeOpened { .. } => "DisputeOpened",
        Event::DisputeResolved { .. } => "DisputeResolved",
        Event::ReputationChanged { .. } => "ReputationChanged",
        Event::OwnershipTransferStarted { .. } => "OwnershipTransferStarted",
        Event::OwnershipTransferred { .. } => "OwnershipTransferred",
        Event::SettingsAnnounced { .. } => "SettingsAnnounced",
        Event::SettingsChanged { .. } => "SettingsChanged",
    }
}

/// Each event's signature topic, from the bundle's metadata.
pub fn signature_topics(bundle: &str) -> testkit::TestResult<HashMap<String, [u8; 32]>> {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(bundle)?)?;
    let mut out = HashMap::new();
    for e in json["spec"]["events"].as_array().ok_or("bundle without events")? {
        let (Some(label), Some(topic)) = (e["label"].as_str(), e["signature_topic"].as_str()) else { continue };
        let bytes = hex::decode(topic.trim_start_matches("0x"))?;
        out.insert(label.to_string(), <[u8; 32]>::try_from(bytes).map_err(|_| "topic of another size")?);
    }
    Ok(out)
}

/// A 32-byte account for `role` number `i`.
fn account(role: &str, i: usize) -> AccountId {
    Sha256::digest(format!("indexer-scale/{role}/{i}")).into()
}

type Signer = Box<dyn Fn(&Receipt<AccountId>) -> [u8; 64] + Send>;

struct LaneSim {
    provider: usize,
    cumulative: u128,
    sequence: u64,
    left: u32,
}

struct JobSim {
    id: JobId,
    consumer: usize,
    lanes: Vec<LaneSim>,
    expires_at: u64,
}

struct Sim {
    plan: Plan,
    store: MemoryStore,
    rng: Rng,
    now: u64,
    block: u64,
    providers: Vec<AccountId>,
    consumers: Vec<AccountId>,
    signers: Vec<Signer>,
    payer_keys: Vec<[u8; 32]>,
    staked: usize,
    active: Vec<JobSim>,
    refunds: VecDeque<(u64, JobId, usize)>,
    disputes: VecDeque<(u64, JobId, AccountId)>,
    owed: Vec<usize>,
    owed_flag: Vec<bool>,
    unbonding: Vec<usize>,
    events: Vec<EmittedEvent>,
    extrinsic: u32,
    next_event: u32,
    spans: BTreeMap<JobId, (u64, u64)>,
    made: Made,
}

impl Sim {
    /// A new extrinsic in the current block (its fee and success events take indices too).
    fn begin(&mut self) {
        self.extrinsic += 1;
        self.next_event += 2;
    }

    /// `op` on the market at this block's time; its events (if it succeeded) join the block.
    fn apply<T>(&mut self, op: impl FnOnce(&mut Market<'_, MemoryStore>) -> settlement::Result<T>) -> Option<T> {
        let outcome = op(&mut Market::new(&mut self.store, self.now));
        for e in std::mem::take(&mut self.store.events) {
            self.push(e);
        }
        outcome.ok()
    }

    fn push(&mut self, e: Event<AccountId>) {
        let kind = label(&e);
        *self.made.kinds.entry(kind).or_default() += 1;
        self.made.events += 1;
        for a in indexer::record::accounts_of(&e, Some(self.plan.treasury)) {
            *self.made.concerning.entry(a).or_default() += 1;
        }
        if let Some(job) = e.job_id() {
            let block = self.block;
            self.spans.entry(job).and_modify(|s| s.1 = block).or_insert((block, block));
        }
        let data = e.encode()[1..].to_vec();
        self.events.push(EmittedEvent {
            event_index: self.next_event,
            extrinsic_index: Some(self.extrinsic),
            contract: self.plan.contract,
            topics: vec![self.plan.topics[kind]],
            data,
        });
        self.next_event += 1;
    }

    fn open_job(&mut self) {
        let consumer = self.rng.skewed(CONSUMERS);
        let count = 1 + self.rng.below(3) as usize;
        let mut lanes: Vec<LaneSim> = Vec::new();
        while lanes.len() < count {
            let provider = self.rng.skewed(PROVIDERS);
            if lanes.iter().all(|l| l.provider != provider) {
                let left = 10 + self.rng.below(140) as u32;
                lanes.push(LaneSim { provider, cumulative: 0, sequence: 0, left });
            }
        }
        let req = OpenJob {
            providers: lanes.iter().map(|l| (self.providers[l.provider], u128::from(l.left) * STEP)).collect(),
            payer_key: self.payer_keys[consumer],
            terms_hash: Sha256::digest(self.rng.next().to_le_bytes()).into(),
            expires_at: self.now + TIMING.max_job_duration,
        };
        let allocated: u128 = req.providers.iter().map(|(_, a)| a).sum();
        let who = self.consumers[consumer];
        self.begin();
        let Some(id) = self.apply(|m| m.open_job(who, allocated + allocated / 10, req.clone())) else { return };
        for lane in &lanes {
            let provider = self.providers[lane.provider];
            self.begin();
            self.apply(|m| m.accept_job(provider, id, 0, u128::MAX));
        }
        self.active.push(JobSim { id, consumer, lanes, expires_at: req.expires_at });
    }

    /// One `release_many` of up to `n` receipts over random lanes of the open jobs.
    fn release_many(&mut self, n: u64) {
        self.begin();
        let mut finished = Vec::new();
        for _ in 0..n {
            if self.active.is_empty() {
                break;
            }
            let j = self.rng.below(self.active.len() as u64) as usize;
            let job = &mut self.active[j];
            let open: Vec<usize> = (0..job.lanes.len()).filter(|&i| job.lanes[i].left > 0).collect();
            if open.is_empty() {
                continue;
            }
            let l = open[self.rng.below(open.len() as u64) as usize];
            let lane = &mut job.lanes[l];
            lane.cumulative += STEP / 4 + u128::from(self.rng.below((STEP * 3 / 4) as u64));
            lane.sequence += 1;
            lane.left -= 1;
            let receipt = Receipt {
                domain: Domain { genesis_hash: self.plan.genesis, contract: self.plan.contract },
                job_id: job.id,
                provider: self.providers[lane.provider],
                amount: lane.cumulative,
                units: u128::from(lane.sequence) * 10,
                sequence: lane.sequence,
                expires_at: testkit::FAR_FUTURE_MS,
            };
            let provider = lane.provider;
            let signature = (self.signers[job.consumer])(&receipt);
            if self.apply(|m| m.release(&receipt, &signature)).is_some() {
                if !self.owed_flag[provider] {
                    self.owed_flag[provider] = true;
                    self.owed.push(provider);
                }
            } else {
                // Refused (the job ended, the provider never accepted): the lane is done.
                self.active[j].lanes[l].left = 0;
            }
            let job = &self.active[j];
            let done = job.lanes.iter().all(|l| l.left == 0) || self.now + 2 * self.plan.block_ms >= job.expires_at;
            if done && !finished.contains(&j) {
                finished.push(j);
            }
        }
        finished.sort_unstable();
        for j in finished.into_iter().rev() {
            self.finish(j);
        }
    }

    /// Completes an open job: refunded once it ends, and now and then disputed first.
    fn finish(&mut self, j: usize) {
        let job = self.active.swap_remove(j);
        let consumer = self.consumers[job.consumer];
        self.begin();
        // A job that already ended (its expiry) needs no completion: it is refunded all the same.
        let ends_at = self.apply(|m| m.complete(consumer, job.id)).unwrap_or(self.now);
        self.refunds.push_back((ends_at, job.id, job.consumer));
        if self.rng.chance(20) {
            let provider = self.providers[job.lanes[0].provider];
            self.begin();
            if self.apply(|m| m.dispute(consumer, job.id, provider, [7; 32])).is_some() {
                self.disputes.push_back((self.now + 2 * self.plan.block_ms, job.id, provider));
            }
        }
    }

    /// What the block does besides releases: joins, due refunds and rulings, claims, the odd
    /// top-up, thaw, stake change and the one settings change.
    fn chores(&mut self, blocks: u64) {
        if self.block == 0 {
            self.begin();
            let config = self.store.config.clone();
            self.push(Event::SettingsChanged {
                treasury: config.treasury,
                arbiter: config.arbiter,
                fee_bps: config.fee_bps,
                min_stake: config.min_stake,
                slash_bps: config.slash_bps,
                paused: false,
            });
        }
        for _ in 0..STAKES_PER_BLOCK {
            if self.staked == PROVIDERS {
                break;
            }
            let (provider, amount) =
                (self.providers[self.staked], self.plan.min_stake * u128::from(1 + self.rng.below(4)));
            self.begin();
            self.apply(|m| m.stake(provider, amount));
            self.staked += 1;
        }
        while self.refunds.front().is_some_and(|r| r.0 < self.now) {
            let (_, id, consumer) = self.refunds.pop_front().unwrap();
            self.begin();
            if self.apply(|m| m.refund(id)).is_some() && self.rng.chance(300) {
                let who = self.consumers[consumer];
                self.begin();
                self.apply(|m| m.claim(who));
            }
        }
        while self.disputes.front().is_some_and(|d| d.0 <= self.now) {
            let (_, id, provider) = self.disputes.pop_front().unwrap();
            let slash =
                if self.rng.chance(700) { self.plan.min_stake / 100 * u128::from(1 + self.rng.below(10)) } else { 0 };
            let arbiter = self.plan.arbiter;
            self.begin();
            if self.apply(|m| m.resolve_dispute(arbiter, id, provider, slash)).is_none() {
                self.apply(|m| m.resolve_dispute(arbiter, id, provider, 0));
            }
        }
        for _ in 0..2 {
            if !self.owed.is_empty() && self.rng.chance(600) {
                let i = self.rng.below(self.owed.len() as u64) as usize;
                let provider = self.owed.swap_remove(i);
                self.owed_flag[provider] = false;
                let who = self.providers[provider];
                self.begin();
                self.apply(|m| m.claim(who));
            }
        }
        // The treasury claims about once a day.
        if self.block % (86_400_000 / self.plan.block_ms).max(1) == 0 && self.block > 0 {
            let treasury = self.plan.treasury;
            self.begin();
            self.apply(|m| m.claim(treasury));
        }
        if !self.active.is_empty() && self.rng.chance(30) {
            let j = self.rng.below(self.active.len() as u64) as usize;
            let l = self.rng.below(self.active[j].lanes.len() as u64) as usize;
            let (id, consumer, provider) = (
                self.active[j].id,
                self.consumers[self.active[j].consumer],
                self.providers[self.active[j].lanes[l].provider],
            );
            self.begin();
            if self.apply(|m| m.top_up(consumer, id, 10 * STEP, Some(provider))).is_some() {
                self.active[j].lanes[l].left += 10;
            }
        }
        if !self.active.is_empty() && self.rng.chance(10) {
            let j = self.rng.below(self.active.len() as u64) as usize;
            let (id, consumer, provider) = (
                self.active[j].id,
                self.consumers[self.active[j].consumer],
                self.providers[self.active[j].lanes[0].provider],
            );
            self.begin();
            self.apply(|m| m.thaw(consumer, id, provider, 1_000));
        }
        if self.staked == PROVIDERS && self.rng.chance(10) {
            let provider = self.providers[self.rng.below(PROVIDERS as u64) as usize];
            let amount = self.plan.min_stake / 10;
            self.begin();
            self.apply(|m| m.stake(provider, amount));
        }
        if self.staked == PROVIDERS && self.rng.chance(5) {
            let i = self.rng.below(PROVIDERS as u64) as usize;
            let (provider, amount) = (self.providers[i], self.plan.min_stake / 10);
            self.begin();
            if self.apply(|m| m.unbond(provider, amount)).is_some() {
                self.unbonding.push(i);
            }
        }
        if !self.unbonding.is_empty() && self.rng.chance(10) {
            let i = self.rng.below(self.unbonding.len() as u64) as usize;
            let provider = self.providers[self.unbonding[i]];
            self.begin();
            if self.apply(|m| m.withdraw(provider)).is_some() {
                self.unbonding.swap_remove(i);
            }
        }
        if self.block == blocks / 2 {
            let (owner, change) = (self.plan.owner, SettingsChange { fee_bps: Some(450), ..SettingsChange::default() });
            self.begin();
            self.apply(|m| m.announce_settings(owner, change));
        }
        if self.block == blocks / 2 + TIMING.admin_delay / self.plan.block_ms + 1 {
            let owner = self.plan.owner;
            self.begin();
            self.apply(|m| m.apply_settings(owner));
        }
    }

    /// Block `k`, with about `budget` events.
    fn block(&mut self, k: u64, budget: u64, blocks: u64) -> ChainBlock {
        self.block = k;
        self.now = self.plan.first_ts + k * self.plan.block_ms;
        self.extrinsic = 0;
        self.next_event = 1;
        if budget > 0 {
            self.chores(blocks);
            while (self.events.len() as u64) < budget {
                let before = self.events.len();
                if self.staked < PROVIDERS {
                    break;
                }
                if self.active.len() < ACTIVE_JOBS {
                    self.open_job();
                } else {
                    let left = budget - self.events.len() as u64;
                    self.release_many(left.clamp(1, escrow_client::MAX_RELEASES_PER_CALL as u64));
                }
                if self.events.len() == before && self.active.is_empty() {
                    break;
                }
            }
        }
        let k = k as usize;
        ChainBlock {
            number: self.block,
            hash: self.plan.hashes[k],
            parent_hash: if k == 0 { [0; 32] } else { self.plan.hashes[k - 1] },
            timestamp: self.now,
            events: std::mem::take(&mut self.events),
        }
    }
}

/// Generates the history of `plan` and sends it, block by block in chunks, to `out`.
pub fn generate(plan: Plan, out: &tokio::sync::mpsc::Sender<Vec<ChainBlock>>) -> Made {
    let providers: Vec<AccountId> = (0..PROVIDERS).map(|i| account("provider", i)).collect();
    let consumers: Vec<AccountId> = (0..CONSUMERS).map(|i| account("consumer", i)).collect();
    let keys: Vec<_> = (0..CONSUMERS).map(ed25519_key).collect();
    let payer_keys = keys.iter().map(|(public, _)| *public).collect();
    let signers = keys.into_iter().map(|(_, signer)| signer).collect();
    let config = settlement::Config {
        owner: plan.owner,
        pending_owner: None,
        treasury: plan.treasury,
        arbiter: plan.arbiter,
        fee_bps: 500,
        min_stake: plan.min_stake,
        slash_bps: testkit::TEST_SLASH_BPS,
        paused: false,
        announced: None,
        timing: TIMING,
        domain: Domain { genesis_hash: plan.genesis, contract: plan.contract },
        next_job_id: FIRST_JOB,
        fees: 0,
    };
    let blocks = plan.hashes.len() as u64;
    let target = plan.events;
    let mut sim = Sim {
        plan,
        store: MemoryStore::new(config),
        rng: Rng(14),
        now: 0,
        block: 0,
        providers,
        consumers,
        signers,
        payer_keys,
        staked: 0,
        active: Vec::new(),
        refunds: VecDeque::new(),
        disputes: VecDeque::new(),
        owed: Vec::new(),
        owed_flag: vec![false; PROVIDERS],
        unbonding: Vec::new(),
        events: Vec::new(),
        extrinsic: 0,
        next_event: 0,
        spans: BTreeMap::new(),
        made: Made {
            events: 0,
            jobs: Vec::new(),
            providers: Vec::new(),
            consumers: Vec::new(),
            concerning: HashMap::new(),
            kinds: BTreeMap::new(),
        },
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    for k in 0..blocks {
        let remaining = target.saturating_sub(sim.made.events);
        let mean = remaining / (blocks - k);
        let budget = if k + 1 == blocks { remaining } else { mean / 2 + sim.rng.below(mean + 1) };
        chunk.push(sim.block(k, budget.max(u64::from(remaining > 0)), blocks));
        if chunk.len() == CHUNK && out.blocking_send(std::mem::take(&mut chunk)).is_err() {
            break;
        }
    }
    if !chunk.is_empty() {
        let _ = out.blocking_send(chunk);
    }
    let mut made = sim.made;
    made.jobs = sim.spans.into_iter().map(|(id, (first, last))| (id, first, last)).collect();
    let by_use = |accounts: Vec<AccountId>| {
        let mut v: Vec<(u64, AccountId)> =
            accounts.into_iter().map(|a| (made.concerning.get(&a).copied().unwrap_or(0), a)).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().map(|(_, a)| a).collect::<Vec<_>>()
    };
    made.providers = by_use(sim.providers);
    made.consumers = by_use(sim.consumers);
    made
}

/// Consumer `i`'s payer key: its public key and a signer.
fn ed25519_key(i: usize) -> ([u8; 32], Signer) {
    let key = testkit::payer(u8::try_from(i % 250).unwrap_or(0).wrapping_add(1));
    (key.verifying_key().to_bytes(), Box::new(move |r: &Receipt<AccountId>| r.sign(&key)))
}
