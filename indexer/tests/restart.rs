//! The node goes away under a running indexer and comes back on the same chain: the indexer reconnects
//! with backoff and resumes from its cursor, with no gap and no duplicate. Indexing from a later start
//! block mirrors only what came after it.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use escrow_client::{AccountId, Escrow};
use indexer::store::Filter;
use settlement::Event;
use sqlx::PgPool;
use testkit::indexing::*;
use testkit::*;

async fn stakes(escrow: &Escrow, who: &str, n: usize) -> Vec<Event<AccountId>> {
    let provider = funded(escrow.chain(), who, 1_000 * UNIT).await.unwrap();
    let mut events = Vec::new();
    for i in 0..n {
        events.extend(escrow.stake(&provider, UNIT + i as u128).await.unwrap().events);
    }
    events
}

#[sqlx::test(migrations = false)]
async fn a_restarted_node_is_followed_again_without_gap_or_duplicate(pool: PgPool) {
    let base = std::env::temp_dir().join(format!("escrow-node-{}", String::from_utf8(unique_salt()).unwrap()));
    let (mut node, chain) = DevNode::start_in(&base).await.unwrap();
    let m = deploy(&chain).await.unwrap();
    let mut expected = vec![Event::SettingsChanged {
        treasury: escrow_client::account_of(&m.treasury),
        arbiter: escrow_client::account_of(&m.arbiter),
        fee_bps: 500,
        min_stake: m.min_stake,
        slash_bps: TEST_SLASH_BPS,
        paused: false,
    }];
    expected.extend(stakes(&m.escrow, "//RestartA", 3).await);
    let db = db(&pool).await;
    let running = Running::start(config(&node.url, &m), db.clone());
    let before = caught_up(&db, &chain).await;

    // The node stops; the indexer keeps trying. It comes back on the same port and chain.
    node.stop();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(running.metrics.reconnects.get() >= 1, "the indexer noticed and retried");
    let chain = node.restart().await.unwrap();
    let escrow = Escrow::at(&chain, escrow_bundle().unwrap(), m.escrow.address());
    expected.extend(stakes(&escrow, "//RestartB", 3).await);
    let after = caught_up(&db, &chain).await;
    assert!(after > before);

    let stored = db.events(&Filter::default()).await.unwrap();
    let decoded: Vec<Event<AccountId>> =
        stored.iter().map(|e| escrow_client::events::decode_labelled(&e.kind, &e.data).unwrap()).collect();
    assert_eq!(decoded, expected, "every event once, in order");
    let blocks = db.blocks(0, after).await.unwrap();
    assert_eq!(blocks.len() as u64, after + 1, "no gap");
    assert!(blocks.windows(2).all(|w| w[1].parent_hash == w[0].hash));
    running.stop().await.unwrap();
    let report = indexer::audit::audit(&db, &m.escrow.address(), None).await.unwrap();
    assert!(report.is_clean(), "{}", report.render());

    // Another database indexes the same chain from a later start block: only what happened since.
    let later = format!("indexer_later_{}_{}", std::process::id(), now_ms()); // within Postgres's 63 bytes
    sqlx::query(&format!("DROP DATABASE IF EXISTS {later}")).execute(&pool).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {later}")).execute(&pool).await.unwrap();
    let later_db = indexer::store::Db::connect(&database_url(&later), 4).await.unwrap();
    let running =
        Running::start(indexer::Config { start_block: before + 1, ..config(&node.url, &m) }, later_db.clone());
    caught_up(&later_db, &chain).await;
    running.stop().await.unwrap();
    let stored = later_db.events(&Filter::default()).await.unwrap();
    let decoded: Vec<Event<AccountId>> =
        stored.iter().map(|e| escrow_client::events::decode_labelled(&e.kind, &e.data).unwrap()).collect();
    assert_eq!(decoded, expected[4..], "the events after the start block");
    assert_eq!(later_db.blocks(0, before).await.unwrap().len(), 0);
    let report = indexer::audit::audit(&later_db, &m.escrow.address(), None).await.unwrap();
    assert!(report.is_clean(), "{}", report.render());
    later_db.pool().close().await;
    sqlx::query(&format!("DROP DATABASE {later}")).execute(&pool).await.unwrap();

    // A row planted where the next block goes: the indexer stops with the database's refusal rather
    // than retrying the same write forever.
    sqlx::query(
        "INSERT INTO blocks VALUES ($1, decode(repeat('ab', 32), 'hex'), decode(repeat('cd', 32), 'hex'), 0, 0, \
         decode(repeat('ef', 32), 'hex'))",
    )
    .bind(i64::try_from(after + 1).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let escrow = Escrow::at(&chain, escrow_bundle().unwrap(), m.escrow.address());
    stakes(&escrow, "//RestartC", 1).await;
    let running = Running::start(config(&node.url, &m), db.clone());
    let ended = tokio::time::timeout(std::time::Duration::from_secs(60), running.join()).await.expect("it stops");
    assert!(matches!(&ended, Err(e) if !e.is_transient()), "{ended:?}");
    drop(node);
    let _ = std::fs::remove_dir_all(&base);
}
