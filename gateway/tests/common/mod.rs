//! Shared by the gateway's integration tests: a dev node with the escrow deployed, a staked provider,
//! a consumer with one open job, and the gateway's router over a fresh database.
#![allow(dead_code, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use escrow_client::{account_of, AccountId, Keypair};
use gateway::wire::SignedReceiptJson;
use gateway::{app, AppState, Config};
use http_body_util::BodyExt;
use serde_json::Value;
use settlement::{JobId, OpenJob, Receipt};
use sqlx::PgPool;
use testkit::*;
use tower::ServiceExt;

pub struct Harness {
    pub _node: DevNode,
    pub market: Market,
    pub app: Router,
    pub state: AppState,
    pub pool: PgPool,
    pub provider: Keypair,
    pub consumer: Keypair,
    pub job: JobId,
}

pub const DEPOSIT: u128 = 100 * UNIT;

pub async fn harness(pool: PgPool) -> Harness {
    harness_with(pool, |config| config).await
}

/// A harness whose gateway runs with the configuration `adjust` makes of the usual one.
pub async fn harness_with(pool: PgPool, adjust: impl FnOnce(Config) -> Config) -> Harness {
    let (node, chain) = DevNode::start().await.unwrap();
    let market = deploy(&chain).await.unwrap();
    let provider = funded(&chain, "//GwProvider", 1_000 * UNIT).await.unwrap();
    market.escrow.stake(&provider, market.min_stake).await.unwrap();
    let consumer = funded(&chain, "//GwConsumer", 1_000 * UNIT).await.unwrap();
    let job = open(&market, &consumer, &provider, 1).await;
    let config = adjust(Config { max_batch: 50, max_body_bytes: 64 * 1024, ..Config::default() });
    let state = AppState::new(config, gateway::store::Store::from_pool(pool.clone()), market.escrow.clone());
    // Requests use kept job views, as in `escrow serve`.
    tokio::spawn(state.views.clone().follow());
    tokio::time::timeout(std::time::Duration::from_secs(30), state.views.following()).await.unwrap();
    Harness { _node: node, market, app: app(state.clone()), state, pool, provider, consumer, job }
}

pub async fn open(m: &Market, consumer: &Keypair, provider: &Keypair, payer_seed: u8) -> JobId {
    let req = OpenJob {
        providers: vec![(account_of(provider), DEPOSIT)],
        payer_key: payer(payer_seed).verifying_key().to_bytes(),
        terms_hash: [0; 32],
        expires_at: now_ms() + 600_000,
    };
    let job = m.escrow.open_job(consumer, DEPOSIT, &req).await.unwrap().value;
    accept_all(m, job, &[provider]).await.unwrap();
    job
}

impl Harness {
    /// A settlement loop over this harness's store, node and views, submitting as `//Relayer`.
    pub fn settler(&self, policy: gateway::settle::Policy) -> gateway::settle::Settler {
        gateway::settle::Settler::new(
            self.state.db.clone(),
            self.state.escrow.clone(),
            self.state.views.clone(),
            keypair("//Relayer"),
            policy,
            self.state.metrics.clone(),
        )
    }

    pub fn signed(&self, amount: u128, sequence: u64) -> (Receipt<AccountId>, [u8; 64]) {
        signed_receipt(&self.market, &payer(1), self.job, account_of(&self.provider), amount, sequence)
    }

    pub fn json(&self, amount: u128, sequence: u64) -> Value {
        let (r, s) = self.signed(amount, sequence);
        serde_json::to_value(SignedReceiptJson::from_signed(&r, &s)).unwrap()
    }

    pub async fn request(&self, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, Value, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), text)
    }

    pub async fn post(&self, body: &Value) -> (StatusCode, Value) {
        let (s, v, _) = self.request("POST", "/v1/receipts", serde_json::to_vec(body).unwrap()).await;
        (s, v)
    }

    /// Everything in the accepted set, as text, for before/after comparisons.
    pub async fn accepted_set(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT format('%s|%s|%s|%s', r.id, r.amount, r.sequence, l.receipt_id) \
             FROM receipts r LEFT JOIN lanes l ON l.receipt_id = r.id ORDER BY r.id",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// Refusals counted in the refusal log (written now).
    pub async fn rejected_count(&self) -> i64 {
        self.state.refusals.flush(&self.state.db).await.unwrap();
        sqlx::query_scalar("SELECT coalesce(sum(refused), 0)::int8 FROM refusal_counts")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}
