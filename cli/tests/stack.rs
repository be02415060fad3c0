//! The whole stack as real processes, as `scripts/dev` runs it: a dev node, Postgres (one database per
//! service), the escrow deployed by `escrow deploy`, the gateway (`escrow serve`, with its relayer) and
//! the indexer (`escrow index`). `escrow demo` runs the scripted marketplace and its audit; `escrow
//! audit` alone agrees; the dashboard, driven in headless Chromium by playwright-core
//! (`cli/tests/dashboard`), shows the result, and its screenshots are kept under `$CARGO_TARGET_DIR/artifacts/`.
//! Then the roles' commands meet the services: a receipt made by `escrow sign` goes through `escrow
//! submit` to the gateway, which releases it, and `escrow statement` reads the movements back from the
//! indexer as CSV and JSON.
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use escrow_client::accounts::{account, ss58};
use escrow_client::Escrow;
use serde_json::Value;
use testkit::*;

/// The `escrow` binary cargo built for this test.
fn escrow_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_escrow"))
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], env: &[(&str, String)], log: &std::path::Path) -> Service {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(escrow_bin())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Service(child)
}

fn run(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(escrow_bin()).args(args).envs(env.iter().map(|(k, v)| (*k, v.as_str()))).output().unwrap()
}

async fn ready(http: &reqwest::Client, base: &str, what: &str, log: &std::path::Path) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(90) {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what} not ready: {}", std::fs::read_to_string(log).unwrap_or_default());
}

/// The dashboard test (`tests/dashboard`, playwright-core driving Debian's Chromium) against `url`;
/// its screenshots go to the directory `screenshots`.
fn drive_dashboard(url: &str, screenshots: &std::path::Path) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard");
    let npm = Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--silent"]).current_dir(&dir).status();
    assert!(npm.is_ok_and(|s| s.success()), "npm ci in {}", dir.display());
    let out = Command::new("node")
        .arg("--test")
        .current_dir(&dir)
        .env("DASHBOARD_URL", url)
        .env("SCREENSHOTS", screenshots)
        .output()
        .expect("node (Node.js 20)");
    assert!(
        out.status.success(),
        "dashboard test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command that must succeed; its stdout.
fn ok(args: &[&str], env: &[(&str, String)]) -> String {
    let out = run(args, env);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "escrow {args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

/// Waits until `escrow statement` for `who` (with `extra` options) prints something containing `expected`.
fn statement_with(who: &str, extra: &[&str], expected: &str, env: &[(&str, String)]) -> String {
    let started = Instant::now();
    loop {
        let printed = ok(&[&["statement", who], extra].concat(), env);
        if printed.contains(expected) {
            return printed;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "`{expected}` never in the statement:\n{printed}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A provider stakes and a consumer opens a job from the command line; a receipt made by `escrow sign`
/// goes through `escrow submit` to the gateway, which releases it on chain; `escrow statement` shows
/// each side's movements from the indexer, as CSV and JSON, in tokens and in planck.
async fn roles_through_the_services(
    chain: &escrow_client::Chain,
    contract: &str,
    env: &[(&str, String)],
    work: &std::path::Path,
) -> TestResult {
    funded(chain, "//StackCliProvider", 1_000 * UNIT).await?;
    funded(chain, "//StackCliConsumer", 1_000 * UNIT).await?;
    ok(&["stake", "--suri", "//StackCliProvider", "--amount", "100"], env);
    let key = work.join("payer.json");
    std::fs::write(&key, ok(&["keygen"], env))?;
    let key = key.to_string_lossy().into_owned();
    let opened: Value = serde_json::from_str(&ok(
        &[
            "--json",
            "open-job",
            "--suri",
            "//StackCliConsumer",
            "--provider",
            "//StackCliProvider",
            "--deposit",
            "30",
            "--expires-in",
            "10m",
            "--payer-key",
            &key,
            "--terms-hash",
            &format!("0x{}", "ab".repeat(32)),
        ],
        env,
    ))?;
    let job = opened["job_id"].as_u64().unwrap().to_string();
    ok(&["accept-job", "--suri", "//StackCliProvider", "--job", &job], env);
    let receipt = work.join("receipt.json");
    let signed = ok(
        &["sign", "--key", &key, "--job", &job, "--provider", "//StackCliProvider", "--amount", "5", "--sequence", "1"],
        env,
    );
    std::fs::write(&receipt, signed)?;
    let answer = ok(&["submit", &receipt.to_string_lossy()], env);
    assert!(answer.contains("accepted"), "{answer}");

    // The gateway's settlement loop releases it.
    let escrow = Escrow::at(chain, escrow_bundle()?, account(contract)?);
    let provider = account("//StackCliProvider")?;
    let started = Instant::now();
    while escrow.lane(job.parse()?, provider).await?.amount < 5 * UNIT {
        assert!(started.elapsed() < Duration::from_secs(60), "the gateway never released job {job}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(escrow.balance_of(provider).await?, 4_750_000_000_000);

    // The statements, once the indexer has the release.
    let csv = statement_with("//StackCliProvider", &[], &format!(",{job},release_net,credited,4.75\n"), env);
    assert!(csv.starts_with("timestamp_ms,block,event_index,job_id,entry,flow,amount\n"), "{csv}");
    assert!(csv.contains(",,stake,to_escrow,100\n"), "{csv}");
    let json: Value = serde_json::from_str(&ok(&["--json", "statement", "//StackCliProvider"], env))?;
    assert_eq!((json["account"].as_str(), json["unit"].as_str()), (Some(ss58(provider).as_str()), Some("UNIT")));
    assert_eq!(
        (json["totals"]["credited"].as_str(), json["totals"]["to_escrow"].as_str()),
        (Some("4.75"), Some("100"))
    );
    let planck: Value =
        serde_json::from_str(&ok(&["--planck", "statement", "//StackCliProvider", "--format", "json"], env))?;
    assert_eq!(planck["totals"]["credited"], "4750000000000");
    // Read a line per page, following the indexer's cursors: the same statement.
    let paged: Value = serde_json::from_str(&ok(
        &["--planck", "statement", "//StackCliProvider", "--format", "json", "--page-size", "1"],
        env,
    ))?;
    assert!(planck["lines"].as_array().is_some_and(|l| l.len() > 1), "{planck}");
    assert_eq!(paged, planck);
    let consumer = statement_with("//StackCliConsumer", &[], &format!(",{job},deposit,to_escrow,30\n"), env);
    assert_eq!(consumer.lines().count(), 2, "{consumer}");
    let later = (now_ms() + 3_600_000).to_string();
    let empty = ok(&["statement", "//StackCliConsumer", "--from", &later], env);
    assert_eq!(empty, "timestamp_ms,block,event_index,job_id,entry,flow,amount\n");
    Ok(())
}

#[tokio::test]
async fn the_whole_marketplace_settles_audits_and_shows_on_the_dashboard() -> TestResult {
    let admin_url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL unset: run scripts/test")?;
    let admin = sqlx::PgPool::connect(&admin_url).await?;
    let tag = format!("{}_{}", std::process::id(), now_ms());
    let (gateway_db, indexer_db) = (format!("stack_gateway_{tag}"), format!("stack_indexer_{tag}"));
    for db in [&gateway_db, &indexer_db] {
        sqlx::query(&format!("CREATE DATABASE {db}")).execute(&admin).await?;
    }
    let work = std::env::temp_dir().join(format!("escrow-stack-{tag}"));
    std::fs::create_dir_all(&work)?;

    let (node, chain) = DevNode::start().await?;
    let bundle = std::env::var("ESCROW_BUNDLE")?;
    let deployed = run(&["deploy", "--bundle", &bundle], &[("ESCROW_NODE_URL", node.url.clone())]);
    assert!(deployed.status.success(), "deploy: {}", String::from_utf8_lossy(&deployed.stderr));
    let contract = String::from_utf8(deployed.stdout)?.trim().to_string();

    let (gateway_addr, indexer_addr) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    // As scripts/dev does: the node, the contract and its bundle under the names every part reads.
    let shared = [
        ("ESCROW_NODE_URL", node.url.clone()),
        ("ESCROW_CONTRACT", contract.clone()),
        ("ESCROW_BUNDLE", bundle.clone()),
    ];
    let mut indexer_env =
        vec![("INDEXER__LISTEN", indexer_addr.clone()), ("INDEXER__DATABASE_URL", database_url(&indexer_db))];
    indexer_env.extend(shared.clone());
    let _indexer = spawn(&["index"], &indexer_env, &work.join("indexer.log"));
    let mut gateway_env = vec![
        ("GATEWAY__LISTEN", gateway_addr.clone()),
        ("GATEWAY__DATABASE_URL", database_url(&gateway_db)),
        ("GATEWAY__RELAYER_SURI", "//Dave".to_string()),
        ("GATEWAY__SETTLE_INTERVAL_MS", "500".to_string()),
    ];
    gateway_env.extend(shared.clone());
    let _gateway = spawn(&["serve"], &gateway_env, &work.join("gateway.log"));
    let http = reqwest::Client::new();
    let (gateway, indexer) = (format!("http://{gateway_addr}"), format!("http://{indexer_addr}"));
    ready(&http, &gateway, "gateway", &work.join("gateway.log")).await;
    ready(&http, &indexer, "indexer", &work.join("indexer.log")).await;

    // The scripted marketplace, then its audit.
    let mut demo_env = vec![
        ("ESCROW_GATEWAY", gateway.clone()),
        ("ESCROW_INDEXER", indexer.clone()),
        ("ESCROW_GATEWAY_DATABASE_URL", database_url(&gateway_db)),
        ("INDEXER__DATABASE_URL", database_url(&indexer_db)),
    ];
    demo_env.extend(shared.clone());
    let demo = run(&["demo"], &demo_env);
    let printed = String::from_utf8_lossy(&demo.stdout).into_owned();
    assert!(demo.status.success(), "demo failed:\n{printed}\n{}", String::from_utf8_lossy(&demo.stderr));
    for expected in [
        "95/5 split checked",
        "standby //DemoProvider2 took over",
        "slashed 25 of //DemoProvider3's stake",
        "refunded 80 to //Charlie",
        "OK: hash chain intact",
        "audit: every job balanced",
    ] {
        assert!(printed.contains(expected), "`{expected}` not in the demo's output:\n{printed}");
    }

    // The audit on its own agrees, and every release matches a receipt the gateway stored.
    let audit = run(&["audit", "--against-node", "--gateway-database-url", &database_url(&gateway_db)], &demo_env);
    let report = String::from_utf8_lossy(&audit.stdout).into_owned();
    assert!(audit.status.success(), "audit failed:\n{report}");
    assert!(report.contains("no stored receipt: 0"), "{report}");
    assert!(report.contains("escrow events with the node"), "{report}");
    // G1 as the gateway promised it: the refunded job's accepted lanes were all settled.
    assert!(report.contains("lanes of finalized jobs settled to at least what the gateway accepted: "), "{report}");

    // The dashboard, driven in headless Chromium; its screenshots (the overview, a job, an account) are
    // kept.
    let artifacts =
        PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join("artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let shots = ["dashboard.png", "dashboard-job.png", "dashboard-account.png"].map(|name| artifacts.join(name));
    for shot in &shots {
        let _ = std::fs::remove_file(shot);
    }
    drive_dashboard(&format!("{indexer}/"), &artifacts);
    for shot in &shots {
        let size = std::fs::metadata(shot).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "screenshot {} is {size} bytes", shot.display());
        println!("dashboard screenshot: {}", shot.display());
    }

    roles_through_the_services(&chain, &contract, &demo_env, &work).await?;

    drop((_gateway, _indexer));
    admin.close().await;
    let admin = sqlx::PgPool::connect(&admin_url).await?;
    for db in [&gateway_db, &indexer_db] {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&admin).await?;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
