//! The Prometheus endpoint: the authenticator's metrics (through the `metrics` facade and
//! `metrics-exporter-prometheus`) plus the broker's own gauges, on `GET /metrics`.
//!
//! The recorder is process-wide (the facade has one); each broker's series carry its
//! `authenticator` label. The HTTP side is axum (hyper): `GET /metrics`, anything else 404.
//! Not the exporter's own `with_http_listener`: it cannot say which port it bound (`:0` in
//! tests and side-by-side brokers) and cannot be stopped with the broker.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::listener::Shared;

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
    let app = Router::new()
        .route("/metrics", get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found; try GET /metrics\n") })
        .with_state((shared, handle));
    let task = tokio::spawn(async move {
        let stopped = async move {
            let _ = shutdown.changed().await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            debug!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok((local, task))
}

async fn scrape(
    State((shared, handle)): State<(Arc<Shared>, Option<&'static PrometheusHandle>)>,
) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render(&shared, handle),
    )
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
