//! A connection to the node: balances, contract dry-runs and submissions through pallet-contracts.

use subxt::backend::legacy::LegacyRpcMethods;
use subxt::backend::rpc::RpcClient;
use subxt::blocks::ExtrinsicEvents;
use subxt::utils::{AccountId32, MultiAddress, H256};
use subxt::{OnlineClient, PolkadotConfig};
use subxt_signer::sr25519::Keypair;

use crate::error::{Error, Result};
use crate::node::runtime_types::pallet_contracts::primitives::{Code, ExecReturnValue, StorageDeposit};
use crate::node::runtime_types::sp_weights::weight_v2::Weight as NodeWeight;
use crate::{node, AccountId};

/// Events of one included extrinsic.
pub type TxEvents = ExtrinsicEvents<PolkadotConfig>;
/// A submitted transaction's progress.
pub type TxProgress = subxt::tx::TxProgress<PolkadotConfig, OnlineClient<PolkadotConfig>>;
/// One step of that progress.
pub type TxStatus = subxt::tx::TxStatus<PolkadotConfig, OnlineClient<PolkadotConfig>>;

/// A `Contracts::call` of `contract` (see [`Chain::start_call`] for `deposit_limit`).
fn contract_call(
    contract: AccountId,
    value: u128,
    gas_limit: Weight,
    data: Vec<u8>,
    deposit_limit: Option<u128>,
) -> impl subxt::tx::Payload {
    let limit = deposit_limit.map(scale::Compact);
    node::tx().contracts().call(MultiAddress::Id(AccountId32(contract)), value, gas_limit.into(), limit, data)
}

/// A signed contract call, not sent yet.
pub struct SignedCall {
    /// The extrinsic's hash.
    pub hash: [u8; 32],
    /// The first block number in which it can no longer be included: once the finalized head reaches it
    /// and the call's effect is not in the finalized state, it never will be.
    pub dead_from: u64,
    tx: subxt::tx::SubmittableTransaction<PolkadotConfig, OnlineClient<PolkadotConfig>>,
}

impl SignedCall {
    /// Sends it; hands back its progress to follow.
    pub async fn submit(&self) -> Result<TxProgress> {
        Ok(self.tx.submit_and_watch().await?)
    }
}

/// Execution weight: computation time (picoseconds of reference hardware) and proof size (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Weight {
    /// Reference time.
    pub ref_time: u64,
    /// Proof of validity size.
    pub proof_size: u64,
}

impl From<NodeWeight> for Weight {
    fn from(w: NodeWeight) -> Self {
        Self { ref_time: w.ref_time, proof_size: w.proof_size }
    }
}

impl From<Weight> for NodeWeight {
    fn from(w: Weight) -> Self {
        Self { ref_time: w.ref_time, proof_size: w.proof_size }
    }
}

impl Weight {
    /// This weight plus a quarter, to absorb state changes between a dry-run and inclusion.
    #[must_use]
    pub fn with_margin(self) -> Self {
        Self {
            ref_time: self.ref_time.saturating_add(self.ref_time / 4),
            proof_size: self.proof_size.saturating_add(self.proof_size / 4),
        }
    }
}

/// The outcome of running a contract call or instantiation without committing it.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Weight actually consumed.
    pub gas_consumed: Weight,
    /// Weight to give the real call so it succeeds.
    pub gas_required: Weight,
    /// Storage deposit charged (positive) or refunded (negative).
    pub storage_deposit: i128,
    /// The contract's return data (SCALE-encoded `Result` of the message).
    pub data: Vec<u8>,
    /// Whether the contract reverted (an ink! message that returned `Err`).
    pub reverted: bool,
    /// The new contract's account (instantiations only).
    pub account: Option<AccountId>,
}

impl DryRun {
    fn new(
        consumed: NodeWeight,
        required: NodeWeight,
        storage: StorageDeposit<u128>,
        exec: ExecReturnValue,
        account: Option<AccountId>,
    ) -> Self {
        Self {
            gas_consumed: consumed.into(),
            gas_required: required.into(),
            storage_deposit: deposit(storage),
            reverted: exec.flags.bits & REVERT_FLAG != 0,
            data: exec.data,
            account,
        }
    }
}

/// A subxt connection to a node running pallet-contracts.
#[derive(Clone)]
pub struct Chain {
    api: OnlineClient<PolkadotConfig>,
    rpc: LegacyRpcMethods<PolkadotConfig>,
    raw: RpcClient,
}

fn deposit(d: StorageDeposit<u128>) -> i128 {
    match d {
        StorageDeposit::Charge(c) => i128::try_from(c).unwrap_or(i128::MAX),
        StorageDeposit::Refund(r) => i128::try_from(r).map_or(i128::MIN, i128::saturating_neg),
    }
}

const REVERT_FLAG: u32 = 1;

impl Chain {
    /// Connects to a node's WebSocket RPC (e.g. `ws://127.0.0.1:9944`). Should the connection close
    /// (the node restarted), the next call connects again, to the same chain only; while the node
    /// cannot be reached, calls fail at once (module `rpc`).
    pub async fn connect(url: &str) -> Result<Self> {
        let client = RpcClient::new(crate::rpc::Reconnecting::connect(url).await.map_err(subxt::Error::from)?);
        let api = OnlineClient::<PolkadotConfig>::from_rpc_client(client.clone()).await?;
        Ok(Self { api, rpc: LegacyRpcMethods::new(client.clone()), raw: client })
    }

    /// The node's JSON-RPC methods (block hashes by number, headers, finality).
    #[must_use]
    pub fn rpc(&self) -> &LegacyRpcMethods<PolkadotConfig> {
        &self.rpc
    }

    /// The subxt client, for anything this wrapper does not cover.
    #[must_use]
    pub fn api(&self) -> &OnlineClient<PolkadotConfig> {
        &self.api
    }

    /// The chain's genesis block hash (part of every receipt's domain).
    #[must_use]
    pub fn genesis_hash(&self) -> [u8; 32] {
        self.api.genesis_hash().0
    }

    /// The latest block's timestamp (ms since the Unix epoch): the "now" of a dry-run.
    pub async fn now(&self) -> Result<u64> {
        let query = node::storage().timestamp().now();
        Ok(self.api.storage().at_latest().await?.fetch(&query).await?.unwrap_or_default())
    }

    /// An account's free native balance.
    pub async fn free_balance(&self, who: AccountId) -> Result<u128> {
        let query = node::storage().system().account(AccountId32(who));
        let info = self.api.storage().at_latest().await?.fetch(&query).await?;
        Ok(info.map_or(0, |i| i.data.free))
    }

    /// Submits a signed transaction and waits until it is finalized and succeeded.
    pub async fn submit<Call: subxt::tx::Payload>(&self, signer: &Keypair, call: &Call) -> Result<TxEvents> {
        let progress = self.api.tx().sign_and_submit_then_watch_default(call, signer).await?;
        Ok(progress.wait_for_finalized_success().await?)
    }

    /// Transfers native funds.
    pub async fn transfer(&self, from: &Keypair, to: AccountId, amount: u128) -> Result<()> {
        let call = node::tx().balances().transfer_keep_alive(MultiAddress::Id(AccountId32(to)), amount);
        self.submit(from, &call).await.map(|_| ())
    }

    /// Runs a contract call on the latest block without committing it.
    pub async fn dry_run_call(
        &self,
        origin: AccountId,
        contract: AccountId,
        value: u128,
        data: Vec<u8>,
    ) -> Result<DryRun> {
        self.dry_run_call_at(None, origin, contract, value, data).await
    }

    /// [`Chain::dry_run_call`] on the state of block `at` (the latest finalized block if `None`).
    pub async fn dry_run_call_at(
        &self,
        at: Option<[u8; 32]>,
        origin: AccountId,
        contract: AccountId,
        value: u128,
        data: Vec<u8>,
    ) -> Result<DryRun> {
        let call =
            node::apis().contracts_api().call(AccountId32(origin), AccountId32(contract), value, None, None, data);
        let api = match at {
            Some(hash) => self.api.runtime_api().at(H256(hash)),
            None => self.api.runtime_api().at_latest().await?,
        };
        let r = api.call(call).await?;
        let exec = r.result.map_err(|e| Error::Call(format!("{e:?}")))?;
        Ok(DryRun::new(r.gas_consumed, r.gas_required, r.storage_deposit, exec, None))
    }

    /// Runs an upload-and-instantiate without committing it.
    pub async fn dry_run_instantiate(
        &self,
        origin: AccountId,
        value: u128,
        code: Vec<u8>,
        data: Vec<u8>,
        salt: Vec<u8>,
    ) -> Result<DryRun> {
        let call = node::apis().contracts_api().instantiate(
            AccountId32(origin),
            value,
            None,
            None,
            Code::Upload(code),
            data,
            salt,
        );
        let r = self.api.runtime_api().at_latest().await?.call(call).await?;
        let exec = r.result.map_err(|e| Error::Call(format!("{e:?}")))?;
        let account = Some(exec.account_id.0);
        Ok(DryRun::new(r.gas_consumed, r.gas_required, r.storage_deposit, exec.result, account))
    }

    /// Uploads `code` and instantiates it; returns the new contract's account.
    pub async fn instantiate_with_code(
        &self,
        signer: &Keypair,
        value: u128,
        gas_limit: Weight,
        code: Vec<u8>,
        data: Vec<u8>,
        salt: Vec<u8>,
    ) -> Result<AccountId> {
        let call = node::tx().contracts().instantiate_with_code(value, gas_limit.into(), None, code, data, salt);
        let events = self.submit(signer, &call).await?;
        let created = events
            .find_first::<node::contracts::events::Instantiated>()?
            .ok_or_else(|| Error::Call("no Instantiated event".into()))?;
        Ok(created.contract.0)
    }

    /// Seals a new block with a remark signed by `signer`, moving the chain's clock to now (instant
    /// seal only makes blocks for transactions).
    pub async fn tick(&self, signer: &Keypair) -> Result<()> {
        let call = node::tx().system().remark(b"tick".to_vec());
        self.submit(signer, &call).await.map(|_| ())
    }

    /// Seals blocks with [`Chain::tick`] until the chain's clock (the latest block's timestamp) passes
    /// `at_ms`; fails if it has not within `timeout`.
    pub async fn wait_until(&self, signer: &Keypair, at_ms: u64, timeout: std::time::Duration) -> Result<()> {
        let started = std::time::Instant::now();
        loop {
            self.tick(signer).await?;
            let now = self.now().await?;
            if now > at_ms {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(Error::Call(format!("chain time {now} did not pass {at_ms} within {timeout:?}")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(at_ms.saturating_sub(now).clamp(50, 1_000))).await;
        }
    }

    /// Submits a contract call and hands back its progress (in block, finalized) to follow.
    /// `deposit_limit`: the most storage deposit the signer agrees to pay (`Some(0)`: none; the call
    /// fails rather than charge one); `None`: no limit.
    pub async fn start_call(
        &self,
        signer: &Keypair,
        contract: AccountId,
        value: u128,
        gas_limit: Weight,
        data: Vec<u8>,
        deposit_limit: Option<u128>,
    ) -> Result<TxProgress> {
        let call = contract_call(contract, value, gas_limit, data, deposit_limit);
        Ok(self.api.tx().sign_and_submit_then_watch_default(&call, signer).await?)
    }

    /// The hash of the node's best block.
    pub async fn best_hash(&self) -> Result<[u8; 32]> {
        let hash = self.rpc.chain_get_block_hash(None).await.map_err(subxt::Error::from)?;
        Ok(hash.ok_or_else(|| Error::Call("the node has no best block".into()))?.0)
    }

    /// Whether the node's transaction pool holds the extrinsic with hash `hash` (`author_pendingExtrinsics`).
    pub async fn in_pool(&self, hash: [u8; 32]) -> Result<bool> {
        use subxt::config::Hasher as _;
        let pending: Vec<String> = self
            .raw
            .request("author_pendingExtrinsics", subxt::ext::subxt_rpcs::client::RpcParams::new())
            .await
            .map_err(subxt::Error::from)?;
        let hasher = self.api.hasher();
        Ok(pending.iter().any(|hex_bytes| {
            hex::decode(hex_bytes.trim_start_matches("0x")).is_ok_and(|bytes| hasher.hash(&bytes).0 == hash)
        }))
    }

    /// `who`'s next transaction index as the node counts it (`system_accountNextIndex`): past what its
    /// pool holds for `who`, so calls signed one after another, each sent before the next is signed, line
    /// up instead of replacing one another (the finalized state's nonce would repeat).
    pub async fn next_index(&self, who: AccountId) -> Result<u64> {
        let who = subxt::utils::AccountId32(who);
        Ok(self.rpc.system_account_next_index(&who).await.map_err(subxt::Error::from)?)
    }

    /// Signs a contract call without sending it, mortal for `mortal_for` blocks from the latest finalized
    /// block: its hash and the block number from which it can no longer be included are known before it
    /// is sent, so a caller can record them first (see [`SignedCall`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn sign_call(
        &self,
        signer: &Keypair,
        contract: AccountId,
        value: u128,
        gas_limit: Weight,
        data: Vec<u8>,
        deposit_limit: Option<u128>,
        mortal_for: u64,
    ) -> Result<SignedCall> {
        let call = contract_call(contract, value, gas_limit, data, deposit_limit);
        let (number, hash) = self.finalized_head().await?;
        let nonce = self.next_index(crate::account_of(signer)).await?;
        let params = subxt::config::DefaultExtrinsicParamsBuilder::<PolkadotConfig>::new()
            .mortal_from_unchecked(mortal_for, number, H256(hash))
            .nonce(nonce)
            .build();
        let tx = self.api.tx().create_signed(&call, signer, params).await?;
        // The era's period, as subxt rounds it; the era starts at `number` (periods under 4,096 blocks
        // are not quantized), so the call is valid in blocks `number .. number + period`.
        let period = mortal_for.checked_next_power_of_two().unwrap_or(1 << 16).clamp(4, 1 << 16);
        Ok(SignedCall { hash: tx.hash().0, dead_from: number.saturating_add(period), tx })
    }

    /// Submits a contract call and waits until it is finalized and succeeded.
    pub async fn call(
        &self,
        signer: &Keypair,
        contract: AccountId,
        value: u128,
        gas_limit: Weight,
        data: Vec<u8>,
        deposit_limit: Option<u128>,
    ) -> Result<TxEvents> {
        let progress = self.start_call(signer, contract, value, gas_limit, data, deposit_limit).await?;
        Ok(progress.wait_for_finalized_success().await?)
    }
}
