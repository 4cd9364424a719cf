//! Users 1k → 1,000,000 in Redis and PostgreSQL (issue 22 §1), real servers on loopback
//! from the testkit (Redis without persistence; PostgreSQL with `fsync = off`): for each
//! size, the time to write the new users (`RedisWriter`/`PostgresWriter::write_all`,
//! batches of 1,000), the server's memory per user (Redis `used_memory`; PostgreSQL
//! `pg_total_relation_size` of the table, indexes included), and one-at-a-time lookups of
//! random users through `RedisProvider`/`PostgresProvider` (p50/p99/p99.9/max). Then
//! `mqtt-scram import` of `SCALE_IMPORT_USERS` users (default 20,000; 4096 iterations)
//! into a three-master Redis Cluster and into PostgreSQL, against the PBKDF2 floor of the
//! cores used, measured in the same run (`StoredCredentials::derive` on every core).
//!
//! ```sh
//! cargo bench -p mqtt-scram-stores --features redis,postgres --bench scale_remote
//! SCALE_MAX_USERS=100000 SCALE_IMPORT_USERS=0 cargo bench -p mqtt-scram-stores --features redis,postgres --bench scale_remote
//! ```
//!
//! `SCALE_MAX_USERS` (default 1,000,000), `SCALE_REMOTE_LOOKUPS` per size (default 20,000),
//! `SCALE_IMPORT_USERS` (default 20,000; 0 skips), `SCALE_IMPORT_TIMEOUT_SECS` (default 900:
//! each import is time-boxed).
//! Writes `target/scale/remote.csv` and `target/scale/import.csv` (or `$SCALE_CSV_DIR`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "support/scale.rs"]
mod scale;

use std::time::{Duration, Instant};

use mqtt_scram::provider::{CredentialProvider, Lookup, LookupRequest, UserRecord};
use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism, StoredCredentials};
use mqtt_scram_stores::postgres::{PostgresConfig, PostgresProvider, PostgresWriter};
use mqtt_scram_stores::redis::{RedisConfig, RedisProvider, RedisWriter};

use scale::{Xorshift, ns, summary};

fn name(i: usize) -> String {
    format!("user-{i}")
}

/// Users `from..to`, SHA-256, from random bytes (no PBKDF2; same size as derived ones).
fn records(from: usize, to: usize) -> Vec<(String, UserRecord)> {
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15 ^ from as u64);
    let mut bytes = |len: usize| -> Vec<u8> { (0..len).map(|_| rng.below(256) as u8).collect() };
    (from..to)
        .map(|i| {
            let c = StoredCredentials::from_parts(
                HashAlgorithm::Sha256,
                &bytes(16),
                4096,
                &bytes(32),
                &bytes(32),
            )
            .unwrap();
            (name(i), UserRecord::new(c))
        })
        .collect()
}

async fn lookups<P: CredentialProvider>(provider: &P, n: usize, count: usize) -> Vec<Duration> {
    let connection = ConnectionInfo::new("bench");
    let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let user = name(rng.below(n));
        let request = LookupRequest::new(Mechanism::ScramSha256, &user, &connection);
        let started = Instant::now();
        let lookup = provider.lookup(&request).await;
        samples.push(started.elapsed());
        assert!(matches!(lookup, Lookup::Found(_)), "{user}: {lookup:?}");
    }
    samples
}

#[allow(clippy::too_many_arguments)]
fn report(
    store: &str,
    n: usize,
    write: Duration,
    load: Duration,
    written: usize,
    bytes: f64,
    samples: &mut [Duration],
    rows: &mut Vec<String>,
) {
    let [p50, p99, p999, max] = summary(samples);
    println!(
        "{store:<9} {n:>8} users: wrote {written} in {:.2} s ({:.0} users/s; all {n} in {:.2} s), \
         server {:.0} B/user; lookup p50 {} p99 {} p99.9 {} max {}; load average {}",
        write.as_secs_f64(),
        written as f64 / write.as_secs_f64(),
        load.as_secs_f64(),
        bytes,
        ns(p50),
        ns(p99),
        ns(p999),
        ns(max),
        scale::loadavg()
    );
    rows.push(format!(
        "{store},{n},{:.3},{:.0},{bytes:.1},{},{},{},{}",
        load.as_secs_f64(),
        written as f64 / write.as_secs_f64(),
        p50.as_nanos(),
        p99.as_nanos(),
        p999.as_nanos(),
        max.as_nanos()
    ));
}

fn redis_used_memory(server: &mqtt_scram_testkit::redis::Server) -> f64 {
    let info = server.cli(&["INFO", "memory"]);
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn sweep(runtime: &tokio::runtime::Runtime, sizes: &[usize], count: usize, rows: &mut Vec<String>) {
    let redis = mqtt_scram_testkit::redis::Single::start().expect("Redis is needed");
    let config = RedisConfig::from_url(&redis.server.url()).unwrap();
    let provider = RedisProvider::new(config.clone()).unwrap();
    let writer = runtime.block_on(RedisWriter::connect(&config)).unwrap();
    let empty = redis_used_memory(&redis.server);
    let mut have = 0;
    let mut load = Duration::ZERO;
    for &n in sizes {
        let users = records(have, n);
        let started = Instant::now();
        runtime
            .block_on(writer.write_all(&users, 1000, |_| {}))
            .unwrap();
        let write = started.elapsed();
        load += write;
        drop(users);
        let bytes = (redis_used_memory(&redis.server) - empty) / n as f64;
        let mut samples = runtime.block_on(lookups(&provider, n, count));
        report("redis", n, write, load, n - have, bytes, &mut samples, rows);
        have = n;
    }
    drop(redis);

    let cluster = mqtt_scram_testkit::postgres::Cluster::start().expect("PostgreSQL is needed");
    cluster.set_password("postgres", "bench-pw");
    let config = PostgresConfig::new(cluster.url("postgres", "bench-pw")).pool_size(4);
    let provider = PostgresProvider::new(config.clone()).unwrap();
    let mut writer = runtime.block_on(PostgresWriter::connect(&config)).unwrap();
    runtime.block_on(writer.create_schema()).unwrap();
    let mut have = 0;
    let mut load = Duration::ZERO;
    for &n in sizes {
        let users = records(have, n);
        let started = Instant::now();
        runtime
            .block_on(writer.write_all(&users, 1000, |_| {}))
            .unwrap();
        let write = started.elapsed();
        load += write;
        drop(users);
        cluster.admin_sql("VACUUM ANALYZE mqtt_scram_users");
        let size: f64 = cluster
            .admin_sql("SELECT pg_total_relation_size('mqtt_scram_users')")
            .trim()
            .parse()
            .unwrap_or(0.0);
        let mut samples = runtime.block_on(lookups(&provider, n, count));
        report(
            "postgres",
            n,
            write,
            load,
            n - have,
            size / n as f64,
            &mut samples,
            rows,
        );
        have = n;
    }
}

/// Derivations per second on `threads` threads (4096 iterations, SHA-256).
fn pbkdf2_floor(threads: usize, per_thread: usize) -> f64 {
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..per_thread {
                    let salt = format!("salt-{t}-{i}-0123456789");
                    std::hint::black_box(
                        StoredCredentials::derive(
                            HashAlgorithm::Sha256,
                            "password",
                            salt.as_bytes(),
                            4096,
                        )
                        .unwrap(),
                    );
                }
            });
        }
    });
    (threads * per_thread) as f64 / started.elapsed().as_secs_f64()
}

/// The number (seconds) that follows `label` in the import tool's summary line.
fn seconds_after(line: &str, label: &str) -> f64 {
    line.split_once(label)
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// `mqtt-scram import` of `n` users into `url`; users/s and the tool's summary.
fn import(store: &str, n: usize, url: &str, args: &[&str]) -> (f64, String) {
    let dir = mqtt_scram_testkit::TempDir::new(&format!("scale-import-{store}"));
    let csv: String = (0..n)
        .map(|i| format!("import-{i},password-{i}\n"))
        .collect();
    let path = dir.write("users.csv", &csv);
    let bin = mqtt_scram_testkit::workspace_bin("mqtt-scram-cli", "mqtt-scram");
    let timeout = scale::env_usize("SCALE_IMPORT_TIMEOUT_SECS", 900);
    let started = Instant::now();
    let o = std::process::Command::new("timeout")
        .arg(timeout.to_string())
        .arg(bin)
        .args(["import", "--to", url])
        .args(args)
        .arg(&path)
        .output()
        .unwrap();
    mqtt_scram_testkit::check(&o, "mqtt-scram import");
    let rate = n as f64 / started.elapsed().as_secs_f64();
    (rate, String::from_utf8_lossy(&o.stderr).trim().to_owned())
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let max = scale::env_usize("SCALE_MAX_USERS", 1_000_000);
    let count = scale::env_usize("SCALE_REMOTE_LOOKUPS", 20_000);
    let import_n = scale::env_usize("SCALE_IMPORT_USERS", 20_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "scale_remote: up to {max} users, {count} lookups per size, import of {import_n}; \
         {cores} cores; load average {}",
        scale::loadavg()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    sweep(&runtime, &scale::decades(1_000, max), count, &mut rows);
    scale::write_csv(
        "remote",
        "store,users,load_s,write_users_per_s,server_bytes_per_user,p50_ns,p99_ns,p999_ns,max_ns",
        &rows,
    );
    if import_n > 0 {
        let floor = pbkdf2_floor(cores, 500);
        println!(
            "PBKDF2 floor: {floor:.0} derivations/s on {cores} cores (4096, SHA-256); load average {}",
            scale::loadavg()
        );
        let load1 = || scale::loadavg().split(' ').next().unwrap_or("").to_owned();
        let mut rows = vec![format!("floor,{cores},{floor:.0},1.000,,,{}", load1())];
        let cluster = mqtt_scram_testkit::redis::Cluster::start().expect("Redis is needed");
        // One line on stdout and one CSV row per import target.
        let report = |rows: &mut Vec<String>, target: &str, label: &str, rate: f64, line: &str| {
            println!(
                "import into {label}: {import_n} users, {rate:.0} users/s = {:.0} % of the floor; {line}; \
                 load average {}",
                rate / floor * 100.0,
                scale::loadavg()
            );
            rows.push(format!(
                "{target},{import_n},{rate:.0},{:.3},{:.2},{:.2},{}",
                rate / floor,
                seconds_after(line, "(PBKDF2 "),
                seconds_after(line, "writing "),
                load1()
            ));
        };
        let (rate, line) = import("redis-cluster", import_n, &cluster.url(), &[]);
        report(&mut rows, "redis-cluster", "Redis Cluster", rate, &line);
        drop(cluster);
        let pg = mqtt_scram_testkit::postgres::Cluster::start().expect("PostgreSQL is needed");
        pg.set_password("postgres", "bench-pw");
        let (rate, line) = import(
            "postgres",
            import_n,
            &pg.url("postgres", "bench-pw"),
            &["--create-table"],
        );
        report(&mut rows, "postgres", "PostgreSQL", rate, &line);
        let floor_after = pbkdf2_floor(cores, 500);
        println!(
            "PBKDF2 floor again: {floor_after:.0} derivations/s; load average {}",
            scale::loadavg()
        );
        rows.push(format!(
            "floor_after,{cores},{floor_after:.0},{:.3},,,{}",
            floor_after / floor,
            load1()
        ));
        scale::write_csv(
            "import",
            "store,users,users_per_s,fraction_of_floor,pbkdf2_s,write_s,load1",
            &rows,
        );
    }
    println!("load average at the end: {}", scale::loadavg());
}
