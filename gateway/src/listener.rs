//! The TCP listener the gateway serves on, bounded so that connections cannot pile up: at most
//! `max_connections` are open at once (more wait in the kernel's backlog), at most
//! `client_max_connections` per client address ([`crate::limits::prefix_of`]; more are closed as soon as
//! they are accepted), and a connection that sends nothing, or reads nothing of its answer, for
//! `connection_idle_ms` is closed (a silent or slow client cannot hold one forever). The idle time must
//! exceed the request timeout, so that no answer in progress is cut.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;

use crate::limits::prefix_of;

/// How the listener is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// Connections open at once, all clients together.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub client_max_connections: u32,
    /// A connection idle this long (nothing read from it, or nothing of a pending answer written) is
    /// closed.
    pub idle: Duration,
    /// Proxies in front of the gateway: their connections carry many clients, so the per-client cap
    /// does not apply to them.
    pub trusted_proxies: Vec<IpAddr>,
}

type Open = Arc<Mutex<HashMap<IpAddr, u32>>>;

/// A listener bounded by [`Bounds`].
pub struct Bounded {
    inner: TcpListener,
    bounds: Bounds,
    all: Arc<Semaphore>,
    open: Open,
}

impl Bounded {
    /// Bounds `inner`.
    #[must_use]
    pub fn new(inner: TcpListener, bounds: Bounds) -> Self {
        let all = Arc::new(Semaphore::new(bounds.max_connections));
        Self { inner, bounds, all, open: Open::default() }
    }

    /// Connections open now, by client address (for tests).
    #[must_use]
    pub fn open_by_client(&self) -> HashMap<IpAddr, u32> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// An accepted connection: its stream (with the idle timeouts) and the places it holds, given back when
/// it is dropped.
pub struct Connection {
    stream: Pin<Box<TimeoutStream<TcpStream>>>,
    _permit: OwnedSemaphorePermit,
    client: IpAddr,
    open: Open,
}

impl Connection {
    /// The TCP stream.
    #[must_use]
    pub fn tcp(&self) -> &TcpStream {
        self.stream.get_ref()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.client);
            }
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.stream.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.as_mut().poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream.as_mut().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl Listener for Bounded {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // Never closed, so the permit always comes (waiting while every place is taken).
            let Ok(permit) = self.all.clone().acquire_owned().await else { continue };
            let (tcp, addr) = Listener::accept(&mut self.inner).await;
            let client = prefix_of(addr.ip());
            {
                let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
                let n = open.entry(client).or_insert(0);
                if *n >= self.bounds.client_max_connections && !self.bounds.trusted_proxies.contains(&client) {
                    tracing::debug!(%client, "connection refused: the client has as many open as it may");
                    continue;
                }
                *n = n.saturating_add(1);
            }
            let _ = tcp.set_nodelay(true);
            let mut stream = TimeoutStream::new(tcp);
            stream.set_read_timeout(Some(self.bounds.idle));
            stream.set_write_timeout(Some(self.bounds.idle));
            let connection = Connection { stream: Box::pin(stream), _permit: permit, client, open: self.open.clone() };
            return (connection, addr);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
