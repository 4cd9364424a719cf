//! Broker CPU per login against Mosquitto's own baseline (issue 22 §3), in one run on one
//! machine, each contender against a fresh Mosquitto 2.0 (Debian) with its default logging
//! (error, warning, notice, information; connection messages on):
//! - `anonymous`: CONNECT without credentials (`allow_anonymous true`, no plugin);
//! - `password_file`: User Name and Password against a file written by `mosquitto_passwd -U`
//!   (its default hash, PBKDF2-SHA512 at 101 iterations);
//! - `scram`: SCRAM-SHA-256 through the plugin (file store, records at 4096 iterations).
//!
//! Load: `support/loadgen.rs`, closed loop, a new TCP connection per login (connect →
//! CONNECT … CONNACK 0x00 → DISCONNECT → the broker closes), each bound to its own source
//! address in 127.1.0.0/16; SCRAM clients derive their keys once per user and compute only
//! the per-login HMACs. Each round measures every contender for a window; the figures are
//! logins/s and the broker's `utime + stime` (`/proc/<pid>/stat`) per login, medians over the
//! rounds, and SCRAM's CPU per login over anonymous's (goal ≤ 1.5×).
//!
//! Then re-authentication: a fresh Mosquitto with the plugin (`stats_interval 1s`) holds
//! `LOADGEN_HELD` logged-in connections (10,000; capped below this process's open-file
//! limit), and `LOADGEN_INFLIGHT` workers send AUTH 0x19 exchanges across all of them
//! round-robin. Figures: re-auths/s, broker CPU per re-auth, client round-trip p50/p99, and
//! the plugin's own callback timings (its `stats_interval` lines during the window: the
//! power-of-two p99 bound per second, goal ≤ 1 ms).
//!
//! ```text
//! cargo bench -p mqtt-scram-mosquitto --bench broker_cpu
//! # knobs: LOADGEN_ROUNDS (3), LOADGEN_SECS (5), LOADGEN_CONCURRENCY (128),
//! # LOADGEN_USERS (1000), LOADGEN_SOURCES (1000), LOADGEN_CLIENT_THREADS (2),
//! # LOADGEN_HELD (10000), LOADGEN_INFLIGHT (256), LOADGEN_REAUTH_SECS (10),
//! # LOADGEN_CONTENDERS ("anonymous,password_file,scram,reauth")
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[allow(dead_code)]
#[path = "support/loadgen.rs"]
mod loadgen;
#[allow(dead_code)]
#[path = "support/mosqproc.rs"]
mod mosqproc;
#[allow(dead_code)]
#[path = "support/procstat.rs"]
mod procstat;
#[path = "support/wire.rs"]
mod wire;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::{Credential, ScramUser, Target};
use mosqproc::{Broker, MOSQUITTO};
use mqtt_scram::provider::UserRecord;
use mqtt_scram_stores::record::{CredentialRecord, json};
use mqtt_scram_testkit::TempDir;
use procstat::{env_or, median};

const PASSWORD: &str = "correct horse battery staple";
const ITERATIONS: u32 = 4096;

/// The plugin built with this bench (`target/<profile>/deps/`).
fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join("libmqtt_scram_mosquitto.so")
}

/// What the load generator needs of a broker.
fn target(broker: &Broker, sources: usize) -> Target {
    Target {
        addr: broker.addr,
        pid: broker.pid(),
        sources,
    }
}

fn scram_lines(dir: &TempDir, records: &str, stats_interval: &str) -> Vec<String> {
    let store = dir.write("users.json", records);
    let key = dir.write("mock.key", &"5a".repeat(32));
    {
        // The plugin refuses a mock key file others can read.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    vec![
        "allow_anonymous false".into(),
        format!("plugin {}", plugin_path().display()),
        format!("plugin_opt_store {}", store.display()),
        format!("plugin_opt_mock_key_file {}", key.display()),
        format!("plugin_opt_stats_interval {stats_interval}"),
    ]
}

/// A `password_file` in `mosquitto_passwd`'s default format (`-U` hashes it in place).
fn password_lines(dir: &TempDir, users: &[Arc<ScramUser>]) -> Vec<String> {
    let plain: String = users
        .iter()
        .map(|u| format!("{}:{PASSWORD}\n", u.name))
        .collect();
    let file = dir.write("passwd", &plain);
    let status = Command::new("mosquitto_passwd")
        .arg("-U")
        .arg(&file)
        .status()
        .expect("mosquitto_passwd (Debian's mosquitto package)");
    assert!(status.success(), "mosquitto_passwd -U failed");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(":$7$101$"),
        "expected PBKDF2-SHA512 at 101 iterations"
    );
    vec![
        "allow_anonymous false".into(),
        format!("password_file {}", file.display()),
    ]
}

/// The plugin's `callback time:` lines in `log`: (event, n, mean µs, max µs, p99 bound µs).
fn callback_lines(log: &str) -> Vec<(String, u64, u64, u64, u64)> {
    let mut out = Vec::new();
    for line in log.lines().filter(|l| l.contains("callback time:")) {
        let Some((_, rest)) = line.split_once("callback time:") else {
            continue;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace();
            let Some(event) = words.next() else { continue };
            let num = |w: &str, key: &str| -> Option<u64> {
                w.strip_prefix(key)?.trim_end_matches("us").parse().ok()
            };
            let fields: Vec<&str> = words.collect();
            let get = |key: &str| fields.iter().find_map(|w| num(w, key));
            if let (Some(n), Some(mean), Some(max), Some(p99)) =
                (get("n="), get("mean="), get("max="), get("p99<="))
            {
                out.push((event.to_owned(), n, mean, max, p99));
            }
        }
    }
    out
}

fn main() {
    let rounds: usize = env_or("LOADGEN_ROUNDS", 3);
    let secs = Duration::from_secs_f64(env_or("LOADGEN_SECS", 5.0));
    let warm_up = Duration::from_secs(1);
    let concurrency: usize = env_or("LOADGEN_CONCURRENCY", 128);
    let user_count: usize = env_or("LOADGEN_USERS", 1000);
    let sources: usize = env_or("LOADGEN_SOURCES", 1000);
    let threads: usize = env_or("LOADGEN_CLIENT_THREADS", 2);
    let held_wanted: usize = env_or("LOADGEN_HELD", 10_000);
    let inflight: usize = env_or("LOADGEN_INFLIGHT", 256);
    let reauth_secs = Duration::from_secs_f64(env_or("LOADGEN_REAUTH_SECS", 10.0));
    let contenders: String = env_or(
        "LOADGEN_CONTENDERS",
        "anonymous,password_file,scram,reauth".to_string(),
    );
    let wants = |name: &str| contenders.split(',').any(|c| c.trim() == name);
    if !std::path::Path::new(MOSQUITTO).exists() {
        eprintln!("broker_cpu: {MOSQUITTO} is missing (Debian's mosquitto); nothing measured");
        return;
    }

    let setup = Instant::now();
    let dir = TempDir::new("broker-cpu-bench");
    let (users, records): (Vec<_>, Vec<_>) = (0..user_count.max(1))
        .map(|i| {
            let (user, creds) = ScramUser::new(&format!("user{i:05}"), PASSWORD, ITERATIONS);
            let record = CredentialRecord::new(&user.name, &UserRecord::new(creds));
            (Arc::new(user), record)
        })
        .unzip();
    let records = json::write_lines(&records).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "broker_cpu: {user_count} users, {concurrency} concurrent logins from {sources} source addresses, \
         {rounds} rounds of {secs:?} windows, client runtime {threads} workers; set-up {:.1?}; load average {}",
        setup.elapsed(),
        procstat::load_average()
    );

    // name, broker, credentials
    let mut contenders_run: Vec<(&str, Broker, Vec<Credential>)> = Vec::new();
    if wants("anonymous") {
        let broker = Broker::start(&dir, "anonymous", &["allow_anonymous true".into()]);
        contenders_run.push(("anonymous", broker, vec![Credential::Anonymous]));
    }
    if wants("password_file") {
        let broker = Broker::start(&dir, "password_file", &password_lines(&dir, &users));
        let creds = loadgen::password_credentials(&users, PASSWORD);
        contenders_run.push(("password_file", broker, creds));
    }
    if wants("scram") {
        let broker = Broker::start(&dir, "scram", &scram_lines(&dir, &records, "1h"));
        let creds = loadgen::scram_credentials(&users);
        contenders_run.push(("scram", broker, creds));
    }

    let contenders: Vec<(&str, Target, &[Credential])> = contenders_run
        .iter()
        .map(|(name, broker, creds)| (*name, target(broker, sources), creds.as_slice()))
        .collect();
    let series = loadgen::login_rounds(&rt, &contenders, rounds, concurrency, warm_up, secs);
    if !contenders_run.is_empty() {
        println!(
            "\nmedians over {rounds} rounds (load average {}):",
            procstat::load_average()
        );
        let medians: Vec<(&str, f64, f64)> = contenders_run
            .iter()
            .zip(&series)
            .map(|((name, ..), (rates, cpus))| (*name, median(rates.clone()), median(cpus.clone())))
            .collect();
        for (name, rate, cpu) in &medians {
            let range = series[medians.iter().position(|m| m.0 == *name).unwrap()]
                .1
                .iter()
                .fold((f64::INFINITY, 0.0f64), |(lo, hi), &c| {
                    (lo.min(c), hi.max(c))
                });
            println!(
                "  {name:<14} {rate:>8.0} logins/s  broker {cpu:>7.1} µs/login (range {:.1}–{:.1})",
                range.0, range.1
            );
        }
        if let Some(&(_, _, anon)) = medians.iter().find(|m| m.0 == "anonymous") {
            for (name, _, cpu) in medians.iter().filter(|m| m.0 != "anonymous") {
                println!(
                    "  {name} / anonymous broker CPU per login: {:.2}×",
                    cpu / anon
                );
            }
        }
    }
    for (name, broker, _) in contenders_run {
        if name == "scram" {
            let log = broker.stop();
            if let Some(line) = log.lines().find(|l| l.contains("longest callback")) {
                let text = line.split_once("mqtt-scram: ").map_or(line, |(_, t)| t);
                println!("  plugin during the login rounds: {text}");
            }
        }
    }

    if wants("reauth") {
        reauth(
            &rt,
            &dir,
            &records,
            &users,
            sources,
            held_wanted,
            inflight,
            reauth_secs,
        );
    }
}

/// Holds up to `wanted` connections on a fresh plugin broker and re-authenticates across them.
#[allow(clippy::too_many_arguments)]
fn reauth(
    rt: &tokio::runtime::Runtime,
    dir: &TempDir,
    records: &str,
    users: &[Arc<ScramUser>],
    sources: usize,
    wanted: usize,
    inflight: usize,
    secs: Duration,
) {
    // This process holds one descriptor per connection (the broker, its own limit: the same,
    // inherited); leave room for everything else.
    let limit = procstat::open_files_limit();
    let count = match limit {
        Some(l) if l < wanted + 256 => l.saturating_sub(256),
        _ => wanted,
    };
    let broker = Broker::start(dir, "reauth", &scram_lines(dir, records, "1s"));
    let target = target(&broker, sources);
    let started = Instant::now();
    let (mut held, error) = loadgen::hold(rt, target, users, count, 64);
    println!(
        "\nre-authentication: {} of {wanted} connections held (open-file limit {}{}), logged in in {:.1?}; load average {}",
        held.len(),
        limit.map_or("unknown".into(), |l| l.to_string()),
        error
            .map(|e| format!("; stopped by: {e}"))
            .unwrap_or_default(),
        started.elapsed(),
        procstat::load_average()
    );
    if held.is_empty() {
        return;
    }
    // Let the plugin's report of the login period go out before the window's lines.
    std::thread::sleep(Duration::from_millis(1500));
    let skip = broker.log().len();
    let (w, mut times) = loadgen::reauth_window(
        rt,
        target,
        &mut held,
        inflight,
        Duration::from_secs(1),
        secs,
    );
    std::thread::sleep(Duration::from_millis(1200));
    let log = broker.log();
    let lines = callback_lines(log.get(skip..).unwrap_or_default());
    println!(
        "  {} re-auths in {:.1?} with {inflight} in flight: {:.0} re-auths/s, broker {:.1} µs/re-auth ({:.1} + {:.1}), client {:.1} µs/re-auth; \
         round trip p50 {:.2} ms p99 {:.2} ms; load average {}",
        w.count,
        w.wall,
        w.rate(),
        w.per_op(w.broker.total()),
        w.per_op(w.broker.user),
        w.per_op(w.broker.system),
        w.per_op(w.client.total()),
        procstat::quantile(&mut times, 0.50).as_secs_f64() * 1e3,
        procstat::quantile(&mut times, 0.99).as_secs_f64() * 1e3,
        procstat::load_average()
    );
    for event in ["ext_auth_start", "ext_auth_continue"] {
        let of: Vec<_> = lines.iter().filter(|l| l.0 == event).collect();
        let n: u64 = of.iter().map(|l| l.1).sum();
        let mean = of.iter().map(|l| l.1 * l.2).sum::<u64>() as f64 / n.max(1) as f64;
        let worst_p99 = of.iter().map(|l| l.4).max().unwrap_or(0);
        let max = of.iter().map(|l| l.3).max().unwrap_or(0);
        let p99s: Vec<String> = of.iter().map(|l| l.4.to_string()).collect();
        println!(
            "  plugin {event}: n={n} over {} one-second reports, mean {mean:.1} µs, p99 bound per report ≤ {worst_p99} µs at worst ({} µs), max {max} µs",
            of.len(),
            p99s.join("/")
        );
    }
    drop(held);
    let log = broker.stop();
    if let Some(line) = log.lines().find(|l| l.contains("longest callback")) {
        let text = line.split_once("mqtt-scram: ").map_or(line, |(_, t)| t);
        println!("  plugin at shutdown: {text}");
    }
}
