//! Issue 20 §5: the time to a server-first-message must not tell who exists when a
//! `Cached` store answers. Three cases, side by side in one run, each the server's
//! `start` → `Cached` lookup → `continue_with` for a user looked up a moment before:
//!
//! - `cached_known`: a known user, answered from the cache (the default TTL, 60 s);
//! - `cached_unknown`: an unknown user, answered from the cache (the default negative TTL,
//!   now equal to the TTL);
//! - `old_uncached_unknown`: an unknown user under the old default (negative TTL 5 s),
//!   more than 5 s after the last attempt: the cache has forgotten it, the store is asked.
//!
//! The store behind the cache takes 50 µs per lookup (a busy wait standing in for a
//! loopback Redis or PostgreSQL round trip).
//!
//! Quick run: `cargo bench --bench cache_timing -- --warm-up-time 1 --measurement-time 3`.
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

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use mqtt_scram::provider::{
    Cached, CredentialProvider, Lookup, LookupRequest, MemoryProvider, SyncCredentialProvider,
    UserRecord,
};
use mqtt_scram::{
    ConnectionInfo, HashAlgorithm, ScramServer, ServerConfig, StartPacket, StoredCredentials,
    Timestamp,
};

/// What one lookup in the store behind the cache takes.
const STORE_LATENCY: Duration = Duration::from_micros(50);

/// A store that takes [`STORE_LATENCY`] per lookup.
struct SlowStore(MemoryProvider);

impl SyncCredentialProvider for SlowStore {
    fn lookup_sync(&self, request: &LookupRequest<'_>) -> Lookup {
        let start = Instant::now();
        while start.elapsed() < STORE_LATENCY {
            std::hint::spin_loop();
        }
        self.0.lookup_sync(request)
    }
}

fn store() -> SlowStore {
    let memory = MemoryProvider::new();
    let credentials =
        StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)
            .unwrap();
    memory.insert("alice", UserRecord::new(credentials));
    SlowStore(memory)
}

/// One server-first for `user`: start, the cache's answer, continue_with.
fn server_first<P: CredentialProvider>(
    server: &ScramServer,
    conn: &Arc<ConnectionInfo>,
    cache: &P,
    first: &[u8],
    rng: &mut rand::rngs::ThreadRng,
) -> Vec<u8> {
    let start = StartPacket::Connect {
        method: "SCRAM-SHA-256",
        data: Some(first),
    };
    let pending = server
        .start(conn, start, Timestamp::new(Duration::ZERO, 0))
        .unwrap();
    let lookup = cache.lookup(&pending.request()).now_or_never().unwrap();
    let (_, reply) = pending.continue_with(lookup, rng);
    reply.data.unwrap()
}

fn answer_time(c: &mut Criterion) {
    let server = ScramServer::new(ServerConfig::new([0x5a; 32])).unwrap();
    let conn = Arc::new(ConnectionInfo::new("client-1"));
    let mut rng = rand::rng();
    let new_default = Cached::new(store());
    // The old default 5 s later: the "not found" is gone while records stay 60 s.
    let old_default = Cached::new(store()).negative_ttl(Duration::ZERO);
    let known = b"n,,n=alice,r=rOprNGfwEbeRWgbNEkqO".as_slice();
    let unknown = b"n,,n=alicf,r=rOprNGfwEbeRWgbNEkqO".as_slice();
    for (cache, first) in [
        (&new_default, known),
        (&new_default, unknown),
        (&old_default, unknown),
    ] {
        // Warm the cache as an earlier attempt would have.
        server_first(&server, &conn, cache, first, &mut rng);
    }
    let mut group = c.benchmark_group("cache_answer_time");
    let cases = [
        ("cached_known", &new_default, known),
        ("cached_unknown", &new_default, unknown),
        ("old_uncached_unknown", &old_default, unknown),
    ];
    for (name, cache, first) in cases {
        group.bench_function(name, |b| {
            b.iter(|| black_box(server_first(&server, &conn, cache, first, &mut rng)))
        });
    }
    group.finish();
}

criterion_group!(benches, answer_time);
criterion_main!(benches);
