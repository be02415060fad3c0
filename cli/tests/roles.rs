//! Every role through the real `escrow` binary on a dev node: providers stake, unbond and withdraw;
//! a consumer opens a job (a `keygen` payer key, a terms file), tops it up, has a receipt signed with
//! `escrow sign` released, disputes a provider, completes and refunds; the arbiter resolves; the owner
//! changes settings and hands the escrow over. Amounts are checked in tokens and in planck, outputs
//! against the chain (read with the client library), and refusals by the contract's error name, hint
//! and exit status.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use escrow_client::accounts::ss58;
use escrow_client::{account_of, AccountId};
use gateway::wire::{to_hex, SignedReceiptJson};
use serde_json::Value;
use settlement::{DisputeStatus, JobStatus};
use sha2::{Digest, Sha256};
use testkit::*;

/// The `escrow` binary with the node, contract and bundle in its environment.
struct Escrow {
    env: Vec<(&'static str, String)>,
}

impl Escrow {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_escrow"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "escrow {args:?} failed ({}):\n{stdout}\n{stderr}", out.status);
        stdout.into_owned()
    }

    /// Runs a command with `--json` that must succeed; its one JSON object.
    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(&[&["--json"], args].concat());
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("escrow {args:?}: not JSON ({e}):\n{stdout}"))
    }

    /// Runs a command the escrow must refuse with `error`: exit status 3, the error named on stderr
    /// with a hint containing `hint`; with `--json`, `{"refused", "hint"}` on stdout.
    fn refused(&self, args: &[&str], error: &str, hint: &str) {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "escrow {args:?} should be refused: {stderr}");
        let prefix = format!("refused by the escrow: {error} — ");
        assert!(stderr.starts_with(&prefix) && stderr.contains(hint), "escrow {args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        let out = self.run(&[&["--json"], args].concat());
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["refused"], error);
        assert!(answer["hint"].as_str().unwrap().contains(hint), "{answer}");
    }
}

fn sha256(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

fn id(uri: &str) -> AccountId {
    account_of(&keypair(uri))
}

const COMMANDS: [&str; 28] = [
    "serve",
    "index",
    "deploy",
    "config",
    "demo",
    "keygen",
    "open-job",
    "accept-job",
    "top-up",
    "allocate",
    "thaw",
    "complete",
    "refund",
    "dispute",
    "sign",
    "job",
    "stake",
    "unbond",
    "withdraw",
    "balance",
    "claim",
    "submit",
    "resolve",
    "settings",
    "transfer-ownership",
    "accept-ownership",
    "audit",
    "statement",
];

#[test]
fn every_command_has_help_with_a_doc_line() {
    let escrow = Escrow { env: Vec::new() };
    let top = escrow.ok(&["--help"]);
    for command in COMMANDS {
        let line = top.lines().find(|l| l.trim_start().starts_with(&format!("{command} "))).unwrap_or_default();
        assert!(line.split_whitespace().count() > 3, "`{command}` has no doc line in --help:\n{top}");
        let help = escrow.ok(&[command, "--help"]);
        assert!(help.lines().next().is_some_and(|l| l.len() > 20), "escrow {command} --help:\n{help}");
        assert!(help.contains("Usage: escrow"), "{help}");
    }
    assert!(top.contains("--planck") && top.contains("--json") && top.contains("3 refused by the escrow"), "{top}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_works_the_escrow_from_the_command_line() -> TestResult {
    let (node, chain) = DevNode::start().await?;
    let m = deploy(&chain).await?;
    let e = &m.escrow;
    let token = chain.token().await?;
    let sym = token.symbol.clone();
    for (uri, amount) in [("//RolesP1", 1_000), ("//RolesP2", 1_000), ("//RolesP3", 1_000), ("//RolesConsumer", 10_000)]
    {
        funded(&chain, uri, amount * UNIT).await?;
    }
    funded(&chain, "//RolesOwner2", 10 * UNIT).await?;
    let (p1, p2, p3, consumer, owner2) =
        (id("//RolesP1"), id("//RolesP2"), id("//RolesP3"), id("//RolesConsumer"), id("//RolesOwner2"));
    let cli = Escrow {
        env: vec![
            ("ESCROW_NODE_URL", node.url.clone()),
            ("ESCROW_CONTRACT", ss58(e.address())),
            ("ESCROW_BUNDLE", std::env::var("ESCROW_BUNDLE")?),
        ],
    };
    let work = std::env::temp_dir().join(format!("escrow-roles-{}-{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(&work)?;
    let file = |name: &str| work.join(name).to_string_lossy().into_owned();

    // Providers stake, in tokens and in planck; one starts leaving at once.
    let staked = cli.ok(&["stake", "--suri", "//RolesP1", "--amount", "150"]);
    assert!(staked.contains(&format!("staked 150 {sym}")), "{staked}");
    assert_eq!(e.stake_of(p1).await?.active, 150 * UNIT);
    let staked = cli.json(&["--planck", "stake", "--suri", "//RolesP2", "--amount", "100000000000000"]);
    assert_eq!((staked["staked"].as_str(), staked["unit"].as_str()), (Some("100000000000000"), Some("planck")));
    assert_eq!(e.stake_of(p2).await?.active, 100 * UNIT);
    cli.ok(&["stake", "--suri", "//RolesP3", "--amount", "100.5"]);
    let unbonding = cli.json(&["unbond", "--suri", "//RolesP3", "--amount", "40.25"]);
    assert_eq!(unbonding["unbonded"], "40.25");
    let stake = e.stake_of(p3).await?;
    assert_eq!((stake.active, stake.unbonding), (60_250_000_000_000, 40_250_000_000_000));
    assert_eq!(unbonding["unlock_at"].as_u64(), Some(stake.unlock_at));
    let withdrawable_from = unbonding["withdrawable_from"].as_u64().unwrap();
    cli.refused(&["withdraw", "--suri", "//RolesP3"], "StakeLocked", "escrow balance");
    cli.refused(&["unbond", "--suri", "//RolesP2", "--amount", "1000"], "InsufficientActiveStake", "at most");

    // Balances read the same in tokens and in planck.
    let balance = cli.json(&["balance", "//RolesP1"]);
    assert_eq!((balance["claimable"].as_str(), balance["stake"]["active"].as_str()), (Some("0"), Some("150")));
    let balance = cli.json(&["--planck", "balance", &ss58(p1)]);
    assert_eq!(balance["stake"]["active"], "150000000000000");
    assert_eq!(balance["wallet"], chain.free_balance(p1).await?.to_string());

    // A consumer opens a job with a fresh payer key and a terms file, and tops it up.
    let key: Value = serde_json::from_str(&cli.ok(&["keygen"]))?;
    std::fs::write(file("payer.json"), key.to_string())?;
    std::fs::write(file("terms.txt"), "4 GPUs for an hour, 0.5 per GPU-minute")?;
    let opened = cli.json(&[
        "open-job",
        "--suri",
        "//RolesConsumer",
        "--provider",
        "//RolesP1",
        "--provider",
        &ss58(p2),
        "--allocation",
        "25",
        "--allocation",
        "25",
        "--deposit",
        "50",
        "--expires-in",
        "5m",
        "--payer-key",
        &file("payer.json"),
        "--terms",
        &file("terms.txt"),
    ]);
    let job = opened["job_id"].as_u64().unwrap();
    let on_chain = e.job(job).await?.unwrap();
    assert_eq!((on_chain.consumer, on_chain.providers.clone(), on_chain.deposit), (consumer, vec![p1, p2], 50 * UNIT));
    assert_eq!(to_hex(&on_chain.payer_key), key["public"].as_str().unwrap());
    assert_eq!(on_chain.terms_hash, sha256(&work.join("terms.txt")));
    assert_eq!(opened["expires_at"].as_u64(), Some(on_chain.expires_at));
    assert_eq!((opened["deposit"].as_str(), opened["fee_bps"].as_u64()), (Some("50"), Some(500)));
    // Each provider consents to the job; the first caps what one dispute may slash from its stake.
    let j = job.to_string();
    let accepted = cli.json(&["accept-job", "--suri", "//RolesP1", "--job", &j, "--max-slash", "20"]);
    assert_eq!((accepted["max_slash"].as_str(), accepted["job"].as_u64()), (Some("20"), Some(job)));
    let standby = cli.ok(&["accept-job", "--suri", "//RolesP2", "--job", &j]);
    assert!(standby.contains(&format!("at most 25 {sym}")), "{standby}");
    cli.refused(&["accept-job", "--suri", "//RolesP2", "--job", &j], "AlreadyAccepted", "already accepted");
    assert!(e.job(job).await?.unwrap().slots.iter().all(|s| s.is_accepted() && s.allocation == 25 * UNIT));
    let topped = cli.ok(&["top-up", "--suri", "//RolesConsumer", "--job", &job.to_string(), "--amount", "12.5"]);
    assert!(topped.contains(&format!("by 12.5 {sym}: 62.5 {sym} deposited")), "{topped}");
    assert_eq!(e.job(job).await?.unwrap().deposit, 62_500_000_000_000);
    // A second job, by expiry time and a terms hash, to be refunded once it expires.
    let expires_at = now_ms() + 25_000;
    let second = cli.json(&[
        "open-job",
        "--suri",
        "//RolesConsumer",
        "--provider",
        "//RolesP1",
        "--deposit",
        "10",
        "--expires-at",
        &expires_at.to_string(),
        "--payer-key",
        &file("payer.json"),
        "--terms-hash",
        &to_hex(&[7; 32]),
    ]);
    let job2 = second["job_id"].as_u64().unwrap();
    assert_eq!(e.job(job2).await?.unwrap().terms_hash, [7; 32]);
    cli.refused(&["refund", "--suri", "//RolesConsumer", "--job", &job2.to_string()], "JobNotEnded", "wait until");
    let open_p3 = [
        "open-job",
        "--suri",
        "//RolesConsumer",
        "--provider",
        "//RolesP3",
        "--deposit",
        "1",
        "--expires-in",
        "30m",
        "--payer-key",
        &file("payer.json"),
        "--terms-hash",
        &to_hex(&[1; 32]),
    ];
    // Naming an under-staked provider is allowed; it cannot accept.
    let p3_job = cli.json(&open_p3)["job_id"].as_u64().unwrap().to_string();
    cli.refused(&["accept-job", "--suri", "//RolesP3", "--job", &p3_job], "InsufficientStake", "minimum active stake");

    // The payer's runner signs a receipt with `escrow sign`; the provider has it released.
    let signed = cli.ok(&[
        "sign",
        "--key",
        &file("payer.json"),
        "--job",
        &job.to_string(),
        "--provider",
        "//RolesP1",
        "--amount",
        "20",
        "--units",
        "7",
        "--sequence",
        "1",
    ]);
    let (receipt, signature) = SignedReceiptJson::from_value(&serde_json::from_str(&signed)?)?;
    assert_eq!((receipt.amount, receipt.units, receipt.provider), (20 * UNIT, 7, p1));
    assert_eq!((receipt.domain.genesis_hash, receipt.domain.contract), (chain.genesis_hash(), e.address()));
    let split = e.release(&keypair("//RolesP1"), &receipt, &signature).await?.value;
    assert_eq!((split.net, split.fee), (19 * UNIT, UNIT));
    // Too much, in planck: the escrow refuses to release it.
    let too_much = cli.ok(&[
        "--planck",
        "sign",
        "--key",
        &file("payer.json"),
        "--job",
        &job.to_string(),
        "--provider",
        "//RolesP1",
        "--amount",
        "100000000000000",
        "--units",
        "8",
        "--sequence",
        "2",
        "--genesis-hash",
        &to_hex(&chain.genesis_hash()),
    ]);
    std::fs::write(file("receipt.json"), &too_much)?;
    let (receipt, signature) = SignedReceiptJson::from_value(&serde_json::from_str(&too_much)?)?;
    assert_eq!(receipt.amount, 100 * UNIT);
    let refused = e.release(&keypair("//RolesP1"), &receipt, &signature).await.err();
    assert!(matches!(refused, Some(escrow_client::Error::Escrow(settlement::Error::ExceedsAllocation))), "{refused:?}");
    // No gateway is running: `submit` says so and fails.
    let gateway = format!("http://127.0.0.1:{}", free_port());
    let out = cli.run(&["submit", "--gateway", &gateway, &file("receipt.json")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("gateway unreachable at") && stderr.contains("escrow serve"), "{stderr}");

    // The job as everyone sees it.
    let shown = cli.json(&["job", &job.to_string()]);
    assert_eq!((shown["deposit"].as_str(), shown["held"].as_str()), (Some("62.5"), Some("42.5")));
    assert_eq!(shown["providers"][0]["released"], "20");
    assert_eq!(
        (shown["providers"][0]["fee"].as_str(), shown["providers"][0]["sequence"].as_u64()),
        (Some("1"), Some(1))
    );

    // The consumer disputes the standby; the arbiter (and only the arbiter) slashes it.
    std::fs::write(file("evidence.txt"), "no output after 10 minutes")?;
    let dispute = [
        "dispute",
        "--suri",
        "//RolesConsumer",
        "--job",
        &job.to_string(),
        "--provider",
        "//RolesP2",
        "--evidence",
        &file("evidence.txt"),
    ];
    cli.ok(&dispute);
    let opened_dispute = e.dispute_of(job, p2).await?.unwrap();
    assert_eq!(
        (opened_dispute.status, opened_dispute.reason),
        (DisputeStatus::Pending, sha256(&work.join("evidence.txt")))
    );
    cli.refused(&dispute, "DisputeExists", "escrow resolve");
    let p2_ss58 = ss58(p2);
    let j = job.to_string();
    let resolve = |suri| ["resolve", "--suri", suri, "--job", &j, "--provider", &p2_ss58, "--slash", "25"];
    cli.refused(&resolve("//RolesConsumer"), "Unauthorized", "arbiter");
    let resolved = cli.json(&resolve("//Arbiter"));
    assert_eq!((resolved["upheld"].as_bool(), resolved["slashed"].as_str()), (Some(true), Some("25")));
    assert_eq!(e.stake_of(p2).await?.active, 75 * UNIT);
    assert_eq!(e.dispute_of(job, p2).await?.unwrap().status, DisputeStatus::Upheld);
    assert_eq!(e.reputation_of(p2).await?.0.disputes_lost, 1);
    assert_eq!(e.balance_of(consumer).await?, 25 * UNIT);

    // The consumer completes the job; the provider claims, once.
    let completed = cli.json(&["complete", "--suri", "//RolesConsumer", "--job", &job.to_string()]);
    let on_chain = e.job(job).await?.unwrap();
    assert_eq!((on_chain.status, completed["ends_at"].as_u64()), (JobStatus::Completed, Some(on_chain.ends_at)));
    let wallet = chain.free_balance(p1).await?;
    let claimed = cli.ok(&["claim", "--suri", "//RolesP1"]);
    assert_eq!(claimed.trim(), format!("claimed 19 {sym} to {}", ss58(p1)));
    assert_eq!(e.balance_of(p1).await?, 0);
    let gained = chain.free_balance(p1).await? - wallet;
    // 19 less the transaction fee, plus the storage deposit freed with the emptied balance.
    assert!(gained > 18 * UNIT && gained < 20 * UNIT, "{gained}");
    cli.refused(&["claim", "--suri", "//RolesP1"], "NothingToClaim", "nothing to pay out");

    // Once the settle grace is over: refund (anyone may call it), then no more top-ups.
    wait_until(&chain, on_chain.ends_at).await?;
    let refunded = cli.json(&["refund", "--suri", "//RolesConsumer", "--job", &job.to_string()]);
    assert_eq!(
        (refunded["refunded"].as_str(), refunded["consumer"].as_str()),
        (Some("42.5"), Some(ss58(consumer).as_str()))
    );
    assert_eq!(e.job(job).await?.unwrap().status, JobStatus::Finalized);
    cli.refused(
        &["top-up", "--suri", "//RolesConsumer", "--job", &job.to_string(), "--amount", "1"],
        "JobEnded",
        "escrow refund",
    );
    cli.refused(&["refund", "--suri", "//RolesConsumer", "--job", &job.to_string()], "JobFinalized", "escrow claim");
    let shown = cli.ok(&["job", &job.to_string()]);
    assert!(shown.contains("Finalized") && shown.contains("dispute Upheld"), "{shown}");

    // The owner announces a higher minimum stake and a lower fee (never past the cap); they apply only
    // once the admin delay has passed.
    let announced = cli.json(&["settings", "--suri", "//Alice", "--fee-bps", "300", "--min-stake", "120.5"]);
    let pending = &announced["announced"];
    assert_eq!(
        (announced["fee_bps"].as_u64(), pending["fee_bps"].as_u64(), pending["min_stake"].as_str()),
        (Some(500), Some(300), Some("120.5"))
    );
    cli.refused(&["settings", "--suri", "//Alice", "--apply"], "SettingsNotDue", "--apply");
    wait_until(&chain, pending["effective_at"].as_u64().unwrap()).await?;
    let settings = cli.json(&["settings", "--suri", "//Alice", "--apply"]);
    assert_eq!((settings["fee_bps"].as_u64(), settings["min_stake"].as_str()), (Some(300), Some("120.5")));
    assert!(settings["announced"].is_null(), "{settings}");
    let config = e.config().await?;
    assert_eq!((config.fee_bps, config.min_stake), (300, 120_500_000_000_000));
    cli.refused(&["settings", "--suri", "//Alice", "--fee-bps", "2000"], "FeeTooHigh", "at most 1000 bps");
    // Ownership in two steps; the old owner loses its rights.
    cli.ok(&["transfer-ownership", "--suri", "//Alice", "--to", "//RolesOwner2"]);
    assert_eq!(e.config().await?.pending_owner, Some(owner2));
    cli.refused(&["accept-ownership", "--suri", "//RolesP1"], "NoPendingOwner", "transfer-ownership");
    let accepted = cli.ok(&["accept-ownership", "--suri", "//RolesOwner2"]);
    assert!(accepted.contains(&ss58(owner2)), "{accepted}");
    assert_eq!(e.config().await?.owner, owner2);
    cli.refused(&["settings", "--suri", "//Alice", "--pause"], "Unauthorized", "owner");
    cli.ok(&["settings", "--suri", "//RolesOwner2", "--pause"]);
    cli.refused(&open_p3, "Paused", "--resume");
    let config = cli.json(&["config"]);
    assert_eq!((config["owner"].as_str(), config["paused"].as_bool()), (Some(ss58(owner2).as_str()), Some(true)));

    // The second job expired: anyone refunds it to its consumer.
    wait_until(&chain, expires_at).await?;
    let refunded = cli.ok(&["refund", "--suri", "//RolesP2", "--job", &job2.to_string()]);
    assert!(refunded.contains(&format!("refunded 10 {sym} of job {job2} to {}", ss58(consumer))), "{refunded}");

    // The leaving provider withdraws once its unbonding is over.
    wait_until(&chain, withdrawable_from).await?;
    let withdrawn = cli.json(&["withdraw", "--suri", "//RolesP3"]);
    assert_eq!(withdrawn["withdrawn"], "40.25");
    assert_eq!(e.stake_of(p3).await?.unbonding, 0);

    // The consumer's slash, refund and expiry refund, in tokens and planck, then paid out.
    let balance = cli.json(&["balance", "//RolesConsumer"]);
    assert_eq!(balance["claimable"], "77.5");
    let balance = cli.json(&["--planck", "balance", "//RolesConsumer"]);
    assert_eq!(balance["claimable"], "77500000000000");
    let human = cli.ok(&["balance", "//RolesP2"]);
    assert!(human.contains(&format!("stake       75 {sym} active")) && human.contains("1 disputes lost"), "{human}");
    let claimed = cli.json(&["claim", "--suri", "//RolesConsumer"]);
    assert_eq!(claimed["claimed"], "77.5");
    assert_eq!(e.balance_of(consumer).await?, 0);

    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
