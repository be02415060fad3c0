//! The RPC connection under a [`crate::Chain`]: one WebSocket to the node, opened again by the first
//! call after it closed (the node restarted, the network dropped it), so a long-lived client such as
//! the gateway's recovers by itself once the node is back. While the node cannot be reached a call
//! fails at once instead of waiting for it (at most one connection attempt each [`RETRY_AFTER`], each
//! within [`CONNECT_TIMEOUT`]), so a service can answer that it is unavailable. Calls and
//! subscriptions in flight when the connection closes fail or end with it, as before: a subscriber
//! subscribes again. A new connection must reach the same chain (the same genesis hash): a node that
//! now serves another chain is refused rather than read as if it were the old one.

use std::io::{Error as IoError, ErrorKind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use subxt::ext::subxt_rpcs::client::{
    jsonrpsee_client, JsonrpseeRpcClient, RawRpcFuture, RawRpcSubscription, RawValue, RpcClientT, RpcParams,
};
use subxt::ext::subxt_rpcs::Error as RpcError;

/// The longest one attempt to connect again may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// After a failed attempt, calls fail at once for this long before the next attempt.
pub const RETRY_AFTER: Duration = Duration::from_millis(250);

/// A WebSocket RPC client that connects again when its connection has closed.
pub struct Reconnecting {
    url: String,
    /// Block 0's hash as the node answered it (raw JSON), checked on every new connection.
    genesis: String,
    current: Mutex<Arc<JsonrpseeRpcClient>>,
    /// Held while connecting again; when the last attempt failed.
    reconnecting: tokio::sync::Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unavailable(message: String) -> RpcError {
    RpcError::Client(Box::new(IoError::new(ErrorKind::NotConnected, message)))
}

/// The hash of block 0 as `client`'s node answers it (raw JSON).
async fn genesis_of(client: &JsonrpseeRpcClient) -> Result<String, RpcError> {
    let mut params = RpcParams::new();
    params.push(0u32)?;
    Ok(client.request_raw("chain_getBlockHash", params.build()).await?.get().to_owned())
}

impl Reconnecting {
    /// Connects to the node at `url` (`ws://` or `wss://`).
    pub async fn connect(url: &str) -> Result<Self, RpcError> {
        let client = jsonrpsee_client(url).await?;
        let genesis = genesis_of(&client).await?;
        Ok(Self {
            url: url.to_owned(),
            genesis,
            current: Mutex::new(Arc::new(client)),
            reconnecting: tokio::sync::Mutex::new(None),
        })
    }

    /// The open connection, or a new one if it has closed.
    async fn client(&self) -> Result<Arc<JsonrpseeRpcClient>, RpcError> {
        let current = lock(&self.current).clone();
        if current.is_connected() {
            return Ok(current);
        }
        let mut failed_at = self.reconnecting.lock().await;
        // Another call may have connected again meanwhile.
        let current = lock(&self.current).clone();
        if current.is_connected() {
            return Ok(current);
        }
        match *failed_at {
            Some(at) if at.elapsed() < RETRY_AFTER => {
                return Err(unavailable(format!("the node at {} cannot be reached", self.url)));
            }
            Some(_) => {}
            None => tracing::warn!(url = %self.url, "the connection to the node closed; connecting again"),
        }
        let opened = tokio::time::timeout(CONNECT_TIMEOUT, self.open())
            .await
            .unwrap_or_else(|_| Err(unavailable(format!("connecting to the node at {} timed out", self.url))));
        match opened {
            Ok(client) => {
                let client = Arc::new(client);
                *lock(&self.current) = client.clone();
                *failed_at = None;
                tracing::info!(url = %self.url, "connected to the node again");
                Ok(client)
            }
            Err(e) => {
                *failed_at = Some(Instant::now());
                Err(e)
            }
        }
    }

    /// A new connection, to the same chain.
    async fn open(&self) -> Result<JsonrpseeRpcClient, RpcError> {
        let client = jsonrpsee_client(&self.url).await?;
        let genesis = genesis_of(&client).await?;
        if genesis != self.genesis {
            return Err(unavailable(format!(
                "the node at {} now serves another chain (genesis {genesis}, not {})",
                self.url, self.genesis
            )));
        }
        Ok(client)
    }
}

impl RpcClientT for Reconnecting {
    fn request_raw<'a>(&'a self, method: &'a str, params: Option<Box<RawValue>>) -> RawRpcFuture<'a, Box<RawValue>> {
        Box::pin(async move {
            let client = self.client().await?;
            client.request_raw(method, params).await
        })
    }

    fn subscribe_raw<'a>(
        &'a self,
        sub: &'a str,
        params: Option<Box<RawValue>>,
        unsub: &'a str,
    ) -> RawRpcFuture<'a, RawRpcSubscription> {
        Box::pin(async move {
            let client = self.client().await?;
            client.subscribe_raw(sub, params, unsub).await
        })
    }
}
