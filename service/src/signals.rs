//! Process signals: SIGHUP re-reads the credential files, the ACL file and the shared
//! secret (a bad file keeps the old contents); SIGTERM or SIGINT end the service.

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};

use crate::backend::Backend;

/// Reloads `backend` on every SIGHUP, in the background until the runtime ends. Fails only
/// when the signal handler cannot be installed.
pub fn spawn_reload_on_sighup(backend: Arc<Backend>) -> std::io::Result<()> {
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading credential, ACL and secret files");
            backend.reload();
        }
    });
    Ok(())
}

/// Completes on the first SIGTERM or SIGINT. Fails only when a handler cannot be installed.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}
