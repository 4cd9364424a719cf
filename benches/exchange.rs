//! Core benches for both mechanisms (SCRAM-SHA-256, SCRAM-SHA-512):
//!
//! - `derive`: `StoredCredentials::derive` at 4096 iterations (PBKDF2 + key schedule);
//! - `server_exchange`: what a broker spends per login with stored credentials:
//!   start → continue_with (fixed nonce) → finish, client-first to server-final. The client's
//!   messages are computed once up front, so no PBKDF2 runs inside the loop;
//! - `mock_exchange`: the same for an unknown user (`Lookup::NotFound`), ending in rejection;
//! - `wrong_password_exchange`: the same for a known user and a wrong proof, the rejection the
//!   mock must look like (compare its time with `mock_exchange`);
//! - `client_exchange`: the client side, start → on_server_first → on_server_final, including
//!   its PBKDF2 at 4096 iterations (server messages computed once up front).
//!
//! Quick run: `cargo bench --bench exchange -- --warm-up-time 1 --measurement-time 2`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mqtt_scram::client::{ClientConfig, ClientOptions};
use mqtt_scram::provider::{Lookup, UserRecord};
use mqtt_scram::server::StartPacket;
use mqtt_scram::{
    ConnectionInfo, ErrorKind, HashAlgorithm, Mechanism, Outcome, ScramServer, ServerConfig,
    StoredCredentials, Timestamp, internal,
};

const USERNAME: &str = "user";
const PASSWORD: &str = "pencil";
/// RFC 7677 §3 salt (`W22ZaJ0SNY7soEsUEjb6gQ==`).
const SALT: [u8; 16] = [
    0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
];
const ITERATIONS: u32 = 4096;
const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const MECHANISMS: [Mechanism; 2] = [Mechanism::ScramSha256, Mechanism::ScramSha512];
const CONTINUE: u8 = 0x18;

/// One mechanism's fixture: the server, the stored credentials and every wire message
/// of a successful exchange (and the client-final a client sends an unknown user's mock).
struct Fixture {
    mechanism: Mechanism,
    server: ScramServer,
    connection: Arc<ConnectionInfo>,
    /// The records a provider hands out (shared, as `MemoryProvider` does).
    record: Arc<UserRecord>,
    wrong_record: Arc<UserRecord>,
    client_first: Vec<u8>,
    server_first: Vec<u8>,
    client_final: Vec<u8>,
    server_final: Vec<u8>,
    mock_client_final: Vec<u8>,
}

fn now() -> Timestamp {
    Timestamp::new(Duration::from_secs(1), 1_700_000_000)
}

fn server_start(f: &Fixture, lookup: Lookup) -> (mqtt_scram::server::ServerChallenge, Vec<u8>) {
    let packet = StartPacket::Connect {
        method: f.mechanism.name(),
        data: Some(&f.client_first),
    };
    let pending = f.server.start(&f.connection, packet, now()).expect("start");
    let (challenge, reply) = internal::continue_with_nonce(pending, lookup, SERVER_NONCE);
    (challenge, reply.data.expect("server-first"))
}

fn client_final_for(mechanism: Mechanism, server_first: &[u8]) -> Vec<u8> {
    let config = ClientConfig::new();
    let (state, _) = internal::client_start_with_nonce(
        &config,
        mechanism,
        USERNAME,
        PASSWORD,
        ClientOptions::default(),
        CLIENT_NONCE,
    )
    .expect("client start");
    state
        .on_server_first(server_first)
        .expect("client accepts server-first")
        .1
}

fn fixture(mechanism: Mechanism) -> Fixture {
    let credentials =
        StoredCredentials::derive(mechanism.hash(), PASSWORD, &SALT, ITERATIONS).expect("derive");
    let wrong_credentials =
        StoredCredentials::derive(mechanism.hash(), "not-pencil", &SALT, ITERATIONS)
            .expect("derive");
    let mut f = Fixture {
        mechanism,
        server: ScramServer::new(ServerConfig::new([7; 32]).mock_iterations(ITERATIONS))
            .expect("config"),
        connection: Arc::new(ConnectionInfo::new("bench")),
        record: Arc::new(UserRecord::new(credentials)),
        wrong_record: Arc::new(UserRecord::new(wrong_credentials)),
        client_first: format!("n,,n={USERNAME},r={CLIENT_NONCE}").into_bytes(),
        server_first: Vec::new(),
        client_final: Vec::new(),
        server_final: Vec::new(),
        mock_client_final: Vec::new(),
    };

    let (challenge, server_first) = server_start(&f, Lookup::Found(Arc::clone(&f.record)));
    let client_final = client_final_for(mechanism, &server_first);
    let Outcome::Accepted { reply, .. } =
        challenge.finish(CONTINUE, mechanism.name(), Some(&client_final), now())
    else {
        panic!("fixture exchange rejected");
    };
    f.server_first = server_first;
    f.client_final = client_final;
    f.server_final = reply.data.expect("server-final");

    let (challenge, _) = server_start(&f, Lookup::Found(Arc::clone(&f.wrong_record)));
    let outcome = challenge.finish(CONTINUE, mechanism.name(), Some(&f.client_final), now());
    assert!(
        matches!(outcome, Outcome::Rejected(ref r) if r.error.kind() == ErrorKind::InvalidProof)
    );

    let (challenge, mock_first) = server_start(&f, Lookup::NotFound);
    f.mock_client_final = client_final_for(mechanism, &mock_first);
    let outcome = challenge.finish(
        CONTINUE,
        mechanism.name(),
        Some(&f.mock_client_final),
        now(),
    );
    assert!(
        matches!(outcome, Outcome::Rejected(ref r) if r.error.kind() == ErrorKind::UnknownUser)
    );
    f
}

fn derive(c: &mut Criterion) {
    let mut group = c.benchmark_group("derive");
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        group.bench_function(format!("{hash}-i{ITERATIONS}"), |b| {
            b.iter(|| {
                StoredCredentials::derive(hash, black_box(PASSWORD), black_box(&SALT), ITERATIONS)
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn server_exchange(c: &mut Criterion) {
    let mut group = c.benchmark_group("server_exchange");
    for mechanism in MECHANISMS {
        let f = fixture(mechanism);
        group.bench_function(mechanism.name(), |b| {
            b.iter(|| {
                // The provider shares its record, as `MemoryProvider` does.
                let lookup = Lookup::Found(Arc::clone(&f.record));
                let (challenge, server_first) = server_start(&f, lookup);
                black_box(server_first);
                match challenge.finish(
                    CONTINUE,
                    mechanism.name(),
                    Some(black_box(&f.client_final)),
                    now(),
                ) {
                    outcome @ Outcome::Accepted { .. } => outcome,
                    Outcome::Rejected(r) => panic!("rejected: {:?}", r.error),
                }
            })
        });
    }
    group.finish();
}

fn mock_exchange(c: &mut Criterion) {
    let mut group = c.benchmark_group("mock_exchange");
    for mechanism in MECHANISMS {
        let f = fixture(mechanism);
        group.bench_function(mechanism.name(), |b| {
            b.iter(|| {
                let (challenge, server_first) = server_start(&f, Lookup::NotFound);
                black_box(server_first);
                match challenge.finish(
                    CONTINUE,
                    mechanism.name(),
                    Some(black_box(&f.mock_client_final)),
                    now(),
                ) {
                    outcome @ Outcome::Rejected(_) => outcome,
                    Outcome::Accepted { .. } => panic!("unknown user accepted"),
                }
            })
        });
    }
    group.finish();
}

fn wrong_password_exchange(c: &mut Criterion) {
    let mut group = c.benchmark_group("wrong_password_exchange");
    for mechanism in MECHANISMS {
        let f = fixture(mechanism);
        group.bench_function(mechanism.name(), |b| {
            b.iter(|| {
                let lookup = Lookup::Found(Arc::clone(&f.wrong_record));
                let (challenge, server_first) = server_start(&f, lookup);
                black_box(server_first);
                match challenge.finish(
                    CONTINUE,
                    mechanism.name(),
                    Some(black_box(&f.client_final)),
                    now(),
                ) {
                    outcome @ Outcome::Rejected(_) => outcome,
                    Outcome::Accepted { .. } => panic!("wrong password accepted"),
                }
            })
        });
    }
    group.finish();
}

fn client_exchange(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_exchange");
    let config = ClientConfig::new();
    for mechanism in MECHANISMS {
        let f = fixture(mechanism);
        group.bench_function(format!("{}-i{ITERATIONS}", mechanism.name()), |b| {
            b.iter(|| {
                let (state, client_first) = internal::client_start_with_nonce(
                    &config,
                    mechanism,
                    black_box(USERNAME),
                    black_box(PASSWORD),
                    ClientOptions::default(),
                    CLIENT_NONCE,
                )
                .unwrap();
                black_box(client_first);
                let (state, client_final) =
                    state.on_server_first(black_box(&f.server_first)).unwrap();
                black_box(client_final);
                state.on_server_final(black_box(&f.server_final)).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    derive,
    server_exchange,
    mock_exchange,
    wrong_password_exchange,
    client_exchange
);
criterion_main!(benches);
