//! Handshakes that expire give their memory back (issue 22 §2): after thousands of
//! handshakes from as many addresses waited at once and expired, the heap is back where
//! it was before them (the admission's per-address table, the work queue and the notice
//! log are not left at the size the burst grew them to).
//!
//! Counted with a counting global allocator, so this file holds one test only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::alloc::System;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::{MemoryProvider, UserRecord};
use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism, ServerConfig, StoredCredentials};
use mqtt_scram_authenticator::Authenticator;
use mqtt_scram_authenticator::admission::AdmissionPolicy;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// How many wait at once in the measured burst.
const BURST: usize = 5_000;

fn authenticator() -> Authenticator {
    let store = MemoryProvider::new();
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)
            .unwrap();
    store.insert("alice", UserRecord::new(creds));
    let mut policy = AdmissionPolicy::default();
    policy.max_handshakes = BURST + 100;
    policy.first_step_timeout = Duration::from_millis(300);
    Authenticator::builder(ServerConfig::new([0x5a; 32]), store)
        .admission(policy)
        .build()
        .unwrap()
}

/// The i-th address of 127.0.0.0/8.
fn peer(i: usize) -> SocketAddr {
    let i = i + 1;
    SocketAddr::from(([127, (i >> 16) as u8, (i >> 8) as u8, i as u8], 40_000))
}

/// `firsts.len()` handshakes from as many addresses, all waiting for the client's final
/// message at once, then all expired (AUTH 0x18 sent, CONNACK 0x87 answered).
async fn burst(
    a: &Authenticator,
    firsts: &[Vec<u8>],
    infos: &[Arc<ConnectionInfo>],
    flush_at: u64,
) {
    let mut held = Vec::with_capacity(firsts.len());
    for (first, info) in firsts.iter().zip(infos) {
        let mut auth = a.connection(Arc::clone(info));
        let step = auth.on_connect("SCRAM-SHA-256", Some(first)).await;
        assert_eq!(step.reason_code, 0x18, "{step:?}");
        held.push(auth);
    }
    assert_eq!(a.admission().stats().handshakes, firsts.len());
    assert_eq!(a.admission().stats().addresses, firsts.len());
    for auth in &mut held {
        assert_eq!(auth.timeout().await.reason_code, 0x87);
    }
    drop(held);
    assert_eq!(a.admission().stats().handshakes, 0);
    // The pending summary of the stalled handshakes is emitted (its table emptied), as a
    // broker's periodic tick does.
    assert!(
        a.admission()
            .flush_notices(Duration::from_secs(flush_at))
            .is_some()
    );
}

#[test]
fn expired_handshakes_give_their_memory_back() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let a = authenticator();
    // Everything the handshakes are made of exists before the measurement: client-first
    // messages, connection infos, and the buffers they are taken from.
    let firsts: Vec<Vec<u8>> = (0..BURST)
        .map(|_| {
            let (_, first) = client::start(
                &ClientConfig::new(),
                Mechanism::ScramSha256,
                "alice",
                "pencil",
                &mut rand::rng(),
            )
            .unwrap();
            first
        })
        .collect();
    let infos: Vec<Arc<ConnectionInfo>> = (0..BURST)
        .map(|i| Arc::new(ConnectionInfo::new(format!("waiting-{i}")).with_peer(peer(i))))
        .collect();
    // A small burst first: whatever is made once (timer driver, notice log, counters).
    runtime.block_on(burst(&a, &firsts[..8], &infos[..8], 1 << 40));

    let region = Region::new(GLOBAL);
    runtime.block_on(burst(&a, &firsts, &infos, 1 << 41));
    let stats = region.change();
    let left = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64;
    // Before the fix the per-address table alone kept 8,192 buckets of 48 bytes (~400 KB,
    // ~80 B per handshake of this burst). A few fixed-size tables may stay: 16 KiB is
    // under 4 bytes per handshake.
    assert!(
        left <= 16 * 1024,
        "{left} bytes stay allocated after {BURST} handshakes expired ({:.1} B each)",
        left as f64 / BURST as f64
    );
}
