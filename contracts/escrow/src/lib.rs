//! # escrow
//!
//! The on-chain escrow of the compute marketplace (ink! 5 on pallet-contracts). A thin layer: every rule
//! lives in the `settlement` crate's [`settlement::Market`]; this contract stores its records in contract
//! storage, passes in the caller, the transferred value and the block time, turns the rules' events
//! into ink! events (topics: job, consumer, provider) and moves native funds on `claim` and `withdraw`.
//!
//! Every message returns `Result<_, settlement::Error>`; an `Err` reverts all of the call's changes.

#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[cfg(test)]
mod tests;

/// Depositing events from bytes encoded once, by one code path for all of them (see `escrow::emit`),
/// instead of one `ink::env::emit_event` per event type: it keeps the Wasm within its budget.
mod encoded {
    /// A settlement event's SCALE encoding: room for the largest (`JobOpened` naming four providers, 359
    /// bytes with its variant index).
    pub struct Data {
        bytes: [u8; 512],
        len: usize,
    }

    impl Default for Data {
        fn default() -> Self {
            Self { bytes: [0; 512], len: 0 }
        }
    }

    impl Data {
        /// The bytes written so far.
        pub fn bytes(&self) -> &[u8] {
            self.bytes.get(..self.len).unwrap_or_default()
        }
    }

    impl scale::Output for Data {
        /// Appends `bytes`.
        fn write(&mut self, bytes: &[u8]) {
            let end = self.len.saturating_add(bytes.len());
            match self.bytes.get_mut(self.len..end) {
                Some(room) => room.copy_from_slice(bytes),
                None => panic!("event data over 512 bytes"),
            }
            self.len = end;
        }
    }

    /// An event's topics as `seal_deposit_event` takes them: the SCALE encoding of a `Vec<[u8; 32]>` (a
    /// one-byte compact count, then each topic).
    pub struct Topics {
        bytes: [u8; 1 + 4 * 32],
        len: usize,
    }

    impl Topics {
        /// `signature`, then each of `others` that is there.
        pub fn new(signature: [u8; 32], others: [Option<[u8; 32]>; 3]) -> Self {
            let mut bytes = [0; 1 + 4 * 32];
            let mut count = 0_u8;
            let all = core::iter::once(signature).chain(others.into_iter().flatten());
            for (slot, topic) in bytes[1..].chunks_exact_mut(32).zip(all) {
                slot.copy_from_slice(&topic);
                count = count.saturating_add(1);
            }
            // The compact encoding of a count below 64: the count shifted left by two.
            bytes[0] = count.saturating_mul(4);
            Self { bytes, len: usize::from(count).saturating_mul(32).saturating_add(1) }
        }

        /// The encoded topics.
        pub fn bytes(&self) -> &[u8] {
            self.bytes.get(..self.len).unwrap_or_default()
        }
    }

    /// Deposits an event with `topics` and SCALE-encoded `data`.
    #[cfg(not(feature = "std"))]
    pub fn deposit(topics: &Topics, data: &[u8]) {
        use pallet_contracts_uapi::{HostFn, HostFnImpl};
        HostFnImpl::deposit_event(topics.bytes(), data);
    }

    /// Deposits an event with `topics` and SCALE-encoded `data`. Off chain, ink!'s test engine records
    /// only what `ink::env::emit_event` emits: the topics are decoded back, for an event type that pushes
    /// them as they are.
    #[cfg(feature = "std")]
    pub fn deposit(topics: &Topics, data: &[u8]) {
        use ink::env::DefaultEnvironment as E;
        let list = <Vec<[u8; 32]> as scale::Decode>::decode(&mut topics.bytes()).expect("topics decode");
        let mut all = [[0; 32]; 4];
        for (slot, topic) in all.iter_mut().zip(&list) {
            *slot = *topic;
        }
        let topics = &all;
        match list.len() {
            1 => ink::env::emit_event::<E, _>(off_chain::Encoded::<1> { topics, data }),
            2 => ink::env::emit_event::<E, _>(off_chain::Encoded::<2> { topics, data }),
            3 => ink::env::emit_event::<E, _>(off_chain::Encoded::<3> { topics, data }),
            _ => ink::env::emit_event::<E, _>(off_chain::Encoded::<4> { topics, data }),
        }
    }

    #[cfg(feature = "std")]
    mod off_chain {
        use ink::env::event::{state, TopicsBuilder, TopicsBuilderBackend};
        use ink::env::Environment;

        /// An event whose topics (the first `N`, the signature first) and data are encoded already.
        pub struct Encoded<'a, const N: usize> {
            pub topics: &'a [[u8; 32]; 4],
            pub data: &'a [u8],
        }

        impl<const N: usize> scale::Encode for Encoded<'_, N> {
            fn size_hint(&self) -> usize {
                self.data.len()
            }
            fn encode_to<T: scale::Output + ?Sized>(&self, dest: &mut T) {
                dest.write(self.data);
            }
        }

        macro_rules! encoded_event {
            ($($n:literal => [$($i:literal),*];)*) => {$(
                impl ink::env::Event for Encoded<'_, $n> {
                    type RemainingTopics = [state::HasRemainingTopics; $n];
                    // The signature is the first of `topics`.
                    const SIGNATURE_TOPIC: Option<[u8; 32]> = None;

                    fn topics<E, B>(&self, builder: TopicsBuilder<state::Uninit, E, B>) -> B::Output
                    where
                        E: Environment,
                        B: TopicsBuilderBackend<E>,
                    {
                        builder.build::<Self>()$(.push_topic(Some(&self.topics[$i])))*.finish()
                    }
                }
            )*};
        }

        encoded_event! {
            1 => [0];
            2 => [0, 1];
            3 => [0, 1, 2];
            4 => [0, 1, 2, 3];
        }
    }
}

/// The escrow contract.
#[ink::contract]
pub mod escrow {
    use ink::prelude::vec::Vec;
    use ink::storage::Mapping;
    use settlement::fee::Split;
    use settlement::{
        Config, Dispute, Domain, Error, Event, Job, JobId, Lane, Market, OpenJob, Receipt, Reputation, Settings,
        SettingsChange, Stake, Store, Timing,
    };

    /// The escrow's records.
    #[ink(storage)]
    pub struct Escrow {
        config: Config<AccountId>,
        jobs: Mapping<JobId, Job<AccountId>>,
        stakes: Mapping<AccountId, Stake>,
        reputations: Mapping<AccountId, Reputation>,
        balances: Mapping<AccountId, Balance>,
        disputes: Mapping<(JobId, AccountId), Dispute>,
    }

    /// Result of an escrow message.
    pub type Result<T> = core::result::Result<T, Error>;

    /// A job was opened with its first deposit.
    #[ink(event)]
    pub struct JobOpened {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The job's consumer.
        pub consumer: AccountId,
        /// Who may be paid.
        pub providers: Vec<AccountId>,
        /// Each provider's allocation, in the order of `providers`.
        pub allocations: Vec<Balance>,
        /// Deposited in total so far.
        pub deposit: Balance,
        /// The ed25519 key that signs receipts.
        pub payer_key: [u8; 32],
        /// Hash of the agreed terms.
        pub terms_hash: [u8; 32],
        /// Fee in basis points.
        pub fee_bps: u16,
        /// Slash share in basis points (of the funds a provider accepts the job with).
        pub slash_bps: u16,
        /// The arbiter fixed for this job: the only account that may slash through it.
        pub arbiter: AccountId,
        /// Expiry (ms since the Unix epoch).
        pub expires_at: Timestamp,
    }

    /// A provider accepted a job: it can now be paid, disputed and slashed (at most `max_slash` per
    /// dispute) through it, and its stake is locked until `locked_until`.
    #[ink(event)]
    pub struct JobAccepted {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// Its allocation when it accepted.
        pub funds: Balance,
        /// The most one dispute on this job may slash.
        pub max_slash: Balance,
        /// The stake's lock after accepting.
        pub locked_until: Timestamp,
    }

    /// The consumer added funds to a job.
    #[ink(event)]
    pub struct ToppedUp {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The job's consumer.
        pub consumer: AccountId,
        /// The amount moved by this change.
        pub amount: Balance,
        /// Deposited in total so far.
        pub deposit: Balance,
    }

    /// The consumer raised a provider's allocation, at once, from the job's unallocated funds.
    #[ink(event)]
    pub struct Allocated {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The job's consumer.
        pub consumer: AccountId,
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// The amount moved by this change.
        pub amount: Balance,
        /// The provider's allocation after the change.
        pub allocation: Balance,
        /// The job's unallocated funds after the change (ended thaws folded in).
        pub unallocated: Balance,
    }

    /// The consumer started lowering a provider's allocation: it stays payable in full until `ends_at`,
    /// then drops by `amount` (never below what the provider was paid).
    #[ink(event)]
    pub struct ThawStarted {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The job's consumer.
        pub consumer: AccountId,
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// How much the allocation drops by.
        pub amount: Balance,
        /// When it drops.
        pub ends_at: Timestamp,
    }

    /// A receipt was settled: `net` credited to the provider, `fee` to the treasury.
    #[ink(event)]
    pub struct Released {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The job's consumer.
        pub consumer: AccountId,
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// The settled cumulative amount.
        pub cumulative: Balance,
        /// The settled cumulative usage units.
        pub units: u128,
        /// The released receipt's sequence (informational: receipts are ordered by cumulative amount).
        pub sequence: u64,
        /// The amount moved by this change.
        pub amount: Balance,
        /// The treasury's share.
        pub fee: Balance,
        /// The provider's share.
        pub net: Balance,
    }

    /// The consumer completed a job; receipts are accepted until `ends_at`.
    #[ink(event)]
    pub struct JobCompleted {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The job's consumer.
        pub consumer: AccountId,
        /// When receipts stop being accepted.
        pub ends_at: Timestamp,
    }

    /// A job ended and its remainder was credited back to the consumer.
    #[ink(event)]
    pub struct Refunded {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The job's consumer.
        pub consumer: AccountId,
        /// The amount moved by this change.
        pub amount: Balance,
    }

    /// An account was paid out its claimable balance.
    #[ink(event)]
    pub struct Claimed {
        #[ink(topic)]
        /// The account paid.
        pub account: AccountId,
        /// The amount moved by this change.
        pub amount: Balance,
    }

    /// A provider bonded stake.
    #[ink(event)]
    pub struct Staked {
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// The amount moved by this change.
        pub amount: Balance,
        /// Active stake after the change.
        pub active: Balance,
    }

    /// A provider started unbonding.
    #[ink(event)]
    pub struct Unbonding {
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// The amount moved by this change.
        pub amount: Balance,
        /// Unbonding in total.
        pub unbonding: Balance,
        /// When the unbonding stake unlocks.
        pub unlock_at: Timestamp,
    }

    /// A provider withdrew its unbonded stake.
    #[ink(event)]
    pub struct Withdrawn {
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// The amount moved by this change.
        pub amount: Balance,
    }

    /// A consumer disputed a provider's work on a job.
    #[ink(event)]
    pub struct DisputeOpened {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The job's consumer.
        pub consumer: AccountId,
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// Hash of the evidence.
        pub reason: [u8; 32],
        /// Until when the job's arbiter may slash; afterwards the dispute can only be dismissed.
        pub resolve_by: Timestamp,
    }

    /// The arbiter resolved a dispute; `slashed` went from the provider's stake to the consumer.
    #[ink(event)]
    pub struct DisputeResolved {
        #[ink(topic)]
        /// The job.
        pub job_id: JobId,
        #[ink(topic)]
        /// The job's consumer.
        pub consumer: AccountId,
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// Amount slashed (0: dismissed).
        pub slashed: Balance,
    }

    /// A provider's reputation changed.
    #[ink(event)]
    pub struct ReputationChanged {
        #[ink(topic)]
        /// The provider.
        pub provider: AccountId,
        /// The counters now.
        pub reputation: Reputation,
        /// The score now (per mille).
        pub score: u32,
    }

    /// The owner proposed a new owner.
    #[ink(event)]
    pub struct OwnershipTransferStarted {
        #[ink(topic)]
        /// The (current or new) owner.
        pub owner: AccountId,
        #[ink(topic)]
        /// The proposed owner.
        pub pending: AccountId,
    }

    /// The proposed owner accepted ownership.
    #[ink(event)]
    pub struct OwnershipTransferred {
        #[ink(topic)]
        /// The previous owner.
        pub previous: AccountId,
        #[ink(topic)]
        /// The (current or new) owner.
        pub owner: AccountId,
    }

    /// The owner announced a settings change, to apply from `effective_at` (replacing any pending one).
    #[ink(event)]
    pub struct SettingsAnnounced {
        /// Fee recipient then.
        pub treasury: AccountId,
        /// Arbiter of the jobs opened from then on.
        pub arbiter: AccountId,
        /// Fee in basis points for the jobs opened from then on.
        pub fee_bps: u16,
        /// Minimum provider stake then.
        pub min_stake: Balance,
        /// Slash share for the jobs opened from then on.
        pub slash_bps: u16,
        /// The earliest moment the change may apply.
        pub effective_at: Timestamp,
    }

    /// The settings changed (an announcement applied, or the pause switched); all settings as they now are.
    #[ink(event)]
    pub struct SettingsChanged {
        /// Fee recipient.
        pub treasury: AccountId,
        /// Dispute resolver.
        pub arbiter: AccountId,
        /// Fee in basis points.
        pub fee_bps: u16,
        /// Minimum provider stake for accepting jobs.
        pub min_stake: Balance,
        /// Slash share for new jobs.
        pub slash_bps: u16,
        /// Whether new jobs are refused.
        pub paused: bool,
    }

    impl Store for Escrow {
        type Account = AccountId;

        fn config(&self) -> Config<AccountId> {
            self.config.clone()
        }
        fn set_config(&mut self, config: &Config<AccountId>) {
            self.config = config.clone();
        }
        fn job(&self, id: JobId) -> Option<Job<AccountId>> {
            self.jobs.get(id)
        }
        fn set_job(&mut self, id: JobId, job: &Job<AccountId>) {
            self.jobs.insert(id, job);
        }
        fn stake(&self, who: &AccountId) -> Stake {
            self.stakes.get(who).unwrap_or_default()
        }
        fn set_stake(&mut self, who: &AccountId, stake: &Stake) {
            self.stakes.insert(who, stake);
        }
        fn reputation(&self, who: &AccountId) -> Reputation {
            self.reputations.get(who).unwrap_or_default()
        }
        fn set_reputation(&mut self, who: &AccountId, reputation: &Reputation) {
            self.reputations.insert(who, reputation);
        }
        fn balance(&self, who: &AccountId) -> Balance {
            self.balances.get(who).unwrap_or_default()
        }
        fn set_balance(&mut self, who: &AccountId, balance: Balance) {
            // Kept at zero too: a record is never removed, so no one collects a deposit another paid.
            self.balances.insert(who, &balance);
        }
        fn dispute(&self, id: JobId, provider: &AccountId) -> Option<Dispute> {
            self.disputes.get((id, *provider))
        }
        fn set_dispute(&mut self, id: JobId, provider: &AccountId, dispute: &Dispute) {
            self.disputes.insert((id, *provider), dispute);
        }
        fn emit(&mut self, event: Event<AccountId>) {
            emit(event);
        }
    }

    /// The signature topic of each ink! event, at the index of the settlement event of the same name.
    const SIGNATURES: [[u8; 32]; 19] = [
        signature::<JobOpened>(),
        signature::<JobAccepted>(),
        signature::<ToppedUp>(),
        signature::<Allocated>(),
        signature::<ThawStarted>(),
        signature::<Released>(),
        signature::<JobCompleted>(),
        signature::<Refunded>(),
        signature::<Claimed>(),
        signature::<Staked>(),
        signature::<Unbonding>(),
        signature::<Withdrawn>(),
        signature::<DisputeOpened>(),
        signature::<DisputeResolved>(),
        signature::<ReputationChanged>(),
        signature::<OwnershipTransferStarted>(),
        signature::<OwnershipTransferred>(),
        signature::<SettingsAnnounced>(),
        signature::<SettingsChanged>(),
    ];

    const fn signature<Ev: ink::env::Event>() -> [u8; 32] {
        match Ev::SIGNATURE_TOPIC {
            Some(topic) => topic,
            None => [0; 32],
        }
    }

    /// Emits a settlement event as the ink! event of the same name: the same topics (its signature, then
    /// its `#[ink(topic)]` fields: the job, then the consumer or the account concerned, then the
    /// provider) and the same data (its fields in order) as `ink::env::emit_event` of that struct.
    pub(crate) fn emit(event: Event<AccountId>) {
        let mut data = crate::encoded::Data::default();
        let topics = encode(&event, &mut data);
        crate::encoded::deposit(&topics, data.bytes().get(1..).unwrap_or_default());
    }

    /// Writes the SCALE encoding of `event` to `data` (its variant's index, then its fields) and returns
    /// the topics of its ink! event.
    pub(crate) fn encode(event: &Event<AccountId>, data: &mut crate::encoded::Data) -> crate::encoded::Topics {
        let (first, second) = match event {
            Event::JobOpened { consumer, .. }
            | Event::ToppedUp { consumer, .. }
            | Event::JobCompleted { consumer, .. }
            | Event::Refunded { consumer, .. } => (Some(consumer), None),
            Event::Allocated { consumer, provider, .. }
            | Event::ThawStarted { consumer, provider, .. }
            | Event::Released { consumer, provider, .. }
            | Event::DisputeOpened { consumer, provider, .. }
            | Event::DisputeResolved { consumer, provider, .. } => (Some(consumer), Some(provider)),
            Event::JobAccepted { provider, .. }
            | Event::Staked { provider, .. }
            | Event::Unbonding { provider, .. }
            | Event::Withdrawn { provider, .. }
            | Event::ReputationChanged { provider, .. } => (Some(provider), None),
            Event::Claimed { account, .. } => (Some(account), None),
            Event::OwnershipTransferStarted { owner, pending } => (Some(owner), Some(pending)),
            Event::OwnershipTransferred { previous, owner } => (Some(previous), Some(owner)),
            Event::SettingsAnnounced { .. } | Event::SettingsChanged { .. } => (None, None),
        };
        scale::Encode::encode_to(event, data);
        let index = data.bytes().first().copied().unwrap_or_default();
        let signature = SIGNATURES.get(usize::from(index)).copied().unwrap_or_default();
        crate::encoded::Topics::new(signature, [event.job_id().map(job_topic), first.map(|a| a.0), second.map(|a| a.0)])
    }

    /// The topic of a job id: its SCALE encoding, zero-padded to 32 bytes (as ink! pads every topic
    /// shorter than a hash).
    fn job_topic(job_id: JobId) -> [u8; 32] {
        let mut topic = [0; 32];
        topic[..8].copy_from_slice(&job_id.to_le_bytes());
        topic
    }

    impl Escrow {
        /// Creates the escrow. The caller becomes its owner. `genesis_hash` is this chain's genesis block
        /// hash (receipts must be signed for it); the fee is capped at 10 %. `InvalidConfig` unless the
        /// unbonding delay is longer than the dispute window, the maximum job duration, thaw period and
        /// arbitration period are positive, the settle grace is at least the thaw period and the admin
        /// delay is longer than the dispute window plus the unbonding delay.
        #[ink(constructor)]
        pub fn new(
            genesis_hash: [u8; 32],
            treasury: AccountId,
            arbiter: AccountId,
            fee_bps: u16,
            min_stake: Balance,
            slash_bps: u16,
            timing: Timing,
        ) -> Result<Self> {
            let domain = Domain { genesis_hash, contract: Self::env().account_id() };
            let settings = Settings { treasury, arbiter, fee_bps, min_stake, slash_bps };
            let config = Config::new(Self::env().caller(), settings, timing, domain)?;
            // The initial settings are a state change too: indexers learn the treasury from it.
            emit(Event::SettingsChanged { treasury, arbiter, fee_bps, min_stake, slash_bps, paused: false });
            // The treasury's claimable balance record, at the deployer's cost: no release creates it.
            let mut balances = Mapping::default();
            balances.insert(treasury, &0);
            Ok(Self {
                config,
                jobs: Mapping::default(),
                stakes: Mapping::default(),
                reputations: Mapping::default(),
                balances,
                disputes: Mapping::default(),
            })
        }

        fn market(&mut self) -> Market<'_, Self> {
            let now = self.env().block_timestamp();
            Market::new(self, now)
        }

        fn pay_out(&self, to: AccountId, amount: Balance) -> Result<Balance> {
            self.env().transfer(to, amount).map_err(|_| Error::TransferFailed)?;
            Ok(amount)
        }

        // ------------------------------------------------------------ jobs

        /// Opens a job funded with the transferred value; returns its id. `providers`: 1 to 4 distinct
        /// accounts, each with its allocation (the most its receipts may draw; together at most the
        /// deposit, the rest stays unallocated); naming them touches nothing of theirs: each must
        /// `accept_job` before it can be paid, disputed or slashed through the job. `payer_key`: the
        /// ed25519 key that will sign the job's receipts. `expires_at`: ms since the Unix epoch, within
        /// the maximum job duration.
        #[ink(message, payable)]
        pub fn open_job(
            &mut self,
            providers: Vec<(AccountId, Balance)>,
            payer_key: [u8; 32],
            terms_hash: [u8; 32],
            expires_at: Timestamp,
        ) -> Result<JobId> {
            let (caller, deposit) = (self.env().caller(), self.env().transferred_value());
            let request = OpenJob { providers, payer_key, terms_hash, expires_at };
            self.market().open_job(caller, deposit, request)
        }

        /// A provider named on the job accepts it: its allocation must be at least `min_funds`, and one
        /// dispute may slash at most `max_slash` (further capped at the job's slash share of that
        /// allocation). Needs the minimum active stake, and locks it until the job's expiry plus the
        /// dispute window. Returns the slash bound.
        #[ink(message)]
        pub fn accept_job(&mut self, job_id: JobId, min_funds: Balance, max_slash: Balance) -> Result<Balance> {
            let caller = self.env().caller();
            self.market().accept_job(caller, job_id, min_funds, max_slash)
        }

        /// The consumer adds the transferred value to a job that has not ended: to provider `to`'s
        /// allocation at once, or (`None`) to the job's unallocated funds.
        #[ink(message, payable)]
        pub fn top_up(&mut self, job_id: JobId, to: Option<AccountId>) -> Result<()> {
            let (caller, amount) = (self.env().caller(), self.env().transferred_value());
            self.market().top_up(caller, job_id, amount, to)
        }

        /// The consumer raises `provider`'s allocation by `amount`, at once, from the job's unallocated
        /// funds (ended thaws included). Returns the new allocation.
        #[ink(message)]
        pub fn allocate(&mut self, job_id: JobId, provider: AccountId, amount: Balance) -> Result<Balance> {
            let caller = self.env().caller();
            self.market().allocate(caller, job_id, provider, amount)
        }

        /// The consumer lowers `provider`'s allocation by `amount` through a thaw: the provider is still
        /// paid against the whole allocation until the returned moment, one thaw period from now (at
        /// once if it has not accepted the job); then the allocation drops by `amount` (never below what
        /// it was paid) and the rest returns to the job's unallocated funds. One thaw at a time per
        /// provider.
        #[ink(message)]
        pub fn thaw(&mut self, job_id: JobId, provider: AccountId, amount: Balance) -> Result<Timestamp> {
            let caller = self.env().caller();
            self.market().thaw(caller, job_id, provider, amount)
        }

        /// Settles a receipt signed by the job's payer key; anyone may submit it. Credits the provider
        /// 95 % (by the job's fee) and the treasury the fee of the step from the last settled cumulative
        /// amount; returns that split.
        #[ink(message)]
        pub fn release(&mut self, receipt: Receipt<AccountId>, signature: [u8; 64]) -> Result<Split> {
            self.market().release(&receipt, &signature)
        }

        /// Settles many receipts (of any jobs) in one call. Each is settled or refused on its own; the
        /// result lists each outcome in order.
        #[ink(message)]
        pub fn release_many(&mut self, receipts: Vec<(Receipt<AccountId>, [u8; 64])>) -> Result<Vec<Result<Split>>> {
            let mut market = self.market();
            Ok(receipts.iter().map(|(receipt, signature)| market.release(receipt, signature)).collect())
        }

        /// The consumer completes a job: receipts are still accepted for the settle grace, then anyone
        /// can refund the remainder. Returns when the job ends.
        #[ink(message)]
        pub fn complete(&mut self, job_id: JobId) -> Result<Timestamp> {
            let caller = self.env().caller();
            self.market().complete(caller, job_id)
        }

        /// Finalizes an ended job (expired, or completed and past its grace); anyone may call. Credits
        /// the unreleased remainder to the consumer's claimable balance and returns it.
        #[ink(message)]
        pub fn refund(&mut self, job_id: JobId) -> Result<Balance> {
            self.market().refund(job_id)
        }

        /// Transfers the caller's whole claimable balance (provider earnings, treasury fees, consumer
        /// refunds and slashes) to the caller. Never paused.
        #[ink(message)]
        pub fn claim(&mut self) -> Result<Balance> {
            let caller = self.env().caller();
            let amount = self.market().claim(caller)?;
            self.pay_out(caller, amount)
        }

        // ------------------------------------------------------------ staking

        /// Bonds the transferred value as the caller's provider stake.
        #[ink(message, payable)]
        pub fn stake(&mut self) -> Result<()> {
            let (caller, amount) = (self.env().caller(), self.env().transferred_value());
            self.market().stake(caller, amount)
        }

        /// Starts unbonding `amount` of the caller's active stake; returns when it unlocks.
        #[ink(message)]
        pub fn unbond(&mut self, amount: Balance) -> Result<Timestamp> {
            let caller = self.env().caller();
            self.market().unbond(caller, amount)
        }

        /// Transfers the caller's unbonded stake once the delay, its job locks and its disputes are past.
        #[ink(message)]
        pub fn withdraw(&mut self) -> Result<Balance> {
            let caller = self.env().caller();
            let amount = self.market().withdraw(caller)?;
            self.pay_out(caller, amount)
        }

        // ------------------------------------------------------------ disputes

        /// The job's consumer disputes one of its providers (within the dispute window after the job
        /// ends). `reason`: hash of the off-chain evidence. Returns the end of the arbitration period.
        #[ink(message)]
        pub fn dispute(&mut self, job_id: JobId, provider: AccountId, reason: [u8; 32]) -> Result<Timestamp> {
            let caller = self.env().caller();
            self.market().dispute(caller, job_id, provider, reason)
        }

        /// The job's own arbiter (the escrow's arbiter when the job opened) resolves a pending dispute
        /// before its `resolve_by`, slashing `slash` (0 dismisses) from the provider's stake to the
        /// consumer. From `resolve_by` on anyone may dismiss it (`DisputeExpired` for a slash).
        #[ink(message)]
        pub fn resolve_dispute(&mut self, job_id: JobId, provider: AccountId, slash: Balance) -> Result<()> {
            let caller = self.env().caller();
            self.market().resolve_dispute(caller, job_id, provider, slash)
        }

        // ------------------------------------------------------------ administration

        /// The owner proposes `new_owner`, who must call `accept_ownership`.
        #[ink(message)]
        pub fn transfer_ownership(&mut self, new_owner: AccountId) -> Result<()> {
            let caller = self.env().caller();
            self.market().transfer_ownership(caller, new_owner)
        }

        /// The proposed owner accepts ownership.
        #[ink(message)]
        pub fn accept_ownership(&mut self) -> Result<()> {
            let caller = self.env().caller();
            self.market().accept_ownership(caller)
        }

        /// The owner announces a change of treasury, arbiter, fee for new jobs (at most 10 %) or minimum
        /// stake (`None` keeps a setting), replacing any pending one. Returns when it may apply: one
        /// admin delay from now.
        #[ink(message)]
        pub fn announce_settings(&mut self, change: SettingsChange<AccountId>) -> Result<Timestamp> {
            let caller = self.env().caller();
            self.market().announce_settings(caller, change)
        }

        /// The owner puts the announced settings in force once their admin delay has passed.
        #[ink(message)]
        pub fn apply_settings(&mut self) -> Result<()> {
            let caller = self.env().caller();
            self.market().apply_settings(caller)
        }

        /// The owner pauses or resumes the opening of new jobs, at once (nothing else is paused).
        #[ink(message)]
        pub fn set_paused(&mut self, paused: bool) -> Result<()> {
            let caller = self.env().caller();
            self.market().set_paused(caller, paused)
        }

        // ------------------------------------------------------------ views

        /// The configuration.
        #[ink(message)]
        pub fn config(&self) -> Config<AccountId> {
            self.config.clone()
        }

        /// A job, if it exists.
        #[ink(message)]
        pub fn job(&self, job_id: JobId) -> Option<Job<AccountId>> {
            self.jobs.get(job_id)
        }

        /// What has been settled on a job for a provider (kept in the job's slot of the provider).
        #[ink(message)]
        pub fn lane(&self, job_id: JobId, provider: AccountId) -> Lane {
            self.jobs.get(job_id).and_then(|j| j.slot(&provider)).map(|s| s.lane).unwrap_or_default()
        }

        /// An account's provider stake.
        #[ink(message)]
        pub fn stake_of(&self, provider: AccountId) -> Stake {
            Store::stake(self, &provider)
        }

        /// A provider's reputation counters and score (per mille).
        #[ink(message)]
        pub fn reputation_of(&self, provider: AccountId) -> (Reputation, u32) {
            let reputation = Store::reputation(self, &provider);
            (reputation, reputation.score())
        }

        /// An account's claimable balance (for the treasury, with the fees accrued since its last claim).
        #[ink(message)]
        pub fn balance_of(&self, account: AccountId) -> Balance {
            let fees = if account == self.config.treasury { self.config.fees } else { 0 };
            Store::balance(self, &account).saturating_add(fees)
        }

        /// The dispute of a job against a provider, if any.
        #[ink(message)]
        pub fn dispute_of(&self, job_id: JobId, provider: AccountId) -> Option<Dispute> {
            Store::dispute(self, job_id, &provider)
        }
    }
}
