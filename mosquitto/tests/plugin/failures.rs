//! Refusals: wrong password and unknown user (0x87, same shape), unsupported methods
//! (0x8C), expired and excess handshakes, authorization, and the password fallback.

use std::net::SocketAddr;
use std::time::Duration;

use mqtt_scram::Mechanism;
use mqtt_scram::client::{self, ClientConfig};

use crate::harness::{Fixture, PASSWORD};
use crate::wire::{self, AUTH, CONNACK, Conn, Packet, SUBACK};

fn attributes(data: &[u8]) -> Vec<(String, usize)> {
    String::from_utf8(data.to_vec())
        .unwrap()
        .split(',')
        .map(|a| (a[..2].to_owned(), a.len()))
        .collect()
}

fn login(addr: SocketAddr, mechanism: Mechanism, user: &str, password: &str) -> wire::Login {
    let mut conn = Conn::tcp(addr).unwrap();
    wire::scram_login(&mut conn, "c", mechanism, user, password, None).unwrap()
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_challenge_shape_and_0x87() {
    let Some(f) = Fixture::start(|c, _| c) else {
        return;
    };
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let wrong = login(f.broker.addr(), mechanism, "alice", "not-the-password");
        let unknown = login(f.broker.addr(), mechanism, "bobby", PASSWORD);
        for l in [&wrong, &unknown] {
            assert_eq!((l.last.kind, l.last.reason), (CONNACK, 0x87), "{l:?}");
            // Mosquitto's CONNACK for a refused login carries no properties.
            assert_eq!((&l.last.method, &l.last.data), (&None, &None));
        }
        let (w, u) = (wrong.challenge.unwrap(), unknown.challenge.unwrap());
        assert_eq!(
            attributes(w.data.as_ref().unwrap()),
            attributes(u.data.as_ref().unwrap()),
            "server-first r=, s=, i= of the same lengths"
        );
        assert!(
            String::from_utf8(u.data.unwrap())
                .unwrap()
                .ends_with(",i=4096")
        );
        let ok = login(f.broker.addr(), mechanism, "alice", PASSWORD);
        assert_eq!(ok.last.reason, 0, "{ok:?}");
        assert_eq!(ok.last.method.as_deref(), Some(mechanism.name()));
        assert!(ok.authenticated.is_some());
    }
}

#[test]
fn unsupported_methods_get_0x8c() {
    let Some(f) = Fixture::start(|c, _| c) else {
        return;
    };
    // -PLUS is not offered without plugin_opt_tls_cert_file.
    for method in ["SCRAM-SHA-1", "PLAIN", "SCRAM-SHA-256-PLUS"] {
        let mut conn = Conn::tcp(f.broker.addr()).unwrap();
        conn.send_connect(
            "c",
            Some(method),
            Some(b"n,,n=alice,r=abcdefghijklmnop"),
            None,
        )
        .unwrap();
        let reply = conn.read().unwrap();
        assert_eq!(
            (reply.kind, reply.reason),
            (CONNACK, 0x8C),
            "{method}: {reply:?}"
        );
    }
}

#[test]
fn a_handshake_past_its_deadline_is_dropped_and_refused() {
    let Some(f) = Fixture::start(|c, _| c.option("handshake_timeout", "1s")) else {
        return;
    };
    let mut conn = Conn::tcp(f.broker.addr()).unwrap();
    let (first, client_first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    conn.send_connect("late", Some("SCRAM-SHA-256"), Some(&client_first), None)
        .unwrap();
    let challenge = conn.read().unwrap();
    let (_, client_final) = first
        .on_server_first(challenge.data.as_deref().unwrap())
        .unwrap();
    assert!(
        f.broker
            .wait_for_log("(stalled: 1)", 0, Duration::from_secs(10)),
        "{}",
        f.broker.log()
    );
    conn.send_auth(0x18, "SCRAM-SHA-256", Some(&client_final))
        .unwrap();
    let reply = conn.read().unwrap();
    assert_eq!((reply.kind, reply.reason), (CONNACK, 0x87), "{reply:?}");
}

/// A connection from `source` (another loopback address) to the broker.
fn from(source: [u8; 4], to: SocketAddr) -> Conn {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((source, 0))).unwrap();
        socket.connect(to).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    Conn::over(Box::new(stream))
}

fn start_handshake(conn: &mut Conn, id: &str) -> Packet {
    let (_, client_first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    conn.send_connect(id, Some("SCRAM-SHA-256"), Some(&client_first), None)
        .unwrap();
    conn.read().unwrap()
}

#[test]
fn stalled_handshakes_from_one_address_do_not_lock_out_another() {
    let Some(f) = Fixture::start(|c, _| c.option("max_handshakes_per_address", 3)) else {
        return;
    };
    let mut stalled = Vec::new();
    for i in 0..3 {
        let mut conn = from([127, 0, 0, 1], f.broker.addr());
        let reply = start_handshake(&mut conn, &format!("stall-{i}"));
        assert_eq!((reply.kind, reply.reason), (AUTH, 0x18));
        stalled.push(conn);
    }
    let mut excess = from([127, 0, 0, 1], f.broker.addr());
    let reply = start_handshake(&mut excess, "stall-excess");
    assert_eq!((reply.kind, reply.reason), (CONNACK, 0x87), "{reply:?}");
    // Another address logs in at once.
    let mut other = from([127, 0, 0, 2], f.broker.addr());
    let ok = wire::scram_login(
        &mut other,
        "legit",
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(ok.last.reason, 0, "{ok:?}");
    // A closed stalled connection frees its place (MOSQ_EVT_DISCONNECT).
    drop(stalled.pop());
    std::thread::sleep(Duration::from_millis(300));
    let mut again = from([127, 0, 0, 1], f.broker.addr());
    let reply = start_handshake(&mut again, "stall-again");
    assert_eq!((reply.kind, reply.reason), (AUTH, 0x18), "{reply:?}");
}

fn subscribe_reason(addr: SocketAddr, user: &str, filter: &str) -> u8 {
    let mut conn = Conn::tcp(addr).unwrap();
    let login = wire::scram_login(
        &mut conn,
        user,
        Mechanism::ScramSha256,
        user,
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(login.last.reason, 0, "{user}: {login:?}");
    let suback = conn.subscribe(filter, 0).unwrap();
    assert_eq!(suback.kind, SUBACK);
    suback.payload[0]
}

#[test]
fn acls_from_records_and_file_deny_topics_and_superusers_pass() {
    let Some(f) = Fixture::start(|c, dir| {
        let acl = dir.write("acl", "user alice\ntopic alice/#\n");
        c.option("acl_from_records", true)
            .option("acl_file", acl.display())
            .option("acl_no_match", "deny")
    }) else {
        return;
    };
    let addr = f.broker.addr();
    // carol's record: deny secret/#, allow everything else.
    assert_eq!(subscribe_reason(addr, "carol", "secret/plans"), 0x87);
    assert_eq!(subscribe_reason(addr, "carol", "public/news"), 0x00);
    // alice: the ACL file grants alice/# only.
    assert_eq!(subscribe_reason(addr, "alice", "alice/inbox"), 0x00);
    assert_eq!(subscribe_reason(addr, "alice", "bob/inbox"), 0x87);
    // root is a superuser.
    assert_eq!(subscribe_reason(addr, "root", "secret/plans"), 0x00);

    // A denied publication is not delivered: carol listens on #, alice publishes.
    let mut listener = Conn::tcp(addr).unwrap();
    wire::scram_login(
        &mut listener,
        "listener",
        Mechanism::ScramSha256,
        "root",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(listener.subscribe("#", 0).unwrap().payload, [0]);
    let mut alice = Conn::tcp(addr).unwrap();
    wire::scram_login(
        &mut alice,
        "alice-pub",
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap();
    alice.publish("bob/inbox", b"denied").unwrap();
    alice.publish("alice/outbox", b"allowed").unwrap();
    let delivered = listener.read().unwrap();
    assert_eq!(
        delivered.topic.as_deref(),
        Some("alice/outbox"),
        "{delivered:?}"
    );
}

#[test]
fn the_password_fallback_checks_connect_passwords_against_scram_credentials() {
    let Some(f) = Fixture::start(|c, _| c.option("basic_auth", true)) else {
        return;
    };
    for (user, password, expected) in [
        ("alice", PASSWORD, 0x00),
        ("alice", "wrong", 0x87),
        ("mallory", PASSWORD, 0x87),
    ] {
        let mut conn = Conn::tcp(f.broker.addr()).unwrap();
        conn.send_connect("plain", None, None, Some((user, password.as_bytes())))
            .unwrap();
        let reply = conn.read().unwrap();
        assert_eq!(
            (reply.kind, reply.reason),
            (CONNACK, expected),
            "{user}/{password}"
        );
    }
    assert!(f.broker.log().contains("plugin_opt_basic_auth is on"));
}
