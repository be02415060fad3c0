//! Faults under load (issue 13): Postgres, then the node, stopped for a few seconds and started again
//! while receipts stream into the real `escrow serve` from several concurrent clients. While the
//! dependency is down, the gateway answers what it cannot judge or commit with 503 (receipts and
//! `/readyz`), promptly: never a 500, never a request held past the client's timeout. Once it is back,
//! the same gateway process recovers by itself and acknowledges receipts again; every receipt it
//! acknowledged is stored as sent; and the chain converges on each job's highest acknowledged
//! cumulative amount, paid once, with no submission left open.
//!
//! Postgres is a private cluster of each test's own (`testkit::pg`): the shared test cluster must not be
//! restarted under the other tests. The node keeps its chain across its restart (`DevNode::start_in`)
//! and finalizes each block some seconds after sealing it, as a live chain does. Each test prints its
//! figures (how long the 503s lasted, the time to recover, receipts acknowledged).
#![allow(clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{no_open_submissions, open_jobs, wait_ready, Gateway};
use escrow_client::{account_of, AccountId, Chain, Escrow};
use gateway::wire::{to_hex, SignedReceiptJson};
use settlement::JobId;
use sqlx::PgPool;
use testkit::pg::PgCluster;
use testkit::*;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The longest the clients wait for an answer: a request held longer counts as a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent clients, each streaming receipts for its own jobs.
const CLIENTS: usize = 3;
/// Jobs per client.
const JOBS_PER_CLIENT: usize = 2;
/// A client's pause after each round of its jobs.
const PACE: Duration = Duration::from_millis(20);
/// Each receipt raises its job's cumulative amount by this.
const STEP: u128 = UNIT / 1_000;
/// How long the dependency stays down.
const DOWN_FOR: Duration = Duration::from_secs(8);
/// The longest a 503 may take (while Postgres is down, a request waits for a connection for the
/// gateway's acquire timeout, 2 s, and may queue behind a group commit doing the same).
const UNAVAILABLE_WITHIN: Duration = Duration::from_secs(5);
/// Streaming before the fault, and after the dependency is back.
const STREAM_BEFORE: Duration = Duration::from_secs(5);
const STREAM_AFTER: Duration = Duration::from_secs(8);
/// The gateway must acknowledge receipts again within this of the dependency being back.
const RECOVER_WITHIN: Duration = Duration::from_secs(15);
/// The node's finality delay while receipts stream (a live chain finalizes seconds after sealing).
const FINALIZE_DELAY_SEC: u32 = 3;

/// What became of one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// 2xx, with the receipt's id.
    Acked(i64),
    /// Another status.
    Status(u16),
    /// No answer within [`CLIENT_TIMEOUT`].
    TimedOut,
    /// No answer at all (connection refused or reset).
    Failed(String),
}

/// One receipt sent.
#[derive(Debug, Clone)]
struct Post {
    job: JobId,
    amount: u128,
    seq: u64,
    sent: Instant,
    answered: Instant,
    answer: Answer,
}

/// One `/readyz` probe: its status, or `None` without an answer.
#[derive(Debug, Clone)]
struct Probe {
    sent: Instant,
    answered: Instant,
    status: Option<u16>,
}

/// What a client needs to sign and send receipts.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    market: Arc<Market>,
    provider: AccountId,
}

impl Client {
    async fn post(&self, job: JobId, seq: u64) -> Post {
        let amount = u128::from(seq) * STEP;
        let (r, s) = signed_receipt(&self.market, &payer(9), job, self.provider, amount, seq);
        let body = SignedReceiptJson::from_signed(&r, &s);
        let sent = Instant::now();
        let answer = match self.http.post(format!("{}/v1/receipts", self.base)).json(&body).send().await {
            Ok(resp) if resp.status().is_success() => match resp.json::<serde_json::Value>().await {
                Ok(v) => Answer::Acked(v["id"].as_i64().expect("an id")),
                Err(e) => Answer::Failed(format!("body: {e}")),
            },
            Ok(resp) => Answer::Status(resp.status().as_u16()),
            Err(e) if e.is_timeout() => Answer::TimedOut,
            Err(e) => Answer::Failed(e.to_string()),
        };
        Post { job, amount, seq, sent, answered: Instant::now(), answer }
    }

    /// Streams rising cumulative amounts for `jobs`, one receipt at a time, round after round, until
    /// `stop`; then sends each job one more receipt until it is acknowledged, so that each job's
    /// highest stored amount is one the gateway acknowledged.
    async fn stream(self, jobs: Vec<JobId>, stop: watch::Receiver<bool>) -> Vec<Post> {
        let mut posts = Vec::new();
        let mut seq = 0;
        while !*stop.borrow() {
            seq += 1;
            for job in &jobs {
                posts.push(self.post(*job, seq).await);
            }
            tokio::time::sleep(PACE).await;
        }
        seq += 1;
        for job in &jobs {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let post = self.post(*job, seq).await;
                let acked = matches!(post.answer, Answer::Acked(_));
                posts.push(post);
                if acked {
                    break;
                }
                assert!(Instant::now() < deadline, "the last receipt of job {job} was never acknowledged");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        posts
    }
}

/// Probes `/readyz` every 100 ms until `stop`.
async fn probe(http: reqwest::Client, base: String, stop: watch::Receiver<bool>) -> Vec<Probe> {
    let mut probes = Vec::new();
    while !*stop.borrow() {
        let sent = Instant::now();
        let status = http.get(format!("{base}/readyz")).send().await.ok().map(|r| r.status().as_u16());
        probes.push(Probe { sent, answered: Instant::now(), status });
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    probes
}

/// The clients and the probe, running.
struct Load {
    stop: watch::Sender<bool>,
    clients: Vec<JoinHandle<Vec<Post>>>,
    probe: JoinHandle<Vec<Probe>>,
}

impl Load {
    fn start(client: &Client, jobs: &[JobId]) -> Self {
        let (stop, stopped) = watch::channel(false);
        let clients = jobs
            .chunks(JOBS_PER_CLIENT)
            .map(|own| tokio::spawn(client.clone().stream(own.to_vec(), stopped.clone())))
            .collect();
        let probe = tokio::spawn(probe(client.http.clone(), client.base.clone(), stopped));
        Self { stop, clients, probe }
    }

    async fn finish(self) -> (Vec<Post>, Vec<Probe>) {
        self.stop.send_replace(true);
        let mut posts = Vec::new();
        for client in self.clients {
            posts.extend(client.await.unwrap());
        }
        (posts, self.probe.await.unwrap())
    }
}

/// When the dependency was down: from the moment it had stopped to the moment it was being started.
#[derive(Debug, Clone, Copy)]
struct Outage {
    /// Stopping began.
    stopping: Instant,
    /// It had stopped.
    down: Instant,
    /// Starting it again began.
    starting: Instant,
    /// It was running again.
    up: Instant,
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Checks the answers against the outage and prints the figures: no answer but 2xx and 503, none
/// timed out; every request sent and answered while the dependency was down got 503, and so did
/// `/readyz`; a receipt sent after it came back was acknowledged within [`RECOVER_WITHIN`]. Returns
/// the acknowledged receipts.
fn check_answers(what: &str, outage: Outage, posts: &[Post], probes: &[Probe]) -> Vec<Post> {
    let acked: Vec<Post> = posts.iter().filter(|p| matches!(p.answer, Answer::Acked(_))).cloned().collect();
    let unavailable: Vec<&Post> = posts.iter().filter(|p| p.answer == Answer::Status(503)).collect();
    let others: Vec<&Post> =
        posts.iter().filter(|p| !matches!(p.answer, Answer::Acked(_) | Answer::Status(503))).collect();
    let while_down = |sent: Instant, answered: Instant| sent >= outage.down && answered <= outage.starting;
    let down_posts: Vec<&Post> = posts.iter().filter(|p| while_down(p.sent, p.answered)).collect();
    let down_probes: Vec<&Probe> = probes.iter().filter(|p| while_down(p.sent, p.answered)).collect();
    let slowest_503 = unavailable.iter().map(|p| p.answered - p.sent).max().unwrap_or_default();
    let first_503 = unavailable.iter().map(|p| p.answered).min();
    let last_503 = unavailable.iter().map(|p| p.answered).max();
    let recovered = acked.iter().filter(|p| p.sent >= outage.up).map(|p| p.answered).min();
    let ready_again = probes.iter().filter(|p| p.sent >= outage.up && p.status == Some(200)).map(|p| p.answered).min();
    let acked_while_down = acked.iter().filter(|p| p.sent >= outage.down && p.sent < outage.starting).count();

    eprintln!(
        "[{what}] receipts sent {}, acknowledged {}, 503 {}, other {}",
        posts.len(),
        acked.len(),
        unavailable.len(),
        others.len()
    );
    eprintln!(
        "[{what}] stopping took {} ms, down for {} ms, starting took {} ms",
        ms(outage.down - outage.stopping),
        ms(outage.starting - outage.down),
        ms(outage.up - outage.starting)
    );
    if let (Some(first), Some(last)) = (first_503, last_503) {
        eprintln!(
            "[{what}] 503s answered from {} ms after stopping began to {} ms after it was back ({} ms in all); \
             slowest 503 {} ms; {} requests sent and answered while down, {} of them 503; /readyz probed {} times \
             while down, {} of them 503",
            ms(first.saturating_duration_since(outage.stopping)),
            ms(last.saturating_duration_since(outage.up)),
            ms(last - first),
            ms(slowest_503),
            down_posts.len(),
            down_posts.iter().filter(|p| p.answer == Answer::Status(503)).count(),
            down_probes.len(),
            down_probes.iter().filter(|p| p.status == Some(503)).count(),
        );
    }
    eprintln!(
        "[{what}] acknowledged again {} ms after it was back (/readyz 200 after {} ms); {} receipts sent while \
         down were acknowledged once it was back",
        recovered.map_or(u128::MAX, |t| ms(t - outage.up)),
        ready_again.map_or(u128::MAX, |t| ms(t - outage.up)),
        acked_while_down,
    );

    assert!(others.is_empty(), "only 2xx and 503 answers: {:?}", &others[..others.len().min(5)]);
    assert!(slowest_503 <= UNAVAILABLE_WITHIN, "503s answered within {UNAVAILABLE_WITHIN:?}: {slowest_503:?}");
    assert!(!down_posts.is_empty(), "requests were sent and answered while {what} was down");
    assert!(
        down_posts.iter().all(|p| p.answer == Answer::Status(503)),
        "every request answered while {what} was down got 503: {:?}",
        down_posts.iter().filter(|p| p.answer != Answer::Status(503)).take(5).collect::<Vec<_>>()
    );
    assert!(!down_probes.is_empty(), "/readyz was probed while {what} was down");
    assert!(down_probes.iter().all(|p| p.status == Some(503)), "/readyz answered 503 while {what} was down");
    let recovered = recovered.expect("receipts acknowledged after the outage");
    assert!(recovered - outage.up <= RECOVER_WITHIN, "recovered {:?} after {what} was back", recovered - outage.up);
    assert!(ready_again.is_some(), "/readyz answered 200 again");
    assert!(acked.len() > 100, "most receipts acknowledged: {}", acked.len());
    acked
}

/// Every acknowledged receipt is stored as sent (job, amount, sequence, provider), under the id it
/// was acknowledged with.
async fn check_stored(pool: &PgPool, acked: &[Post], provider: AccountId) {
    let rows: Vec<(i64, String, String, String, Vec<u8>)> =
        sqlx::query_as("SELECT id, job_id::text, amount::text, sequence::text, provider FROM receipts")
            .fetch_all(pool)
            .await
            .unwrap();
    let stored: HashMap<i64, (String, String, String, Vec<u8>)> =
        rows.into_iter().map(|(id, job, amount, seq, p)| (id, (job, amount, seq, p))).collect();
    for p in acked {
        let Answer::Acked(id) = p.answer else { unreachable!() };
        let expected = (p.job.to_string(), p.amount.to_string(), p.seq.to_string(), provider.to_vec());
        assert_eq!(stored.get(&id), Some(&expected), "acknowledged receipt {id} stored as sent");
    }
    eprintln!("stored receipts {}, every one of the {} acknowledged among them", stored.len(), acked.len());
}

/// The chain converges (within 90 s) on exactly each job's highest acknowledged cumulative amount,
/// paid once: the lane, the job's released total, and the provider's balance (the sum of the net
/// splits); and no submission is left open. Returns how long convergence took.
async fn check_settled(escrow: &Escrow, pool: &PgPool, acked: &[Post], provider: AccountId) -> Duration {
    let mut highest: HashMap<JobId, u128> = HashMap::new();
    for p in acked {
        let h = highest.entry(p.job).or_default();
        *h = (*h).max(p.amount);
    }
    let started = Instant::now();
    loop {
        let mut settled = true;
        for (job, amount) in &highest {
            settled &= escrow.lane(*job, provider).await.is_ok_and(|lane| lane.amount == *amount);
        }
        if settled {
            break;
        }
        if started.elapsed() > Duration::from_secs(90) {
            diagnose(escrow, pool, &highest, provider).await;
            panic!("settlement did not converge");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let converged = started.elapsed();
    let mut expected_net = 0;
    for (job, amount) in &highest {
        assert_eq!(escrow.job(*job).await.unwrap().unwrap().released, *amount, "job {job} paid exactly once");
        expected_net += settlement::fee::split(*amount, 500).net;
    }
    assert_eq!(escrow.balance_of(provider).await.unwrap(), expected_net, "the provider paid once");
    no_open_submissions(pool, Duration::from_secs(30)).await;
    eprintln!("settled: {} jobs converged {} ms after the stream ended", highest.len(), ms(converged));
    converged
}

/// What a failing convergence leaves behind: the chain's heads and lanes, the last submissions.
async fn diagnose(escrow: &Escrow, pool: &PgPool, highest: &HashMap<JobId, u128>, provider: AccountId) {
    let chain = escrow.chain();
    let best = chain.rpc().chain_get_header(None).await.map(|h| h.map(|h| h.number));
    eprintln!("finalized head {:?}, best {best:?}", chain.finalized_head().await.map(|h| h.0));
    for (job, amount) in highest {
        eprintln!(
            "job {job}: highest acknowledged {amount}, lane {:?}",
            escrow.lane(*job, provider).await.map(|l| l.amount)
        );
    }
    let rows: Vec<(i64, String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT id, status, dead_from::text, error FROM submissions ORDER BY id DESC LIMIT 8")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    for row in rows {
        eprintln!("submission {row:?}");
    }
}

/// A market with a staked provider, the relayer funded, and `CLIENTS * JOBS_PER_CLIENT` open jobs.
async fn market(chain: &Chain) -> (Arc<Market>, AccountId, Vec<JobId>) {
    let m = deploy(chain).await.unwrap();
    let provider = funded(chain, "//FaultProvider", 1_000 * UNIT).await.unwrap();
    m.escrow.stake(&provider, m.min_stake).await.unwrap();
    let consumer = funded(chain, "//FaultConsumer", 10_000 * UNIT).await.unwrap();
    funded(chain, "//Relayer", 100 * UNIT).await.unwrap();
    let jobs = open_jobs(&m, &consumer, &provider, CLIENTS * JOBS_PER_CLIENT).await;
    (Arc::new(m), account_of(&provider), jobs)
}

fn client(base: &str, market: &Arc<Market>, provider: AccountId) -> Client {
    let http = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap();
    Client { http, base: base.into(), market: market.clone(), provider }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_while_receipts_stream() {
    let test_started = Instant::now();
    let mut pg = PgCluster::init().await.unwrap();
    pg.create_database("gateway").await.unwrap();
    let db_url = pg.url("gateway");
    let (node, chain) = DevNode::start().await.unwrap();
    let (m, provider, jobs) = market(&chain).await;

    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let gateway = Gateway::start(&listen, &db_url, &node.url, &to_hex(&m.escrow.address()), &[]);
    let client = client(&base, &m, provider);
    wait_ready(&client.http, &base).await;
    eprintln!("[postgres] set up in {} ms", ms(test_started.elapsed()));

    let streaming = Instant::now();
    let load = Load::start(&client, &jobs);
    tokio::time::sleep(STREAM_BEFORE).await;
    let stopping = Instant::now();
    pg.stop().await.unwrap();
    let down = Instant::now();
    tokio::time::sleep(DOWN_FOR).await;
    let starting = Instant::now();
    pg.start().await.unwrap();
    let outage = Outage { stopping, down, starting, up: Instant::now() };
    tokio::time::sleep(STREAM_AFTER).await;
    let (posts, probes) = load.finish().await;
    eprintln!("[postgres] streamed for {} ms", ms(streaming.elapsed()));

    let acked = check_answers("postgres", outage, &posts, &probes);
    let pool = PgPool::connect(&db_url).await.unwrap();
    check_stored(&pool, &acked, provider).await;
    check_settled(&m.escrow, &pool, &acked, provider).await;
    assert_eq!(
        std::process::Command::new("kill").arg("-0").arg(gateway.pid().to_string()).status().unwrap().code(),
        Some(0),
        "the same gateway process throughout"
    );
    drop(gateway);
    eprintln!("[postgres] test took {} ms", ms(test_started.elapsed()));
}

/// A directory removed when dropped (the node's chain, whether the test passes or not).
struct Removed(std::path::PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Has the node seal a block every `every` until `stop` ([`seal`]: a live chain makes blocks whether
/// or not there are transactions, the dev node only one per transaction), through the node's
/// restart. Returns how many it sealed.
fn blocks(chain: Chain, every: Duration, stop: watch::Receiver<bool>) -> JoinHandle<usize> {
    tokio::spawn(async move {
        let mut sealed = 0;
        while !*stop.borrow() {
            sealed += usize::from(seal(&chain).await.is_ok());
            tokio::time::sleep(every).await;
        }
        sealed
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_restarted_while_receipts_stream() {
    let test_started = Instant::now();
    let pg = PgCluster::init().await.unwrap();
    pg.create_database("gateway").await.unwrap();
    let db_url = pg.url("gateway");
    let base_path =
        Removed(std::env::temp_dir().join(format!("escrow-node-{}", String::from_utf8(unique_salt()).unwrap())));
    let (mut node, chain) = DevNode::start_in(&base_path.0).await.unwrap();
    let (m, provider, jobs) = market(&chain).await;
    // From here on the node finalizes each block seconds after sealing it, as a live chain does.
    node.set_finalize_delay(Some(FINALIZE_DELAY_SEC));
    let chain = node.restart().await.unwrap();
    let (sealing, sealing_stop) = watch::channel(false);
    let sealer = blocks(chain, Duration::from_secs(1), sealing_stop);

    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let gateway = Gateway::start(&listen, &db_url, &node.url, &to_hex(&m.escrow.address()), &[]);
    let client = client(&base, &m, provider);
    wait_ready(&client.http, &base).await;
    eprintln!("[node] set up in {} ms", ms(test_started.elapsed()));

    let streaming = Instant::now();
    let load = Load::start(&client, &jobs);
    tokio::time::sleep(STREAM_BEFORE).await;
    let stopping = Instant::now();
    tokio::task::block_in_place(|| node.stop());
    let down = Instant::now();
    tokio::time::sleep(DOWN_FOR).await;
    let starting = Instant::now();
    let chain = node.start_again().await.unwrap();
    let outage = Outage { stopping, down, starting, up: Instant::now() };
    tokio::time::sleep(STREAM_AFTER).await;
    let (posts, probes) = load.finish().await;
    eprintln!("[node] streamed for {} ms", ms(streaming.elapsed()));

    let acked = check_answers("node", outage, &posts, &probes);
    let pool = PgPool::connect(&db_url).await.unwrap();
    check_stored(&pool, &acked, provider).await;
    let escrow = Escrow::at(&chain, escrow_bundle().unwrap(), m.escrow.address());
    check_settled(&escrow, &pool, &acked, provider).await;
    assert_eq!(
        std::process::Command::new("kill").arg("-0").arg(gateway.pid().to_string()).status().unwrap().code(),
        Some(0),
        "the same gateway process throughout"
    );
    sealing.send_replace(true);
    eprintln!("[node] {} blocks sealed besides the releases", sealer.await.unwrap());
    drop(gateway);
    drop(node);
    drop(base_path);
    eprintln!("[node] test took {} ms", ms(test_started.elapsed()));
}
