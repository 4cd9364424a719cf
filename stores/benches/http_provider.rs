//! HttpProvider throughput against a local hyper (axum) server, side by side with a bare
//! reqwest client hitting the same server in the same run; cached-hit latency; and
//! p50/p99 latency under 64 concurrent lookups (printed after the criterion groups).
//!
//! `cargo bench --features http --bench http_provider`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use criterion::{Criterion, criterion_group};
use futures_util::FutureExt as _;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{Cached, CredentialProvider, Lookup, LookupRequest};
use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism};
use mqtt_scram_stores::http::{HttpConfig, HttpMethod, HttpProvider, HttpVersion};

const CONCURRENCY: usize = 64;

fn record() -> String {
    let hex = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"QSXCR+Q6sek8bf92", 4096)
        .unwrap()
        .to_emqx_hex();
    format!(
        r#"{{"stored_key":"{}","server_key":"{}","salt":"{}","is_superuser":false}}"#,
        hex.stored_key, hex.server_key, hex.salt
    )
}

/// The server runs on its own single-threaded runtime and thread.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let body = Arc::new(record());
            let router = Router::new().fallback(move || {
                let body = Arc::clone(&body);
                async move {
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json")],
                        (*body).clone(),
                    )
                        .into_response()
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

struct Setup {
    runtime: tokio::runtime::Runtime,
    provider: Arc<HttpProvider>,
    bare: reqwest::Client,
    bare_url: String,
}

fn setup() -> Setup {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr = start_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = HttpConfig::new(format!("http://{addr}/scram"))
        .method(HttpMethod::Get)
        .param("username", "${username}")
        .param("clientid", "${clientid}")
        .http_version(HttpVersion::Http1)
        .pool_size(CONCURRENCY);
    let provider = Arc::new(runtime.block_on(async { HttpProvider::new(config).unwrap() }));
    // The bare client is configured like the provider's (same timeouts, same default
    // headers), so the ratio measures what the provider adds: templates, the response
    // parser and record validation, not HTTP features every production client needs.
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in [
        ("accept", "application/json"),
        ("cache-control", "no-cache"),
        ("connection", "keep-alive"),
        (
            "user-agent",
            concat!("mqtt-scram/", env!("CARGO_PKG_VERSION")),
        ),
    ] {
        headers.insert(name, reqwest::header::HeaderValue::from_static(value));
    }
    let bare = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(5))
        .http1_only()
        .pool_max_idle_per_host(CONCURRENCY)
        .no_proxy()
        .build()
        .unwrap();
    Setup {
        runtime,
        provider,
        bare,
        bare_url: format!("http://{addr}/scram?username=alice&clientid=c1"),
    }
}

async fn provider_lookup(provider: &HttpProvider, connection: &ConnectionInfo) -> Lookup {
    let request = LookupRequest::new(Mechanism::ScramSha256, "alice", connection);
    provider.lookup(&request).await
}

async fn bare_get(client: &reqwest::Client, url: &str) -> usize {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.unwrap().len()
}

fn lookups(c: &mut Criterion) {
    let s = setup();
    let connection = ConnectionInfo::new("c1");
    let mut group = c.benchmark_group("http_lookup_sequential");
    group
        .measurement_time(Duration::from_secs(4))
        .sample_size(30);
    group.bench_function("bare_reqwest_get", |b| {
        b.to_async(&s.runtime)
            .iter(|| bare_get(&s.bare, &s.bare_url))
    });
    group.bench_function("http_provider_lookup", |b| {
        b.to_async(&s.runtime).iter(|| async {
            let answer = provider_lookup(&s.provider, &connection).await;
            assert!(matches!(answer, Lookup::Found(_)));
            black_box(answer)
        })
    });
    group.finish();
}

fn cached_hit(c: &mut Criterion) {
    let s = setup();
    let connection = ConnectionInfo::new("c1");
    let cached = Cached::new(Arc::clone(&s.provider));
    let request = LookupRequest::new(Mechanism::ScramSha256, "alice", &connection);
    s.runtime.block_on(cached.lookup(&request));
    // Context: the same record cloned out of a MemoryProvider (the floor any cache pays).
    let memory = mqtt_scram::provider::MemoryProvider::new();
    if let Lookup::Found(record) = s.runtime.block_on(cached.lookup(&request)) {
        memory.insert_shared("alice", record);
    }
    c.bench_function("memory_provider_lookup", |b| {
        b.iter(|| black_box(memory.lookup(black_box(&request)).now_or_never()))
    });
    c.bench_function("cached_hit", |b| {
        b.iter(|| {
            let answer = cached
                .lookup(black_box(&request))
                .now_or_never()
                .expect("a hit completes at once");
            black_box(answer)
        })
    });
}

/// Runs `CONCURRENCY` tasks for `duration`; returns lookups per second and sorted latencies.
fn concurrent<F, Fut>(
    runtime: &tokio::runtime::Runtime,
    duration: Duration,
    one: F,
) -> (f64, Vec<Duration>)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    runtime.block_on(async move {
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            let one = one.clone();
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                while start.elapsed() < duration {
                    let t = Instant::now();
                    one().await;
                    latencies.push(t.elapsed());
                }
                latencies
            });
        }
        let mut all = Vec::new();
        while let Some(latencies) = tasks.join_next().await {
            all.extend(latencies.unwrap());
        }
        let rate = all.len() as f64 / start.elapsed().as_secs_f64();
        all.sort_unstable();
        (rate, all)
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn concurrency_report() {
    let s = setup();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let secs: u64 = std::env::var("HTTP_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let connection = Arc::new(ConnectionInfo::new("c1"));
    // Short alternating rounds, so load from other processes on the machine hits both sides alike.
    let round = Duration::from_millis(500);
    let (mut bare_count, mut ours_count, mut bare_secs, mut ours_secs) = (0.0, 0.0, 0.0, 0.0);
    let (mut bare_lat, mut ours_lat) = (Vec::new(), Vec::new());
    for _ in 0..secs.max(1) {
        let (bare, url) = (s.bare.clone(), s.bare_url.clone());
        let (rate, lat) = concurrent(&runtime, round, move || {
            let (bare, url) = (bare.clone(), url.clone());
            async move {
                bare_get(&bare, &url).await;
            }
        });
        bare_count += lat.len() as f64;
        bare_secs += lat.len() as f64 / rate;
        bare_lat.extend(lat);
        let (provider, conn) = (Arc::clone(&s.provider), Arc::clone(&connection));
        let (rate, lat) = concurrent(&runtime, round, move || {
            let (provider, conn) = (Arc::clone(&provider), Arc::clone(&conn));
            async move {
                assert!(matches!(
                    provider_lookup(&provider, &conn).await,
                    Lookup::Found(_)
                ));
            }
        });
        ours_count += lat.len() as f64;
        ours_secs += lat.len() as f64 / rate;
        ours_lat.extend(lat);
    }
    bare_lat.sort_unstable();
    ours_lat.sort_unstable();
    println!(
        "\n{CONCURRENCY} concurrent lookups, {secs} alternating rounds of {round:?} per side \
         (client runtime: 1 worker; server: 1 thread)"
    );
    for (name, rate, lat) in [
        ("bare reqwest GET", bare_count / bare_secs, &bare_lat),
        ("HttpProvider::lookup", ours_count / ours_secs, &ours_lat),
    ] {
        println!(
            "  {name:<22} {rate:>9.0} req/s   p50 {:>8.1?}   p99 {:>8.1?}",
            percentile(lat, 0.50),
            percentile(lat, 0.99)
        );
    }
    println!(
        "  ratio provider/bare: {:.1} %",
        100.0 * (ours_count / ours_secs) / (bare_count / bare_secs)
    );
    drop(s.runtime);
}

criterion_group!(benches, lookups, cached_hit);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if std::env::args().all(|a| a != "--list") {
        concurrency_report();
    }
}
