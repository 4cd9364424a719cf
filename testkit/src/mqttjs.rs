//! mqtt.js (npm `mqtt`, pinned by `testkit/peers/package-lock.json`) as an MQTT 5 client with
//! SCRAM: the script `testkit/peers/mqttjs_client.js`, shared by the broker's interop tests
//! and the Mosquitto plugin's tests. `scripts/setup-test-peers` runs `npm ci` next to it.
//!
//! The script takes one JSON argument `{port, tlsPort, caFile, scenarios: [..]}` (see
//! [`scenario`]) and prints one JSON line per scenario:
//! `{name, connack, serverVerified, received, error}`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::{peer, process};

/// How long one run of the script (all its scenarios) may take.
pub const LIMIT: Duration = Duration::from_secs(120);

/// `testkit/peers`: the script, its `package.json` and `node_modules`.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// The script.
pub fn script() -> PathBuf {
    peers_dir().join("mqttjs_client.js")
}

/// `true` if node and the installed mqtt.js are there; otherwise see [`peer::require`].
pub fn ready() -> bool {
    let installed = peers_dir().join("node_modules/mqtt/package.json").exists();
    peer::require(
        installed && peer::runs("node"),
        "node with mqtt.js (testkit/peers/node_modules)",
    )
}

/// One scenario: connect as `user` with `mechanism` (`SCRAM-SHA-256`, `...-PLUS`), over TLS
/// (`tlsPort`, trusting `caFile`) or TCP (`port`); with `pubsub`, subscribe and publish
/// `hello from mqtt.js <name>` to itself after the login.
pub fn scenario(
    name: &str,
    mechanism: &str,
    user: &str,
    password: &str,
    tls: bool,
    pubsub: bool,
) -> Value {
    serde_json::json!({"name": name, "mechanism": mechanism, "user": user,
                       "password": password, "tls": tls, "pubsub": pubsub})
}

/// Runs the script on `config` (within [`LIMIT`]) and returns one result per scenario.
/// Blocking (see [`process::output_within`]).
pub fn run(config: &Value) -> Vec<Value> {
    process::json_lines_within(
        Command::new("node")
            .arg(script())
            .arg(config.to_string())
            .current_dir(peers_dir()),
        LIMIT,
    )
}
