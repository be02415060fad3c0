//! Admission: how much of the gateway one client may take, so that no unauthenticated sender can crowd
//! out the others or make the gateway hold more than it bounds. Receipts carry their own signatures, so
//! a client is known only by its address: an IPv4 address or an IPv6 /64 (what one host is usually
//! given), as the connection shows it or, behind a proxy, as the last entry of a configured header the
//! proxy appends (`client_ip_header`).
//!
//! Every request passes [`admit`] before its body is read:
//! - at most `max_in_flight` requests are served at once, all clients together; past that a request is
//!   answered 503 `overloaded` at once (shed, not queued);
//! - at most `client_max_in_flight` per client (429 `too_many_in_flight`);
//! - at most `client_requests_per_second` per client, with bursts of `client_request_burst` (429
//!   `rate_limited`, with `Retry-After`);
//! - each request is answered within `request_timeout_ms` (503 `timeout`; a commit already handed over
//!   may still complete, and a receipt sent again is then answered as a duplicate).
//!
//! A request of receipts is then charged for its body, per KiB, against `client_kib_per_second` with
//! bursts of `client_kib_burst` (at least the largest body), before it is parsed
//! ([`Limits::charge_body`]: parsing is what a large body costs); and once parsed, one unit per receipt
//! against `client_receipts_per_second`, with bursts of `client_receipt_burst` (at least `max_batch`),
//! before any of them is looked up or verified ([`Limits::charge_receipts`]).
//!
//! Verifying a signature is the costliest thing a receipt asks of the gateway, so bad signatures are
//! budgeted apart: each client may send `client_bad_signatures_per_second`, with bursts of
//! `client_bad_signature_burst` ([`Limits::charge_bad_signatures`]). A request's signatures are verified
//! in rounds; once a round takes the client past its budget, the rest of its receipts are refused
//! unverified (`too_many_refusals`), and its requests are turned away at admission until the budget
//! allows that round (429 `too_many_refusals`, with `Retry-After`). A flood of forged receipts thus
//! costs the gateway about one budget per address, while clients whose receipts verify are untouched.
//!
//! Clients are either known (a receipt of theirs was accepted within [`KNOWN_FOR`]) or new. New clients
//! also share one budget between them, charged alongside their own: `new_clients_receipts_per_second`
//! and `new_clients_kib_per_second` (bursts as a client's), so a flood spread over many addresses costs at
//! most that much parsing and verifying, while known clients keep their own budgets. Under such a flood
//! a new honest client may be told to retry (429 `rate_limited`) until its first receipt is accepted.
//!
//! Memory is bounded whatever the number of addresses: clients are kept in `client_slots` slots, by a
//! keyed hash of the address that a sender cannot predict (a fresh random key per process), so two
//! clients rarely share a slot (and then share its budget), and many addresses cannot grow the tables.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, PublicError, Result};
use crate::AppState;

/// What admission allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Requests served at once, all clients together.
    pub max_in_flight: usize,
    /// Requests served at once for one client.
    pub client_max_in_flight: u32,
    /// Requests per second one client may send (0: no limit).
    pub client_requests_per_second: u32,
    /// How many requests a client may send at once above its rate.
    pub client_request_burst: u32,
    /// Receipts per second one client may send (0: no limit).
    pub client_receipts_per_second: u32,
    /// How many receipts a client may send at once above its rate.
    pub client_receipt_burst: u32,
    /// Request body KiB per second one client may send (0: no limit).
    pub client_kib_per_second: u32,
    /// How many KiB a client may send at once above its rate.
    pub client_kib_burst: u32,
    /// Receipts with bad signatures per second one client may send (0: no limit).
    pub client_bad_signatures_per_second: u32,
    /// How many bad signatures a client may send at once above its rate.
    pub client_bad_signature_burst: u32,
    /// Receipts per second all new clients together may send (0: no shared limit); bursts as a client's.
    pub new_clients_receipts_per_second: u32,
    /// Body KiB per second all new clients together may send (0: no shared limit); bursts as a client's.
    pub new_clients_kib_per_second: u32,
    /// The longest a request may take.
    pub request_timeout: Duration,
    /// How many client slots are kept.
    pub client_slots: u64,
    /// The header a trusted proxy appends the client's address to, if the gateway runs behind one.
    pub client_ip_header: Option<HeaderName>,
    /// The proxies whose `client_ip_header` is believed (the header from any other peer is ignored).
    pub trusted_proxies: Vec<IpAddr>,
}

/// A client, by its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(u64);

/// The address a client is known by: IPv4 whole, IPv6 by its /64 (an IPv4-mapped IPv6 address as the
/// IPv4 one).
#[must_use]
pub fn prefix_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// The client's address: the last entry of `header` (what the trusted proxy appended) if it is an
/// address, else the connection's peer; `None` if neither is known.
#[must_use]
pub fn address_of(peer: Option<IpAddr>, header: Option<&str>) -> Option<IpAddr> {
    let forwarded = header.and_then(|h| h.rsplit(',').next()).and_then(|last| last.trim().parse().ok());
    forwarded.or(peer)
}

fn limiter(per_second: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<Client>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Some(RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)))
}

fn shared(per_second: u32, burst: u32) -> Option<DefaultDirectRateLimiter> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Some(RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)))
}

/// How long a client stays known after a receipt of its was accepted.
pub const KNOWN_FOR: Duration = Duration::from_secs(600);

/// The admission state shared by every request.
pub struct Limits {
    settings: Settings,
    hasher: RandomState,
    in_flight: Arc<Semaphore>,
    /// The in-flight places new clients may take: half of them, so known clients always find room.
    new_in_flight: Arc<Semaphore>,
    per_client: Mutex<HashMap<Client, u32>>,
    requests: Option<DefaultKeyedRateLimiter<Client>>,
    receipts: Option<DefaultKeyedRateLimiter<Client>>,
    kib: Option<DefaultKeyedRateLimiter<Client>>,
    bad_signatures: Option<DefaultKeyedRateLimiter<Client>>,
    /// Clients turned away until the given moment (over their bad-signature budget).
    barred: Mutex<HashMap<Client, std::time::Instant>>,
    /// Known clients: when a receipt of theirs was last accepted.
    known: Mutex<HashMap<Client, std::time::Instant>>,
    new_receipts: Option<DefaultDirectRateLimiter>,
    new_kib: Option<DefaultDirectRateLimiter>,
    clock: DefaultClock,
}

/// A request let in: holds its places until dropped.
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    _new_permit: Option<OwnedSemaphorePermit>,
    limits: Arc<Limits>,
    client: Client,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut per_client = self.limits.per_client.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = per_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_client.remove(&self.client);
            }
        }
    }
}

impl Limits {
    /// Admission under `settings`.
    #[must_use]
    pub fn new(settings: Settings) -> Self {
        Self {
            hasher: RandomState::new(),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            new_in_flight: Arc::new(Semaphore::new(settings.max_in_flight.div_ceil(2))),
            per_client: Mutex::default(),
            requests: limiter(settings.client_requests_per_second, settings.client_request_burst),
            receipts: limiter(settings.client_receipts_per_second, settings.client_receipt_burst),
            kib: limiter(settings.client_kib_per_second, settings.client_kib_burst),
            bad_signatures: limiter(settings.client_bad_signatures_per_second, settings.client_bad_signature_burst),
            barred: Mutex::default(),
            known: Mutex::default(),
            new_receipts: shared(settings.new_clients_receipts_per_second, settings.client_receipt_burst),
            new_kib: shared(settings.new_clients_kib_per_second, settings.client_kib_burst),
            clock: DefaultClock::default(),
            settings,
        }
    }

    /// The settings in force.
    #[must_use]
    pub const fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The client a request comes from (connection `peer`, `headers`).
    #[must_use]
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Client {
        let trusted = peer.is_some_and(|p| self.settings.trusted_proxies.contains(&prefix_of(p)));
        // The last line of the header: the one the proxy appended (a client may send its own before it).
        let header = self
            .settings
            .client_ip_header
            .as_ref()
            .filter(|_| trusted)
            .and_then(|name| headers.get_all(name).iter().next_back()?.to_str().ok());
        let address = address_of(peer, header).map(prefix_of);
        Client(self.hasher.hash_one(address).checked_rem(self.settings.client_slots).unwrap_or(0))
    }

    /// Lets a request of `client` in, or says why not.
    pub fn admit(self: &Arc<Self>, client: Client) -> Result<Admitted> {
        let new_permit = if self.is_known(client) {
            None
        } else {
            Some(self.new_in_flight.clone().try_acquire_owned().map_err(|_| Error::Overloaded)?)
        };
        let permit = self.in_flight.clone().try_acquire_owned().map_err(|_| Error::Overloaded)?;
        {
            let mut per_client = self.per_client.lock().unwrap_or_else(PoisonError::into_inner);
            let n = per_client.entry(client).or_insert(0);
            if *n >= self.settings.client_max_in_flight {
                if *n == 0 {
                    per_client.remove(&client);
                }
                return Err(Error::Limited { code: "too_many_in_flight", retry_after: Duration::from_secs(1) });
            }
            *n = n.saturating_add(1);
        }
        let admitted = Admitted { _permit: permit, _new_permit: new_permit, limits: self.clone(), client };
        if let Some(until) = self.barred.lock().unwrap_or_else(PoisonError::into_inner).get(&client) {
            let now = std::time::Instant::now();
            if *until > now {
                return Err(Error::Limited {
                    code: "too_many_refusals",
                    retry_after: until.saturating_duration_since(now),
                });
            }
        }
        if let Some(requests) = &self.requests {
            if let Err(until) = requests.check_key(&client) {
                let retry_after = until.wait_time_from(self.clock.now());
                return Err(Error::Limited { code: "rate_limited", retry_after });
            }
        }
        Ok(admitted)
    }

    /// Charges `client` for `n` receipts, before any is looked at (a new client also to the budget new
    /// clients share).
    pub fn charge_receipts(&self, client: Client, n: usize) -> Result<()> {
        self.charge(self.receipts.as_ref(), client, n)
            .and_then(|()| self.charge_new(self.new_receipts.as_ref(), client, n))
    }

    /// Charges `client` for a body of `bytes`, before it is parsed (per KiB, rounded up; a new client
    /// also to the budget new clients share).
    pub fn charge_body(&self, client: Client, bytes: usize) -> Result<()> {
        let kib = bytes.div_ceil(1_024);
        let too_large = |e| match e {
            Error::BadRequest { .. } => Error::bad_request("body_too_large", "a larger body than this client may send"),
            other => other,
        };
        self.charge(self.kib.as_ref(), client, kib)
            .and_then(|()| self.charge_new(self.new_kib.as_ref(), client, kib))
            .map_err(too_large)
    }

    /// Records that a receipt of `client` was accepted: it is known for [`KNOWN_FOR`].
    pub fn vouch(&self, client: Client) {
        self.known.lock().unwrap_or_else(PoisonError::into_inner).insert(client, std::time::Instant::now());
    }

    /// Whether a receipt of `client` was accepted within [`KNOWN_FOR`].
    #[must_use]
    pub fn is_known(&self, client: Client) -> bool {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&client)
            .is_some_and(|at| at.elapsed() < KNOWN_FOR)
    }

    fn charge_new(&self, limiter: Option<&DefaultDirectRateLimiter>, client: Client, n: usize) -> Result<()> {
        let (Some(limiter), Some(n)) = (limiter, NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX))) else {
            return Ok(());
        };
        if self.is_known(client) {
            return Ok(());
        }
        match limiter.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(until)) => {
                Err(Error::Limited { code: "rate_limited", retry_after: until.wait_time_from(self.clock.now()) })
            }
            Err(_) => {
                Err(Error::bad_request("batch_too_large", "more receipts than this client may ever send at once"))
            }
        }
    }

    /// Charges `client` for `n` receipts whose signatures did not verify. Past its budget, the client is
    /// turned away at admission until the budget would have allowed them (`too_many_refusals`).
    pub fn charge_bad_signatures(&self, client: Client, n: usize) -> Result<()> {
        let Some(limiter) = &self.bad_signatures else { return Ok(()) };
        let Some(n) = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)) else { return Ok(()) };
        let wait = match limiter.check_key_n(&client, n) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(until)) => until.wait_time_from(self.clock.now()),
            // More than a burst at once: barred for as long as the rate takes to allow that many.
            Err(_) => Duration::from_secs_f64(
                f64::from(n.get()) / f64::from(self.settings.client_bad_signatures_per_second.max(1)),
            ),
        };
        // Bars add up: a client over its budget again is barred for this much more.
        let now = std::time::Instant::now();
        let mut barred = self.barred.lock().unwrap_or_else(PoisonError::into_inner);
        let from = barred.get(&client).copied().filter(|until| *until > now).unwrap_or(now);
        let until = from.checked_add(wait).unwrap_or(from);
        barred.insert(client, until);
        Err(Error::Limited { code: "too_many_refusals", retry_after: until.saturating_duration_since(now) })
    }

    /// How long `client` is still barred for going past its bad-signature budget, if it is.
    #[must_use]
    pub fn barred_for(&self, client: Client) -> Option<Duration> {
        let now = std::time::Instant::now();
        let barred = self.barred.lock().unwrap_or_else(PoisonError::into_inner);
        barred.get(&client).filter(|until| **until > now).map(|until| until.saturating_duration_since(now))
    }

    fn charge(&self, limiter: Option<&DefaultKeyedRateLimiter<Client>>, client: Client, n: usize) -> Result<()> {
        let (Some(limiter), Some(n)) = (limiter, NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX))) else {
            return Ok(());
        };
        match limiter.check_key_n(&client, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(until)) => {
                Err(Error::Limited { code: "rate_limited", retry_after: until.wait_time_from(self.clock.now()) })
            }
            Err(_) => {
                Err(Error::bad_request("batch_too_large", "more receipts than this client may ever send at once"))
            }
        }
    }

    /// Forgets the clients whose budgets are full again (called now and then; the slots bound it anyway).
    pub fn forget_idle(&self) {
        for limiter in [&self.requests, &self.receipts, &self.kib, &self.bad_signatures].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = std::time::Instant::now();
        self.barred.lock().unwrap_or_else(PoisonError::into_inner).retain(|_, until| *until > now);
        self.known.lock().unwrap_or_else(PoisonError::into_inner).retain(|_, at| at.elapsed() < KNOWN_FOR);
    }

    /// Clients holding a request now (for tests and metrics).
    #[must_use]
    pub fn clients_in_flight(&self) -> usize {
        self.per_client.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// The middleware every request passes: admission, then the handler within the request timeout. The
/// client is left in the request's extensions for the handler.
pub async fn admit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let limits = &state.limits;
    let client = limits.client(peer, request.headers());
    let admitted = match limits.admit(client) {
        Ok(admitted) => admitted,
        Err(e) => {
            state.metrics.limited.with_label_values(&[e.code()]).inc();
            return e.into_response();
        }
    };
    request.extensions_mut().insert(client);
    let answer = tokio::time::timeout(limits.settings.request_timeout, next.run(request)).await;
    drop(admitted);
    answer.unwrap_or_else(|_| {
        state.metrics.limited.with_label_values(&["timeout"]).inc();
        Error::TimedOut.into_response()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            max_in_flight: 4,
            client_max_in_flight: 2,
            client_requests_per_second: 1,
            client_request_burst: 3,
            client_receipts_per_second: 10,
            client_receipt_burst: 100,
            client_kib_per_second: 1,
            client_kib_burst: 8,
            client_bad_signatures_per_second: 10,
            client_bad_signature_burst: 20,
            new_clients_receipts_per_second: 0,
            new_clients_kib_per_second: 0,
            request_timeout: Duration::from_secs(1),
            client_slots: 1 << 16,
            client_ip_header: None,
            trusted_proxies: Vec::new(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_client_is_its_ipv4_address_or_its_ipv6_64() {
        assert_eq!(prefix_of(ip("10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(prefix_of(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), ip("2001:db8:1:2::"));
        assert_eq!(prefix_of(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
    }

    #[test]
    fn behind_a_proxy_the_last_forwarded_address_counts() {
        let peer = Some(ip("10.0.0.1"));
        assert_eq!(address_of(peer, Some("1.1.1.1, 2.2.2.2")), Some(ip("2.2.2.2")), "what the proxy appended");
        assert_eq!(address_of(peer, Some("garbage")), peer, "not an address: the peer");
        assert_eq!(address_of(peer, None), peer);
        assert_eq!(address_of(None, None), None);
    }

    #[test]
    fn the_forwarded_header_counts_only_from_a_trusted_proxy_and_only_its_last_line() {
        let limits = Limits::new(Settings {
            client_ip_header: Some(HeaderName::from_static("x-forwarded-for")),
            trusted_proxies: vec![ip("10.9.9.9")],
            ..settings()
        });
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "6.6.6.6".parse().unwrap());
        headers.append("x-forwarded-for", "1.2.3.4".parse().unwrap());
        let direct = HeaderMap::new();
        let by_proxy = limits.client(Some(ip("10.9.9.9")), &headers);
        assert_eq!(by_proxy, limits.client(Some(ip("1.2.3.4")), &direct), "the line the proxy appended");
        let spoofed = limits.client(Some(ip("10.0.0.5")), &headers);
        assert_eq!(spoofed, limits.client(Some(ip("10.0.0.5")), &direct), "not believed from anyone else");
    }

    #[test]
    fn clients_are_kept_apart_and_in_their_slots() {
        let limits = Limits::new(Settings { client_slots: 8, ..settings() });
        let none = HeaderMap::new();
        let a = limits.client(Some(ip("10.0.0.1")), &none);
        assert_eq!(a, limits.client(Some(ip("10.0.0.1")), &none), "the same address, the same client");
        let slots: std::collections::HashSet<_> =
            (0..1_000u32).map(|i| limits.client(Some(IpAddr::from(i.to_be_bytes())), &none)).collect();
        assert!(slots.len() <= 8, "bounded by the slots");
        assert!(slots.len() >= 4, "spread over them");
    }

    #[tokio::test]
    async fn in_flight_requests_are_bounded_per_client_and_in_all() {
        let limits = Arc::new(Limits::new(Settings { client_requests_per_second: 0, ..settings() }));
        let none = HeaderMap::new();
        let (a, b, c) = (
            limits.client(Some(ip("10.0.0.1")), &none),
            limits.client(Some(ip("10.0.0.2")), &none),
            limits.client(Some(ip("10.0.0.3")), &none),
        );
        limits.vouch(a);
        limits.vouch(b);
        let a1 = limits.admit(a).unwrap();
        let _a2 = limits.admit(a).unwrap();
        assert!(matches!(limits.admit(a), Err(Error::Limited { code: "too_many_in_flight", .. })));
        drop(a1);
        let _a3 = limits.admit(a).unwrap();
        let _b1 = limits.admit(b).unwrap();
        let _b2 = limits.admit(b).unwrap();
        assert!(matches!(limits.admit(c), Err(Error::Overloaded)), "four in flight in all");
        assert_eq!(limits.clients_in_flight(), 2, "c holds nothing");
    }

    #[tokio::test]
    async fn new_clients_take_at_most_half_the_places_in_flight() {
        let limits = Arc::new(Limits::new(Settings { client_requests_per_second: 0, ..settings() }));
        let none = HeaderMap::new();
        let at = |i: u8| limits.client(Some(IpAddr::from([10, 0, 1, i])), &none);
        let (known, d, e, f) = (at(1), at(2), at(3), at(4));
        limits.vouch(known);
        let _d = limits.admit(d).unwrap();
        let _e = limits.admit(e).unwrap();
        assert!(matches!(limits.admit(f), Err(Error::Overloaded)), "new clients hold their half");
        let _k1 = limits.admit(known).unwrap();
        let _k2 = limits.admit(known).unwrap();
    }

    #[tokio::test]
    async fn a_client_past_its_bad_signature_budget_is_barred_for_as_long_as_it_takes() {
        let limits = Arc::new(Limits::new(Settings { client_requests_per_second: 0, ..settings() }));
        let none = HeaderMap::new();
        let (a, b) = (limits.client(Some(ip("10.0.0.1")), &none), limits.client(Some(ip("10.0.0.2")), &none));
        limits.charge_bad_signatures(a, 0).unwrap();
        limits.charge_bad_signatures(a, 20).unwrap();
        match limits.charge_bad_signatures(a, 5) {
            Err(Error::Limited { code: "too_many_refusals", retry_after }) => {
                assert!(retry_after > Duration::from_millis(300) && retry_after <= Duration::from_millis(500));
            }
            other => panic!("expected too_many_refusals, got {other:?}"),
        }
        match limits.admit(a) {
            Err(Error::Limited { code: "too_many_refusals", retry_after }) => {
                assert!(retry_after <= Duration::from_millis(500));
            }
            other => panic!("expected a barred client, got {:?}", other.map(|_| ())),
        }
        drop(limits.admit(b).unwrap());
        match limits.charge_bad_signatures(b, 1_000) {
            Err(Error::Limited { retry_after, .. }) => {
                assert_eq!(retry_after, Duration::from_secs(100), "1,000 at 10/s")
            }
            other => panic!("expected too_many_refusals, got {other:?}"),
        }
        limits.forget_idle();
        assert!(limits.admit(b).is_err(), "still barred");
    }

    #[test]
    fn new_clients_share_one_budget_and_known_ones_keep_their_own() {
        let limits = Limits::new(Settings {
            new_clients_receipts_per_second: 1,
            new_clients_kib_per_second: 1,
            client_receipt_burst: 10,
            client_kib_burst: 10,
            ..settings()
        });
        let none = HeaderMap::new();
        let (a, b, c) = (
            limits.client(Some(ip("10.0.0.1")), &none),
            limits.client(Some(ip("10.0.0.2")), &none),
            limits.client(Some(ip("10.0.0.3")), &none),
        );
        limits.charge_receipts(a, 6).unwrap();
        assert!(matches!(limits.charge_receipts(b, 6), Err(Error::Limited { code: "rate_limited", .. })), "shared");
        limits.charge_body(b, 6 * 1_024).unwrap();
        assert!(matches!(limits.charge_body(a, 6 * 1_024), Err(Error::Limited { .. })), "shared KiB too");
        assert!(!limits.is_known(c));
        limits.vouch(c);
        assert!(limits.is_known(c));
        limits.charge_receipts(c, 10).unwrap();
        limits.charge_body(c, 10 * 1_024).unwrap();
    }

    #[tokio::test]
    async fn requests_and_receipts_are_rate_limited_per_client() {
        let limits = Arc::new(Limits::new(settings()));
        let none = HeaderMap::new();
        let (a, b) = (limits.client(Some(ip("10.0.0.1")), &none), limits.client(Some(ip("10.0.0.2")), &none));
        for _ in 0..3 {
            drop(limits.admit(a).unwrap());
        }
        match limits.admit(a) {
            Err(Error::Limited { code: "rate_limited", retry_after }) => {
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1), "{retry_after:?}");
            }
            other => panic!("expected rate_limited, got {:?}", other.map(|_| ())),
        }
        drop(limits.admit(b).unwrap());
        limits.charge_receipts(a, 100).unwrap();
        assert!(matches!(limits.charge_receipts(a, 1), Err(Error::Limited { code: "rate_limited", .. })));
        limits.charge_receipts(b, 60).unwrap();
        assert!(matches!(limits.charge_receipts(b, 101), Err(Error::BadRequest { code: "batch_too_large", .. })));
        limits.charge_receipts(b, 0).unwrap();
        limits.charge_body(b, 8 * 1_024).unwrap();
        assert!(matches!(limits.charge_body(b, 1), Err(Error::Limited { code: "rate_limited", .. })), "a KiB begun");
    }
}
