// The login tests shared by the example fronts' test files, `include!`d after each file
// declares `mod front` (the example, through `#[path]`) and the constants `CLIENT_ID` and
// `TOPIC`: real MQTT 5 clients (mqtt.js, rust-mqtt) log in to `front::serve` on a free
// loopback port with SHA-256 and SHA-512; wrong passwords, unknown users and -PLUS on TCP
// are refused; rust-mqtt re-authenticates.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::provider::{MemoryProvider, UserRecord};
use mqtt_scram::{HashAlgorithm, Mechanism, ServerConfig, StoredCredentials};
use mqtt_scram_authenticator::Authenticator;
use mqtt_scram_testkit::mqttjs::{self, scenario};
use mqtt_scram_testkit::rust_mqtt;
use serde_json::Value;
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse";
/// A bound on each step of a client, so a broken front fails the test instead of hanging it.
const STEP: Duration = Duration::from_secs(30);

async fn start() -> SocketAddr {
    let users = MemoryProvider::new();
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let credentials = StoredCredentials::derive(hash, PASSWORD, b"front-salt-16byt", 4096)
            .expect("credentials");
        users.insert("alice", UserRecord::new(credentials));
    }
    let authenticator = Authenticator::builder(ServerConfig::new([0x42; 32]), users)
        .build()
        .expect("authenticator");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(front::serve(listener, Arc::new(authenticator)));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_mqtt_logs_in_publishes_and_reauthenticates_sha256_and_sha512() {
    let addr = start().await;
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let session = rust_mqtt::Session {
            client_id: CLIENT_ID,
            topic: TOPIC,
            step: STEP,
        };
        rust_mqtt::login_publish_reauthenticate(addr, mechanism, "alice", PASSWORD, session).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqttjs_logs_in_sha256_and_sha512_and_wrong_passwords_are_refused() {
    if !mqttjs::ready() {
        return;
    }
    let addr = start().await;
    let config = serde_json::json!({
        "port": addr.port(),
        "scenarios": [
            scenario("sha256", "SCRAM-SHA-256", "alice", PASSWORD, false, true),
            scenario("sha512", "SCRAM-SHA-512", "alice", PASSWORD, false, true),
            scenario("wrong-password", "SCRAM-SHA-256", "alice", "wrong", false, false),
            scenario("unknown-user", "SCRAM-SHA-512", "mallory", "wrong", false, false),
            // -PLUS needs a TLS channel: on TCP the front must refuse it.
            scenario("plus-on-tcp", "SCRAM-SHA-256-PLUS", "alice", PASSWORD, false, false),
        ],
    });
    let results = tokio::task::block_in_place(|| mqttjs::run(&config));
    assert_eq!(results.len(), 5, "{results:#?}");
    for ok in &results[..2] {
        assert_eq!(ok["connack"], 0, "{ok}");
        assert_eq!(ok["serverVerified"], true, "mqtt.js verifies v=: {ok}");
        assert_eq!(ok["error"], Value::Null, "{ok}");
        let name = ok["name"].as_str().unwrap_or_default();
        assert_eq!(ok["received"], format!("hello from mqtt.js {name}"), "{ok}");
    }
    for failed in &results[2..] {
        assert_eq!(failed["connack"], 0x87, "{failed}");
        assert_eq!(failed["serverVerified"], false, "{failed}");
    }
}
