//! Real clients through Mosquitto: mqtt.js, rust-mqtt (with the crate's client state
//! machine) and the crate's `probe`. Each logs in with SCRAM-SHA-256 and SCRAM-SHA-512;
//! mqtt.js and rust-mqtt then publish and receive a message through the broker (probe
//! cannot publish), rust-mqtt and probe re-authenticate.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use mqtt_scram::Mechanism;
use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram_testkit::mqttjs::{self, scenario};
use mqtt_scram_testkit::workspace_bin;
use serde_json::Value;

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

mod rust_mqtt_client {
    use mqtt_scram::client::{Authenticated, AwaitingServerFinal, AwaitingServerFirst};
    use rust_mqtt::auth::{AuthMechanism, AuthOptions};
    use rust_mqtt::client::event::Auth;
    use rust_mqtt::types::{MqttBinary, ReasonCode};

    /// rust-mqtt's `AuthMechanism` over the crate's typed client states.
    #[derive(Default)]
    pub struct CrateScram {
        pub first: Option<AwaitingServerFirst>,
        pub last: Option<AwaitingServerFinal>,
        pub done: Option<Authenticated>,
    }

    fn data<const N: usize>(auth: &Auth<'_, N>) -> Vec<u8> {
        auth.authentication_data
            .as_ref()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    impl<const N: usize> AuthMechanism<N> for CrateScram {
        type Error = String;

        fn kontinue(
            &mut self,
            auth: &Auth<'_, N>,
        ) -> Result<AuthOptions<'_, N>, (String, Option<ReasonCode>)> {
            let protocol = |e: String| (e, Some(ReasonCode::ProtocolError));
            let first = self
                .first
                .take()
                .ok_or_else(|| protocol("AUTH out of order".into()))?;
            let (last, client_final) = first
                .on_server_first(&data(auth))
                .map_err(|e| protocol(e.to_string()))?;
            self.last = Some(last);
            let data =
                MqttBinary::try_from(client_final).map_err(|_| ("too long".to_string(), None))?;
            Ok(AuthOptions {
                authentication_data: Some(data),
                ..Default::default()
            })
        }

        fn success(&mut self, auth: &Auth<'_, N>) -> Result<(), (String, Option<ReasonCode>)> {
            let protocol = |e: String| (e, Some(ReasonCode::ProtocolError));
            let last = self
                .last
                .take()
                .ok_or_else(|| protocol("success out of order".into()))?;
            self.done = Some(
                last.on_server_final(&data(auth))
                    .map_err(|e| protocol(e.to_string()))?,
            );
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_mqtt_logs_in_publishes_receives_and_reauthenticates() {
    use embedded_io_adapters::tokio_1::FromTokio;
    use rust_mqtt::Bytes;
    use rust_mqtt::buffer::AllocBuffer;
    use rust_mqtt::client::Client;
    use rust_mqtt::client::event::Event;
    use rust_mqtt::client::options::{
        ConnectOptions, DisconnectOptions, PublicationOptions, ReAuthOptions, SubscriptionOptions,
        TopicReference,
    };
    use rust_mqtt::types::{MqttBinary, MqttString, ReasonCode, TopicFilter, TopicName};
    const STEP: Duration = Duration::from_secs(10);

    let Some(f) = Fixture::start(|c, _| c) else {
        return;
    };
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let mut buffer = AllocBuffer;
        let mut client = Client::<'_, '_, _, _, 1, 1, 1, 1, 16, 0, 0>::new(&mut buffer);
        let stream = tokio::net::TcpStream::connect(f.broker.addr())
            .await
            .unwrap();
        let (first, client_first) = client::start(
            &ClientConfig::new(),
            mechanism,
            "alice",
            PASSWORD,
            &mut rand::rng(),
        )
        .unwrap();
        let mut scram = rust_mqtt_client::CrateScram {
            first: Some(first),
            ..Default::default()
        };
        let options = ConnectOptions::new()
            .clean_start()
            .authentication_data(MqttBinary::try_from(client_first).unwrap());
        let method = MqttString::from_str(mechanism.name()).unwrap();
        let client_id = MqttString::from_str("rust-mqtt-mosquitto").unwrap();
        let connected = tokio::time::timeout(
            STEP,
            client.connect_enhanced(
                FromTokio::new(stream),
                &options,
                Some(client_id),
                method,
                &mut scram,
            ),
        )
        .await
        .unwrap();
        assert!(connected.is_ok(), "connect_enhanced: {connected:?}");
        let authenticated = scram.done.take().expect("the broker's v= verified");

        let topic = MqttString::from_str("mosquitto/rust-mqtt").unwrap();
        client
            .subscribe(
                TopicFilter::new(topic.as_borrowed()).unwrap(),
                &SubscriptionOptions::new(),
            )
            .await
            .unwrap();
        match tokio::time::timeout(STEP, client.poll())
            .await
            .unwrap()
            .unwrap()
        {
            Event::Suback(_) => {}
            other => panic!("expected SUBACK, got {other:?}"),
        }
        let publication = PublicationOptions::new(TopicReference::Name(
            TopicName::new(topic.as_borrowed()).unwrap(),
        ));
        client
            .publish(
                &publication,
                Bytes::from(b"hello from rust-mqtt".as_slice()),
            )
            .await
            .unwrap();
        match tokio::time::timeout(STEP, client.poll())
            .await
            .unwrap()
            .unwrap()
        {
            Event::Publish(p) => assert_eq!(p.message.as_bytes(), b"hello from rust-mqtt"),
            other => panic!("expected PUBLISH, got {other:?}"),
        }

        // AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00 (v=)
        let (first, client_first) = authenticated.reauthenticate(&mut rand::rng());
        let reauth =
            ReAuthOptions::new().authentication_data(MqttBinary::try_from(client_first).unwrap());
        client.reauthenticate(&reauth).await.unwrap();
        let server_first = match tokio::time::timeout(STEP, client.poll())
            .await
            .unwrap()
            .unwrap()
        {
            Event::Auth(auth) if auth.reason_code == ReasonCode::ContinueAuthentication => {
                auth.authentication_data.unwrap().as_bytes().to_vec()
            }
            other => panic!("expected AUTH 0x18, got {other:?}"),
        };
        let (last, client_final) = first.on_server_first(&server_first).unwrap();
        let reauth =
            ReAuthOptions::new().authentication_data(MqttBinary::try_from(client_final).unwrap());
        client.reauthenticate(&reauth).await.unwrap();
        let server_final = match tokio::time::timeout(STEP, client.poll())
            .await
            .unwrap()
            .unwrap()
        {
            Event::Auth(auth) if auth.reason_code == ReasonCode::Success => {
                auth.authentication_data.unwrap().as_bytes().to_vec()
            }
            other => panic!("expected AUTH 0x00, got {other:?}"),
        };
        last.on_server_final(&server_final)
            .expect("re-authentication v= verifies");
        client
            .publish(&publication, Bytes::from(b"after re-auth".as_slice()))
            .await
            .unwrap();
        match tokio::time::timeout(STEP, client.poll())
            .await
            .unwrap()
            .unwrap()
        {
            Event::Publish(p) => assert_eq!(p.message.as_bytes(), b"after re-auth"),
            other => panic!("expected PUBLISH, got {other:?}"),
        }
        client.disconnect(&DisconnectOptions::new()).await.unwrap();
    }
}

/// Runs `mqtt-scram probe --json` with the password on stdin; returns (exit code, report).
pub fn probe(target: &str, password: &str, extra: &[&str]) -> (i32, Value) {
    let mut child = Command::new(workspace_bin("mqtt-scram-cli", "mqtt-scram"))
        .args([
            "probe",
            target,
            "--password-stdin",
            "--json",
            "--timeout",
            "20",
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "probe printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// A probe report without what differs between two runs (timings, names).
fn comparable(mut report: Value) -> Value {
    let object = report.as_object_mut().unwrap();
    for key in ["timings_ms", "username", "target"] {
        object.remove(key);
    }
    for step in report["steps"].as_array_mut().unwrap() {
        step.as_object_mut()
            .unwrap()
            .retain(|k, _| !k.ends_with("_ms") && k != "peer" && k != "client_id");
    }
    report
}

#[test]
fn probe_logs_in_with_sha256_and_sha512_and_reauthenticates() {
    let Some(f) = Fixture::start(|c, _| c) else {
        return;
    };
    let target = f.broker.addr().to_string();
    for hash in ["sha256", "sha512"] {
        let (code, report) = probe(&target, PASSWORD, &["-u", "alice", "-m", hash, "--reauth"]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["connack"]["reason_code"], 0);
        assert_eq!(report["server_signature_verified"], true);
        assert_eq!(report["reauthenticated"], true, "{report}");
        assert_eq!(report["reauth_server_signature_verified"], true);
    }
    // Wrong password and unknown user (same name length): the same report, step by step.
    let (wrong_code, wrong) = probe(&target, "not-the-password", &["-u", "alice"]);
    let (unknown_code, unknown) = probe(&target, PASSWORD, &["-u", "bobby"]);
    assert_eq!((wrong_code, unknown_code), (1, 1), "{wrong}\n{unknown}");
    assert_eq!(wrong["connack"]["reason_code"], 0x87);
    assert_eq!(comparable(wrong), comparable(unknown));
}
