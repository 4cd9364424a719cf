//! The plugin in a real Mosquitto 2.0 broker, with real clients: mqtt.js, rust-mqtt, the
//! crate's `probe`, and a byte-level client (`wire`) for the robustness and leak tests.
//!
//! | module | what |
//! | --- | --- |
//! | `harness` | users, keys, ACL files, the broker with the freshly built plugin |
//! | `wire` | a small blocking MQTT 5 client |
//! | `clients` | mqtt.js, rust-mqtt and probe: SHA-256/512 logins, publish/receive, re-auth |
//! | `failures` | 0x87 for wrong password and unknown user (same shape), 0x8C, ACLs, fallback |
//! | `periodic` | `per_listener_settings` (no TICK): stats reports, every stall logged by shutdown |
//! | `plus` | `-PLUS` with `tls-server-end-point` over Mosquitto's TLS listener |
//! | `reload` | SIGHUP reloads the credential file; a bad file keeps the old set |
//! | `remote` | a store slower than the lookup budget; the cache answers the retry |
//! | `observe` | Prometheus metrics with the shared names; a clean shutdown |
//! | `reentrancy` | `log_dest topic` + ACL subscribers: a refused login never hangs the broker |
//! | `robustness` | random and truncated AUTH data; the broker keeps serving |
//! | `hardening` | the password fallback's admission; sessions end at their record's `expire_at` |
//! | `mock_shape` | unknown users are shown the credential file's salt length and count, across SIGHUP |
//! | `leaks` | 10,000 sequential handshakes; the broker's RSS stays flat |
//! | `startup` | every bad option stops the broker with the option named |
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "plugin/clients.rs"]
mod clients;
#[path = "plugin/failures.rs"]
mod failures;
#[path = "plugin/hardening.rs"]
mod hardening;
#[path = "plugin/harness.rs"]
mod harness;
#[path = "plugin/leaks.rs"]
mod leaks;
#[path = "plugin/mock_shape.rs"]
mod mock_shape;
#[path = "plugin/observe.rs"]
mod observe;
#[path = "plugin/periodic.rs"]
mod periodic;
#[path = "plugin/plus.rs"]
mod plus;
#[path = "plugin/reentrancy.rs"]
mod reentrancy;
#[path = "plugin/reload.rs"]
mod reload;
#[path = "plugin/remote.rs"]
mod remote;
#[path = "plugin/robustness.rs"]
mod robustness;
#[path = "plugin/startup.rs"]
mod startup;
#[path = "plugin/wire.rs"]
mod wire;
