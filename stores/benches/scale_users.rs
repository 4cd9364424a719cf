//! Users 1 → 1,000,000 in the in-memory stores (issue 22 §1): for the memory store
//! (`MemoryProvider::replace_all`) and the file store (`FileProvider::open`, JSON lines and
//! CSV), at 1k, 10k, 100k and 1M SHA-256 users: load time, heap bytes per user (counting
//! allocator: what the store holds once loaded, every precomputed HMAC state included),
//! resident memory per user (RSS from `/proc`), peak RSS while loading, and single-lookup
//! p50/p99/p99.9 of random users (one thread, each lookup timed alone). Then, at the largest
//! size, a forced `FileProvider::reload` of the JSON file while a second thread keeps
//! looking users up: lookup percentiles before vs during the reload, the reload's time and
//! the peak RSS it takes (two copies at most is the goal). Next to the memory store at each
//! size, the floor: the same random lookups in a bare `HashMap<Box<str>, Arc<[u8; 320]>>`.
//!
//! ```sh
//! cargo bench -p mqtt-scram-stores --bench scale_users
//! SCALE_MAX_USERS=100000 cargo bench -p mqtt-scram-stores --bench scale_users   # smaller
//! ```
//!
//! `SCALE_MAX_USERS` (default 1,000,000), `SCALE_LOOKUPS` per size (default 1,000,000),
//! `SCALE_RELOAD_SECS` of lookups before the reload (default 3). Writes
//! `target/scale/users_*.csv` (or `$SCALE_CSV_DIR`) for `tools/plot_scale.py`. Credentials
//! are built from random keys (`StoredCredentials::from_parts`, 4096 iterations recorded,
//! no PBKDF2 run): the memory they take is the same as derived ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "support/scale.rs"]
mod scale;

use std::alloc::System;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mqtt_scram::provider::{
    Lookup, LookupRequest, MemoryProvider, SyncCredentialProvider, UserRecord,
};
use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism, StoredCredentials};
use mqtt_scram_stores::FileProvider;
use mqtt_scram_stores::record::{CredentialRecord, Format, write_records};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use scale::{Xorshift, ns, summary};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn name(i: usize) -> String {
    format!("user-{i}")
}

/// `n` SHA-256 records from random bytes (16-byte salt, 32-byte keys).
fn records(n: usize) -> Vec<(String, UserRecord)> {
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let mut bytes =
        |len: usize| -> Vec<u8> { (0..len).map(|_| rng.below(256) as u8).collect::<Vec<u8>>() };
    (0..n)
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

/// Net heap bytes a region ended up holding (stats_alloc already counts a realloc's growth
/// in `bytes_allocated` and its shrinking in `bytes_deallocated`).
fn net(stats: stats_alloc::Stats) -> i64 {
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

struct Loaded {
    load: Duration,
    heap: i64,
    rss: i64,
    peak: i64,
}

/// Runs `load`, which returns the store; its time, net heap, RSS growth and peak RSS growth.
fn measure<T>(load: impl FnOnce() -> T) -> (T, Loaded) {
    let rss0 = scale::rss() as i64;
    scale::reset_peak();
    let region = Region::new(GLOBAL);
    let started = Instant::now();
    let store = load();
    let took = started.elapsed();
    let heap = net(region.change());
    let loaded = Loaded {
        load: took,
        heap,
        rss: scale::rss() as i64 - rss0,
        peak: scale::peak_rss() as i64 - rss0,
    };
    (store, loaded)
}

/// Heap bytes `store` frees when dropped: what it held.
fn held<T>(store: T) -> i64 {
    let region = Region::new(GLOBAL);
    drop(store);
    -net(region.change())
}

/// `count` lookups of random existing users, each timed alone.
fn lookups(store: &dyn SyncCredentialProvider, names: &[String], count: usize) -> Vec<Duration> {
    let connection = ConnectionInfo::new("bench");
    timed(names, count, |user| {
        let request = LookupRequest::new(Mechanism::ScramSha256, user, &connection);
        let lookup = store.lookup_sync(black_box(&request));
        assert!(matches!(lookup, Lookup::Found(_)));
        lookup
    })
}

/// `count` calls of `lookup` on random names, each timed alone (what `lookup` returns is
/// dropped after the clock stops, as a caller would hold it).
fn timed<T>(names: &[String], count: usize, mut lookup: impl FnMut(&str) -> T) -> Vec<Duration> {
    let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let user = &names[rng.below(names.len())];
        let started = Instant::now();
        let found = lookup(user);
        let took = started.elapsed();
        drop(black_box(found));
        samples.push(took);
    }
    samples
}

/// The memory floor of a lookup at this size, next to the memory store's: a bare
/// `HashMap<Box<str>, Arc<[u8; 320]>>` (the same key, a record-sized value behind the
/// same `Arc`), looked up and the `Arc` cloned, with no lock, no request, no provider.
/// What the memory store costs above it is ours; what grows with the size is the
/// memory hierarchy's (cache and TLB misses of random accesses).
fn floor_lookups(n: usize, names: &[String], count: usize) -> Vec<Duration> {
    let map: std::collections::HashMap<Box<str>, Arc<[u8; 320]>> = (0..n)
        .map(|i| (name(i).into_boxed_str(), Arc::new([i as u8; 320])))
        .collect();
    timed(names, count, |user| {
        let record = map.get(black_box(user)).cloned();
        assert!(record.is_some());
        record
    })
}

fn row(store: &str, n: usize, l: &Loaded, samples: &mut [Duration], rows: &mut Vec<String>) {
    let [p50, p99, p999, max] = summary(samples);
    println!(
        "{store:<10} {n:>9} users: load {:>9.1} ms ({:>9.0} users/s), heap {:>6.0} B/user, \
         RSS {:>6.0} B/user, load peak {:>6.0} B/user; lookup p50 {} p99 {} p99.9 {} max {}",
        l.load.as_secs_f64() * 1e3,
        n as f64 / l.load.as_secs_f64(),
        l.heap as f64 / n as f64,
        l.rss as f64 / n as f64,
        l.peak as f64 / n as f64,
        ns(p50),
        ns(p99),
        ns(p999),
        ns(max)
    );
    rows.push(format!(
        "{store},{n},{:.6},{:.1},{:.1},{:.1},{},{},{},{}",
        l.load.as_secs_f64(),
        l.heap as f64 / n as f64,
        l.rss as f64 / n as f64,
        l.peak as f64 / n as f64,
        p50.as_nanos(),
        p99.as_nanos(),
        p999.as_nanos(),
        max.as_nanos()
    ));
}

/// Lookups on another thread before and during a forced reload of `file`.
fn reload_under_lookups(file: &Arc<FileProvider>, names: &Arc<Vec<String>>, quiet: Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let (store, names2, stop2) = (Arc::clone(file), Arc::clone(names), Arc::clone(&stop));
    let epoch = Instant::now();
    let worker = std::thread::spawn(move || {
        let connection = ConnectionInfo::new("bench");
        let mut rng = Xorshift(0x5851_f42d_4c95_7f2d);
        let mut samples: Vec<(Duration, Duration)> = Vec::with_capacity(50_000_000);
        while !stop2.load(Ordering::Relaxed) && samples.len() < 50_000_000 {
            let user = &names2[rng.below(names2.len())];
            let request = LookupRequest::new(Mechanism::ScramSha256, user, &connection);
            let started = Instant::now();
            let lookup = store.lookup_sync(black_box(&request));
            let took = started.elapsed();
            assert!(matches!(lookup, Lookup::Found(_)));
            samples.push((started - epoch, took));
        }
        samples
    });
    std::thread::sleep(quiet);
    let rss0 = scale::rss();
    scale::reset_peak();
    let began = epoch.elapsed();
    let reloaded = file.reload();
    let ended = epoch.elapsed();
    let peak = scale::peak_rss();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let samples = worker.join().unwrap();
    assert!(matches!(reloaded, Ok(true)), "{reloaded:?}");
    let (mut before, mut during): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    for (at, took) in samples {
        if at + took < began {
            before.push(took);
        } else if at <= ended {
            during.push(took);
        }
    }
    let (nb, nd) = (before.len(), during.len());
    let [b50, b99, b999, bmax] = summary(&mut before);
    let [d50, d99, d999, dmax] = summary(&mut during);
    let n = file.len();
    println!(
        "reload of {n} users (JSON): {:.2} s; RSS before {:.0} MB, peak during {:.0} MB \
         (+{:.0} B/user, {:.2}× the loaded set)",
        (ended - began).as_secs_f64(),
        rss0 as f64 / 1e6,
        peak as f64 / 1e6,
        (peak as f64 - rss0 as f64) / n as f64,
        peak as f64 / rss0 as f64
    );
    println!(
        "  lookups quiet ({nb}): p50 {} p99 {} p99.9 {} max {}",
        ns(b50),
        ns(b99),
        ns(b999),
        ns(bmax)
    );
    println!(
        "  lookups during reload ({nd}): p50 {} p99 {} p99.9 {} max {}  (p99 ratio {:.2}×)",
        ns(d50),
        ns(d99),
        ns(d999),
        ns(dmax),
        d99.as_secs_f64() / b99.as_secs_f64()
    );
    scale::write_csv(
        "users_reload",
        "phase,lookups,p50_ns,p99_ns,p999_ns,max_ns,reload_s,rss_before,peak_rss",
        &[
            format!(
                "quiet,{nb},{},{},{},{},{:.3},{rss0},{peak}",
                b50.as_nanos(),
                b99.as_nanos(),
                b999.as_nanos(),
                bmax.as_nanos(),
                (ended - began).as_secs_f64()
            ),
            format!(
                "reload,{nd},{},{},{},{},{:.3},{rss0},{peak}",
                d50.as_nanos(),
                d99.as_nanos(),
                d999.as_nanos(),
                dmax.as_nanos(),
                (ended - began).as_secs_f64()
            ),
        ],
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `cargo bench -- --list`: nothing to list.
    }
    let max = scale::env_usize("SCALE_MAX_USERS", 1_000_000);
    let count = scale::env_usize("SCALE_LOOKUPS", 1_000_000);
    let quiet = Duration::from_secs(scale::env_usize("SCALE_RELOAD_SECS", 3) as u64);
    println!(
        "scale_users: up to {max} users, {count} lookups per size; load average {}",
        scale::loadavg()
    );
    let timer = {
        let started = Instant::now();
        for _ in 0..1000 {
            black_box(Instant::now());
        }
        started.elapsed() / 1000
    };
    println!(
        "Instant::now() costs {} (in every lookup figure)",
        ns(timer)
    );
    println!(
        "sizes: StoredCredentials {} B, UserRecord {} B (+16 B Arc header), UserAttributes {} B \
         (+16, shared by records with default attributes), map slot (Box<str> + 2 Arc) {} B",
        std::mem::size_of::<StoredCredentials>(),
        std::mem::size_of::<UserRecord>(),
        std::mem::size_of::<mqtt_scram::provider::UserAttributes>(),
        std::mem::size_of::<(Box<str>, [Option<Arc<UserRecord>>; 2])>()
    );
    let dir = mqtt_scram_testkit::TempDir::new("scale-users");
    let mut rows = Vec::new();
    let mut floor_rows = Vec::new();
    let mut last_json = None;
    for n in scale::decades(1_000, max) {
        let (memory, l) = measure(|| {
            let store = MemoryProvider::new();
            store.replace_all(records(n));
            store
        });
        let names: Vec<String> = (0..n).map(name).collect();
        let mut samples = lookups(&memory, &names, count);
        println!(
            "memory store of {n} frees {} B/user on drop",
            held(memory) / n as i64
        );
        row("memory", n, &l, &mut samples, &mut rows);
        let mut floor = floor_lookups(n, &names, count);
        let [p50, p99, ..] = summary(&mut floor);
        println!(
            "floor      {n:>9} users: bare HashMap<Box<str>, Arc<[u8; 320]>> lookup p50 {} p99 {}",
            ns(p50),
            ns(p99)
        );
        floor_rows.push(format!("floor,{n},{},{}", p50.as_nanos(), p99.as_nanos()));
        // The files, written from the same records.
        let mut files = Vec::new();
        {
            let set: Vec<CredentialRecord> = records(n)
                .iter()
                .map(|(u, r)| CredentialRecord::new(u, r))
                .collect();
            for (format, ext) in [(Format::Json, "jsonl"), (Format::Csv, "csv")] {
                let text = write_records(&set, format).unwrap();
                files.push((ext, dir.write(&format!("users-{n}.{ext}"), &text)));
            }
        }
        for (ext, path) in files {
            let (file, l) = measure(|| FileProvider::open(&path).unwrap());
            let store = if ext == "csv" {
                "file_csv"
            } else {
                "file_json"
            };
            let mut samples = lookups(&file, &names, count);
            if ext == "jsonl" && n == max {
                last_json = Some(Arc::new(file));
            } else {
                println!(
                    "{store} of {n} frees {} B/user on drop",
                    held(file) / n as i64
                );
            }
            row(store, n, &l, &mut samples, &mut rows);
        }
        scale::write_csv(
            "users",
            "store,users,load_s,heap_per_user,rss_per_user,load_peak_per_user,p50_ns,p99_ns,p999_ns,max_ns",
            &rows,
        );
        scale::write_csv("users_floor", "store,users,p50_ns,p99_ns", &floor_rows);
    }
    if let Some(file) = last_json {
        reload_under_lookups(&file, &Arc::new((0..max).map(name).collect()), quiet);
    }
    println!("load average at the end: {}", scale::loadavg());
}
