//! Real MQTT 5 clients log in to the example front (`examples/mqtt_protocol_core_front.rs`,
//! the guide's loop on `mqtt-protocol-core`), served in-process on a free loopback port:
//! mqtt.js and rust-mqtt, SHA-256 and SHA-512, wrong passwords refused, re-authentication.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../examples/mqtt_protocol_core_front.rs"]
#[allow(dead_code)]
mod front;

/// The client id rust-mqtt logs in with.
const CLIENT_ID: &str = "rust-mqtt-front";
/// The topic rust-mqtt publishes to after logging in.
const TOPIC: &str = "front/rust-mqtt";

include!("support/front_logins.rs");
