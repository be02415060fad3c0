//! `escrow demo`: a scripted marketplace against a running stack (node + escrow, gateway with its
//! settlement loop, indexer). Two consumers, three providers (one a hot standby that takes over
//! mid-job), usage receipts streamed through the gateway and released by it in batches, the 95/5 split
//! checked on chain, claims, a dispute that slashes stake and lowers reputation, and a refund after
//! expiry. It waits until the indexer has mirrored all of it; the caller then runs the audit.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use ed25519_dalek::SigningKey;
use escrow_client::accounts::keypair;
use escrow_client::token::{Token, DEV_UNIT as UNIT};
use escrow_client::{account_of, dev, AccountId, Escrow, Keypair};
use gateway::answers::{BatchAnswer, Verdict};
use gateway::wire::SignedReceiptJson;
use serde_json::Value;
use settlement::fee::split;
use settlement::{Domain, JobId, OpenJob, Receipt};

use crate::context::{BoxError as DemoError, CliResult, Global, Target};

/// `escrow demo`'s options.
#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    target: Target,
    /// The gateway's base URL.
    #[arg(long, env = "ESCROW_GATEWAY", default_value = "http://127.0.0.1:8080")]
    gateway: String,
    /// The indexer's base URL.
    #[arg(long, env = "ESCROW_INDEXER", default_value = "http://127.0.0.1:8090")]
    indexer: String,
    /// The indexer's TOML configuration file (for its database_url; INDEXER__* also apply).
    #[arg(long)]
    indexer_config: Option<PathBuf>,
    /// The gateway's database, so the audit checks each release against its stored receipt.
    #[arg(long, env = "ESCROW_GATEWAY_DATABASE_URL")]
    gateway_database_url: Option<String>,
}

/// `escrow demo`: the scripted marketplace, then the audit; exits 1 on any failure or mismatch.
pub async fn command(a: DemoArgs, global: &Global) -> CliResult {
    let stack = Stack { escrow: a.target.connect(global).await?, gateway: a.gateway, indexer: a.indexer };
    let outcome = run(&stack).await?;
    println!("\n== audit");
    let config = indexer::Config::load(a.indexer_config.as_deref())?;
    let contract = stack.escrow.address();
    let gateway_db = a.gateway_database_url.as_deref();
    let clean = crate::audit::audit(&config, &contract, None, gateway_db, Some(&global.node_url)).await?;
    println!("\n== demo summary");
    for line in &outcome.lines {
        println!("  {line}");
    }
    println!(
        "  audit: {}",
        if clean { "every job balanced, every fee exact, hash chain intact" } else { "MISMATCH (see above)" }
    );
    if !clean {
        std::process::exit(1);
    }
    Ok(())
}

/// What the demo did, for its summary.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Readable lines, in order.
    pub lines: Vec<String>,
}

/// The running stack the demo drives.
pub struct Stack {
    /// The deployed escrow.
    pub escrow: Escrow,
    /// The gateway's base URL.
    pub gateway: String,
    /// The indexer's base URL.
    pub indexer: String,
}

/// Formats an amount in the dev chain's tokens.
#[must_use]
pub fn tokens(amount: u128) -> String {
    Token::dev().format(amount)
}

/// Cumulative amounts growing by `each`, `n` of them: a provider's running bill.
fn steps(n: u128, each: u128) -> Vec<u128> {
    (1..=n).map(|i| i.saturating_mul(each)).collect()
}

struct Job {
    id: JobId,
    payer: SigningKey,
}

struct Demo<'a> {
    stack: &'a Stack,
    http: reqwest::Client,
    domain: Domain<AccountId>,
    outcome: Outcome,
}

impl Demo<'_> {
    fn say(&mut self, line: String) {
        println!("{line}");
        self.outcome.lines.push(line);
    }

    async fn funded(&self, uri: &str, at_least: u128) -> Result<Keypair, DemoError> {
        let key = keypair(uri)?;
        let chain = self.stack.escrow.chain();
        let have = chain.free_balance(account_of(&key)).await?;
        if have < at_least {
            chain.transfer(&dev::alice(), account_of(&key), at_least.saturating_sub(have)).await?;
        }
        Ok(key)
    }

    /// Sends receipts for `job` and `provider` with cumulative amounts `amounts` (sequences 1..) to the
    /// gateway, as one batch or one request each; every one must be accepted.
    async fn stream(&self, job: &Job, provider: AccountId, amounts: &[u128], batch: bool) -> Result<(), DemoError> {
        let signed: Vec<Value> = amounts
            .iter()
            .enumerate()
            .map(|(i, amount)| {
                let sequence = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
                let receipt = Receipt {
                    domain: self.domain,
                    job_id: job.id,
                    provider,
                    amount: *amount,
                    units: amount / (UNIT / 10),
                    sequence,
                    expires_at: 4_102_444_800_000,
                };
                serde_json::to_value(SignedReceiptJson::from_signed(&receipt, &receipt.sign(&job.payer)))
            })
            .collect::<Result<_, _>>()?;
        let url = format!("{}/v1/receipts", self.stack.gateway);
        let bodies: Vec<Value> = if batch { vec![Value::Array(signed)] } else { signed };
        for body in bodies {
            let response = self.http.post(&url).json(&body).send().await?;
            let status = response.status();
            let answer = response.text().await?;
            let accepted = status.is_success()
                && if batch {
                    serde_json::from_str::<BatchAnswer>(&answer)?.results.iter().all(Verdict::is_accepted)
                } else {
                    serde_json::from_str::<Verdict>(&answer)?.is_accepted()
                };
            if !accepted {
                return Err(format!("the gateway refused a receipt ({status}): {answer}").into());
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        Ok(())
    }

    /// Waits until the chain has settled `cumulative` for (job, provider): the gateway's loop did it.
    async fn settled(&self, job: JobId, provider: AccountId, cumulative: u128) -> Result<(), DemoError> {
        let started = Instant::now();
        while self.stack.escrow.lane(job, provider).await?.amount < cumulative {
            if started.elapsed() > Duration::from_secs(180) {
                return Err(format!("job {job}: the gateway did not release {cumulative} within 180 s").into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(())
    }

    /// Waits until the indexer has mirrored the chain up to its finalized head.
    async fn indexed(&self) -> Result<u64, DemoError> {
        let (head, _) = self.stack.escrow.chain().finalized_head().await?;
        let started = Instant::now();
        loop {
            let status: Value = self.http.get(format!("{}/v1/status", self.stack.indexer)).send().await?.json().await?;
            if status["cursor"]["number"].as_u64().is_some_and(|n| n >= head) {
                return Ok(head);
            }
            if started.elapsed() > Duration::from_secs(120) {
                return Err(format!("the indexer did not reach block {head}: {status}").into());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Runs the scripted marketplace on `stack`.
pub async fn run(stack: &Stack) -> Result<Outcome, DemoError> {
    let e = &stack.escrow;
    let domain = Domain { genesis_hash: e.chain().genesis_hash(), contract: e.address() };
    let mut d = Demo { stack, http: reqwest::Client::new(), domain, outcome: Outcome::default() };
    let config = e.config().await?;
    let bps = config.fee_bps;

    // Cast: two consumers, three staked providers (the second is job 1's hot standby).
    let (alice_c, bob_c) = (d.funded("//Bob", 1_000 * UNIT).await?, d.funded("//Charlie", 1_000 * UNIT).await?);
    let mut providers = Vec::new();
    for name in ["//DemoProvider1", "//DemoProvider2", "//DemoProvider3"] {
        let p = d.funded(name, config.min_stake.saturating_add(100 * UNIT)).await?;
        let active = e.stake_of(account_of(&p)).await?.active;
        if active < config.min_stake {
            e.stake(&p, config.min_stake.saturating_sub(active)).await?;
        }
        providers.push(p);
    }
    let [p1, p2, p3] = [account_of(&providers[0]), account_of(&providers[1]), account_of(&providers[2])];
    let before: Vec<u128> = futures::future::try_join_all([p1, p2, p3].map(|p| e.balance_of(p))).await?;
    d.say(format!("providers staked {} each: //DemoProvider1..3", tokens(config.min_stake)));

    // Two jobs: consumer //Bob with a primary and a hot standby; consumer //Charlie with a short job.
    let now = e.chain().now().await?;
    let open = |providers: Vec<(AccountId, u128)>, payer: &SigningKey, lasts: u64| OpenJob {
        providers,
        payer_key: payer.verifying_key().to_bytes(),
        terms_hash: [0x42; 32],
        expires_at: now.saturating_add(lasts),
    };
    let job1 = Job { id: 0, payer: SigningKey::generate(&mut rand_core::OsRng) };
    let job1 = Job {
        id: e
            .open_job(&alice_c, 200 * UNIT, &open(vec![(p1, 150 * UNIT), (p2, 0)], &job1.payer, 3_600_000))
            .await?
            .value,
        ..job1
    };
    let job2 = Job { id: 0, payer: SigningKey::generate(&mut rand_core::OsRng) };
    let job2_request = open(vec![(p3, 100 * UNIT)], &job2.payer, 45_000);
    let job2 = Job { id: e.open_job(&bob_c, 100 * UNIT, &job2_request).await?.value, ..job2 };
    // Each provider consents to its job (nothing is paid, disputed or slashed through a job it did not
    // accept); the standby accepts up front, so it can take over at once.
    for (job, p) in [(job1.id, &providers[0]), (job1.id, &providers[1]), (job2.id, &providers[2])] {
        e.accept_job(p, job, 0, u128::MAX).await?;
    }
    d.say(format!(
        "job {}: //Bob escrowed 200, 150 allocated to //DemoProvider1, //DemoProvider2 on standby with none",
        job1.id
    ));
    d.say(format!("job {}: //Charlie escrowed 100 for //DemoProvider3, ending in 45 s", job2.id));

    // Usage receipts, signed by the consumers' payer keys, streamed through the gateway.
    let p1_amounts = steps(6, 5 * UNIT);
    d.stream(&job1, p1, &p1_amounts, false).await?;
    d.say(format!("job {}: //DemoProvider1 streamed 6 receipts up to {}, then went down", job1.id, tokens(30 * UNIT)));
    // The standby draws only on its own allocation: //Bob gives it 40 of the unallocated 50, at once.
    e.allocate(&alice_c, job1.id, p2, 40 * UNIT).await?;
    d.say(format!("job {}: //Bob allocated {} to //DemoProvider2", job1.id, tokens(40 * UNIT)));
    let p2_amounts = steps(4, 7 * UNIT);
    d.stream(&job1, p2, &p2_amounts, false).await?;
    d.say(format!("job {}: standby //DemoProvider2 took over: 4 receipts up to {}", job1.id, tokens(28 * UNIT)));
    let p3_amounts = steps(5, 4 * UNIT);
    d.stream(&job2, p3, &p3_amounts, true).await?;
    d.say(format!("job {}: //DemoProvider3 sent 5 receipts in one batch, up to {}", job2.id, tokens(20 * UNIT)));

    // The gateway's settlement loop releases the newest receipt of each lane, many per extrinsic.
    for (job, p, cumulative) in [(job1.id, p1, 30 * UNIT), (job1.id, p2, 28 * UNIT), (job2.id, p3, 20 * UNIT)] {
        d.settled(job, p, cumulative).await?;
    }
    let mut split_lines = Vec::new();
    for ((p, paid), was) in [(p1, 30 * UNIT), (p2, 28 * UNIT), (p3, 20 * UNIT)].into_iter().zip(&before) {
        let expected = split(paid, bps);
        let credited = e.balance_of(p).await?.saturating_sub(*was);
        if credited != expected.net {
            return Err(format!("provider credited {credited}, expected the 95 % net {}", expected.net).into());
        }
        split_lines.push(format!("{} -> net {} + fee {}", tokens(paid), tokens(expected.net), tokens(expected.fee)));
    }
    d.say(format!("released on chain by the gateway; 95/5 split checked: {}", split_lines.join("; ")));

    let mut claimed = Vec::new();
    for p in &providers {
        claimed.push(tokens(e.claim(p).await?.value));
    }
    d.say(format!("providers claimed their payouts: {}", claimed.join(", ")));

    // A dispute: //Charlie disputes //DemoProvider3's work; the arbiter slashes 25.
    let (_, score_before) = e.reputation_of(p3).await?;
    e.dispute(&bob_c, job2.id, p3, [0xD1; 32]).await?;
    e.resolve_dispute(&keypair("//Ferdie")?, job2.id, p3, 25 * UNIT).await?;
    let (reputation, score_after) = e.reputation_of(p3).await?;
    d.say(format!(
        "dispute on job {}: arbiter //Ferdie slashed {} of //DemoProvider3's stake to //Charlie; reputation {:.1} % -> {:.1} % ({} lost)",
        job2.id,
        tokens(25 * UNIT),
        f64::from(score_before) / 10.0,
        f64::from(score_after) / 10.0,
        reputation.disputes_lost
    ));

    // Job 2 expires; its unreleased remainder goes back to //Charlie.
    e.chain().wait_until(&dev::alice(), job2_request.expires_at, Duration::from_secs(180)).await?;
    let refunded = e.refund(&bob_c, job2.id).await?.value;
    let charlie_claim = e.claim(&bob_c).await?.value;
    d.say(format!(
        "job {} expired: refunded {} to //Charlie, who claimed {} (refund + slash)",
        job2.id,
        tokens(refunded),
        tokens(charlie_claim)
    ));
    let treasury_claim = match e.claim(&keypair("//Eve")?).await {
        Ok(s) => s.value,
        Err(escrow_client::Error::Escrow(settlement::Error::NothingToClaim)) => 0,
        Err(other) => return Err(other.into()),
    };
    d.say(format!("treasury //Eve claimed {} of fees", tokens(treasury_claim)));
    d.say(format!("job {} stays open with {} still held for //Bob", job1.id, tokens((200 - 58) * UNIT)));

    let head = d.indexed().await?;
    d.say(format!("the indexer mirrored every event up to block {head}"));
    Ok(d.outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_print_exactly() {
        assert_eq!(tokens(0), "0");
        assert_eq!(tokens(30 * UNIT), "30");
        assert_eq!(tokens(28_500_000_000_000), "28.5");
        assert_eq!(tokens(1), "0.000000000001");
    }
}
