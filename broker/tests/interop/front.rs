//! The front's own rules: deadlines, limits, expiry, re-authentication, TLS binding, shutdown.

use super::*;

// ---------------------------------------------------------------------------------------
// The front's own rules
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_client_tcp_both_mechanisms_and_unknown_user_looks_like_wrong_password() {
    let h = Harness::start(Options::default()).await;
    let config = ClientConfig::new();
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let mut conn = Conn::open(h.tcp()).await;
        scram_login(&mut conn, &config, mechanism, "alice", PASSWORD)
            .await
            .unwrap();
    }
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &config,
        Mechanism::ScramSha256,
        ESCAPED_USER,
        UNICODE_PASSWORD,
    )
    .await
    .unwrap();
    drop(conn);
    // The prepared form of the password (U+2163 is "IV" under NFKC) is the same password.
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &config,
        Mechanism::ScramSha256,
        ESCAPED_USER,
        "p\u{e4}ssw\u{f6}rd IV",
    )
    .await
    .unwrap();
    drop(conn);
    // Same visible result: CONNACK 0x87 with e=invalid-proof, after a normal-looking challenge.
    let mut wrong = Conn::open(h.tcp()).await;
    let mut unknown = Conn::open(h.tcp()).await;
    let w = scram_login(&mut wrong, &config, Mechanism::ScramSha256, "alice", "nope")
        .await
        .err()
        .unwrap();
    let u = scram_login(
        &mut unknown,
        &config,
        Mechanism::ScramSha256,
        "mallory",
        "nope",
    )
    .await
    .err()
    .unwrap();
    assert_eq!(w, (0x87, Some("e=invalid-proof".into())));
    assert_eq!(u, w);
    assert_eq!(
        wrong.recv().await.map(|_| ()),
        None,
        "closed after CONNACK 0x87"
    );
    drop((wrong, unknown));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_client_plus_over_tls_and_channel_binding_attacks() {
    use mqtt_scram::{ChannelBinding, ChannelBindingType};
    let h = Harness::start(Options::default()).await;
    let config = ClientConfig::new();
    let login = async |mechanism, binding: Option<&ChannelBinding>, tls12_only| {
        let (mut conn, real) = Conn::open_tls(h.tls(), &h.cert_file, tls12_only).await;
        let binding = binding.unwrap_or(&real);
        let options = client::ClientOptions::new().channel_binding(Some(binding));
        scram_login_with(&mut conn, &config, mechanism, "alice", PASSWORD, options)
            .await
            .map(|_| ())
    };
    // -PLUS: the client's exporter (rustls client) matches the broker's (rustls server).
    login(Mechanism::ScramSha256Plus, None, false)
        .await
        .unwrap();
    login(Mechanism::ScramSha512Plus, None, false)
        .await
        .unwrap();
    // A man in the middle terminating TLS sees a different exporter: the binding fails.
    let forged = ChannelBinding::new(ChannelBindingType::TlsExporter, vec![0u8; 32]);
    let mitm = login(Mechanism::ScramSha256Plus, Some(&forged), false).await;
    assert_eq!(
        mitm,
        Err((0x87, Some("e=channel-bindings-dont-match".into())))
    );
    // Flag `y` (client supports binding, thinks the server does not) on a listener that
    // offers -PLUS: a downgrade, RFC 5802 §6.
    let downgrade = login(Mechanism::ScramSha256, None, false).await;
    assert_eq!(
        downgrade,
        Err((0x87, Some("e=server-does-support-channel-binding".into())))
    );
    // TLS 1.2: the broker offers no tls-exporter binding there (see examples/broker/tls.rs).
    let tls12 = login(Mechanism::ScramSha256Plus, None, true).await;
    assert_eq!(
        tls12,
        Err((0x87, Some("e=channel-binding-not-supported".into())))
    );
    // Plain SCRAM over TLS without binding (flag `n`) still works.
    let (mut conn, _) = Conn::open_tls(h.tls(), &h.cert_file, false).await;
    alice_logs_in(&mut conn, &config, Mechanism::ScramSha512).await;
    drop(conn);
    let stats = h.finish().await;
    assert_eq!(
        (stats.auth_accepted, stats.auth_rejected),
        (3, 3),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_handshake_is_dropped_at_the_deadline() {
    let h = Harness::start(Options {
        handshake_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let mut conn = Conn::open(h.tcp()).await;
    let (_first, data) = alice_first(&ClientConfig::new());
    conn.send(connect_packet(
        "staller",
        Some("SCRAM-SHA-256"),
        Some(data),
        None,
    ))
    .await;
    assert!(matches!(conn.recv().await, Some(Frame::Auth(a)) if a.reason_code == 0x18));
    assert_eq!(h.broker.stats().handshakes_in_flight, 1);
    let began = Instant::now();
    let connack = conn.expect_connack().await; // the client never answers
    assert_eq!(code(connack.code), 0x87);
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "dropped at the deadline, not later"
    );
    assert!(conn.recv().await.is_none(), "connection closed");
    assert_eq!(h.broker.stats().handshakes_in_flight, 0);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_authentication_method_is_0x87_unless_allow_plain() {
    let h = Harness::start(Options::default()).await;
    let mut conn = Conn::open(h.tcp()).await;
    conn.send(connect_packet(
        "plain",
        None,
        None,
        Some(("alice", PASSWORD)),
    ))
    .await;
    assert_eq!(code(conn.expect_connack().await.code), 0x87);
    drop(conn);
    h.finish().await;

    let h = Harness::start(Options {
        allow_plain: true,
        ..Options::default()
    })
    .await;
    for (user, password, expected) in [
        ("alice", PASSWORD, 0x00),
        ("alice", "wrong", 0x86),
        ("mallory", "wrong", 0x86),
    ] {
        let mut conn = Conn::open(h.tcp()).await;
        conn.send(connect_packet("plain", None, None, Some((user, password))))
            .await;
        let connack = conn.expect_connack().await;
        assert_eq!(code(connack.code), expected, "{user}/{password}");
        if expected == 0 {
            // A plain session cannot re-authenticate: AUTH is a protocol error there.
            conn.send_auth(
                0x19,
                "SCRAM-SHA-256",
                b"n,,n=alice,r=abcdefghijklmnopqrstuvwx".to_vec(),
            )
            .await;
            assert_eq!(conn.expect_disconnect().await, Some(0x82));
        }
    }
    // SCRAM still works next to it.
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &ClientConfig::new(),
        Mechanism::ScramSha512,
        "alice",
        PASSWORD,
    )
    .await
    .unwrap();
    drop(conn);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_at_ends_the_session() {
    let expiring =
        record(HashAlgorithm::Sha256, PASSWORD, 4096).expire_at(Some(broker::unix_now() + 2));
    let expired = record(HashAlgorithm::Sha256, PASSWORD, 4096)
        .expire_at(Some(broker::unix_now().saturating_sub(10)));
    let extra_users = vec![("eve".to_string(), expiring), ("old".to_string(), expired)];
    let h = Harness::start(Options {
        extra_users,
        ..Options::default()
    })
    .await;

    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "eve",
        PASSWORD,
    )
    .await
    .unwrap();
    let began = Instant::now();
    assert_eq!(
        conn.expect_disconnect().await,
        Some(0xA0),
        "Maximum connect time"
    );
    assert!(began.elapsed() <= Duration::from_secs(4));

    let mut conn = Conn::open(h.tcp()).await;
    let rejected = scram_login(
        &mut conn,
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "old",
        PASSWORD,
    )
    .await;
    assert_eq!(
        rejected.err().map(|e| e.0),
        Some(0x87),
        "already expired credentials"
    );
    drop(conn);
    let stats = h.finish().await;
    assert_eq!(stats.expired, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthentication_picks_up_a_renewed_expire_at() {
    let store = std::sync::Arc::new(mqtt_scram::provider::MemoryProvider::new());
    let eve = record(HashAlgorithm::Sha256, PASSWORD, 4096);
    store.insert("eve", eve.clone().expire_at(Some(broker::unix_now() + 2)));
    let provider = Provider::Memory(std::sync::Arc::clone(&store));
    let h = Harness::start(Options {
        provider: Some(provider),
        ..Options::default()
    })
    .await;

    let mut conn = Conn::open(h.tcp()).await;
    let config = ClientConfig::new();
    let authenticated = scram_login(&mut conn, &config, Mechanism::ScramSha256, "eve", PASSWORD)
        .await
        .unwrap();
    // The provider renews the credentials; the client re-authenticates before expiry.
    store.insert("eve", eve.expire_at(Some(broker::unix_now() + 3600)));
    let authenticated = scram_reauth(&mut conn, authenticated).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    conn.send(Packet::PingReq(rumqttc::v5::mqttbytes::v5::PingReq))
        .await;
    assert!(
        matches!(conn.recv().await, Some(Frame::Mqtt(Packet::PingResp(_)))),
        "still connected after the first expire_at"
    );
    // A failed re-authentication ends the session (DISCONNECT 0x87), MQTT 5.0 §4.12.1.
    store.remove("eve");
    assert_eq!(
        scram_reauth(&mut conn, authenticated).await.err(),
        Some(0x87)
    );
    assert!(conn.recv().await.is_none());
    let stats = h.finish().await;
    assert_eq!((stats.reauth_accepted, stats.expired), (1, 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packets_get_the_right_reason_code_and_never_crash() {
    let limits = Limits {
        max_packet_size: 4096,
        ..Limits::default()
    };
    let h = Harness::start(Options {
        limits,
        ..Options::default()
    })
    .await;
    let config = ClientConfig::new();

    // Garbage instead of CONNECT: closed, nothing else.
    let mut raw = TcpStream::connect(h.tcp()).await.unwrap();
    raw.write_all(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02])
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(STEP, raw.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(
        n == 0 || buf[0] >> 4 == 2,
        "closed, or a CONNACK: {:?}",
        &buf[..n]
    );

    // Random bytes after a valid login must not take the broker down.
    for seed in 0u8..8 {
        let mut conn = Conn::open(h.tcp()).await;
        alice_logs_in(&mut conn, &config, Mechanism::ScramSha256).await;
        let junk: Vec<u8> = (0..200u32)
            .map(|i| {
                (i as u8)
                    .wrapping_mul(31)
                    .wrapping_add(seed.wrapping_mul(17))
            })
            .collect();
        let _ = stream_write(&mut conn.wire, &junk).await;
    }

    // Unsupported method: CONNACK 0x8C without a method property.
    let mut conn = Conn::open(h.tcp()).await;
    conn.send(connect_packet(
        "c",
        Some("SCRAM-SHA-1"),
        Some(b"n,,n=alice,r=abcdefghijklmnopqrstuvwx".to_vec()),
        None,
    ))
    .await;
    let connack = conn.expect_connack().await;
    assert_eq!(code(connack.code), 0x8C);
    assert_eq!(
        connack.properties.and_then(|p| p.authentication_method),
        None
    );

    // A different method in the AUTH that continues the exchange: 0x8C.
    let mut conn = Conn::open(h.tcp()).await;
    let (first, data) = alice_first(&config);
    conn.send(connect_packet("c", Some("SCRAM-SHA-256"), Some(data), None))
        .await;
    let Some(Frame::Auth(challenge)) = conn.recv().await else {
        panic!("no challenge")
    };
    let (_last, data) = first.on_server_first(&challenge.data.unwrap()).unwrap();
    conn.send_auth(0x18, "SCRAM-SHA-512", data).await;
    assert_eq!(code(conn.expect_connack().await.code), 0x8C);

    // A malformed AUTH during the handshake: CONNACK 0x81.
    let mut conn = Conn::open(h.tcp()).await;
    let (_first, data) = alice_first(&config);
    conn.send(connect_packet("c", Some("SCRAM-SHA-256"), Some(data), None))
        .await;
    assert!(matches!(conn.recv().await, Some(Frame::Auth(_))));
    stream_write(&mut conn.wire, &[0xF0, 0x04, 0x18, 0x09, 0x15, 0x00])
        .await
        .unwrap();
    assert_eq!(code(conn.expect_connack().await.code), 0x81);

    // Something other than AUTH during the handshake: CONNACK 0x82.
    let mut conn = Conn::open(h.tcp()).await;
    let (_first, data) = alice_first(&config);
    conn.send(connect_packet("c", Some("SCRAM-SHA-256"), Some(data), None))
        .await;
    assert!(matches!(conn.recv().await, Some(Frame::Auth(_))));
    conn.send(Packet::PingReq(rumqttc::v5::mqttbytes::v5::PingReq))
        .await;
    assert_eq!(code(conn.expect_connack().await.code), 0x82);

    // After login: an oversized packet (0x95), a second CONNECT (0x82), QoS 2 (0x9B),
    // AUTH 0x18 with no re-authentication in progress (0x82), a changed method on re-auth (0x8C).
    let big = Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "big".into(),
        pkid: 0,
        payload: vec![0u8; 8192].into(),
        properties: None,
    };
    let qos2 = Publish {
        qos: QoS::ExactlyOnce,
        pkid: 1,
        payload: "x".into(),
        ..big.clone()
    };
    #[allow(clippy::large_enum_variant)]
    enum Send {
        Packet(Packet),
        Auth(u8, &'static str),
    }
    let cases = [
        (Send::Packet(Packet::Publish(big)), 0x95),
        (
            Send::Packet(connect_packet("again", None, None, None)),
            0x82,
        ),
        (Send::Packet(Packet::Publish(qos2)), 0x9B),
        (Send::Auth(0x18, "SCRAM-SHA-256"), 0x82),
        (Send::Auth(0x19, "SCRAM-SHA-512"), 0x8C),
    ];
    for (send, expected) in cases {
        let mut conn = Conn::open(h.tcp()).await;
        alice_logs_in(&mut conn, &config, Mechanism::ScramSha256).await;
        match send {
            Send::Packet(p) => conn.send(p).await,
            Send::Auth(reason, method) => {
                let mech = Mechanism::ScramSha256;
                let (_f, data) =
                    client::start(&config, mech, "alice", PASSWORD, &mut rand::rng()).unwrap();
                conn.send_auth(reason, method, data).await;
            }
        }
        assert_eq!(conn.expect_disconnect().await, Some(expected));
    }

    // Still serving.
    let mut conn = Conn::open(h.tcp()).await;
    alice_logs_in(&mut conn, &config, Mechanism::ScramSha512).await;
    drop(conn);
    drop(raw);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_timeout_disconnects_with_0x8d() {
    let h = Harness::start(Options::default()).await;
    let mut conn = Conn::open(h.tcp()).await;
    let config = ClientConfig::new();
    let (first, data) = alice_first(&config);
    let Packet::Connect(mut connect, will, login) =
        connect_packet("idle", Some("SCRAM-SHA-256"), Some(data), None)
    else {
        unreachable!()
    };
    connect.keep_alive = 1;
    conn.send(Packet::Connect(connect, will, login)).await;
    let Some(Frame::Auth(challenge)) = conn.recv().await else {
        panic!("no challenge")
    };
    let (last, data) = first.on_server_first(&challenge.data.unwrap()).unwrap();
    conn.send_auth(0x18, "SCRAM-SHA-256", data).await;
    let connack = conn.expect_connack().await;
    last.on_server_final(
        connack
            .properties
            .unwrap()
            .authentication_data
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    // Each packet renews the 1.5 s window: 4 pings 0.7 s apart span 2.8 s without a timeout.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        conn.send(Packet::PingReq(rumqttc::v5::mqttbytes::v5::PingReq))
            .await;
        let pong = conn.recv().await;
        assert!(
            matches!(pong, Some(Frame::Mqtt(Packet::PingResp(_)))),
            "{pong:?}"
        );
    }
    let began = Instant::now();
    assert_eq!(
        conn.expect_disconnect().await,
        Some(0x8D),
        "Keep Alive timeout"
    );
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(4),
        "1.5 x keep alive: {waited:?}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_disconnects_sessions_with_0x8b() {
    let h = Harness::start(Options::default()).await;
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
    )
    .await
    .unwrap();
    let tcp = h.tcp();
    let Harness { broker, dir, .. } = h;
    let stopping = tokio::spawn(broker.shutdown(Duration::from_secs(10)));
    assert_eq!(
        conn.expect_disconnect().await,
        Some(0x8B),
        "Server shutting down"
    );
    drop(conn);
    let stats = stopping.await.unwrap();
    assert_eq!(
        (
            stats.auth_accepted,
            stats.connections_open,
            stats.handshakes_in_flight
        ),
        (1, 0, 0)
    );
    assert!(TcpStream::connect(tcp).await.is_err(), "listener closed");
    let _ = std::fs::remove_dir_all(&dir);
}
