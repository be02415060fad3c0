//! Following the chain: every finalized block from the cursor on, in order, as
//! [`Chain::finalized_blocks`] yields them (read by number, so no block is skipped even when the
//! node's finality notifications skip some). Blocks are fetched concurrently, written in batches (one
//! transaction each, cursor included), and a dropped node or database is reconnected with exponential
//! backoff; disagreements that retrying cannot fix (another chain, a stored block the chain does not
//! have) stop the indexer with the reason.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use escrow_client::blocks::ChainBlock;
use escrow_client::events::{decode_labelled, event_label, RawEvent};
use escrow_client::{AccountId, Bundle, Chain, Finalized, FinalizedBlocks, FollowOptions};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use settlement::Event;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::record::{link, IndexedBlock, IndexedEvent};
use crate::store::{Db, State};

/// Where the hash chain and the treasury stand after the last block processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// The last block processed (`None` before the start block).
    pub number: Option<u64>,
    /// Its hash: the next block's parent.
    pub hash: Option<[u8; 32]>,
    /// Its hash-chain link (all zeros before the start block).
    pub digest: [u8; 32],
    /// The treasury in force.
    pub treasury: Option<AccountId>,
}

impl Tip {
    /// The tip a stored state describes.
    #[must_use]
    pub fn of(state: &State) -> Self {
        Self {
            number: state.cursor.map(|c| c.number),
            hash: state.cursor.map(|c| c.hash),
            digest: state.cursor.map_or([0; 32], |c| c.digest),
            treasury: state.treasury,
        }
    }

    /// The next block to index.
    #[must_use]
    pub fn next(&self, start_block: u64) -> u64 {
        self.number.map_or(start_block, |n| n.saturating_add(1))
    }
}

/// Turns a chain block into an indexed block after `tip`: keeps `contract`'s events, decodes them with
/// the bundle's metadata, links the block into the hash chain, and advances `tip`. Fails if the block
/// does not extend `tip` or holds an event the metadata does not describe.
pub fn index_block(block: ChainBlock, contract: &AccountId, bundle: &Bundle, tip: &mut Tip) -> Result<IndexedBlock> {
    if let Some(expected) = tip.hash {
        if block.parent_hash != expected {
            return Err(Error::Fatal(format!(
                "block {} (0x{}) does not extend the indexed block 0x{}",
                block.number,
                hex::encode(block.hash),
                hex::encode(expected)
            )));
        }
    }
    let mut events = Vec::new();
    for e in block.events.into_iter().filter(|e| e.contract == *contract) {
        let raw = RawEvent { topics: &e.topics, data: &e.data };
        let label = event_label(bundle, &raw).map_err(|err| {
            Error::Fatal(format!(
                "block {} event {}: {err} (is the bundle this contract's?)",
                block.number, e.event_index
            ))
        })?;
        let event = decode_labelled(label, &e.data)
            .map_err(|err| Error::Fatal(format!("block {} event {}: {err}", block.number, e.event_index)))?;
        if let Event::SettingsChanged { treasury, .. } = &event {
            tip.treasury = Some(*treasury);
        }
        events.push(IndexedEvent {
            event_index: e.event_index,
            extrinsic_index: e.extrinsic_index,
            kind: label.to_string(),
            data: e.data,
            event,
            treasury: tip.treasury,
        });
    }
    let digest = link(&tip.digest, block.number, &block.hash, &block.parent_hash, block.timestamp, &events);
    *tip = Tip { number: Some(block.number), hash: Some(block.hash), digest, treasury: tip.treasury };
    Ok(IndexedBlock {
        number: block.number,
        hash: block.hash,
        parent_hash: block.parent_hash,
        timestamp: block.timestamp,
        events,
        digest,
    })
}

/// The indexer's main loop.
pub struct Follower {
    config: Arc<Config>,
    db: Db,
    bundle: Arc<Bundle>,
    contract: AccountId,
    metrics: Metrics,
}

impl Follower {
    /// A follower writing to `db`.
    #[must_use]
    pub fn new(config: Arc<Config>, db: Db, bundle: Arc<Bundle>, contract: AccountId, metrics: Metrics) -> Self {
        Self { config, db, bundle, contract, metrics }
    }

    /// Follows the chain until `shutdown` turns true (then returns after the batch in hand is
    /// committed or dropped) or a fatal disagreement; transient failures are retried with backoff.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        let min = Duration::from_millis(self.config.reconnect_min_ms);
        let max = Duration::from_millis(self.config.reconnect_max_ms);
        let mut delay = min;
        loop {
            match self.session(&mut shutdown, &mut delay).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() => {
                    self.metrics.reconnects.inc();
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis(), "indexer interrupted; reconnecting");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => return Ok(()),
                    }
                    delay = delay.saturating_mul(2).min(max);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn session(&self, shutdown: &mut watch::Receiver<bool>, delay: &mut Duration) -> Result<()> {
        let chain = Chain::connect(&self.config.node_url).await?;
        let state = self.db.init(chain.genesis_hash(), self.contract, self.config.start_block).await?;
        if let Some(cursor) = state.cursor {
            let Some(on_chain) = chain.block_hash(cursor.number).await? else {
                // A node still syncing (or freshly restarted) may not have it yet: wait and retry.
                return Err(escrow_client::Error::Call(format!("the node has no block {} yet", cursor.number)).into());
            };
            if on_chain != cursor.hash {
                return Err(Error::Fatal(format!(
                    "indexed block {} is 0x{} but the chain's is 0x{}: the database belongs to another chain \
                     history",
                    cursor.number,
                    hex::encode(cursor.hash),
                    hex::encode(on_chain)
                )));
            }
        }
        let _upgrades = chain.spawn_runtime_upgrades();
        let mut tip = Tip::of(&state);
        let mut blocks = chain.finalized_blocks(tip.next(state.start_block), self.follow_options()).await?;
        if let Some(n) = tip.number {
            self.metrics.last_block.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        tracing::info!(start_block = state.start_block, cursor = ?tip.number, "indexer connected");
        *delay = Duration::from_millis(self.config.reconnect_min_ms);
        // Whether the last head read had no block to index: the stream now waits for news of one.
        let mut idle = false;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let item = if idle {
                tokio::select! {
                    item = blocks.next() => item,
                    _ = shutdown.changed() => return Ok(()),
                }
            } else {
                blocks.next().await
            };
            let Finalized::Head(head) = next_item(item)? else {
                return Err(Error::Fatal("the finalized block stream yielded a block before its head".into()));
            };
            self.metrics.set_chain_height(head);
            let next = tip.next(state.start_block);
            idle = next > head;
            if !idle {
                self.catch_up(&mut blocks, &mut tip, next, head, shutdown).await?;
            }
        }
    }

    /// How the chain is read: `fetch_concurrency` blocks at once, read ahead (in a task of their own,
    /// so the node is read while the previous batch is written), looking for new finalized blocks
    /// every `poll_interval_ms` when the node announces none.
    fn follow_options(&self) -> FollowOptions {
        FollowOptions {
            poll: Duration::from_millis(self.config.poll_interval_ms),
            concurrency: self.config.fetch_concurrency,
            read_ahead: self.config.fetch_concurrency.saturating_mul(4),
            read_timeout: None,
            check_runtime: false,
        }
    }

    fn progress_bar(&self, from: u64, to: u64) -> ProgressBar {
        let total = to.saturating_sub(from).saturating_add(1);
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if self.config.progress && std::io::stderr().is_terminal() && total > 1 {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("indexing {bar:40} {pos}/{len} blocks ({per_sec}, eta {eta}) {msg}")
            {
                bar.set_style(style);
            }
        }
        bar
    }

    /// Indexes blocks `from..=to`, the next ones `blocks` yields, in batches.
    async fn catch_up(
        &self,
        blocks: &mut FinalizedBlocks,
        tip: &mut Tip,
        from: u64,
        to: u64,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<()> {
        let bar = self.progress_bar(from, to);
        let mut batch: Vec<IndexedBlock> = Vec::new();
        let mut batch_events = 0usize;
        let mut committed = tip.number;
        loop {
            let Finalized::Block(block) = next_item(blocks.next().await)? else {
                return Err(Error::Fatal(format!("the finalized block stream yielded a head before block {to}")));
            };
            let last = block.number >= to;
            let indexed = index_block(block, &self.contract, &self.bundle, tip)?;
            batch_events = batch_events.saturating_add(indexed.events.len());
            batch.push(indexed);
            if batch.len() >= self.config.batch_blocks || batch_events >= self.config.batch_events {
                self.flush(&mut committed, &mut batch, tip, &bar).await?;
                batch_events = 0;
                if *shutdown.borrow() {
                    return Ok(());
                }
            }
            if last {
                break;
            }
        }
        self.flush(&mut committed, &mut batch, tip, &bar).await?;
        bar.finish_and_clear();
        Ok(())
    }

    async fn flush(
        &self,
        committed: &mut Option<u64>,
        batch: &mut Vec<IndexedBlock>,
        tip: &Tip,
        bar: &ProgressBar,
    ) -> Result<()> {
        let Some(last) = batch.last() else { return Ok(()) };
        let last = last.number;
        let events: usize = batch.iter().map(|b| b.events.len()).sum();
        let started = std::time::Instant::now();
        self.db.commit(*committed, batch, tip.treasury).await?;
        self.metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        *committed = Some(last);
        self.metrics.indexed(last, batch.len(), events);
        bar.inc(u64::try_from(batch.len()).unwrap_or(u64::MAX));
        tracing::debug!(last_block = last, blocks = batch.len(), events, "batch committed");
        batch.clear();
        Ok(())
    }
}

/// A finalized block stream's next item. The stream ends only after yielding an error, or if its
/// reader stopped: an end is an error too.
fn next_item(item: Option<escrow_client::Result<Finalized>>) -> Result<Finalized> {
    Ok(item.ok_or_else(|| escrow_client::Error::Call("the finalized block stream ended".into()))??)
}
