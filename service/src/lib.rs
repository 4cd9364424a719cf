//! `mqtt-scram serve`: one HTTP process answering the authentication and authorization
//! contracts of EMQX 5 (SCRAM REST, [`emqx5`]), EMQX 4 (`emqx_auth_http`, [`emqx4`]), amqtt
//! ([`amqtt`]) and VerneMQ (`vmq_webhooks`, [`vernemq`]) from the workspace's credential
//! stores and ACLs.
//!
//! - [`config`] — `service.toml`.
//! - [`backend`]: lookups, clear-password checks behind a fair work queue, superuser
//!   flags, ACLs, the SCRAM engine — the interface the contract modules use.
//! - [`router`]: the routes of every configured contract, the shared-secret check, the body
//!   limit, one log line per bad request.
//! - [`server`]: plain or TLS listener, graceful drain; [`signals`]: SIGHUP, SIGTERM/SIGINT.
//!
//! [`run`] is what `mqtt-scram serve` calls.

pub mod amqtt;
pub mod backend;
pub mod config;
pub mod emqx4;
pub mod emqx5;
pub mod params;
pub mod router;
pub mod secret;
pub mod server;
pub mod signals;
pub mod vernemq;

use std::net::SocketAddr;
use std::path::Path;

pub use backend::{
    AclRequest, AclVerdict, AppState, Backend, PasswordRequest, PasswordVerdict, SuperuserVerdict,
};
pub use config::ServiceConfig;
pub use server::{ServeError, Service};

/// Why [`run`] failed (never a secret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// `service.toml` is wrong.
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    /// The service cannot start.
    #[error("{0}")]
    Serve(#[from] ServeError),
    /// The runtime or a signal handler cannot be set up.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Installs the stderr log subscriber (`RUST_LOG` filters; default `info`). Does nothing
/// if one is already installed.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Loads `config_path` (with `listen` overriding its address), then serves in the
/// foreground: SIGHUP reloads the credential and ACL files, SIGTERM/SIGINT drain in-flight
/// requests (at most 5 s) and return `Ok`.
pub fn run(config_path: &Path, listen: Option<SocketAddr>) -> Result<(), RunError> {
    let mut config = ServiceConfig::load(config_path)?;
    if let Some(listen) = listen {
        config.listen = listen;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let service = Service::new(&config)?;
        let listener = service.bind().await?;
        signals::spawn_reload_on_sighup(std::sync::Arc::clone(service.backend()))?;
        let shutdown = signals::shutdown_signal()?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, tls = config.tls.is_some(), "mqtt-scram auth service listening");
        service.serve(listener, shutdown).await;
        Ok(())
    })
}
