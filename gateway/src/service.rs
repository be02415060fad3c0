//! Running the gateway: the receipt API, the job-view follower and (with a relayer key) the settlement
//! loop side by side, until shutdown. The binary only loads the configuration and calls [`serve`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use escrow_client::accounts::{account, keypair, ss58};
use escrow_client::{Bundle, Chain, Escrow};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::settle::Settler;
use crate::AppState;

/// Runs the gateway with `config` until `shutdown` resolves: serves requests, follows finalized blocks
/// for the job views, and releases accepted receipts when a relayer key is configured. Refuses to start
/// when its margins do not fit the escrow's timing ([`Config::check_timing`]). On shutdown the
/// server stops taking requests, the settlement loop finishes its tick, and then this returns.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    let contract = account(&config.contract).map_err(|e| Error::Config(format!("contract: {e}")))?;
    let bundle = Arc::new(Bundle::load(&config.bundle).map_err(|e| Error::Config(format!("bundle: {e}")))?);
    // The secret stays out of the error: a bad key is reported without echoing it.
    let relayer = config
        .relayer()?
        .map(|secret| keypair(&secret.0).map_err(|_| Error::Config("the relayer key is not a valid secret URI".into())))
        .transpose()?;
    let db = crate::store::Store::connect(&config.database_url, config.database_max_connections).await?;
    let chain = Chain::connect(&config.node_url).await?;
    let escrow = Escrow::at(&chain, bundle, contract);
    config.check_timing(&escrow.config().await?.timing)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(listen = %addr, contract = %ss58(escrow.address()), "gateway ready");

    let state = AppState::new(config, db, escrow);
    let follower = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(state.views.clone().follow()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let settler = match relayer {
        Some(signer) => {
            let settler = Settler::new(
                state.db.clone(),
                state.escrow.clone(),
                state.views.clone(),
                signer,
                state.config.settle_policy(),
                state.metrics.clone(),
            );
            let cadence = crate::settle::Cadence {
                interval: Duration::from_millis(state.config.settle_interval_ms),
                tick_timeout: Duration::from_millis(state.config.settle_tick_timeout_ms),
                min_relayer_balance: state.config.relayer_min_balance.0,
            };
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(settler.run(cadence, async move {
                let _ = stop.wait_for(|s| *s).await;
            })))
        }
        None => {
            tracing::warn!("no relayer key configured: receipts are accepted but not released");
            None
        }
    };
    let mut stop = stop_rx.clone();
    let compaction = tokio::spawn(crate::retention::run(
        state.db.clone(),
        state.metrics.clone(),
        state.config.retention(),
        Duration::from_secs(state.config.retention_interval_s),
        async move {
            let _ = stop.wait_for(|s| *s).await;
        },
    ));
    let limits = state.limits.clone();
    let _forget = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            limits.forget_idle();
        }
    }));
    // Clients are told apart by their address ([`crate::limits`]); connections are bounded
    // ([`crate::listener`]), and so is the time a request's head takes ([`crate::server`]).
    let listener = crate::listener::Bounded::new(listener, state.config.listener_bounds());
    let header_timeout = state.config.header_timeout();
    crate::server::serve(listener, crate::app(state), header_timeout, shutdown).await;
    let _ = stop_tx.send(true);
    if let Some(settler) = settler {
        let _ = settler.await;
    }
    let _ = compaction.await;
    drop(follower);
    Ok(())
}
