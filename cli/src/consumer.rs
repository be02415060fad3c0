//! Consumers' commands: `escrow open-job` (escrow a deposit for providers), `top-up` (add to it),
//! `complete` (declare the job done), `refund` (take the remainder back once the job ended) and
//! `dispute` (ask the arbiter to slash a provider).

use std::path::{Path, PathBuf};

use clap::Args;
use escrow_client::accounts::{account, keypair, ss58};
use escrow_client::{account_of, now_ms};
use gateway::wire::{bytes, to_hex};
use serde_json::json;
use settlement::{Event, JobId, OpenJob};
use sha2::{Digest, Sha256};

use crate::context::{CliResult, Global, Target};
use crate::output::{when, Amount};
use crate::receipts::payer_key;

/// `escrow open-job`'s options.
#[derive(Args, Debug)]
pub struct OpenJobArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the consumer, who funds the job.
    #[arg(long)]
    suri: String,
    /// A provider that may be paid (SS58, hex or secret URI); repeat it for hot standbys (1 to 4). Each
    /// must then `escrow accept-job` (with the minimum stake) before it can be paid.
    #[arg(long = "provider", value_name = "ACCOUNT", required = true)]
    providers: Vec<String>,
    /// Each provider's allocation, the most its receipts may draw from the deposit, in the order of
    /// `--provider` (one per provider; together at most the deposit, the rest stays unallocated).
    /// Default: the whole deposit to the first provider, nothing to the standbys (raise theirs later with
    /// `escrow allocate` or `escrow top-up --to`).
    #[arg(long = "allocation", value_name = "AMOUNT")]
    allocations: Vec<Amount>,
    /// The opening deposit.
    #[arg(long)]
    deposit: Amount,
    #[command(flatten)]
    expiry: Expiry,
    /// The payer key file (`escrow keygen`'s JSON, or the seed's hex): the job stores its public key,
    /// and only receipts signed with it release funds.
    #[arg(long)]
    payer_key: PathBuf,
    #[command(flatten)]
    terms: Terms,
}

/// When a new job expires.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct Expiry {
    /// The job expires this long from now: `90s`, `30m`, `2h`, `1d`, `500ms` (a bare number is seconds).
    #[arg(long, value_parser = duration_ms)]
    expires_in: Option<u64>,
    /// The job expires at this time, in ms since the Unix epoch.
    #[arg(long)]
    expires_at: Option<u64>,
}

/// The off-chain terms a new job stores the hash of.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct Terms {
    /// The agreed terms, any file: the job stores its sha256.
    #[arg(long)]
    terms: Option<PathBuf>,
    /// The terms' hash, 32 bytes of hex, if hashed already.
    #[arg(long)]
    terms_hash: Option<String>,
}

/// `escrow top-up`'s options.
#[derive(Args, Debug)]
pub struct TopUpArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the job's consumer.
    #[arg(long)]
    suri: String,
    /// The job.
    #[arg(long)]
    job: JobId,
    /// How much to add.
    #[arg(long)]
    amount: Amount,
    /// A provider of the job whose allocation the top-up raises at once (default: the job's
    /// unallocated funds).
    #[arg(long, value_name = "ACCOUNT")]
    to: Option<String>,
}

/// `escrow complete`'s and `escrow refund`'s options.
#[derive(Args, Debug)]
pub struct JobArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the signer: the job's consumer for `complete`; anyone for `refund` (the
    /// remainder always goes to the consumer).
    #[arg(long)]
    suri: String,
    /// The job.
    #[arg(long)]
    job: JobId,
}

/// `escrow dispute`'s options.
#[derive(Args, Debug)]
pub struct DisputeArgs {
    #[command(flatten)]
    target: Target,
    /// Secret URI of the job's consumer.
    #[arg(long)]
    suri: String,
    /// The job.
    #[arg(long)]
    job: JobId,
    /// The provider disputed (SS58, hex or secret URI).
    #[arg(long)]
    provider: String,
    #[command(flatten)]
    evidence: Evidence,
}

/// The evidence of a dispute, stored as its hash.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct Evidence {
    /// The evidence, any file: the dispute stores its sha256.
    #[arg(long)]
    evidence: Option<PathBuf>,
    /// The evidence's hash, 32 bytes of hex, if hashed already.
    #[arg(long)]
    evidence_hash: Option<String>,
}

/// A duration (`90s`, `30m`, `2h`, `1d`, `500ms`; a bare number is seconds) in ms.
fn duration_ms(text: &str) -> Result<u64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let scale: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{text}` is not a duration (e.g. 90s, 30m, 2h, 1d)")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a duration (e.g. 90s, 30m, 2h, 1d)"))?;
    n.checked_mul(scale).ok_or_else(|| format!("`{text}` is too long"))
}

/// A 32-byte hash: the sha256 of `file`, or `hex` as given.
fn hash_of(file: Option<&Path>, hex: Option<&str>, what: &str) -> CliResult<[u8; 32]> {
    match (file, hex) {
        (Some(path), _) => {
            // Streamed: a terms or evidence file may be far larger than memory.
            let unreadable = |e: std::io::Error| format!("{}: {e}", path.display());
            let mut hasher = Sha256::new();
            std::io::copy(&mut std::fs::File::open(path).map_err(unreadable)?, &mut hasher).map_err(unreadable)?;
            Ok(hasher.finalize().into())
        }
        (None, Some(hex)) => Ok(bytes::<32>(what, hex)?),
        (None, None) => Err(format!("give --{what} or --{what}-hash").into()),
    }
}

/// `escrow open-job`: escrows the deposit; prints the job id.
pub async fn open_job(a: OpenJobArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let consumer = keypair(&a.suri)?;
    let deposit = out.planck(&a.deposit, "--deposit")?;
    let providers = a.providers.iter().map(|p| account(p)).collect::<Result<Vec<_>, _>>()?;
    let allocations = if a.allocations.is_empty() {
        (0..providers.len()).map(|i| if i == 0 { deposit } else { 0 }).collect::<Vec<_>>()
    } else if a.allocations.len() == providers.len() {
        a.allocations.iter().map(|x| out.planck(x, "--allocation")).collect::<Result<Vec<_>, _>>()?
    } else {
        return Err("give one --allocation per --provider, or none".into());
    };
    let expires_at = match (a.expiry.expires_at, a.expiry.expires_in) {
        (Some(at), _) => at,
        (None, Some(ms)) => now_ms().checked_add(ms).ok_or("--expires-in is too long")?,
        (None, None) => return Err("give --expires-in or --expires-at".into()),
    };
    let payer = payer_key(&a.payer_key)?.verifying_key().to_bytes();
    let terms_hash = hash_of(a.terms.terms.as_deref(), a.terms.terms_hash.as_deref(), "terms")?;
    let slots = providers.iter().copied().zip(allocations.iter().copied()).collect();
    let request = OpenJob { providers: slots, payer_key: payer, terms_hash, expires_at };
    let opened = escrow.open_job(&consumer, deposit, &request).await?;
    // The id the chain gave, from the event: the dry run's answer can be another consumer's job if two
    // open at once.
    let (job, fee_bps) = opened
        .event(|e| match e {
            Event::JobOpened { job_id, fee_bps, .. } => Some((*job_id, *fee_bps)),
            _ => None,
        })
        .ok_or("the chain included open_job but emitted no JobOpened event")?;
    let human = format!(
        "opened job {job}: {} escrowed for {} provider(s), expires at {}",
        out.show(deposit),
        providers.len(),
        when(expires_at)
    );
    out.print(
        &human,
        json!({
            "job_id": job,
            "consumer": ss58(account_of(&consumer)),
            "providers": providers.iter().map(|p| ss58(*p)).collect::<Vec<_>>(),
            "allocations": allocations.iter().map(|x| out.value(*x)).collect::<Vec<_>>(),
            "deposit": out.value(deposit),
            "expires_at": expires_at,
            "payer_key": to_hex(&payer),
            "terms_hash": to_hex(&terms_hash),
            "fee_bps": fee_bps,
        }),
    )
}

/// `escrow top-up`: adds funds to a job.
pub async fn top_up(a: TopUpArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let amount = out.planck(&a.amount, "--amount")?;
    let to = a.to.as_deref().map(account).transpose()?;
    let done = escrow.top_up(&keypair(&a.suri)?, a.job, amount, to).await?;
    let deposit = done.event(|e| match e {
        Event::ToppedUp { deposit, .. } => Some(*deposit),
        _ => None,
    });
    let total = deposit.map(|d| format!(": {} deposited in all", out.show(d))).unwrap_or_default();
    let human = format!("topped up job {} by {}{total}", a.job, out.show(amount));
    out.print(&human, json!({ "job_id": a.job, "amount": out.value(amount), "deposit": deposit.map(|d| out.value(d)) }))
}

/// `escrow complete`: the job stops taking receipts after the settle grace.
pub async fn complete(a: JobArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let done = escrow.complete(&keypair(&a.suri)?, a.job).await?;
    // The committed call ran in a later block than the dry-run: its event has the real end.
    let ends_at = done
        .event(|e| match e {
            Event::JobCompleted { ends_at, .. } => Some(*ends_at),
            _ => None,
        })
        .unwrap_or(done.value);
    let human = format!(
        "completed job {}: receipts are settled until {}, then `escrow refund --job {}` returns the rest",
        a.job,
        when(ends_at),
        a.job
    );
    out.print(&human, json!({ "job_id": a.job, "ends_at": ends_at }))
}

/// `escrow refund`: finalizes an ended job, crediting its remainder to the consumer.
pub async fn refund(a: JobArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let done = escrow.refund(&keypair(&a.suri)?, a.job).await?;
    let (consumer, amount) = done
        .event(|e| match e {
            Event::Refunded { consumer, amount, .. } => Some((Some(*consumer), *amount)),
            _ => None,
        })
        .unwrap_or((None, done.value));
    let to = consumer.map(ss58).unwrap_or_else(|| "its consumer".into());
    let human = format!("refunded {} of job {} to {to}: `escrow claim` pays it out", out.show(amount), a.job);
    out.print(&human, json!({ "job_id": a.job, "consumer": consumer.map(ss58), "refunded": out.value(amount) }))
}

/// `escrow dispute`: opens a dispute for the arbiter.
pub async fn dispute(a: DisputeArgs, global: &Global) -> CliResult {
    let (escrow, out) = a.target.open(global).await?;
    let provider = account(&a.provider)?;
    let reason = hash_of(a.evidence.evidence.as_deref(), a.evidence.evidence_hash.as_deref(), "evidence")?;
    escrow.dispute(&keypair(&a.suri)?, a.job, provider, reason).await?;
    let human = format!(
        "disputed {} on job {} (evidence {}): its stake is held until the job's arbiter resolves it (`escrow resolve`), at most until the arbitration period ends",
        ss58(provider),
        a.job,
        to_hex(&reason)
    );
    out.print(&human, json!({ "job_id": a.job, "provider": ss58(provider), "evidence_hash": to_hex(&reason) }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(duration_ms("90"), Ok(90_000));
        assert_eq!(duration_ms("90s"), Ok(90_000));
        assert_eq!(duration_ms("500ms"), Ok(500));
        assert_eq!(duration_ms("30m"), Ok(1_800_000));
        assert_eq!(duration_ms("2h"), Ok(7_200_000));
        assert_eq!(duration_ms("1d"), Ok(86_400_000));
        for bad in ["", "s", "1.5h", "-1s", "10 s", "3w"] {
            assert!(duration_ms(bad).is_err(), "{bad:?}");
        }
        assert!(duration_ms("18446744073709551615d").is_err());
    }

    #[test]
    fn terms_hash_is_the_sha256_of_the_file_or_the_hex_given() {
        let file = std::env::temp_dir().join(format!("escrow-terms-{}", std::process::id()));
        std::fs::write(&file, b"abc").unwrap();
        let hashed = hash_of(Some(&file), None, "terms").unwrap();
        assert_eq!(hex::encode(hashed), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hash_of(None, Some(&to_hex(&[7; 32])), "terms").unwrap(), [7; 32]);
        assert!(hash_of(None, Some("0x12"), "terms").is_err());
        std::fs::remove_file(&file).unwrap();
    }
}
