//! The intake pipeline: parse each receipt and check its domain; look its job up as of the latest
//! finalized block the follower heard of ([`crate::views`]; refusals judged again as of the node's
//! if it is newer); verify the signatures (`verify_strict`, in parallel for
//! batches; a bad one is refused there, without taking its job's lock); then check the rules and commit
//! together with the other requests in flight ([`crate::commit`]: one Postgres transaction, several
//! past `max_jobs_per_transaction` jobs). Each receipt gets its own verdict; refusals are counted by
//! code, and a few kept whole, in the bounded refusal log ([`crate::refusals`]).

use std::collections::BTreeMap;

use escrow_client::AccountId;
use serde_json::Value;
use settlement::{JobId, PayerKey, Receipt};

use crate::accept::{Accepted, Candidate, Refusal};
use crate::commit::Batch;
use crate::error::{Error, PublicError, Result};
use crate::limits::Client;
use crate::views::Lookup;
use crate::wire::SignedReceiptJson;
use crate::AppState;

/// What became of one receipt.
#[derive(Debug)]
pub enum Verdict {
    /// Committed (now or before).
    Accepted(Accepted),
    /// Refused: a rule broken or a malformed item. Nothing was stored in the accepted set.
    Rejected(Error),
}

/// Batches at least this large have their signatures verified on every core.
const PARALLEL_FROM: usize = 64;

/// Signatures verified per round: after each, the round's bad ones are charged to the client's
/// bad-signature budget ([`crate::limits`]), and past it the rest are not verified.
const ROUND: usize = 1_024;

/// One receipt's signature to verify: the payer key, the receipt, the signature.
type Work = (PayerKey, Receipt<AccountId>, [u8; 64]);

/// Verifies `work` in rounds of [`ROUND`], charging each round's bad signatures to `client`: one
/// verdict per item, `None` for those left unverified once the client went past its budget, with how
/// long it is barred.
async fn verify_budgeted(
    state: &AppState,
    client: Option<Client>,
    work: Vec<Work>,
) -> Result<(Vec<Option<bool>>, Option<std::time::Duration>)> {
    let total = work.len();
    let mut verdicts = Vec::with_capacity(total);
    let mut rest = work;
    while !rest.is_empty() {
        // Barred meanwhile (by this request's earlier rounds or another request's): nothing more verified.
        if let Some(barred) = client.and_then(|c| state.limits.barred_for(c)) {
            verdicts.resize(total, None);
            return Ok((verdicts, Some(barred)));
        }
        let tail = rest.split_off(ROUND.min(rest.len()));
        let round = verify_all(std::mem::replace(&mut rest, tail)).await?;
        let bad = round.iter().filter(|ok| !**ok).count();
        verdicts.extend(round.into_iter().map(Some));
        if let Some(client) = client {
            if let Err(Error::Limited { retry_after, .. }) = state.limits.charge_bad_signatures(client, bad) {
                verdicts.resize(total, None);
                return Ok((verdicts, Some(retry_after)));
            }
        }
    }
    Ok((verdicts, None))
}

/// `verify_strict` of every (key, receipt, signature), in order; on all cores for large inputs.
async fn verify_all(work: Vec<Work>) -> Result<Vec<bool>> {
    let check =
        |chunk: &[Work]| -> Vec<bool> { chunk.iter().map(|(key, receipt, sig)| key.verify(receipt, sig)).collect() };
    if work.len() < PARALLEL_FROM {
        return Ok(check(&work));
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let size = work.len().div_ceil(cores);
    let mut tasks = Vec::new();
    let mut rest = work;
    while !rest.is_empty() {
        let tail = rest.split_off(size.min(rest.len()));
        let chunk = std::mem::replace(&mut rest, tail);
        tasks.push(tokio::task::spawn_blocking(move || check(&chunk)));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.extend(task.await.map_err(|e| Error::Config(format!("signature worker: {e}")))?);
    }
    Ok(out)
}

struct Item {
    index: usize,
    receipt: Receipt<AccountId>,
    signature: [u8; 64],
    /// The receipt as sent, kept for the audit log should it be refused.
    json: Value,
}

/// What the refusal log may sample of a refused item: its JSON if it was an object.
fn body_of(json: &Value) -> Option<String> {
    json.is_object().then(|| json.to_string())
}

/// Whether a newer finalized block could turn refusal `e` into acceptance: a job just opened or
/// accepted, an allocation or deposit just raised. Others (a malformed item, another domain, a bad
/// signature, an amount not above the lane's, time) only hold more as the chain moves on, and are not
/// judged again (which would cost a node call).
fn newer_block_may_accept(e: &Error) -> bool {
    use settlement::Error as E;
    matches!(
        e,
        Error::Refused(
            Refusal::Rule(E::JobNotFound | E::NotAccepted | E::NotAProvider | E::ExceedsAllocation | E::ExceedsEscrow)
                | Refusal::AllocationThawing
        )
    )
}

/// Processes receipts. Client faults become per-receipt rejections; a failure of ours (database,
/// node) ends the request with an error, after the jobs before it were committed. A request naming more
/// than `max_jobs_per_request` jobs is refused whole before anything is looked up.
///
/// Jobs are looked up as of the finalized head the follower heard ([`crate::views`]): no node call for
/// a kept job, nor for an id beyond the escrow's next job id. A refusal a newer block could undo
/// ([`newer_block_may_accept`]), though, must hold as of the node's latest finalized block when the
/// request started: if the follower had not read that block yet, those receipts are judged again as of
/// it (a job just opened or accepted, an allocation just raised, is then seen). The node is asked for
/// its head once for all the requests asking at once.
pub async fn process(state: &AppState, client: Option<Client>, items: Vec<Value>) -> Result<Vec<Verdict>> {
    let mut verdicts: Vec<Option<Verdict>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let mut rejected: Vec<(usize, Error, Value)> = Vec::new();

    // Parse and check the domain.
    let mut good = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let parsed = SignedReceiptJson::from_value(&item).and_then(|(receipt, signature)| {
            settlement::checks::check_domain(&state.domain, &receipt).map_err(Error::rule)?;
            Ok((receipt, signature))
        });
        match parsed {
            Ok((receipt, signature)) => good.push(Item { index, receipt, signature, json: item }),
            Err(e) => rejected.push((index, e, item)),
        }
    }
    let jobs = job_ids(&good);
    if jobs.len() > state.config.max_jobs_per_request {
        return Err(Error::bad_request(
            "too_many_jobs",
            format!("the receipts name {} jobs; at most {} per request", jobs.len(), state.config.max_jobs_per_request),
        ));
    }

    let looked = state.views.lookup_followed(&jobs).await?;
    let (mut accepted, mut refused) = judge(state, client, good, &looked).await?;
    let (again, kept): (Vec<_>, Vec<_>) = refused.into_iter().partition(|(_, e)| newer_block_may_accept(e));
    refused = kept;
    if looked.followed && !again.is_empty() {
        let newer = state.views.lookup_at_node(&job_ids(again.iter().map(|(item, _)| item))).await?;
        if newer.at > looked.at {
            let (more, still) = judge(state, client, again.into_iter().map(|(item, _)| item).collect(), &newer).await?;
            accepted.extend(more);
            refused.extend(still);
        } else {
            refused.extend(again);
        }
    } else {
        refused.extend(again);
    }
    // Known from now on, if a receipt was newly accepted (a duplicate proves nothing: anyone can resend a
    // receipt read back from the API).
    if let (Some(client), true) = (client, accepted.iter().any(|(_, a)| !a.duplicate)) {
        state.limits.vouch(client);
    }
    for (index, a) in accepted {
        if a.duplicate {
            state.metrics.duplicates.inc();
        } else {
            state.metrics.accepted.inc();
        }
        verdicts[index] = Some(Verdict::Accepted(a));
    }
    rejected.extend(refused.into_iter().map(|(item, e)| (item.index, e, item.json)));

    // Refusals: counted (a few sampled) in the bounded refusal log, answered.
    for (index, e, json) in rejected {
        state.metrics.rejected.with_label_values(&[e.code()]).inc();
        state.refusals.record(e.code(), || (e.public_message(), body_of(&json)));
        verdicts[index] = Some(Verdict::Rejected(e));
    }
    verdicts.into_iter().map(|v| v.ok_or(Error::Config("a receipt got no verdict".into()))).collect()
}

/// The distinct jobs of `items`, in order.
fn job_ids<'a>(items: impl IntoIterator<Item = &'a Item>) -> Vec<JobId> {
    let mut ids: Vec<JobId> = items.into_iter().map(|item| item.receipt.job_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Judges well-formed `items` against the jobs `looked` up: unknown jobs refused, signatures verified,
/// then the rules checked and the accepted committed with the other requests in flight ([`Batch`]).
/// Returns the accepted (by index) and the refused.
async fn judge(
    state: &AppState,
    client: Option<Client>,
    items: Vec<Item>,
    looked: &Lookup,
) -> Result<(Vec<(usize, Accepted)>, Vec<(Item, Error)>)> {
    let views = &looked.views;
    let mut refused = Vec::new();
    let mut known = Vec::with_capacity(items.len());
    for item in items {
        match views.get(&item.receipt.job_id).and_then(Option::as_ref) {
            Some(view) => known.push((view.job.payer_key, item)),
            None => refused.push((item, Error::rule(settlement::Error::JobNotFound))),
        }
    }

    // Signatures, then the rules and the commit per job, in the order received.
    let work =
        known.iter().map(|(key, item)| (state.views.payer_key(key), item.receipt.clone(), item.signature)).collect();
    let (signature_ok, barred) = verify_budgeted(state, client, work).await?;
    // A bad signature is refused here, without the job's lock: such a receipt was never accepted (so
    // it is no duplicate), and nothing the store holds could make it acceptable.
    let mut by_job: BTreeMap<JobId, Vec<(Item, bool)>> = BTreeMap::new();
    for ((_, item), ok) in known.into_iter().zip(signature_ok) {
        match ok {
            Some(true) => by_job.entry(item.receipt.job_id).or_default().push((item, true)),
            Some(false) => refused.push((item, Error::rule(settlement::Error::BadSignature))),
            None => refused
                .push((item, Error::Limited { code: "too_many_refusals", retry_after: barred.unwrap_or_default() })),
        }
    }
    let mut batch = Batch { at: looked.at, groups: Vec::with_capacity(by_job.len()) };
    let mut placed = Vec::with_capacity(by_job.len());
    for (job_id, group) in by_job {
        let Some(Some(view)) = views.get(&job_id) else { continue };
        let candidates: Vec<Candidate> = group
            .iter()
            .map(|(item, ok)| Candidate { receipt: item.receipt.clone(), signature: item.signature, signature_ok: *ok })
            .collect();
        batch.groups.push((view.clone(), candidates));
        placed.push(group);
    }
    // The rules are checked at the commit, now and as of the latest moment the release may land.
    let outcomes = state.committer.commit(batch).await?;
    let mut accepted = Vec::new();
    for ((item, _), outcome) in placed.into_iter().flatten().zip(outcomes.into_iter().flatten()) {
        match outcome {
            Ok(a) => accepted.push((item.index, a)),
            Err(e) => refused.push((item, Error::Refused(e))),
        }
    }
    Ok((accepted, refused))
}
