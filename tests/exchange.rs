//! MQTT-level exchanges between the crate's client and server: CONNECT → AUTH → AUTH →
//! CONNACK, re-authentication AUTH 0x19 → … → AUTH 0x00, and every way they fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use mqtt_scram::client::{self, ClientConfig, ClientOptions};
use mqtt_scram::message::ServerFirst;
use mqtt_scram::provider::{IgnoreReason, Lookup, UserRecord};
use mqtt_scram::{
    ErrorKind, HashAlgorithm, Mechanism, Outcome, PacketType, ReasonCode, ServerConfig,
    StartPacket, StoredCredentials,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

mod common;

use common::{T0, World, plain_conn};

#[test]
fn connect_succeeds_for_both_mechanisms() {
    let mut w = World::new();
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let (outcome, client) = w.connect(
            &plain_conn(),
            mechanism,
            "user",
            "pencil",
            ClientOptions::default(),
        );
        let Outcome::Accepted { reply, identity } = outcome else {
            panic!("{mechanism}: {outcome:?}")
        };
        assert_eq!(reply.packet, PacketType::Connack);
        assert_eq!(reply.reason_code, ReasonCode::Success);
        assert_eq!(reply.method, Some(mechanism));
        assert!(reply.data.as_deref().unwrap().starts_with(b"v="));
        assert_eq!(identity.username, "user");
        assert!(identity.is_superuser());
        assert_eq!(
            identity.client_attrs().get("site").map(String::as_str),
            Some("lab")
        );
        client.unwrap().unwrap();
    }
}

/// Usernames whose transcript does not fit the inline buffer (moved to the heap once), and
/// names changed by unescaping or SASLprep (kept apart from the transcript), authenticate
/// like any other; an unknown long name is refused like a short one.
#[test]
fn long_escaped_and_prepared_usernames() {
    let mut w = World::new();
    let long = "u".repeat(300);
    for name in [long.as_str(), "a,b=c", "\u{2168}x"] {
        let prepared = mqtt_scram::saslprep::saslprep(name, mqtt_scram::saslprep::Mode::Query)
            .unwrap()
            .into_owned();
        let creds =
            StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"0123456789abcdef", 4096)
                .unwrap();
        w.store.insert(&prepared, UserRecord::new(creds));
        let (outcome, client) = w.connect(
            &plain_conn(),
            Mechanism::ScramSha256,
            name,
            "pencil",
            ClientOptions::default(),
        );
        let Outcome::Accepted { identity, .. } = outcome else {
            panic!("{name:?}: {outcome:?}")
        };
        assert_eq!(identity.username, prepared);
        client.unwrap().unwrap();
    }
    let (outcome, _) = w.connect(
        &plain_conn(),
        Mechanism::ScramSha256,
        &"v".repeat(300),
        "pencil",
        ClientOptions::default(),
    );
    assert!(matches!(outcome, Outcome::Rejected(r) if r.error.kind() == ErrorKind::UnknownUser));
}

#[test]
fn wrong_password_and_unknown_user_look_the_same() {
    let mut w = World::new();
    let (wrong, wrong_client) = w.connect(
        &plain_conn(),
        Mechanism::ScramSha256,
        "user",
        "pencil2",
        ClientOptions::default(),
    );
    let (unknown, unknown_client) = w.connect(
        &plain_conn(),
        Mechanism::ScramSha256,
        "nobody",
        "pencil",
        ClientOptions::default(),
    );
    let (Outcome::Rejected(a), Outcome::Rejected(b)) = (&wrong, &unknown) else {
        panic!("{wrong:?} {unknown:?}")
    };
    assert_eq!(a.error.kind(), ErrorKind::InvalidProof);
    assert_eq!(b.error.kind(), ErrorKind::UnknownUser);
    assert_eq!(
        a.reply, b.reply,
        "the peer must not tell wrong passwords from unknown users"
    );
    assert_eq!(a.reply.packet, PacketType::Connack);
    assert_eq!(a.reply.reason_code, ReasonCode::NotAuthorized);
    assert_eq!(a.reply.data.as_deref(), Some(&b"e=invalid-proof"[..]));
    for client in [wrong_client, unknown_client] {
        let error = client.and_then(Result::err);
        assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::ServerError));
    }
}

#[test]
fn mock_challenge_has_the_shape_of_a_real_one_and_is_stable() {
    let w = World::new();
    let conn = plain_conn();
    let mut rng = StdRng::seed_from_u64(1);
    // `lookup`: `None` asks the store, `Some` answers as given.
    let mut challenge_for = |user: &str, lookup: Option<Lookup>| {
        let (_, first) = client::start(
            &ClientConfig::new(),
            Mechanism::ScramSha256,
            user,
            "pw",
            &mut rng,
        )
        .unwrap();
        let pending = w
            .server
            .start(
                &conn,
                StartPacket::Connect {
                    method: "SCRAM-SHA-256",
                    data: Some(&first),
                },
                T0,
            )
            .unwrap();
        let lookup = lookup.unwrap_or_else(|| w.lookup(&pending));
        let (_, reply) = pending.continue_with(lookup, &mut rng);
        let data = reply.data.unwrap();
        let parsed = ServerFirst::parse(&data, 4096).unwrap();
        (
            parsed.salt().to_vec(),
            parsed.iterations(),
            parsed.nonce().len(),
            data.len(),
        )
    };
    let real = challenge_for("user", None);
    let mock1 = challenge_for("ghost", Some(Lookup::NotFound));
    let mock2 = challenge_for("ghost", Some(Lookup::NotFound));
    let other = challenge_for("ghost2", Some(Lookup::NotFound));
    assert_eq!(mock1, mock2, "mock salt must be stable per user");
    assert_ne!(mock1.0, other.0, "mock salt must differ per user");
    assert_eq!(real.0.len(), mock1.0.len());
    assert_eq!(real.1, mock1.1);
    assert_eq!(real.2, mock1.2);
    // Provider failures look the same as unknown users too.
    let down = challenge_for(
        "ghost",
        Some(Lookup::Ignore(IgnoreReason::unavailable("down"))),
    );
    assert_eq!(down, mock1);
}

#[test]
fn unsupported_or_changed_method_is_0x8c() {
    let w = World::new();
    let conn = plain_conn();
    let r = w
        .server
        .start(
            &conn,
            StartPacket::Connect {
                method: "SCRAM-SHA-1",
                data: Some(b"n,,n=user,r=abc"),
            },
            T0,
        )
        .unwrap_err();
    assert_eq!(r.reply.reason_code, ReasonCode::BadAuthenticationMethod);
    assert_eq!(r.reply.method, None);
    let only256 =
        World::with_config(ServerConfig::new([1; 32]).mechanisms(&[Mechanism::ScramSha256]));
    let r = only256
        .server
        .start(
            &conn,
            StartPacket::Connect {
                method: "SCRAM-SHA-512",
                data: Some(b"n,,n=user,r=abc"),
            },
            T0,
        )
        .unwrap_err();
    assert_eq!(r.error.kind(), ErrorKind::UnsupportedMechanism);

    let mut w = World::new();
    let (challenge, last) = w.up_to_client_final(&conn);
    let Outcome::Rejected(r) = challenge.finish(0x18, "SCRAM-SHA-512", Some(&last), T0) else {
        panic!()
    };
    assert_eq!(r.error.kind(), ErrorKind::MethodChanged);
    assert_eq!(r.reply.reason_code, ReasonCode::BadAuthenticationMethod);
}

#[test]
fn wrong_reason_code_is_0x82() {
    let mut w = World::new();
    let (challenge, last) = w.up_to_client_final(&plain_conn());
    let Outcome::Rejected(r) = challenge.finish(0x19, "SCRAM-SHA-256", Some(&last), T0) else {
        panic!()
    };
    assert_eq!(r.reply.reason_code, ReasonCode::ProtocolError);
    assert_eq!(r.error.kind(), ErrorKind::UnexpectedReasonCode);
    assert_eq!(
        r.error.expected_reason_code(),
        Some(ReasonCode::ContinueAuthentication)
    );
    assert_eq!(r.error.found_reason_code(), Some(0x19));
}

#[test]
fn handshake_deadline() {
    let config = ServerConfig::new([1; 32]).handshake_timeout(Duration::from_secs(5));
    let mut w = World::with_config(config);
    let conn = plain_conn();
    for (delay, ok) in [
        (Duration::from_secs(5), true),
        (Duration::from_millis(5001), false),
    ] {
        let (challenge, last) = w.up_to_client_final(&conn);
        assert_eq!(
            challenge.deadline(),
            T0.monotonic() + Duration::from_secs(5)
        );
        match challenge.finish(0x18, "SCRAM-SHA-256", Some(&last), T0.advanced(delay)) {
            Outcome::Accepted { .. } => assert!(ok),
            Outcome::Rejected(r) => {
                assert!(!ok);
                assert_eq!(r.error.kind(), ErrorKind::HandshakeTimeout);
                assert_eq!(r.reply.reason_code, ReasonCode::NotAuthorized);
            }
        }
    }
}

#[test]
fn reauthentication_same_user_succeeds_other_user_fails() {
    let mut w = World::new();
    let conn = plain_conn();
    let (outcome, client) = w.connect(
        &conn,
        Mechanism::ScramSha512,
        "user",
        "pencil",
        ClientOptions::default(),
    );
    let Outcome::Accepted { identity, .. } = outcome else {
        panic!()
    };
    let authenticated = client.unwrap().unwrap();

    // Same user: AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00.
    let (c, first) = authenticated.reauthenticate(&mut w.rng);
    let start = StartPacket::Reauthenticate {
        reason_code: 0x19,
        method: "SCRAM-SHA-512",
        data: Some(&first),
        current: &identity,
    };
    let pending = w.server.start(&conn, start, T0).unwrap();
    let lookup = w.lookup(&pending);
    let (challenge, reply) = pending.continue_with(lookup, &mut w.rng);
    assert_eq!(reply.packet, PacketType::Auth);
    let (c, last) = c.on_server_first(reply.data.as_deref().unwrap()).unwrap();
    let Outcome::Accepted {
        reply,
        identity: again,
    } = challenge.finish(0x18, "SCRAM-SHA-512", Some(&last), T0)
    else {
        panic!()
    };
    assert_eq!(
        (reply.packet, reply.reason_code),
        (PacketType::Auth, ReasonCode::Success)
    );
    assert_eq!(again, identity);
    c.on_server_final(reply.data.as_deref().unwrap()).unwrap();

    // Another user on the same connection: rejected with DISCONNECT 0x87.
    let other = StoredCredentials::derive(HashAlgorithm::Sha512, "x", b"salt", 4096).unwrap();
    w.store.insert("mallory", UserRecord::new(other));
    let (_, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha512,
        "mallory",
        "x",
        &mut w.rng,
    )
    .unwrap();
    let start = StartPacket::Reauthenticate {
        reason_code: 0x19,
        method: "SCRAM-SHA-512",
        data: Some(&first),
        current: &identity,
    };
    let r = w.server.start(&conn, start, T0).unwrap_err();
    assert_eq!(r.error.kind(), ErrorKind::ReauthUserMismatch);
    assert_eq!(
        (r.reply.packet, r.reply.reason_code),
        (PacketType::Disconnect, ReasonCode::NotAuthorized)
    );

    // Wrong reason code or method on re-auth.
    let start = StartPacket::Reauthenticate {
        reason_code: 0x18,
        method: "SCRAM-SHA-512",
        data: Some(&first),
        current: &identity,
    };
    assert_eq!(
        w.server
            .start(&conn, start, T0)
            .unwrap_err()
            .reply
            .reason_code,
        ReasonCode::ProtocolError
    );
    let start = StartPacket::Reauthenticate {
        reason_code: 0x19,
        method: "SCRAM-SHA-256",
        data: Some(&first),
        current: &identity,
    };
    assert_eq!(
        w.server.start(&conn, start, T0).unwrap_err().error.kind(),
        ErrorKind::MethodChanged
    );
}

#[test]
fn reauthentication_failure_is_disconnect() {
    let mut w = World::new();
    let conn = plain_conn();
    let (Outcome::Accepted { identity, .. }, _) = w.connect(
        &conn,
        Mechanism::ScramSha256,
        "user",
        "pencil",
        ClientOptions::default(),
    ) else {
        panic!()
    };
    let (c, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "user",
        "wrong",
        &mut w.rng,
    )
    .unwrap();
    let start = StartPacket::Reauthenticate {
        reason_code: 0x19,
        method: "SCRAM-SHA-256",
        data: Some(&first),
        current: &identity,
    };
    let pending = w.server.start(&conn, start, T0).unwrap();
    let lookup = w.lookup(&pending);
    let (challenge, reply) = pending.continue_with(lookup, &mut w.rng);
    let (_, last) = c.on_server_first(reply.data.as_deref().unwrap()).unwrap();
    let Outcome::Rejected(r) = challenge.finish(0x18, "SCRAM-SHA-256", Some(&last), T0) else {
        panic!()
    };
    assert_eq!(
        (r.reply.packet, r.reply.reason_code, r.reply.data),
        (PacketType::Disconnect, ReasonCode::NotAuthorized, None)
    );
}

#[test]
fn missing_data_and_garbage_are_0x87() {
    let w = World::new();
    let conn = plain_conn();
    for data in [
        None,
        Some(&b""[..]),
        Some(&b"\xff\xfe"[..]),
        Some(&b"n,,n=user"[..]),
        Some(&[b'a'; 10_000][..]),
    ] {
        let r = w
            .server
            .start(
                &conn,
                StartPacket::Connect {
                    method: "SCRAM-SHA-256",
                    data,
                },
                T0,
            )
            .unwrap_err();
        assert_eq!(r.reply.reason_code, ReasonCode::NotAuthorized, "{data:?}");
        assert_eq!(r.reply.packet, PacketType::Connack);
        assert_eq!(r.reply.method, Some(Mechanism::ScramSha256));
    }
}
