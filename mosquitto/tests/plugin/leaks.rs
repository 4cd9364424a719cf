//! 10,000 sequential handshakes, mixed: successful (the client reuses its SaltedPassword,
//! RFC 5802 §5.1, so the run measures the broker, not PBKDF2), failed (a wrong proof, an
//! unknown user) and abandoned after the server-first-message. The broker's resident
//! memory after the run is compared with its memory after a warm-up of the same mix.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mqtt_scram::Mechanism;
use mqtt_scram::client::Authenticated;

use crate::harness::{Fixture, PASSWORD};
use crate::wire::{self, AUTH, CONNACK, Conn};

const METHOD: &str = "SCRAM-SHA-256";

/// A successful login on a new connection with the cached SaltedPassword.
fn success(addr: std::net::SocketAddr, authenticated: Authenticated, i: usize) -> Authenticated {
    let mut conn = Conn::tcp(addr).unwrap();
    let (first, client_first) = authenticated.reauthenticate(&mut rand::rng());
    conn.send_connect(&format!("ok-{i}"), Some(METHOD), Some(&client_first), None)
        .unwrap();
    let challenge = conn.read().unwrap();
    let (last, client_final) = first
        .on_server_first(challenge.data.as_deref().unwrap())
        .unwrap();
    conn.send_auth(0x18, METHOD, Some(&client_final)).unwrap();
    let connack = conn.read().unwrap();
    assert_eq!((connack.kind, connack.reason), (CONNACK, 0), "login {i}");
    last.on_server_final(connack.data.as_deref().unwrap())
        .unwrap()
}

/// A refused login: the right nonce with a made-up proof (no PBKDF2 on the client).
fn failure(addr: std::net::SocketAddr, user: &str, i: usize) {
    let mut conn = Conn::tcp(addr).unwrap();
    let nonce = format!("leak{i:020}");
    let first = format!("n,,n={user},r={nonce}");
    conn.send_connect(
        &format!("bad-{i}"),
        Some(METHOD),
        Some(first.as_bytes()),
        None,
    )
    .unwrap();
    let challenge = conn.read().unwrap();
    assert_eq!(challenge.kind, AUTH);
    let server_first = String::from_utf8(challenge.data.unwrap()).unwrap();
    let r = server_first.split(',').next().unwrap();
    let last = format!("c=biws,{r},p={}", STANDARD.encode([7u8; 32]));
    conn.send_auth(0x18, METHOD, Some(last.as_bytes())).unwrap();
    let connack = conn.read().unwrap();
    assert_eq!((connack.kind, connack.reason), (CONNACK, 0x87), "login {i}");
}

/// A handshake abandoned after the server-first-message.
fn abandoned(addr: std::net::SocketAddr, i: usize) {
    let mut conn = Conn::tcp(addr).unwrap();
    let first = format!("n,,n=alice,r=gone{i:020}");
    conn.send_connect(
        &format!("gone-{i}"),
        Some(METHOD),
        Some(first.as_bytes()),
        None,
    )
    .unwrap();
    assert_eq!(conn.read().unwrap().kind, AUTH);
}

fn run(
    addr: std::net::SocketAddr,
    mut authenticated: Authenticated,
    range: std::ops::Range<usize>,
) -> Authenticated {
    for i in range {
        match i % 4 {
            0 | 1 => authenticated = success(addr, authenticated, i),
            2 => failure(addr, if i % 8 == 2 { "alice" } else { "nobody" }, i),
            _ => abandoned(addr, i),
        }
    }
    authenticated
}

#[test]
fn ten_thousand_handshakes_leave_the_brokers_memory_flat() {
    let Some(f) = Fixture::start(|c, _| c.option("stats_interval", "1s")) else {
        return;
    };
    let addr = f.broker.addr();
    let mut conn = Conn::tcp(addr).unwrap();
    let first = wire::scram_login(
        &mut conn,
        "first",
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap();
    drop(conn);
    let authenticated = run(addr, first.authenticated.unwrap(), 0..1_000);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let warm = f.broker.rss_kib();
    let _ = run(addr, authenticated, 1_000..10_000);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let after = f.broker.rss_kib();
    eprintln!("broker RSS: {warm} KiB after 1,000 handshakes, {after} KiB after 10,000");
    // A leak of one handshake's state (~1 KiB) per login would add ~9 MiB.
    assert!(
        after <= warm + 2048,
        "RSS grew from {warm} KiB to {after} KiB over 9,000 handshakes"
    );
    let log = f.broker.stop();
    assert!(log.contains("longest callback"), "{log}");
}
