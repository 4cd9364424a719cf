//! What a server handshake in flight costs in memory, and what each step allocates,
//! measured with a counting global allocator (`stats_alloc`).
//!
//! Budget (issue 7, tightened by issue 22 §2 from 512): a `ServerChallenge` (the state kept
//! between AUTH 0x18 and the client's answer) holds at most 384 bytes including its heap,
//! for a typical exchange (RFC 7677 names and nonce sizes). Issue 15: between `start` and `finish` nothing is allocated but
//! the reply buffers (and the identity) the caller receives — asserted exactly below.
//!
//! Everything runs in one test function: the counters are process-wide, and the test
//! harness would otherwise run other tests on other threads in between.

// Test helpers outside #[test] functions may fail loudly.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::{Lookup, UserRecord};
use mqtt_scram::server::ServerChallenge;
use mqtt_scram::{
    ConnectionInfo, Mechanism, Outcome, ReasonCode, Reply, ScramServer, ServerConfig, StartPacket,
    StoredCredentials, Timestamp,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// In-flight budget for one `ServerChallenge`, stack part plus heap it owns.
const BUDGET: usize = 384;

const NOW: Timestamp = Timestamp::new(Duration::from_secs(1), 1_700_000_000);
const SALT: &[u8] = &[
    0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
];

struct Setup {
    server: ScramServer,
    connection: Arc<ConnectionInfo>,
    mechanism: Mechanism,
    client_first: Vec<u8>,
    client: Option<client::AwaitingServerFirst>,
    record: Option<Arc<UserRecord>>,
}

fn setup(mechanism: Mechanism, username: &str, password: &str, known: bool) -> Setup {
    let server = ScramServer::new(ServerConfig::new([9; 32])).unwrap();
    let connection = Arc::new(ConnectionInfo::new("memory-test"));
    let creds = StoredCredentials::derive(mechanism.hash(), "pencil", SALT, 4096).expect("derive");
    let (client, client_first) = client::start(
        &ClientConfig::new(),
        mechanism,
        username,
        password,
        &mut StdRng::seed_from_u64(1),
    )
    .expect("client start");
    Setup {
        server,
        connection,
        mechanism,
        client_first,
        client: Some(client),
        record: known.then(|| Arc::new(UserRecord::new(creds))),
    }
}

fn lookup(s: &Setup) -> Lookup {
    match &s.record {
        Some(r) => Lookup::Found(Arc::clone(r)),
        None => Lookup::NotFound,
    }
}

/// Runs start + continue_with; returns the challenge, the server-first and the
/// allocations the two steps made (not counting the lookup, built before).
fn challenge(s: &Setup) -> (ServerChallenge, Reply, stats_alloc::Stats) {
    let lookup = lookup(s);
    let mut rng = StdRng::seed_from_u64(2);
    let region = Region::new(GLOBAL);
    let packet = StartPacket::Connect {
        method: s.mechanism.name(),
        data: Some(&s.client_first),
    };
    let pending = s.server.start(&s.connection, packet, NOW).expect("start");
    let (challenge, reply) = pending.continue_with(lookup, &mut rng);
    let stats = region.change();
    (challenge, reply, stats)
}

/// Bytes owned by `challenge`: its own size plus the heap its drop frees.
fn held_bytes(challenge: ServerChallenge) -> (usize, usize) {
    let size = std::mem::size_of_val(&challenge);
    let region = Region::new(GLOBAL);
    drop(challenge);
    let freed = region.change();
    assert_eq!(freed.allocations, 0, "dropping allocates nothing");
    (size, freed.bytes_deallocated)
}

struct Report {
    mechanism: Mechanism,
    case: &'static str,
    stack: usize,
    heap: usize,
    challenge_allocs: usize,
    finish_allocs: usize,
    finish_bytes: usize,
    accepted: bool,
}

fn measure(mechanism: Mechanism, case: &'static str) -> Report {
    let (user, password, known) = match case {
        "success" => ("user", "pencil", true),
        "40-byte username" => ("sensor-0123456789-abcdefghij-0123456789a", "pencil", true),
        "wrong password" => ("user", "pencil?", true),
        _ => ("nobody", "pencil", false),
    };
    let mut s = setup(mechanism, user, password, known);
    // First pass: get the client's final message for this server-first.
    let (first_challenge, reply, _) = challenge(&s);
    let client = s.client.take().expect("client");
    let (_, client_final) = client
        .on_server_first(reply.data.as_deref().expect("server-first"))
        .expect("client final");
    drop(first_challenge);

    // Second pass with the same nonces: measure the state and `finish`.
    let (challenge_for_size, reply, start_stats) = challenge(&s);
    drop(reply);
    let (stack, heap) = held_bytes(challenge_for_size);

    let (challenge, reply, _) = challenge(&s);
    drop(reply);
    let region = Region::new(GLOBAL);
    let outcome = challenge.finish(
        ReasonCode::ContinueAuthentication.to_u8(),
        mechanism.name(),
        Some(&client_final),
        NOW,
    );
    let finish = region.change();
    let accepted = matches!(outcome, Outcome::Accepted { .. });
    drop(outcome);
    Report {
        mechanism,
        case,
        stack,
        heap,
        challenge_allocs: start_stats.allocations + start_stats.reallocations,
        finish_allocs: finish.allocations + finish.reallocations,
        finish_bytes: finish.bytes_allocated,
        accepted,
    }
}

#[test]
fn server_handshake_memory() {
    let mut reports = Vec::new();
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        for case in [
            "success",
            "wrong password",
            "unknown user",
            "40-byte username",
        ] {
            reports.push(measure(mechanism, case));
        }
    }
    eprintln!(
        "mechanism      case            ServerChallenge: stack + heap = total | allocs start+continue | finish allocs (bytes)"
    );
    for r in &reports {
        eprintln!(
            "{:<14} {:<15} {:>4} + {:>4} = {:>4} | {:>2} | {:>2} ({})",
            r.mechanism.name(),
            r.case,
            r.stack,
            r.heap,
            r.stack + r.heap,
            r.challenge_allocs,
            r.finish_allocs,
            r.finish_bytes
        );
    }
    for r in &reports {
        let succeeds = !matches!(r.case, "wrong password" | "unknown user");
        assert_eq!(r.accepted, succeeds, "{} {}", r.mechanism, r.case);
        assert!(
            r.stack + r.heap <= BUDGET,
            "{} {}: ServerChallenge holds {} + {} bytes, budget {BUDGET}",
            r.mechanism,
            r.case,
            r.stack,
            r.heap
        );
        // start + continue_with: nothing but the server-first bytes the Reply owns. The
        // transcript is kept inline, the username is read from it, the provider's record
        // arrives shared (`Arc`), and the mock record and salt cost no allocation.
        assert_eq!(
            r.challenge_allocs, 1,
            "{} {}: start + continue_with allocated {} times",
            r.mechanism, r.case, r.challenge_allocs
        );
        // finish: the reply's `e=` bytes on a rejection; on success the `v=` bytes and the
        // Identity's username, both owned by the Outcome the caller receives. `c=` is
        // checked without decoding it.
        let expected = if succeeds { 2 } else { 1 };
        assert_eq!(
            r.finish_allocs, expected,
            "{} {}: finish allocated {} times",
            r.mechanism, r.case, r.finish_allocs
        );
    }
}
