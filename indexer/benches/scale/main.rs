//! The indexer at scale (issue 14, part 3): with 1,000,000 escrow events in its database, does the
//! indexer's memory stay bounded and does its follower keep up with a live chain while 64 clients
//! hammer the auditor API? Writes benchmarks/indexer-scale.md and prints it.
//!
//! 1. **History.** A dev node seals `SCALE_BLOCKS` empty blocks (remarks; default one per 250 events),
//!    then the escrow is deployed and the live activity's accounts are set up. Blocks 0 up to the last
//!    empty one are filled with a synthetic history of `SCALE_EVENTS` events: `settlement::Market` over
//!    a `MemoryStore` (the contract's own rules, signatures checked, `escrow deploy`'s default timing)
//!    plays a marketplace of 1,000 providers and 250 consumers (jobs opened and accepted, releases in
//!    `release_many`-sized batches, completions, refunds, reputation, claims, top-ups, thaws, disputes,
//!    stake changes, one settings change) block by block, its clock spread over `SCALE_DAYS` days.
//!    Each event becomes the contract event the chain would hold (signature topic from the bundle,
//!    data = the event's SCALE fields) in a `ChainBlock` carrying the real block's number, hash and
//!    parent hash (the timestamps are the synthetic ones), and goes through the follower's own path:
//!    `follow::index_block` (decoding with the bundle, the hash chain, the treasury in force) and
//!    `Db::commit` in the follower's batch sizes (typed tables, running and per-day totals and cursor
//!    in one transaction each). Synthetic jobs are numbered from 1,000,000 so the live contract's own
//!    ids (from 1) never collide. The cursor ends on the last real empty block, so the indexer resumes
//!    on the live chain from the deployment on, as after a long backfill. (`escrow audit` would not
//!    pass on it: the node has none of these events.)
//! 2. **Service.** The indexer (`indexer::service::serve`: follower and API, as `escrow index` runs it,
//!    default settings) runs as a child process (this bench's own executable) so its memory is its own;
//!    it follows a steady stream of real escrow activity (jobs opened and accepted, `release_many` of 64
//!    receipts, completions, refunds, claims) from `SCALE_LOOPS` submitters.
//! 3. **Phases** of `SCALE_SECONDS` each: quiet, hammered (`SCALE_CLIENTS` keep-alive HTTP clients over
//!    loopback hitting every list at its largest page, random cursors and periods), quiet again; then
//!    one client alone, for each request's cost without the queue. The child's memory (VmRSS sampled
//!    every 100 ms, VmHWM reset at each phase through `clear_refs`) and the follower's lag (finalized
//!    head - indexed cursor, every 50 ms) are sampled throughout.
//!
//! Run: `scripts/bench-indexer-scale` (starts a private Postgres; the bench starts its own dev node).
//! `SCALE_EVENTS=20000 SCALE_SECONDS=10 scripts/bench-indexer-scale` for a quick look; `SCALE_KEEP_DB`
//! keeps the filled database (on a Postgres of your own) for a closer look.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use escrow_client::accounts::ss58;
use escrow_client::blocks::ChainBlock;
use escrow_client::{account_of, AccountId, Chain, Escrow, Keypair, TxStatus};
use futures::{StreamExt, TryStreamExt};
use indexer::follow::{index_block, Tip};
use indexer::record::IndexedBlock;
use indexer::store::Db;
use settlement::{Domain, OpenJob, Receipt};
use sqlx::PgPool;
use testkit::*;

/// Set in the child process: serve the indexer instead of running the bench.
const CHILD: &str = "SCALE_INDEXER_CHILD";
/// The database the bench fills and the indexer serves.
const DB_NAME: &str = "indexer_scale";
/// Phases, as the sampler tags its samples (0: warming up).
const QUIET: u8 = 1;
const HAMMER: u8 = 2;
const AFTER: u8 = 3;
const DONE: u8 = 4;
const PHASES: [(u8, &str); 3] = [(QUIET, "quiet (before)"), (HAMMER, "hammered"), (AFTER, "quiet (after)")];

/// The bench's knobs, from the environment.
struct Params {
    events: u64,
    days: u64,
    blocks: u64,
    seconds: u64,
    clients: usize,
    loops: usize,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

impl Params {
    fn from_env() -> Self {
        let events = env_u64("SCALE_EVENTS", 1_000_000).max(2_000);
        Self {
            events,
            days: env_u64("SCALE_DAYS", 90).max(1),
            blocks: env_u64("SCALE_BLOCKS", events / 250).max(50),
            seconds: env_u64("SCALE_SECONDS", 60).max(5),
            clients: env_u64("SCALE_CLIENTS", 64).max(1) as usize,
            loops: env_u64("SCALE_LOOPS", 3).max(1) as usize,
        }
    }

    /// The command that reproduces this run.
    fn command(&self) -> String {
        let mut env = String::new();
        for (name, value, default) in [
            ("SCALE_EVENTS", self.events, 1_000_000),
            ("SCALE_DAYS", self.days, 90),
            ("SCALE_BLOCKS", self.blocks, (self.events / 250).max(50)),
            ("SCALE_SECONDS", self.seconds, 60),
            ("SCALE_CLIENTS", self.clients as u64, 64),
            ("SCALE_LOOPS", self.loops as u64, 3),
        ] {
            if value != default {
                let _ = write!(env, "{name}={value} ");
            }
        }
        format!("{env}scripts/bench-indexer-scale")
    }
}

fn main() -> TestResult {
    if std::env::var_os(CHILD).is_some() {
        return serve_child();
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

/// The child: `indexer::service::serve` with the configuration from the environment (as `escrow index`
/// loads it), until its stdin closes.
fn serve_child() -> TestResult {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(async {
        let config = indexer::Config::load(None)?;
        let stdin_closed = async {
            use tokio::io::AsyncReadExt;
            let mut stdin = tokio::io::stdin();
            let mut buf = [0_u8; 64];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        };
        indexer::service::serve(config, stdin_closed).await
    });
    runtime.shutdown_background();
    outcome.map_err(|e| {
        eprintln!("[scale child] the indexer stopped: {e}");
        e.into()
    })
}

fn bundle_path() -> String {
    std::env::var("ESCROW_BUNDLE").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        format!("{target}/ink/escrow/escrow.contract")
    })
}

/// The commit measured, and whether the indexer's sources differ from it.
fn code_version() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .unwrap_or_default()
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--", "src", "migrations"]).trim().is_empty();
    format!("{}{}", commit.trim(), if dirty { " with uncommitted changes to the indexer" } else { "" })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Seals one block per remark until the chain is `to` blocks high, then waits for it to be finalized;
/// returns the finalized head (the last block of the synthetic range).
async fn advance(chain: &Chain, to: u64) -> TestResult<u64> {
    let signer = keypair("//Eve");
    let mut best = u64::from(chain.api().blocks().at_latest().await?.number());
    let mut nonce = chain.next_index(account_of(&signer)).await?;
    while best < to {
        let params = subxt::config::DefaultExtrinsicParamsBuilder::<subxt::PolkadotConfig>::new().nonce(nonce).build();
        let call = escrow_client::node::tx().system().remark(Vec::new());
        let mut progress = chain.api().tx().create_signed(&call, &signer, params).await?.submit_and_watch().await?;
        loop {
            match progress.next().await {
                Some(Ok(TxStatus::InBestBlock(_) | TxStatus::InFinalizedBlock(_))) => break,
                Some(Ok(
                    TxStatus::Invalid { message } | TxStatus::Dropped { message } | TxStatus::Error { message },
                )) => return Err(format!("remark {nonce}: {message}").into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err("the remark's status stream ended".into()),
            }
        }
        nonce += 1;
        best += 1;
        if best % 1_000 == 0 {
            eprintln!("[scale] chain at block {best}");
        }
    }
    loop {
        let (finalized, _) = chain.finalized_head().await?;
        if finalized >= best {
            return Ok(finalized);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Accounts of one live submitter: four staked providers and a funded consumer.
struct LiveLoop {
    providers: Vec<Keypair>,
    consumer: Keypair,
    seed: u8,
}

async fn live_setup(m: &Market, loops: usize) -> TestResult<Vec<LiveLoop>> {
    let chain = m.escrow.chain();
    let mut out = Vec::new();
    for l in 0..loops {
        let mut providers = Vec::new();
        for p in 0..4 {
            providers.push(funded(chain, &format!("//ScaleL{l}P{p}"), 1_000 * UNIT).await?);
        }
        futures::future::try_join_all(providers.iter().map(|p| m.escrow.stake(p, m.min_stake))).await?;
        let consumer = funded(chain, &format!("//ScaleL{l}Consumer"), 50_000 * UNIT).await?;
        out.push(LiveLoop { providers, consumer, seed: 100 + l as u8 });
    }
    Ok(out)
}

/// What filling the database took.
struct Filled {
    made: history::Made,
    first_ts: u64,
    block_ms: u64,
    last_block: u64,
    wall: Duration,
    writing: Duration,
    vacuum: Duration,
    events: i64,
    counts: Vec<(&'static str, i64)>,
    db_bytes: i64,
}

async fn commit(
    db: &Db,
    committed: &mut Option<u64>,
    batch: &mut Vec<IndexedBlock>,
    tip: &Tip,
) -> TestResult<Duration> {
    let Some(last) = batch.last().map(|b| b.number) else { return Ok(Duration::ZERO) };
    let started = Instant::now();
    db.commit(*committed, batch, tip.treasury).await?;
    *committed = Some(last);
    batch.clear();
    Ok(started.elapsed())
}

/// Fills `db` with the synthetic history in blocks `0..=last` (see the module's documentation).
async fn fill(chain: &Chain, m: &Market, last: u64, db: &Db, events: u64, days: u64) -> TestResult<Filled> {
    let hashes: Vec<Option<[u8; 32]>> =
        futures::stream::iter(0..=last).map(|n| chain.block_hash(n)).buffered(16).try_collect().await?;
    let hashes = hashes
        .into_iter()
        .map(|h| h.ok_or("a block of the synthetic range is missing"))
        .collect::<Result<Vec<_>, _>>()?;
    let last_ts = chain.block(last).await?.ok_or("no last synthetic block")?.timestamp;
    let block_ms = days * 86_400_000 / (last + 1);
    let first_ts = last_ts - (last + 1) * block_ms;
    let state = db.init(chain.genesis_hash(), m.escrow.address(), 0).await?;
    let mut tip = Tip::of(&state);
    let bundle = escrow_bundle()?;
    let plan = history::Plan {
        events,
        hashes,
        first_ts,
        block_ms,
        genesis: chain.genesis_hash(),
        contract: m.escrow.address(),
        owner: account_of(&m.owner),
        treasury: account_of(&m.treasury),
        arbiter: account_of(&m.arbiter),
        min_stake: m.min_stake,
        topics: history::signature_topics(&bundle_path())?,
    };
    let contract = plan.contract;
    let limits = indexer::Config::default();
    let (sender, mut blocks) = tokio::sync::mpsc::channel::<Vec<ChainBlock>>(8);
    let started = Instant::now();
    let generator = std::thread::spawn(move || history::generate(plan, &sender));
    let mut batch: Vec<IndexedBlock> = Vec::new();
    let (mut batch_events, mut committed, mut writing) = (0_usize, None, Duration::ZERO);
    let (mut reported, mut written) = (0_usize, 0_usize);
    while let Some(chunk) = blocks.recv().await {
        for block in chunk {
            let indexed = index_block(block, &contract, &bundle, &mut tip)?;
            batch_events += indexed.events.len();
            written += indexed.events.len();
            batch.push(indexed);
            if batch.len() >= limits.batch_blocks || batch_events >= limits.batch_events {
                writing += commit(db, &mut committed, &mut batch, &tip).await?;
                batch_events = 0;
            }
        }
        if written >= reported + 100_000 {
            reported = written - written % 100_000;
            eprintln!("[scale] {written} events written in {:.0?}", started.elapsed());
        }
    }
    writing += commit(db, &mut committed, &mut batch, &tip).await?;
    let wall = started.elapsed();
    let made = generator.join().map_err(|_| "the history generator panicked")?;
    // What autovacuum would do after such growth, done now so every run plans on the same statistics.
    let started = Instant::now();
    sqlx::raw_sql("VACUUM ANALYZE").execute(db.pool()).await?;
    let vacuum = started.elapsed();
    let mut counts = Vec::new();
    for table in
        ["blocks", "events", "jobs", "acceptances", "releases", "reputation_changes", "claims", "account_totals"]
    {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(db.pool()).await?;
        counts.push((table, n));
    }
    let db_bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(db.pool()).await?;
    Ok(Filled {
        made,
        first_ts,
        block_ms,
        last_block: last,
        wall,
        writing,
        vacuum,
        events: db.event_count().await?,
        counts,
        db_bytes,
    })
}

/// The indexer service in a child process.
struct Service {
    child: Child,
    base: std::net::SocketAddr,
}

impl Service {
    fn start(node_url: &str, contract: AccountId, db_url: &str) -> TestResult<Self> {
        let base: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
        let child = Command::new(std::env::current_exe()?)
            .env(CHILD, "1")
            .env("ESCROW_NODE_URL", node_url)
            .env("ESCROW_CONTRACT", ss58(contract))
            .env("ESCROW_BUNDLE", bundle_path())
            .env("INDEXER__LISTEN", base.to_string())
            .env("INDEXER__DATABASE_URL", db_url)
            .env("INDEXER__PROGRESS", "false")
            .stdin(Stdio::piped())
            .spawn()?;
        Ok(Self { child, base })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn check(&mut self) -> TestResult {
        match self.child.try_wait()? {
            Some(status) => Err(format!("the indexer exited: {status}").into()),
            None => Ok(()),
        }
    }

    /// Closes its stdin (its shutdown signal) and waits for it.
    fn stop(mut self) -> TestResult<std::process::ExitStatus> {
        drop(self.child.stdin.take());
        Ok(self.child.wait()?)
    }
}

/// VmRSS and VmHWM of `pid`, in kB.
fn memory(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets `pid`'s VmHWM to its current RSS; false if the kernel refuses.
fn reset_hwm(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// CPU time `pid` used so far (user + system).
fn cpu(pid: u32, ticks_per_s: u64) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok())).sum();
    Duration::from_millis(ticks * 1_000 / ticks_per_s.max(1))
}

/// The machine's busy and total CPU ticks so far (all cores).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The private Postgres's postmaster (`$PG_DIR`, from scripts/pg.sh).
fn postmaster() -> Option<u32> {
    let dir = std::env::var("PG_DIR").ok()?;
    std::fs::read_to_string(format!("{dir}/data/postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
}

/// CPU used so far by `root` and its children (Postgres: the postmaster and its backends; a backend
/// that exited meanwhile is missed).
fn tree_cpu(root: u32, ticks_per_s: u64) -> Duration {
    let mut total = cpu(root, ticks_per_s);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(root) {
            total += cpu(pid, ticks_per_s);
        }
    }
    total
}

/// CPU used so far by the indexer (`pids`), Postgres, the node (`node`) and this process.
fn cpus(pids: &[u32], node: u32, ticks_per_s: u64) -> [Duration; 4] {
    [
        pids.iter().map(|&p| cpu(p, ticks_per_s)).sum(),
        postmaster().map_or(Duration::ZERO, |root| tree_cpu(root, ticks_per_s)),
        cpu(node, ticks_per_s),
        cpu(std::process::id(), ticks_per_s),
    ]
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// One lag sample (every second).
#[derive(Debug, Clone, Copy)]
struct Sample {
    phase: u8,
    lag_blocks: u64,
    lag_ms: u64,
}

/// Memory seen in one phase.
#[derive(Debug, Clone, Copy, Default)]
struct PhaseMemory {
    rss_first_kb: u64,
    rss_max_kb: u64,
    rss_last_kb: u64,
    hwm_kb: u64,
}

/// What the sampler and the live activity share with the bench.
#[derive(Default)]
struct Shared {
    phase: AtomicU8,
    stop_activity: AtomicBool,
    stop_sampler: AtomicBool,
    activity_done: AtomicUsize,
    samples: Mutex<Vec<Sample>>,
    /// Per indexed block: its phase and the time from the sampler seeing it finalized to seeing it indexed.
    block_lags: Mutex<Vec<(u8, Duration)>>,
    memory: Mutex<[PhaseMemory; 5]>,
    /// Live activity: transactions, their escrow events, failures.
    txs: AtomicUsize,
    tx_events: AtomicUsize,
    tx_failures: AtomicUsize,
    /// The cursor and finalized head the sampler last saw.
    cursor: std::sync::atomic::AtomicU64,
    head: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn phase(&self) -> u8 {
        self.phase.load(Ordering::SeqCst)
    }
}

/// Every 50 ms: the finalized head and the indexed cursor; every 100 ms the child's memory; every second
/// a lag sample.
async fn sampler(shared: Arc<Shared>, node_url: String, db_url: String, pid: u32) -> TestResult {
    let chain = Chain::connect(&node_url).await?;
    let pool = PgPool::connect(&db_url).await?;
    let mut finalized_at: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut last_head = chain.finalized_head().await?.0;
    let mut last_cursor: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0_u64;
    let mut last_phase = u8::MAX;
    while !shared.stop_sampler.load(Ordering::SeqCst) {
        tick.tick().await;
        n += 1;
        let phase = shared.phase();
        let Ok((head, _)) = chain.finalized_head().await else { continue };
        let Ok(cursor) =
            sqlx::query_scalar::<_, Option<i64>>("SELECT cursor_number FROM indexer_state").fetch_one(&pool).await
        else {
            continue;
        };
        let cursor = cursor.unwrap_or(0) as u64;
        let now = Instant::now();
        for b in last_head + 1..=head {
            finalized_at.insert(b, now);
        }
        last_head = last_head.max(head);
        if last_cursor == 0 {
            last_cursor = cursor;
        }
        {
            let mut lags = shared.block_lags.lock().unwrap();
            for b in last_cursor + 1..=cursor {
                if let Some(at) = finalized_at.remove(&b) {
                    lags.push((phase, now - at));
                }
            }
        }
        last_cursor = last_cursor.max(cursor);
        shared.cursor.store(cursor, Ordering::SeqCst);
        shared.head.store(head, Ordering::SeqCst);
        if n % 2 == 0 || phase != last_phase {
            let (rss, hwm) = memory(pid);
            let mut mem = shared.memory.lock().unwrap();
            let m = &mut mem[usize::from(phase)];
            if phase != last_phase {
                m.rss_first_kb = rss;
            }
            m.rss_max_kb = m.rss_max_kb.max(rss);
            m.rss_last_kb = rss;
            m.hwm_kb = hwm;
        }
        if n % 20 == 0 {
            let lag_blocks = head.saturating_sub(cursor);
            let lag_ms = finalized_at.get(&(cursor + 1)).map_or(0, |at| (now - *at).as_millis() as u64);
            shared.samples.lock().unwrap().push(Sample { phase, lag_blocks, lag_ms });
        }
        last_phase = phase;
    }
    Ok(())
}

/// One live submitter: job after job, each opened, accepted by its four providers, paid through ten
/// `release_many` of 64 receipts, completed, refunded, the consumer's and one provider's claims; until
/// told to stop.
async fn activity(escrow: Escrow, live: LiveLoop, shared: Arc<Shared>) {
    let key = payer(live.seed);
    let chain = escrow.chain().clone();
    let stop = || shared.stop_activity.load(Ordering::SeqCst);
    let done = |events: usize| {
        shared.txs.fetch_add(1, Ordering::SeqCst);
        shared.tx_events.fetch_add(events, Ordering::SeqCst);
    };
    let mut cycle = 0_usize;
    while !stop() {
        let outcome: TestResult = async {
            let req = OpenJob {
                providers: live.providers.iter().map(|p| (account_of(p), 200 * UNIT)).collect(),
                payer_key: key.verifying_key().to_bytes(),
                terms_hash: [cycle as u8; 32],
                expires_at: now_ms() + 1_800_000,
            };
            let opened = escrow.open_job(&live.consumer, 1_000 * UNIT, &req).await?;
            done(opened.events.len());
            // From the event: the dry-run's id is stale when another submitter opened a job meanwhile.
            let job = opened
                .event(|e| match e {
                    settlement::Event::JobOpened { job_id, .. } => Some(*job_id),
                    _ => None,
                })
                .ok_or("no JobOpened event")?;
            let accepted =
                futures::future::try_join_all(live.providers.iter().map(|p| escrow.accept_job(p, job, 0, u128::MAX)))
                    .await?;
            for a in &accepted {
                done(a.events.len());
            }
            let mut sequence = 0_u64;
            for _ in 0..10 {
                if stop() {
                    return Ok(());
                }
                let mut batch = Vec::new();
                for _ in 0..16 {
                    sequence += 1;
                    for p in &live.providers {
                        let receipt = Receipt {
                            domain: Domain { genesis_hash: chain.genesis_hash(), contract: escrow.address() },
                            job_id: job,
                            provider: account_of(p),
                            amount: u128::from(sequence) * UNIT / 2,
                            units: u128::from(sequence) * 10,
                            sequence,
                            expires_at: FAR_FUTURE_MS,
                        };
                        let signature = receipt.sign(&key);
                        batch.push((receipt, signature));
                    }
                }
                done(escrow.release_many(&live.providers[0], &batch).await?.events.len());
            }
            let completed = escrow.complete(&live.consumer, job).await?;
            done(completed.events.len());
            let ends_at = completed.event(|e| match e {
                settlement::Event::JobCompleted { ends_at, .. } => Some(*ends_at),
                _ => None,
            });
            chain.wait_until(&live.consumer, ends_at.unwrap_or(completed.value), Duration::from_secs(60)).await?;
            done(escrow.refund(&live.consumer, job).await?.events.len());
            done(escrow.claim(&live.consumer).await?.events.len());
            done(escrow.claim(&live.providers[cycle % 4]).await?.events.len());
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            shared.tx_failures.fetch_add(1, Ordering::SeqCst);
            eprintln!("[scale] live activity: {e}");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        cycle += 1;
    }
    shared.activity_done.fetch_add(1, Ordering::SeqCst);
}

/// The indexed cursor (0 before the first block).
async fn cursor(pool: &PgPool) -> TestResult<u64> {
    let n: Option<i64> = sqlx::query_scalar("SELECT cursor_number FROM indexer_state").fetch_one(pool).await?;
    Ok(n.unwrap_or(0) as u64)
}

fn pct(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() - 1) * p / 100]
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

async fn run() -> TestResult {
    let p = Params::from_env();
    let admin_url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL unset: run scripts/bench-indexer-scale")?;
    let admin = PgPool::connect(&admin_url).await?;
    let load_at_start = loadavg();
    let version = code_version();
    let started = Instant::now();
    eprintln!("[scale] {} events over {} blocks; phases of {} s; {} clients", p.events, p.blocks, p.seconds, p.clients);

    let (node, chain) = DevNode::start().await?;
    let t = Instant::now();
    let last_synthetic = advance(&chain, p.blocks - 1).await?;
    let advance_time = t.elapsed();
    eprintln!("[scale] {} empty blocks sealed in {advance_time:.1?}", last_synthetic + 1);
    let m = deploy(&chain).await?;
    let live = live_setup(&m, p.loops).await?;

    sqlx::query(&format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")).execute(&admin).await?;
    sqlx::query(&format!("CREATE DATABASE {DB_NAME}")).execute(&admin).await?;
    let db_url = database_url(DB_NAME);
    let db = Db::connect(&db_url, 8).await?;
    let filled = fill(&chain, &m, last_synthetic, &db, p.events, p.days).await?;
    db.pool().close().await;
    eprintln!(
        "[scale] {} events in {:.1?} ({:.1?} writing), VACUUM ANALYZE {:.1?}",
        filled.events, filled.wall, filled.writing, filled.vacuum
    );

    // The service, caught up with the live chain.
    let mut service = Service::start(&node.url, m.escrow.address(), &db_url)?;
    let pid = service.pid();
    let mut http = http::Conn::new(service.base);
    let t = Instant::now();
    loop {
        service.check()?;
        if matches!(http.get("/healthz").await, Ok((200, _, _))) {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) {
            return Err("the indexer's API did not come up".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state_pool = PgPool::connect(&db_url).await?;
    let head = chain.finalized_head().await?.0;
    while cursor(&state_pool).await? < head {
        service.check()?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let catch_up = t.elapsed();
    let (rss_idle, _) = memory(pid);
    eprintln!("[scale] the indexer caught up with block {head} in {catch_up:.1?}; RSS {}", mib(rss_idle));

    // Sampler and live activity, on a thread and runtime of their own.
    let shared = Arc::new(Shared::default());
    let ticks = clock_ticks();
    let background = {
        let (shared, node_url, db_url) = (shared.clone(), node.url.clone(), db_url.clone());
        let (address, bundle) = (m.escrow.address(), escrow_bundle()?);
        std::thread::spawn(move || -> TestResult {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let chain = Chain::connect(&node_url).await?;
                let escrow = Escrow::at(&chain, bundle, address);
                let loops = live.into_iter().map(|l| activity(escrow.clone(), l, shared.clone()));
                let (sampled, _) =
                    tokio::join!(sampler(shared.clone(), node_url, db_url, pid), futures::future::join_all(loops));
                sampled
            })
        })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;

    let targets = Arc::new(http::Targets::new(service.base, &filled, account_of(&m.treasury), p.clients));
    let mut phases = Vec::new();
    let mut hwm_resettable = true;
    let mut records = Vec::new();
    let mut drain = Duration::ZERO;
    for (phase, name) in PHASES {
        service.check()?;
        hwm_resettable &= reset_hwm(pid);
        let cpu_before = cpus(&[pid], node.pid(), ticks);
        let machine_before = machine_ticks();
        let (cursor_before, events_before) = (shared.cursor.load(Ordering::SeqCst), http::events(&state_pool).await?);
        shared.phase.store(phase, Ordering::SeqCst);
        eprintln!("[scale] phase: {name}");
        let phase_started = Instant::now();
        let until = phase_started + Duration::from_secs(p.seconds);
        if phase == HAMMER {
            let clients = (0..p.clients).map(|i| {
                let targets = targets.clone();
                tokio::spawn(http::client(i as u64, targets, until, until + Duration::from_secs(120)))
            });
            for r in futures::future::join_all(clients).await {
                records.extend(r?);
            }
            drain = Instant::now().saturating_duration_since(until);
        } else {
            tokio::time::sleep_until(until.into()).await;
        }
        let elapsed = phase_started.elapsed();
        let (cursor_after, events_after) = (shared.cursor.load(Ordering::SeqCst), http::events(&state_pool).await?);
        phases.push(Phase {
            phase,
            name,
            elapsed,
            cpu: {
                let after = cpus(&[pid], node.pid(), ticks);
                [0, 1, 2, 3].map(|i| after[i].saturating_sub(cpu_before[i]))
            },
            cores: {
                let (busy, total) = machine_ticks();
                let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
                (busy - machine_before.0) as f64 * cores / (total - machine_before.1).max(1) as f64
            },
            blocks: cursor_after.saturating_sub(cursor_before),
            events: events_after.saturating_sub(events_before),
        });
    }
    // Each class on its own, for what a request costs without the queue.
    shared.phase.store(DONE, Ordering::SeqCst);
    eprintln!("[scale] one client alone");
    let alone = http::alone(&targets, 5, Duration::from_secs(300)).await;
    shared.stop_activity.store(true, Ordering::SeqCst);
    let t = Instant::now();
    while shared.activity_done.load(Ordering::SeqCst) < p.loops && t.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let head = chain.finalized_head().await?.0;
    let t = Instant::now();
    while cursor(&state_pool).await? < head && t.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let final_cursor = cursor(&state_pool).await?;
    shared.stop_sampler.store(true, Ordering::SeqCst);
    background.join().map_err(|_| "the sampler thread panicked")??;
    let (rss_end, hwm_end) = memory(pid);
    service.check()?;
    let status = service.stop()?;
    state_pool.close().await;

    let report = Report {
        p: &p,
        load_at_start,
        load_at_end: loadavg(),
        version,
        advance_time,
        filled: &filled,
        catch_up,
        rss_idle,
        rss_end,
        hwm_end,
        hwm_resettable,
        phases: &phases,
        shared: &shared,
        records: &records,
        alone: &alone,
        drain,
        head,
        final_cursor,
        exit: status.to_string(),
        total: started.elapsed(),
        treasury: account_of(&m.treasury),
    };
    let md = report.markdown()?;
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/../benchmarks/indexer-scale.md");
    std::fs::write(out, &md)?;
    print!("{md}");
    drop(node);
    if std::env::var_os("SCALE_KEEP_DB").is_some() {
        eprintln!("[scale] kept the database: {db_url}");
    } else {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")).execute(&admin).await?;
    }
    Ok(())
}

/// One phase's figures.
struct Phase {
    phase: u8,
    name: &'static str,
    elapsed: Duration,
    /// CPU used: the indexer, Postgres, the node, the bench (clients, activity, sampler).
    cpu: [Duration; 4],
    /// The machine's busy share, in cores.
    cores: f64,
    blocks: u64,
    events: u64,
}

struct Report<'a> {
    p: &'a Params,
    load_at_start: String,
    load_at_end: String,
    version: String,
    advance_time: Duration,
    filled: &'a Filled,
    catch_up: Duration,
    rss_idle: u64,
    rss_end: u64,
    hwm_end: u64,
    hwm_resettable: bool,
    phases: &'a [Phase],
    shared: &'a Shared,
    records: &'a [http::Record],
    alone: &'a [http::Record],
    drain: Duration,
    head: u64,
    final_cursor: u64,
    exit: String,
    total: Duration,
    treasury: AccountId,
}

/// `text` as lines of at most `width` characters, then a blank line.
fn para(md: &mut String, text: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > 100 {
            md.push_str(&line);
            md.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    md.push_str(&line);
    md.push_str("\n\n");
}

impl Report<'_> {
    #[allow(clippy::too_many_lines)]
    fn markdown(&self) -> TestResult<String> {
        let (p, f) = (self.p, self.filled);
        let config = indexer::Config::default();
        let mut md = String::new();
        writeln!(md, "# Indexer at scale\n")?;
        para(
            &mut md,
            &format!(
                "Regenerate: `{}` (about {:.0} min here; measured at {}; `SCALE_EVENTS=20000 \
                 SCALE_SECONDS=10` shrinks it for a quick look).",
                p.command(),
                self.total.as_secs_f64() / 60.0,
                self.version
            ),
        );
        para(
            &mut md,
            &format!(
                "With {} escrow events in its database, does the indexer's memory stay bounded, and does its \
                 follower keep up with a live chain, while {} clients hammer the auditor API? Measured on this \
                 machine: 2 cores shared by the dev node, Postgres 15 (fsync on), the indexer and the bench's \
                 clients (load average {} at the start, {} at the end).",
                f.events, p.clients, self.load_at_start, self.load_at_end
            ),
        );

        writeln!(md, "## The history\n")?;
        para(
            &mut md,
            &format!(
                "The dev node sealed {} empty blocks ({:.0} s); the synthetic history lives in them: their \
                 real numbers, hashes and parents, and timestamps spread over {} days (one block every {:.0} \
                 min, ending before the escrow's deployment). `settlement::Market` over a `MemoryStore` (the \
                 contract's rules, every receipt signed and checked; `escrow deploy`'s default timing) played \
                 {} jobs of 1 to 3 providers among {} providers and {} consumers, busy ones far more often \
                 than the rest, releases in `release_many`-sized batches, and every event became the contract \
                 event the chain would hold. They went through the follower's own path: `follow::index_block` \
                 (decoding with the bundle, the hash chain) and `Db::commit` in the follower's batches of up \
                 to {} blocks or {} events (typed tables, running and per-day totals, cursor). Synthetic job \
                 ids start at {}. The escrow was then deployed on the live chain, after these blocks, where \
                 the indexer resumed.",
                f.last_block + 1,
                self.advance_time.as_secs_f64(),
                p.days,
                f.block_ms as f64 / 60_000.0,
                f.made.jobs.len(),
                history::PROVIDERS,
                history::CONSUMERS,
                config.batch_blocks,
                config.batch_events,
                history::FIRST_JOB,
            ),
        );
        writeln!(md, "| events | blocks | fill time | events/s | of which writing | VACUUM ANALYZE | database |")?;
        writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|")?;
        writeln!(
            md,
            "| {} | {} | {:.1} s | {:.0} | {:.1} s | {:.1} s | {:.0} MiB |\n",
            f.events,
            f.last_block + 1,
            f.wall.as_secs_f64(),
            f.events as f64 / f.wall.as_secs_f64(),
            f.writing.as_secs_f64(),
            f.vacuum.as_secs_f64(),
            f.db_bytes as f64 / 1_048_576.0
        )?;
        let kinds: Vec<String> = f.made.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        para(&mut md, &format!("Events by kind: {}.", kinds.join(", ")));
        let rows: Vec<String> = f.counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
        para(&mut md, &format!("Rows: {}.", rows.join(", ")));
        let concerning = |a: &AccountId| f.made.concerning.get(a).copied().unwrap_or(0);
        para(
            &mut md,
            &format!(
                "Events concerning the busiest accounts: the treasury {}, the busiest provider {}, the busiest \
                 consumer {}.",
                concerning(&self.treasury),
                f.made.providers.first().map_or(0, concerning),
                f.made.consumers.first().map_or(0, concerning)
            ),
        );

        writeln!(md, "## Memory and the follower\n")?;
        para(
            &mut md,
            &format!(
                "The indexer (`indexer::service::serve`, as `escrow index` runs it, default settings: the \
                 follower on {} Postgres connections, the API on a pool of its own of {}, statements cancelled \
                 after {} s, at most {} requests in flight, each answered within {} s) in a process of its \
                 own, caught up in {:.1} s after the fill (RSS then {}). Meanwhile {} submitters kept real \
                 escrow activity going on the node: {} transactions, {} escrow events, {} failures. RSS \
                 sampled every 100 ms; VmHWM {}. Lag = finalized head - indexed cursor, sampled every second; \
                 per block, the time from the sampler seeing it finalized to seeing it indexed (both polled \
                 every 50 ms). CPU: the machine's busy share in cores (of {}), then each part's in % of one \
                 core (Postgres: the postmaster and its backends; the bench: its clients, the live activity \
                 and the sampler).",
                config.database_max_connections,
                config.api_max_connections,
                config.api_statement_timeout_ms / 1_000,
                config.api_max_in_flight,
                config.api_request_timeout_ms / 1_000,
                self.catch_up.as_secs_f64(),
                mib(self.rss_idle),
                p.loops,
                self.shared.txs.load(Ordering::SeqCst),
                self.shared.tx_events.load(Ordering::SeqCst),
                self.shared.tx_failures.load(Ordering::SeqCst),
                if self.hwm_resettable {
                    "reset at each phase's start (`clear_refs`), so it is the phase's own peak"
                } else {
                    "not resettable here (cumulative)"
                },
                std::thread::available_parallelism().map_or(1, usize::from),
            ),
        );
        writeln!(
            md,
            "| phase | time | API requests | blocks indexed | events indexed | CPU: machine (cores) / indexer / \
             Postgres / node / bench | RSS at start | RSS max | VmHWM | lag p50 / max (oldest unindexed) | \
             per-block lag p50 / p99 / max |"
        )?;
        writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        let memory = *self.shared.memory.lock().unwrap();
        let samples = self.shared.samples.lock().unwrap().clone();
        let block_lags = self.shared.block_lags.lock().unwrap().clone();
        let mut max_lag = [0_u64; 5];
        let mut max_block = [Duration::ZERO; 5];
        for ph in self.phases {
            let mem = memory[usize::from(ph.phase)];
            let mut lags: Vec<u64> = samples.iter().filter(|s| s.phase == ph.phase).map(|s| s.lag_blocks).collect();
            lags.sort_unstable();
            let lag_ms_max = samples.iter().filter(|s| s.phase == ph.phase).map(|s| s.lag_ms).max().unwrap_or(0);
            let mut per_block: Vec<Duration> =
                block_lags.iter().filter(|(phase, _)| *phase == ph.phase).map(|(_, d)| *d).collect();
            per_block.sort_unstable();
            max_lag[usize::from(ph.phase)] = lags.last().copied().unwrap_or(0);
            max_block[usize::from(ph.phase)] = per_block.last().copied().unwrap_or_default();
            let requests = if ph.phase == HAMMER { self.records.len() } else { 0 };
            writeln!(
                md,
                "| {} | {:.0} s | {} | {} | {} | {:.2} / {} | {} | {} | {} | {} / {} blocks ({} ms) | {} / {} / {} |",
                ph.name,
                ph.elapsed.as_secs_f64(),
                requests,
                ph.blocks,
                ph.events,
                ph.cores,
                ph.cpu.map(|c| format!("{:.0} %", c.as_secs_f64() * 100.0 / ph.elapsed.as_secs_f64())).join(" / "),
                mib(mem.rss_first_kb),
                mib(mem.rss_max_kb),
                mib(mem.hwm_kb),
                lags.get(lags.len().saturating_sub(1) / 2).copied().unwrap_or(0),
                lags.last().copied().unwrap_or(0),
                lag_ms_max,
                ms(pct(&per_block, 50)),
                ms(pct(&per_block, 99)),
                ms(per_block.last().copied().unwrap_or_default()),
            )?;
        }
        writeln!(md)?;
        let alone_memory = memory[usize::from(DONE)];
        para(
            &mut md,
            &format!(
                "Then one client alone (below): RSS up to {}. At the end: RSS {}, VmHWM since the last reset {}; \
                 the follower at block {} of {} finalized once the activity stopped; the service {}.",
                mib(alone_memory.rss_max_kb),
                mib(self.rss_end),
                mib(self.hwm_end),
                self.final_cursor,
                self.head,
                if self.exit.contains("status: 0") { "stopped cleanly".to_string() } else { self.exit.clone() }
            ),
        );

        writeln!(md, "## The auditor API, hammered\n")?;
        let seconds = self.phases.iter().find(|ph| ph.phase == HAMMER).map_or(1.0, |ph| ph.elapsed.as_secs_f64());
        para(
            &mut md,
            &format!(
                "{} clients, each on one keep-alive connection, for {} s (then {:.1} s finishing the requests \
                 in flight), every list at `limit=1000`: {} requests, {:.1}/s, {:.1} MiB served. Each client \
                 picks a class by weight (status, jobs, releases, providers 2; dashboard page, fees 1; job \
                 history, payouts, JSON statements 3; CSV statements of a period 2, of the whole history 1; the market \
                 series at a random width, jobs searched by a random consumer or provider 2), \
                 with a random cursor most of the time; statements are the treasury's, the busiest provider's, \
                 the busiest consumer's or anyone's. At most {} clients stream a CSV statement at once, {} of \
                 them a whole history (or a few exports running for minutes would soon hold every client). \
                 Latency is to the last byte; a request the client stopped waiting for (120 s after the end) \
                 counts with the time it waited (\"unfinished\"). \"Alone\": the same requests from one client \
                 with nothing else asking ({} per class, whole-history CSVs {}), after the phases: what a \
                 request costs without the queue.",
                p.clients,
                p.seconds,
                self.drain.as_secs_f64(),
                self.records.len(),
                self.records.len() as f64 / seconds,
                self.records.iter().map(|r| r.bytes).sum::<u64>() as f64 / 1_048_576.0,
                (p.clients / 8).max(1),
                (p.clients / 16).max(1),
                5,
                2,
            ),
        );
        writeln!(md, "| endpoint class | requests | req/s | p50 | p99 | max | errors | unfinished | MiB | alone: p50 | alone: max |")?;
        writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        for (i, (name, what, _)) in http::CLASSES.iter().enumerate() {
            let rs: Vec<&http::Record> = self.records.iter().filter(|r| usize::from(r.class) == i).collect();
            let mut lat: Vec<Duration> = rs.iter().map(|r| r.latency).collect();
            lat.sort_unstable();
            let mut alone: Vec<Duration> =
                self.alone.iter().filter(|r| usize::from(r.class) == i).map(|r| r.latency).collect();
            alone.sort_unstable();
            let errors = rs.iter().filter(|r| r.status != 200 && r.status != http::GAVE_UP).count();
            let unfinished = rs.iter().filter(|r| r.status == http::GAVE_UP).count();
            writeln!(
                md,
                "| {name} ({what}) | {} | {:.1} | {} | {} | {} | {} | {} | {:.1} | {} | {} |",
                rs.len(),
                rs.len() as f64 / seconds,
                ms(pct(&lat, 50)),
                ms(pct(&lat, 99)),
                ms(lat.last().copied().unwrap_or_default()),
                errors,
                unfinished,
                rs.iter().map(|r| r.bytes).sum::<u64>() as f64 / 1_048_576.0,
                ms(pct(&alone, 50)),
                ms(alone.last().copied().unwrap_or_default()),
            )?;
        }
        let answers = |records: &[http::Record]| {
            let mut by: BTreeMap<(u16, String), usize> = BTreeMap::new();
            for r in records {
                *by.entry((r.status, r.code.clone().unwrap_or_default())).or_default() += 1;
            }
            by.iter()
                .map(|((s, code), n)| match *s {
                    http::FAILED => format!("{n} failed or cut"),
                    http::GAVE_UP => format!("{n} unfinished"),
                    s if code.is_empty() => format!("{n} × {s}"),
                    s => format!("{n} × {s} `{code}`"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(md)?;
        para(&mut md, &format!("Answers: {}. Alone: {}.", answers(self.records), answers(self.alone)));

        writeln!(md, "## Verdict\n")?;
        let (quiet, hammered, after) =
            (memory[usize::from(QUIET)], memory[usize::from(HAMMER)], memory[usize::from(AFTER)]);
        para(
            &mut md,
            &format!(
                "- Memory: the indexer's peak RSS was {} quiet, {} hammered ({:+.1} MiB), {} quiet again \
                 (ending at {}); {} right after catching up on the filled database.",
                mib(quiet.rss_max_kb),
                mib(hammered.rss_max_kb),
                (hammered.rss_max_kb as f64 - quiet.rss_max_kb as f64) / 1024.0,
                mib(after.rss_max_kb),
                mib(after.rss_last_kb),
                mib(self.rss_idle)
            ),
        );
        para(
            &mut md,
            &format!(
                "- Follower: lag at most {} block(s) hammered against {} / {} quiet (before / after); per \
                 block at most {} hammered against {} / {} quiet; {} block(s) behind the finalized head once \
                 the activity stopped.",
                max_lag[usize::from(HAMMER)],
                max_lag[usize::from(QUIET)],
                max_lag[usize::from(AFTER)],
                ms(max_block[usize::from(HAMMER)]),
                ms(max_block[usize::from(QUIET)]),
                ms(max_block[usize::from(AFTER)]),
                self.head.saturating_sub(self.final_cursor)
            ),
        );
        Ok(md)
    }
}

mod history;

mod http;
