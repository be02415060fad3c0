//! Crash safety of the real `escrow index` process: killed with SIGKILL again and again during a
//! backfill (one block per transaction, so most kills land mid-backfill), restarted each time. The
//! tables it ends with equal, row for row, those of a clean index of the same chain from the start.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use testkit::activity::every_kind;
use testkit::indexing::*;
use testkit::*;

fn start_indexer(config: &indexer::Config, database_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_escrow"))
        .arg("index")
        .env("INDEXER__LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("INDEXER__DATABASE_URL", database_url)
        .env("INDEXER__NODE_URL", &config.node_url)
        .env("INDEXER__CONTRACT", &config.contract)
        .env("INDEXER__BUNDLE", &config.bundle)
        .env("INDEXER__BATCH_BLOCKS", "1")
        .env("INDEXER__FETCH_CONCURRENCY", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn killed_mid_backfill_it_resumes_to_exactly_a_clean_index(pool: PgPool) {
    let (node, chain) = DevNode::start().await.unwrap();
    let m = deploy(&chain).await.unwrap();
    every_kind(&m, "Crash").await.unwrap();
    for _ in 0..15 {
        tick(&chain).await.unwrap();
    }
    let (head, _) = chain.finalized_head().await.unwrap();
    let config = config(&node.url, &m);
    let name = pool.connect_options().get_database().unwrap().to_string();
    let db = db(&pool).await;

    // Kill it as soon as it has committed something new, until it has indexed up to the head.
    let cursor = || async { db.state().await.unwrap().and_then(|s| s.cursor).map(|c| c.number) };
    let mut kills_mid_backfill = 0;
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < Duration::from_secs(180), "no progress");
        let before = cursor().await;
        let mut child = start_indexer(&config, &database_url(&name));
        while cursor().await == before && started.elapsed() < Duration::from_secs(180) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        match cursor().await {
            Some(n) if n >= head => break,
            Some(_) => kills_mid_backfill += 1,
            None => {}
        }
    }
    eprintln!("head {head}: {kills_mid_backfill} kills mid-backfill in {:?}", started.elapsed());
    assert!(kills_mid_backfill >= 3, "kills landed mid-backfill: {kills_mid_backfill}");

    // A clean index of the same chain, in another database, from the same start block.
    let clean_name = format!("indexer_clean_{}_{}", std::process::id(), now_ms()); // within 63 bytes
    sqlx::query(&format!("DROP DATABASE IF EXISTS {clean_name}")).execute(&pool).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {clean_name}")).execute(&pool).await.unwrap();
    let clean_url = database_url(&clean_name);
    let clean = indexer::store::Db::connect(&clean_url, 4).await.unwrap();
    let running = Running::start(config, clean.clone());
    while clean.state().await.unwrap().and_then(|s| s.cursor).is_none_or(|c| c.number < head) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.stop().await.unwrap();
    // No transactions since `head`, so both stopped there: every row, the cursor included, is equal.
    let clean_pool = clean.pool().clone();
    assert_eq!(dump(&pool).await, dump(&clean_pool).await);
    let report = indexer::audit::audit(&db, &m.escrow.address(), None).await.unwrap();
    assert!(report.is_clean(), "{}", report.render());
    clean_pool.close().await;
    sqlx::query(&format!("DROP DATABASE {clean_name}")).execute(&pool).await.unwrap();
}
