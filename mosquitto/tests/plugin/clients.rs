//! Real clients through Mosquitto: mqtt.js, rust-mqtt (with the crate's client state
//! machine) and the crate's `probe`. Each logs in with SCRAM-SHA-256 and SCRAM-SHA-512;
//! mqtt.js and rust-mqtt then publish and receive a message through the broker (probe
//! cannot publish), rust-mqtt and probe re-authenticate.

use std::time::Duration;

use mqtt_scram::Mechanism;
use mqtt_scram_testkit::mqttjs::{self, scenario};
use mqtt_scram_testkit::probe::{self, comparable};
use mqtt_scram_testkit::rust_mqtt;

use crate::harness::{Fixture, PASSWORD};

#[test]
fn mqttjs_logs_in_publishes_and_receives_and_is_refused_with_0x87() {
    if !mqttjs::ready() {
        return;
    }
    let Some(f) = Fixture::start(|c, _| c) else {
        return;
    };
    let config = serde_json::json!({
        "port": f.broker.port,
        "scenarios": [
            scenario("sha256", "SCRAM-SHA-256", "alice", PASSWORD, false, true),
            scenario("sha512", "SCRAM-SHA-512", "alice", PASSWORD, false, true),
            scenario("wrong-password", "SCRAM-SHA-256", "alice", "wrong", false, false),
            scenario("unknown-user", "SCRAM-SHA-256", "mallory", "wrong", false, false),
        ],
    });
    let results = mqttjs::run(&config);
    assert_eq!(results.len(), 4, "{results:#?}");
    for ok in &results[..2] {
        assert_eq!(ok["connack"], 0, "{ok}");
        assert_eq!(
            ok["serverVerified"], true,
            "mqtt.js verifies the broker's v=: {ok}"
        );
        let name = ok["name"].as_str().unwrap();
        assert_eq!(ok["received"], format!("hello from mqtt.js {name}"), "{ok}");
    }
    for failed in &results[2..] {
        assert_eq!(failed["connack"], 0x87, "{failed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_mqtt_logs_in_publishes_receives_and_reauthenticates() {
    let Some(f) = Fixture::start(|c, _| c) else {
        return;
    };
    let session = rust_mqtt::Session {
        client_id: "rust-mqtt-mosquitto",
        topic: "mosquitto/rust-mqtt",
        step: Duration::from_secs(10),
    };
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        rust_mqtt::login_publish_reauthenticate(
            f.broker.addr(),
            mechanism,
            "alice",
            PASSWORD,
            session,
        )
        .await;
    }
}

#[test]
fn probe_logs_in_with_sha256_and_sha512_and_reauthenticates() {
    let Some(f) = Fixture::start(|c, _| c) else {
        return;
    };
    let target = f.broker.addr().to_string();
    for hash in ["sha256", "sha512"] {
        let (code, report) =
            probe::run(&target, PASSWORD, &["-u", "alice", "-m", hash, "--reauth"]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["connack"]["reason_code"], 0);
        assert_eq!(report["server_signature_verified"], true);
        assert_eq!(report["reauthenticated"], true, "{report}");
        assert_eq!(report["reauth_server_signature_verified"], true);
    }
    // Wrong password and unknown user (same name length): the same report, step by step.
    let (wrong_code, wrong) = probe::run(&target, "not-the-password", &["-u", "alice"]);
    let (unknown_code, unknown) = probe::run(&target, PASSWORD, &["-u", "bobby"]);
    assert_eq!((wrong_code, unknown_code), (1, 1), "{wrong}\n{unknown}");
    assert_eq!(wrong["connack"]["reason_code"], 0x87);
    assert_eq!(comparable(wrong), comparable(unknown));
}
