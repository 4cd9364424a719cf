//! VerneMQ end to end: SCRAM logins of real MQTT 5 clients — rust-mqtt 0.6 driving the
//! engine's client (`testkit::rust_mqtt`: `connect_enhanced`, `reauthenticate`) and scramp
//! (Python, an independent SCRAM implementation: `broker/tests/interop/scramp_mqtt.py`,
//! installed by `scripts/setup-test-peers`) — through a small MQTT 5 front that turns MQTT
//! packets into `vmq_webhooks` calls as VerneMQ does (`vernemq_front`, which cites the
//! VerneMQ files it follows: `apps/vmq_server/src/vmq_mqtt5_fsm.erl`,
//! `apps/vmq_webhooks/src/vmq_webhooks_plugin.erl`, `apps/vmq_plugin/src/vmq_plugin_helper.erl`),
//! against the auth service started in-process on a free loopback port with a credential
//! file.
//!
//! What VerneMQ sends a refused client: the service refuses a wrong password or an unknown
//! user at the second `on_auth_m5` call with `{"error": "not_authorized"}`, which
//! `pre_connect_auth/2` turns into `terminate({error, not_authorized})` — the connection
//! is closed without CONNACK (and without DISCONNECT on a refused re-authentication).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;
mod vernemq_front;

use std::process::Command;
use std::time::Duration;

use mqtt_scram::{HashAlgorithm, Mechanism};
use mqtt_scram_testkit::process::output_within;
use mqtt_scram_testkit::rust_mqtt::{Session, login_publish_reauthenticate};
use mqtt_scram_testkit::{TempDir, peer};
use serde_json::{Value, json};
use support::{User, toml_path, users_file};
use vernemq_front::packet;
use vernemq_front::{Answer, Event, Front};

const PASSWORD: &str = "correct horse";
/// `[vernemq] max_handshakes` of these tests (the flood is four times as many).
const MAX_HANDSHAKES: usize = 500;
const STEP: Duration = Duration::from_secs(30);

/// The service (alice with SHA-256 and SHA-512 records) and the front pointed at it.
async fn setup() -> (TempDir, support::Running, Front) {
    let dir = TempDir::new("service-vernemq-e2e");
    let mut alice512 = User::new("alice", PASSWORD);
    alice512.hash = HashAlgorithm::Sha512;
    let users = dir.write(
        "users.jsonl",
        &users_file(&[User::new("alice", PASSWORD), alice512]),
    );
    let toml = format!(
        "store = {}\n[vernemq]\nmax_handshakes = {MAX_HANDSHAKES}\n",
        toml_path(&users)
    );
    let service = support::start(&toml).await;
    let front = Front::start(service.url("/vernemq")).await;
    (dir, service, front)
}

fn hooks(events: &[Event]) -> Vec<(String, Answer)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Hook { hook, answer, .. } => Some((hook.clone(), answer.clone())),
            _ => None,
        })
        .collect()
}

fn sent(events: &[Event]) -> Vec<(u8, u8)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Sent { kind, reason, .. } => Some((*kind, *reason)),
            _ => None,
        })
        .collect()
}

fn auth_answer(code: u64, method: &str) -> impl Fn(&Answer) -> bool + '_ {
    move |answer| {
        matches!(answer, Answer::Ok(m)
            if m["reason_code"] == code && m["properties"]["p_authentication_method"] == method)
    }
}

/// The hooks and packets of one successful login with re-authentication (CONNECT without
/// username: the service names the user in `auth_on_register_m5`'s modifiers).
fn assert_login_and_reauth(front: &Front, client_id: &str, method: &str) {
    let events = front.log_of(client_id);
    let calls = hooks(&events);
    let names: Vec<&str> = calls.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        names,
        [
            "on_auth_m5",
            "on_auth_m5",
            "auth_on_register_m5",
            "on_auth_m5",
            "on_auth_m5"
        ],
        "{events:#?}"
    );
    assert!(auth_answer(24, method)(&calls[0].1), "{events:#?}");
    assert!(auth_answer(0, method)(&calls[1].1), "{events:#?}");
    assert_eq!(calls[2].1, Answer::Ok(json!({"username": "alice"})));
    assert!(auth_answer(24, method)(&calls[3].1), "{events:#?}");
    assert!(auth_answer(0, method)(&calls[4].1), "{events:#?}");
    // The arguments as vmq_webhooks encodes them: the CONNECT's username (none) before
    // auth_on_register_m5, the session's (alice, from the modifiers) after it.
    let args: Vec<&Value> = events
        .iter()
        .filter_map(|e| match e {
            Event::Hook { args, .. } => Some(args),
            _ => None,
        })
        .collect();
    assert_eq!(args[0]["username"], Value::Null);
    assert_eq!(args[0]["mountpoint"], "");
    assert_eq!(args[0]["client_id"], client_id);
    assert_eq!(args[0]["properties"]["p_authentication_method"], method);
    assert!(args[0]["properties"]["p_authentication_data"].is_string());
    assert_eq!(args[2]["password"], Value::Null);
    assert_eq!(args[2]["peer_addr"], "127.0.0.1");
    assert_eq!(args[3]["username"], "alice");
    // The AUTH and CONNACK packets the client got (SUBACK, PUBLISH, PINGRESP aside).
    let packets: Vec<(u8, u8)> = sent(&events)
        .into_iter()
        .filter(|(kind, _)| [packet::AUTH, packet::CONNACK].contains(kind))
        .collect();
    assert_eq!(
        packets,
        [
            (packet::AUTH, 0x18),
            (packet::CONNACK, 0),
            (packet::AUTH, 0x18),
            (packet::AUTH, 0)
        ],
        "{events:#?}"
    );
}

/// rust-mqtt (`connect_enhanced`, SUBSCRIBE/PUBLISH, `reauthenticate`) as alice.
async fn rust_mqtt_login(front: &Front, mechanism: Mechanism, client_id: &str) {
    let session = Session {
        client_id,
        topic: "e2e/rust-mqtt",
        step: STEP,
    };
    login_publish_reauthenticate(front.addr, mechanism, "alice", PASSWORD, session).await;
}

fn scramp_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import scramp"])
        .output()
        .is_ok_and(|o| o.status.success());
    peer::require(ok, "python3 with scramp (scripts/setup-test-peers)")
}

/// One `scramp_mqtt.py client` run: its JSON line (`{"fatal": …}` when the connection was
/// closed under it) and whether it exited 0.
fn scramp(
    front: &Front,
    mechanism: &str,
    client_id: &str,
    user: &str,
    extra: &[&str],
) -> (Value, bool) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../broker/tests/interop/scramp_mqtt.py"
    );
    let port = front.addr.port().to_string();
    let mut command = Command::new("python3");
    command.args([
        script,
        "client",
        "--port",
        &port,
        "--mechanism",
        mechanism,
        "--client-id",
        client_id,
        "--user",
        user,
    ]);
    if !extra.contains(&"--password") {
        command.args(["--password", PASSWORD]);
    }
    command.args(extra);
    let output = tokio::task::block_in_place(|| output_within(&mut command, None, STEP));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("{}");
    let value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    (value, output.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_mqtt_logs_in_and_reauthenticates() {
    let (_dir, _service, front) = setup().await;
    for (mechanism, client_id) in [
        (Mechanism::ScramSha256, "rust-mqtt-256"),
        (Mechanism::ScramSha512, "rust-mqtt-512"),
    ] {
        rust_mqtt_login(&front, mechanism, client_id).await;
        assert_login_and_reauth(&front, client_id, mechanism.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scramp_logs_in_and_is_refused_as_vernemq_refuses() {
    if !scramp_ready() {
        return;
    }
    let (_dir, _service, front) = setup().await;
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let id = format!("scramp-ok-{mechanism}");
        let (ok, exited) = scramp(&front, mechanism, &id, "alice", &["--reauth"]);
        assert!(exited, "{ok}");
        assert_eq!(ok["connack"], 0, "{ok}");
        assert_eq!(ok["server_verified"], true, "scramp verifies v=: {ok}");
        assert_eq!(ok["reauth_packet"], "AUTH", "{ok}");
        assert_eq!(ok["reauth_reason"], 0, "{ok}");
        assert_eq!(ok["reauth_verified"], true, "{ok}");
        assert_eq!(ok["pingresp"], true, "{ok}");
        assert_login_and_reauth(&front, &id, mechanism);

        // Wrong password, unknown user: the first on_auth_m5 continues (a mock record for
        // the unknown user), the second is refused; VerneMQ closes without CONNACK.
        for (user, password, what) in [
            ("alice", "wrong", "wrong"),
            ("mallory", PASSWORD, "unknown"),
        ] {
            let id = format!("scramp-{what}-{mechanism}");
            let (out, exited) = scramp(&front, mechanism, &id, user, &["--password", password]);
            assert!(!exited, "{out}");
            assert!(
                out["fatal"]
                    .as_str()
                    .unwrap_or("")
                    .contains("connection closed"),
                "{out}"
            );
            let events = front.log_of(&id);
            let calls = hooks(&events);
            assert_eq!(calls.len(), 2, "no auth_on_register_m5: {events:#?}");
            assert!(auth_answer(24, mechanism)(&calls[0].1), "{events:#?}");
            assert_eq!(
                calls[1],
                ("on_auth_m5".into(), Answer::Error("not_authorized".into()))
            );
            assert_eq!(
                sent(&events),
                [(packet::AUTH, 0x18)],
                "no CONNACK: {events:#?}"
            );
            assert!(
                matches!(events.last(), Some(Event::Dropped { .. })),
                "{events:#?}"
            );
        }

        // A re-authentication with a wrong password: closed without DISCONNECT.
        let id = format!("scramp-bad-reauth-{mechanism}");
        let (out, exited) = scramp(
            &front,
            mechanism,
            &id,
            "alice",
            &["--reauth", "--reauth-password", "wrong"],
        );
        assert!(!exited, "{out}");
        assert!(
            out["fatal"]
                .as_str()
                .unwrap_or("")
                .contains("connection closed"),
            "{out}"
        );
        let events = front.log_of(&id);
        assert_eq!(
            sent(&events),
            [
                (packet::AUTH, 0x18),
                (packet::CONNACK, 0),
                (packet::AUTH, 0x18)
            ],
            "{events:#?}"
        );
        let calls = hooks(&events);
        assert_eq!(
            calls.last(),
            Some(&("on_auth_m5".into(), Answer::Error("not_authorized".into())))
        );
    }
}

/// Opens a connection, sends CONNECT with a client-first-message and waits for AUTH 0x18,
/// then goes away without answering.
async fn unfinished_handshake(front: std::net::SocketAddr, i: usize) {
    use tokio::io::AsyncWriteExt;
    let (_, first) = mqtt_scram::client::start(
        &mqtt_scram::client::ClientConfig::new(),
        Mechanism::ScramSha256,
        &format!("flood{}", i % 7),
        "x",
        &mut rand::rng(),
    )
    .unwrap();
    let mut stream = tokio::net::TcpStream::connect(front).await.unwrap();
    stream
        .write_all(&packet::connect(
            &format!("flood-{i}"),
            "SCRAM-SHA-256",
            &first,
        ))
        .await
        .unwrap();
    let reply = packet::read_packet(&mut stream).await.unwrap().unwrap();
    assert_eq!(
        (reply.kind, reply.body.first()),
        (packet::AUTH, Some(&0x18))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unfinished_handshakes_does_not_stop_a_client() {
    let (_dir, _service, front) = setup().await;
    let flood = 4 * MAX_HANDSHAKES;
    let mut started = 0;
    while started < flood {
        let mut batch = tokio::task::JoinSet::new();
        for i in started..(started + 50).min(flood) {
            batch.spawn(unfinished_handshake(front.addr, i));
        }
        started += batch.len();
        while let Some(done) = batch.join_next().await {
            done.unwrap();
        }
    }
    let continued = front
        .log()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Sent {
                    kind: packet::AUTH,
                    reason: 0x18,
                    ..
                }
            )
        })
        .count();
    assert_eq!(continued, flood);
    // The table holds MAX_HANDSHAKES of them; alice still logs in (and re-authenticates),
    // with rust-mqtt and with scramp.
    rust_mqtt_login(&front, Mechanism::ScramSha256, "after-flood").await;
    assert_login_and_reauth(&front, "after-flood", "SCRAM-SHA-256");
    if scramp_ready() {
        let (ok, exited) = scramp(
            &front,
            "SCRAM-SHA-512",
            "scramp-after-flood",
            "alice",
            &["--reauth"],
        );
        assert!(exited, "{ok}");
        assert_eq!(ok["connack"], 0, "{ok}");
        assert_eq!(ok["reauth_verified"], true, "{ok}");
    }
}
