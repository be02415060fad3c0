//! Running the indexer: the follower and the auditor API side by side (each with its own Postgres pool;
//! the API behind [`crate::admission`]), until shutdown or a fatal
//! disagreement (which stops both and is returned).

use std::future::Future;
use std::sync::Arc;

use escrow_client::accounts::ss58;
use escrow_client::Bundle;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::follow::Follower;
use crate::metrics::Metrics;
use crate::store::Db;
use crate::AppState;

/// Runs the indexer with `config` until `shutdown` resolves.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    let contract = config.contract_id()?;
    let bundle = Arc::new(Bundle::load(&config.bundle).map_err(|e| Error::Config(e.to_string()))?);
    let db = Db::connect(&config.database_url, config.database_max_connections).await?;
    // The API's own pool and admission: no load on it can take the follower's connections or time.
    let api_db = Db::connect_api(
        config.database_url.parse()?,
        config.api_max_connections,
        std::time::Duration::from_millis(config.api_statement_timeout_ms),
    )
    .await?;
    let bounds = config.api_bounds();
    let metrics = Metrics::new();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Config(format!("listen {}: {e}", config.listen)))?;
    let addr = listener.local_addr().map_err(|e| Error::Config(e.to_string()))?;
    tracing::info!(listen = %addr, contract = %ss58(contract), "indexer API ready");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let follower = Follower::new(Arc::new(config), db.clone(), bundle, contract, metrics.clone());
    let mut following = tokio::spawn(async move { follower.run(stop_rx).await });
    let app = crate::admission::bounded(crate::app(AppState { db: api_db, metrics }), bounds);
    let (server_stop_tx, server_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stop_rx.await;
            })
            .await
    });
    let outcome = tokio::select! {
        () = shutdown => {
            let _ = stop_tx.send(true);
            following.await
        }
        done = &mut following => done,
    };
    let _ = server_stop_tx.send(());
    let _ = server.await;
    match outcome {
        Ok(result) => result,
        Err(e) => Err(Error::Fatal(format!("the follower panicked: {e}"))),
    }
}
