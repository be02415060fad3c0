//! Against a real dev node: the finalized block stream yields every block from its start, in order
//! (read ahead and several at once, or one at a time), reports each head it reads, wakes on finality
//! notifications without waiting for its poll, polls when nothing happens, times out a read that
//! hangs, and ends after its first error.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use escrow_client::blocks::ChainBlock;
use escrow_client::{Chain, Finalized, FinalizedBlocks, FollowOptions};
use futures::StreamExt;
use testkit::{tick, DevNode};

/// The longest any one item may take.
const LIMIT: Duration = Duration::from_secs(60);

async fn next(blocks: &mut FinalizedBlocks) -> Finalized {
    tokio::time::timeout(LIMIT, blocks.next()).await.expect("an item in time").expect("not ended").expect("no error")
}

/// The stream's blocks up to `to`, checked: `from..=to` in order, each the child of the one before,
/// each after a head at least its number.
async fn blocks_through(blocks: &mut FinalizedBlocks, from: u64, to: u64) -> Vec<ChainBlock> {
    let mut got: Vec<ChainBlock> = Vec::new();
    let mut head = None;
    while got.last().is_none_or(|b| b.number < to) {
        match next(blocks).await {
            Finalized::Head(h) => {
                assert!(head.is_none_or(|p| h >= p), "heads go forward");
                head = Some(h);
            }
            Finalized::Block(b) => {
                assert!(head.is_some_and(|h| b.number <= h), "block {} before a head reaching it", b.number);
                got.push(b);
            }
        }
    }
    assert_eq!(got.iter().map(|b| b.number).collect::<Vec<_>>(), (from..=to).collect::<Vec<_>>());
    assert!(got.windows(2).all(|w| w[1].parent_hash == w[0].hash), "each block the child of the one before");
    got
}

async fn ticks(chain: &Chain, n: usize) -> u64 {
    for _ in 0..n {
        tick(chain).await.unwrap();
    }
    chain.finalized_head().await.unwrap().0
}

fn signal(node: &DevNode, signal: &str) {
    assert!(Command::new("kill").arg(signal).arg(node.pid().to_string()).status().unwrap().success());
}

#[tokio::test]
async fn every_finalized_block_once_in_order_until_the_first_error() {
    let (mut node, chain) = DevNode::start().await.unwrap();
    let head = ticks(&chain, 4).await;
    assert!(head >= 4);

    // From genesis, read ahead and three at once: the same blocks as read one by one.
    let ahead = FollowOptions {
        poll: Duration::from_millis(100),
        concurrency: 3,
        read_ahead: 8,
        read_timeout: Some(Duration::from_secs(10)),
        check_runtime: true,
    };
    let mut all = chain.finalized_blocks(0, ahead).await.unwrap();
    for block in blocks_through(&mut all, 0, head).await {
        assert_eq!(Some(&block), chain.block(block.number).await.unwrap().as_ref());
    }
    // Nothing new: it keeps polling, reporting the same head.
    for _ in 0..3 {
        assert_eq!(next(&mut all).await, Finalized::Head(head));
    }

    // Polling hourly, it is woken by the node's notifications; it starts by reporting the head it
    // has nothing to yield up to.
    let woken = FollowOptions { poll: Duration::from_secs(3_600), ..FollowOptions::default() };
    let mut lazy = chain.finalized_blocks(head + 1, woken).await.unwrap();
    assert_eq!(next(&mut lazy).await, Finalized::Head(head));
    let later = ticks(&chain, 2).await;
    blocks_through(&mut lazy, head + 1, later).await;
    blocks_through(&mut all, head + 1, later).await;

    // A read the node does not answer times out, and the stream ends after that error. (It has read
    // the head; without read-ahead, block 0 is read only when asked for.)
    let patient = FollowOptions { read_timeout: Some(Duration::from_secs(1)), ..FollowOptions::default() };
    let mut stalled = chain.finalized_blocks(0, patient).await.unwrap();
    assert_eq!(next(&mut stalled).await, Finalized::Head(later));
    signal(&node, "-STOP");
    let ended = tokio::time::timeout(LIMIT, stalled.next()).await.unwrap();
    signal(&node, "-CONT");
    let err = ended.expect("an item").expect_err("a timeout");
    assert!(err.to_string().contains("block 0: timed out"), "{err}");
    assert!(stalled.next().await.is_none(), "ends after its first error");

    // The node goes away: the read-ahead stream yields an error, then ends.
    node.stop();
    let err = tokio::time::timeout(LIMIT, async {
        loop {
            match all.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => break e,
                None => panic!("ended without an error"),
            }
        }
    })
    .await
    .expect("an error in time");
    assert!(!err.to_string().is_empty());
    assert!(tokio::time::timeout(LIMIT, all.next()).await.unwrap().is_none(), "ends after its first error");
}
