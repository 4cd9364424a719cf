//! A whole server exchange with stored credentials, client-first → server-final (no PBKDF2
//! on the server), in mqtt-scram and in the `scram` crate (0.6, ring-based, SHA-256 only),
//! with the same username, password, salt and iteration count.
//!
//! Both servers get a deterministic stand-in for their random source, created afresh for
//! every exchange, so each replays the same server nonce and the client-final computed
//! once up front stays valid; neither side pays for a CSPRNG in the loop. Both sides
//! include their credential lookup: mqtt-scram clones a `UserRecord`, the `scram` crate's
//! provider builds a `PasswordInfo`.
//!
//! mqtt-scram is also timed for a wrong password and for an unknown user (mock
//! credentials): an unknown user must cost the same as a known one with a wrong password.
//!
//! `cargo bench --bench compare_scram_crate`; add `-- --warm-up-time 1 --measurement-time 3`
//! to explore.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group};
use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::{Lookup, UserRecord};
use mqtt_scram::server::{NeedCredentials, ServerChallenge};
use mqtt_scram::{
    ConnectionInfo, HashAlgorithm, Mechanism, Outcome, ReasonCode, ScramServer, ServerConfig,
    StartPacket, StoredCredentials, Timestamp,
};

const USER: &str = "user";
const PASSWORD: &str = "pencil";
const SALT: &[u8] = &[
    0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
];
const ITERATIONS: u32 = 4096;
const NOW: Timestamp = Timestamp::new(Duration::from_secs(1), 1_700_000_000);

/// Deterministic byte source (a counter), for replaying one exchange; never use it for real.
struct Replay(u64);

impl rand_core::TryRng for Replay {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.try_next_u64().map(|v| v as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or_default());
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Replay {}

/// One prepared mqtt-scram exchange: the client's two messages and what the provider says.
struct Ours {
    server: ScramServer,
    connection: Arc<ConnectionInfo>,
    mechanism: Mechanism,
    client_first: Vec<u8>,
    client_final: Vec<u8>,
    record: Option<Arc<UserRecord>>,
}

impl Ours {
    /// `password` is what the client types; the server stores "pencil" for "user".
    fn prepare(mechanism: Mechanism, username: &str, password: &str) -> Self {
        let server = ScramServer::new(ServerConfig::new([7; 32])).unwrap();
        let connection = Arc::new(ConnectionInfo::new("bench-client"));
        let stored = StoredCredentials::derive(mechanism.hash(), PASSWORD, SALT, ITERATIONS).ok();
        let record = if username == USER {
            stored.map(|c| Arc::new(UserRecord::new(c)))
        } else {
            None
        };
        let mut client_rng = Replay(42);
        let Ok((client, client_first)) = client::start(
            &ClientConfig::new(),
            mechanism,
            username,
            password,
            &mut client_rng,
        ) else {
            unreachable!("client start");
        };
        let mut ours = Self {
            server,
            connection,
            mechanism,
            client_first,
            client_final: Vec::new(),
            record,
        };
        let (_, reply) = ours.challenge();
        let server_first = reply.unwrap_or_default();
        let Ok((_, client_final)) = client.on_server_first(&server_first) else {
            unreachable!("client accepts server-first");
        };
        ours.client_final = client_final;
        ours
    }

    fn start(&self) -> NeedCredentials {
        let packet = StartPacket::Connect {
            method: self.mechanism.name(),
            data: Some(&self.client_first),
        };
        match self.server.start(&self.connection, packet, NOW) {
            Ok(pending) => pending,
            Err(_) => unreachable!("server accepts client-first"),
        }
    }

    fn lookup(&self) -> Lookup {
        match &self.record {
            Some(record) => Lookup::Found(Arc::clone(record)),
            None => Lookup::NotFound,
        }
    }

    fn challenge(&self) -> (ServerChallenge, Option<Vec<u8>>) {
        let (challenge, reply) = self.start().continue_with(self.lookup(), &mut Replay(7));
        (challenge, reply.data)
    }

    /// client-first → server-first → client-final → server-final (or rejection).
    fn exchange(&self) -> Outcome {
        let (challenge, _) = self.challenge();
        challenge.finish(
            ReasonCode::ContinueAuthentication.to_u8(),
            self.mechanism.name(),
            Some(black_box(&self.client_final)),
            NOW,
        )
    }
}

struct Provider {
    salted: Vec<u8>,
}

impl scram::AuthenticationProvider for Provider {
    fn get_password_for(&self, username: &str) -> Option<scram::PasswordInfo> {
        (username == USER).then(|| {
            scram::PasswordInfo::new(self.salted.clone(), ITERATIONS as u16, SALT.to_vec())
        })
    }
}

/// The `scram` crate's exchange, prepared the same way.
struct Theirs {
    server: scram::ScramServer<Provider>,
    client_first: String,
    client_final: String,
}

impl Theirs {
    fn prepare() -> Self {
        let Some(iterations) = std::num::NonZeroU32::new(ITERATIONS) else {
            unreachable!()
        };
        let salted = scram::hash_password(PASSWORD, iterations, SALT).to_vec();
        let server = scram::ScramServer::new(Provider { salted });
        let (client, client_first) = scram::ScramClient::new(USER, PASSWORD, None).client_first();
        let mut theirs = Self {
            server,
            client_first,
            client_final: String::new(),
        };
        let server_first = {
            let Ok(first) = theirs.server.handle_client_first(&theirs.client_first) else {
                unreachable!()
            };
            first.server_first_with_rng(&mut Self::rng()).1
        };
        let Ok(client) = client.handle_server_first(&server_first) else {
            unreachable!()
        };
        theirs.client_final = client.client_final().1;
        theirs
    }

    fn rng() -> rand_08::rngs::mock::StepRng {
        rand_08::rngs::mock::StepRng::new(0x0123_4567_89ab_cdef, 0x9e37_79b9_7f4a_7c15)
    }

    fn exchange(&self) -> Option<(scram::AuthenticationStatus, String)> {
        let first = self
            .server
            .handle_client_first(black_box(&self.client_first))
            .ok()?;
        let (last, _server_first) = first.server_first_with_rng(&mut Self::rng());
        Some(
            last.handle_client_final(black_box(&self.client_final))
                .ok()?
                .server_final(),
        )
    }
}

fn accepted(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Accepted { .. })
}

fn server_exchange(c: &mut Criterion) {
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let hash = mechanism.hash();
        let ok = Ours::prepare(mechanism, USER, PASSWORD);
        let wrong = Ours::prepare(mechanism, USER, "pencil?");
        let unknown = Ours::prepare(mechanism, "nobody", PASSWORD);
        assert!(
            accepted(&ok.exchange()),
            "mqtt-scram accepts the right password"
        );
        assert!(
            !accepted(&wrong.exchange()),
            "mqtt-scram rejects a wrong password"
        );
        assert!(
            !accepted(&unknown.exchange()),
            "mqtt-scram rejects an unknown user"
        );

        let mut g = c.benchmark_group(format!("server-exchange/{hash}"));
        // Many short samples (~0.3 ms each, a few hundred exchanges): on a shared machine
        // most run without being preempted, so the median shows the machine's speed
        // rather than its load, and the rows run within seconds of each other. These
        // settings override the command line's times.
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(1000)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(300));
        g.bench_function("mqtt-scram", |b| b.iter(|| ok.exchange()));
        if hash == HashAlgorithm::Sha256 {
            let theirs = Theirs::prepare();
            assert!(
                matches!(
                    theirs.exchange(),
                    Some((scram::AuthenticationStatus::Authenticated, _))
                ),
                "scram crate accepts the right password"
            );
            g.bench_function("scram 0.6", |b| b.iter(|| theirs.exchange()));
        }
        g.bench_function("mqtt-scram wrong password", |b| b.iter(|| wrong.exchange()));
        g.bench_function("mqtt-scram unknown user (mock)", |b| {
            b.iter(|| unknown.exchange())
        });
        g.finish();
    }
}

/// The same exchanges timed in alternation (batches of 256), so load from other processes
/// hits all of them alike: per-row median and fastest batch, and the ratios that matter.
/// Printed after criterion's results, as the noise check for them.
fn interleaved() {
    const ROUNDS: usize = 101;
    const BATCH: u32 = 256;
    let ok = Ours::prepare(Mechanism::ScramSha256, USER, PASSWORD);
    let wrong = Ours::prepare(Mechanism::ScramSha256, USER, "pencil?");
    let unknown = Ours::prepare(Mechanism::ScramSha256, "nobody", PASSWORD);
    let theirs = Theirs::prepare();
    let rows: [(&str, &dyn Fn()); 4] = [
        ("mqtt-scram", &|| drop(black_box(ok.exchange()))),
        ("scram 0.6", &|| drop(black_box(theirs.exchange()))),
        ("mqtt-scram wrong password", &|| {
            drop(black_box(wrong.exchange()))
        }),
        ("mqtt-scram unknown user (mock)", &|| {
            drop(black_box(unknown.exchange()))
        }),
    ];
    let mut times = vec![Vec::with_capacity(ROUNDS); rows.len()];
    for _ in 0..ROUNDS {
        for ((_, f), t) in rows.iter().zip(times.iter_mut()) {
            let start = std::time::Instant::now();
            for _ in 0..BATCH {
                f();
            }
            t.push(start.elapsed().as_secs_f64() * 1e9 / f64::from(BATCH));
        }
    }
    let mut stats = Vec::new();
    for ((name, _), t) in rows.iter().zip(times.iter_mut()) {
        t.sort_by(f64::total_cmp);
        let (min, median) = (
            t.first().copied().unwrap_or(f64::NAN),
            t.get(t.len() / 2).copied().unwrap_or(f64::NAN),
        );
        println!(
            "interleaved server-exchange/sha256/{name}: median {median:.0} ns, min {min:.0} ns"
        );
        stats.push((min, median));
    }
    if let [
        (ok_min, ok_med),
        (th_min, th_med),
        (wr_min, wr_med),
        (mk_min, mk_med),
    ] = stats[..]
    {
        println!(
            "interleaved ratios: scram 0.6 / mqtt-scram median {:.2}, min {:.2}; \
             mock / wrong password median {:.3}, min {:.3}; mock / success median {:.3}, min {:.3}",
            th_med / ok_med,
            th_min / ok_min,
            mk_med / wr_med,
            mk_min / wr_min,
            mk_med / ok_med,
            mk_min / ok_min,
        );
    }
}

criterion_group!(benches, server_exchange);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if !std::env::args().any(|a| a == "--list" || a == "--test" || a == "--profile-time") {
        interleaved();
    }
}
