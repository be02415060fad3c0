//! The intake's writes. A request's receipts are accepted in one transaction under the advisory locks
//! of their jobs: the store reads what the decision needs (the receipts accepted before, the lanes),
//! [`crate::accept::decide`] judges against that committed state, and the store writes the accepted
//! receipts and moves the lanes, so concurrent requests cannot both pass a bound.

use std::collections::{BTreeMap, HashMap};

use escrow_client::AccountId;
use sqlx::Row;

use super::receipts::lanes_of_jobs;
use super::{fixed, Store, Tx};
use crate::accept::{decide, digest, Accepted, Candidate, Decision, Outcome, Refusal, When};
use crate::error::{Error, Result};
use crate::jobs::JobView;
use settlement::{Lane, Receipt};

fn view_job_id(items: &[Candidate]) -> Result<u64> {
    let first = items.first().ok_or(Error::Database(sqlx::Error::RowNotFound))?.receipt.job_id;
    if items.iter().any(|c| c.receipt.job_id != first) {
        return Err(Error::bad_request("mixed_jobs", "receipts of one call must share a job"));
    }
    Ok(first)
}

impl Store {
    /// Accepts the receipts of several jobs in one transaction. Each group is a job as the chain has it
    /// and its receipts in the order received, their domains checked and their signatures verified apart
    /// (`signature_ok`). The jobs' advisory locks are taken in ascending id order, so concurrent calls
    /// cannot deadlock. Then each job's receipts are decided ([`decide`]) against the receipts accepted
    /// before and the lanes as committed; the accepted ones are inserted together and the lanes moved to
    /// the newest. A receipt accepted before is reported as a duplicate and not written again. Returns
    /// one outcome per receipt, group by group. Time is judged at `when` (now, and the deadline a release
    /// must land by).
    pub async fn accept(&self, groups: &[(JobView, Vec<Candidate>)], when: When) -> Result<Vec<Vec<Outcome>>> {
        let mut job_ids = Vec::with_capacity(groups.len());
        for (_, items) in groups {
            job_ids.push(view_job_id(items)?);
        }
        let mut locks = job_ids
            .iter()
            .map(|id| i64::try_from(*id).map_err(|_| Error::rule(settlement::Error::JobNotFound)))
            .collect::<Result<Vec<i64>>>()?;
        locks.sort_unstable();
        locks.dedup();
        if locks.len() != job_ids.len() {
            return Err(Error::bad_request("mixed_jobs", "each job must come in one group"));
        }
        let digests: Vec<Vec<[u8; 32]>> =
            groups.iter().map(|(_, items)| items.iter().map(|c| digest(&c.receipt, &c.signature)).collect()).collect();

        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k")
            .bind(&locks)
            .execute(&mut *tx)
            .await?;
        let digest_list: Vec<Vec<u8>> = digests.iter().flatten().map(|d| d.to_vec()).collect();
        let mut known: HashMap<[u8; 32], i64> = HashMap::new();
        for row in sqlx::query("SELECT digest, id FROM receipts WHERE digest = ANY($1)")
            .bind(&digest_list)
            .fetch_all(&mut *tx)
            .await?
        {
            known.insert(fixed(&row, "digest")?, row.try_get("id")?);
        }
        let mut lanes = lanes_of_jobs(&mut *tx, &job_ids).await?;

        // Each job decided against its committed state; the accepted receipts get their slots among
        // the inserted rows in order, job by job.
        let mut fresh: Vec<(&Candidate, [u8; 32])> = Vec::new();
        let mut newest: BTreeMap<(u64, AccountId), (usize, Lane)> = BTreeMap::new();
        let mut placed = Vec::with_capacity(groups.len());
        for (((view, items), digests), job_id) in groups.iter().zip(&digests).zip(&job_ids) {
            let stored = lanes.remove(job_id).unwrap_or_default();
            let decided = decide(view, &known, &stored, items, digests, when);
            let mut slot_of = vec![0; items.len()];
            let mut out = Vec::with_capacity(items.len());
            for (index, ((c, d), decision)) in items.iter().zip(digests).zip(decided.decisions).enumerate() {
                out.push(match decision {
                    Decision::Known(id) => Placed::Known(id),
                    Decision::New => {
                        let slot = fresh.len();
                        slot_of[index] = slot;
                        fresh.push((c, *d));
                        Placed::New(slot)
                    }
                    Decision::SameAs(first) => Placed::SameAsNew(slot_of[first]),
                    Decision::Refused(e) => Placed::Refused(e),
                });
            }
            for (provider, moved) in decided.moved {
                newest.insert((*job_id, provider), (slot_of[moved.candidate], moved.lane));
            }
            placed.push(out);
        }

        let ids = insert_receipts(&mut tx, &fresh).await?;
        move_lanes(&mut tx, &ids, &newest).await?;
        tx.commit().await?;
        Ok(placed
            .into_iter()
            .map(|group| {
                group
                    .into_iter()
                    .map(|p| match p {
                        Placed::Known(id) => Ok(Accepted { id, duplicate: true }),
                        Placed::New(slot) => Ok(Accepted { id: ids[slot], duplicate: false }),
                        Placed::SameAsNew(slot) => Ok(Accepted { id: ids[slot], duplicate: true }),
                        Placed::Refused(e) => Err(e),
                    })
                    .collect()
            })
            .collect())
    }
}

/// A decision placed among the rows written.
enum Placed {
    /// Accepted before, with this id.
    Known(i64),
    /// Accepted now: the slot of its row among the inserted ones.
    New(usize),
    /// The same receipt as an earlier one of this call, accepted now in that slot.
    SameAsNew(usize),
    /// Refused.
    Refused(Refusal),
}

/// Inserts the receipts in one statement; returns their ids in the same order.
async fn insert_receipts(tx: &mut Tx<'_>, fresh: &[(&Candidate, [u8; 32])]) -> Result<Vec<i64>> {
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    let text = |f: &dyn Fn(&Receipt<AccountId>) -> String| fresh.iter().map(|(c, _)| f(&c.receipt)).collect::<Vec<_>>();
    let bytes = |f: &dyn Fn(&Candidate) -> Vec<u8>| fresh.iter().map(|(c, _)| f(c)).collect::<Vec<_>>();
    let rows = sqlx::query(
        "INSERT INTO receipts (job_id, provider, amount, units, sequence, expires_at, genesis_hash, contract, \
         signature, digest) SELECT j::numeric, p, a::numeric, u::numeric, s::numeric, e::numeric, g, c, sig, d \
         FROM UNNEST($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], \
         $8::bytea[], $9::bytea[], $10::bytea[]) AS t(j, p, a, u, s, e, g, c, sig, d) RETURNING id, digest",
    )
    .bind(text(&|r| r.job_id.to_string()))
    .bind(bytes(&|c| c.receipt.provider.to_vec()))
    .bind(text(&|r| r.amount.to_string()))
    .bind(text(&|r| r.units.to_string()))
    .bind(text(&|r| r.sequence.to_string()))
    .bind(text(&|r| r.expires_at.to_string()))
    .bind(bytes(&|c| c.receipt.domain.genesis_hash.to_vec()))
    .bind(bytes(&|c| c.receipt.domain.contract.to_vec()))
    .bind(bytes(&|c| c.signature.to_vec()))
    .bind(fresh.iter().map(|(_, d)| d.to_vec()).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await?;
    let mut by_digest: HashMap<[u8; 32], i64> = HashMap::with_capacity(rows.len());
    for row in &rows {
        by_digest.insert(fixed(row, "digest")?, row.try_get("id")?);
    }
    fresh.iter().map(|(_, d)| by_digest.get(d).copied().ok_or(Error::Database(sqlx::Error::RowNotFound))).collect()
}

/// Moves each touched lane, in (job, provider) order, to its newest accepted receipt: the row inserted
/// in that slot, and the lane it sets.
async fn move_lanes(tx: &mut Tx<'_>, ids: &[i64], newest: &BTreeMap<(u64, AccountId), (usize, Lane)>) -> Result<()> {
    if newest.is_empty() {
        return Ok(());
    }
    let text = |f: &dyn Fn(&Lane) -> String| newest.values().map(|(_, lane)| f(lane)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO lanes (job_id, provider, receipt_id, amount, units, sequence, unsettled_since) \
         SELECT j::numeric, p, r, a::numeric, u::numeric, s::numeric, now() \
         FROM UNNEST($1::text[], $2::bytea[], $3::int8[], $4::text[], $5::text[], $6::text[]) AS t(j, p, r, a, u, s) \
         ON CONFLICT (job_id, provider) DO UPDATE SET receipt_id = EXCLUDED.receipt_id, \
         amount = EXCLUDED.amount, units = EXCLUDED.units, sequence = EXCLUDED.sequence, \
         unsettled_since = COALESCE(lanes.unsettled_since, now()), stalled = NULL",
    )
    .bind(newest.keys().map(|(job_id, _)| job_id.to_string()).collect::<Vec<_>>())
    .bind(newest.keys().map(|(_, provider)| provider.to_vec()).collect::<Vec<_>>())
    .bind(newest.values().map(|(slot, _)| ids[*slot]).collect::<Vec<_>>())
    .bind(text(&|l| l.amount.to_string()))
    .bind(text(&|l| l.units.to_string()))
    .bind(text(&|l| l.sequence.to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
