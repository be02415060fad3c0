//! Against a real dev node: a `Chain` outlives its node's restart. While the node is down its calls
//! fail at once rather than hang; once the node is back on the same chain the same `Chain` (and every
//! clone of it) works again, subscriptions and submissions included.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use escrow_client::FollowOptions;
use futures::StreamExt;
use testkit::{tick, unique_salt, DevNode};

/// Calls `f` until it succeeds, for at most 10 s; returns how long that took.
async fn until_ok<T, E: std::fmt::Debug, F: std::future::Future<Output = Result<T, E>>>(
    mut f: impl FnMut() -> F,
) -> Duration {
    let started = Instant::now();
    loop {
        match f().await {
            Ok(_) => return started.elapsed(),
            Err(e) => assert!(started.elapsed() < Duration::from_secs(10), "still failing: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_connects_again_after_its_node_restarts() {
    let base = std::env::temp_dir().join(format!("escrow-node-{}", String::from_utf8(unique_salt()).unwrap()));
    let (mut node, chain) = DevNode::start_in(&base).await.unwrap();
    let clone = chain.clone();
    tick(&chain).await.unwrap();
    let (before, _) = chain.finalized_head().await.unwrap();

    // Down: every call fails, at once.
    node.stop();
    for _ in 0..5 {
        let started = Instant::now();
        assert!(chain.finalized_head().await.is_err(), "no node, no head");
        assert!(started.elapsed() < Duration::from_secs(1), "failed at once: {:?}", started.elapsed());
    }

    // Back on the same chain: the same client (and its clones) reads, subscribes and submits again.
    node.start_again().await.unwrap();
    let took = until_ok(|| chain.finalized_head()).await;
    eprintln!("connected again {} ms after the node was back", took.as_millis());
    assert!(clone.finalized_head().await.unwrap().0 >= before);
    let mut blocks = chain.finalized_blocks(before + 1, FollowOptions::default()).await.unwrap();
    tick(&clone).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let escrow_client::Finalized::Block(b) = blocks.next().await.unwrap().unwrap() {
                return b.number;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(next, before + 1, "the new subscription follows the chain on from where it was");

    drop(node);
    let _ = std::fs::remove_dir_all(&base);
}
