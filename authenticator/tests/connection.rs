//! The authenticator end to end against the engine's client: success, re-authentication,
//! expiry, failures that look alike to the client but not to the operator, deadlines,
//! admission refusals, packets out of sequence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::{
    CredentialProvider, IgnoreKind, Lookup, LookupRequest, MemoryProvider, UserRecord,
};
use mqtt_scram::{
    ConnectionInfo, ErrorKind, HashAlgorithm, ManualClock, Mechanism, PacketType, ServerConfig,
    StoredCredentials,
};
use mqtt_scram_authenticator::admission::{AdmissionPolicy, Refusal};
use mqtt_scram_authenticator::{Authenticator, Failure, Status, Step};

const PASSWORD: &str = "pencil";
const T0: u64 = 1_700_000_000;

fn record() -> UserRecord {
    UserRecord::new(
        StoredCredentials::derive(HashAlgorithm::Sha256, PASSWORD, b"NaCl-NaCl-NaCl!!", 4096)
            .unwrap(),
    )
}

fn info(peer: &str) -> Arc<ConnectionInfo> {
    Arc::new(ConnectionInfo::new("c").with_peer(peer.parse().unwrap()))
}

/// A full CONNECT exchange; returns the last step.
async fn login(
    auth: &mut mqtt_scram_authenticator::ConnectionAuth,
    user: &str,
    password: &str,
) -> Step {
    let (state, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        user,
        password,
        &mut rand::rng(),
    )
    .unwrap();
    let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
    assert_eq!(
        (step.packet, step.reason_code),
        (PacketType::Auth, 0x18),
        "{step:?}"
    );
    let (_state, last) = state
        .on_server_first(step.data.as_deref().unwrap())
        .unwrap();
    auth.on_auth(0x18, Some("SCRAM-SHA-256"), Some(&last)).await
}

#[tokio::test]
async fn login_reauth_and_expiry() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(MemoryProvider::new());
    store.insert("alice", record().expire_at(Some(T0 + 60)));
    let authenticator = Authenticator::builder(ServerConfig::new([1; 32]), Arc::clone(&store))
        .clock(Arc::clone(&clock))
        .build()
        .unwrap();
    let mut auth = authenticator.connection(info("127.0.0.1:5000"));
    let step = login(&mut auth, "alice", PASSWORD).await;
    assert_eq!((step.packet, step.reason_code), (PacketType::Connack, 0x00));
    assert_eq!(step.identity().unwrap().username, "alice");
    assert_eq!(
        auth.deadline(),
        Some(clock.now_monotonic() + Duration::from_secs(60))
    );

    // Re-authentication picks up renewed credentials.
    store.insert("alice", record().expire_at(Some(T0 + 3600)));
    let authenticated = {
        let (state, first) = client::start(
            &ClientConfig::new(),
            Mechanism::ScramSha256,
            "alice",
            PASSWORD,
            &mut rand::rng(),
        )
        .unwrap();
        let step = auth
            .on_auth(0x19, Some("SCRAM-SHA-256"), Some(&first))
            .await;
        assert_eq!((step.packet, step.reason_code), (PacketType::Auth, 0x18));
        assert!(auth.in_progress());
        let (state, last) = state
            .on_server_first(step.data.as_deref().unwrap())
            .unwrap();
        let step = auth.on_auth(0x18, Some("SCRAM-SHA-256"), Some(&last)).await;
        assert_eq!((step.packet, step.reason_code), (PacketType::Auth, 0x00));
        assert!(matches!(step.status, Status::Reauthenticated(_)));
        state
            .on_server_final(step.data.as_deref().unwrap())
            .unwrap()
    };
    drop(authenticated);
    clock.advance(Duration::from_secs(120));
    assert!(
        auth.on_timeout().is_none(),
        "renewed: not expired at +120 s"
    );
    clock.advance(Duration::from_secs(3600));
    let step = auth.on_timeout().expect("expired");
    assert_eq!(
        (step.packet, step.reason_code),
        (PacketType::Disconnect, 0xA0)
    );
    assert!(matches!(
        step.status,
        Status::Failed(Failure::CredentialsExpired)
    ));
    assert_eq!(authenticator.admission().stats().handshakes, 0);
}

trait Monotonic {
    fn now_monotonic(&self) -> Duration;
}
impl Monotonic for ManualClock {
    fn now_monotonic(&self) -> Duration {
        mqtt_scram::Clock::now(self).monotonic()
    }
}

/// Never answers.
struct Stuck;
impl CredentialProvider for Stuck {
    async fn lookup(&self, _request: &LookupRequest<'_>) -> Lookup {
        std::future::pending().await
    }
}

#[tokio::test]
async fn failures_look_alike_to_the_client_but_not_to_the_operator() {
    let store = MemoryProvider::new();
    store.insert("alice", record());
    let authenticator = Authenticator::builder(ServerConfig::new([1; 32]), store)
        .build()
        .unwrap();
    let wrong = login(
        &mut authenticator.connection(info("127.0.0.1:1")),
        "alice",
        "nope",
    )
    .await;
    let unknown = login(
        &mut authenticator.connection(info("127.0.0.1:2")),
        "bobby",
        "nope",
    )
    .await;
    let slow = Authenticator::builder(ServerConfig::new([1; 32]), Stuck)
        .lookup_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let stuck = login(&mut slow.connection(info("127.0.0.1:3")), "alice", PASSWORD).await;
    for step in [&wrong, &unknown, &stuck] {
        assert_eq!((step.packet, step.reason_code), (PacketType::Connack, 0x87));
        assert_eq!(step.data.as_deref(), Some(&b"e=invalid-proof"[..]));
        assert!(step.closes());
    }
    let failure = |step: &Step| match &step.status {
        Status::Failed(failure) => failure.clone(),
        other => panic!("{other:?}"),
    };
    assert!(matches!(failure(&wrong), Failure::Rejected(e) if e.kind() == ErrorKind::InvalidProof));
    assert!(
        matches!(failure(&unknown), Failure::Rejected(e) if e.kind() == ErrorKind::UnknownUser)
    );
    let stuck = failure(&stuck);
    assert_eq!(stuck.ignore_reason().unwrap().kind(), IgnoreKind::Timeout);
    assert_eq!(stuck.label(), "credentials_unavailable");
}

#[tokio::test]
async fn a_client_that_does_not_answer_is_dropped_at_the_first_step_deadline() {
    let clock = Arc::new(ManualClock::new(T0));
    let store = MemoryProvider::new();
    store.insert("alice", record());
    let mut policy = AdmissionPolicy::default();
    policy.first_step_timeout = Duration::from_secs(5);
    let authenticator = Authenticator::builder(ServerConfig::new([1; 32]), store)
        .clock(Arc::clone(&clock))
        .admission(policy)
        .build()
        .unwrap();
    let mut auth = authenticator.connection(info("127.0.0.1:1"));
    let (_state, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
    assert_eq!(step.reason_code, 0x18);
    // The first-step deadline (5 s) comes before the exchange's (30 s).
    assert_eq!(
        auth.deadline(),
        Some(clock.now_monotonic() + Duration::from_secs(5))
    );
    clock.advance(Duration::from_secs(4));
    assert!(auth.on_timeout().is_none());
    assert_eq!(authenticator.admission().stats().handshakes, 1);
    clock.advance(Duration::from_secs(1));
    let step = auth.on_timeout().unwrap();
    assert_eq!((step.packet, step.reason_code), (PacketType::Connack, 0x87));
    assert_eq!(step.method, Some(Mechanism::ScramSha256), "[MQTT-4.12.0-5]");
    assert!(matches!(
        step.status,
        Status::Failed(Failure::Rejected(ref e)) if e.kind() == ErrorKind::HandshakeTimeout
    ));
    assert_eq!(
        authenticator.admission().stats().handshakes,
        0,
        "place freed"
    );
    // Nothing more arrives on this connection.
    let step = auth
        .on_auth(0x18, Some("SCRAM-SHA-256"), Some(b"c=biws"))
        .await;
    assert_eq!(
        (step.packet, step.reason_code),
        (PacketType::Disconnect, 0x82)
    );
}

#[tokio::test]
async fn per_address_cap_answers_0x89_and_other_addresses_still_log_in() {
    let store = MemoryProvider::new();
    store.insert("alice", record());
    let mut policy = AdmissionPolicy::default();
    policy.max_handshakes_per_address = 2;
    let authenticator = Authenticator::builder(ServerConfig::new([1; 32]), store)
        .admission(policy)
        .build()
        .unwrap();
    let mut stalled = Vec::new();
    for port in 0..2 {
        let mut auth = authenticator.connection(info(&format!("127.0.0.1:{}", 1000 + port)));
        let (_s, first) = client::start(
            &ClientConfig::new(),
            Mechanism::ScramSha256,
            "alice",
            PASSWORD,
            &mut rand::rng(),
        )
        .unwrap();
        assert_eq!(
            auth.on_connect("SCRAM-SHA-256", Some(&first))
                .await
                .reason_code,
            0x18
        );
        stalled.push(auth);
    }
    let mut third = authenticator.connection(info("127.0.0.1:2000"));
    let step = third
        .on_connect(
            "SCRAM-SHA-256",
            Some(b"n,,n=alice,r=abcdefghijklmnopqrstuvwx"),
        )
        .await;
    assert_eq!((step.packet, step.reason_code), (PacketType::Connack, 0x89));
    assert!(matches!(
        step.status,
        Status::Failed(Failure::Busy(Refusal::PerAddress))
    ));
    let mut other = authenticator.connection(info("127.0.0.2:1000"));
    assert_eq!(login(&mut other, "alice", PASSWORD).await.reason_code, 0x00);
    // Dropping the stalled connections frees their places.
    drop(stalled);
    assert_eq!(authenticator.admission().stats().handshakes, 0);
}

#[tokio::test]
async fn engine_decides_bad_methods_and_reason_codes() {
    let store = MemoryProvider::new();
    store.insert("alice", record());
    let authenticator = Authenticator::builder(ServerConfig::new([1; 32]), store)
        .build()
        .unwrap();
    let mut auth = authenticator.connection(info("127.0.0.1:1"));
    let step = auth
        .on_connect("SCRAM-SHA-1", Some(b"n,,n=alice,r=abc"))
        .await;
    assert_eq!(
        (step.packet, step.reason_code, step.method),
        (PacketType::Connack, 0x8C, None)
    );
    // AUTH before CONNECT, and on an authenticated connection with the wrong reason code.
    let mut auth = authenticator.connection(info("127.0.0.1:1"));
    assert_eq!(auth.on_auth(0x18, None, None).await.reason_code, 0x82);
    let mut auth = authenticator.connection(info("127.0.0.1:1"));
    assert_eq!(login(&mut auth, "alice", PASSWORD).await.reason_code, 0x00);
    let step = auth
        .on_auth(0x18, Some("SCRAM-SHA-256"), Some(b"n,,n=alice,r=abc"))
        .await;
    assert_eq!(
        (step.packet, step.reason_code),
        (PacketType::Disconnect, 0x82)
    );
}

/// The wait for a work slot is time-boxed (the timer is armed only when the slot is not free
/// at once): a step still waiting at `max_work_wait` is refused with 0x89, one whose slot
/// frees up in time goes on. (Paused tokio time: the timers fire in order, whatever the load.)
#[tokio::test(start_paused = true)]
async fn work_slot_waits_are_time_boxed() {
    let store = MemoryProvider::new();
    store.insert("alice", record());
    let mut policy = AdmissionPolicy::default();
    policy.max_concurrent_work = 1;
    policy.max_work_wait = Duration::from_millis(50);
    let authenticator = Authenticator::builder(ServerConfig::new([1; 32]), store)
        .admission(policy)
        .build()
        .unwrap();
    let (_state, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();

    let busy = authenticator.admission().try_work().unwrap();
    let mut auth = authenticator.connection(info("127.0.0.1:1"));
    let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
    assert_eq!((step.packet, step.reason_code), (PacketType::Connack, 0x89));
    assert_eq!(
        step.status,
        Status::Failed(Failure::Busy(Refusal::WorkTimeout))
    );

    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(busy);
    });
    let mut auth = authenticator.connection(info("127.0.0.1:2"));
    let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
    assert_eq!((step.packet, step.reason_code), (PacketType::Auth, 0x18));
    release.await.unwrap();
    assert_eq!(authenticator.admission().stats().work_in_progress, 0);
}

/// Issue 21 §3: a CONNECT without an Authentication Method gets the configured answer: 0x87
/// by default, 0x8C, or the broker's password path (which still carries a refusing CONNACK);
/// no AUTH is taken afterwards.
#[tokio::test]
async fn connect_without_method_is_answered_as_configured() {
    use mqtt_scram_authenticator::WithoutMethod;
    for (answer, code, password_path) in [
        (None, 0x87, false),
        (Some(WithoutMethod::NotAuthorized), 0x87, false),
        (Some(WithoutMethod::BadAuthenticationMethod), 0x8C, false),
        (Some(WithoutMethod::PasswordPath), 0x87, true),
    ] {
        let mut builder = Authenticator::builder(ServerConfig::new([1; 32]), MemoryProvider::new());
        if let Some(answer) = answer {
            builder = builder.without_method(answer);
        }
        let authenticator = builder.build().unwrap();
        let mut auth = authenticator.connection(info("192.0.2.1:1883"));
        let step = auth.on_connect_without_method();
        assert_eq!(
            (step.packet, step.reason_code),
            (PacketType::Connack, code),
            "{answer:?}"
        );
        if password_path {
            assert_eq!(step.status, Status::PasswordPath);
            assert!(!step.closes(), "the broker's password check decides");
        } else {
            assert_eq!(step.status, Status::Failed(Failure::NoMethod));
            assert!(step.closes());
        }
        assert!(step.identity().is_none());
        let after = auth
            .on_auth(0x19, Some("SCRAM-SHA-256"), Some(b"n,,n=a,r=x"))
            .await;
        assert_eq!(after.status, Status::Failed(Failure::OutOfSequence));
    }
}
