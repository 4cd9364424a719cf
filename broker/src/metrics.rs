//! The Prometheus endpoint: the authenticator's metrics (through the `metrics` facade and
//! `metrics-exporter-prometheus`) plus the broker's own gauges, on `GET /metrics`.
//!
//! The recorder is process-wide (the facade has one); each broker's series carry its
//! `authenticator` label. The HTTP side is deliberately tiny: one request per connection,
//! requests bounded in size and time, any other path is 404.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::listener::Shared;

const MAX_REQUEST: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Installs the process-wide Prometheus recorder (once) and returns its handle; `None` if
/// another recorder was installed first (then only the broker's gauges are served).
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(e) => {
                    warn!(error = %e, "a metrics recorder is already installed; /metrics serves the broker's gauges only");
                    None
                }
            }
        })
        .as_ref()
}

/// Binds `addr` and serves `/metrics` until the broker stops.
pub async fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let handle = recorder();
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let mut shutdown = shared.shutdown.clone();
    let task = tokio::spawn(async move {
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(e) => {
                        debug!(error = %e, "metrics accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                if let Err(e) = answer(socket, &shared, handle).await {
                    debug!(error = %e, "metrics request failed");
                }
            });
        }
    });
    Ok((local, task))
}

async fn answer(
    mut socket: TcpStream,
    shared: &Shared,
    handle: Option<&PrometheusHandle>,
) -> io::Result<()> {
    let mut request = Vec::with_capacity(512);
    let read = async {
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
            }
            request.extend_from_slice(chunk.get(..n).unwrap_or_default());
            if request.len() > MAX_REQUEST {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request too large",
                ));
            }
        }
        Ok(())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request too slow"))??;
    let line = request.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (method, path) = (parts.next(), parts.next());
    let (status, body) = match (method, path) {
        (Some(b"GET"), Some(b"/metrics")) => ("200 OK", render(shared, handle)),
        _ => ("404 Not Found", "not found; try GET /metrics\n".to_string()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.shutdown().await
}

/// The recorder's series followed by the broker's own gauges and counters.
pub fn render(shared: &Shared, handle: Option<&PrometheusHandle>) -> String {
    let mut out = handle.map(PrometheusHandle::render).unwrap_or_default();
    let stats = shared.stats();
    let name = shared.authenticator.metrics().name();
    let rows: [(&str, &str, &str, u64); 6] = [
        (
            "mqtt_scram_broker_connections_open",
            "gauge",
            "Connections open now.",
            stats.connections_open as u64,
        ),
        (
            "mqtt_scram_broker_connections_total",
            "counter",
            "Connections accepted.",
            stats.connections_total,
        ),
        (
            "mqtt_scram_broker_connect_accepted_total",
            "counter",
            "CONNECTs answered with CONNACK 0x00.",
            stats.auth_accepted,
        ),
        (
            "mqtt_scram_broker_connect_rejected_total",
            "counter",
            "CONNECTs refused (0x87, 0x8C, 0x82, 0x89 busy).",
            stats.auth_rejected,
        ),
        (
            "mqtt_scram_broker_reauth_accepted_total",
            "counter",
            "Successful re-authentications.",
            stats.reauth_accepted,
        ),
        (
            "mqtt_scram_broker_sessions_expired_total",
            "counter",
            "Sessions ended by expire_at.",
            stats.expired,
        ),
    ];
    for (metric, kind, help, value) in rows {
        let _ = write!(
            out,
            "# HELP {metric} {help}\n# TYPE {metric} {kind}\n{metric}{{authenticator=\"{name}\"}} {value}\n"
        );
    }
    out
}
