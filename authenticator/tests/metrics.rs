//! The series the authenticator records through the `metrics` facade: names and labels of
//! a success, a failure, a mock challenge and a refusal, seen by a recorder installed for
//! this thread only (so the keys built once per authenticator still reach a recorder that
//! was installed after the authenticator was built).
#![cfg(feature = "metrics")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::{MemoryProvider, UserRecord};
use mqtt_scram::{
    ConnectionInfo, HashAlgorithm, Mechanism, PacketType, ServerConfig, StoredCredentials,
};
use mqtt_scram_authenticator::admission::AdmissionPolicy;
use mqtt_scram_authenticator::{Authenticator, ConnectionAuth, Step};

/// Notes `type name{label=value,...}` for every handle asked for.
#[derive(Default)]
struct Capture(Mutex<Vec<String>>);

impl Capture {
    fn note(&self, what: &str, key: &Key) {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let line = format!("{what} {}{{{}}}", key.name(), labels.join(","));
        self.0.lock().unwrap().push(line);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.note("counter", key);
        Counter::noop()
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.note("gauge", key);
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.note("histogram", key);
        Histogram::noop()
    }
}

async fn login(auth: &mut ConnectionAuth, user: &str, password: &str) -> Step {
    let (state, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        user,
        password,
        &mut rand::rng(),
    )
    .unwrap();
    let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
    assert_eq!((step.packet, step.reason_code), (PacketType::Auth, 0x18));
    let (_state, last) = state
        .on_server_first(step.data.as_deref().unwrap())
        .unwrap();
    auth.on_auth(0x18, Some("SCRAM-SHA-256"), Some(&last)).await
}

#[test]
fn series_names_and_labels() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = MemoryProvider::new();
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)
            .unwrap();
    store.insert("alice", UserRecord::new(creds));
    let mut policy = AdmissionPolicy::default();
    policy.max_handshakes_per_address = 1;
    // Built before any recorder exists.
    let authenticator = runtime.block_on(async {
        Authenticator::builder(ServerConfig::new([7; 32]), store)
            .name("listener-1")
            .admission(policy)
            .build()
            .unwrap()
    });
    let capture = Capture::default();
    let _installed = metrics::set_default_local_recorder(&capture);
    let info = || Arc::new(ConnectionInfo::new("c").with_peer("192.0.2.1:1883".parse().unwrap()));

    let step = runtime.block_on(async {
        let mut auth = authenticator.connection(info());
        login(&mut auth, "alice", "pencil").await
    });
    assert_eq!(step.reason_code, 0x00);
    assert_eq!(
        capture.take(),
        [
            "counter mqtt_scram_handshakes_started_total{authenticator=listener-1,kind=connect}",
            "gauge mqtt_scram_handshakes_in_progress{authenticator=listener-1}",
            "histogram mqtt_scram_lookup_duration_seconds{authenticator=listener-1}",
            "counter mqtt_scram_handshakes_succeeded_total{authenticator=listener-1,kind=connect,mechanism=SCRAM-SHA-256}",
            "histogram mqtt_scram_handshake_duration_seconds{authenticator=listener-1,kind=connect,outcome=success}",
            "gauge mqtt_scram_handshakes_in_progress{authenticator=listener-1}",
        ]
    );

    // An unknown user: a mock challenge, then invalid proof.
    let step = runtime.block_on(async {
        let mut auth = authenticator.connection(info());
        login(&mut auth, "mallory", "guess").await
    });
    assert_eq!(step.reason_code, 0x87);
    assert_eq!(
        capture.take(),
        [
            "counter mqtt_scram_handshakes_started_total{authenticator=listener-1,kind=connect}",
            "gauge mqtt_scram_handshakes_in_progress{authenticator=listener-1}",
            "histogram mqtt_scram_lookup_duration_seconds{authenticator=listener-1}",
            "counter mqtt_scram_mock_challenges_total{authenticator=listener-1,kind=connect}",
            "counter mqtt_scram_handshakes_failed_total{authenticator=listener-1,kind=connect,reason=unknown_user}",
            "histogram mqtt_scram_handshake_duration_seconds{authenticator=listener-1,kind=connect,outcome=failure}",
            "gauge mqtt_scram_handshakes_in_progress{authenticator=listener-1}",
        ]
    );

    // A second handshake from an address at its cap of one: refused before it starts.
    let step = runtime.block_on(async {
        let mut first = authenticator.connection(info());
        let (_state, data) = client::start(
            &ClientConfig::new(),
            Mechanism::ScramSha256,
            "alice",
            "pencil",
            &mut rand::rng(),
        )
        .unwrap();
        first.on_connect("SCRAM-SHA-256", Some(&data)).await;
        capture.take();
        let mut second = authenticator.connection(info());
        second.on_connect("SCRAM-SHA-256", Some(&data)).await
    });
    assert_eq!(step.reason_code, 0x89);
    let refused = capture.take();
    assert_eq!(
        refused[..3],
        [
            "counter mqtt_scram_admission_refused_total{authenticator=listener-1,reason=per_address}",
            "counter mqtt_scram_handshakes_started_total{authenticator=listener-1,kind=connect}",
            "counter mqtt_scram_handshakes_failed_total{authenticator=listener-1,kind=connect,reason=per_address}",
        ]
    );
}
