//! Following the finalized chain: one stream of every finalized block from a given number, in order.
//! It wakes on the node's finality notifications and also polls on an interval, and reads blocks by
//! number up to the finalized head, so no block is missed when notifications skip some. The gateway's
//! job views and the indexer both follow the chain through it; what they do about an error (start
//! over, reconnect with backoff, stop) is theirs.

use std::future::Future;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use crate::blocks::ChainBlock;
use crate::chain::Chain;
use crate::error::{Error, Result};

/// How a [`FinalizedBlocks`] stream reads the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowOptions {
    /// How long to wait for a finality notification before reading the finalized head anyway.
    pub poll: Duration,
    /// Blocks read from the node at once (each in its own task; 0 counts as 1); they are yielded in
    /// order.
    pub concurrency: usize,
    /// Items read ahead of the consumer by a task of their own, so the node is read while the
    /// consumer works on earlier blocks (0: the node is read only while the stream is polled).
    pub read_ahead: usize,
    /// The longest one block's read may take; then the stream fails (`None`: no limit).
    pub read_timeout: Option<Duration>,
    /// Fail on a block whose runtime's spec version is not that of the client's metadata, which
    /// decodes the block's events (a stale one could miss events after an upgrade). Keep the
    /// metadata in step with [`Chain::spawn_runtime_upgrades`].
    pub check_runtime: bool,
}

impl Default for FollowOptions {
    /// Poll every 2 s, one block at a time, no read-ahead, no timeout, no runtime check.
    fn default() -> Self {
        Self { poll: Duration::from_secs(2), concurrency: 1, read_ahead: 0, read_timeout: None, check_runtime: false }
    }
}

/// An item of a [`FinalizedBlocks`] stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finalized {
    /// The finalized head as just read; the blocks up to it that the stream has not yielded yet
    /// follow, in order, before the next `Head`.
    Head(u64),
    /// The next finalized block.
    Block(ChainBlock),
}

/// Every finalized block from a given number, in order, each exactly once (see
/// [`Chain::finalized_blocks`]). Ends after its first error.
pub struct FinalizedBlocks {
    source: Source,
}

enum Source {
    /// The walk, run as the stream is polled.
    Here(BoxStream<'static, Result<Finalized>>),
    /// The walk, run ahead by `reader` into `items`.
    Ahead { items: mpsc::Receiver<Result<Finalized>>, reader: AbortOnDropHandle<()> },
    /// Nothing more.
    Ended,
}

impl Chain {
    /// Every finalized block from number `from` on, in order, as the chain finalizes them. The stream
    /// reads the finalized head right away, after each run of blocks, and after each wake-up (a
    /// finality notification, or `options.poll` without one); it yields each head it reads as
    /// [`Finalized::Head`], then the blocks up to it that it has not yielded yet, read by number.
    /// It ends after yielding its first error (the finality notifications failing or ending, a read
    /// failing or timing out, a runtime mismatch): start a new one from the next block to go on. A
    /// panic while reading a block is resumed in the consumer. Subscribes to finality notifications
    /// before returning.
    pub async fn finalized_blocks(&self, from: u64, options: FollowOptions) -> Result<FinalizedBlocks> {
        let walk = Walk { chain: self.clone(), wake: self.finalized_numbers().await?.boxed(), next: from, options };
        let walk = walk.into_stream();
        let source = if options.read_ahead == 0 {
            Source::Here(walk)
        } else {
            let (sender, items) = mpsc::channel(options.read_ahead);
            let reader = AbortOnDropHandle::new(tokio::spawn(async move {
                let mut walk = walk;
                while let Some(item) = walk.next().await {
                    if sender.send(item).await.is_err() {
                        break;
                    }
                }
            }));
            Source::Ahead { items, reader }
        };
        Ok(FinalizedBlocks { source })
    }
}

impl Stream for FinalizedBlocks {
    type Item = Result<Finalized>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let ended = match &mut this.source {
            Source::Here(walk) => return walk.poll_next_unpin(cx),
            Source::Ahead { items, reader } => match items.poll_recv(cx) {
                Poll::Ready(None) => match Pin::new(reader).poll(cx) {
                    Poll::Ready(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Poll::Ready(_) => Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                },
                other => return other,
            },
            Source::Ended => Poll::Ready(None),
        };
        this.source = Source::Ended;
        ended
    }
}

/// The walk's state between items.
struct Walk {
    chain: Chain,
    wake: BoxStream<'static, Result<u64>>,
    /// The next block to yield.
    next: u64,
    options: FollowOptions,
}

/// Where the walk stands.
enum Step {
    /// Read the finalized head now.
    ReadHead,
    /// Wait for a wake-up, then read the finalized head.
    Wait,
    /// Yield these blocks' reads, then read the finalized head.
    Blocks(BoxStream<'static, Result<ChainBlock>>),
}

impl Walk {
    fn into_stream(self) -> BoxStream<'static, Result<Finalized>> {
        stream::unfold(Some((self, Step::ReadHead)), |state| async move {
            let (mut walk, step) = state?;
            match walk.step(step).await {
                Ok((item, step)) => Some((Ok(item), Some((walk, step)))),
                Err(e) => Some((Err(e), None)),
            }
        })
        .boxed()
    }

    async fn step(&mut self, mut step: Step) -> Result<(Finalized, Step)> {
        if let Step::Blocks(mut blocks) = step {
            match blocks.next().await {
                Some(block) => {
                    let block = block?;
                    self.next = block.number.saturating_add(1);
                    return Ok((Finalized::Block(block), Step::Blocks(blocks)));
                }
                None => step = Step::ReadHead,
            }
        }
        if let Step::Wait = step {
            match tokio::time::timeout(self.options.poll, self.wake.next()).await {
                Ok(Some(Err(e))) => return Err(e),
                Ok(None) => return Err(Error::Call("the node's finality notifications ended".into())),
                Ok(Some(Ok(_))) | Err(_) => {}
            }
        }
        let (head, _) = self.chain.finalized_head().await?;
        let step = if self.next <= head { Step::Blocks(self.read(self.next..=head)) } else { Step::Wait };
        Ok((Finalized::Head(head), step))
    }

    /// Reads of `numbers`, `options.concurrency` at once, in order.
    fn read(&self, numbers: RangeInclusive<u64>) -> BoxStream<'static, Result<ChainBlock>> {
        let chain = self.chain.clone();
        let options = self.options;
        stream::iter(numbers)
            .map(move |number| {
                // A task per block: decoding a block's events is CPU work, spread over the cores.
                let chain = chain.clone();
                tokio::spawn(async move { read_block(&chain, number, &options).await })
            })
            .buffered(options.concurrency.max(1))
            .map(move |joined| match joined {
                Ok(block) => block,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => Err(Error::Call(format!("block read task: {e}"))),
            })
            .boxed()
    }
}

/// Finalized block `number`, within `options.read_timeout`, checked against the client's runtime if
/// `options.check_runtime`.
async fn read_block(chain: &Chain, number: u64, options: &FollowOptions) -> Result<ChainBlock> {
    let read = async {
        let block = chain
            .block(number)
            .await?
            .ok_or_else(|| Error::Call(format!("the node has no block {number} below its finalized head")))?;
        if options.check_runtime {
            let (runtime, client) = (chain.spec_version_at(block.hash).await?, chain.spec_version());
            if runtime != client {
                return Err(Error::Call(format!(
                    "block {number} runs spec version {runtime}, the client's metadata is of {client}"
                )));
            }
        }
        Ok(block)
    };
    match options.read_timeout {
        Some(limit) => {
            tokio::time::timeout(limit, read).await.map_err(|_| Error::Call(format!("block {number}: timed out")))?
        }
        None => read.await,
    }
}
