//! The hammering clients: one keep-alive reqwest client each (reading every body to its last byte,
//! so a cut stream is an error) and the mix of requests, each list at its largest
//! page with random cursors and periods.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use escrow_client::accounts::ss58;
use escrow_client::AccountId;
use indexer::page::{encode, EventKey, JobKey, LineKey, ProviderKey, SeriesKey};
use sqlx::PgPool;

use super::history::Rng;
use super::Filled;

/// One keep-alive connection (a client whose pool keeps one), reading every body to its last byte.
pub struct Conn {
    base: String,
    client: reqwest::Client,
}

impl Conn {
    /// A client of `addr` (connects on first use).
    pub fn new(addr: SocketAddr) -> Self {
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap_or_default();
        Self { base: format!("http://{addr}"), client }
    }

    /// `GET path`: the status, the body's length and, for an error answer, its `code`.
    pub async fn get(&mut self, path: &str) -> reqwest::Result<(u16, u64, Option<String>)> {
        let mut answer = self.client.get(format!("{}{path}", self.base)).send().await?;
        let status = answer.status().as_u16();
        if status != 200 {
            let body: serde_json::Value = answer.json().await.unwrap_or_default();
            return Ok((status, 0, body["code"].as_str().map(str::to_string)));
        }
        let mut bytes = 0u64;
        while let Some(chunk) = answer.chunk().await? {
            bytes += chunk.len() as u64;
        }
        Ok((status, bytes, None))
    }
}

/// The endpoint classes: name, what, weight.
pub const CLASSES: [(&str, &str, u64); 13] = [
    ("status", "/v1/status", 2),
    ("dashboard", "/, the page", 1),
    ("jobs", "/v1/jobs, books per job", 2),
    ("releases", "/v1/releases", 2),
    ("providers", "/v1/providers", 2),
    ("fees", "/v1/treasury/fees, all time or a period", 1),
    ("job history", "/v1/jobs/{id}/history", 3),
    ("payouts", "/v1/providers/{a}/payouts", 3),
    ("statement", "JSON, treasury / busy / random accounts", 3),
    ("statement CSV, period", "CSV of 1 to 10 % of the history", 2),
    ("statement CSV, all", "CSV of the whole history", 1),
    ("market series", "/v1/market/series, the dashboard's charts", 2),
    ("jobs searched", "/v1/jobs?consumer= or ?provider=", 2),
];

/// The CSV classes' indices: CSV statements are capped at one client in 8 at once, whole-history
/// ones at one in 16 (or a few exports, running for minutes, would soon hold every client).
const CSV_PERIOD: usize = 9;
const CSV_ALL: usize = 10;

/// A request's answer: the HTTP status, or these.
pub const FAILED: u16 = 0;
/// See [`FAILED`]: the client stopped waiting (the drain's cap).
pub const GAVE_UP: u16 = 1;

/// What the clients ask about.
pub struct Targets {
    addr: SocketAddr,
    first_ts: u64,
    block_ms: u64,
    last_block: u64,
    jobs: Vec<(u64, u64, u64)>,
    providers: Vec<AccountId>,
    consumers: Vec<AccountId>,
    treasury: AccountId,
    csv: AtomicUsize,
    csv_all: AtomicUsize,
    csv_max: usize,
    csv_all_max: usize,
}

impl Targets {
    /// The targets in `filled`'s history, served at `addr` to `clients` clients.
    pub fn new(addr: SocketAddr, filled: &Filled, treasury: AccountId, clients: usize) -> Self {
        Self {
            addr,
            first_ts: filled.first_ts,
            block_ms: filled.block_ms,
            last_block: filled.last_block,
            jobs: filled.made.jobs.clone(),
            providers: filled.made.providers.clone(),
            consumers: filled.made.consumers.clone(),
            treasury,
            csv: AtomicUsize::new(0),
            csv_all: AtomicUsize::new(0),
            csv_max: (clients / 8).max(1),
            csv_all_max: (clients / 16).max(1),
        }
    }

    /// Takes a place for a CSV request of `class`, if there is one.
    fn take_csv(&self, class: usize) -> bool {
        if self.csv.fetch_add(1, Ordering::SeqCst) >= self.csv_max {
            self.csv.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        if class == CSV_ALL && self.csv_all.fetch_add(1, Ordering::SeqCst) >= self.csv_all_max {
            self.csv_all.fetch_sub(1, Ordering::SeqCst);
            self.csv.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Gives back the place a request of `class` took.
    fn done(&self, class: usize) {
        if class == CSV_PERIOD || class == CSV_ALL {
            self.csv.fetch_sub(1, Ordering::SeqCst);
        }
        if class == CSV_ALL {
            self.csv_all.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn block(&self, rng: &mut Rng) -> u64 {
        rng.below(self.last_block + 1)
    }

    /// `&from=&to=`: a random period of 1 to 10 % of the history.
    fn period(&self, rng: &mut Rng) -> String {
        let blocks = self.last_block + 1;
        let from = self.first_ts + self.block(rng) * self.block_ms;
        let to = from + (blocks / 100 + rng.below(blocks / 11) + 1) * self.block_ms;
        format!("from={from}&to={to}")
    }

    /// A statement's account: the treasury, the busiest provider, the busiest consumer or anyone.
    fn account(&self, rng: &mut Rng) -> String {
        let a = match rng.below(4) {
            0 => self.treasury,
            1 => self.providers[0],
            2 => self.consumers[0],
            _ if rng.below(2) == 0 => self.providers[rng.below(self.providers.len() as u64) as usize],
            _ => self.consumers[rng.below(self.consumers.len() as u64) as usize],
        };
        ss58(a)
    }

    /// A random request: its class (a CSV class only if there is room for it) and path.
    pub fn request(&self, rng: &mut Rng) -> (u8, String) {
        let total: u64 = CLASSES.iter().map(|c| c.2).sum();
        let class = loop {
            let mut pick = rng.below(total);
            let class = CLASSES
                .iter()
                .position(|c| {
                    if pick < c.2 {
                        true
                    } else {
                        pick -= c.2;
                        false
                    }
                })
                .unwrap_or(0);
            if (class != CSV_PERIOD && class != CSV_ALL) || self.take_csv(class) {
                break class;
            }
        };
        (class as u8, self.path(class, rng))
    }

    /// A random request of `class`.
    pub fn path(&self, class: usize, rng: &mut Rng) -> String {
        let random_cursor = rng.chance(700);
        let path = match class {
            0 => "/v1/status".to_string(),
            1 => "/".to_string(),
            2 => {
                let job = self.jobs[rng.below(self.jobs.len() as u64) as usize].0;
                cursor("/v1/jobs?limit=1000", random_cursor.then(|| encode(&JobKey(job + 1))))
            }
            3 => {
                let key = EventKey { block: self.block(rng), event: 0 };
                cursor("/v1/releases?limit=1000", random_cursor.then(|| encode(&key)))
            }
            4 => {
                let provider = self.providers[rng.below(self.providers.len() as u64) as usize];
                let key = ProviderKey { score: rng.below(1_001) as i64, provider };
                cursor("/v1/providers?limit=1000", random_cursor.then(|| encode(&key)))
            }
            5 => {
                if rng.below(2) == 0 {
                    "/v1/treasury/fees".to_string()
                } else {
                    format!("/v1/treasury/fees?{}", self.period(rng))
                }
            }
            6 => {
                let (job, first, last) = self.jobs[rng.below(self.jobs.len() as u64) as usize];
                let key = EventKey { block: first + rng.below(last - first + 1), event: 0 };
                cursor(&format!("/v1/jobs/{job}/history?limit=1000"), (rng.below(2) == 0).then(|| encode(&key)))
            }
            7 => {
                let provider = if rng.below(2) == 0 {
                    self.providers[rng.below(10) as usize]
                } else {
                    self.providers[rng.below(self.providers.len() as u64) as usize]
                };
                let job = self.jobs[rng.below(self.jobs.len() as u64) as usize].0;
                let path = format!("/v1/providers/{}/payouts?limit=1000", ss58(provider));
                cursor(&path, (rng.below(2) == 0).then(|| encode(&JobKey(job))))
            }
            8 => {
                let mut path = format!("/v1/accounts/{}/statement?limit=1000", self.account(rng));
                if rng.chance(300) {
                    path = format!("{path}&{}", self.period(rng));
                }
                let key = LineKey { event: EventKey { block: self.block(rng), event: 0 }, part: 0 };
                cursor(&path, random_cursor.then(|| encode(&key)))
            }
            9 => format!("/v1/accounts/{}/statement?format=csv&{}", self.account(rng), self.period(rng)),
            10 => format!("/v1/accounts/{}/statement?format=csv", self.account(rng)),
            11 => {
                let bucket = ["minute", "hour", "day"][rng.below(3) as usize];
                let start = self.first_ts + self.block(rng) * self.block_ms;
                cursor(
                    &format!("/v1/market/series?bucket={bucket}&limit=1000"),
                    random_cursor.then(|| encode(&SeriesKey(start as i64))),
                )
            }
            _ => {
                let job = self.jobs[rng.below(self.jobs.len() as u64) as usize].0;
                let path = if rng.below(2) == 0 {
                    let consumer = self.consumers[rng.below(self.consumers.len() as u64) as usize];
                    format!("/v1/jobs?consumer={}&limit=1000", ss58(consumer))
                } else {
                    let provider = self.providers[rng.below(self.providers.len() as u64) as usize];
                    format!("/v1/jobs?provider={}&limit=1000", ss58(provider))
                };
                cursor(&path, random_cursor.then(|| encode(&JobKey(job + 1))))
            }
        };
        path
    }
}

fn cursor(path: &str, cursor: Option<String>) -> String {
    match cursor {
        Some(c) => format!("{path}&cursor={c}"),
        None => path.to_string(),
    }
}

/// One answered (or failed) request.
pub struct Record {
    /// Its class (index in [`CLASSES`]).
    pub class: u8,
    /// To the last byte.
    pub latency: Duration,
    /// HTTP status, or [`FAILED`] (the connection failed, the stream was cut), or [`GAVE_UP`].
    pub status: u16,
    /// Body bytes.
    pub bytes: u64,
    /// An error answer's `code`.
    pub code: Option<String>,
}

/// One client: requests until `until`, the last one given until `cap`.
pub async fn client(id: u64, targets: std::sync::Arc<Targets>, until: Instant, cap: Instant) -> Vec<Record> {
    let mut rng = Rng(0x5ca1e ^ (id << 20));
    let mut conn = Conn::new(targets.addr);
    let mut out = Vec::new();
    while Instant::now() < until {
        let (class, path) = targets.request(&mut rng);
        let started = Instant::now();
        let answer = tokio::time::timeout_at(cap.into(), conn.get(&path)).await;
        targets.done(usize::from(class));
        let (status, bytes, code) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => (FAILED, 0, None),
            Err(_) => {
                conn = Conn::new(targets.addr);
                (GAVE_UP, 0, None)
            }
        };
        out.push(Record { class, latency: started.elapsed(), status, bytes, code });
    }
    out
}

/// One client alone: `per_class` requests of each class in turn (whole-history CSVs: a third of
/// that), each given up to `cap`.
pub async fn alone(targets: &Targets, per_class: usize, cap: Duration) -> Vec<Record> {
    let mut rng = Rng(0xa10e);
    let mut conn = Conn::new(targets.addr);
    let mut out = Vec::new();
    for class in 0..CLASSES.len() {
        let n = if class == CSV_ALL { per_class.div_ceil(3) } else { per_class };
        for _ in 0..n {
            let path = targets.path(class, &mut rng);
            let started = Instant::now();
            let (status, bytes, code) = match tokio::time::timeout(cap, conn.get(&path)).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(_)) => (FAILED, 0, None),
                Err(_) => {
                    conn = Conn::new(targets.addr);
                    (GAVE_UP, 0, None)
                }
            };
            out.push(Record { class: class as u8, latency: started.elapsed(), status, bytes, code });
        }
    }
    out
}

/// The running count of indexed events.
pub async fn events(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let n: Option<i64> = sqlx::query_scalar("SELECT events FROM indexer_state").fetch_optional(pool).await?;
    Ok(n.unwrap_or(0) as u64)
}
