//! # testkit
//!
//! What the tests of every crate share: a private `substrate-contracts-node --dev` per test (on free
//! loopback ports, stopped on drop), dev and fresh funded accounts, the escrow deployed from its
//! release bundle, signed receipts, a test database's URL, a private Postgres cluster to stop and start
//! ([`pg`]), generated activity with every kind of event ([`activity`]), and, with the `indexer`
//! feature, an in-process indexer and table dumps ([`indexing`]).

// Test-only code: plain arithmetic on small, known values is clearer than checked forms here.
#![allow(clippy::arithmetic_side_effects)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use escrow_client::{account_of, AccountId, Bundle, Chain, Deploy, Escrow, Keypair};
use settlement::{Domain, Event, JobId, Receipt, Timing};
use subxt_signer::SecretUri;

pub mod activity;
#[cfg(feature = "indexer")]
pub mod indexing;
pub mod pg;

pub use escrow_client::now_ms;
pub use escrow_client::token::DEV_UNIT as UNIT;

/// Boxed error for test helpers.
pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// A `substrate-contracts-node --dev` of our own (archive state, so every block can be re-read), killed
/// when dropped.
pub struct DevNode {
    child: Child,
    /// Its WebSocket RPC endpoint.
    pub url: String,
    rpc: u16,
    base: Option<PathBuf>,
    finalize_delay_sec: Option<u32>,
}

impl DevNode {
    /// Starts the node named by `$CONTRACTS_NODE` (set by `scripts/env.sh`) on a temporary chain and
    /// waits for its RPC.
    pub async fn start() -> TestResult<(Self, Chain)> {
        Self::launch(None, free_port(), None).await
    }

    /// Like [`DevNode::start`], but the chain lives in `base`, so [`DevNode::restart`] keeps it.
    pub async fn start_in(base: &std::path::Path) -> TestResult<(Self, Chain)> {
        Self::launch(Some(base.to_path_buf()), free_port(), None).await
    }

    /// Sets how many seconds after sealing a block the node finalizes it (`--finalize-delay-sec`;
    /// `None`: the node's default, 1 s), from the next time it starts ([`DevNode::start_again`],
    /// [`DevNode::restart`]) on.
    pub fn set_finalize_delay(&mut self, seconds: Option<u32>) {
        self.finalize_delay_sec = seconds;
    }

    /// The node's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the node (SIGTERM, so it flushes its database) without starting it again.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        }
        let _ = self.child.wait();
    }

    /// Stops the node and starts it again on the same port and chain (needs [`DevNode::start_in`]).
    pub async fn restart(&mut self) -> TestResult<Chain> {
        self.stop();
        self.start_again().await
    }

    /// Starts the node again after [`DevNode::stop`] (stopping it first if it still runs), on the same
    /// port and chain (needs [`DevNode::start_in`]), and waits for its RPC. Clients connected before
    /// connect again by themselves ([`Chain::connect`]).
    pub async fn start_again(&mut self) -> TestResult<Chain> {
        self.stop();
        let (node, chain) = Self::launch(self.base.clone(), self.rpc, self.finalize_delay_sec).await?;
        *self = node;
        Ok(chain)
    }

    async fn launch(base: Option<PathBuf>, rpc: u16, finalize_delay_sec: Option<u32>) -> TestResult<(Self, Chain)> {
        let binary = std::env::var("CONTRACTS_NODE").unwrap_or_else(|_| "substrate-contracts-node".into());
        let mut cmd = Command::new(&binary);
        cmd.args(["--dev", "--state-pruning", "archive", "--no-telemetry", "--no-prometheus", "--no-mdns"]);
        match &base {
            Some(dir) => cmd.arg("--base-path").arg(dir),
            None => cmd.arg("--tmp"),
        };
        if let Some(seconds) = finalize_delay_sec {
            cmd.arg("--finalize-delay-sec").arg(seconds.to_string());
        }
        let child = cmd
            .args(["--rpc-port", &rpc.to_string(), "--port", &free_port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {binary} (run scripts/setup, source scripts/env.sh): {e}"))?;
        let node = Self { child, url: format!("ws://127.0.0.1:{rpc}"), rpc, base, finalize_delay_sec };
        let started = Instant::now();
        loop {
            match Chain::connect(&node.url).await {
                Ok(chain) => return Ok((node, chain)),
                Err(e) if started.elapsed() > Duration::from_secs(60) => {
                    return Err(format!("node at {} not ready after 60 s: {e}", node.url).into())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

/// `$DATABASE_URL` (the test cluster) with the database name replaced by `name`.
pub fn database_url(name: &str) -> String {
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1/postgres".into());
    let server = base.rsplit_once('/').map_or(base.as_str(), |(server, _)| server);
    format!("{server}/{name}")
}

impl Drop for DevNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A salt no other deployment in this test run uses.
pub fn unique_salt() -> Vec<u8> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{}-{n}", std::process::id(), now_ms()).into_bytes()
}

/// The escrow's release bundle, built by `scripts/build-contracts`.
pub fn escrow_bundle() -> TestResult<Arc<Bundle>> {
    let path = std::env::var("ESCROW_BUNDLE").map(PathBuf::from).unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        PathBuf::from(target).join("ink/escrow/escrow.contract")
    });
    Ok(Arc::new(Bundle::load(&path).map_err(|e| format!("{e} (build it with scripts/build-contracts)"))?))
}

/// A key pair from a dev derivation path such as `//Treasury`.
pub fn keypair(uri: &str) -> Keypair {
    Keypair::from_uri(&SecretUri::from_str(uri).expect("valid secret uri")).expect("valid key")
}

/// A fresh account funded by Alice with `amount`.
pub async fn funded(chain: &Chain, uri: &str, amount: u128) -> TestResult<Keypair> {
    let key = keypair(uri);
    chain.transfer(&escrow_client::dev::alice(), account_of(&key), amount).await?;
    Ok(key)
}

/// Waits until the chain's clock (the latest block's timestamp) passes `at_ms`. Instant seal only makes
/// blocks for transactions, so this seals blocks with remarks until one is stamped late enough.
pub async fn wait_until(chain: &Chain, at_ms: u64) -> TestResult {
    Ok(chain.wait_until(&escrow_client::dev::ferdie(), at_ms, Duration::from_secs(120)).await?)
}

/// Seals a new block with a remark, moving the chain's timestamp to now.
pub async fn tick(chain: &Chain) -> TestResult {
    Ok(chain.tick(&escrow_client::dev::ferdie()).await?)
}

/// Has the node seal a new block, as a live chain makes one whether or not there are transactions: a
/// remark signed by Ferdie with his next index as the node counts it (its pool and best chain
/// included), sent without waiting for it to be included or finalized. Unlike [`tick`], whose nonce is
/// read from the finalized state, this works while blocks are sealed but not finalized (a node
/// restarted before finalizing what it had sealed finalizes nothing until it seals a new block).
pub async fn seal(chain: &Chain) -> TestResult {
    let signer = escrow_client::dev::ferdie();
    let nonce = chain.next_index(account_of(&signer)).await?;
    let params = subxt::config::DefaultExtrinsicParamsBuilder::<subxt::PolkadotConfig>::new().nonce(nonce).build();
    let call = escrow_client::node::tx().system().remark(b"seal".to_vec());
    chain.api().tx().create_signed(&call, &signer, params).await?.submit().await?;
    Ok(())
}

/// Short time parameters for tests: a 4 s dispute window, 6 s unbonding, 2 s settle grace and thaw,
/// settings changes 10.001 s after their announcement, 30 s to arbitrate.
pub const TEST_TIMING: Timing = Timing {
    unbond_delay: 6_000,
    dispute_window: 4_000,
    settle_grace: 2_000,
    max_job_duration: 3_600_000,
    thaw_period: 2_000,
    admin_delay: 10_001,
    arbitration_period: 30_000,
};

/// One dispute may slash all of what a provider accepted a job with (less if it capped its own bound).
pub const TEST_SLASH_BPS: u16 = 10_000;

/// Each of `providers` accepts `job` (G3) on any terms: no minimum, no slash cap of its own.
pub async fn accept_all(m: &Market, job: JobId, providers: &[&Keypair]) -> TestResult<Vec<Event<AccountId>>> {
    let mut events = Vec::new();
    for p in providers {
        events.extend(m.escrow.accept_job(p, job, 0, u128::MAX).await?.events);
    }
    Ok(events)
}

/// The deployed escrow and the roles around it.
pub struct Market {
    /// The contract.
    pub escrow: Escrow,
    /// Its owner (Alice).
    pub owner: Keypair,
    /// The fee recipient.
    pub treasury: Keypair,
    /// The dispute resolver.
    pub arbiter: Keypair,
    /// The minimum provider stake.
    pub min_stake: u128,
}

/// Deploys the escrow with a 5 % fee and [`TEST_TIMING`].
pub async fn deploy(chain: &Chain) -> TestResult<Market> {
    let treasury = funded(chain, "//Treasury", 10 * UNIT).await?;
    let arbiter = funded(chain, "//Arbiter", 10 * UNIT).await?;
    let owner = escrow_client::dev::alice();
    let min_stake = 100 * UNIT;
    let params = Deploy {
        treasury: account_of(&treasury),
        arbiter: account_of(&arbiter),
        fee_bps: 500,
        min_stake,
        slash_bps: TEST_SLASH_BPS,
        timing: TEST_TIMING,
        salt: unique_salt(),
    };
    let escrow = Escrow::deploy(chain, &owner, escrow_bundle()?, &params).await?;
    Ok(Market { escrow, owner, treasury, arbiter, min_stake })
}

/// A consumer's ed25519 payer key, deterministic per seed.
pub fn payer(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// 2100-01-01: the expiry of test receipts, so the same arguments always make the same receipt.
pub const FAR_FUTURE_MS: u64 = 4_102_444_800_000;

/// A receipt for the escrow in `market` on this chain, and the payer's signature over it.
pub fn signed_receipt(
    market: &Market,
    key: &SigningKey,
    job_id: JobId,
    provider: AccountId,
    amount: u128,
    sequence: u64,
) -> (Receipt<AccountId>, [u8; 64]) {
    let receipt = Receipt {
        domain: Domain { genesis_hash: market.escrow.chain().genesis_hash(), contract: market.escrow.address() },
        job_id,
        provider,
        amount,
        units: u128::from(sequence) * 10,
        sequence,
        expires_at: FAR_FUTURE_MS,
    };
    let signature = receipt.sign(key);
    (receipt, signature)
}
