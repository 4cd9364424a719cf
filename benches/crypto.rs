//! PBKDF2 (`Hi`) and HMAC: ours against RustCrypto (`pbkdf2`, `hmac`) and against the
//! floor, the raw SHA-2 compression function (`sha2::block_api::compress256`/`compress512`)
//! run as many times as PBKDF2 needs (2 per iteration), in the same run, so the ratios in
//! BENCHMARKS.md are meaningful on a noisy machine.
//!
//! `cargo bench --bench crypto`. The PBKDF2 groups fix their own sampling (many short
//! samples, see `pbkdf2`); `-- --warm-up-time 1 --measurement-time 3` shortens the rest.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group};
use hmac::{KeyInit, Mac};
use mqtt_scram::HashAlgorithm;
use mqtt_scram::internal::crypto::{self, HmacKey};
use sha2::block_api::{compress256, compress512};
use sha2::{Sha256, Sha512};

const ITERATIONS: u32 = 4096;
const COUNT: std::num::NonZeroU32 = std::num::NonZeroU32::new(ITERATIONS).expect("4096 > 0");
const PASSWORD: &[u8] = b"pencil";
const SALT: &[u8] = &[
    0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
];

/// `n` chained SHA-256 compressions of one block: the latency-bound floor of PBKDF2.
fn floor256(n: u32) -> [u32; 8] {
    let mut state = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let block = black_box([0x5a; 64]);
    for _ in 0..n {
        compress256(&mut state, core::slice::from_ref(&block));
    }
    state
}

/// `n` chained SHA-512 compressions of one block.
fn floor512(n: u32) -> [u64; 8] {
    let mut state = [
        0x6a09e667f3bcc908,
        0xbb67ae8584caa73b,
        0x3c6ef372fe94f82b,
        0xa54ff53a5f1d36f1,
        0x510e527fade682d1,
        0x9b05688c2b3e6c1f,
        0x1f83d9abfb41bd6b,
        0x5be0cd19137e2179,
    ];
    let block = black_box([0x5a; 128]);
    for _ in 0..n {
        compress512(&mut state, core::slice::from_ref(&block));
    }
    state
}

fn compress(c: &mut Criterion) {
    let mut g = c.benchmark_group("compress");
    g.bench_function("sha256/1-block", |b| b.iter(|| floor256(black_box(1))));
    g.bench_function("sha512/1-block", |b| b.iter(|| floor512(black_box(1))));
    g.finish();
}

fn pbkdf2(c: &mut Criterion) {
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let mut g = c.benchmark_group(format!("pbkdf2-{ITERATIONS}/{hash}"));
        // Many samples of one or two runs each (a few ms): on a shared machine most of
        // them run without being preempted, so the median shows the machine's speed
        // rather than its load; and the three rows run within seconds of each other,
        // so a change of load between them moves their ratios less. Same settings for
        // all three rows (they override the command line's times).
        g.sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(300));
        match hash {
            HashAlgorithm::Sha256 => g
                .sample_size(2000)
                .measurement_time(Duration::from_millis(900)),
            HashAlgorithm::Sha512 => g
                .sample_size(1000)
                .measurement_time(Duration::from_millis(2500)),
        };
        g.bench_function("floor (2 compressions/iteration)", |b| match hash {
            HashAlgorithm::Sha256 => b.iter(|| floor256(black_box(2 * ITERATIONS))),
            HashAlgorithm::Sha512 => b.iter(|| floor512(black_box(2 * ITERATIONS))),
        });
        g.bench_function("mqtt-scram hi", |b| {
            b.iter(|| crypto::hi(hash, black_box(PASSWORD), black_box(SALT), black_box(COUNT)))
        });
        g.bench_function("RustCrypto pbkdf2_hmac", |b| {
            let mut out = [0u8; 64];
            match hash {
                HashAlgorithm::Sha256 => b.iter(|| {
                    pbkdf2::pbkdf2_hmac::<Sha256>(
                        black_box(PASSWORD),
                        black_box(SALT),
                        ITERATIONS,
                        &mut out[..32],
                    );
                    out
                }),
                HashAlgorithm::Sha512 => b.iter(|| {
                    pbkdf2::pbkdf2_hmac::<Sha512>(
                        black_box(PASSWORD),
                        black_box(SALT),
                        ITERATIONS,
                        &mut out,
                    );
                    out
                }),
            }
        });
        g.finish();
    }
}

/// HMAC of an AuthMessage-sized message (the server's per-exchange MACs).
fn hmac_short(c: &mut Criterion) {
    let auth_message: &[u8] = b"n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    let (a, rest) = auth_message.split_at(29);
    let (b_, c_) = rest.split_at(88);
    let parts: [&[u8]; 5] = [a, b",", b_, b",", c_];
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let key = vec![0x42u8; hash.output_len()];
        let mut g = c.benchmark_group(format!("hmac/{hash}"));
        g.throughput(Throughput::Bytes(auth_message.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("mqtt-scram hmac", auth_message.len()),
            &parts,
            |b, parts| b.iter(|| crypto::hmac(hash, black_box(&key), black_box(parts))),
        );
        let precomputed = HmacKey::new(hash, &key);
        g.bench_with_input(
            BenchmarkId::new("mqtt-scram HmacKey::mac", auth_message.len()),
            &parts,
            |b, parts| b.iter(|| precomputed.mac(black_box(parts))),
        );
        g.bench_with_input(
            BenchmarkId::new("RustCrypto hmac", auth_message.len()),
            &parts,
            |b, parts| {
                fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
                    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
                        return Vec::new(); // HMAC takes keys of any length
                    };
                    for part in parts {
                        mac.update(part);
                    }
                    mac.finalize().into_bytes().to_vec()
                }
                match hash {
                    HashAlgorithm::Sha256 => {
                        b.iter(|| run::<hmac::Hmac<Sha256>>(black_box(&key), black_box(parts)))
                    }
                    HashAlgorithm::Sha512 => {
                        b.iter(|| run::<hmac::Hmac<Sha512>>(black_box(&key), black_box(parts)))
                    }
                }
            },
        );
        g.bench_function("mqtt-scram h(key)", |b| {
            b.iter(|| crypto::h(hash, black_box(&key)))
        });
        g.finish();
    }
}

/// Ratios to the floor measured in alternation (floor, ours, RustCrypto, floor, …), so
/// load from other processes hits all three alike: the median of the per-round ratios and
/// the ratio of the fastest runs. Printed after criterion's results; criterion's medians
/// (BENCHMARKS.md) are the numbers of record, these are the noise check.
fn interleaved_ratios() {
    const ROUNDS: usize = 41;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let time = |f: &dyn Fn()| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        };
        let floor = || match hash {
            HashAlgorithm::Sha256 => drop(black_box(floor256(black_box(2 * ITERATIONS)))),
            HashAlgorithm::Sha512 => drop(black_box(floor512(black_box(2 * ITERATIONS)))),
        };
        let ours = || {
            drop(black_box(crypto::hi(
                hash,
                black_box(PASSWORD),
                black_box(SALT),
                COUNT,
            )))
        };
        let theirs = || {
            let mut out = [0u8; 64];
            match hash {
                HashAlgorithm::Sha256 => {
                    pbkdf2::pbkdf2_hmac::<Sha256>(PASSWORD, SALT, ITERATIONS, &mut out[..32])
                }
                HashAlgorithm::Sha512 => {
                    pbkdf2::pbkdf2_hmac::<Sha512>(PASSWORD, SALT, ITERATIONS, &mut out)
                }
            }
            black_box(out);
        };
        let (mut floors, mut r_ours, mut r_theirs) = (Vec::new(), Vec::new(), Vec::new());
        let (mut min_f, mut min_o, mut min_t) = (f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..ROUNDS {
            let f = time(&floor);
            let o = time(&ours);
            let t = time(&theirs);
            floors.push(f);
            r_ours.push(o / f);
            r_theirs.push(t / f);
            (min_f, min_o, min_t) = (min_f.min(f), min_o.min(o), min_t.min(t));
        }
        println!(
            "interleaved pbkdf2-{ITERATIONS}/{hash}: floor median {:.1} µs, min {:.1} µs; \
             mqtt-scram/floor median {:.3}, min/min {:.3}; RustCrypto/floor median {:.3}, min/min {:.3}",
            median(&mut floors) * 1e6,
            min_f * 1e6,
            median(&mut r_ours),
            min_o / min_f,
            median(&mut r_theirs),
            min_t / min_f,
        );
    }
}

criterion_group!(benches, compress, pbkdf2, hmac_short);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if !std::env::args().any(|a| a == "--list" || a == "--test" || a == "--profile-time") {
        interleaved_ratios();
    }
}
