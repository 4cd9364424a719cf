//! The auth service under load (issue 19 "Bench", issue 22 §4), each comparison side by side
//! in one run against a bare axum handler served the same way:
//!
//! - EMQX 5 lookups/s (`GET /emqx5/scram?username=…`) with a file store, a real Redis and
//!   that Redis behind the stores' TTL cache (`kind = "cached"`, 60 s) (10k users), next to
//!   a bare axum `GET` answering a fixed body of the same size;
//! - VerneMQ `on_auth_m5` exchanges/s (two webhook calls each; the client re-authenticates
//!   with the engine's cached SaltedPassword, so it runs no PBKDF2), next to a bare `POST`;
//! - EMQX 4 clear-password checks/s (`auth_req`: PBKDF2 with the record's salt and count)
//!   on one and on two password-work threads, next to the PBKDF2 floor
//!   (`StoredCredentials::derive`, same count) measured on one thread in the same run;
//! - with `SCALE_1M=1`, lookups and exchanges with 1M users in a file, in Redis and in a
//!   three-master Redis Cluster (testkit).
//!
//! ```sh
//! cargo bench -p mqtt-scram-service --bench auth_service
//! SCALE_1M=1 cargo bench -p mqtt-scram-service --bench auth_service
//! ```
//!
//! Each server runs on its own thread with a multi-thread runtime of
//! `AUTH_BENCH_SERVER_THREADS` workers (default 1); the client is a current-thread runtime
//! on the bench thread with `AUTH_BENCH_CONNECTIONS` keep-alive connections (default 32),
//! one request in flight on each. Criterion's groups give each case alone; the summary
//! printed at the end alternates short rounds of each side (`AUTH_BENCH_ROUNDS`, default 8,
//! of `AUTH_BENCH_ROUND_MS`, default 500) and gives the ratios.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use std::time::Duration;

use criterion::{Criterion, Throughput};
use hyper::Method;
use hyper::body::Bytes;
use mqtt_scram::{HashAlgorithm, StoredCredentials};
use mqtt_scram_testkit::TempDir;
use mqtt_scram_testkit::redis::{Cluster, Single};

use support::client::{self, Conn, Load, Stop, Worker, on_auth_body};
use support::data::{self, ITERATIONS, PASSWORD};
use support::servers::{self, Server};
use support::{Report, Side, env_or};

const LOOKUP: &str = "/emqx5/scram?username=";
const BARE: &str = "/bare?username=";

/// The service with every contract the bench uses, on `store` (a URL or path).
fn service(store: &str, extra: &str) -> Server {
    service_on(&format!("store = \"{store}\"\n"), extra)
}

/// The service on a store given as a top-level TOML line (`store = "…"` or an inline
/// table), then `extra` (more tables).
fn service_on(store: &str, extra: &str) -> Server {
    servers::service(&format!(
        "{store}lookup_timeout = 5\n[emqx5]\n[emqx4]\n[vernemq]\nmax_handshakes = 10000\n{extra}"
    ))
}

/// Redis behind the stores' TTL cache (`kind = "cached"`), as operators put a remote store.
fn cached(url: &str) -> String {
    format!(
        "store = {{ kind = \"cached\", ttl = \"60s\", inner = {{ kind = \"redis\", url = \"{url}\" }} }}\n"
    )
}

/// One request on a fresh connection; the answer body (also waits until the server is up).
fn sample(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Bytes {
    runtime.block_on(async {
        let mut conn = Conn::connect(server.addr).await;
        let (status, body) = conn.call(method, path, headers, body).await;
        assert_eq!(status, 200, "{path}: {body:?}");
        body
    })
}

struct Bench {
    runtime: tokio::runtime::Runtime,
    connections: usize,
    report: Report,
    dir: TempDir,
}

impl Bench {
    fn workers(&self, server: &Server) -> Vec<Worker> {
        client::workers(&self.runtime, server.addr, self.connections)
    }

    fn scram_workers(&self, server: &Server, users: usize) -> Vec<Worker> {
        let mut workers = self.workers(server);
        self.runtime.block_on(async {
            for w in &mut workers {
                w.prepare_scram(4, users).await;
            }
        });
        workers
    }
}

/// The bare handler's bodies: the EMQX 5 answer and the first `on_auth_m5` answer of the
/// service, byte for byte (so both sides move the same bytes); and the bare POST load,
/// shaped like an `on_auth_m5` call.
fn bare_server(b: &Bench, service: &Server) -> (Server, Load) {
    let lookup = sample(
        &b.runtime,
        service,
        Method::GET,
        &format!("{LOOKUP}user-0"),
        &[],
        Bytes::new(),
    );
    let (_, first) = mqtt_scram::client::start(
        &mqtt_scram::client::ClientConfig::new(),
        mqtt_scram::Mechanism::ScramSha256,
        "user-0",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    let hook = [
        ("content-type", "application/json"),
        ("vernemq-hook", "on_auth_m5"),
    ];
    let call = on_auth_body("sample", &first);
    let answer = sample(
        &b.runtime,
        service,
        Method::POST,
        "/vernemq",
        &hook,
        call.clone(),
    );
    let post = Load::Post {
        path: "/bare".into(),
        body: call,
        headers: hook
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    (servers::bare(lookup, answer), post)
}

fn throughput_case(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    workers: &mut [Worker],
    load: &Load,
) {
    group.bench_function(name, |bencher| {
        bencher.iter_custom(|iters| client::run(runtime, workers, load, Stop::Ops(iters)).1)
    });
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(env_or("AUTH_BENCH_SECS", 3)));
}

/// Lookups and exchanges, bare vs the stores, `users` users. `cluster`: a Redis Cluster too.
fn lookups_and_exchanges(
    c: &mut Criterion,
    b: &mut Bench,
    users: usize,
    label: &str,
    cluster: bool,
) {
    let file = data::write_file(b.dir.path(), users);
    let redis = Single::start().expect("Redis (redis-server) is needed");
    data::fill_redis(&b.runtime, &redis.server.url(), users);
    let redis_cluster = cluster.then(|| {
        let cluster = Cluster::start().expect("Redis (redis-server) is needed");
        data::fill_redis(&b.runtime, &cluster.url(), users);
        cluster
    });
    let mut stores = vec![
        (
            format!("file_{label}"),
            service(&file.display().to_string(), ""),
        ),
        (format!("redis_{label}"), service(&redis.server.url(), "")),
        (
            format!("redis_cached_{label}"),
            service_on(&cached(&redis.server.url()), ""),
        ),
    ];
    if let Some(cl) = &redis_cluster {
        stores.push((format!("redis_cluster_{label}"), service(&cl.url(), "")));
    }
    let (bare, bare_post) = bare_server(b, &stores[0].1);
    let mut bare_workers = b.workers(&bare);
    let bare_get = Load::Get {
        prefix: BARE.into(),
        users,
    };
    let lookup = Load::Get {
        prefix: LOOKUP.into(),
        users,
    };
    let mut store_workers: Vec<Vec<Worker>> = stores
        .iter()
        .map(|(_, server)| b.scram_workers(server, users))
        .collect();

    let mut group = c.benchmark_group(format!("emqx5_lookup_{label}"));
    configure(&mut group);
    throughput_case(
        &mut group,
        &b.runtime,
        "bare_axum_get",
        &mut bare_workers,
        &bare_get,
    );
    for ((name, _), workers) in stores.iter().zip(store_workers.iter_mut()) {
        throughput_case(&mut group, &b.runtime, name, workers, &lookup);
    }
    group.finish();
    let mut group = c.benchmark_group(format!("vernemq_on_auth_m5_{label}"));
    configure(&mut group);
    throughput_case(
        &mut group,
        &b.runtime,
        "bare_axum_post (one call)",
        &mut bare_workers,
        &bare_post,
    );
    for ((name, _), workers) in stores.iter().zip(store_workers.iter_mut()) {
        throughput_case(
            &mut group,
            &b.runtime,
            &format!("{name} (one exchange)"),
            workers,
            &Load::OnAuth,
        );
    }
    group.finish();

    b.report.note(format!(
        "load average before the summary rounds: {}",
        support::load_average()
    ));
    let mut sides = vec![Side::Http {
        name: "bare axum GET",
        workers: &mut bare_workers,
        load: &bare_get,
    }];
    for ((name, _), workers) in stores.iter().zip(store_workers.iter_mut()) {
        sides.push(Side::Http {
            name,
            workers,
            load: &lookup,
        });
    }
    b.report.compare(
        &format!("EMQX 5 lookups/s, {label} users"),
        &b.runtime,
        &mut sides,
    );
    drop(sides);
    let on_auth = Load::OnAuth;
    let mut sides = vec![Side::Http {
        name: "bare axum POST (calls/s)",
        workers: &mut bare_workers,
        load: &bare_post,
    }];
    for ((name, _), workers) in stores.iter().zip(store_workers.iter_mut()) {
        sides.push(Side::Http {
            name,
            workers,
            load: &on_auth,
        });
    }
    let rates = b.report.compare(
        &format!("VerneMQ on_auth_m5 exchanges/s (2 calls each), {label} users"),
        &b.runtime,
        &mut sides,
    );
    for ((name, _), rate) in stores.iter().zip(rates.iter().skip(1)) {
        b.report.note(format!(
            "{name}: webhook calls/s {:.0} = {:.3} of the bare POST",
            2.0 * rate,
            2.0 * rate / rates[0]
        ));
    }
    drop(sides);
    b.report
        .note(format!("load average after: {}", support::load_average()));
    // Connections first, then the servers, then the peers.
    drop((
        bare_workers,
        store_workers,
        bare,
        stores,
        redis_cluster,
        redis,
    ));
}

/// Clear-password checks/s against the PBKDF2 floor.
fn clear_password(c: &mut Criterion, b: &mut Bench) {
    let users = 10_000;
    let file = data::write_file(b.dir.path(), users);
    let store = file.display().to_string();
    let work = |threads: usize| {
        format!(
            "[password_work]\nmax_concurrent = {threads}\nmax_per_client = 64\nmax_queued = 4096\n"
        )
    };
    let one = service(&store, &work(1));
    let two = service(&store, &work(2));
    let mut one_workers = client::workers(&b.runtime, one.addr, 8);
    let mut two_workers = client::workers(&b.runtime, two.addr, 8);
    let load = Load::Password { users };
    let salt = data::credentials().salt().to_vec();
    let floor = move || {
        let derived =
            StoredCredentials::derive(HashAlgorithm::Sha256, PASSWORD, &salt, ITERATIONS).unwrap();
        std::hint::black_box(derived);
    };
    let mut group = c.benchmark_group("clear_password_4096");
    configure(&mut group);
    group.bench_function("pbkdf2_floor (one thread)", |bencher| bencher.iter(&floor));
    throughput_case(
        &mut group,
        &b.runtime,
        "emqx4_auth (max_concurrent = 1)",
        &mut one_workers,
        &load,
    );
    throughput_case(
        &mut group,
        &b.runtime,
        "emqx4_auth (max_concurrent = 2)",
        &mut two_workers,
        &load,
    );
    group.finish();

    b.report.note(format!(
        "load average before the summary rounds: {}",
        support::load_average()
    ));
    let rates = b.report.compare(
        "Clear-password checks/s (EMQX 4 auth_req, file store, 4096 iterations)",
        &b.runtime,
        &mut [
            Side::Local {
                name: "PBKDF2 floor: StoredCredentials::derive, one thread",
                one: &floor,
            },
            Side::Http {
                name: "emqx4 auth, max_concurrent = 1",
                workers: &mut one_workers,
                load: &load,
            },
            Side::Http {
                name: "emqx4 auth, max_concurrent = 2 (two cores, client included)",
                workers: &mut two_workers,
                load: &load,
            },
        ],
    );
    b.report.note(format!(
        "per core: max_concurrent = 1 → {:.0} checks/s = {:.3} of the floor; max_concurrent = 2 → {:.0} checks/s per core = {:.3} of the floor",
        rates[1],
        rates[1] / rates[0],
        rates[2] / 2.0,
        rates[2] / 2.0 / rates[0]
    ));
    b.report
        .note(format!("load average after: {}", support::load_average()));
    drop((one_workers, two_workers, one, two));
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut c = Criterion::default().configure_from_args();
    let mut b = Bench {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        connections: env_or("AUTH_BENCH_CONNECTIONS", 32),
        report: Report::default(),
        dir: TempDir::new("service-bench"),
    };
    b.report.note(format!(
        "server threads {}, client connections {}, load average at start {}",
        servers::server_threads(),
        b.connections,
        support::load_average()
    ));
    lookups_and_exchanges(&mut c, &mut b, 10_000, "10k", false);
    clear_password(&mut c, &mut b);
    if std::env::var("SCALE_1M").is_ok_and(|v| v == "1") {
        let cluster = std::env::var("SCALE_1M_CLUSTER").map_or(true, |v| v != "0");
        lookups_and_exchanges(&mut c, &mut b, 1_000_000, "1m", cluster);
    }
    c.final_summary();
    b.report.print();
}
