//! Typed access to a deployed escrow contract: every message, dry-run first, then submitted.

use std::sync::Arc;

use scale::{Decode, Encode};
use settlement::fee::Split;
use settlement::{
    Config, Dispute, Event, Job, JobId, Lane, OpenJob, Receipt, Reputation, SettingsChange, Stake, Timestamp, Timing,
};
use subxt_signer::sr25519::Keypair;

use crate::bundle::Bundle;
use crate::chain::{Chain, DryRun, TxEvents, Weight};
use crate::error::{Error, Result};
use crate::events::{decode_event, RawEvent};
use crate::{account_of, node, AccountId};

/// Most receipts one `release_many` call can carry. ink! 5 reads a call's input into its 16 KiB static
/// buffer, and a signed receipt takes 216 bytes (152 of receipt, 64 of signature): 75 would fit, and
/// the contract refuses larger inputs before running (`OutputBufferTooSmall`).
pub const MAX_RELEASES_PER_CALL: usize = 64;

/// What the escrow's constructor needs besides the chain's genesis hash.
#[derive(Debug, Clone)]
pub struct Deploy {
    /// Receives the platform fee.
    pub treasury: AccountId,
    /// Resolves disputes.
    pub arbiter: AccountId,
    /// Fee in basis points (500 = 5 %).
    pub fee_bps: u16,
    /// Minimum active stake of a provider accepting a job.
    pub min_stake: u128,
    /// Share of the funds a provider accepts a job with that one dispute may slash (bps, at most 10 000).
    pub slash_bps: u16,
    /// Fixed time parameters.
    pub timing: Timing,
    /// Salt for the contract address (deploying the same code twice needs different salts).
    pub salt: Vec<u8>,
}

/// A message that went through: its return value, the dry-run's figures and the contract's events.
#[derive(Debug, Clone)]
pub struct Submitted<T> {
    /// What the message returned in the dry-run. The committed call runs in a later block: where the
    /// result depends on the block time (`complete`, `unbond`), the events are authoritative.
    pub value: T,
    /// The dry-run made before submitting (weights, storage deposit).
    pub dry_run: DryRun,
    /// The contract's events, decoded, in order.
    pub events: Vec<Event<AccountId>>,
    /// The transaction fee the signer paid (including any tip).
    pub fee_paid: u128,
    /// Storage deposit the signer paid (positive) or got back for freed storage (negative).
    pub storage_deposit: i128,
}

impl<T> Submitted<T> {
    /// The first of the call's events that `pick` takes: what the chain did, where the dry run's
    /// [`Submitted::value`] may have been overtaken by other transactions in between.
    pub fn event<R>(&self, pick: impl FnMut(&Event<AccountId>) -> Option<R>) -> Option<R> {
        self.events.iter().find_map(pick)
    }
}

/// Net storage deposit `who` paid in an extrinsic (negative: refunded).
fn storage_deposit_of(events: &TxEvents, who: AccountId) -> Result<i128> {
    use node::contracts::events::{
        StorageDepositTransferredAndHeld as Held, StorageDepositTransferredAndReleased as Freed,
    };
    let signed = |v: u128| i128::try_from(v).unwrap_or(i128::MAX);
    let mut total: i128 = 0;
    for held in events.find::<Held>() {
        let held = held?;
        if held.from.0 == who {
            total = total.saturating_add(signed(held.amount));
        }
    }
    for freed in events.find::<Freed>() {
        let freed = freed?;
        if freed.to.0 == who {
            total = total.saturating_sub(signed(freed.amount));
        }
    }
    Ok(total)
}

/// ink!'s wrapper around every message result.
#[derive(Debug, Decode)]
enum LangError {
    #[codec(index = 1)]
    CouldNotReadInput,
}

/// A deployed escrow contract.
#[derive(Clone)]
pub struct Escrow {
    chain: Chain,
    bundle: Arc<Bundle>,
    address: AccountId,
}

impl Escrow {
    /// Uploads and instantiates the escrow; the signer becomes its owner.
    pub async fn deploy(chain: &Chain, signer: &Keypair, bundle: Arc<Bundle>, d: &Deploy) -> Result<Self> {
        let args = (chain.genesis_hash(), d.treasury, d.arbiter, d.fee_bps, d.min_stake, d.slash_bps, d.timing);
        let data = bundle.call_data("new", args)?;
        let origin = account_of(signer);
        let dry = chain.dry_run_instantiate(origin, 0, bundle.wasm.clone(), data.clone(), d.salt.clone()).await?;
        let outcome = <core::result::Result<core::result::Result<(), settlement::Error>, LangError>>::decode(
            &mut dry.data.as_slice(),
        )?;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Escrow(e)),
            Err(e) => return Err(Error::Call(format!("{e:?}"))),
        }
        let gas = dry.gas_required.with_margin();
        let address = chain.instantiate_with_code(signer, 0, gas, bundle.wasm.clone(), data, d.salt.clone()).await?;
        Ok(Self { chain: chain.clone(), bundle, address })
    }

    /// An escrow already deployed at `address`.
    #[must_use]
    pub fn at(chain: &Chain, bundle: Arc<Bundle>, address: AccountId) -> Self {
        Self { chain: chain.clone(), bundle, address }
    }

    /// The contract's account.
    #[must_use]
    pub fn address(&self) -> AccountId {
        self.address
    }

    /// The connection it uses.
    #[must_use]
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Runs a read-only message on the latest finalized state.
    pub async fn query<T: Decode>(&self, label: &str, args: impl Encode) -> Result<T> {
        self.query_at(None, label, args).await
    }

    /// Runs a read-only message on the state of block `at` (the latest finalized block if `None`).
    pub async fn query_at<T: Decode>(&self, at: Option<[u8; 32]>, label: &str, args: impl Encode) -> Result<T> {
        let data = self.bundle.call_data(label, args)?;
        let dry = self.chain.dry_run_call_at(at, self.address, self.address, 0, data).await?;
        <core::result::Result<T, LangError>>::decode(&mut dry.data.as_slice())?
            .map_err(|e| Error::Call(format!("{label}: {e:?}")))
    }

    /// Dry-runs a message as `origin` with `value` attached: what it would return, and its figures.
    pub async fn dry_run<T: Decode>(
        &self,
        origin: AccountId,
        value: u128,
        label: &str,
        args: impl Encode,
    ) -> Result<(core::result::Result<T, settlement::Error>, DryRun)> {
        self.dry_run_data(origin, value, label, self.bundle.call_data(label, args)?).await
    }

    async fn dry_run_data<T: Decode>(
        &self,
        origin: AccountId,
        value: u128,
        label: &str,
        data: Vec<u8>,
    ) -> Result<(core::result::Result<T, settlement::Error>, DryRun)> {
        let dry = self.chain.dry_run_call(origin, self.address, value, data).await?;
        let outcome = <core::result::Result<core::result::Result<T, settlement::Error>, LangError>>::decode(
            &mut dry.data.as_slice(),
        )?
        .map_err(|e| Error::Call(format!("{label}: {e:?}")))?;
        Ok((outcome, dry))
    }

    /// Dry-runs a message and, if the contract accepts it, submits it and waits for finality.
    /// A refusal comes back as [`Error::Escrow`] and nothing is submitted.
    pub async fn exec<T: Decode>(
        &self,
        signer: &Keypair,
        value: u128,
        label: &str,
        args: impl Encode,
    ) -> Result<Submitted<T>> {
        self.exec_limited(signer, value, label, args, None).await
    }

    /// What sending `label(args)` takes: the dry-run's outcome (a refusal is an error), the dry-run, the
    /// call data and the weight limit (the dry-run's with a margin).
    async fn prepare<T: Decode>(
        &self,
        signer: &Keypair,
        value: u128,
        label: &str,
        args: impl Encode,
    ) -> Result<(T, DryRun, Vec<u8>, Weight)> {
        let data = self.bundle.call_data(label, args)?;
        let (outcome, dry_run) = self.dry_run_data::<T>(account_of(signer), value, label, data.clone()).await?;
        let value_out = outcome.map_err(Error::Escrow)?;
        let gas = dry_run.gas_required.with_margin();
        Ok((value_out, dry_run, data, gas))
    }

    /// [`Escrow::exec`] with a cap on the storage deposit the signer pays (`Some(0)`: none, the call
    /// fails instead).
    pub async fn exec_limited<T: Decode>(
        &self,
        signer: &Keypair,
        value: u128,
        label: &str,
        args: impl Encode,
        deposit_limit: Option<u128>,
    ) -> Result<Submitted<T>> {
        let (value_out, dry_run, data, gas) = self.prepare::<T>(signer, value, label, args).await?;
        let events = self.chain.call(signer, self.address, value, gas, data, deposit_limit).await?;
        let fee_paid = events
            .find_first::<node::transaction_payment::events::TransactionFeePaid>()?
            .map_or(0, |f| f.actual_fee.saturating_add(f.tip));
        let storage_deposit = storage_deposit_of(&events, account_of(signer))?;
        Ok(Submitted { value: value_out, dry_run, events: self.events_of(&events)?, fee_paid, storage_deposit })
    }

    /// Dry-runs a message (its refusal is an error, as with [`Escrow::exec`]) and signs it without sending
    /// it, mortal for `mortal_for` blocks ([`crate::chain::SignedCall`]). Pays no storage deposit (the
    /// relayer's releases create no storage; a call that would is refused).
    pub async fn sign<T: Decode>(
        &self,
        signer: &Keypair,
        value: u128,
        label: &str,
        args: impl Encode,
        mortal_for: u64,
    ) -> Result<(T, DryRun, crate::chain::SignedCall)> {
        let (value_out, dry_run, data, gas) = self.prepare::<T>(signer, value, label, args).await?;
        let signed = self.chain.sign_call(signer, self.address, value, gas, data, Some(0), mortal_for).await?;
        Ok((value_out, dry_run, signed))
    }

    /// Submits a message without dry-running it first, with a fixed weight limit: for proving that
    /// the chain itself refuses what a dry-run would.
    pub async fn exec_unchecked(
        &self,
        signer: &Keypair,
        value: u128,
        label: &str,
        args: impl Encode,
    ) -> Result<TxEvents> {
        let data = self.bundle.call_data(label, args)?;
        let gas = Weight { ref_time: 50_000_000_000, proof_size: 1_000_000 };
        self.chain.call(signer, self.address, value, gas, data, None).await
    }

    /// The event, decoded, if this escrow emitted it (`None` for other contracts' events).
    pub fn decode_emitted(&self, event: &crate::blocks::EmittedEvent) -> Result<Option<Event<AccountId>>> {
        if event.contract != self.address {
            return Ok(None);
        }
        decode_event(&self.bundle, &RawEvent { topics: &event.topics, data: &event.data }).map(Some)
    }

    /// The escrow's events among an extrinsic's events, decoded.
    pub fn events_of(&self, events: &TxEvents) -> Result<Vec<Event<AccountId>>> {
        let mut out = Vec::new();
        for ev in events.iter() {
            let ev = ev?;
            let Some(emitted) = ev.as_event::<node::contracts::events::ContractEmitted>()? else { continue };
            if emitted.contract.0 != self.address {
                continue;
            }
            let topics: Vec<[u8; 32]> = ev.topics().iter().map(|t| t.0).collect();
            let raw = RawEvent { topics: &topics, data: &emitted.data };
            out.push(decode_event(&self.bundle, &raw)?);
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ messages

    /// Opens a job funded with `deposit`, each of `req.providers` with its allocation (together at most the
    /// deposit; the rest stays unallocated).
    pub async fn open_job(
        &self,
        consumer: &Keypair,
        deposit: u128,
        req: &OpenJob<AccountId>,
    ) -> Result<Submitted<JobId>> {
        let args = (&req.providers, req.payer_key, req.terms_hash, req.expires_at);
        self.exec(consumer, deposit, "open_job", args).await
    }

    /// A provider named on a job accepts it (its allocation at least `min_funds`; one dispute slashing at
    /// most `max_slash`); the answer is the slash bound fixed for it.
    pub async fn accept_job(
        &self,
        provider: &Keypair,
        job_id: JobId,
        min_funds: u128,
        max_slash: u128,
    ) -> Result<Submitted<u128>> {
        self.exec(provider, 0, "accept_job", (job_id, min_funds, max_slash)).await
    }

    /// Adds `amount` to a job: to `to`'s allocation at once, or to the job's unallocated funds.
    pub async fn top_up(
        &self,
        consumer: &Keypair,
        job_id: JobId,
        amount: u128,
        to: Option<AccountId>,
    ) -> Result<Submitted<()>> {
        self.exec(consumer, amount, "top_up", (job_id, to)).await
    }

    /// Raises `provider`'s allocation on a job by `amount` at once, from its unallocated funds; the
    /// answer is the new allocation.
    pub async fn allocate(
        &self,
        consumer: &Keypair,
        job_id: JobId,
        provider: AccountId,
        amount: u128,
    ) -> Result<Submitted<u128>> {
        self.exec(consumer, 0, "allocate", (job_id, provider, amount)).await
    }

    /// Starts lowering `provider`'s allocation on a job by `amount`; the answer is when the thaw ends
    /// (the dry-run's: read `ThawStarted` for the block's own).
    pub async fn thaw(
        &self,
        consumer: &Keypair,
        job_id: JobId,
        provider: AccountId,
        amount: u128,
    ) -> Result<Submitted<u64>> {
        self.exec(consumer, 0, "thaw", (job_id, provider, amount)).await
    }

    /// Settles one signed receipt.
    pub async fn release(
        &self,
        submitter: &Keypair,
        receipt: &Receipt<AccountId>,
        signature: &[u8; 64],
    ) -> Result<Submitted<Split>> {
        // A release never creates storage (G6): the submitter agrees to pay no storage deposit.
        self.exec_limited(submitter, 0, "release", (receipt, signature), Some(0)).await
    }

    /// Settles many signed receipts in one extrinsic (at most [`MAX_RELEASES_PER_CALL`]); each has its
    /// own outcome.
    pub async fn release_many(
        &self,
        submitter: &Keypair,
        receipts: &[(Receipt<AccountId>, [u8; 64])],
    ) -> Result<Submitted<Vec<core::result::Result<Split, settlement::Error>>>> {
        if receipts.len() > MAX_RELEASES_PER_CALL {
            return Err(Error::Call(format!(
                "release_many takes at most {MAX_RELEASES_PER_CALL} receipts, got {}",
                receipts.len()
            )));
        }
        self.exec_limited(submitter, 0, "release_many", receipts, Some(0)).await
    }

    /// The consumer completes a job; returns when it stops accepting receipts.
    pub async fn complete(&self, consumer: &Keypair, job_id: JobId) -> Result<Submitted<Timestamp>> {
        self.exec(consumer, 0, "complete", job_id).await
    }

    /// Finalizes an ended job, crediting the remainder to its consumer.
    pub async fn refund(&self, caller: &Keypair, job_id: JobId) -> Result<Submitted<u128>> {
        self.exec(caller, 0, "refund", job_id).await
    }

    /// Pays out the caller's claimable balance.
    pub async fn claim(&self, caller: &Keypair) -> Result<Submitted<u128>> {
        self.exec(caller, 0, "claim", ()).await
    }

    /// Bonds `amount` as provider stake.
    pub async fn stake(&self, provider: &Keypair, amount: u128) -> Result<Submitted<()>> {
        self.exec(provider, amount, "stake", ()).await
    }

    /// Starts unbonding `amount`; returns when it unlocks.
    pub async fn unbond(&self, provider: &Keypair, amount: u128) -> Result<Submitted<Timestamp>> {
        self.exec(provider, 0, "unbond", amount).await
    }

    /// Withdraws unbonded stake.
    pub async fn withdraw(&self, provider: &Keypair) -> Result<Submitted<u128>> {
        self.exec(provider, 0, "withdraw", ()).await
    }

    /// The consumer disputes a provider of a job.
    pub async fn dispute(
        &self,
        consumer: &Keypair,
        job_id: JobId,
        provider: AccountId,
        reason: [u8; 32],
    ) -> Result<Submitted<Timestamp>> {
        self.exec(consumer, 0, "dispute", (job_id, provider, reason)).await
    }

    /// The arbiter resolves a dispute, slashing `slash`.
    pub async fn resolve_dispute(
        &self,
        arbiter: &Keypair,
        job_id: JobId,
        provider: AccountId,
        slash: u128,
    ) -> Result<Submitted<()>> {
        self.exec(arbiter, 0, "resolve_dispute", (job_id, provider, slash)).await
    }

    /// The owner announces a settings change; the answer is when it may apply.
    pub async fn announce_settings(
        &self,
        owner: &Keypair,
        change: &SettingsChange<AccountId>,
    ) -> Result<Submitted<Timestamp>> {
        self.exec(owner, 0, "announce_settings", change).await
    }

    /// The owner applies the announced settings (once their admin delay has passed).
    pub async fn apply_settings(&self, owner: &Keypair) -> Result<Submitted<()>> {
        self.exec(owner, 0, "apply_settings", ()).await
    }

    /// The owner pauses or resumes new jobs.
    pub async fn set_paused(&self, owner: &Keypair, paused: bool) -> Result<Submitted<()>> {
        self.exec(owner, 0, "set_paused", paused).await
    }

    /// The owner proposes a new owner.
    pub async fn transfer_ownership(&self, owner: &Keypair, new_owner: AccountId) -> Result<Submitted<()>> {
        self.exec(owner, 0, "transfer_ownership", new_owner).await
    }

    /// The proposed owner accepts.
    pub async fn accept_ownership(&self, new_owner: &Keypair) -> Result<Submitted<()>> {
        self.exec(new_owner, 0, "accept_ownership", ()).await
    }

    // ------------------------------------------------------------------ views

    /// The configuration.
    pub async fn config(&self) -> Result<Config<AccountId>> {
        self.query("config", ()).await
    }

    /// A job.
    pub async fn job(&self, job_id: JobId) -> Result<Option<Job<AccountId>>> {
        self.query("job", job_id).await
    }

    /// [`Escrow::job`] as of block `at` (the latest finalized block if `None`).
    pub async fn job_at(&self, at: Option<[u8; 32]>, job_id: JobId) -> Result<Option<Job<AccountId>>> {
        self.query_at(at, "job", job_id).await
    }

    /// What was settled on a job for a provider.
    pub async fn lane(&self, job_id: JobId, provider: AccountId) -> Result<Lane> {
        self.query("lane", (job_id, provider)).await
    }

    /// [`Escrow::lane`] as of block `at` (the latest finalized block if `None`).
    pub async fn lane_at(&self, at: Option<[u8; 32]>, job_id: JobId, provider: AccountId) -> Result<Lane> {
        self.query_at(at, "lane", (job_id, provider)).await
    }

    /// A provider's stake.
    pub async fn stake_of(&self, provider: AccountId) -> Result<Stake> {
        self.query("stake_of", provider).await
    }

    /// A provider's reputation and score.
    pub async fn reputation_of(&self, provider: AccountId) -> Result<(Reputation, u32)> {
        self.query("reputation_of", provider).await
    }

    /// An account's claimable balance.
    pub async fn balance_of(&self, account: AccountId) -> Result<u128> {
        self.query("balance_of", account).await
    }

    /// A dispute.
    pub async fn dispute_of(&self, job_id: JobId, provider: AccountId) -> Result<Option<Dispute>> {
        self.query("dispute_of", (job_id, provider)).await
    }
}
