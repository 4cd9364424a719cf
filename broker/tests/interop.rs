//! The example broker (the `mqtt_scram_broker` library, run in-process so the handshake table can be
//! read) against real MQTT 5 clients and an independent SCRAM implementation:
//!
//! - mqtt.js 5.x (`testkit/peers/mqttjs_client.js`, SCRAM on Node's crypto) — TCP and TLS,
//!   SHA-256/512 and -PLUS with `tls-exporter`, publish/subscribe, wrong password, unknown user;
//! - rust-mqtt 0.6 (`connect_enhanced` / `reauthenticate`) driving this crate's client;
//! - scramp (Python) as the SCRAM client over MQTT 5 (`tests/interop/scramp_mqtt.py client`),
//!   and as the SCRAM server in front of this crate's client (`... server`);
//! - `mqtt-scram probe` and `mqtt-scram gen` records (feature `cli`), the HTTP provider behind
//!   the cache (feature `http`), the command line (`tools.rs`);
//! - the front's own rules (`front.rs`): deadlines, limits, bad packets, `--allow-plain`,
//!   `expire_at`, re-authentication, channel-binding attacks over TLS, keep-alive, shutdown;
//! - admission under a flood of stalled handshakes from one address, and the Prometheus
//!   endpoint (`flood.rs`);
//! - a load run of 1,000 concurrent clients (`load.rs`).
//!
//! `harness.rs` starts brokers and finds the external tools; `conn.rs` is a minimal MQTT 5
//! client on the broker's own framing that drives this crate's client state machine.
//!
//! Node and Python packages come from `scripts/test`. Without them these tests fail and say
//! so, unless `MQTT_SCRAM_SKIP_MISSING_PEERS=1` (then they print SKIPPED).
//! Everything listens on 127.0.0.1 port 0 and every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use mqtt_scram_broker as broker;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use broker::Broker;
use broker::listener::{Limits, Settings, Stats};
use broker::provider::Provider;
use broker::wire::{AuthPacket, Frame, Wire};
use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::UserRecord;
use mqtt_scram::{HashAlgorithm, Mechanism, ServerConfig, StoredCredentials};
use mqtt_scram_authenticator::admission::AdmissionPolicy;
use mqtt_scram_stores::record::CredentialRecord;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, Connect, ConnectProperties, ConnectReturnCode, Login, Packet, Publish,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const PASSWORD: &str = "correct horse battery staple";
const ESCAPED_USER: &str = "ann,=x";
const UNICODE_PASSWORD: &str = "p\u{e4}ssw\u{f6}rd \u{2163}";
const STEP: Duration = Duration::from_secs(15);

#[path = "interop/clients.rs"]
mod clients;
#[path = "interop/conn.rs"]
mod conn;
#[path = "interop/flood.rs"]
mod flood;
#[path = "interop/front.rs"]
mod front;
#[path = "interop/harness.rs"]
mod harness;
#[path = "interop/load.rs"]
mod load;
#[path = "interop/mock_shape.rs"]
mod mock_shape;
#[path = "interop/tools.rs"]
mod tools;

use conn::*;
use harness::*;
