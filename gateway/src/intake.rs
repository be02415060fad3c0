//! The intake pipeline: parse each receipt, check its domain, look its job up on chain (once per job
//! per request), then check and commit it in Postgres. Each receipt gets its own verdict; refusals are
//! kept apart for audit and counted by code.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use serde_json::Value;
use settlement::JobId;

use crate::db::Accepted;
use crate::error::{Error, Result};
use crate::jobs::JobView;
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

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> u64 {
    let ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    u64::try_from(ms).unwrap_or(u64::MAX)
}

async fn one(state: &AppState, jobs: &mut HashMap<JobId, Option<JobView>>, item: Value) -> Result<Accepted> {
    let (receipt, signature) = SignedReceiptJson::from_value(item)?;
    settlement::checks::check_domain(&state.domain, &receipt).map_err(Error::Refused)?;
    let view = match jobs.entry(receipt.job_id) {
        Entry::Occupied(known) => known.into_mut(),
        Entry::Vacant(slot) => slot.insert(JobView::fetch(&state.escrow, receipt.job_id).await?),
    };
    let view = view.as_ref().ok_or(Error::Refused(settlement::Error::JobNotFound))?;
    state.db.accept(view, &receipt, &signature, now_ms()).await
}

/// Processes receipts in order. Client faults become per-receipt rejections; a failure of ours
/// (database, node) ends the request with an error, after the receipts before it were committed.
pub async fn process(state: &AppState, items: Vec<Value>) -> Result<Vec<Verdict>> {
    let mut jobs = HashMap::new();
    let mut verdicts = Vec::with_capacity(items.len());
    for item in items {
        let kept = if matches!(item, Value::Object(_)) { Some(item.clone()) } else { None };
        match one(state, &mut jobs, item).await {
            Ok(accepted) => {
                if accepted.duplicate {
                    state.metrics.duplicates.inc();
                } else {
                    state.metrics.accepted.inc();
                }
                verdicts.push(Verdict::Accepted(accepted));
            }
            Err(e @ (Error::Refused(_) | Error::BadRequest { .. })) => {
                state.metrics.rejected.with_label_values(&[e.code()]).inc();
                state.db.log_rejection(e.code(), &e.public_message(), kept.as_ref()).await?;
                verdicts.push(Verdict::Rejected(e));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(verdicts)
}
