//! A server exchange with stored credentials (client-first → server-final, no PBKDF2 on
//! the server), side by side in one run: mqtt-scram, rsasl 2.3.1, the `scram` crate 0.6, and
//! the floor — the SHA-2 compressions such an exchange cannot avoid, run back to back.
//!
//! Every row times the same two regions per exchange, in batches of [`BATCH`]:
//! 1. the client-first-message in, the server-first-message out: message parsing, the
//!    credential lookup (mqtt-scram: the record handed over as a shared `Arc`, or, as users
//!    call it, a `MemoryProvider` of 1,001 users; rsasl: its callback handing out the
//!    stored keys; `scram`: its provider building a `PasswordInfo`), the server nonce and
//!    the reply; rsasl also starts its session here;
//! 2. the client-final-message in, the server-final-message out: parsing, the channel
//!    binding and nonce checks, both signatures, the proof check and the reply.
//!
//! What the client computes in between (its proof) is not timed. Rows:
//! - `floor`: the compressions issue 15 counts for an exchange of these message sizes
//!   (RFC 7677 §3: a 20-character client nonce, 28-character server nonce, 16-byte salt),
//!   chained, on one block: SHA-256: 2 for an HMAC mock salt computed for every user,
//!   4 + 4 for ClientSignature and ServerSignature with precomputed key states, 1 for
//!   `H(ClientKey)` = 11; SHA-512: 2 + 3 + 3 + 1 = 9 (128-byte blocks). mqtt-scram now
//!   does one less: its mock salt is one SHA-256 compression (10 for SHA-256; 7 SHA-512
//!   + 1 SHA-256 for SHA-512);
//! - `mqtt-scram`: a deterministic random source (a counter, created per exchange) and the
//!   RFC 7677 nonce sizes (`nonce_len(21)`), so the client-final computed once stays valid;
//! - `mqtt-scram as users call it`: the default configuration (24-byte nonces),
//!   `rand::rng()` (ChaCha12, thread-local) and a `MemoryProvider` of 1,001 users; the
//!   client-final computed per exchange (untimed);
//! - `mqtt-scram wrong password`, `mqtt-scram unknown user (mock)`: as `mqtt-scram`;
//! - `rsasl 2.3.1`: `SASLServer::start_suggested` + two `Session::step`s, its own
//!   `thread_rng` nonce (24 printable characters; it has no other way to call it);
//! - `scram 0.6` (SHA-256 only): `server_first_with_rng` with a fixed `StepRng`, and
//!   `scram 0.6 as users call it`: `server_first()` (its default random source).
//!
//! `cargo bench --bench compare_servers` (`COMPARE_INTERLEAVED_ONLY=1` skips criterion).
//! After criterion it prints an interleaved check:
//! every row timed in turn for [`ROUNDS`] rounds, medians and the ratios the targets are
//! about. The same file is the bench of `benches/dependent`, which links the engine the
//! way a user's crate does.
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
use criterion::{Criterion, SamplingMode};
use mqtt_scram::internal::crypto;
use mqtt_scram::provider::{Lookup, MemoryProvider, SyncCredentialProvider, UserRecord};
use mqtt_scram::{
    ConnectionInfo, HashAlgorithm, Mechanism, Outcome, ScramServer, ServerConfig, StartPacket,
    StoredCredentials, Timestamp,
};
use sha2::block_api::{compress256, compress512};

const USER: &str = "user";
const PASSWORD: &str = "pencil";
/// RFC 7677 §3 salt and client nonce.
const SALT: &[u8] = &[
    0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
];
const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const ITERATIONS: u32 = 4096;
const NOW: Timestamp = Timestamp::new(Duration::from_secs(1), 1_700_000_000);
/// Exchanges per timed batch: the timer is read four times per batch, and the batch's
/// pending states stay in the L1 cache as they would for a few concurrent handshakes.
pub const BATCH: usize = 8;
/// Rounds of the interleaved check.
pub const ROUNDS: usize = 201;

/// A deterministic byte source (a counter) for replaying one exchange; never use it for real.
#[path = "support/replay.rs"]
mod replay;
use replay::Replay;

/// The client's keys, derived once: what it needs to answer any server-first.
struct ClientKeys {
    hash: HashAlgorithm,
    client_key: crypto::Key,
    stored_key: crypto::Key,
}

impl ClientKeys {
    fn new(hash: HashAlgorithm, password: &str) -> Self {
        let count = std::num::NonZeroU32::new(ITERATIONS).unwrap();
        let salted = crypto::hi(hash, password.as_bytes(), SALT, count);
        let client_key = crypto::client_key(hash, &salted);
        let stored_key = crypto::stored_key(hash, &client_key);
        Self {
            hash,
            client_key,
            stored_key,
        }
    }

    /// The client-final-message for `server_first` (after `n,,n=<user>,r=<CLIENT_NONCE>`),
    /// for a mock salt too (the client does not know; its proof then simply fails).
    fn client_final(&self, username: &str, server_first: &[u8]) -> Vec<u8> {
        let text = std::str::from_utf8(server_first).unwrap();
        let nonce = text.split(',').find_map(|f| f.strip_prefix("r=")).unwrap();
        let without_proof = format!("c=biws,r={nonce}");
        let bare = format!("n={username},r={CLIENT_NONCE}");
        let auth: [&[u8]; 5] = [
            bare.as_bytes(),
            b",",
            server_first,
            b",",
            without_proof.as_bytes(),
        ];
        let signature = crypto::hmac(self.hash, self.stored_key.as_bytes(), &auth);
        let proof = crypto::xor(&self.client_key, &signature);
        format!("{without_proof},p={}", STANDARD.encode(proof.as_bytes())).into_bytes()
    }
}

fn client_first(username: &str) -> Vec<u8> {
    format!("n,,n={username},r={CLIENT_NONCE}").into_bytes()
}

/// One contender: the two timed steps and the client's untimed part.
trait Contender {
    /// The server's state between the two steps.
    type Pending<'a>
    where
        Self: 'a;
    /// Client-first in, server-first out (timed).
    fn first(&self) -> (Self::Pending<'_>, Vec<u8>);
    /// The client-final for this server-first (untimed).
    fn client_final(&self, server_first: &[u8]) -> Vec<u8>;
    /// Client-final in, server-final out (timed); whether the server accepted.
    fn finish(&self, pending: Self::Pending<'_>, client_final: &[u8]) -> bool;
}

/// Runs `n` exchanges in batches; returns the time of the two timed regions.
fn run<C: Contender>(c: &C, n: u64, expect: bool) -> Duration {
    let mut total = Duration::ZERO;
    let mut pending = Vec::with_capacity(BATCH);
    let mut finals = Vec::with_capacity(BATCH);
    let mut left = n;
    while left > 0 {
        let batch = left.min(BATCH as u64) as usize;
        left -= batch as u64;
        let start = Instant::now();
        for _ in 0..batch {
            pending.push(c.first());
        }
        total += start.elapsed();
        finals.clear();
        finals.extend(pending.iter().map(|(_, sf)| c.client_final(sf)));
        let start = Instant::now();
        for ((p, _), cf) in pending.drain(..).zip(&finals) {
            let accepted = c.finish(p, black_box(cf));
            debug_assert_eq!(accepted, expect);
            black_box(accepted);
        }
        total += start.elapsed();
    }
    total
}

/// Where mqtt-scram's record comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Provider {
    /// The record handed over as a shared `Arc` (what any store hit costs at least; the
    /// other servers' callbacks likewise hand out keys they hold).
    Direct,
    /// A `MemoryProvider` of 1,001 users (a read lock and a hash-map probe more).
    Memory,
}

/// mqtt-scram.
struct Ours {
    server: ScramServer,
    connection: Arc<ConnectionInfo>,
    provider: Provider,
    record: Arc<UserRecord>,
    store: MemoryProvider,
    mechanism: Mechanism,
    username: &'static str,
    client_first: Vec<u8>,
    keys: ClientKeys,
    /// Whether the server draws its nonce from [`Replay`].
    replay: bool,
    /// With `replay`: the client-final for the one server-first it gives.
    fixed: Option<Vec<u8>>,
}

impl Ours {
    fn new(
        mechanism: Mechanism,
        username: &'static str,
        password: &str,
        fixed: bool,
        provider: Provider,
    ) -> Self {
        let hash = mechanism.hash();
        let config = ServerConfig::new([7; 32]);
        let config = if fixed { config.nonce_len(21) } else { config };
        let store = MemoryProvider::new();
        let creds = StoredCredentials::derive(hash, PASSWORD, SALT, ITERATIONS).unwrap();
        for i in 0..1000 {
            store.insert(&format!("user{i:04}"), UserRecord::new(creds.clone()));
        }
        let record = Arc::new(UserRecord::new(creds));
        store.insert_shared(USER, Arc::clone(&record));
        let mut ours = Self {
            server: ScramServer::new(config).unwrap(),
            connection: Arc::new(ConnectionInfo::new("bench-client")),
            provider,
            record,
            store,
            mechanism,
            username,
            client_first: client_first(username),
            keys: ClientKeys::new(hash, password),
            replay: fixed,
            fixed: None,
        };
        if fixed {
            let (_, server_first) = ours.first();
            ours.fixed = Some(ours.keys.client_final(username, &server_first));
        }
        ours
    }
}

impl Contender for Ours {
    type Pending<'a> = mqtt_scram::server::ServerChallenge;

    fn first(&self) -> (Self::Pending<'_>, Vec<u8>) {
        let packet = StartPacket::Connect {
            method: self.mechanism.name(),
            data: Some(black_box(&self.client_first)),
        };
        let Ok(pending) = self.server.start(&self.connection, packet, NOW) else {
            panic!("start refused")
        };
        let lookup = match self.provider {
            Provider::Memory => self.store.lookup_sync(&pending.request()),
            Provider::Direct if pending.request().username == USER => {
                Lookup::Found(Arc::clone(&self.record))
            }
            Provider::Direct => Lookup::NotFound,
        };
        let (challenge, reply) = if self.replay {
            pending.continue_with(lookup, &mut Replay(7))
        } else {
            pending.continue_with(lookup, &mut rand::rng())
        };
        (challenge, reply.data.unwrap_or_default())
    }

    fn client_final(&self, server_first: &[u8]) -> Vec<u8> {
        match &self.fixed {
            Some(client_final) => client_final.clone(),
            None => self.keys.client_final(self.username, server_first),
        }
    }

    fn finish(&self, pending: Self::Pending<'_>, client_final: &[u8]) -> bool {
        let outcome = pending.finish(0x18, self.mechanism.name(), Some(client_final), NOW);
        matches!(black_box(outcome), Outcome::Accepted { .. })
    }
}

#[path = "compare_servers/peers.rs"]
mod peers;
use peers::{Rsasl, Scram06};

/// `n` chained compressions of one block: the floor.
fn floor(hash: HashAlgorithm, n: u32) {
    match hash {
        HashAlgorithm::Sha256 => {
            let mut state = [0x6a09e667u32; 8];
            let block = black_box([0x5a; 64]);
            for _ in 0..n {
                compress256(&mut state, core::slice::from_ref(&block));
            }
            black_box(state);
        }
        HashAlgorithm::Sha512 => {
            let mut state = [0x6a09e667f3bcc908u64; 8];
            let block = black_box([0x5a; 128]);
            for _ in 0..n {
                compress512(&mut state, core::slice::from_ref(&block));
            }
            black_box(state);
        }
    }
}

/// Compressions of an RFC 7677-sized exchange (see the module docs).
pub fn floor_compressions(hash: HashAlgorithm) -> u32 {
    match hash {
        HashAlgorithm::Sha256 => 11,
        HashAlgorithm::Sha512 => 9,
    }
}

/// One exchange, checked: the row measures what it claims to.
fn check<C: Contender>(c: &C, expect: bool, what: &str) {
    let (pending, server_first) = c.first();
    let client_final = c.client_final(&server_first);
    assert_eq!(c.finish(pending, &client_final), expect, "{what}");
}

/// A named row of the table: runs `n` exchanges, returns the time of the timed regions.
pub struct Row {
    pub name: String,
    pub run: Box<dyn Fn(u64) -> Duration>,
}

fn row<C: Contender + 'static>(name: &str, contender: C, expect: bool) -> Row {
    check(&contender, expect, name);
    let contender: &'static C = Box::leak(Box::new(contender));
    Row {
        name: name.into(),
        run: Box::new(move |n| run(contender, n, expect)),
    }
}

/// Every row for one hash, in table order; the floor first.
pub fn rows(hash: HashAlgorithm) -> Vec<Row> {
    let mechanism = hash.mechanism();
    let k = floor_compressions(hash);
    let mut rows = vec![
        Row {
            name: format!("floor ({k} compressions)"),
            run: Box::new(move |n| {
                let start = Instant::now();
                for _ in 0..n {
                    floor(hash, black_box(k));
                }
                start.elapsed()
            }),
        },
        row(
            "mqtt-scram",
            Ours::new(mechanism, USER, PASSWORD, true, Provider::Direct),
            true,
        ),
        row(
            "mqtt-scram as users call it",
            Ours::new(mechanism, USER, PASSWORD, false, Provider::Memory),
            true,
        ),
        row(
            "mqtt-scram wrong password",
            Ours::new(mechanism, USER, "pencil?", true, Provider::Direct),
            false,
        ),
        row(
            "mqtt-scram unknown user (mock)",
            Ours::new(mechanism, "nobody", PASSWORD, true, Provider::Direct),
            false,
        ),
        row("rsasl 2.3.1", Rsasl::new(hash), true),
    ];
    if hash == HashAlgorithm::Sha256 {
        rows.push(row("scram 0.6", Scram06::new(true), true));
        rows.push(row("scram 0.6 as users call it", Scram06::new(false), true));
    }
    rows
}

fn criterion_rows(c: &mut Criterion, hash: HashAlgorithm, rows: &[Row]) {
    let mut g = c.benchmark_group(format!("server-exchange/{hash}"));
    // Many short samples: on a shared machine most run without being preempted, so the
    // median shows the machine's speed rather than its load, and the rows run within
    // seconds of each other. These settings override the command line's times.
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(300)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(900));
    for row in rows {
        g.bench_function(&row.name, |b| b.iter_custom(|iters| (row.run)(iters)));
    }
    g.finish();
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Every row in turn, [`ROUNDS`] times (so load from other processes hits all of them
/// alike): per-row median and fastest round in ns per exchange, and the ratios the
/// targets are about, as medians of the per-round ratios.
fn interleaved(hash: HashAlgorithm, rows: &[Row]) {
    const PER_ROUND: u64 = 4 * BATCH as u64;
    let mut times = vec![Vec::with_capacity(ROUNDS); rows.len()];
    for _ in 0..ROUNDS {
        for (row, t) in rows.iter().zip(times.iter_mut()) {
            let d = (row.run)(PER_ROUND);
            t.push(d.as_secs_f64() * 1e9 / PER_ROUND as f64);
        }
    }
    let find = |name: &str| rows.iter().position(|r| r.name == name);
    let ratio = |a: Option<usize>, b: Option<usize>| -> Option<f64> {
        let (a, b) = (a?, b?);
        let mut r: Vec<f64> = times[a].iter().zip(&times[b]).map(|(x, y)| x / y).collect();
        Some(median(&mut r))
    };
    for (row, t) in rows.iter().zip(&times) {
        let mut t = t.clone();
        let min = t.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "interleaved server-exchange/{hash}/{}: median {:.0} ns, fastest round {min:.0} ns",
            row.name,
            median(&mut t)
        );
    }
    let floor = Some(0);
    let ours = find("mqtt-scram");
    let users = find("mqtt-scram as users call it");
    let rsasl = find("rsasl 2.3.1");
    let pairs = [
        ("mqtt-scram / floor", ours, floor),
        ("mqtt-scram as users call it / floor", users, floor),
        ("rsasl 2.3.1 / mqtt-scram", rsasl, ours),
        ("rsasl 2.3.1 / mqtt-scram as users call it", rsasl, users),
        ("scram 0.6 / mqtt-scram", find("scram 0.6"), ours),
        (
            "scram 0.6 as users call it / mqtt-scram as users call it",
            find("scram 0.6 as users call it"),
            users,
        ),
        (
            "unknown user / wrong password",
            find("mqtt-scram unknown user (mock)"),
            find("mqtt-scram wrong password"),
        ),
    ];
    for (name, a, b) in pairs {
        if let Some(r) = ratio(a, b) {
            println!("interleaved ratio {hash}: {name} = {r:.3}");
        }
    }
}

pub fn main() {
    let all: Vec<(HashAlgorithm, Vec<Row>)> = [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
        .into_iter()
        .map(|hash| (hash, rows(hash)))
        .collect();
    // `COMPARE_INTERLEAVED_ONLY=1`: skip criterion, print only the interleaved check
    // (a quick look, or several runs of two builds in alternation).
    if std::env::var_os("COMPARE_INTERLEAVED_ONLY").is_none() {
        let mut c = Criterion::default().configure_from_args();
        for (hash, rows) in &all {
            criterion_rows(&mut c, *hash, rows);
        }
        c.final_summary();
    }
    let args: Vec<String> = std::env::args().collect();
    let quick = args
        .iter()
        .any(|a| a == "--list" || a == "--test" || a == "--profile-time");
    // `cargo bench -- <filter>` with a filter: only criterion's rows.
    let filtered = args.iter().skip(1).any(|a| !a.starts_with('-'));
    if !quick && !filtered {
        for (hash, rows) in &all {
            interleaved(*hash, rows);
        }
    }
}
