//! An axum router served over TLS, for tests of HTTPS clients (feature `https`).

use std::sync::Arc;

use tokio::net::TcpListener;

/// Serves `router` over TLS with `server_config` on every connection `listener` accepts,
/// in the background until the runtime ends. A failed TLS handshake drops that connection
/// only (tests of refused certificates cause them on purpose).
pub fn spawn_https(
    listener: TcpListener,
    server_config: Arc<rustls::ServerConfig>,
    router: axum::Router,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
}
