//! Equal work for unknown users (issue 13 §1): a correct password, a wrong password and an
//! unknown user, interleaved, timed one exchange at a time, and the two-sample
//! Kolmogorov–Smirnov statistic between the wrong-password and unknown-user times.
//!
//! Setup: SCRAM-SHA-256, a `MemoryProvider` of 1,001 users (`user0000`..`user1000`, all
//! with the same 8-character name length, as the unknown ones `user1001`..), the server
//! as users configure it (default `ServerConfig`), a deterministic random source so the
//! client-finals computed up front stay valid. One timed region per exchange: CONNECT
//! (client-first) → `start` → `MemoryProvider::lookup_sync` → `continue_with` → `finish`
//! with the client-final → the outcome dropped. [`N`] exchanges of each kind, in rounds
//! of one of each in a shuffled order, users taken round-robin from [`USERS`] per kind.
//!
//! The target: wrong password and unknown user indistinguishable, the KS statistic below
//! its 1 % critical value (1.628 · √(2/N) ≈ 0.0163 for N = 20,000). Printed too: the
//! statistic between a correct and a wrong password (a success does more: it writes the
//! server signature and builds the identity, and the KS test sees that), and a control,
//! wrong passwords of two sets of users, which do the same work: its statistic is what
//! the machine's noise alone produces. The whole run is repeated with the records handed
//! to the engine directly (no store), to tell the engine's share from the store's.
//!
//! `cargo bench --bench equal_work` (about 10 s); `EQUAL_WORK_N=5000` for a quicker look.
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

use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::{Lookup, MemoryProvider, SyncCredentialProvider, UserRecord};
use mqtt_scram::{
    ConnectionInfo, HashAlgorithm, Mechanism, Outcome, ScramServer, ServerConfig, StartPacket,
    StoredCredentials, Timestamp,
};

/// Exchanges of each kind.
const N: usize = 20_000;
/// Users per kind whose messages are prepared (round-robin).
const USERS: usize = 64;
const NOW: Timestamp = Timestamp::new(Duration::from_secs(1), 1_700_000_000);
const MECHANISM: Mechanism = Mechanism::ScramSha256;

#[path = "support/replay.rs"]
mod replay;
use replay::Replay;

/// One prepared exchange: the client's two messages, and the user's record (for the
/// engine-only comparison, which hands it over without a store).
struct Prepared {
    client_first: Vec<u8>,
    client_final: Vec<u8>,
    record: Option<Arc<UserRecord>>,
}

struct Setup {
    server: ScramServer,
    connection: Arc<ConnectionInfo>,
    store: MemoryProvider,
}

impl Setup {
    fn new() -> Self {
        let store = MemoryProvider::new();
        let salt = [0x5a; 16];
        for i in 0..=1000 {
            // The same password for all; each user its own record, as in a real store.
            let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", &salt, 4096)
                .expect("derive");
            store.insert(&format!("user{i:04}"), UserRecord::new(creds));
        }
        Self {
            server: ScramServer::new(ServerConfig::new([9; 32])).expect("config"),
            connection: Arc::new(ConnectionInfo::new("bench")),
            store,
        }
    }

    /// Runs one exchange; returns whether it was accepted. `direct`: hand the record over
    /// without the store (what the engine alone does).
    fn exchange(&self, p: &Prepared, direct: bool) -> bool {
        let (client_first, client_final) = (black_box(&p.client_first), black_box(&p.client_final));
        let packet = StartPacket::Connect {
            method: MECHANISM.name(),
            data: Some(client_first),
        };
        let Ok(pending) = self.server.start(&self.connection, packet, NOW) else {
            panic!("start refused")
        };
        let lookup = if direct {
            p.record.clone().map_or(Lookup::NotFound, Lookup::Found)
        } else {
            self.store.lookup_sync(&pending.request())
        };
        let (challenge, reply) = pending.continue_with(lookup, &mut Replay(3));
        drop(black_box(reply));
        let outcome = challenge.finish(0x18, MECHANISM.name(), Some(client_final), NOW);
        matches!(black_box(outcome), Outcome::Accepted { .. })
    }

    /// The client's messages for `username` typing `password`.
    fn prepare(&self, username: &str, password: &str) -> Prepared {
        let (state, client_first) = client::start(
            &ClientConfig::new(),
            MECHANISM,
            username,
            password,
            &mut Replay(11),
        )
        .expect("client start");
        let packet = StartPacket::Connect {
            method: MECHANISM.name(),
            data: Some(&client_first),
        };
        let pending = self.server.start(&self.connection, packet, NOW).unwrap();
        let lookup = self.store.lookup_sync(&pending.request());
        let (_, reply) = pending.continue_with(lookup, &mut Replay(3));
        let (_, client_final) = state
            .on_server_first(&reply.data.expect("server-first"))
            .expect("client accepts the server-first");
        Prepared {
            client_first,
            client_final,
            record: self.store.get(username, HashAlgorithm::Sha256),
        }
    }
}

/// The two-sample Kolmogorov–Smirnov statistic: the largest distance between the two
/// empirical distribution functions.
fn ks(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q) as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let n = std::env::var("EQUAL_WORK_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(N);
    let setup = Setup::new();
    // Kinds: 0 correct password, 1 wrong password, 2 unknown user, and 3 a wrong password
    // again for other users: the same work as 1, so KS(1, 3) is this machine's noise floor.
    let kinds: [Vec<Prepared>; 4] = [
        (0..USERS)
            .map(|i| setup.prepare(&format!("user{i:04}"), "pencil"))
            .collect(),
        (0..USERS)
            .map(|i| setup.prepare(&format!("user{:04}", 500 + i), "pencil?"))
            .collect(),
        (0..USERS)
            .map(|i| setup.prepare(&format!("user{:04}", 1001 + i), "pencil"))
            .collect(),
        (0..USERS)
            .map(|i| setup.prepare(&format!("user{:04}", 700 + i), "pencil?"))
            .collect(),
    ];
    for direct in [false, true] {
        measure(&setup, &kinds, n, direct);
    }
}

/// Times `n` exchanges of each kind, interleaved, and prints the distributions and the
/// KS statistics. `direct`: the engine alone, records handed over without the store.
fn measure(setup: &Setup, kinds: &[Vec<Prepared>; 4], n: usize, direct: bool) {
    let what = if direct {
        "engine alone (records handed over)"
    } else {
        "MemoryProvider, 1,001 users"
    };
    for (kind, expect) in kinds.iter().zip([true, false, false, false]) {
        for p in kind {
            assert_eq!(setup.exchange(p, direct), expect);
        }
    }
    // Warm up, then measure.
    for round in 0..2_000 {
        for kind in kinds {
            black_box(setup.exchange(&kind[round % USERS], direct));
        }
    }
    let mut times: [Vec<f64>; 4] = [(); 4].map(|()| Vec::with_capacity(n));
    let mut order = [0usize, 1, 2, 3];
    let mut lcg = 0x2545_f491_4f6c_dd1du64;
    for round in 0..n {
        // A new order each round (Fisher–Yates with a fixed LCG): no kind always goes first.
        for i in (1..order.len()).rev() {
            lcg = lcg
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            order.swap(i, (lcg >> 33) as usize % (i + 1));
        }
        for &kind in &order {
            let p = &kinds[kind][round % USERS];
            let start = Instant::now();
            let accepted = setup.exchange(p, direct);
            let elapsed = start.elapsed();
            black_box(accepted);
            times[kind].push(elapsed.as_secs_f64() * 1e9);
        }
    }
    let names = [
        "correct password",
        "wrong password",
        "unknown user",
        "wrong password (other users)",
    ];
    for (name, t) in names.iter().zip(&times) {
        println!(
            "equal-work/sha256/{what}/{name}: median {:.0} ns, p10 {:.0} ns, p90 {:.0} ns (N = {})",
            quantile(t, 0.5),
            quantile(t, 0.1),
            quantile(t, 0.9),
            t.len()
        );
    }
    let critical = 1.628 * (2.0 / n as f64).sqrt();
    let d_wrong_unknown = ks(&times[1], &times[2]);
    let d_correct_wrong = ks(&times[0], &times[1]);
    let d_noise = ks(&times[1], &times[3]);
    println!(
        "equal-work/sha256/{what}: KS(wrong password, unknown user) = {d_wrong_unknown:.4} (1 % critical value {critical:.4}: {})",
        if d_wrong_unknown < critical {
            "indistinguishable"
        } else {
            "DISTINGUISHABLE"
        }
    );
    println!(
        "equal-work/sha256/{what}: KS(correct, wrong password) = {d_correct_wrong:.4}; median unknown / wrong = {:.4}",
        quantile(&times[2], 0.5) / quantile(&times[1], 0.5)
    );
    println!(
        "equal-work/sha256/{what}: noise floor KS(wrong password, wrong password for other users) = {d_noise:.4}"
    );
}
