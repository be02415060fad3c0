//! The typed tables: which row of which table each escrow event becomes, and the batched write (one
//! `COPY` per table). The audit uses the same derivation to check the stored tables still match the
//! events' bytes.

use std::collections::BTreeMap;

use escrow_client::AccountId;
use settlement::Event;
use sqlx::{Postgres, Transaction};

use super::copy::CopyRows;

use crate::error::{Error, Result};
use crate::record::IndexedEvent;

/// Every typed table, each holding one kind (or two close kinds) of event.
pub const TABLES: [&str; 18] = [
    "jobs",
    "acceptances",
    "top_ups",
    "allocations",
    "thaws",
    "completions",
    "releases",
    "refunds",
    "claims",
    "stakes",
    "unbonds",
    "withdrawals",
    "disputes",
    "dispute_resolutions",
    "reputation_changes",
    "settings_announcements",
    "settings_changes",
    "ownership_changes",
];

/// A value bound into a typed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// BIGINT / INTEGER.
    Int(i64),
    /// NUMERIC: any u128, exactly.
    Num(u128),
    /// NUMERIC[]: u128s, exactly.
    NumList(Vec<u128>),
    /// BYTEA.
    Bytes(Vec<u8>),
    /// BYTEA, or NULL.
    OptBytes(Option<Vec<u8>>),
    /// BYTEA[].
    BytesList(Vec<Vec<u8>>),
    /// BOOLEAN.
    Bool(bool),
    /// TEXT.
    Text(&'static str),
}

/// One typed row: its table, columns and values (after the position columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The table.
    pub table: &'static str,
    /// Its columns, in order.
    pub columns: &'static [&'static str],
    /// The values, one per column.
    pub values: Vec<Val>,
}

fn acc(a: &AccountId) -> Val {
    Val::Bytes(a.to_vec())
}

/// The typed row of `event`; a release records `treasury`, the account its fee went to.
pub fn row_of(event: &Event<AccountId>, treasury: Option<AccountId>) -> Result<Row> {
    let num = |n: u128| Val::Num(n);
    let (table, columns, values): (&'static str, &'static [&'static str], Vec<Val>) = match event {
        Event::JobOpened {
            job_id,
            consumer,
            providers,
            allocations,
            deposit,
            payer_key,
            terms_hash,
            fee_bps,
            slash_bps,
            arbiter,
            expires_at,
        } => (
            "jobs",
            &[
                "job_id",
                "consumer",
                "providers",
                "allocations",
                "deposit",
                "payer_key",
                "terms_hash",
                "fee_bps",
                "slash_bps",
                "arbiter",
                "expires_at",
            ],
            vec![
                num((*job_id).into()),
                acc(consumer),
                Val::BytesList(providers.iter().map(|p| p.to_vec()).collect()),
                Val::NumList(allocations.clone()),
                num(*deposit),
                Val::Bytes(payer_key.to_vec()),
                Val::Bytes(terms_hash.to_vec()),
                Val::Int((*fee_bps).into()),
                Val::Int((*slash_bps).into()),
                acc(arbiter),
                num((*expires_at).into()),
            ],
        ),
        Event::JobAccepted { job_id, provider, funds, max_slash, locked_until } => (
            "acceptances",
            &["job_id", "provider", "funds", "max_slash", "locked_until"],
            vec![num((*job_id).into()), acc(provider), num(*funds), num(*max_slash), num((*locked_until).into())],
        ),
        Event::ToppedUp { job_id, consumer, amount, deposit } => (
            "top_ups",
            &["job_id", "consumer", "amount", "deposit"],
            vec![num((*job_id).into()), acc(consumer), num(*amount), num(*deposit)],
        ),
        Event::Allocated { job_id, consumer, provider, amount, allocation, unallocated } => (
            "allocations",
            &["job_id", "consumer", "provider", "amount", "allocation", "unallocated"],
            vec![
                num((*job_id).into()),
                acc(consumer),
                acc(provider),
                num(*amount),
                num(*allocation),
                num(*unallocated),
            ],
        ),
        Event::ThawStarted { job_id, consumer, provider, amount, ends_at } => (
            "thaws",
            &["job_id", "consumer", "provider", "amount", "ends_at"],
            vec![num((*job_id).into()), acc(consumer), acc(provider), num(*amount), num((*ends_at).into())],
        ),
        Event::JobCompleted { job_id, consumer, ends_at } => (
            "completions",
            &["job_id", "consumer", "ends_at"],
            vec![num((*job_id).into()), acc(consumer), num((*ends_at).into())],
        ),
        Event::Released { job_id, consumer, provider, cumulative, units, sequence, amount, fee, net } => (
            "releases",
            &["job_id", "consumer", "provider", "treasury", "cumulative", "units", "sequence", "amount", "fee", "net"],
            vec![
                num((*job_id).into()),
                acc(consumer),
                acc(provider),
                Val::OptBytes(treasury.map(|t| t.to_vec())),
                num(*cumulative),
                num(*units),
                num((*sequence).into()),
                num(*amount),
                num(*fee),
                num(*net),
            ],
        ),
        Event::Refunded { job_id, consumer, amount } => {
            ("refunds", &["job_id", "consumer", "amount"], vec![num((*job_id).into()), acc(consumer), num(*amount)])
        }
        Event::Claimed { account, amount } => ("claims", &["account", "amount"], vec![acc(account), num(*amount)]),
        Event::Staked { provider, amount, active } => {
            ("stakes", &["provider", "amount", "active"], vec![acc(provider), num(*amount), num(*active)])
        }
        Event::Unbonding { provider, amount, unbonding, unlock_at } => (
            "unbonds",
            &["provider", "amount", "unbonding", "unlock_at"],
            vec![acc(provider), num(*amount), num(*unbonding), num((*unlock_at).into())],
        ),
        Event::Withdrawn { provider, amount } => {
            ("withdrawals", &["provider", "amount"], vec![acc(provider), num(*amount)])
        }
        Event::DisputeOpened { job_id, consumer, provider, reason, resolve_by } => (
            "disputes",
            &["job_id", "consumer", "provider", "reason", "resolve_by"],
            vec![
                num((*job_id).into()),
                acc(consumer),
                acc(provider),
                Val::Bytes(reason.to_vec()),
                num((*resolve_by).into()),
            ],
        ),
        Event::DisputeResolved { job_id, consumer, provider, slashed } => (
            "dispute_resolutions",
            &["job_id", "consumer", "provider", "slashed"],
            vec![num((*job_id).into()), acc(consumer), acc(provider), num(*slashed)],
        ),
        Event::ReputationChanged { provider, reputation, score } => (
            "reputation_changes",
            &["provider", "jobs_completed", "volume", "disputes_lost", "slashed", "score"],
            vec![
                acc(provider),
                num(reputation.jobs_completed.into()),
                num(reputation.volume),
                Val::Int(reputation.disputes_lost.into()),
                num(reputation.slashed),
                Val::Int((*score).into()),
            ],
        ),
        Event::SettingsAnnounced { treasury, arbiter, fee_bps, min_stake, slash_bps, effective_at } => (
            "settings_announcements",
            &["treasury", "arbiter", "fee_bps", "min_stake", "slash_bps", "effective_at"],
            vec![
                acc(treasury),
                acc(arbiter),
                Val::Int((*fee_bps).into()),
                num(*min_stake),
                Val::Int((*slash_bps).into()),
                num((*effective_at).into()),
            ],
        ),
        Event::SettingsChanged { treasury, arbiter, fee_bps, min_stake, slash_bps, paused } => (
            "settings_changes",
            &["treasury", "arbiter", "fee_bps", "min_stake", "slash_bps", "paused"],
            vec![
                acc(treasury),
                acc(arbiter),
                Val::Int((*fee_bps).into()),
                num(*min_stake),
                Val::Int((*slash_bps).into()),
                Val::Bool(*paused),
            ],
        ),
        Event::OwnershipTransferStarted { owner, pending } => (
            "ownership_changes",
            &["step", "from_account", "to_account"],
            vec![Val::Text("started"), acc(owner), acc(pending)],
        ),
        Event::OwnershipTransferred { previous, owner } => (
            "ownership_changes",
            &["step", "from_account", "to_account"],
            vec![Val::Text("transferred"), acc(previous), acc(owner)],
        ),
    };
    Ok(Row { table, columns, values })
}

/// Where an event is: its block's number and hash.
pub type At<'a> = (u64, [u8; 32], &'a IndexedEvent);

/// Writes the typed rows of `events` into `prefix` + table name, one `COPY` per table.
pub async fn insert(tx: &mut Transaction<'_, Postgres>, prefix: &str, events: &[At<'_>]) -> Result<()> {
    let mut by_table: BTreeMap<&'static str, (&'static [&'static str], CopyRows)> = BTreeMap::new();
    for (block, hash, e) in events {
        let row = row_of(&e.event, e.treasury)?;
        let block = i64::try_from(*block).map_err(|_| Error::Decode("block number".into()))?;
        let (_, rows) = by_table.entry(row.table).or_insert_with(|| (row.columns, CopyRows::new()));
        rows.int(block).bytes(hash).int(e.event_index.into()).opt_int(e.extrinsic_index.map(i64::from));
        for v in &row.values {
            match v {
                Val::Int(n) => rows.int(*n),
                Val::Num(n) => rows.num(*n),
                Val::NumList(x) => rows.num_list(x),
                Val::Bytes(x) => rows.bytes(x),
                Val::OptBytes(x) => rows.opt_bytes(x.as_deref()),
                Val::BytesList(x) => rows.bytes_list(x),
                Val::Bool(x) => rows.bool(*x),
                Val::Text(x) => rows.text(x),
            };
        }
        rows.end_row();
    }
    for (table, (columns, rows)) in by_table {
        let mut all = vec!["block_number", "block_hash", "event_index", "extrinsic_index"];
        all.extend(columns);
        rows.send(tx, &format!("{prefix}{table}"), &all).await?;
    }
    Ok(())
}
