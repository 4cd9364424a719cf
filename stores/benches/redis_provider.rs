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

#[path = "support/lookups.rs"]
mod lookups;
#[path = "../tests/support/remote.rs"]
#[allow(unused)]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use mqtt_scram::HashAlgorithm;
use mqtt_scram_stores::redis::{RedisConfig, RedisProvider, RedisWriter};
use mqtt_scram_testkit::redis::Single;

use lookups::{CONCURRENCY, USERS, concurrently, import, latencies, through_provider};

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
    let users = support::stored(&support::users(USERS, HashAlgorithm::Sha256, 16));
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
    let (provider, bare) = (&*s.provider, &s.bare);
    let mut round = 0usize;
    group.bench_function("provider", |b| {
        b.to_async(&s.runtime).iter(|| {
            round += CONCURRENCY;
            concurrently(round, move |i| through_provider(provider, i))
        })
    });
    group.bench_function("bare_connection_manager", |b| {
        b.to_async(&s.runtime).iter(|| {
            round += CONCURRENCY;
            concurrently(round, move |i| through_bare_driver(bare.clone(), i))
        })
    });
    group.finish();
    latencies(
        &s.runtime,
        "redis",
        500,
        ("provider", |i| through_provider(provider, i)),
        ("bare_connection_manager", |i| {
            through_bare_driver(bare.clone(), i)
        }),
    );
    import("redis", &s.url, &["--key-prefix", "bench_import"]);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
