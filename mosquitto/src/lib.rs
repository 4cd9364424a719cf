//! SCRAM-SHA-256/512 enhanced authentication (MQTT 5.0 §4.12, RFC 5802/7677) for Mosquitto
//! 2.0, as a plugin (plugin API version 5) built on the `mqtt-scram` engine.
//!
//! ```text
//! plugin /usr/lib/mosquitto/libmqtt_scram_mosquitto.so
//! plugin_opt_store /etc/mosquitto/scram-users.json
//! plugin_opt_mock_key_file /etc/mosquitto/scram-mock.key
//! ```
//! See `mosquitto/README.md` for every option, a complete `mosquitto.conf`, and what
//! Mosquitto sends in each case.
//!
//! Layout: `ffi` is the boundary (the only `unsafe` code in the workspace); `plugin`
//! handles each broker event in safe Rust; `sessions` keeps per-client state;
//! `credentials`, `acl` and `binding` are the stores, the authorizers and the
//! `tls-server-end-point` channel binding; `options` and `setup` read `plugin_opt_*`.

// Unit tests build the safe core without the FFI module that calls into it.
#![cfg_attr(test, allow(dead_code))]

mod acl;
mod binding;
mod credentials;
mod fallback;
#[cfg(not(test))]
mod ffi;
mod guard;
mod log;
#[cfg(feature = "metrics")]
mod metrics;
mod options;
mod plugin;
mod sessions;
mod setup;
mod stats;
mod threads;
mod trace;
