//! What the engine does with a provider's record whatever the provider: the record
//! policy (issue 13 §4), credential expiry (issue 10), and configuration errors that name
//! the setting.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::message::ServerFirst;
use mqtt_scram::provider::{IgnoreKind, Lookup, UserRecord};
use mqtt_scram::{
    ConfigError, ConnectionInfo, Error, ErrorKind, HashAlgorithm, Identity, Mechanism, Outcome,
    PacketType, ReasonCode, RecordPolicy, Reply, ScramServer, ServerConfig, StartPacket,
    StoredCredentials, Timestamp,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

const T0: Timestamp = Timestamp::new(Duration::from_secs(100), 1_700_000_000);
const MECHANISM: Mechanism = Mechanism::ScramSha256;

fn server() -> ScramServer {
    ScramServer::new(ServerConfig::new([42; 32])).unwrap()
}

fn conn() -> Arc<ConnectionInfo> {
    Arc::new(ConnectionInfo::new("client-1"))
}

/// What the client saw and what the server decided, for one CONNECT exchange of
/// "alice"/"pencil" (or `start` as given) against `lookup`.
struct Run {
    server_first: Vec<u8>,
    outcome: Outcome,
}

fn exchange(
    server: &ScramServer,
    reauth: Option<&Identity>,
    client_config: &ClientConfig,
    password: &str,
    lookup: Lookup,
    finish_at: Timestamp,
) -> Run {
    let mut rng = StdRng::seed_from_u64(5);
    let (c, first) = client::start(client_config, MECHANISM, "alice", password, &mut rng).unwrap();
    let start = match reauth {
        None => StartPacket::Connect {
            method: MECHANISM.name(),
            data: Some(&first),
        },
        Some(current) => StartPacket::Reauthenticate {
            reason_code: 0x19,
            method: MECHANISM.name(),
            data: Some(&first),
            current,
        },
    };
    let pending = server.start(&conn(), start, T0).unwrap();
    let (challenge, reply) = pending.continue_with(lookup, &mut rng);
    let server_first = reply.data.unwrap();
    let (_, last) = c.on_server_first(&server_first).unwrap();
    let outcome = challenge.finish(0x18, MECHANISM.name(), Some(&last), finish_at);
    Run {
        server_first,
        outcome,
    }
}

/// Credentials with arbitrary (well-formed) keys: a store hands out whatever it holds.
fn record_with(salt: &[u8], iterations: u32) -> Lookup {
    let creds =
        StoredCredentials::from_parts(HashAlgorithm::Sha256, salt, iterations, &[7; 32], &[8; 32])
            .unwrap();
    Lookup::found(UserRecord::new(creds))
}

fn rejected(outcome: Outcome) -> (Reply, Error) {
    match outcome {
        Outcome::Rejected(r) => (r.reply, r.error),
        Outcome::Accepted { .. } => panic!("accepted"),
    }
}

/// A record outside the policy never reaches the client: it gets the unknown user's
/// challenge (the default mock count, a 16-byte salt keyed on the name) and 0x87, and
/// the operator sees `OutsidePolicy` with the offending value.
#[test]
fn records_outside_the_policy_get_the_mock_challenge() {
    let server = server();
    // What an unknown "alice" is shown.
    let client_config = ClientConfig::new().iteration_window(1..=u32::MAX);
    let unknown = exchange(
        &server,
        None,
        &client_config,
        "pencil",
        Lookup::NotFound,
        T0,
    );
    let unknown_first = ServerFirst::parse(&unknown.server_first, 4096).unwrap();
    assert_eq!(unknown_first.iterations(), 4096);
    assert_eq!(unknown_first.salt().len(), 16);

    for (what, lookup, detail) in [
        ("1 iteration", record_with(&[1; 16], 1), "iteration count 1"),
        (
            "4,294,967,295 iterations",
            record_with(&[1; 16], u32::MAX),
            "iteration count 4294967295",
        ),
        (
            "a 30,000-byte salt",
            record_with(&[1; 30_000], 4096),
            "salt of 30000 bytes",
        ),
    ] {
        let run = exchange(&server, None, &client_config, "pencil", lookup, T0);
        let first = ServerFirst::parse(&run.server_first, 4096).unwrap();
        assert_eq!(first.iterations(), 4096, "{what}: the mock count");
        assert_eq!(
            first.salt(),
            unknown_first.salt(),
            "{what}: the unknown user's salt"
        );
        let (reply, error) = rejected(run.outcome);
        assert_eq!(reply.reason_code, ReasonCode::NotAuthorized, "{what}");
        assert_eq!(
            reply.data.as_deref(),
            Some(&b"e=invalid-proof"[..]),
            "{what}"
        );
        match error.ignore_reason() {
            Some(reason) if error.kind() == ErrorKind::CredentialsUnavailable => {
                assert_eq!(reason.kind(), IgnoreKind::OutsidePolicy, "{what}");
                assert!(reason.detail().contains(detail), "{what}: {reason}");
            }
            _ => panic!("{what}: {error:?}"),
        }
    }
}

/// The policy is the server's: a wider one admits what the default refuses.
#[test]
fn a_configured_policy_is_applied() {
    let wide = ScramServer::new(
        ServerConfig::new([42; 32]).record_policy(RecordPolicy::new(1..=1_000_000, 1..=64)),
    )
    .unwrap();
    let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"s", 1).unwrap();
    let client_config = ClientConfig::new().iteration_window(1..=10);
    let run = exchange(
        &wide,
        None,
        &client_config,
        "pencil",
        Lookup::found(UserRecord::new(creds.clone())),
        T0,
    );
    assert!(matches!(run.outcome, Outcome::Accepted { .. }));
    let run = exchange(
        &server(),
        None,
        &client_config.clone().iteration_window(1..=4096),
        "pencil",
        Lookup::found(UserRecord::new(creds)),
        T0,
    );
    let error = rejected(run.outcome).1;
    assert_eq!(error.kind(), ErrorKind::CredentialsUnavailable);
    assert_eq!(
        error.ignore_reason().map(|r| r.kind()),
        Some(IgnoreKind::OutsidePolicy)
    );
}

fn alice(expire_at: Option<u64>) -> Lookup {
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl", 4096).unwrap();
    Lookup::found(UserRecord::new(creds).expire_at(expire_at))
}

/// An expired record is refused at `finish`, for CONNECT and for re-authentication,
/// whichever provider returned it — and only a client that knows the password learns it.
#[test]
fn an_expired_record_is_refused_at_finish_on_every_path() {
    let server = server();
    let config = ClientConfig::new();
    let identity = Identity::new("alice", MECHANISM, Arc::default());
    let now = T0.unix_seconds();
    for (path, is_reauth) in [("CONNECT", false), ("re-authentication", true)] {
        let run = |lookup, password, at| {
            let current = is_reauth.then_some(&identity);
            exchange(&server, current, &config, password, lookup, at)
        };
        // Valid until the end of the exchange: accepted.
        assert!(
            matches!(
                run(alice(Some(now + 60)), "pencil", T0).outcome,
                Outcome::Accepted { .. }
            ),
            "{path}"
        );
        // Expired before, at, or during the exchange (expiry is inclusive).
        for (expire_at, finish) in [
            (now - 1, T0),
            (now, T0),
            (now + 5, T0.advanced(Duration::from_secs(10))),
        ] {
            let (reply, error) = rejected(run(alice(Some(expire_at)), "pencil", finish).outcome);
            assert_eq!(
                error.kind(),
                ErrorKind::CredentialsExpired,
                "{path}, expire_at {expire_at}"
            );
            assert_eq!(reply.reason_code, ReasonCode::NotAuthorized);
            if is_reauth {
                assert_eq!(reply.packet, PacketType::Disconnect);
                assert_eq!(reply.data, None);
            } else {
                assert_eq!(reply.packet, PacketType::Connack);
                assert_eq!(reply.data.as_deref(), Some(&b"e=other-error"[..]));
            }
        }
        // A wrong password on an expired record is just a wrong password.
        let (reply, error) = rejected(run(alice(Some(now - 1)), "pencil?", T0).outcome);
        assert_eq!(error.kind(), ErrorKind::InvalidProof, "{path}");
        if !is_reauth {
            assert_eq!(reply.data.as_deref(), Some(&b"e=invalid-proof"[..]));
        }
    }
}

/// `ScramServer::new` refuses a bad configuration with an error that names the setting.
#[test]
fn configuration_errors_name_the_setting() {
    let base = || ServerConfig::new([1; 32]);
    let cases: Vec<(ServerConfig, &str)> = vec![
        (base().mechanisms(&[]), "mechanisms"),
        (base().mock_iterations(0), "mock_iterations"),
        (base().mock_iterations(1), "mock_iterations"),
        (base().nonce_len(17), "nonce_len"),
        (base().nonce_len(97), "nonce_len"),
        (
            base().handshake_timeout(Duration::ZERO),
            "handshake_timeout",
        ),
        (base().max_message_len(255), "max_message_len"),
        (
            base().record_policy(RecordPolicy::new(0..=10, 8..=64)),
            "record_policy",
        ),
        (
            // The mock salt (16 bytes unless set) must lie within the policy.
            base().record_policy(RecordPolicy::new(4096..=1_000_000, 17..=64)),
            "mock_salt_len",
        ),
        (
            base().record_policy(RecordPolicy::new(4096..=1_000_000, 0..=64)),
            "record_policy",
        ),
        (
            base()
                .mock_iterations(2_000_000)
                .record_policy(RecordPolicy::new(4096..=1_000_000, 8..=64)),
            "mock_iterations",
        ),
    ];
    for (config, setting) in cases {
        let error: ConfigError = ScramServer::new(config).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("{setting}:")),
            "{setting}: {text:?}"
        );
    }
    assert!(ScramServer::new(base()).is_ok());
}
