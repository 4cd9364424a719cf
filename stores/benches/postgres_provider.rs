//! PostgresProvider against a throw-away local PostgreSQL: 64 concurrent lookups through
//! the provider side by side with the same prepared query through the bare deadpool pool
//! and tokio-postgres in the same run; p50/p99 per lookup under that load; and
//! `mqtt-scram import` of 100,000 users (hashing vs writing), printed after the groups.
//!
//! `cargo bench -p mqtt-scram-stores --features postgres --bench postgres_provider`
//! (`MQTT_SCRAM_BENCH_IMPORT_USERS=0` skips the import run).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "../tests/support/remote.rs"]
#[allow(unused)]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use futures_util::future::join_all;
use mqtt_scram::provider::{CredentialProvider, Lookup, LookupRequest, UserRecord};
use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism};
use mqtt_scram_stores::postgres::{PostgresConfig, PostgresProvider, PostgresWriter};
use mqtt_scram_testkit::postgres::Cluster;

const CONCURRENCY: usize = 64;
const USERS: usize = 1_000;
const PASSWORD: &str = "bench-pw";

struct Setup {
    runtime: tokio::runtime::Runtime,
    provider: Arc<PostgresProvider>,
    bare: Arc<PostgresProvider>,
    _cluster: Cluster,
    url: String,
}

fn setup() -> Setup {
    let cluster = Cluster::start().expect("PostgreSQL is needed for this bench");
    cluster.set_password("postgres", PASSWORD);
    // Two pools of 64 (provider and bare) need more than the default 100 connections.
    cluster.admin_sql("ALTER SYSTEM SET max_connections = 300");
    cluster.stop();
    cluster.restart();
    let url = cluster.url("postgres", PASSWORD);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let users: Vec<(String, UserRecord)> = support::users(USERS, HashAlgorithm::Sha256, 16)
        .into_iter()
        .map(|(u, _, r)| (u, r))
        .collect();
    let config = PostgresConfig::new(&url).pool_size(CONCURRENCY);
    runtime.block_on(async {
        let mut writer = PostgresWriter::connect(&config).await.unwrap();
        writer.create_schema().await.unwrap();
        writer.write_all(&users, 1000, |_| {}).await.unwrap();
    });
    Setup {
        provider: Arc::new(PostgresProvider::new(config.clone()).unwrap()),
        // Only its pool and SQL are used: the bare driver path.
        bare: Arc::new(PostgresProvider::new(config).unwrap()),
        runtime,
        _cluster: cluster,
        url,
    }
}

async fn through_provider(provider: &PostgresProvider, i: usize) -> Duration {
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

/// The same prepared query on the same kind of pool, without the provider.
async fn through_bare_driver(bare: &PostgresProvider, i: usize) -> Duration {
    let started = Instant::now();
    let user = format!("user-{}", i % USERS);
    let client = bare.pool().get().await.unwrap();
    let statement = client.prepare_cached(bare.sql()).await.unwrap();
    let row = client
        .query_opt(&statement, &[&user, &"SCRAM-SHA-256"])
        .await
        .unwrap();
    black_box(row.unwrap());
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("postgres_64_concurrent_lookups");
    group.throughput(Throughput::Elements(CONCURRENCY as u64));
    group.sample_size(30);
    let mut round = 0usize;
    group.bench_function("provider", |b| {
        b.to_async(&s.runtime).iter(|| {
            round += CONCURRENCY;
            let base = round;
            let p = Arc::clone(&s.provider);
            async move {
                join_all((0..CONCURRENCY).map(|i| {
                    let p = Arc::clone(&p);
                    async move { through_provider(&p, base + i).await }
                }))
                .await
            }
        })
    });
    group.bench_function("bare_driver_and_pool", |b| {
        b.to_async(&s.runtime).iter(|| {
            round += CONCURRENCY;
            let base = round;
            let p = Arc::clone(&s.bare);
            async move {
                join_all((0..CONCURRENCY).map(|i| {
                    let p = Arc::clone(&p);
                    async move { through_bare_driver(&p, base + i).await }
                }))
                .await
            }
        })
    });
    group.finish();
    latencies(&s);
    import(&s.url);
}

/// p50/p99 of single lookups while 64 run at once, both paths in alternating rounds (so
/// background load hits both alike), and each path's lookups per second.
fn latencies(s: &Setup) {
    let (mut provider, mut bare) = (Vec::new(), Vec::new());
    let (mut provider_time, mut bare_time) = (Duration::ZERO, Duration::ZERO);
    s.runtime.block_on(async {
        for round in 0..300 {
            let base = round * CONCURRENCY;
            let started = Instant::now();
            provider.extend(
                join_all((0..CONCURRENCY).map(|i| {
                    let p = Arc::clone(&s.provider);
                    async move { through_provider(&p, base + i).await }
                }))
                .await,
            );
            provider_time += started.elapsed();
            let started = Instant::now();
            bare.extend(
                join_all((0..CONCURRENCY).map(|i| {
                    let p = Arc::clone(&s.bare);
                    async move { through_bare_driver(&p, base + i).await }
                }))
                .await,
            );
            bare_time += started.elapsed();
        }
    });
    for (name, mut all, time) in [
        ("provider", provider, provider_time),
        ("bare_driver_and_pool", bare, bare_time),
    ] {
        all.sort();
        println!(
            "postgres {name}: {:.0} lookups/s, p50 {:?}, p99 {:?} per lookup ({} lookups, {CONCURRENCY} concurrent)",
            all.len() as f64 / time.as_secs_f64(),
            all[all.len() / 2],
            all[all.len() * 99 / 100],
            all.len()
        );
    }
}

/// `mqtt-scram import` of N users (default 100,000) at 4096 iterations; its summary line
/// splits the time between hashing and writing.
fn import(url: &str) {
    let n: usize = std::env::var("MQTT_SCRAM_BENCH_IMPORT_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if n == 0 {
        return;
    }
    let dir = mqtt_scram_testkit::TempDir::new("bench-import-pg");
    let mut csv = String::with_capacity(n * 24);
    for i in 0..n {
        csv.push_str(&format!("import-{i},password-{i}\n"));
    }
    let path = dir.write("users.csv", &csv);
    let bin = mqtt_scram_testkit::workspace_bin("mqtt-scram-cli", "mqtt-scram");
    let started = Instant::now();
    let o = std::process::Command::new(bin)
        .args([
            "import",
            "--to",
            url,
            "--create-table",
            "--table",
            "bench_import",
        ])
        .arg(&path)
        .output()
        .unwrap();
    mqtt_scram_testkit::check(&o, "mqtt-scram import");
    println!(
        "postgres import of {n} users: {:.1} s wall, {:.0} users/s; {}",
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&o.stderr).trim()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
