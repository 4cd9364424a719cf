//! An example MQTT 5 broker front: TCP and TLS listeners, SCRAM-SHA-256/512 (and -PLUS
//! with `tls-exporter` channel binding) enhanced authentication through this crate's
//! server state machine, re-authentication, credential expiry, handshake deadlines and
//! resource limits, plus a loopback publish/subscribe to show a client working.
//!
//! ```text
//! # stored credentials (no passwords), one JSON record per line
//! mqtt-scram gen --user alice -m sha256 --format json >  users.json
//! mqtt-scram gen --user alice -m sha512 --format json >> users.json
//! (umask 077; head -c 32 /dev/urandom | xxd -p -c 64 > mock.key)   # private; keep it across restarts
//!
//! cargo run --release -p mqtt-scram-broker -- \
//!     --credentials users.json --mock-key-file mock.key --tcp 127.0.0.1:1883 \
//!     --tls 127.0.0.1:8883 --tls-self-signed --tls-self-signed-out broker-cert.pem
//!
//! # or any store of mqtt-scram-stores by URL or path (a `[store]` table in --config FILE
//! # does the same; --store replaces it):
//! cargo run --release -p mqtt-scram-broker -- --store postgres://mqtt@db/mqtt \
//!     --mock-key-file mock.key
//!
//! # or credentials from an EMQX-style HTTP service, cached (crate feature `http`):
//! cargo run --release -p mqtt-scram-broker --features http -- --http-config http.json
//! ```
//! `--tls-cert FILE --tls-key FILE` use a real certificate; `--allow-plain` also accepts
//! CONNECT without an Authentication Method (see its `--help` for the risks); `--help`
//! lists the limits. Logs go to stderr through `tracing` (`RUST_LOG=debug` for more); they
//! carry usernames and peers, never passwords, keys, proofs or signatures. Without
//! `RUST_LOG` the filter is `info,redis=error`: the redis crate logs a WARN line for every
//! node it fails to reach (several per login during a Cluster failover), which the Redis
//! store summarises itself.
//!
//! Why an example and not a `serve` subcommand of `mqtt-scram`: the binary is a credential
//! tool that ships to operators; a broker front would pull an MQTT codec, TLS listeners and
//! a runtime into it for something that is a demonstration and an interop fixture, not a
//! broker. As an example it costs the library nothing (dev-dependencies only).
//!
//! It is an example, not a broker: no message routing between clients (a client gets its
//! own publications back), no sessions, no retained messages and no QoS 2. The code is the
//! `mqtt_scram_broker` library; `tests/interop.rs` runs it in-process to read its handshake
//! table.

use mqtt_scram_broker as broker;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tracing::{error, info};

/// The log filter without `RUST_LOG`: the redis crate's own per-connection WARN lines
/// (through `log`) are left out; the store's summaries say the same once per interval.
const DEFAULT_FILTER: &str = "info,redis=error";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER)),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: escape codes in a log file are noise, and styling
        // every field name cost about a tenth of the broker's CPU per handshake at `info`.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
