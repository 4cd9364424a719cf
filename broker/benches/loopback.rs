//! Handshakes per second through the async authenticator on loopback, with the broker's CPU
//! per handshake split into the engine's exchange and the glue (issue 15, last target).
//!
//! The example broker (`mqtt-scram-broker`, this package's binary, default settings: 2 tokio
//! workers, `MemoryProvider` from a JSON record file, default admission policy) runs in its
//! own process, one process per broker configuration (log level, `--metrics`), all started
//! up front; this bench is their load: 1,000 concurrent connections from 50 loopback
//! addresses (20 each, under the default per-address cap), real TCP sockets and MQTT 5 framing.
//! Clients derive their SaltedPassword once per user (1,000 users, 4,096 iterations) before
//! the run and then only compute the per-exchange HMACs (the engine client's
//! re-authentication cache), so no PBKDF2 runs while measuring.
//!
//! Each round measures every broker with every contender in turn (closed loop: each
//! connection starts its next handshake as soon as one ends; a warm-up second, then a
//! window), then the engine alone:
//! - `connect`: a fresh TCP connection per handshake: connect → CONNECT (method, client-first)
//!   → AUTH 0x18 → AUTH 0x18 → CONNACK 0x00 (server signature checked) → DISCONNECT → the
//!   broker closes;
//! - `reauth`: 1,000 open connections, each looping AUTH 0x19 → AUTH 0x18 → AUTH 0x18 →
//!   AUTH 0x00 (the same authenticator path without TCP set-up, task spawn and session);
//! - engine alone: in this process, on one thread, as many exchanges as the round's first
//!   window counted: `start` → `MemoryProvider` lookup → `continue_with` → `finish`, server
//!   side only timed (see `loopback/engine.rs`).
//!
//! Broker CPU is its `utime + stime` from `/proc/<pid>/stat` over the window, divided by
//! the handshakes completed in it; the client's likewise from `/proc/self/stat`; "others"
//! is the rest of the machine's busy time (other engineers' work on a shared machine).
//! Loopback TCP work done in softirq context is charged to whichever process was running,
//! so the kernel's share is split between broker and client roughly, not exactly.
//!
//! ```text
//! ulimit -n 4096   # 1,000 client sockets here, as many in the broker
//! cargo bench -p mqtt-scram-broker --bench loopback
//! # knobs: LOOPBACK_ROUNDS (3), LOOPBACK_SECS (3), LOOPBACK_CONNECTIONS (1000),
//! # LOOPBACK_CLIENT_THREADS (2), LOOPBACK_CONTENDERS ("connect,reauth"),
//! # LOOPBACK_BROKERS: broker processes, `;`-separated, each `[bin=PATH ]RUST_LOG [options]`
//! # (default "info;warn;warn --metrics 127.0.0.1:0": as shipped, quiet log, quiet log with
//! # the Prometheus recorder installed); all run side by side, measured in turn each round
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "loopback/engine.rs"]
mod engine;
#[path = "loopback/mqtt.rs"]
mod mqtt;
#[allow(dead_code)]
#[path = "../../mosquitto/benches/support/procstat.rs"]
mod procstat;
#[path = "../../mosquitto/benches/support/wire.rs"]
mod wire;

use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mqtt_scram::client::{self, Authenticated, ClientConfig};
use mqtt_scram::provider::{MemoryProvider, SyncCredentialProvider, UserRecord};
use mqtt_scram::{
    Clock, ConnectionInfo, HashAlgorithm, Mechanism, Outcome, ScramServer, ServerConfig,
    StartPacket, StoredCredentials, SystemClock,
};
use mqtt_scram_stores::record::{CredentialRecord, json};
use mqtt_scram_testkit::{TempDir, free_port};
use tokio::runtime::Runtime;

use mqtt::{Conn, METHOD};
use procstat::{Cpu, env_or, median};

const PASSWORD: &str = "pencil";
const ITERATIONS: u32 = 4096;
/// Loopback source addresses (127.0.1.1 …): 1,000 connections make 20 per address.
const SOURCES: usize = 50;
/// Clients the engine-alone contender cycles through.
const ENGINE_CLIENTS: usize = 64;

fn username(i: usize) -> String {
    format!("user{i:04}")
}

/// One user per connection, each with its own salt, at the default 4,096 iterations.
fn users(n: usize) -> Vec<(String, UserRecord)> {
    (0..n)
        .map(|i| {
            let salt: [u8; 16] = rand::random();
            let creds =
                StoredCredentials::derive(HashAlgorithm::Sha256, PASSWORD, &salt, ITERATIONS)
                    .unwrap();
            (username(i), UserRecord::new(creds))
        })
        .collect()
}

/// A client that has logged in once (in process): its SaltedPassword is cached, so later
/// logins over the socket cost it HMACs only.
fn warmed(server: &ScramServer, store: &MemoryProvider, user: &str) -> Authenticated {
    let info = Arc::new(ConnectionInfo::new("warm-up"));
    let clock = SystemClock::new();
    let (c, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        user,
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    let packet = StartPacket::Connect {
        method: METHOD,
        data: Some(&first),
    };
    let need = server.start(&info, packet, clock.now()).unwrap();
    let lookup = store.lookup_sync(&need.request());
    let (challenge, reply) = need.continue_with(lookup, &mut rand::rng());
    let (c, last) = c.on_server_first(&reply.data.unwrap()).unwrap();
    match challenge.finish(0x18, METHOD, Some(&last), clock.now()) {
        Outcome::Accepted { reply, .. } => c.on_server_final(&reply.data.unwrap()).unwrap(),
        Outcome::Rejected(r) => panic!("warm-up refused: {r:?}"),
    }
}

/// The broker binary in its own process; killed on drop.
struct BrokerProcess {
    child: Child,
    addr: SocketAddr,
    config: String,
}

impl BrokerProcess {
    /// `config`: `[bin=PATH ]RUST_LOG [extra options]` (another binary, e.g. a build of
    /// `main` to compare with).
    fn start(dir: &TempDir, config: &str) -> Self {
        let (bin, rest) = match config.strip_prefix("bin=") {
            Some(rest) => rest.split_once(' ').unwrap_or((rest, "")),
            None => (env!("CARGO_BIN_EXE_mqtt-scram-broker"), config),
        };
        let (log, extra) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = Command::new(bin)
            .arg("--credentials")
            .arg(dir.join("users.json"))
            .arg("--mock-key-file")
            .arg(dir.join("mock.key"))
            .args(["--tcp", &addr.to_string(), "--mechanisms", METHOD])
            .args(extra.split_whitespace())
            .env("RUST_LOG", log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let broker = Self {
            child,
            addr,
            config: config.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "the broker did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    fn cpu(&self) -> Cpu {
        Cpu::of(&self.child.id().to_string())
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one window measured.
#[derive(Clone, Copy)]
struct Window {
    handshakes: u64,
    wall: Duration,
    broker: Cpu,
    client: Cpu,
    others: Duration,
}

impl Window {
    fn rate(&self) -> f64 {
        self.handshakes as f64 / self.wall.as_secs_f64()
    }

    fn per_handshake(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.handshakes as f64
    }
}

/// Samples counters over `window` after `warm_up`, while the workers run; then stops them.
async fn measure(
    broker: &BrokerProcess,
    done: &AtomicU64,
    stop: &AtomicBool,
    warm_up: Duration,
    window: Duration,
) -> Window {
    tokio::time::sleep(warm_up).await;
    let (n0, t0, b0, c0, m0) = (
        done.load(Ordering::Relaxed),
        Instant::now(),
        broker.cpu(),
        Cpu::of("self"),
        procstat::machine_busy(),
    );
    tokio::time::sleep(window).await;
    let (n1, t1, b1, c1, m1) = (
        done.load(Ordering::Relaxed),
        Instant::now(),
        broker.cpu(),
        Cpu::of("self"),
        procstat::machine_busy(),
    );
    stop.store(true, Ordering::Relaxed);
    let (broker, client) = (b1.since(b0), c1.since(c0));
    Window {
        handshakes: n1 - n0,
        wall: t1 - t0,
        broker,
        client,
        others: (m1.saturating_sub(m0)).saturating_sub(broker.total() + client.total()),
    }
}

fn source(i: usize) -> IpAddr {
    IpAddr::from([127, 0, 1, (i % SOURCES) as u8 + 1])
}

/// `connect`: a new connection per handshake, until stopped.
fn connect_window(
    rt: &Runtime,
    broker: &BrokerProcess,
    clients: &mut Vec<Authenticated>,
    secs: Duration,
) -> Window {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = broker.addr;
    rt.block_on(async {
        let tasks: Vec<_> = clients
            .drain(..)
            .enumerate()
            .map(|(i, mut client)| {
                let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
                tokio::spawn(async move {
                    let id = format!("bench-{i}");
                    while !stop.load(Ordering::Relaxed) {
                        let mut conn = Conn::open(addr, source(i)).await;
                        client = conn.login(client, &id).await;
                        conn.disconnect().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    client
                })
            })
            .collect();
        let window = measure(broker, &done, &stop, Duration::from_secs(1), secs).await;
        for task in tasks {
            clients.push(task.await.unwrap());
        }
        window
    })
}

/// `reauth`: every connection logs in once, then re-authenticates until stopped.
fn reauth_window(
    rt: &Runtime,
    broker: &BrokerProcess,
    clients: &mut Vec<Authenticated>,
    secs: Duration,
) -> Window {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(tokio::sync::Barrier::new(clients.len() + 1));
    let addr = broker.addr;
    rt.block_on(async {
        let tasks: Vec<_> = clients
            .drain(..)
            .enumerate()
            .map(|(i, client)| {
                let (done, stop, ready) =
                    (Arc::clone(&done), Arc::clone(&stop), Arc::clone(&ready));
                tokio::spawn(async move {
                    let mut conn = Conn::open(addr, source(i)).await;
                    let mut client = conn.login(client, &format!("bench-{i}")).await;
                    ready.wait().await;
                    while !stop.load(Ordering::Relaxed) {
                        client = conn.reauthenticate(client).await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    conn.disconnect().await;
                    client
                })
            })
            .collect();
        ready.wait().await;
        let window = measure(broker, &done, &stop, Duration::from_secs(1), secs).await;
        for task in tasks {
            clients.push(task.await.unwrap());
        }
        window
    })
}

/// One broker and contender over the rounds: handshakes/s and broker CPU µs per handshake.
struct Series<'a> {
    broker: usize,
    contender: &'a str,
    rates: Vec<f64>,
    cpus: Vec<f64>,
}

fn main() {
    let rounds: usize = env_or("LOOPBACK_ROUNDS", 3);
    let secs = Duration::from_secs_f64(env_or("LOOPBACK_SECS", 3.0));
    let connections: usize = env_or("LOOPBACK_CONNECTIONS", 1000);
    let client_threads: usize = env_or("LOOPBACK_CLIENT_THREADS", 2);
    let brokers: String = env_or(
        "LOOPBACK_BROKERS",
        "info;warn;warn --metrics 127.0.0.1:0".to_string(),
    );
    let contenders: String = env_or("LOOPBACK_CONTENDERS", "connect,reauth".to_string());

    let setup = Instant::now();
    let dir = TempDir::new("loopback-bench");
    let users = users(connections.max(ENGINE_CLIENTS));
    let records: Vec<_> = users
        .iter()
        .map(|(name, record)| CredentialRecord::new(name, record))
        .collect();
    dir.write("users.json", &json::write_lines(&records).unwrap());
    let key = dir.write("mock.key", &hex::encode(rand::random::<[u8; 32]>()));
    {
        // The broker refuses a mock key file others can read.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let server = ScramServer::new(ServerConfig::new(rand::random())).unwrap();
    let store = MemoryProvider::new();
    store.replace_all(users);
    let mut clients: Vec<_> = (0..connections)
        .map(|i| warmed(&server, &store, &username(i)))
        .collect();
    let mut engine_clients: Vec<_> = (0..ENGINE_CLIENTS)
        .map(|i| warmed(&server, &store, &username(i)))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .enable_all()
        .build()
        .unwrap();
    eprintln!(
        "loopback: {connections} connections from {SOURCES} addresses, {rounds} rounds of {secs:?} windows, \
         client runtime {client_threads} workers; set-up {:.1?}",
        setup.elapsed()
    );

    let brokers: Vec<BrokerProcess> = brokers
        .split(';')
        .map(|config| BrokerProcess::start(&dir, config.trim()))
        .collect();
    let names: Vec<&str> = contenders.split(',').map(str::trim).collect();
    let load_before = procstat::load_average_1m();
    println!("\nload average {load_before:.2} before; brokers:");
    for (i, broker) in brokers.iter().enumerate() {
        println!("  B{i}: {} (pid {})", broker.config, broker.child.id());
    }
    println!(
        "\n| round | broker | contender | handshakes | handshakes/s | broker CPU/handshake (user + sys) | client CPU/handshake | others' CPU in window | engine share of broker CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut results: Vec<Series> = Vec::new();
    let mut engine_us = Vec::new();
    for round in 1..=rounds {
        let mut windows: Vec<(usize, &str, Window)> = Vec::new();
        for (b, broker) in brokers.iter().enumerate() {
            for &name in &names {
                let window = match name {
                    "connect" => connect_window(&rt, broker, &mut clients, secs),
                    "reauth" => reauth_window(&rt, broker, &mut clients, secs),
                    other => panic!("unknown contender {other:?} (connect, reauth)"),
                };
                windows.push((b, name, window));
            }
        }
        // As many exchanges as the first window counted.
        let n = windows.first().map_or(10_000, |(.., w)| w.handshakes);
        let timed = engine::exchanges(&server, &store, &mut engine_clients, n);
        let engine = timed.as_secs_f64() * 1e6 / n as f64;
        engine_us.push(engine);
        for (b, name, w) in windows {
            let broker_us = w.per_handshake(w.broker.total());
            println!(
                "| {round} | B{b} | {name} | {} | {:.0} | {broker_us:.1} µs ({:.1} + {:.1}) | {:.1} µs | {:.2} s | {:.0} % |",
                w.handshakes,
                w.rate(),
                w.per_handshake(w.broker.user),
                w.per_handshake(w.broker.system),
                w.per_handshake(w.client.total()),
                w.others.as_secs_f64(),
                100.0 * engine / broker_us,
            );
            match results
                .iter_mut()
                .find(|r| (r.broker, r.contender) == (b, name))
            {
                Some(series) => {
                    series.rates.push(w.rate());
                    series.cpus.push(broker_us);
                }
                None => results.push(Series {
                    broker: b,
                    contender: name,
                    rates: vec![w.rate()],
                    cpus: vec![broker_us],
                }),
            }
        }
        println!(
            "| {round} | – | engine alone (1 thread, server side only) | {n} | {:.0} | {engine:.2} µs (wall) | – | – | – |",
            1e6 / engine,
        );
    }
    let engine = median(engine_us.clone());
    println!(
        "\nmedians over {rounds} rounds (load average {load_before:.2} before, {:.2} after); engine alone {engine:.2} µs per exchange (range {:.2}–{:.2}):",
        procstat::load_average_1m(),
        engine_us.iter().copied().fold(f64::INFINITY, f64::min),
        engine_us.iter().copied().fold(0.0, f64::max),
    );
    for Series {
        broker: b,
        contender: name,
        rates,
        cpus,
    } in results
    {
        let (lo, hi) = (
            cpus.iter().copied().fold(f64::INFINITY, f64::min),
            cpus.iter().copied().fold(0.0, f64::max),
        );
        let cpu = median(cpus);
        println!(
            "  B{b} {name}: {:.0} handshakes/s, broker {cpu:.1} µs/handshake (range {lo:.1}–{hi:.1}) = engine {engine:.2} µs ({:.0} %) + glue {:.1} µs",
            median(rates),
            100.0 * engine / cpu,
            cpu - engine
        );
    }
}
