//! Listeners: TCP and TLS accept loops, the connection limit, start and graceful stop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use mqtt_scram::ServerConfig;
use mqtt_scram_authenticator::Authenticator;
use mqtt_scram_authenticator::admission::AdmissionPolicy;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use super::provider::Provider;
use super::session;

/// Resource bounds. Every one applies per broker, or per connection where it says so.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted packet (Remaining Length, bytes); announced in CONNACK. Per connection
    /// this bounds the read buffer.
    pub max_packet_size: u32,
    /// Open connections (more are closed at accept).
    pub max_connections: usize,
    /// From accept to a complete CONNECT (TLS handshake included).
    pub connect_timeout: Duration,
    /// A peer that does not read a packet within this time is dropped.
    pub write_timeout: Duration,
    /// A credential lookup that takes longer counts as "could not decide" (the
    /// authenticator's lookup budget).
    pub provider_timeout: Duration,
    /// Subscriptions per connection.
    pub max_subscriptions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_packet_size: 64 * 1024,
            max_connections: 10_000,
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            provider_timeout: Duration::from_secs(5),
            max_subscriptions: 16,
        }
    }
}

/// Everything needed to start a broker.
pub struct Settings {
    /// Plain TCP listener address.
    pub tcp: Option<SocketAddr>,
    /// TLS listener address and configuration.
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// Credential source.
    pub provider: Provider,
    /// SCRAM server settings (mechanisms, mock key, handshake deadline, ...).
    pub scram: ServerConfig,
    /// Handshake admission (places, per-address cap, work slots, first-step deadline).
    pub admission: AdmissionPolicy,
    /// Resource bounds.
    pub limits: Limits,
    /// Accept CONNECT without an Authentication Method, checking its password.
    pub allow_plain: bool,
    /// Serve Prometheus metrics (`GET /metrics`) on this address.
    pub metrics: Option<SocketAddr>,
    /// The `authenticator` label of this broker's metrics.
    pub name: String,
}

/// Counters (monotonic except `connections_open`).
#[derive(Default)]
pub struct Counters {
    /// Connections open now.
    pub connections_open: AtomicUsize,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// CONNECT exchanges that ended in CONNACK 0x00.
    pub auth_accepted: AtomicU64,
    /// CONNECT exchanges that did not (0x87, 0x8C, 0x82, and 0x89 busy refusals alike).
    pub auth_rejected: AtomicU64,
    /// Successful re-authentications.
    pub reauth_accepted: AtomicU64,
    /// Sessions ended because `expire_at` passed.
    pub expired: AtomicU64,
}

/// State shared by every connection of one broker.
pub struct Shared {
    /// The authenticator (engine, provider, admission policy, metrics).
    pub authenticator: Authenticator,
    /// Credential source (the authenticator's; also read by `--allow-plain` logins).
    pub provider: Provider,
    /// Resource bounds.
    pub limits: Limits,
    /// `--allow-plain`.
    pub allow_plain: bool,
    /// Counters.
    pub counters: Counters,
    /// Becomes `true` when the broker stops.
    pub shutdown: watch::Receiver<bool>,
}

/// A snapshot of the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Handshakes in progress (admission places taken).
    pub handshakes_in_flight: usize,
    /// Most handshakes in progress at once.
    pub handshakes_peak: usize,
    /// Connections open now.
    pub connections_open: usize,
    /// Connections accepted since start.
    pub connections_total: u64,
    /// CONNECT exchanges that ended in CONNACK 0x00.
    pub auth_accepted: u64,
    /// CONNECT exchanges that did not.
    pub auth_rejected: u64,
    /// Successful re-authentications.
    pub reauth_accepted: u64,
    /// Sessions ended because `expire_at` passed.
    pub expired: u64,
}

/// A running broker.
pub struct Broker {
    shared: Arc<Shared>,
    tcp_addr: Option<SocketAddr>,
    tls_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
}

impl Broker {
    /// Binds the listeners and starts accepting.
    pub async fn start(settings: Settings) -> io::Result<Self> {
        let (stop, shutdown) = watch::channel(false);
        let authenticator =
            Authenticator::builder_shared(settings.scram, settings.provider.shared())
                .admission(settings.admission)
                .lookup_timeout(settings.limits.provider_timeout)
                .name(settings.name)
                .build()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        let shared = Arc::new(Shared {
            authenticator,
            provider: settings.provider,
            limits: settings.limits,
            allow_plain: settings.allow_plain,
            counters: Counters::default(),
            shutdown,
        });
        let permits = Arc::new(Semaphore::new(shared.limits.max_connections.max(1)));
        let mut listeners = Vec::new();
        let mut tcp_addr = None;
        let mut tls_addr = None;
        if let Some(addr) = settings.tcp {
            let listener = TcpListener::bind(addr).await?;
            let addr = listener.local_addr()?;
            info!(%addr, "listening (mqtt over tcp)");
            tcp_addr = Some(addr);
            listeners.push(tokio::spawn(accept_loop(
                listener,
                None,
                Arc::clone(&shared),
                Arc::clone(&permits),
            )));
        }
        if let Some((addr, config)) = settings.tls {
            let listener = TcpListener::bind(addr).await?;
            let addr = listener.local_addr()?;
            info!(%addr, "listening (mqtt over tls)");
            tls_addr = Some(addr);
            let acceptor = TlsAcceptor::from(config);
            listeners.push(tokio::spawn(accept_loop(
                listener,
                Some(acceptor),
                Arc::clone(&shared),
                Arc::clone(&permits),
            )));
        }
        let mut metrics_addr = None;
        if let Some(addr) = settings.metrics {
            let (addr, task) = super::metrics::serve(addr, Arc::clone(&shared)).await?;
            info!(%addr, "serving Prometheus metrics on /metrics");
            metrics_addr = Some(addr);
            listeners.push(task);
        }
        listeners.push(tokio::spawn(flush_notices(Arc::clone(&shared))));
        if shared.allow_plain {
            warn!(
                "--allow-plain: clients without an Authentication Method may log in with a password"
            );
        }
        info!(provider = %shared.provider.describe(), "broker started");
        Ok(Self {
            shared,
            tcp_addr,
            tls_addr,
            metrics_addr,
            stop,
            listeners,
        })
    }

    /// The TCP listener's address (with the real port when bound to port 0).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The TLS listener's address.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The metrics endpoint's address.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The authenticator (its admission gate, metrics).
    pub fn authenticator(&self) -> &Authenticator {
        &self.shared.authenticator
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Waits (up to `timeout`) until no connection is open; `true` if none is.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let idle = async {
            while self
                .shared
                .counters
                .connections_open
                .load(Ordering::Relaxed)
                > 0
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(timeout, idle).await.is_ok()
    }

    /// Stops accepting, tells every session to end (DISCONNECT 0x8B), waits up to `grace`
    /// for connections to close, and returns the final counters.
    pub async fn shutdown(mut self, grace: Duration) -> Stats {
        let _ = self.stop.send(true);
        for listener in &self.listeners {
            listener.abort();
        }
        // Aborted listeners resolve once their task (and its socket) is gone.
        for listener in std::mem::take(&mut self.listeners) {
            let _ = listener.await;
        }
        if !self.wait_idle(grace).await {
            warn!(
                open = self.stats().connections_open,
                "connections still open after the grace period"
            );
        }
        let stats = self.stats();
        if stats.handshakes_in_flight > 0 {
            warn!(
                handshakes = stats.handshakes_in_flight,
                "handshakes still in progress"
            );
        }
        self.shared.authenticator.flush_notices();
        info!(
            handshakes_in_flight = stats.handshakes_in_flight,
            connections_open = stats.connections_open,
            "broker stopped"
        );
        stats
    }
}

impl Shared {
    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        let admission = self.authenticator.admission().stats();
        Stats {
            handshakes_in_flight: admission.handshakes,
            handshakes_peak: admission.handshakes_peak,
            connections_open: c.connections_open.load(Ordering::Relaxed),
            connections_total: c.connections_total.load(Ordering::Relaxed),
            auth_accepted: c.auth_accepted.load(Ordering::Relaxed),
            auth_rejected: c.auth_rejected.load(Ordering::Relaxed),
            reauth_accepted: c.reauth_accepted.load(Ordering::Relaxed),
            expired: c.expired.load(Ordering::Relaxed),
        }
    }
}

/// Logs the end of a burst of refusals or stalled handshakes (the authenticator summarises
/// them; this tick makes sure the last summary is not held back until the next event).
async fn flush_notices(shared: Arc<Shared>) {
    let interval = shared.authenticator.admission().policy().notice_interval;
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        shared.authenticator.flush_notices();
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            warn!(%peer, "connection limit reached; closing");
            continue;
        };
        shared
            .counters
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        // Boxed: the connection's future is large (about 12 KB: CONNECT, the handshake, the
        // session, TLS), and tokio moves a task's future by value when it spawns and when it
        // completes; a box makes those moves a pointer's.
        tokio::spawn(Box::pin(async move {
            let _permit = permit;
            let _open = OpenConnection::new(&shared);
            serve(socket, peer, tls, shared).await;
        }));
    }
}

async fn serve(socket: TcpStream, peer: SocketAddr, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let _ = socket.set_nodelay(true);
    match tls {
        None => session::run(socket, peer, "tcp", None, shared).await,
        Some(acceptor) => {
            match tokio::time::timeout(shared.limits.connect_timeout, acceptor.accept(socket)).await
            {
                Ok(Ok(stream)) => {
                    let binding = super::tls::channel_binding(stream.get_ref().1);
                    session::run(stream, peer, "tls", binding, shared).await;
                }
                Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

/// Counts an open connection for as long as it lives.
struct OpenConnection(Arc<Shared>);

impl OpenConnection {
    fn new(shared: &Arc<Shared>) -> Self {
        shared
            .counters
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(shared))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0
            .counters
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}
