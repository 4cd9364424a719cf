//! Mosquitto with the SCRAM plugin against Mosquitto's own `password_file` (PBKDF2-SHA512
//! per CONNECT), in one run on one machine: successful connections per second with 64
//! concurrent clients, the broker's CPU time per successful authentication (from
//! `/proc/<pid>/stat`), and p50/p99 connect latency (TCP connect to CONNACK).
//!
//! Scenarios (each a fresh broker):
//! - `scram_sha256`: SCRAM-SHA-256 through the plugin, records at 4096 iterations. The
//!   clients reuse their SaltedPassword (RFC 5802 §5.1 allows the cache), as a client that
//!   reconnects does, so the run measures the broker rather than client PBKDF2.
//! - `password_file_101`: `mosquitto_passwd`'s default (PBKDF2-SHA512, 101 iterations).
//! - `password_file_4096`: PBKDF2-SHA512 at 4096 iterations, the SCRAM records' count.
//!
//! Criterion times batches of 640 logins (64 clients × 10); the summary after the run gives
//! the figures above and the ratios. Needs Debian's `mosquitto`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[allow(dead_code)]
#[path = "../tests/plugin/wire.rs"]
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use mqtt_scram::client::Authenticated;
use mqtt_scram::provider::UserRecord;
use mqtt_scram::{HashAlgorithm, Mechanism, StoredCredentials};
use mqtt_scram_stores::record::CredentialRecord;
use mqtt_scram_testkit::TempDir;
use mqtt_scram_testkit::mosquitto::{Config, Mosquitto};
use sha2::{Digest as _, Sha512};
use wire::{CONNACK, Conn};

const CLIENTS: usize = 64;
const PER_CLIENT: usize = 10;
const PASSWORD: &str = "correct horse battery staple";

/// PBKDF2-HMAC-SHA512 with one 64-byte block (what `mosquitto_passwd` writes).
fn pbkdf2_sha512(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 64] {
    let hmac = |key: &[u8], parts: &[&[u8]]| -> [u8; 64] {
        let mut k = [0u8; 128];
        k[..key.len()].copy_from_slice(key);
        let (mut inner, mut outer) = (Sha512::new(), Sha512::new());
        inner.update(k.map(|b| b ^ 0x36));
        outer.update(k.map(|b| b ^ 0x5c));
        for p in parts {
            inner.update(p);
        }
        outer.update(inner.finalize());
        outer.finalize().into()
    };
    let mut u = hmac(password, &[salt, &1u32.to_be_bytes()]);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &[&u]);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

/// The plugin built with this bench (`target/<profile>/deps/`).
fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join("libmqtt_scram_mosquitto.so")
}

fn users(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("user{i}")).collect()
}

fn scram_broker(dir: &TempDir) -> Mosquitto {
    let records: Vec<serde_json::Value> = users(CLIENTS)
        .iter()
        .map(|u| {
            let salt: [u8; 16] = rand::random();
            let creds =
                StoredCredentials::derive(HashAlgorithm::Sha256, PASSWORD, &salt, 4096).unwrap();
            serde_json::to_value(CredentialRecord::new(u, &UserRecord::new(creds))).unwrap()
        })
        .collect();
    let users = dir.write("users.json", &serde_json::to_string(&records).unwrap());
    let key = dir.write("mock.key", &"5a".repeat(32));
    {
        // The plugin refuses a mock key file others can read.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config = Config::with_plugin(plugin_path())
        .option("store", users.display())
        .option("mock_key_file", key.display())
        .option("stats_interval", "1h")
        .line("max_connections -1");
    Mosquitto::start(&config).expect("mosquitto")
}

fn password_broker(dir: &TempDir, iterations: u32) -> Mosquitto {
    let mut lines = String::new();
    for u in users(CLIENTS) {
        let salt: [u8; 12] = rand::random();
        let hash = pbkdf2_sha512(PASSWORD.as_bytes(), &salt, iterations);
        lines.push_str(&format!(
            "{u}:$7${iterations}${}${}\n",
            STANDARD.encode(salt),
            STANDARD.encode(hash)
        ));
    }
    let file = dir.write(&format!("passwd-{iterations}"), &lines);
    let config = Config::default()
        .line(format!("password_file {}", file.display()))
        .line("max_connections -1");
    Mosquitto::start(&config).expect("mosquitto")
}

/// One client's way of logging in.
enum Login {
    Scram(Box<Option<Authenticated>>),
    Password(String),
}

impl Login {
    /// One login on a new connection; returns when the CONNACK arrived.
    fn once(&mut self, addr: SocketAddr, id: &str) {
        let mut conn = Conn::tcp(addr).unwrap();
        match self {
            Login::Password(user) => {
                conn.send_connect(id, None, None, Some((user, PASSWORD.as_bytes())))
                    .unwrap();
                let connack = conn.read().unwrap();
                assert_eq!((connack.kind, connack.reason), (CONNACK, 0));
            }
            Login::Scram(state) => {
                let method = Mechanism::ScramSha256.name();
                let (first, client_first) = state.take().unwrap().reauthenticate(&mut rand::rng());
                conn.send_connect(id, Some(method), Some(&client_first), None)
                    .unwrap();
                let challenge = conn.read().unwrap();
                let (last, client_final) = first
                    .on_server_first(challenge.data.as_deref().unwrap())
                    .unwrap();
                conn.send_auth(0x18, method, Some(&client_final)).unwrap();
                let connack = conn.read().unwrap();
                assert_eq!((connack.kind, connack.reason), (CONNACK, 0));
                **state = Some(
                    last.on_server_final(connack.data.as_deref().unwrap())
                        .unwrap(),
                );
            }
        }
        let _ = conn.send_raw(&[0xE0, 0]);
    }
}

/// Everything measured for one scenario over all batches.
#[derive(Default)]
struct Tally {
    logins: usize,
    wall: Duration,
    cpu: Duration,
    latencies: Vec<Duration>,
}

struct Scenario {
    name: &'static str,
    broker: Mosquitto,
    clients: Vec<Mutex<Login>>,
    tally: Mutex<Tally>,
}

impl Scenario {
    /// 64 clients, 10 logins each, in parallel; the batch's wall time.
    fn batch(&self) -> Duration {
        let addr = self.broker.addr();
        let cpu_before = self.broker.cpu_time();
        let started = Instant::now();
        let latencies: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .clients
                .iter()
                .enumerate()
                .map(|(i, client)| {
                    s.spawn(move || {
                        let mut client = client.lock().unwrap();
                        (0..PER_CLIENT)
                            .map(|_| {
                                let t = Instant::now();
                                client.once(addr, &format!("bench-{i}"));
                                t.elapsed()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let wall = started.elapsed();
        let cpu = self.broker.cpu_time().saturating_sub(cpu_before);
        let mut tally = self.tally.lock().unwrap();
        tally.logins += latencies.len();
        tally.wall += wall;
        tally.cpu += cpu;
        tally.latencies.extend(latencies);
        wall
    }

    fn summary(&self) -> (String, f64, f64) {
        let mut t = self.tally.lock().unwrap();
        t.latencies.sort();
        let pct = |q: f64| t.latencies[((t.latencies.len() as f64 - 1.0) * q) as usize];
        let rate = t.logins as f64 / t.wall.as_secs_f64();
        let cpu_us = t.cpu.as_secs_f64() * 1e6 / t.logins as f64;
        (
            format!(
                "{:<20} {:>7} logins  {:>8.0} conn/s  broker CPU {:>7.1} us/auth  p50 {:>6.2} ms  p99 {:>6.2} ms",
                self.name,
                t.logins,
                rate,
                cpu_us,
                pct(0.50).as_secs_f64() * 1e3,
                pct(0.99).as_secs_f64() * 1e3
            ),
            rate,
            cpu_us,
        )
    }
}

fn scenario(name: &'static str, broker: Mosquitto, scram: bool) -> Scenario {
    let clients = users(CLIENTS)
        .into_iter()
        .enumerate()
        .map(|(i, u)| {
            Mutex::new(if scram {
                let mut conn = Conn::tcp(broker.addr()).unwrap();
                let login = wire::scram_login(
                    &mut conn,
                    &format!("warm-{i}"),
                    Mechanism::ScramSha256,
                    &u,
                    PASSWORD,
                    None,
                )
                .unwrap();
                Login::Scram(Box::new(Some(login.authenticated.expect("login"))))
            } else {
                Login::Password(u)
            })
        })
        .collect();
    Scenario {
        name,
        broker,
        clients,
        tally: Mutex::new(Tally::default()),
    }
}

fn bench(c: &mut Criterion) {
    if !mqtt_scram_testkit::mosquitto::available() {
        return;
    }
    let dir = TempDir::new("mosquitto-bench");
    let scenarios = [
        scenario("scram_sha256", scram_broker(&dir), true),
        scenario("password_file_101", password_broker(&dir, 101), false),
        scenario("password_file_4096", password_broker(&dir, 4096), false),
    ];
    let mut group = c.benchmark_group("mosquitto_connect_64_clients");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for s in &scenarios {
        group.bench_function(s.name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| s.batch()).sum())
        });
    }
    group.finish();

    println!(
        "\nMosquitto CONNECT with {CLIENTS} concurrent clients (all batches, warm-up included):"
    );
    let rows: Vec<_> = scenarios.iter().map(Scenario::summary).collect();
    for (line, _, _) in &rows {
        println!("  {line}");
    }
    let (_, scram_rate, scram_cpu) = rows[0];
    for (s, (_, rate, cpu)) in scenarios.iter().zip(&rows).skip(1) {
        println!(
            "  scram_sha256 vs {:<18}: {:.2}x the connections/s, {:.2}x the broker CPU per authentication",
            s.name,
            scram_rate / rate,
            scram_cpu / cpu
        );
    }
    let [scram, ..] = scenarios;
    let log = scram.broker.stop();
    if let Some(line) = log.lines().find(|l| l.contains("longest callback")) {
        let text = line.split_once("mqtt-scram: ").map_or(line, |(_, t)| t);
        println!("  plugin (wall-clock time per broker callback, under this run's load): {text}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
