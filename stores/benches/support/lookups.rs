//! Shared by the PostgreSQL and Redis benches: 64 lookups at once through the provider or
//! a bare driver, their latencies, and `mqtt-scram import` of many users.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use mqtt_scram::provider::{CredentialProvider, Lookup, LookupRequest};
use mqtt_scram::{ConnectionInfo, Mechanism};

/// Lookups in flight at once.
pub const CONCURRENCY: usize = 64;
/// Users in the store (`user-0` ..).
pub const USERS: usize = 1_000;

/// One lookup of `user-<i mod USERS>` through the provider; its latency.
pub async fn through_provider<P: CredentialProvider>(provider: &P, i: usize) -> Duration {
    let started = Instant::now();
    let connection = ConnectionInfo::new("bench");
    let user = format!("user-{}", i % USERS);
    let lookup = provider
        .lookup(&LookupRequest::new(
            Mechanism::ScramSha256,
            &user,
            &connection,
        ))
        .await;
    assert!(matches!(lookup, Lookup::Found(_)));
    started.elapsed()
}

/// [`CONCURRENCY`] lookups at once, `lookup(base + i)`; their latencies.
pub async fn concurrently<F, L>(base: usize, lookup: F) -> Vec<Duration>
where
    F: Fn(usize) -> L,
    L: Future<Output = Duration>,
{
    join_all((0..CONCURRENCY).map(|i| lookup(base + i))).await
}

/// p50/p99 of single lookups while [`CONCURRENCY`] run at once, both paths in alternating
/// rounds (so background load hits both alike), and each path's lookups per second.
pub fn latencies<A, LA, B, LB>(
    runtime: &tokio::runtime::Runtime,
    store: &str,
    rounds: usize,
    (a_name, a): (&str, A),
    (b_name, b): (&str, B),
) where
    A: Fn(usize) -> LA,
    LA: Future<Output = Duration>,
    B: Fn(usize) -> LB,
    LB: Future<Output = Duration>,
{
    let (mut a_all, mut b_all) = (Vec::new(), Vec::new());
    let (mut a_time, mut b_time) = (Duration::ZERO, Duration::ZERO);
    runtime.block_on(async {
        for round in 0..rounds {
            let base = round * CONCURRENCY;
            let started = Instant::now();
            a_all.extend(concurrently(base, &a).await);
            a_time += started.elapsed();
            let started = Instant::now();
            b_all.extend(concurrently(base, &b).await);
            b_time += started.elapsed();
        }
    });
    for (name, mut all, time) in [(a_name, a_all, a_time), (b_name, b_all, b_time)] {
        all.sort();
        println!(
            "{store} {name}: {:.0} lookups/s, p50 {:?}, p99 {:?} per lookup ({} lookups, {CONCURRENCY} concurrent)",
            all.len() as f64 / time.as_secs_f64(),
            all[all.len() / 2],
            all[all.len() * 99 / 100],
            all.len()
        );
    }
}

/// `mqtt-scram import <users.csv> --to <url> <args>` of N users (default 100,000;
/// `MQTT_SCRAM_BENCH_IMPORT_USERS=0` skips it) at 4096 iterations; its summary line
/// splits the time between hashing and writing.
pub fn import(store: &str, url: &str, args: &[&str]) {
    let n: usize = std::env::var("MQTT_SCRAM_BENCH_IMPORT_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if n == 0 {
        return;
    }
    let dir = mqtt_scram_testkit::TempDir::new(&format!("bench-import-{store}"));
    let mut csv = String::with_capacity(n * 24);
    for i in 0..n {
        csv.push_str(&format!("import-{i},password-{i}\n"));
    }
    let path = dir.write("users.csv", &csv);
    let bin = mqtt_scram_testkit::workspace_bin("mqtt-scram-cli", "mqtt-scram");
    let started = Instant::now();
    let o = std::process::Command::new(bin)
        .args(["import", "--to", url])
        .args(args)
        .arg(&path)
        .output()
        .unwrap();
    mqtt_scram_testkit::check(&o, "mqtt-scram import");
    println!(
        "{store} import of {n} users: {:.1} s wall, {:.0} users/s; {}",
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&o.stderr).trim()
    );
}
