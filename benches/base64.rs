//! Issue 21 §5: the base64 work of a server exchange, next to the exchange.
//!
//! Per mechanism, group `base64_in_server_exchange/<mechanism>`:
//!
//! - `exchange`: the server exchange of `benches/exchange.rs` (stored credentials,
//!   client-first → server-final, fixed server nonce);
//! - `engine`: the base64 work of one such exchange through the engine's own functions
//!   (`internal::base64`): the server nonce's 24 random bytes (the default `nonce_len`;
//!   the fixed-nonce exchange above skips it, a real one does not), the 16-byte salt, the
//!   `c=` check against `n,,`, the proof decoded into a [`Key`], the server signature;
//! - `crate`: the same work calling the `base64` crate's `STANDARD` engine directly
//!   (canonical padding, no trailing bits: the engine's rules), the cheapest way the crate
//!   allows: `encode_slice`/`decode_slice` into stack buffers, no allocation, the `c=`
//!   check by encoding the expected bytes and comparing in constant time, the proof's
//!   buffer wiped after use.
//!
//! Until commit ff394e0 `engine` was the engine's hand-written coder; this bench showed the
//! crate costing about 2 % of a SCRAM-SHA-256 exchange more (BENCHMARKS.md, "base64: ours
//! vs the base64 crate"), and the engine switched to the crate. Now `engine` − `crate` is
//! the cost of the engine's wrappers, and `engine` / `exchange` the share of base64 in an
//! exchange. Criterion times the three one after the other; on a loaded machine the load
//! moves in between, so the bench first prints an interleaved check: 41 rounds, each
//! timing 2,000 of every one in turn, and the median over rounds of each time and of
//! (`crate` − `engine`) / `exchange`. `BASE64_INTERLEAVED_ONLY=1` skips criterion.
//!
//! `CARGO_TARGET_DIR=/work/target-bench7 cargo bench --bench base64 -- --warm-up-time 1
//! --measurement-time 3`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group};
use mqtt_scram::client::{ClientConfig, ClientOptions};
use mqtt_scram::internal::crypto::{Key, ct_eq};
use mqtt_scram::provider::{Lookup, UserRecord};
use mqtt_scram::server::StartPacket;
use mqtt_scram::{
    ConnectionInfo, Mechanism, Outcome, ScramServer, ServerConfig, StoredCredentials, Timestamp,
    internal,
};
use zeroize::Zeroize as _;

const USERNAME: &str = "user";
const PASSWORD: &str = "pencil";
/// RFC 7677 §3 salt (`W22ZaJ0SNY7soEsUEjb6gQ==`).
const SALT: [u8; 16] = [
    0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
];
const ITERATIONS: u32 = 4096;
const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const CONTINUE: u8 = 0x18;
/// The default `nonce_len`: random bytes per server nonce.
const NONCE_BYTES: [u8; 24] = [0xA5; 24];

struct Fixture {
    mechanism: Mechanism,
    server: ScramServer,
    connection: Arc<ConnectionInfo>,
    record: Arc<UserRecord>,
    client_first: Vec<u8>,
    client_final: Vec<u8>,
    /// `c=` of the client-final-message (`biws`).
    cbind: Vec<u8>,
    /// `p=` of the client-final-message.
    proof: Vec<u8>,
    /// The server signature, decoded.
    signature: Vec<u8>,
}

fn now() -> Timestamp {
    Timestamp::new(Duration::from_secs(1), 1_700_000_000)
}

fn server_start(f: &Fixture) -> (mqtt_scram::server::ServerChallenge, Vec<u8>) {
    let packet = StartPacket::Connect {
        method: f.mechanism.name(),
        data: Some(&f.client_first),
    };
    let pending = f.server.start(&f.connection, packet, now()).expect("start");
    let lookup = Lookup::Found(Arc::clone(&f.record));
    let (challenge, reply) = internal::continue_with_nonce(pending, lookup, SERVER_NONCE);
    (challenge, reply.data.expect("server-first"))
}

/// The value of `<letter>=` in a SCRAM message.
fn attribute(message: &[u8], letter: u8) -> Vec<u8> {
    message
        .split(|&b| b == b',')
        .find(|a| a.len() >= 2 && a[0] == letter && a[1] == b'=')
        .map(|a| a[2..].to_vec())
        .expect("attribute")
}

fn fixture(mechanism: Mechanism) -> Fixture {
    let credentials =
        StoredCredentials::derive(mechanism.hash(), PASSWORD, &SALT, ITERATIONS).expect("derive");
    let mut f = Fixture {
        mechanism,
        server: ScramServer::new(ServerConfig::new([7; 32]).mock_iterations(ITERATIONS))
            .expect("config"),
        connection: Arc::new(ConnectionInfo::new("bench")),
        record: Arc::new(UserRecord::new(credentials)),
        client_first: format!("n,,n={USERNAME},r={CLIENT_NONCE}").into_bytes(),
        client_final: Vec::new(),
        cbind: Vec::new(),
        proof: Vec::new(),
        signature: Vec::new(),
    };
    let (challenge, server_first) = server_start(&f);
    let (state, _) = internal::client_start_with_nonce(
        &ClientConfig::new(),
        mechanism,
        USERNAME,
        PASSWORD,
        ClientOptions::default(),
        CLIENT_NONCE,
    )
    .expect("client start");
    f.client_final = state
        .on_server_first(&server_first)
        .expect("client accepts server-first")
        .1;
    let Outcome::Accepted { reply, .. } =
        challenge.finish(CONTINUE, mechanism.name(), Some(&f.client_final), now())
    else {
        panic!("fixture exchange rejected");
    };
    f.cbind = attribute(&f.client_final, b'c');
    f.proof = attribute(&f.client_final, b'p');
    let server_final = reply.data.expect("server-final");
    f.signature = STANDARD
        .decode(attribute(&server_final, b'v'))
        .expect("signature");
    // Both sides agree on every operand before anything is timed.
    assert_eq!(engine_work(&f), crate_work(&f));
    f
}

/// One exchange's base64 work through the engine's functions; returns a checksum of the output.
fn engine_work(f: &Fixture) -> usize {
    use internal::base64::{decode_key, encode_into, matches};
    let mut out = [0u8; 128];
    let mut sum = encode_into(black_box(&NONCE_BYTES), &mut out);
    sum += usize::from(out[0]);
    sum += encode_into(black_box(&SALT), &mut out);
    sum += usize::from(out[1]);
    sum += usize::from(matches(black_box(&f.cbind), b"n,,", b""));
    let key = decode_key(black_box(&f.proof), f.signature.len()).expect("proof");
    sum += key.len() + usize::from(key.as_bytes()[0]);
    sum += encode_into(black_box(&f.signature), &mut out);
    sum + usize::from(out[2])
}

/// The same work with the `base64` crate's `STANDARD` engine.
fn crate_work(f: &Fixture) -> usize {
    let mut out = [0u8; 128];
    let mut sum = STANDARD
        .encode_slice(black_box(&NONCE_BYTES), &mut out)
        .expect("nonce");
    sum += usize::from(out[0]);
    sum += STANDARD
        .encode_slice(black_box(&SALT), &mut out)
        .expect("salt");
    sum += usize::from(out[1]);
    let mut expected = [0u8; 64];
    let cbind = black_box(&f.cbind);
    let equal = STANDARD
        .encode_slice(b"n,,", &mut expected)
        .is_ok_and(|n| ct_eq(cbind, &expected[..n]));
    sum += usize::from(equal);
    let mut buf = [0u8; 66];
    let n = STANDARD
        .decode_slice(black_box(&f.proof), &mut buf)
        .expect("proof");
    let key = Key::from_slice(&buf[..n]).filter(|k| k.len() == f.signature.len());
    buf.zeroize();
    let key = key.expect("proof length");
    sum += key.len() + usize::from(key.as_bytes()[0]);
    sum += STANDARD
        .encode_slice(black_box(&f.signature), &mut out)
        .expect("signature");
    sum + usize::from(out[2])
}

/// One server exchange, client-first to server-final.
fn exchange(f: &Fixture) -> Outcome {
    let (challenge, server_first) = server_start(f);
    black_box(server_first);
    match challenge.finish(
        CONTINUE,
        f.mechanism.name(),
        Some(black_box(&f.client_final)),
        now(),
    ) {
        outcome @ Outcome::Accepted { .. } => outcome,
        Outcome::Rejected(r) => panic!("rejected: {:?}", r.error),
    }
}

/// Nanoseconds per call of `run`, over `n` calls.
fn per_call<T>(n: u32, mut run: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        black_box(run());
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The interleaved check: every round times the three in turn.
fn interleaved() {
    const ROUNDS: usize = 41;
    const CALLS: u32 = 2_000;
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let f = fixture(mechanism);
        let (mut ex, mut o, mut t, mut share) = (vec![], vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            let e = per_call(CALLS, || exchange(&f));
            let a = per_call(CALLS, || engine_work(&f));
            let b = per_call(CALLS, || crate_work(&f));
            ex.push(e);
            o.push(a);
            t.push(b);
            share.push((b - a) / e * 100.0);
        }
        println!(
            "interleaved {}: exchange {:.0} ns, base64 work engine {:.1} ns, crate {:.1} ns; \
             crate - engine = {:.2} % of the exchange (median of {ROUNDS} rounds)",
            mechanism.name(),
            median(ex),
            median(o),
            median(t),
            median(share),
        );
    }
}

fn base64_in_server_exchange(c: &mut Criterion) {
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let f = fixture(mechanism);
        let mut group =
            c.benchmark_group(format!("base64_in_server_exchange/{}", mechanism.name()));
        group.bench_function("exchange", |b| b.iter(|| exchange(&f)));
        group.bench_function("engine", |b| b.iter(|| engine_work(&f)));
        group.bench_function("crate", |b| b.iter(|| crate_work(&f)));
        group.finish();
    }
}

criterion_group!(benches, base64_in_server_exchange);

fn main() {
    interleaved();
    if std::env::var_os("BASE64_INTERLEAVED_ONLY").is_none() {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
}
