//! Real MQTT 5 clients log in to the example front (`examples/ntex_mqtt_front.rs`,
//! the guide's loop on ntex-mqtt's codec), served in-process on a free loopback port:
//! mqtt.js and rust-mqtt, SHA-256 and SHA-512, wrong passwords refused, re-authentication.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../examples/ntex_mqtt_front.rs"]
#[allow(dead_code)]
mod front;

/// The client id rust-mqtt logs in with.
const CLIENT_ID: &str = "rust-mqtt-ntex-front";
/// The topic rust-mqtt publishes to after logging in.
const TOPIC: &str = "ntex-front/rust-mqtt";

include!("support/front_logins.rs");
