//! What the gateway's benches share: a dev node with the escrow deployed, jobs naming every provider
//! (each staked and accepted), a private database on `$DATABASE_URL`'s server, and the gateway served
//! over loopback TCP in the bench process.
#![allow(dead_code, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use escrow_client::{account_of, AccountId};
use gateway::{app, AppState, Config};
use settlement::{JobId, OpenJob};
use testkit::*;

/// Providers per job (the most a job may name).
pub const PROVIDERS: usize = settlement::MAX_PROVIDERS;

/// A market to load: the node, the escrow, the payer key of every job, the lanes (job, provider), and
/// the bench's own database.
pub struct Bench {
    /// The dev node.
    pub node: DevNode,
    /// The escrow and its accounts.
    pub market: Market,
    /// The consumer's payer key (every job's).
    pub key: ed25519_dalek::SigningKey,
    /// Every (job, provider), job by job.
    pub lanes: Vec<(JobId, AccountId)>,
    admin: sqlx::PgPool,
    db_name: String,
    db_url: String,
}

impl Bench {
    /// `jobs` jobs of [`PROVIDERS`] providers each (2,000 units allocated per lane, open for 30 min),
    /// accepted by all, and a fresh database.
    pub async fn setup(jobs: usize) -> TestResult<Self> {
        let admin_url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL unset: run the bench's script")?;
        let (node, chain) = DevNode::start().await?;
        let market = deploy(&chain).await?;
        let mut providers = Vec::new();
        for p in 0..PROVIDERS {
            let provider = funded(&chain, &format!("//BenchProvider{p}"), 1_000 * UNIT).await?;
            market.escrow.stake(&provider, market.min_stake).await?;
            providers.push(provider);
        }
        let consumer = funded(&chain, "//BenchConsumer", 1_000_000 * UNIT).await?;
        let key = payer(11);
        let mut ids = Vec::new();
        for _ in 0..jobs {
            let req = OpenJob {
                providers: providers.iter().map(|p| (account_of(p), 2_000 * UNIT)).collect(),
                payer_key: key.verifying_key().to_bytes(),
                terms_hash: [0; 32],
                expires_at: now_ms() + 1_800_000,
            };
            ids.push(market.escrow.open_job(&consumer, 8_000 * UNIT, &req).await?.value);
        }
        // Each provider accepts its jobs in turn, the providers side by side.
        let accepting = providers.iter().map(|p| {
            let (market, ids) = (&market, &ids);
            async move {
                for job in ids {
                    market.escrow.accept_job(p, *job, 0, u128::MAX).await?;
                }
                TestResult::Ok(())
            }
        });
        futures::future::try_join_all(accepting).await?;
        let lanes = ids.iter().flat_map(|job| providers.iter().map(move |p| (*job, account_of(p)))).collect();

        let admin = sqlx::PgPool::connect(&admin_url).await?;
        let db_name = format!("gateway_bench_{}", std::process::id());
        sqlx::query(&format!("CREATE DATABASE {db_name}")).execute(&admin).await?;
        let (server, _) = admin_url.rsplit_once('/').ok_or("DATABASE_URL without a database")?;
        let db_url = format!("{server}/{db_name}");
        Ok(Self { node, market, key, lanes, admin, db_name, db_url })
    }

    /// The gateway on `config`, served on a loopback port, its job-view follower running: its base URL,
    /// its state and the server's task.
    pub async fn serve(&self, config: Config) -> TestResult<(String, AppState, tokio::task::JoinHandle<()>)> {
        let db = gateway::store::Store::connect(&self.db_url, 16).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = AppState::new(config, db, self.market.escrow.clone());
        tokio::spawn(state.views.clone().follow());
        state.views.following().await;
        // Clients are told apart by their address, as in `escrow serve`.
        let router = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok((base, state, server))
    }

    /// The bench's database.
    #[must_use]
    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    /// Drops the bench's database.
    pub async fn finish(self) -> TestResult {
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.db_name)).execute(&self.admin).await?;
        Ok(())
    }
}
