//! What the process-level tests of `escrow serve` share: starting the real binary against a test's own
//! database, node and escrow, waiting for it to be ready, and opening jobs to stream receipts into.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use escrow_client::{account_of, AccountId, Keypair};
use settlement::{JobId, OpenJob};
use sqlx::PgPool;
use testkit::*;

/// A running `escrow serve`, killed (SIGKILL) when dropped.
pub struct Gateway {
    child: Child,
    /// Its base URL.
    pub base: String,
}

impl Gateway {
    /// Starts `escrow serve` on `listen` with the test's database, node and escrow, settling eagerly
    /// (every lane due at once, a tick each 100 ms) with `//Relayer`; `extra` adds or overrides
    /// `GATEWAY__*` variables. Its log goes to `$ESCROW_TEST_LOG_DIR/<listen>.log` when that is set.
    pub fn start(listen: &str, database_url: &str, node_url: &str, contract: &str, extra: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrow"));
        cmd.arg("serve")
            .env("GATEWAY__LISTEN", listen)
            .env("GATEWAY__DATABASE_URL", database_url)
            .env("GATEWAY__NODE_URL", node_url)
            .env("GATEWAY__CONTRACT", contract)
            .env("GATEWAY__BUNDLE", std::env::var("ESCROW_BUNDLE").unwrap_or_default())
            .env("GATEWAY__RELAYER_SURI", "//Relayer")
            .env("GATEWAY__SETTLE_INTERVAL_MS", "100")
            .env("GATEWAY__SETTLE_THRESHOLD", "0")
            .env("GATEWAY__SETTLE_MAX_AGE_MS", "0")
            // Below the test escrow's 2 s settle grace and thaw period, or the gateway refuses to start.
            .env("GATEWAY__ACCEPT_MARGIN_MS", "1500");
        for (key, value) in extra {
            cmd.env(format!("GATEWAY__{key}"), value);
        }
        match std::env::var_os("ESCROW_TEST_LOG_DIR") {
            Some(dir) => {
                let path = std::path::Path::new(&dir).join(format!("{listen}.log"));
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
                cmd.stdout(file.try_clone().unwrap()).stderr(file);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        Self { child: cmd.spawn().unwrap(), base: format!("http://{listen}") }
    }

    /// Kills it (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits (up to 60 s) until `base/readyz` answers 2xx.
pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gateway at {base} not ready");
}

/// This test's own database (the one `sqlx::test` made) as a URL for a gateway process.
pub fn url_of(pool: &PgPool) -> String {
    database_url(pool.connect_options().get_database().unwrap())
}

/// Opens `n` jobs of `consumer` with `provider` (100 units allocated each, payer key `payer(9)`), all
/// accepted.
pub async fn open_jobs(m: &Market, consumer: &Keypair, provider: &Keypair, n: usize) -> Vec<JobId> {
    let mut jobs = Vec::new();
    for _ in 0..n {
        let req = OpenJob {
            providers: vec![(account_of(provider), 100 * UNIT)],
            payer_key: payer(9).verifying_key().to_bytes(),
            terms_hash: [0; 32],
            expires_at: now_ms() + 600_000,
        };
        let job = m.escrow.open_job(consumer, 100 * UNIT, &req).await.unwrap().value;
        accept_all(m, job, &[provider]).await.unwrap();
        jobs.push(job);
    }
    jobs
}

/// Waits (up to `within`) until each job's lane of `provider` is settled to exactly its `highest`
/// amount, then checks it was paid once: each job's `released` is that amount, and the provider's
/// balance the sum of their net splits (5 % fee).
pub async fn paid_exactly(m: &Market, provider: AccountId, highest: &HashMap<JobId, u128>, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut settled = true;
        for (job, amount) in highest {
            settled &= m.escrow.lane(*job, provider).await.unwrap().amount == *amount;
        }
        if settled {
            break;
        }
        assert!(Instant::now() < deadline, "settlement did not converge");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut expected_net = 0;
    for (job, amount) in highest {
        assert_eq!(m.escrow.job(*job).await.unwrap().unwrap().released, *amount, "job {job} paid exactly once");
        expected_net += settlement::fee::split(*amount, 500).net;
    }
    assert_eq!(m.escrow.balance_of(provider).await.unwrap(), expected_net);
}

/// Waits (up to `within`) until no submission is left pending or in block.
pub async fn no_open_submissions(pool: &PgPool, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM submissions WHERE status IN ('pending', 'in_block')")
            .fetch_one(pool)
            .await
            .unwrap();
        if open == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{open} submissions left open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
