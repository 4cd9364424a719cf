//! The broker-CPU load generator of issue 22 §3 against the example broker front
//! (`mqtt-scram-broker`, this package's binary, in its own process): logins/s and the
//! front's CPU per login, then re-authentications/s on held connections.
//!
//! The generator is `mosquitto/benches/support/loadgen.rs` (the same code that drives
//! Mosquitto in `mosquitto/benches/broker_cpu.rs`): closed loop, a new TCP connection per
//! login, each bound to its own source address in 127.1.0.0/16, SCRAM clients with their keys
//! derived once per user so only the per-login HMACs run on the client.
//!
//! Contenders (one broker process, default settings, `RUST_LOG` as given, `--allow-plain`
//! and `--max-connections 20000`; file of 4096-iteration SCRAM-SHA-256 records):
//! - `scram`: CONNECT (SCRAM-SHA-256) → AUTH 0x18 both ways → CONNACK 0x00 → DISCONNECT;
//! - `plain`: CONNECT with User Name and Password (`--allow-plain`: PBKDF2 at 4096 iterations
//!   per attempt on the server, the front's equivalent of Mosquitto's `password_file`);
//! - `reauth`: `LOADGEN_HELD` held connections (10,000, capped below the open-file limit),
//!   `LOADGEN_INFLIGHT` workers sending AUTH 0x19 exchanges across them round-robin;
//!   client-observed round-trip p50/p99 (the front has no per-callback report).
//!
//! Broker CPU is `utime + stime` of its process (`/proc/<pid>/stat`) over each window, per
//! login; medians over the rounds.
//!
//! ```text
//! cargo bench -p mqtt-scram-broker --bench front_cpu
//! # knobs: LOADGEN_ROUNDS (3), LOADGEN_SECS (5), LOADGEN_CONCURRENCY (128),
//! # LOADGEN_USERS (1000), LOADGEN_SOURCES (1000), LOADGEN_CLIENT_THREADS (2),
//! # LOADGEN_HELD (10000), LOADGEN_INFLIGHT (256), LOADGEN_REAUTH_SECS (10),
//! # LOADGEN_CONTENDERS ("scram,plain,reauth"), LOADGEN_RUST_LOG ("info", as shipped)
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[allow(dead_code)]
#[path = "../../mosquitto/benches/support/loadgen.rs"]
mod loadgen;
#[allow(dead_code)]
#[path = "../../mosquitto/benches/support/procstat.rs"]
mod procstat;
#[path = "../../mosquitto/benches/support/wire.rs"]
mod wire;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::{Credential, ScramUser, Target};
use mqtt_scram::provider::UserRecord;
use mqtt_scram_stores::record::{CredentialRecord, json};
use mqtt_scram_testkit::{TempDir, free_port};
use procstat::{env_or, median};

const PASSWORD: &str = "correct horse battery staple";
const ITERATIONS: u32 = 4096;

/// The broker binary in its own process; killed on drop.
struct Front {
    child: Child,
    addr: SocketAddr,
}

impl Front {
    fn start(dir: &TempDir, log: &str) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = Command::new(env!("CARGO_BIN_EXE_mqtt-scram-broker"))
            .arg("--credentials")
            .arg(dir.join("users.json"))
            .arg("--mock-key-file")
            .arg(dir.join("mock.key"))
            .args(["--tcp", &addr.to_string(), "--mechanisms", loadgen::METHOD])
            .args(["--allow-plain", "--max-connections", "20000"])
            .env("RUST_LOG", log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "the broker did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, addr }
    }

    fn target(&self, sources: usize) -> Target {
        Target {
            addr: self.addr,
            pid: self.child.id(),
            sources,
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let rounds: usize = env_or("LOADGEN_ROUNDS", 3);
    let secs = Duration::from_secs_f64(env_or("LOADGEN_SECS", 5.0));
    let warm_up = Duration::from_secs(1);
    let concurrency: usize = env_or("LOADGEN_CONCURRENCY", 128);
    let user_count: usize = env_or("LOADGEN_USERS", 1000);
    let sources: usize = env_or("LOADGEN_SOURCES", 1000);
    let threads: usize = env_or("LOADGEN_CLIENT_THREADS", 2);
    let held_wanted: usize = env_or("LOADGEN_HELD", 10_000);
    let inflight: usize = env_or("LOADGEN_INFLIGHT", 256);
    let reauth_secs = Duration::from_secs_f64(env_or("LOADGEN_REAUTH_SECS", 10.0));
    let log: String = env_or("LOADGEN_RUST_LOG", "info".to_string());
    let contenders: String = env_or("LOADGEN_CONTENDERS", "scram,plain,reauth".to_string());
    let wants = |name: &str| contenders.split(',').any(|c| c.trim() == name);

    let setup = Instant::now();
    let dir = TempDir::new("front-cpu-bench");
    let (users, records): (Vec<_>, Vec<_>) = (0..user_count.max(1))
        .map(|i| {
            let (user, creds) = ScramUser::new(&format!("user{i:05}"), PASSWORD, ITERATIONS);
            let record = CredentialRecord::new(&user.name, &UserRecord::new(creds));
            (Arc::new(user), record)
        })
        .unzip();
    dir.write("users.json", &json::write_lines(&records).unwrap());
    let key = dir.write("mock.key", &hex::encode(rand::random::<[u8; 32]>()));
    {
        // The broker refuses a mock key file others can read.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let front = Front::start(&dir, &log);
    let target = front.target(sources);
    println!(
        "front_cpu: example broker (RUST_LOG={log}, pid {}), {user_count} users, {concurrency} concurrent logins \
         from {sources} source addresses, {rounds} rounds of {secs:?}, client runtime {threads} workers; \
         set-up {:.1?}; load average {}",
        front.child.id(),
        setup.elapsed(),
        procstat::load_average()
    );

    let mut runs: Vec<(&str, Vec<Credential>)> = Vec::new();
    if wants("scram") {
        runs.push(("scram", loadgen::scram_credentials(&users)));
    }
    if wants("plain") {
        runs.push(("plain", loadgen::password_credentials(&users, PASSWORD)));
    }
    let contenders: Vec<(&str, Target, &[Credential])> = runs
        .iter()
        .map(|(name, creds)| (*name, target, creds.as_slice()))
        .collect();
    let series = loadgen::login_rounds(&rt, &contenders, rounds, concurrency, warm_up, secs);
    if !runs.is_empty() {
        println!(
            "\nmedians over {rounds} rounds (load average {}):",
            procstat::load_average()
        );
        for ((name, _), (rates, cpus)) in runs.iter().zip(&series) {
            println!(
                "  {name:<6} {:>8.0} logins/s  broker {:>7.1} µs/login",
                median(rates.clone()),
                median(cpus.clone())
            );
        }
    }

    if wants("reauth") {
        let limit = procstat::open_files_limit();
        let count = match limit {
            Some(l) if l < held_wanted + 256 => l.saturating_sub(256),
            _ => held_wanted,
        };
        let started = Instant::now();
        let (mut held, error) = loadgen::hold(&rt, target, &users, count, 64);
        println!(
            "\nre-authentication: {} of {held_wanted} connections held (open-file limit {}{}), logged in in {:.1?}; load average {}",
            held.len(),
            limit.map_or("unknown".into(), |l| l.to_string()),
            error
                .map(|e| format!("; stopped by: {e}"))
                .unwrap_or_default(),
            started.elapsed(),
            procstat::load_average()
        );
        if held.is_empty() {
            return;
        }
        let (w, mut times) =
            loadgen::reauth_window(&rt, target, &mut held, inflight, warm_up, reauth_secs);
        println!(
            "  {} re-auths in {:.1?} with {inflight} in flight: {:.0} re-auths/s, broker {:.1} µs/re-auth ({:.1} + {:.1}), client {:.1} µs/re-auth; \
             round trip p50 {:.2} ms p99 {:.2} ms; load average {}",
            w.count,
            w.wall,
            w.rate(),
            w.per_op(w.broker.total()),
            w.per_op(w.broker.user),
            w.per_op(w.broker.system),
            w.per_op(w.client.total()),
            procstat::quantile(&mut times, 0.50).as_secs_f64() * 1e3,
            procstat::quantile(&mut times, 0.99).as_secs_f64() * 1e3,
            procstat::load_average()
        );
    }
}
