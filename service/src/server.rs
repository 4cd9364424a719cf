//! Serving: the listener (plain or rustls TLS), one task per connection, and the graceful
//! end — on the shutdown signal the listener closes and in-flight requests get at most
//! [`DRAIN_TIMEOUT`] to finish.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::backend::{AppState, Backend};
use crate::config::{ServiceConfig, TlsConfig};
use crate::router::router;

/// Longest in-flight requests may run after SIGTERM/SIGINT before the process exits anyway.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the service cannot start (never a secret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The backend cannot be built.
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    /// `[tls]` is wrong.
    #[error("tls: {0}")]
    Tls(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A configured service, ready to serve: the backend, the router and the TLS settings.
pub struct Service {
    backend: Arc<Backend>,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    listen: SocketAddr,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("listen", &self.listen)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Builds the backend, the router and the TLS configuration.
    pub fn new(config: &ServiceConfig) -> Result<Self, ServeError> {
        let backend = Arc::new(Backend::new(config)?);
        let state = AppState {
            backend: Arc::clone(&backend),
        };
        let tls = config.tls.as_ref().map(tls_config).transpose()?;
        Ok(Self {
            router: router(state, config),
            backend,
            tls,
            listen: config.listen,
        })
    }

    /// The backend (e.g. to reload it).
    pub fn backend(&self) -> &Arc<Backend> {
        &self.backend
    }

    /// The router (e.g. to serve it in a test).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Binds the configured address.
    pub async fn bind(&self) -> Result<TcpListener, ServeError> {
        TcpListener::bind(self.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: self.listen,
                source,
            })
    }

    /// Serves `listener` until `shutdown` completes, then stops accepting and lets
    /// in-flight requests finish for at most [`DRAIN_TIMEOUT`].
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        let acceptor = self.tls.map(tokio_rustls::TlsAcceptor::from);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = &mut shutdown => break,
            };
            let tcp = match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let service = TowerToHyperService::new(self.router.clone());
            let watcher = graceful.watcher();
            match &acceptor {
                None => {
                    tokio::spawn(async move {
                        let builder = auto::Builder::new(TokioExecutor::new());
                        let conn = builder.serve_connection(TokioIo::new(tcp), service);
                        let _ = watcher.watch(conn).await;
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let tls = match acceptor.accept(tcp).await {
                            Ok(tls) => tls,
                            Err(e) => {
                                tracing::debug!(error = %e, "TLS handshake failed");
                                return;
                            }
                        };
                        let builder = auto::Builder::new(TokioExecutor::new());
                        let conn = builder.serve_connection(TokioIo::new(tls), service);
                        let _ = watcher.watch(conn).await;
                    });
                }
            }
        }
        drop(listener);
        tracing::info!("shutting down: draining in-flight requests");
        if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after the drain timeout; exiting anyway");
        }
    }
}

fn tls_config(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let certs = read_certs(&tls.cert)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| ServeError::Tls(format!("key {}: {e}", tls.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| ServeError::Tls(format!("cert {}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Tls(format!("cert {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "cert {}: no certificate in the file",
            path.display()
        )));
    }
    Ok(certs)
}
