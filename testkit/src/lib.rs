//! Test fixtures shared by the workspace's packages. Dev-dependency only.
//!
//! - [`peer`]: a missing test peer (PostgreSQL, Redis, Mosquitto, Node, Python) fails the
//!   test, unless `MQTT_SCRAM_SKIP_MISSING_PEERS=1` is set, which skips it loudly.
//! - [`TempDir`]: a scratch directory removed on drop.
//! - [`postgres`]: a throw-away PostgreSQL cluster on a free loopback port.
//! - [`pki`]: a throw-away CA, server and client certificates.
//! - [`redis`]: throw-away Redis servers: one node, a three-master Cluster, a Sentinel.
//! - [`mosquitto`]: a throw-away Mosquitto broker (usually with the mqtt-scram plugin).
//! - [`amqtt`]: a throw-away amqtt broker with its HTTP auth plugins pointed at a service.
//! - [`process`]: peer programs run to completion within a time limit.
//! - [`mqttjs`]: the mqtt.js client script (`peers/mqttjs_client.js`) shared by the broker
//!   and Mosquitto plugin tests.
//! - [`rust_mqtt`]: rust-mqtt driving the engine's SCRAM client (login, publish, re-auth).
//! - [`probe`]: `mqtt-scram probe --json` as a test client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

pub mod amqtt;
#[cfg(feature = "https")]
pub mod https;
pub mod mosquitto;
pub mod mqttjs;
pub mod peer;
pub mod pki;
pub mod postgres;
pub mod probe;
pub mod process;
pub mod redis;
pub mod rust_mqtt;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh scratch directory under the system temp dir, removed (with its contents) on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `mqtt-scram-<name>-<pid>-<n>`.
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mqtt-scram-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `text` to `name` inside it and returns the path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; race-free enough for tests that
/// start one server at a time on it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Panics with the command's output unless it succeeded.
pub fn check(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The path of binary `name` from workspace package `package`, built in the same profile
/// as the running test (`cargo test --workspace` has built it already; otherwise it is
/// built now with the `cargo` that runs the tests).
pub fn workspace_bin(package: &str, name: &str) -> PathBuf {
    // Test executables live in target/<profile>/deps/; binaries in target/<profile>/.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable outside target/<profile>/deps")
        .to_path_buf();
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = BUILD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "-p", package, "--bin", name]);
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "building {name} failed");
    }
    path
}
