//! The servers under load, each on its own thread with the same runtime setup (a
//! multi-thread Tokio runtime of [`server_threads`] workers) and the same connection
//! handling (hyper-util's auto builder, TCP_NODELAY): the auth service through its own
//! `Service::serve`, and a bare axum router answering fixed bodies.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use mqtt_scram_service::Service;
use mqtt_scram_service::config::ServiceConfig;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Server runtime workers: `AUTH_BENCH_SERVER_THREADS`, default 1 (the client takes the
/// other core of the 2-core machine).
pub fn server_threads() -> usize {
    std::env::var("AUTH_BENCH_SERVER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// A server on its own thread and runtime; stopped on drop.
pub struct Server {
    /// Its loopback address.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn spawn<F, Fut>(serve: F) -> Server
where
    F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = oneshot::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(server_threads())
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            serve(listener, stopped).await;
        });
    });
    Server {
        addr: addr_rx.recv().unwrap(),
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// The auth service with this `service.toml` text.
pub fn service(toml: &str) -> Server {
    let config = ServiceConfig::from_toml(toml).unwrap();
    spawn(move |listener, stopped| async move {
        let service = Service::new(&config).unwrap();
        service
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await;
    })
}

/// A bare axum router: `GET /bare` answers `get_body`, `POST /bare` reads the request body
/// and answers `post_body`, both `200 application/json`.
pub fn bare(get_body: Bytes, post_body: Bytes) -> Server {
    let router = Router::new().route(
        "/bare",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], get_body) }).post(
            move |request: Bytes| async move {
                drop(request);
                ([(header::CONTENT_TYPE, "application/json")], post_body)
            },
        ),
    );
    spawn(move |listener, mut stopped| async move {
        loop {
            let tcp = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(_) => continue,
                },
                _ = &mut stopped => break,
            };
            let _ = tcp.set_nodelay(true);
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let builder = auto::Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
            });
        }
    })
}
