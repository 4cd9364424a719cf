//! Real clients and an independent SCRAM implementation: mqtt.js, rust-mqtt, scramp.

use super::*;
use mqtt_scram_testkit::mqttjs::{self, scenario};
use mqtt_scram_testkit::rust_mqtt;

// ---------------------------------------------------------------------------------------
// 1. mqtt.js
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqttjs_scram_tcp_tls_plus_pubsub_and_failures() {
    if !mqttjs::ready() {
        return;
    }
    let h = Harness::start(Options::default()).await;
    let config = serde_json::json!({
        "port": h.tcp().port(),
        "tlsPort": h.tls().port(),
        "caFile": h.cert_file,
        "scenarios": [
            scenario("sha256", "SCRAM-SHA-256", "alice", PASSWORD, false, true),
            scenario("sha512", "SCRAM-SHA-512", "alice", PASSWORD, false, true),
            scenario("sha256-plus", "SCRAM-SHA-256-PLUS", "alice", PASSWORD, true, true),
            scenario("sha512-plus", "SCRAM-SHA-512-PLUS", "alice", PASSWORD, true, false),
            scenario("escaped", "SCRAM-SHA-256", ESCAPED_USER, UNICODE_PASSWORD, false, false),
            scenario("wrong-password", "SCRAM-SHA-256", "alice", "wrong", false, false),
            scenario("unknown-user", "SCRAM-SHA-256", "mallory", "wrong", false, false),
            // -PLUS needs a TLS channel: on TCP the broker must refuse it.
            scenario("plus-on-tcp", "SCRAM-SHA-256-PLUS", "alice", PASSWORD, false, false),
        ],
    });
    let results = tokio::task::block_in_place(|| mqttjs::run(&config));
    assert_eq!(results.len(), 8, "{results:#?}");
    for ok in &results[..5] {
        assert_eq!(ok["connack"], 0, "{ok}");
        assert_eq!(
            ok["serverVerified"], true,
            "mqtt.js side must verify v=: {ok}"
        );
        assert_eq!(ok["error"], Value::Null, "{ok}");
    }
    for r in &results[..3] {
        let name = r["name"].as_str().unwrap();
        assert_eq!(
            r["received"],
            format!("hello from mqtt.js {name}"),
            "loopback publish: {r}"
        );
    }
    for failed in &results[5..] {
        assert_eq!(failed["connack"], 0x87, "{failed}");
        assert_eq!(failed["serverVerified"], false, "{failed}");
    }
    let stats = h.finish().await;
    assert_eq!(
        (stats.auth_accepted, stats.auth_rejected),
        (5, 3),
        "{stats:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. rust-mqtt with this crate's client state machine
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_mqtt_connect_publish_receive_reauthenticate() {
    let h = Harness::start(Options::default()).await;
    let session = rust_mqtt::Session {
        client_id: "rust-mqtt-interop",
        topic: "interop/rust-mqtt",
        step: STEP,
    };
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        rust_mqtt::login_publish_reauthenticate(h.tcp(), mechanism, "alice", PASSWORD, session)
            .await;
    }
    let stats = h.finish().await;
    assert_eq!(
        (stats.auth_accepted, stats.reauth_accepted),
        (2, 2),
        "{stats:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 3. scramp (Python) as the SCRAM client, and as the SCRAM server
// ---------------------------------------------------------------------------------------

fn scramp_client(port: u16, mechanism: &str, user: &str, password: &str, extra: &[&str]) -> Value {
    let mut args: Vec<String> = [
        "tests/interop/scramp_mqtt.py",
        "client",
        "--port",
        &port.to_string(),
    ]
    .into_iter()
    .map(String::from)
    .collect();
    args.extend(
        [
            "--mechanism",
            mechanism,
            "--user",
            user,
            "--password",
            password,
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut lines = run_json_lines(&python(), &args, Duration::from_secs(60));
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scramp_client_over_mqtt_both_mechanisms() {
    if !scramp_ready() {
        return;
    }
    let h = Harness::start(Options::default()).await;
    let port = h.tcp().port();
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let ok = scramp_client(port, mechanism, "alice", PASSWORD, &["--reauth"]);
        assert_eq!(ok["connack"], 0, "{ok}");
        assert_eq!(
            ok["server_verified"], true,
            "scramp verifies the broker's v=: {ok}"
        );
        assert_eq!(ok["reauth_packet"], "AUTH", "{ok}");
        assert_eq!(ok["reauth_reason"], 0, "{ok}");
        assert_eq!(ok["reauth_verified"], true, "{ok}");
        assert_eq!(ok["pingresp"], true, "{ok}");

        let wrong = scramp_client(port, mechanism, "alice", "wrong", &[]);
        let unknown = scramp_client(port, mechanism, "mallory", "wrong", &[]);
        for failed in [&wrong, &unknown] {
            assert_eq!(failed["connack"], 0x87, "{failed}");
            assert_eq!(failed["connack_data"], "e=invalid-proof", "{failed}");
        }

        let bad_reauth = scramp_client(
            port,
            mechanism,
            "alice",
            PASSWORD,
            &["--reauth", "--reauth-password", "x"],
        );
        assert_eq!(bad_reauth["connack"], 0, "{bad_reauth}");
        assert_eq!(bad_reauth["reauth_packet"], "DISCONNECT", "{bad_reauth}");
        assert_eq!(bad_reauth["reauth_reason"], 0x87, "{bad_reauth}");
    }
    // Username escaping (=2C, =3D) and SASLprep of the password, scramp's against ours.
    let escaped = scramp_client(
        port,
        "SCRAM-SHA-256",
        ESCAPED_USER,
        UNICODE_PASSWORD,
        &["--reauth"],
    );
    assert_eq!(escaped["connack"], 0, "{escaped}");
    assert_eq!(escaped["server_verified"], true, "{escaped}");
    assert_eq!(escaped["reauth_verified"], true, "{escaped}");
    let stats = h.finish().await;
    assert_eq!(
        (
            stats.auth_accepted,
            stats.auth_rejected,
            stats.reauth_accepted
        ),
        (5, 4, 3),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scramp_server_against_crate_client() {
    if !scramp_ready() {
        return;
    }
    let mut child = tokio::process::Command::new(python())
        .args([
            "tests/interop/scramp_mqtt.py",
            "server",
            "--password",
            PASSWORD,
            "--connections",
            "3",
        ])
        .current_dir(manifest_dir())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_line = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap();
        serde_json::from_str(&line.expect("scramp server ended early")).unwrap()
    };
    let port = next_line().await["port"].as_u64().unwrap() as u16;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let config = ClientConfig::new();
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let mut conn = Conn::open(addr).await;
        scram_login(&mut conn, &config, mechanism, "alice", PASSWORD)
            .await
            .expect("scramp server accepts");
        conn.wire.send_disconnect(0x00).await.unwrap();
        let seen = next_line().await;
        assert_eq!(seen["accepted"], true, "{seen}");
        assert_eq!(seen["mechanism"], mechanism.name(), "{seen}");
    }
    let mut conn = Conn::open(addr).await;
    let rejected = scram_login(&mut conn, &config, Mechanism::ScramSha256, "alice", "wrong").await;
    let (reason, data) = rejected.expect_err("wrong password must fail");
    assert_eq!(reason, 0x87);
    assert_eq!(data.as_deref(), Some("e=invalid-proof"));
    let seen = next_line().await;
    assert_eq!(seen["accepted"], false, "{seen}");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}
