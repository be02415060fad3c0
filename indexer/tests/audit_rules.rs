//! Against real Postgres (and a real dev node): the audit's soundness rules on the bad cases they exist
//! for, each set up in the database, and the honest database passing. A database built for another
//! contract or chain is refused by the indexer and reported by the audit; a claim above what its account
//! was owed is reported even when the database was rewritten consistently (hash chain re-linked); and
//! blocks the node does not have are reported, not skipped.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use escrow_client::accounts::ss58;
use escrow_client::events::decode_labelled;
use escrow_client::{account_of, AccountId};
use indexer::audit::{audit, Report};
use indexer::record::{link, IndexedEvent};
use indexer::store::{Db, Filter};
use indexer::Error;
use scale::Encode;
use settlement::{Event, OpenJob};
use sqlx::PgPool;
use testkit::indexing::*;
use testkit::*;

const GENESIS: [u8; 32] = [1; 32];
const CONTRACT: AccountId = [2; 32];
const OTHER: AccountId = [3; 32];
const ELSEWHERE: [u8; 32] = [9; 32];

fn whats(report: &Report) -> Vec<String> {
    report.findings().into_iter().map(|f| f.what.clone()).collect()
}

#[sqlx::test(migrations = false)]
async fn a_database_built_for_another_contract_or_chain_is_refused_and_reported(pool: PgPool) {
    let db = db(&pool).await;
    db.init(GENESIS, CONTRACT, 0).await.unwrap();
    // The indexer refuses to follow into it for another contract or on another chain.
    let refused = db.init(GENESIS, OTHER, 0).await;
    assert!(matches!(refused, Err(Error::OtherContract { stored: CONTRACT, configured: OTHER })), "{refused:?}");
    let refused = db.init(ELSEWHERE, CONTRACT, 0).await;
    assert!(matches!(refused, Err(Error::OtherChain { stored: GENESIS, node: ELSEWHERE })), "{refused:?}");
    assert!(db.init(GENESIS, CONTRACT, 5).await.is_ok(), "the database's own contract and chain");
    // The audit reports it, even with nothing indexed yet.
    let report = audit(&db, &CONTRACT, None).await.unwrap();
    assert!(report.is_clean(), "{}", report.render());
    let report = audit(&db, &OTHER, None).await.unwrap();
    assert_eq!(
        whats(&report),
        [format!(
            "this database was built for contract {}, the audit is configured for {}",
            ss58(CONTRACT),
            ss58(OTHER)
        )]
    );
}

/// Re-links the hash chain over every stored block and moves the cursor to the last one: what someone
/// rewriting the database consistently does after an edit, so that only what the rewrite changed shows.
async fn relink(db: &Db, pool: &PgPool) {
    let blocks = db.blocks(0, u64::try_from(i64::MAX).unwrap()).await.unwrap();
    let events = db.events(&Filter::default()).await.unwrap();
    let mut digest = [0; 32];
    for b in &blocks {
        let indexed: Vec<IndexedEvent> = events
            .iter()
            .filter(|e| e.block_number == b.number)
            .map(|e| IndexedEvent {
                event_index: e.event_index,
                extrinsic_index: e.extrinsic_index,
                kind: e.kind.clone(),
                data: e.data.clone(),
                event: decode_labelled(&e.kind, &e.data).unwrap(),
                treasury: None,
            })
            .collect();
        digest = link(&digest, b.number, &b.hash, &b.parent_hash, b.timestamp, &indexed);
        sqlx::query("UPDATE blocks SET digest = $1 WHERE number = $2")
            .bind(digest.to_vec())
            .bind(i64::try_from(b.number).unwrap())
            .execute(pool)
            .await
            .unwrap();
    }
    let last = blocks.last().unwrap();
    sqlx::query("UPDATE indexer_state SET cursor_number = $1, cursor_hash = $2, cursor_digest = $3")
        .bind(i64::try_from(last.number).unwrap())
        .bind(last.hash.to_vec())
        .bind(digest.to_vec())
        .execute(pool)
        .await
        .unwrap();
}

/// Rewrites the one claim's amount (its event's bytes, its typed row and the running total) to `amount`.
async fn set_claim(pool: &PgPool, account: AccountId, amount: u128) {
    sqlx::query("UPDATE events SET data = $1 WHERE kind = 'Claimed'")
        .bind((account, amount).encode())
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE claims SET amount = $1::numeric").bind(amount.to_string()).execute(pool).await.unwrap();
    // Consistently: the overview's running total and the account's per-day totals too (its one
    // payout is this claim).
    for sql in [
        "UPDATE account_totals SET claimed = $1::numeric WHERE account = $2",
        "UPDATE flow_days SET amount = $1::numeric WHERE account = $2 AND flow = 'paid_out'",
    ] {
        sqlx::query(sql).bind(amount.to_string()).bind(account.to_vec()).execute(pool).await.unwrap();
    }
}

#[sqlx::test(migrations = false)]
async fn what_a_consistent_rewrite_hides_from_the_hash_chain_the_audit_still_reports(pool: PgPool) {
    let (node, chain) = DevNode::start().await.unwrap();
    let m = deploy(&chain).await.unwrap();
    let contract = m.escrow.address();
    // A provider paid once, and claiming what it was paid.
    let e = &m.escrow;
    let provider = funded(&chain, "//AuditRulesProvider", 1_000 * UNIT).await.unwrap();
    let consumer = funded(&chain, "//AuditRulesConsumer", 1_000 * UNIT).await.unwrap();
    e.stake(&provider, m.min_stake).await.unwrap();
    let p = account_of(&provider);
    let req = OpenJob {
        providers: vec![(p, 10 * UNIT)],
        payer_key: payer(1).verifying_key().to_bytes(),
        terms_hash: [0; 32],
        expires_at: now_ms() + 600_000,
    };
    let job = e.open_job(&consumer, 10 * UNIT, &req).await.unwrap().value;
    accept_all(&m, job, &[&provider]).await.unwrap();
    let (r, s) = signed_receipt(&m, &payer(1), job, p, 4 * UNIT, 1);
    e.release(&provider, &r, &s).await.unwrap();
    let claimed = e.claim(&provider).await.unwrap();
    let paid = claimed
        .events
        .iter()
        .find_map(|ev| match ev {
            Event::Claimed { account, amount } if *account == p => Some(*amount),
            _ => None,
        })
        .unwrap();
    assert_eq!(paid, 4 * UNIT - 4 * UNIT / 20, "the net");

    let db = db(&pool).await;
    let running = Running::start(config(&node.url, &m), db.clone());
    let head = caught_up(&db, &chain).await;
    running.stop().await.unwrap();
    let honest = |report: &Report| assert!(report.is_clean(), "{}", report.render());
    let mut report = audit(&db, &contract, None).await.unwrap();
    honest(&report);
    report.check_against_node(&db, &chain).await.unwrap();
    honest(&report);
    assert!(report.render().contains("no account claimed more than it was owed"), "{}", report.render());

    // Contract identity: audited for another contract, the database is reported; the indexer
    // configured for another contract refuses it.
    let other = account_of(&m.treasury);
    let report = audit(&db, &other, None).await.unwrap();
    assert!(!report.is_clean() && whats(&report)[0].starts_with("this database was built for contract"));
    let running = Running::start(indexer::Config { contract: ss58(other), ..config(&node.url, &m) }, db.clone());
    let ended = running.join().await;
    assert!(matches!(ended, Err(Error::OtherContract { .. })), "{ended:?}");
    // A database recording another chain: the audit against the node reports it, the indexer refuses it.
    let genesis = chain.genesis_hash();
    let set_genesis =
        |g: [u8; 32]| sqlx::query("UPDATE indexer_state SET genesis_hash = $1").bind(g.to_vec()).execute(&pool);
    set_genesis([7; 32]).await.unwrap();
    let mut report = audit(&db, &contract, None).await.unwrap();
    report.check_against_node(&db, &chain).await.unwrap();
    assert_eq!(
        whats(&report),
        [format!(
            "this database was built on the chain with genesis 0x{}, the node serves 0x{}",
            hex::encode([7; 32]),
            hex::encode(genesis)
        )]
    );
    let ended = Running::start(config(&node.url, &m), db.clone()).join().await;
    assert!(matches!(ended, Err(Error::OtherChain { .. })), "{ended:?}");
    set_genesis(genesis).await.unwrap();

    // The claim raised by one, and the hash chain re-linked over it: only the claims rule (and the node)
    // can tell.
    set_claim(&pool, p, paid + 1).await;
    relink(&db, &pool).await;
    let report = audit(&db, &contract, None).await.unwrap();
    assert_eq!(
        whats(&report),
        [format!(
            "account {} claimed {}, more than the {paid} it was owed (credited {paid}, claimed 0 before)",
            ss58(p),
            paid + 1
        )]
    );
    set_claim(&pool, p, paid).await;
    relink(&db, &pool).await;
    honest(&audit(&db, &contract, None).await.unwrap());

    // Three blocks appended past the head, consistently linked: the database alone cannot tell, the
    // node does not have them.
    let tip = db.blocks(head, head).await.unwrap().remove(0);
    let mut parent = tip.hash;
    for i in 1..=3u8 {
        let hash = [0xf0 | i; 32];
        sqlx::query("INSERT INTO blocks VALUES ($1, $2, $3, $4, 0, $5)")
            .bind(i64::try_from(head + u64::from(i)).unwrap())
            .bind(hash.to_vec())
            .bind(parent.to_vec())
            .bind(i64::try_from(tip.timestamp + u64::from(i)).unwrap())
            .bind([0u8; 32].to_vec())
            .execute(&pool)
            .await
            .unwrap();
        parent = hash;
    }
    relink(&db, &pool).await;
    let mut report = audit(&db, &contract, None).await.unwrap();
    honest(&report);
    report.check_against_node(&db, &chain).await.unwrap();
    assert_eq!(report.node_blocks, head + 1, "the blocks the node has were compared");
    assert_eq!(
        whats(&report),
        [format!("blocks {}..={}: missing on the node (no block at that height), not compared", head + 1, head + 3)]
    );
    assert!(report.render().contains("MISMATCH: 1 finding(s)"), "{}", report.render());
    sqlx::query("DELETE FROM blocks WHERE number > $1")
        .bind(i64::try_from(head).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    relink(&db, &pool).await;
    let mut report = audit(&db, &contract, None).await.unwrap();
    report.check_against_node(&db, &chain).await.unwrap();
    honest(&report);
}
