//! The password fallback is admitted like SCRAM, and a session ends when its record's
//! `expire_at` passes while the client is connected.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqtt_scram::{HashAlgorithm, Mechanism};
use mqtt_scram_testkit::mosquitto::Mosquitto;

use crate::harness::{Fixture, PASSWORD, default_users, files, record_with};
use crate::wire::{self, AUTH, CONNACK, Conn, DISCONNECT};

/// A connection from `source` (a loopback address) to the broker.
fn from(source: [u8; 4], to: SocketAddr) -> Conn {
    Conn::over(Box::new(connect_from(source, to)))
}

fn connect_from(source: [u8; 4], to: SocketAddr) -> std::net::TcpStream {
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
    stream
}

fn password_login(conn: &mut Conn, id: &str) -> u8 {
    conn.send_connect(id, None, None, Some(("alice", PASSWORD.as_bytes())))
        .unwrap();
    let reply = conn.read().unwrap();
    assert_eq!(reply.kind, CONNACK, "{reply:?}");
    reply.reason
}

#[test]
fn the_password_fallback_is_capped_per_address_like_scram() {
    let Some(f) = Fixture::start(|c, _| {
        c.option("basic_auth", true)
            .option("max_handshakes_per_address", 2)
    }) else {
        return;
    };
    let addr = f.broker.addr();
    // Two SCRAM handshakes from 127.0.0.1 that never answer fill its places.
    let mut stalled = Vec::new();
    for i in 0..2 {
        let mut conn = from([127, 0, 0, 1], addr);
        conn.send_connect(
            &format!("stall-{i}"),
            Some("SCRAM-SHA-256"),
            Some(format!("n,,n=alice,r=stallnonce{i:08}").as_bytes()),
            None,
        )
        .unwrap();
        assert_eq!(conn.read().unwrap().kind, AUTH);
        stalled.push(conn);
    }
    // The right password from the same address is refused: no PBKDF2 run for it ...
    assert_eq!(
        password_login(&mut from([127, 0, 0, 1], addr), "plain-1"),
        0x87
    );
    // ... while another address logs in.
    assert_eq!(
        password_login(&mut from([127, 0, 0, 2], addr), "plain-2"),
        0x00
    );
    drop(stalled);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_client_whose_credentials_expire_while_connected_is_disconnected() {
    let expire_at = unix_now() + 3;
    let mut users = default_users();
    users.push(record_with(
        "temp",
        PASSWORD,
        HashAlgorithm::Sha256,
        |mut r| {
            r["expire_at"] = expire_at.into();
            r
        },
    ));
    let (_dir, _path, config) = files(&users);
    let Some(broker) = Mosquitto::start(&config.option("basic_auth", true)) else {
        return;
    };
    // A SCRAM session and a password-fallback session for the same expiring record.
    let mut scram = Conn::tcp(broker.addr()).unwrap();
    let login = wire::scram_login(
        &mut scram,
        "temp-scram",
        Mechanism::ScramSha256,
        "temp",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(login.last.reason, 0, "{login:?}");
    let mut plain = Conn::tcp(broker.addr()).unwrap();
    plain
        .send_connect(
            "temp-plain",
            None,
            None,
            Some(("temp", PASSWORD.as_bytes())),
        )
        .unwrap();
    assert_eq!(plain.read().unwrap().reason, 0);
    // A session without expiry stays.
    let mut alice = Conn::tcp(broker.addr()).unwrap();
    let ok = wire::scram_login(
        &mut alice,
        "alice-stays",
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(ok.last.reason, 0);

    // Both expiring clients are disconnected (DISCONNECT 0x98 Administrative action, then
    // the connection closes) within the read timeout after expire_at.
    for (conn, id) in [(&mut scram, "temp-scram"), (&mut plain, "temp-plain")] {
        match conn.read() {
            Ok(p) => assert_eq!((p.kind, p.reason), (DISCONNECT, 0x98), "{id}: {p:?}"),
            Err(e) => assert_eq!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof,
                "{id}: not disconnected: {e}\n{}",
                broker.log()
            ),
        }
    }
    let log = broker.log();
    assert!(
        log.contains("credentials of client temp-scram expired"),
        "{log}"
    );
    // alice is still connected and served.
    assert_eq!(alice.subscribe("alice/x", 0).unwrap().kind, wire::SUBACK);
}
