//! Handshakes per second through the authenticator with 1,000 concurrent connections
//! (in process, on a 2-worker tokio runtime), compared in the same run with the engine's
//! exchange alone (`start` → lookup → `continue_with` → `finish`). Client messages need no
//! PBKDF2: each simulated client re-uses its SaltedPassword (the client's re-authentication
//! path), so what is timed is the server side plus the client's HMACs in both contenders.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mqtt_scram::client::{self, Authenticated, ClientConfig};
use mqtt_scram::provider::{MemoryProvider, SyncCredentialProvider, UserRecord};
use mqtt_scram::{
    Clock, ConnectionInfo, HashAlgorithm, Mechanism, Outcome, ScramServer, ServerConfig,
    StartPacket, StoredCredentials, SystemClock,
};
use mqtt_scram_authenticator::Authenticator;
use mqtt_scram_authenticator::admission::AdmissionPolicy;

const CONCURRENT: usize = 1_000;

fn store() -> MemoryProvider {
    let store = MemoryProvider::new();
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)
            .unwrap();
    store.insert("alice", UserRecord::new(creds));
    store
}

/// A client that has logged in once: later exchanges reuse its SaltedPassword.
fn warmed_client(server: &ScramServer, store: &MemoryProvider) -> Authenticated {
    let info = Arc::new(ConnectionInfo::new("warm"));
    let (c, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        "pencil",
        &mut rand::rng(),
    )
    .unwrap();
    exchange(server, store, &SystemClock::new(), &info, c, &first)
}

fn engine_exchange(
    server: &ScramServer,
    store: &MemoryProvider,
    clock: &SystemClock,
    client: Authenticated,
) -> Authenticated {
    let info = Arc::new(ConnectionInfo::new("c"));
    let (c, first) = client.reauthenticate(&mut rand::rng());
    exchange(server, store, clock, &info, c, &first)
}

/// The engine's side of one exchange (`start` → lookup → `continue_with` → `finish`)
/// with the client's answers in between; the client once it has checked `v=`.
fn exchange(
    server: &ScramServer,
    store: &MemoryProvider,
    clock: &SystemClock,
    info: &Arc<ConnectionInfo>,
    c: client::AwaitingServerFirst,
    first: &[u8],
) -> Authenticated {
    let need = server
        .start(
            info,
            StartPacket::Connect {
                method: "SCRAM-SHA-256",
                data: Some(first),
            },
            clock.now(),
        )
        .unwrap();
    let lookup = store.lookup_sync(&need.request());
    let (challenge, reply) = need.continue_with(lookup, &mut rand::rng());
    let (c, last) = c.on_server_first(reply.data.as_deref().unwrap()).unwrap();
    match challenge.finish(0x18, "SCRAM-SHA-256", Some(&last), clock.now()) {
        Outcome::Accepted { reply, .. } => {
            c.on_server_final(reply.data.as_deref().unwrap()).unwrap()
        }
        Outcome::Rejected(r) => panic!("{r:?}"),
    }
}

async fn authenticator_exchange(
    authenticator: &Authenticator,
    client: Authenticated,
    n: usize,
) -> Authenticated {
    let peer = std::net::SocketAddr::from(([127, 0, (n / 250) as u8, (n % 250) as u8 + 1], 40_000));
    let mut auth = authenticator.connection(Arc::new(ConnectionInfo::new("c").with_peer(peer)));
    let (c, first) = client.reauthenticate(&mut rand::rng());
    let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
    let (c, last) = c.on_server_first(step.data.as_deref().unwrap()).unwrap();
    // Yield between the two steps, as a connection waiting for the client's packet would.
    tokio::task::yield_now().await;
    let step = auth.on_auth(0x18, Some("SCRAM-SHA-256"), Some(&last)).await;
    assert_eq!(step.reason_code, 0x00, "{step:?}");
    c.on_server_final(step.data.as_deref().unwrap()).unwrap()
}

fn bench(c: &mut Criterion) {
    let config = ServerConfig::new([0x5a; 32]);
    let server = ScramServer::new(config.clone()).unwrap();
    let memory = store();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let authenticator = runtime.block_on(async {
        let mut policy = AdmissionPolicy::default();
        policy.max_handshakes_per_address = 0;
        Authenticator::builder(config, store())
            .admission(policy)
            .build()
            .unwrap()
    });
    let clients: Vec<Authenticated> = (0..CONCURRENT)
        .map(|_| warmed_client(&server, &memory))
        .collect();
    let mut clients = Some(clients);
    let clock = SystemClock::new();
    let mut group = c.benchmark_group("handshakes_1000_concurrent");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("engine_alone", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = clients.take().unwrap();
                let began = Instant::now();
                let done: Vec<_> = batch
                    .into_iter()
                    .map(|cl| engine_exchange(&server, &memory, &clock, cl))
                    .collect();
                total += began.elapsed();
                clients = Some(done);
            }
            total
        });
    });
    group.bench_function("through_authenticator", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = clients.take().unwrap();
                let began = Instant::now();
                let done = runtime.block_on(async {
                    let tasks: Vec<_> = batch
                        .into_iter()
                        .enumerate()
                        .map(|(n, cl)| {
                            let authenticator = authenticator.clone();
                            tokio::spawn(async move {
                                authenticator_exchange(&authenticator, cl, n).await
                            })
                        })
                        .collect();
                    let mut done = Vec::with_capacity(CONCURRENT);
                    for task in tasks {
                        done.push(task.await.unwrap());
                    }
                    done
                });
                total += began.elapsed();
                clients = Some(done);
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
