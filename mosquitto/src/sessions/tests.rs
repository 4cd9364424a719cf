#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::provider::{Lookup, UserAttributes};
use mqtt_scram::{
    ConnectionInfo, Identity, Mechanism, ScramServer, ServerConfig, StartPacket, Timestamp,
    client::{self, ClientConfig},
};
use mqtt_scram_authenticator::admission::{Admission, AdmissionPolicy};

use super::*;

fn admission() -> Arc<Admission> {
    Arc::new(Admission::new(AdmissionPolicy::default()).unwrap())
}

fn handshake(server: &ScramServer) -> (Handshake, Duration) {
    handshake_with(server, &admission())
}

fn handshake_with(server: &ScramServer, admission: &Arc<Admission>) -> (Handshake, Duration) {
    let conn = Arc::new(ConnectionInfo::new("c"));
    let (_, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        "pw",
        &mut rand::rng(),
    )
    .unwrap();
    let start = StartPacket::Connect {
        method: "SCRAM-SHA-256",
        data: Some(&first),
    };
    let need = server
        .start(&conn, start, Timestamp::new(Duration::ZERO, 0))
        .unwrap();
    let (challenge, _) = need.continue_with(Lookup::NotFound, &mut rand::rng());
    let deadline = challenge.deadline();
    (
        Handshake {
            challenge,
            previous: None,
            ticket: admission.begin(None).unwrap(),
        },
        deadline,
    )
}

fn session(name: &str) -> Session {
    let identity = Identity::new(
        name,
        Mechanism::ScramSha256,
        Arc::new(UserAttributes::new()),
    );
    Session::new(identity, &ConnectionInfo::new("c"))
}

fn server() -> ScramServer {
    ScramServer::new(ServerConfig::new([1; 32])).unwrap()
}

#[test]
fn tickets_are_held_while_the_handshake_waits_and_freed_when_it_goes() {
    let server = server();
    let admission = admission();
    let mut table = Sessions::new();
    for key in [1, 2] {
        let (h, d) = handshake_with(&server, &admission);
        table.begin(key, Some("c"), d, h);
    }
    assert_eq!((table.handshakes(), admission.stats().handshakes), (2, 2));
    assert!(
        table.remove(1).is_some(),
        "an abandoned handshake is returned"
    );
    assert_eq!(admission.stats().handshakes, 1);
    let Pending::Handshake(h) = table.take(2, Some("c")) else {
        panic!("handshake 2")
    };
    drop(h);
    assert_eq!((table.handshakes(), admission.stats().handshakes), (0, 0));
}

#[test]
fn a_reused_address_never_sees_the_previous_clients_state() {
    let server = server();
    let mut table = Sessions::new();
    table.authenticated(7, Some("alice-device"), session("alice"));
    // Same address, another client id: not alice's session.
    assert!(table.session(7, Some("mallory")).is_none());
    assert!(matches!(
        table.current(7, Some("mallory"), Some("alice")),
        Current::Nothing
    ));
    // The stale entry is gone for good.
    assert!(table.session(7, Some("alice-device")).is_none());
    // A handshake for one client id is not finished by another.
    let (h, d) = handshake(&server);
    table.begin(8, Some("a"), d, h);
    assert!(matches!(table.take(8, Some("b")), Pending::None));
    assert_eq!(table.handshakes(), 0);
}

#[test]
fn reauthentication_needs_the_same_client_and_username() {
    let mut table = Sessions::new();
    table.authenticated(1, Some("dev"), session("alice"));
    assert!(matches!(
        table.current(1, Some("dev"), Some("alice")),
        Current::Session(_)
    ));
    assert!(matches!(
        table.current(1, Some("dev"), Some("bob")),
        Current::Nothing
    ));
}

#[test]
fn expiry_leaves_a_marker_and_spares_a_newer_handshake_on_the_same_address() {
    let server = server();
    let mut table = Sessions::new();
    let (h, d) = handshake(&server);
    table.begin(1, Some("a"), d, h);
    let (h, d2) = handshake(&server);
    table.begin(2, Some("b"), d2, h);
    assert_eq!(table.expire(d).len(), 0, "not before the deadline");
    assert_eq!(table.expire(d + Duration::from_millis(1)).len(), 2);
    assert_eq!(table.handshakes(), 0);
    assert!(matches!(table.take(1, Some("a")), Pending::Expired));
    assert!(matches!(table.take(1, Some("a")), Pending::None));
    // A new handshake on key 2 gets a new generation: the old deadline entry is gone.
    let (h, d3) = handshake(&server);
    table.begin(2, Some("b"), d3 + Duration::from_secs(60), h);
    assert_eq!(table.expire(d3 + Duration::from_secs(1)).len(), 0);
    assert!(matches!(table.take(2, Some("b")), Pending::Handshake(_)));
}

#[test]
fn the_table_keeps_a_waiting_handshake_small() {
    // Issue 22 §2: the plugin's share per waiting handshake under 1 KiB. The table's entry
    // is a pointer's worth of state; the handshake's box holds the engine's challenge.
    assert!(std::mem::size_of::<Entry>() <= 32);
    assert!(std::mem::size_of::<Waiting>() <= 424);
}

#[test]
fn a_handshake_keyed_under_another_client_id_keeps_its_own() {
    let server = server();
    let mut table = Sessions::new();
    // The connection says "c"; the broker's id is absent or another: each is kept.
    let (h, d) = handshake(&server);
    table.begin(1, None, d, h);
    assert!(matches!(table.take(1, Some("c")), Pending::None));
    let (h, d) = handshake(&server);
    table.begin(2, None, d, h);
    assert!(matches!(table.take(2, None), Pending::Handshake(_)));
    let (h, d) = handshake(&server);
    table.begin(3, Some("c"), d, h);
    assert!(matches!(table.take(3, None), Pending::None));
    let (h, d) = handshake(&server);
    table.begin(4, Some("c"), d, h);
    assert!(matches!(table.take(4, Some("c")), Pending::Handshake(_)));
}
