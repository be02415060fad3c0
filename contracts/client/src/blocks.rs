//! Reading the chain block by block, as the indexer does: a block's hash, parent, timestamp and the
//! contract events emitted in it, each with its position (event index, extrinsic index).

use futures::{Stream, StreamExt};
use subxt::events::Phase;
use subxt::utils::H256;
use tokio_util::task::AbortOnDropHandle;

use crate::chain::Chain;
use crate::error::{Error, Result};
use crate::{node, AccountId};

/// One block, with the contract events emitted in it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBlock {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// Its parent's hash.
    pub parent_hash: [u8; 32],
    /// Its timestamp (ms since the Unix epoch).
    pub timestamp: u64,
    /// Every `Contracts::ContractEmitted` event of the block (of any contract), in order.
    pub events: Vec<EmittedEvent>,
}

/// A contract event as the chain recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmittedEvent {
    /// Its index among all the block's events.
    pub event_index: u32,
    /// The extrinsic that emitted it (`None` outside extrinsics).
    pub extrinsic_index: Option<u32>,
    /// The emitting contract.
    pub contract: AccountId,
    /// The event record's topics; for ink! 5 the first is the event's signature topic.
    pub topics: Vec<[u8; 32]>,
    /// The event's SCALE-encoded fields.
    pub data: Vec<u8>,
}

impl Chain {
    /// The latest finalized block: its number and hash.
    pub async fn finalized_head(&self) -> Result<(u64, [u8; 32])> {
        let hash = self.rpc().chain_get_finalized_head().await.map_err(subxt::Error::from)?;
        let header = self
            .rpc()
            .chain_get_header(Some(hash))
            .await
            .map_err(subxt::Error::from)?
            .ok_or_else(|| Error::Call("the node has no header for its finalized head".into()))?;
        Ok((u64::from(header.number), hash.0))
    }

    /// The hash of the canonical block `number`, if the node has one.
    pub async fn block_hash(&self, number: u64) -> Result<Option<[u8; 32]>> {
        let hash = self.rpc().chain_get_block_hash(Some(number.into())).await.map_err(subxt::Error::from)?;
        Ok(hash.map(|h| h.0))
    }

    /// Block `number` of the canonical chain with its contract events, or `None` if the node has not
    /// got that far. Needs the block's state (events, timestamp): run the node with
    /// `--state-pruning archive` to read blocks older than its pruning window.
    pub async fn block(&self, number: u64) -> Result<Option<ChainBlock>> {
        let Some(hash) = self.block_hash(number).await? else { return Ok(None) };
        let header = self
            .rpc()
            .chain_get_header(Some(H256(hash)))
            .await
            .map_err(subxt::Error::from)?
            .ok_or_else(|| Error::Call(format!("the node has no header for block {number}")))?;
        let timestamp =
            self.api().storage().at(H256(hash)).fetch(&node::storage().timestamp().now()).await?.unwrap_or_default();
        let mut events = Vec::new();
        for ev in self.api().events().at(H256(hash)).await?.iter() {
            let ev = ev?;
            let Some(emitted) = ev.as_event::<node::contracts::events::ContractEmitted>()? else { continue };
            let extrinsic_index = match ev.phase() {
                Phase::ApplyExtrinsic(i) => Some(i),
                Phase::Finalization | Phase::Initialization => None,
            };
            events.push(EmittedEvent {
                event_index: ev.index(),
                extrinsic_index,
                contract: emitted.contract.0,
                topics: ev.topics().iter().map(|t| t.0).collect(),
                data: emitted.data,
            });
        }
        Ok(Some(ChainBlock { number, hash, parent_hash: header.parent_hash.0, timestamp, events }))
    }

    /// The numbers of newly finalized blocks as the node announces them. The node may skip numbers
    /// when several blocks finalize at once: use it as a wake-up, and read blocks by number (as
    /// [`Chain::finalized_blocks`] does).
    pub async fn finalized_numbers(&self) -> Result<impl Stream<Item = Result<u64>> + Send + 'static> {
        let sub = self.rpc().chain_subscribe_finalized_heads().await.map_err(subxt::Error::from)?;
        Ok(sub.map(|header| header.map(|h| u64::from(h.number)).map_err(|e| Error::from(subxt::Error::from(e)))))
    }

    /// The runtime's spec version at block `hash`.
    pub async fn spec_version_at(&self, hash: [u8; 32]) -> Result<u32> {
        let version = self.rpc().state_get_runtime_version(Some(H256(hash))).await.map_err(subxt::Error::from)?;
        Ok(version.spec_version)
    }

    /// The spec version of the runtime whose metadata the client decodes with.
    #[must_use]
    pub fn spec_version(&self) -> u32 {
        self.api().runtime_version().spec_version
    }

    /// Runs [`Chain::follow_runtime_upgrades`] in its own task, which stops when the handle is dropped.
    pub fn spawn_runtime_upgrades(&self) -> AbortOnDropHandle<()> {
        let chain = self.clone();
        AbortOnDropHandle::new(tokio::spawn(async move {
            if let Err(e) = chain.follow_runtime_upgrades().await {
                tracing::debug!(error = %e, "runtime upgrade follower stopped");
            }
        }))
    }

    /// Keeps the client's metadata in step with runtime upgrades; runs until the connection ends.
    pub async fn follow_runtime_upgrades(&self) -> Result<()> {
        Ok(self.api().updater().perform_runtime_updates().await?)
    }
}
