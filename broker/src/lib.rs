//! The example broker front, as a library that both `src/main.rs` (the command line) and
//! `tests/interop.rs` (in-process, to read the handshake table) use.
//!
//! One file per concept:
//! - [`config`]: the configuration file (`--config`, TOML) and command-line options →
//!   [`Settings`](listener::Settings); credential stores; the mock key.
//! - [`tls`]: rustls server configuration (files or a generated certificate) and the
//!   RFC 9266 `tls-exporter` channel binding.
//! - [`listener`]: accept loops, connection and handshake limits, start/stop.
//! - [`wire`]: MQTT 5 framing over `rumqttc`'s packet codec, bounded buffers.
//! - [`auth`]: the authentication front on `mqtt-scram-authenticator`: SCRAM exchange on
//!   CONNECT, re-authentication, the optional plain-password path.
//! - [`metrics`]: the Prometheus endpoint.
//! - [`reply`]: what the front sends (CONNACK, AUTH, DISCONNECT) and reason-code mapping.
//! - [`session`]: the authenticated connection: ping, loopback publish/subscribe,
//!   re-authentication, credential expiry.
//! - [`provider`]: where credentials come from (JSON records in memory, or HTTP).

pub mod auth;
pub mod config;
pub mod listener;
pub mod metrics;
pub mod provider;
pub mod reply;
pub mod session;
pub mod tls;
pub mod wire;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqtt_scram::{Clock, SystemClock, Timestamp};

pub use listener::Broker;

/// The engine takes time as a [`Timestamp`]: a monotonic reading (here, the time since the
/// first call in this process) and the wall clock.
pub fn timestamp() -> Timestamp {
    static CLOCK: OnceLock<SystemClock> = OnceLock::new();
    CLOCK.get_or_init(SystemClock::new).now()
}

/// The monotonic part of [`timestamp`]: deadlines the engine returns are on this clock.
pub fn now() -> Duration {
    timestamp().monotonic()
}

/// Wall-clock Unix seconds, for `expire_at` from providers.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
