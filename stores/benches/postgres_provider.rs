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
use mqtt_scram_stores::postgres::{PostgresConfig, PostgresProvider, PostgresWriter};
use mqtt_scram_testkit::postgres::Cluster;

use lookups::{CONCURRENCY, USERS, concurrently, import, latencies, through_provider};

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
    let users = support::stored(&support::users(USERS, HashAlgorithm::Sha256, 16));
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
    let (provider, bare) = (&*s.provider, &*s.bare);
    let mut round = 0usize;
    group.bench_function("provider", |b| {
        b.to_async(&s.runtime).iter(|| {
            round += CONCURRENCY;
            concurrently(round, move |i| through_provider(provider, i))
        })
    });
    group.bench_function("bare_driver_and_pool", |b| {
        b.to_async(&s.runtime).iter(|| {
            round += CONCURRENCY;
            concurrently(round, move |i| through_bare_driver(bare, i))
        })
    });
    group.finish();
    latencies(
        &s.runtime,
        "postgres",
        300,
        ("provider", |i| through_provider(provider, i)),
        ("bare_driver_and_pool", |i| through_bare_driver(bare, i)),
    );
    import(
        "postgres",
        &s.url,
        &["--create-table", "--table", "bench_import"],
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
