//! The Prometheus endpoint (`plugin_opt_metrics_listen`, feature `metrics`): the
//! authenticator's series (`mqtt_scram_handshakes_started_total`, …, labelled
//! `authenticator="mosquitto"`, the same names as every other front of the workspace) on
//! `GET /metrics`, served by one small thread outside the broker's.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::log::{self, Level};

const MAX_REQUEST: usize = 8 * 1024;

/// The process-wide recorder (the `metrics` facade has one), installed once.
fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .as_ref()
}

/// The endpoint's thread; stopped and joined on drop (before the broker unloads the plugin).
pub(crate) struct Endpoint {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Endpoint {
    /// Binds `addr` and serves `/metrics`.
    pub(crate) fn start(addr: SocketAddr) -> Result<Self, String> {
        let handle = recorder().ok_or("another metrics recorder is installed in this process")?;
        let listener =
            TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("mqtt-scram-metrics".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        let _ = answer(stream, handle);
                    }
                }
            })
            .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
        log::emit(
            Level::Notice,
            &format!("mqtt-scram: Prometheus metrics on http://{addr}/metrics"),
        );
        Ok(Self {
            stop,
            addr,
            thread: Some(thread),
        })
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(thread) = self.thread.take() {
            // A request in progress ends within its socket timeouts; never wait past the bound.
            crate::threads::join_within(
                "metrics endpoint",
                vec![thread],
                crate::threads::JOIN_LIMIT,
            );
        }
    }
}

/// One request per connection: `GET /metrics` or 404.
fn answer(mut stream: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let (status, body) = if request.starts_with(b"GET /metrics ") {
        ("200 OK", handle.render())
    } else {
        ("404 Not Found", String::from("not found\n"))
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())
}
