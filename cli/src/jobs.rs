//! `escrow job`: one job as the escrow holds it, with what was settled for each provider and any
//! dispute: what consumers, providers and the arbiter look at before they act.

use clap::Args;
use escrow_client::accounts::ss58;
use gateway::wire::to_hex;
use serde_json::{json, Value};
use settlement::JobId;

use crate::context::{CliResult, Global, Target};
use crate::output::when;

/// `escrow job`'s options.
#[derive(Args, Debug)]
pub struct ShowJobArgs {
    #[command(flatten)]
    target: Target,
    /// The job.
    job: JobId,
}

/// `escrow job`: prints the job, its providers' lanes and disputes.
pub async fn show(a: ShowJobArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let job = escrow.job(a.job).await?.ok_or_else(|| format!("no job {} on this escrow", a.job))?;
    let mut human = vec![
        format!("job {}  {:?}", a.job, job.status),
        format!("consumer    {}", ss58(job.consumer)),
        format!(
            "deposit     {}  released {}  held {}  unallocated {}",
            out.show(job.deposit),
            out.show(job.released),
            out.show(job.held()),
            out.show(job.unallocated)
        ),
        format!("fee         {} bps", job.fee_bps),
        format!("opened at   {}", when(job.opened_at)),
        format!("expires at  {}", when(job.expires_at)),
        format!("ends at     {}", when(job.ends_at)),
        format!("payer key   {}", to_hex(&job.payer_key)),
        format!("terms hash  {}", to_hex(&job.terms_hash)),
    ];
    let mut providers = Vec::new();
    for provider in &job.providers {
        let lane = escrow.lane(a.job, *provider).await?;
        let dispute = escrow.dispute_of(a.job, *provider).await?;
        let disputed = dispute.map(|d| format!(", dispute {:?} (slashed {})", d.status, out.show(d.slashed)));
        let slot = job.slot(provider).unwrap_or_default();
        let consent = Some(slot).filter(|s| s.is_accepted());
        let accepted = consent.map_or_else(
            || "not accepted".to_string(),
            |a| format!("accepted (one dispute slashes at most {})", out.show(a.max_slash)),
        );
        let thaw = (slot.thaw.amount > 0)
            .then(|| format!(", thawing {} until {}", out.show(slot.thaw.amount), when(slot.thaw.ends_at)));
        human.push(format!(
            "provider    {}: {accepted}; allocation {}{}; released {} (fee {}), sequence {}, units {}{}",
            ss58(*provider),
            out.show(slot.allocation),
            thaw.unwrap_or_default(),
            out.show(lane.amount),
            out.show(lane.fee),
            lane.sequence,
            lane.units,
            disputed.unwrap_or_default()
        ));
        providers.push(json!({
            "account": ss58(*provider),
            "accepted_at": consent.map(|a| a.accepted_at),
            "max_slash": consent.map(|a| out.value(a.max_slash)),
            "allocation": out.value(slot.allocation),
            "thaw": (slot.thaw.amount > 0).then(|| json!({
                "amount": out.value(slot.thaw.amount), "ends_at": slot.thaw.ends_at,
            })),
            "released": out.value(lane.amount),
            "fee": out.value(lane.fee),
            "sequence": lane.sequence,
            "units": lane.units.to_string(),
            "dispute": dispute.map_or(Value::Null, |d| json!({
                "status": format!("{:?}", d.status),
                "slashed": out.value(d.slashed),
                "evidence_hash": to_hex(&d.reason),
                "opened_at": d.opened_at,
                "resolve_by": d.resolve_by,
            })),
        }));
    }
    out.print(
        &human.join("\n"),
        json!({
            "job_id": a.job,
            "status": format!("{:?}", job.status),
            "consumer": ss58(job.consumer),
            "deposit": out.value(job.deposit),
            "unallocated": out.value(job.unallocated),
            "released": out.value(job.released),
            "held": out.value(job.held()),
            "fee_bps": job.fee_bps,
            "opened_at": job.opened_at,
            "expires_at": job.expires_at,
            "ends_at": job.ends_at,
            "payer_key": to_hex(&job.payer_key),
            "terms_hash": to_hex(&job.terms_hash),
            "providers": providers,
        }),
    )
}
