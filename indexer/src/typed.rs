//! The typed tables: which row of which table each escrow event becomes, and the batched insert that
//! writes them (multi-row `INSERT`, chunked under Postgres's 65,535 bind parameters). The audit uses
//! the same derivation to check the stored tables still match the events' bytes.

use std::collections::BTreeMap;

use escrow_client::AccountId;
use settlement::Event;
use sqlx::{Postgres, QueryBuilder, Transaction};

use crate::error::{Error, Result};
use crate::record::IndexedEvent;

/// Every typed table, each holding one kind (or two close kinds) of event.
pub const TABLES: [&str; 14] = [
    "jobs",
    "top_ups",
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
    "settings_changes",
    "ownership_changes",
];

/// Most bind parameters in one statement.
pub const MAX_PARAMS: usize = 65_535;

/// A value bound into a typed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// BIGINT / INTEGER.
    Int(i64),
    /// NUMERIC: any u128, exactly.
    Num(u128),
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

fn int(n: u64) -> Result<Val> {
    i64::try_from(n).map(Val::Int).map_err(|_| Error::Decode(format!("{n} does not fit a BIGINT")))
}

/// The typed row of `e`.
pub fn row_of(e: &IndexedEvent) -> Result<Row> {
    let num = |n: u128| Val::Num(n);
    let (table, columns, values): (&'static str, &'static [&'static str], Vec<Val>) = match &e.event {
        Event::JobOpened { job_id, consumer, providers, deposit, payer_key, terms_hash, fee_bps, expires_at } => (
            "jobs",
            &["job_id", "consumer", "providers", "deposit", "payer_key", "terms_hash", "fee_bps", "expires_at"],
            vec![
                num((*job_id).into()),
                acc(consumer),
                Val::BytesList(providers.iter().map(|p| p.to_vec()).collect()),
                num(*deposit),
                Val::Bytes(payer_key.to_vec()),
                Val::Bytes(terms_hash.to_vec()),
                Val::Int((*fee_bps).into()),
                int(*expires_at)?,
            ],
        ),
        Event::ToppedUp { job_id, consumer, amount, deposit } => (
            "top_ups",
            &["job_id", "consumer", "amount", "deposit"],
            vec![num((*job_id).into()), acc(consumer), num(*amount), num(*deposit)],
        ),
        Event::JobCompleted { job_id, consumer, ends_at } => (
            "completions",
            &["job_id", "consumer", "ends_at"],
            vec![num((*job_id).into()), acc(consumer), int(*ends_at)?],
        ),
        Event::Released { job_id, consumer, provider, cumulative, units, sequence, amount, fee, net } => (
            "releases",
            &["job_id", "consumer", "provider", "treasury", "cumulative", "units", "sequence", "amount", "fee", "net"],
            vec![
                num((*job_id).into()),
                acc(consumer),
                acc(provider),
                Val::OptBytes(e.treasury.map(|t| t.to_vec())),
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
            vec![acc(provider), num(*amount), num(*unbonding), int(*unlock_at)?],
        ),
        Event::Withdrawn { provider, amount } => {
            ("withdrawals", &["provider", "amount"], vec![acc(provider), num(*amount)])
        }
        Event::DisputeOpened { job_id, consumer, provider, reason } => (
            "disputes",
            &["job_id", "consumer", "provider", "reason"],
            vec![num((*job_id).into()), acc(consumer), acc(provider), Val::Bytes(reason.to_vec())],
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
        Event::SettingsChanged { treasury, arbiter, fee_bps, min_stake, paused } => (
            "settings_changes",
            &["treasury", "arbiter", "fee_bps", "min_stake", "paused"],
            vec![acc(treasury), acc(arbiter), Val::Int((*fee_bps).into()), num(*min_stake), Val::Bool(*paused)],
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

/// Inserts the typed rows of `events` (each with its block number) into `prefix` + table name.
pub async fn insert(tx: &mut Transaction<'_, Postgres>, prefix: &str, events: &[(u64, &IndexedEvent)]) -> Result<()> {
    let mut by_table: BTreeMap<&'static str, Vec<(i64, i64, Row)>> = BTreeMap::new();
    for (block, e) in events {
        let row = row_of(e)?;
        let block = i64::try_from(*block).map_err(|_| Error::Decode("block number".into()))?;
        by_table.entry(row.table).or_default().push((block, e.event_index.into(), row));
    }
    for (table, rows) in by_table {
        let Some((_, _, first)) = rows.first() else { continue };
        let columns = first.columns;
        let per_row = columns.len().saturating_add(2);
        for chunk in rows.chunks(MAX_PARAMS.checked_div(per_row).unwrap_or(1)) {
            let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
                "INSERT INTO {prefix}{table} (block_number, event_index, {}) ",
                columns.join(", ")
            ));
            q.push_values(chunk, |mut b, (block, index, row)| {
                b.push_bind(*block).push_bind(*index);
                for v in &row.values {
                    match v {
                        Val::Int(n) => b.push_bind(*n),
                        Val::Num(n) => b.push_bind(n.to_string()).push_unseparated("::numeric"),
                        Val::Bytes(x) => b.push_bind(x.clone()),
                        Val::OptBytes(x) => b.push_bind(x.clone()),
                        Val::BytesList(x) => b.push_bind(x.clone()),
                        Val::Bool(x) => b.push_bind(*x),
                        Val::Text(x) => b.push_bind(*x),
                    };
                }
            });
            q.build().execute(&mut **tx).await?;
        }
    }
    Ok(())
}
