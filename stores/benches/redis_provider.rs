//! RedisProvider against a throw-away local redis-server: 64 concurrent lookups through
//! the provider side by side with the same HGETALL through a bare redis-rs
//! ConnectionManager in the same run; p50/p99 per lookup under that load; and
//! `mqtt-scram import` of 100,000 users (hashing vs writing), printed after the groups.
//!
//! `cargo bench -p mqtt-scram-stores --features redis --bench redis_provider`
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
use mqtt_scram_stores::redis::{RedisConfig, RedisProvider, RedisWriter};
use mqtt_scram_testkit::redis::Single;

const CONCURRENCY: usize = 64;
const USERS: usize = 1_000;

struct Setup {
    runtime: tokio::runtime::Runtime,
    provider: Arc<RedisProvider>,
    bare: redis::aio::ConnectionManager,
    _redis: Single,
    url: String,
}

fn setup() -> Setup {
    let redis = Single::start().expect("Redis is needed for this bench");
    let url = redis.server.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let users: Vec<(String, UserRecord)> = support::users(USERS, HashAlgorithm::Sha256, 16)
        .into_iter()
        .map(|(u, _, r)| (u, r))
        .collect();
    let config = RedisConfig::from_url(&url).unwrap();
    let bare = runtime.block_on(async {
        let writer = RedisWriter::connect(&config).await.unwrap();
        writer.write_all(&users, 1000, |_| {}).await.unwrap();
        redis::aio::ConnectionManager::new(redis::Client::open(url.as_str()).unwrap())
            .await
            .unwrap()
    });
    let provider = Arc::new(RedisProvider::new(config).unwrap());
    Setup {
        runtime,
        provider,
        bare,
        _redis: redis,
        url,
    }
}

async fn through_provider(provider: &RedisProvider, i: usize) -> Duration {
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

/// The same command on a bare connection manager, without the provider.
async fn through_bare_driver(mut conn: redis::aio::ConnectionManager, i: usize) -> Duration {
    let started = Instant::now();
    let key = format!("mqtt_scram:SCRAM-SHA-256:user-{}", i % USERS);
    let value: redis::Value = redis::cmd("HGETALL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
    black_box(value);
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("redis_64_concurrent_lookups");
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
    group.bench_function("bare_connection_manager", |b| {
        b.to_async(&s.runtime).iter(|| {
            round += CONCURRENCY;
            let base = round;
            let conn = s.bare.clone();
            async move {
                join_all((0..CONCURRENCY).map(|i| through_bare_driver(conn.clone(), base + i)))
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
        for round in 0..500 {
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
                join_all((0..CONCURRENCY).map(|i| through_bare_driver(s.bare.clone(), base + i)))
                    .await,
            );
            bare_time += started.elapsed();
        }
    });
    for (name, mut all, time) in [
        ("provider", provider, provider_time),
        ("bare_connection_manager", bare, bare_time),
    ] {
        all.sort();
        println!(
            "redis {name}: {:.0} lookups/s, p50 {:?}, p99 {:?} per lookup ({} lookups, {CONCURRENCY} concurrent)",
            all.len() as f64 / time.as_secs_f64(),
            all[all.len() / 2],
            all[all.len() * 99 / 100],
            all.len()
        );
    }
}

fn import(url: &str) {
    let n: usize = std::env::var("MQTT_SCRAM_BENCH_IMPORT_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if n == 0 {
        return;
    }
    let dir = mqtt_scram_testkit::TempDir::new("bench-import-redis");
    let mut csv = String::with_capacity(n * 24);
    for i in 0..n {
        csv.push_str(&format!("import-{i},password-{i}\n"));
    }
    let path = dir.write("users.csv", &csv);
    let bin = mqtt_scram_testkit::workspace_bin("mqtt-scram-cli", "mqtt-scram");
    let started = Instant::now();
    let o = std::process::Command::new(bin)
        .args(["import", "--to", url, "--key-prefix", "bench_import"])
        .arg(&path)
        .output()
        .unwrap();
    mqtt_scram_testkit::check(&o, "mqtt-scram import");
    println!(
        "redis import of {n} users: {:.1} s wall, {:.0} users/s; {}",
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
