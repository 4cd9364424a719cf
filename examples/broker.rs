//! An example MQTT 5 broker front: TCP and TLS listeners, SCRAM-SHA-256/512 (and -PLUS
//! with `tls-exporter` channel binding) enhanced authentication through this crate's
//! server state machine, re-authentication, credential expiry, handshake deadlines and
//! resource limits, plus a loopback publish/subscribe to show a client working.
//!
//! ```text
//! mqtt-scram gen --format json alice > users.json        # stored credentials, no passwords
//! cargo run --example broker --all-features -- \
//!     --credentials users.json --tcp 127.0.0.1:1883 \
//!     --tls 127.0.0.1:8883 --tls-self-signed --tls-self-signed-out broker-cert.pem
//! ```
//! Logs go to stderr through `tracing` (`RUST_LOG=debug` for more); they carry usernames
//! and peers, never passwords, keys, proofs or signatures.
//!
//! It is an example, not a broker: it has no message routing between clients, no
//! sessions, no retained messages and no QoS 2. The code lives in `examples/broker/`,
//! which `tests/interop.rs` also includes to run the broker in-process.

#[path = "broker/mod.rs"]
mod broker;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tracing::{error, info};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = broker::config::Args::parse();
    let (settings, extras) = match args.into_settings() {
        Ok(parts) => parts,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some((path, pem)) = extras.cert_out {
        if let Err(e) = std::fs::write(&path, pem) {
            error!("cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
        info!(path = %path.display(), "wrote the generated certificate");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let broker = match broker::Broker::start(settings).await {
            Ok(broker) => broker,
            Err(e) => {
                error!("cannot listen: {e}");
                return ExitCode::FAILURE;
            }
        };
        info!(tcp = ?broker.tcp_addr(), tls = ?broker.tls_addr(), "ready; Ctrl-C stops");
        if let Err(e) = tokio::signal::ctrl_c().await {
            error!("cannot wait for Ctrl-C: {e}");
        }
        info!("stopping");
        let stats = broker.shutdown(Duration::from_secs(5)).await;
        info!(?stats, "final counters");
        ExitCode::SUCCESS
    })
}
