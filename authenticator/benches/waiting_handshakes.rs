//! Handshakes 1 → 100,000 waiting at once (issue 22 §2), in process: for each N, N
//! `ConnectionAuth`s (distinct peers in 127.0.0.0/8, as many tokio tasks on a 2-worker
//! runtime, each as a broker's connection task would be: CONNECT → AUTH 0x18 sent, then
//! `timeout()` awaited — the client never answers) are started; then
//! - memory per waiting handshake: heap bytes (counting allocator) and RSS growth from
//!   before the first CONNECT to all N waiting, divided by N: the task, its timer, the
//!   `ConnectionAuth` with its `ServerChallenge`, the admission's place and per-address
//!   entry, the connection info — everything the connection costs the authenticator;
//! - a legitimate client's login latency (CONNECT → … → CONNACK 0x00 through
//!   `on_connect`/`on_auth`, its SaltedPassword cached so no client PBKDF2 is timed, one
//!   login at a time) while the N wait: p50/p99/p99.9/max;
//! - the cost of expiring them: process CPU time from the first deadline until every task
//!   has returned its CONNACK 0x87, per handshake, plus the same logins timed meanwhile;
//! - heap left once all expired (should be back to the start).
//!
//! ```sh
//! cargo bench -p mqtt-scram-authenticator --bench waiting_handshakes
//! SCALE_MAX_HANDSHAKES=10000 cargo bench -p mqtt-scram-authenticator --bench waiting_handshakes
//! ```
//!
//! `SCALE_MAX_HANDSHAKES` (default 100,000), `SCALE_LOGINS` per phase (default 2,000),
//! `SCALE_FIRST_STEP_SECS` (the first-step timeout, default 8). Writes
//! `target/scale/waiting.csv` (or `$SCALE_CSV_DIR`) for `tools/plot_scale.py`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "../../stores/benches/support/scale.rs"]
mod scale;

use std::alloc::System;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mqtt_scram::client::{self, Authenticated, ClientConfig};
use mqtt_scram::provider::{MemoryProvider, UserRecord};
use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism, ServerConfig, StoredCredentials};
use mqtt_scram_authenticator::admission::AdmissionPolicy;
use mqtt_scram_authenticator::{Authenticator, Status};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use scale::{ns, summary};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Net heap bytes (stats_alloc counts a realloc's change in allocated/deallocated).
fn net(stats: stats_alloc::Stats) -> i64 {
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

fn authenticator(n: usize, first_step: Duration) -> Authenticator {
    let store = MemoryProvider::new();
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)
            .unwrap();
    store.insert("alice", UserRecord::new(creds));
    let mut policy = AdmissionPolicy::default();
    // Room for the N waiting and the legitimate client (the default cap is 100,000).
    policy.max_handshakes = n + 1_000;
    policy.first_step_timeout = first_step;
    Authenticator::builder(ServerConfig::new([0x5a; 32]), store)
        .admission(policy)
        .build()
        .unwrap()
}

/// The i-th address of 127.0.0.0/8 (one per waiting connection).
fn peer(i: usize) -> SocketAddr {
    let i = i + 1;
    SocketAddr::from((
        [127, (i >> 16) as u8, (i >> 8) as u8, i as u8],
        40_000 + (i % 20_000) as u16,
    ))
}

/// One full login; returns the client for the next one and the latency.
async fn login(a: &Authenticator, client: Authenticated, k: usize) -> (Authenticated, Duration) {
    let info = ConnectionInfo::new("legit").with_peer(SocketAddr::from(([10, 0, 0, 1], 50_000)));
    let (c, first) = client.reauthenticate(&mut rand::rng());
    let started = Instant::now();
    let mut auth = a.connection(Arc::new(info));
    let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
    assert_eq!(step.reason_code, 0x18, "login {k}: {step:?}");
    let (c, last) = c.on_server_first(step.data.as_deref().unwrap()).unwrap();
    let step = auth.on_auth(0x18, Some("SCRAM-SHA-256"), Some(&last)).await;
    assert!(
        matches!(step.status, Status::Authenticated(_)),
        "login {k}: {step:?}"
    );
    let took = started.elapsed();
    (
        c.on_server_final(step.data.as_deref().unwrap()).unwrap(),
        took,
    )
}

/// The first login of the legitimate client (its one PBKDF2).
async fn warm(a: &Authenticator) -> Authenticated {
    let (c, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        "pencil",
        &mut rand::rng(),
    )
    .unwrap();
    let mut auth = a.connection(Arc::new(ConnectionInfo::new("warm")));
    let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
    let (c, last) = c.on_server_first(step.data.as_deref().unwrap()).unwrap();
    let step = auth.on_auth(0x18, Some("SCRAM-SHA-256"), Some(&last)).await;
    c.on_server_final(step.data.as_deref().unwrap()).unwrap()
}

/// The authenticator's share alone: N `ConnectionAuth`s after their AUTH 0x18, held in a
/// `Vec` (no task, no timer); heap bytes per handshake.
fn bare(n: usize) -> f64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let a = authenticator(n, Duration::from_secs(60));
    let firsts: Vec<Vec<u8>> = (0..n)
        .map(|_| {
            client::start(
                &ClientConfig::new(),
                Mechanism::ScramSha256,
                "alice",
                "pencil",
                &mut rand::rng(),
            )
            .unwrap()
            .1
        })
        .collect();
    let mut held = Vec::with_capacity(n);
    let region = Region::new(GLOBAL);
    runtime.block_on(async {
        for (i, first) in firsts.iter().enumerate() {
            let info = ConnectionInfo::new(format!("waiting-{i}")).with_peer(peer(i));
            let mut auth = a.connection(Arc::new(info));
            let step = auth.on_connect("SCRAM-SHA-256", Some(first)).await;
            assert_eq!(step.reason_code, 0x18, "{step:?}");
            held.push(auth);
        }
    });
    let heap = net(region.change());
    (heap as f64 + (n * std::mem::size_of::<mqtt_scram_authenticator::ConnectionAuth>()) as f64)
        / n as f64
}

struct Row {
    n: usize,
    bare: f64,
    create: Duration,
    heap: i64,
    rss: i64,
    waiting: [Duration; 4],
    expiring: [Duration; 4],
    expiring_logins: usize,
    expiry_cpu: Duration,
    expiry_wall: Duration,
    heap_left: i64,
}

fn run(n: usize, logins: usize, first_step: Duration) -> Row {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let a = authenticator(n, first_step);
    let mut client = Some(runtime.block_on(warm(&a)));
    // Client-first messages made up front: the waiting clients' side is not measured.
    let firsts: Vec<Vec<u8>> = (0..n)
        .map(|_| {
            client::start(
                &ClientConfig::new(),
                Mechanism::ScramSha256,
                "alice",
                "pencil",
                &mut rand::rng(),
            )
            .unwrap()
            .1
        })
        .collect();
    // Freed inside the measured region although allocated before it: added back.
    let freed_inside: i64 = firsts.iter().map(|f| f.capacity() as i64).sum::<i64>()
        + (firsts.capacity() * std::mem::size_of::<Vec<u8>>()) as i64;
    let waiting = Arc::new(AtomicUsize::new(0));
    let rss0 = scale::rss() as i64;
    let region = Region::new(GLOBAL);
    let started = Instant::now();
    let handles: Vec<_> = firsts
        .into_iter()
        .enumerate()
        .map(|(i, first)| {
            let (a, waiting) = (a.clone(), Arc::clone(&waiting));
            let task = async move {
                let info = ConnectionInfo::new(format!("waiting-{i}")).with_peer(peer(i));
                let mut auth = a.connection(Arc::new(info));
                // Boxed, as a broker keeps an idle connection's task small: the task then
                // holds the `ConnectionAuth` and the `timeout()` future, not `on_connect`'s state.
                let step = Box::pin(auth.on_connect("SCRAM-SHA-256", Some(&first))).await;
                drop(first);
                assert_eq!(step.reason_code, 0x18, "{step:?}");
                drop(step); // sent
                waiting.fetch_add(1, Ordering::Release);
                auth.timeout().await.reason_code
            };
            if i == 0 {
                println!(
                    "  one connection's task future: {} B (held in the task's allocation)",
                    std::mem::size_of_val(&task)
                );
            }
            runtime.spawn(task)
        })
        .collect();
    while waiting.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    let create = started.elapsed();
    let heap = net(region.change()) + freed_inside;
    let rss = scale::rss() as i64 - rss0;
    assert!(
        create + Duration::from_millis(500) < first_step,
        "creating {n} took {create:?}: raise SCALE_FIRST_STEP_SECS"
    );
    // Logins while all N wait (before the first deadline).
    let mut quiet = Vec::with_capacity(logins);
    runtime.block_on(async {
        for k in 0..logins {
            if started.elapsed() + Duration::from_millis(200) > first_step {
                break;
            }
            let (c, took) = login(&a, client.take().unwrap(), k).await;
            client = Some(c);
            quiet.push(took);
        }
    });
    let waiting_summary = summary(&mut quiet);
    // Expiry: wait for the first deadline, then time CPU until every task has answered.
    if let Some(left) = first_step.checked_sub(started.elapsed()) {
        std::thread::sleep(left);
    }
    let cpu0 = scale::cpu_time();
    let wall0 = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let prober = {
        let (a, done) = (a.clone(), Arc::clone(&done));
        let mut client = client.take();
        runtime.spawn(async move {
            let mut samples = Vec::with_capacity(logins);
            let mut k = 0;
            while !done.load(Ordering::Acquire) && samples.len() < logins {
                let (c, took) = login(&a, client.take().unwrap(), k).await;
                client = Some(c);
                samples.push(took);
                k += 1;
            }
            samples
        })
    };
    runtime.block_on(async {
        for h in handles {
            assert_eq!(h.await.unwrap(), 0x87);
        }
    });
    let expiry_wall = wall0.elapsed();
    done.store(true, Ordering::Release);
    let mut expiring = runtime.block_on(prober).unwrap();
    let expiry_cpu = scale::cpu_time().saturating_sub(cpu0);
    let expiring_logins = expiring.len();
    let expiring_summary = summary(&mut expiring);
    assert_eq!(a.admission().stats().handshakes, 0);
    let heap_left = net(region.change()) + freed_inside;
    Row {
        n,
        bare: bare(n),
        create,
        heap,
        rss,
        waiting: waiting_summary,
        expiring: expiring_summary,
        expiring_logins,
        expiry_cpu,
        expiry_wall,
        heap_left,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let max = scale::env_usize("SCALE_MAX_HANDSHAKES", 100_000);
    let logins = scale::env_usize("SCALE_LOGINS", 2_000);
    let first_step = Duration::from_secs(scale::env_usize("SCALE_FIRST_STEP_SECS", 8) as u64);
    println!(
        "sizes: ConnectionAuth {} B, ConnectionInfo {} B",
        std::mem::size_of::<mqtt_scram_authenticator::ConnectionAuth>(),
        std::mem::size_of::<ConnectionInfo>()
    );
    println!(
        "waiting_handshakes: up to {max} waiting, {logins} logins per phase, first-step \
         timeout {first_step:?}; load average {}",
        scale::loadavg()
    );
    let mut rows = Vec::new();
    for n in scale::decades(1, max) {
        let r = run(n, logins, first_step);
        let [w50, w99, w999, wmax] = r.waiting;
        let [e50, e99, e999, emax] = r.expiring;
        println!(
            "{:>7} waiting: ConnectionAuth alone {:.0} B; started in {:.2} s; with task + timer: heap {:.0} B, RSS {:.0} B per handshake; \
             login p50 {} p99 {} p99.9 {} max {}; expiry {:.0} µs CPU per handshake, \
             {:.2} s wall; logins meanwhile ({}) p50 {} p99 {} p99.9 {} max {}; heap left {} B",
            r.n,
            r.bare,
            r.create.as_secs_f64(),
            r.heap as f64 / r.n as f64,
            r.rss as f64 / r.n as f64,
            ns(w50),
            ns(w99),
            ns(w999),
            ns(wmax),
            r.expiry_cpu.as_secs_f64() * 1e6 / r.n as f64,
            r.expiry_wall.as_secs_f64(),
            r.expiring_logins,
            ns(e50),
            ns(e99),
            ns(e999),
            ns(emax),
            r.heap_left
        );
        rows.push(format!(
            "{},{:.1},{:.4},{:.1},{:.1},{},{},{},{},{},{},{},{},{:.3},{:.4},{},{}",
            r.n,
            r.bare,
            r.create.as_secs_f64(),
            r.heap as f64 / r.n as f64,
            r.rss as f64 / r.n as f64,
            w50.as_nanos(),
            w99.as_nanos(),
            w999.as_nanos(),
            wmax.as_nanos(),
            e50.as_nanos(),
            e99.as_nanos(),
            e999.as_nanos(),
            emax.as_nanos(),
            r.expiry_cpu.as_secs_f64() * 1e6 / r.n as f64,
            r.expiry_wall.as_secs_f64(),
            r.expiring_logins,
            r.heap_left
        ));
        scale::write_csv(
            "waiting",
            "waiting,bare_heap_per_handshake,create_s,heap_per_handshake,rss_per_handshake,login_p50_ns,login_p99_ns,\
             login_p999_ns,login_max_ns,expiring_login_p50_ns,expiring_login_p99_ns,\
             expiring_login_p999_ns,expiring_login_max_ns,expiry_cpu_us_per_handshake,\
             expiry_wall_s,expiring_logins,heap_left",
            &rows,
        );
    }
    println!("load average at the end: {}", scale::loadavg());
}
