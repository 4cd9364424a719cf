//! The example broker (`examples/broker/`, run in-process so the handshake table can be
//! read) against real MQTT 5 clients and an independent SCRAM implementation:
//!
//! - mqtt.js 5.x (`tests/interop/mqttjs_client.js`, SCRAM on Node's crypto) — TCP and TLS,
//!   SHA-256/512 and -PLUS with `tls-exporter`, publish/subscribe, wrong password, unknown user;
//! - rust-mqtt 0.6 (`connect_enhanced` / `reauthenticate`) driving this crate's client;
//! - scramp (Python) as the SCRAM client over MQTT 5 (`tests/interop/scramp_mqtt.py client`),
//!   and as the SCRAM server in front of this crate's client (`... server`);
//! - `mqtt-scram probe`, when the binary is built (feature `cli`);
//! - the front's own rules: deadlines, limits, bad packets, `--allow-plain`, `expire_at`;
//! - a load run of 1,000 concurrent clients.
//!
//! Node and Python packages come from `scripts/install-interop-deps.sh`. Without them these
//! tests fail and say so, unless `MQTT_SCRAM_SKIP_INTEROP=1` (then they print SKIPPED).
//! Everything listens on 127.0.0.1 port 0 and every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "../examples/broker/mod.rs"]
#[allow(dead_code)]
mod broker;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use broker::Broker;
use broker::listener::{Limits, Settings, Stats};
use broker::provider::Provider;
use broker::wire::{AuthPacket, Frame, Wire};
use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::UserRecord;
use mqtt_scram::record::CredentialRecord;
use mqtt_scram::{HashAlgorithm, Mechanism, ServerConfig, StoredCredentials};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, Connect, ConnectProperties, ConnectReturnCode, Login, Packet, Publish,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const PASSWORD: &str = "correct horse battery staple";
const ESCAPED_USER: &str = "ann,=x";
const UNICODE_PASSWORD: &str = "p\u{e4}ssw\u{f6}rd \u{2163}";
const STEP: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------
// Harness: credentials file, broker, external tools
// ---------------------------------------------------------------------------------------

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "mqtt-scram-interop-{}-{name}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn record(hash: HashAlgorithm, password: &str, iterations: u32) -> UserRecord {
    let salt: [u8; 16] = rand::random();
    UserRecord::new(StoredCredentials::derive(hash, password, &salt, iterations).unwrap())
}

/// Users every broker knows: `alice` (SHA-256 and SHA-512) and `loader` (SHA-256, 64
/// iterations, for the load test: the broker does no PBKDF2, so a low count keeps the test
/// measuring the broker rather than the test's clients).
fn default_users() -> Vec<(String, UserRecord)> {
    vec![
        (
            "alice".into(),
            record(HashAlgorithm::Sha256, PASSWORD, 4096),
        ),
        (
            "alice".into(),
            record(HashAlgorithm::Sha512, PASSWORD, 4096),
        ),
        ("loader".into(), record(HashAlgorithm::Sha256, PASSWORD, 64)),
        // RFC 5802 §5.1 escaping (=2C, =3D) and SASLprep of a non-ASCII password.
        (
            ESCAPED_USER.into(),
            record(HashAlgorithm::Sha256, UNICODE_PASSWORD, 4096),
        ),
    ]
}

struct Options {
    handshake_timeout: Duration,
    allow_plain: bool,
    limits: Limits,
    extra_users: Vec<(String, UserRecord)>,
    /// Replaces the record file as the credential source.
    provider: Option<Provider>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            allow_plain: false,
            limits: Limits::default(),
            extra_users: Vec::new(),
            provider: None,
        }
    }
}

struct Harness {
    broker: Broker,
    dir: PathBuf,
    cert_file: PathBuf,
}

impl Harness {
    /// Writes the users as a JSON-lines record file (the crate's format), loads it the
    /// way the broker's `--credentials` does, and starts TCP and TLS listeners on port 0.
    async fn start(options: Options) -> Self {
        let dir = scratch_dir("broker");
        let mut lines = String::new();
        for (name, rec) in default_users().into_iter().chain(options.extra_users) {
            lines.push_str(&serde_json::to_string(&CredentialRecord::new(&name, &rec)).unwrap());
            lines.push('\n');
        }
        let users = dir.join("users.json");
        std::fs::write(&users, lines).unwrap();
        let provider = match options.provider {
            Some(provider) => provider,
            None => Provider::from_record_file(&users).unwrap(),
        };
        let tls = broker::tls::self_signed().unwrap();
        let cert_file = dir.join("broker-cert.pem");
        std::fs::write(&cert_file, tls.generated_cert_pem.as_ref().unwrap()).unwrap();
        let scram = ServerConfig::new([7u8; 32]).handshake_timeout(options.handshake_timeout);
        let settings = Settings {
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            tls: Some((SocketAddr::from(([127, 0, 0, 1], 0)), tls.config)),
            provider,
            scram,
            limits: options.limits,
            allow_plain: options.allow_plain,
        };
        let broker = Broker::start(settings).await.unwrap();
        Self {
            broker,
            dir,
            cert_file,
        }
    }

    fn tcp(&self) -> SocketAddr {
        self.broker.tcp_addr().unwrap()
    }

    fn tls(&self) -> SocketAddr {
        self.broker.tls_addr().unwrap()
    }

    /// Waits for every connection to close, stops the broker and checks that nothing leaked.
    async fn finish(self) -> Stats {
        assert!(
            self.broker.wait_idle(Duration::from_secs(10)).await,
            "connections still open: {:?}",
            self.broker.stats()
        );
        let stats = self.broker.shutdown(Duration::from_secs(5)).await;
        assert_eq!(
            stats.handshakes_in_flight, 0,
            "handshake table not empty: {stats:?}"
        );
        assert_eq!(stats.connections_open, 0, "{stats:?}");
        let _ = std::fs::remove_dir_all(&self.dir);
        stats
    }
}

/// `true` if the tool is there; otherwise fails the test, or (with MQTT_SCRAM_SKIP_INTEROP=1)
/// prints SKIPPED and returns `false`.
fn require(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var("MQTT_SCRAM_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!(
            "\n********** SKIPPED: {what} is not installed (MQTT_SCRAM_SKIP_INTEROP=1) **********\n"
        );
        return false;
    }
    panic!(
        "{what} is not installed: run scripts/install-interop-deps.sh (or set MQTT_SCRAM_SKIP_INTEROP=1 to skip)"
    );
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn node_ready() -> bool {
    let installed = manifest_dir()
        .join("tests/interop/node_modules/mqtt/package.json")
        .exists();
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    require(
        installed && node,
        "node with mqtt.js (tests/interop/node_modules)",
    )
}

fn scramp_ready() -> bool {
    let ok = std::process::Command::new(python())
        .args(["-c", "import scramp"])
        .output()
        .is_ok_and(|o| o.status.success());
    require(ok, "python3 with scramp")
}

/// Runs a script to completion (bounded) and returns its stdout lines parsed as JSON.
async fn run_json_lines(program: &str, args: &[String], limit: Duration) -> Vec<Value> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(manifest_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} did not finish within {limit:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("bad output line {l:?}: {e}\nstderr: {stderr}"))
        })
        .collect();
    assert!(
        output.status.success(),
        "{program} failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    lines
}

// ---------------------------------------------------------------------------------------
// A minimal MQTT 5 client on the broker's own framing, driving this crate's client
// ---------------------------------------------------------------------------------------

struct Conn<S = TcpStream> {
    wire: Wire<S>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            wire: Wire::new(stream, 1 << 20, STEP),
        }
    }
}

impl Conn<tokio_rustls::client::TlsStream<TcpStream>> {
    /// TLS to the broker, trusting its generated certificate; returns the connection's
    /// `tls-exporter` binding as the client computes it (rustls, RFC 9266).
    async fn open_tls(
        addr: SocketAddr,
        cert_file: &Path,
        tls12_only: bool,
    ) -> (Self, mqtt_scram::ChannelBinding) {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from_pem_file(cert_file).unwrap())
            .unwrap();
        let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13]
        };
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let stream = connector.connect(name, tcp).await.unwrap();
        let data = stream
            .get_ref()
            .1
            .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(&[]))
            .unwrap();
        let binding = mqtt_scram::ChannelBinding::new(
            mqtt_scram::ChannelBindingType::TlsExporter,
            data.to_vec(),
        );
        (
            Self {
                wire: Wire::new(stream, 1 << 20, STEP),
            },
            binding,
        )
    }
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Conn<S> {
    async fn send(&mut self, packet: Packet) {
        self.wire.send(&packet).await.unwrap();
    }

    async fn send_auth(&mut self, reason_code: u8, method: &str, data: Vec<u8>) {
        let auth = AuthPacket {
            reason_code,
            method: Some(method.into()),
            data: Some(data),
        };
        self.wire.send_auth(&auth).await.unwrap();
    }

    /// The next packet, or `None` if the broker closed the connection.
    async fn recv(&mut self) -> Option<Frame> {
        tokio::time::timeout(STEP, self.wire.read())
            .await
            .expect("broker did not answer in time")
            .ok()
    }

    async fn expect_connack(&mut self) -> ConnAck {
        match self.recv().await {
            Some(Frame::Mqtt(Packet::ConnAck(connack))) => connack,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Reads until the broker closes; returns the DISCONNECT reason code if one came.
    async fn expect_disconnect(&mut self) -> Option<u8> {
        match self.recv().await {
            Some(Frame::Disconnect { reason_code }) => {
                assert!(
                    self.recv().await.is_none(),
                    "connection still open after DISCONNECT"
                );
                Some(reason_code)
            }
            None => None,
            Some(other) => panic!("expected DISCONNECT, got {other:?}"),
        }
    }
}

fn connect_packet(
    client_id: &str,
    method: Option<&str>,
    data: Option<Vec<u8>>,
    login: Option<(&str, &str)>,
) -> Packet {
    let properties = ConnectProperties {
        session_expiry_interval: None,
        receive_maximum: None,
        max_packet_size: None,
        topic_alias_max: None,
        request_response_info: None,
        request_problem_info: None,
        user_properties: Vec::new(),
        authentication_method: method.map(String::from),
        authentication_data: data.map(Into::into),
    };
    let connect = Connect {
        keep_alive: 30,
        client_id: client_id.into(),
        clean_start: true,
        properties: Some(properties),
    };
    let login = login.map(|(username, password)| Login {
        username: username.into(),
        password: password.into(),
    });
    Packet::Connect(connect, None, login)
}

fn code(c: ConnectReturnCode) -> u8 {
    match c {
        ConnectReturnCode::Success => 0x00,
        ConnectReturnCode::MalformedPacket => 0x81,
        ConnectReturnCode::ProtocolError => 0x82,
        ConnectReturnCode::BadUserNamePassword => 0x86,
        ConnectReturnCode::NotAuthorized => 0x87,
        ConnectReturnCode::ServerBusy => 0x89,
        ConnectReturnCode::BadAuthenticationMethod => 0x8C,
        ConnectReturnCode::PacketTooLarge => 0x95,
        other => panic!("unexpected CONNACK code {other:?}"),
    }
}

fn auth_data(connack: &ConnAck) -> Option<String> {
    let data = connack.properties.as_ref()?.authentication_data.as_ref()?;
    Some(String::from_utf8_lossy(data).into_owned())
}

/// A CONNECT exchange with this crate's client. `Err` carries the CONNACK code and data.
async fn scram_login<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    config: &ClientConfig,
    mechanism: Mechanism,
    user: &str,
    password: &str,
) -> Result<client::Authenticated, (u8, Option<String>)> {
    scram_login_with(
        conn,
        config,
        mechanism,
        user,
        password,
        client::ClientOptions::default(),
    )
    .await
}

/// [`scram_login`] with client options (channel binding, authzid).
async fn scram_login_with<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    config: &ClientConfig,
    mechanism: Mechanism,
    user: &str,
    password: &str,
    options: client::ClientOptions<'_>,
) -> Result<client::Authenticated, (u8, Option<String>)> {
    let (first, data) =
        client::start_with(config, mechanism, user, password, options, &mut rand::rng()).unwrap();
    conn.send(connect_packet(
        &format!("crate-{user}"),
        Some(mechanism.name()),
        Some(data),
        None,
    ))
    .await;
    let server_first = match conn.recv().await {
        Some(Frame::Auth(auth)) if auth.reason_code == 0x18 => {
            assert_eq!(
                auth.method.as_deref(),
                Some(mechanism.name()),
                "[MQTT-4.12.0-5] same method"
            );
            auth.data.unwrap()
        }
        Some(Frame::Mqtt(Packet::ConnAck(c))) => return Err((code(c.code), auth_data(&c))),
        other => panic!("expected AUTH 0x18, got {other:?}"),
    };
    let (last, data) = first.on_server_first(&server_first).unwrap();
    conn.send_auth(0x18, mechanism.name(), data).await;
    let connack = conn.expect_connack().await;
    if connack.code != ConnectReturnCode::Success {
        return Err((code(connack.code), auth_data(&connack)));
    }
    let props = connack.properties.as_ref().unwrap();
    assert_eq!(
        props.authentication_method.as_deref(),
        Some(mechanism.name())
    );
    let server_final = props
        .authentication_data
        .as_ref()
        .expect("CONNACK 0x00 without v=");
    Ok(last
        .on_server_final(server_final)
        .expect("server signature must verify"))
}

// ---------------------------------------------------------------------------------------
// 1. mqtt.js
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqttjs_scram_tcp_tls_plus_pubsub_and_failures() {
    if !node_ready() {
        return;
    }
    let h = Harness::start(Options::default()).await;
    let scenario = |name: &str,
                    mechanism: &str,
                    user: &str,
                    password: &str,
                    tls: bool,
                    pubsub: bool| {
        serde_json::json!({"name": name, "mechanism": mechanism, "user": user, "password": password, "tls": tls, "pubsub": pubsub})
    };
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
    let script = "tests/interop/mqttjs_client.js".to_string();
    let results = run_json_lines(
        "node",
        &[script, config.to_string()],
        Duration::from_secs(120),
    )
    .await;
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

    impl<const N: usize> AuthMechanism<N> for CrateScram {
        type Error = String;

        fn kontinue(
            &mut self,
            auth: &Auth<'_, N>,
        ) -> Result<AuthOptions<'_, N>, (String, Option<ReasonCode>)> {
            let first = self.first.take().ok_or((
                "AUTH 0x18 out of order".to_string(),
                Some(ReasonCode::ProtocolError),
            ))?;
            let data = auth
                .authentication_data
                .as_ref()
                .map(|d| d.as_bytes())
                .unwrap_or_default();
            let (last, client_final) = first
                .on_server_first(data)
                .map_err(|e| (e.to_string(), Some(ReasonCode::ProtocolError)))?;
            self.last = Some(last);
            let data =
                MqttBinary::try_from(client_final).map_err(|_| ("too long".to_string(), None))?;
            Ok(AuthOptions {
                authentication_data: Some(data),
                ..Default::default()
            })
        }

        fn success(&mut self, auth: &Auth<'_, N>) -> Result<(), (String, Option<ReasonCode>)> {
            let last = self.last.take().ok_or((
                "success out of order".to_string(),
                Some(ReasonCode::ProtocolError),
            ))?;
            let data = auth
                .authentication_data
                .as_ref()
                .map(|d| d.as_bytes())
                .unwrap_or_default();
            let done = last
                .on_server_final(data)
                .map_err(|e| (e.to_string(), Some(ReasonCode::ProtocolError)))?;
            self.done = Some(done);
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_mqtt_connect_publish_receive_reauthenticate() {
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

    let h = Harness::start(Options::default()).await;
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let mut buffer = AllocBuffer;
        let mut client = Client::<'_, '_, _, _, 1, 1, 1, 1, 16, 0, 0>::new(&mut buffer);
        let stream = TcpStream::connect(h.tcp()).await.unwrap();
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
        let client_id = MqttString::from_str("rust-mqtt-interop").unwrap();
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
        let authenticated = scram
            .done
            .take()
            .expect("server signature verified by the crate's client");

        // Publish / receive one message through the loopback.
        let topic = MqttString::from_str("interop/rust-mqtt").unwrap();
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

        // Re-authenticate: AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00 (v=).
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
            .expect("re-authentication server signature");

        // Still authenticated and working after re-authentication.
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

async fn scramp_client(
    port: u16,
    mechanism: &str,
    user: &str,
    password: &str,
    extra: &[&str],
) -> Value {
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
    let mut lines = run_json_lines(&python(), &args, Duration::from_secs(60)).await;
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
        let ok = scramp_client(port, mechanism, "alice", PASSWORD, &["--reauth"]).await;
        assert_eq!(ok["connack"], 0, "{ok}");
        assert_eq!(
            ok["server_verified"], true,
            "scramp verifies the broker's v=: {ok}"
        );
        assert_eq!(ok["reauth_packet"], "AUTH", "{ok}");
        assert_eq!(ok["reauth_reason"], 0, "{ok}");
        assert_eq!(ok["reauth_verified"], true, "{ok}");
        assert_eq!(ok["pingresp"], true, "{ok}");

        let wrong = scramp_client(port, mechanism, "alice", "wrong", &[]).await;
        let unknown = scramp_client(port, mechanism, "mallory", "wrong", &[]).await;
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
        )
        .await;
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
    )
    .await;
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

// ---------------------------------------------------------------------------------------
// 5. Load
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_1000_concurrent_clients() {
    const CLIENTS: usize = 1000;
    // Client and broker sockets live in this one process: 2,000 descriptors and then some.
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(soft) = soft {
        assert!(
            soft >= 2_500,
            "the load test needs 2,500 open files; `ulimit -n` is {soft} (run `ulimit -n 4096` first)"
        );
    }
    let h = Harness::start(Options::default()).await;
    let addr = h.tcp();
    let config = ClientConfig::new().iteration_window(64..=1_000_000);
    let start = Instant::now();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let config = config.clone();
        let barrier = std::sync::Arc::clone(&barrier);
        tasks.spawn(async move {
            let mut conn = Conn::open(addr).await;
            barrier.wait().await;
            let began = Instant::now();
            let result = scram_login(
                &mut conn,
                &config,
                Mechanism::ScramSha256,
                "loader",
                PASSWORD,
            )
            .await;
            let latency = began.elapsed();
            (result.is_ok(), latency, conn)
        });
    }
    let mut latencies = Vec::with_capacity(CLIENTS);
    let mut conns = Vec::with_capacity(CLIENTS);
    let all = async {
        while let Some(joined) = tasks.join_next().await {
            let (ok, latency, conn) = joined.unwrap();
            assert!(ok, "a client failed to authenticate");
            latencies.push(latency);
            conns.push(conn);
        }
    };
    tokio::time::timeout(Duration::from_secs(180), all)
        .await
        .expect("load run took over 180 s");
    let wall = start.elapsed();
    assert_eq!(
        h.broker.stats().handshakes_in_flight,
        0,
        "all handshakes done: table empty"
    );
    assert_eq!(h.broker.stats().connections_open, CLIENTS);
    drop(conns);
    latencies.sort();
    let p50 = latencies[CLIENTS / 2];
    let p99 = latencies[CLIENTS * 99 / 100];
    let last = *latencies.last().unwrap();
    let handshake_span = last;
    let rate = CLIENTS as f64 / handshake_span.as_secs_f64();
    eprintln!(
        "load: {CLIENTS} concurrent clients, {rate:.0} handshakes/s (all released at once, last done after {handshake_span:?}), \
         latency p50 {p50:?} p99 {p99:?} max {last:?}; wall incl. TCP connects {wall:?}; profile {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let stats = h.finish().await;
    assert_eq!(stats.auth_accepted, CLIENTS as u64);
    eprintln!(
        "load: handshake table peak {} (limit {})",
        stats.handshakes_peak,
        Limits::default().max_handshakes
    );
    assert!(
        stats.handshakes_peak <= Limits::default().max_handshakes,
        "{stats:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The front's own rules
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_client_tcp_both_mechanisms_and_unknown_user_looks_like_wrong_password() {
    let h = Harness::start(Options::default()).await;
    let config = ClientConfig::new();
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let mut conn = Conn::open(h.tcp()).await;
        scram_login(&mut conn, &config, mechanism, "alice", PASSWORD)
            .await
            .unwrap();
    }
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &config,
        Mechanism::ScramSha256,
        ESCAPED_USER,
        UNICODE_PASSWORD,
    )
    .await
    .unwrap();
    drop(conn);
    // The prepared form of the password (U+2163 is "IV" under NFKC) is the same password.
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &config,
        Mechanism::ScramSha256,
        ESCAPED_USER,
        "p\u{e4}ssw\u{f6}rd IV",
    )
    .await
    .unwrap();
    drop(conn);
    // Same visible result: CONNACK 0x87 with e=invalid-proof, after a normal-looking challenge.
    let mut wrong = Conn::open(h.tcp()).await;
    let mut unknown = Conn::open(h.tcp()).await;
    let w = scram_login(&mut wrong, &config, Mechanism::ScramSha256, "alice", "nope")
        .await
        .err()
        .unwrap();
    let u = scram_login(
        &mut unknown,
        &config,
        Mechanism::ScramSha256,
        "mallory",
        "nope",
    )
    .await
    .err()
    .unwrap();
    assert_eq!(w, (0x87, Some("e=invalid-proof".into())));
    assert_eq!(u, w);
    assert_eq!(
        wrong.recv().await.map(|_| ()),
        None,
        "closed after CONNACK 0x87"
    );
    drop((wrong, unknown));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_client_plus_over_tls_and_channel_binding_attacks() {
    use mqtt_scram::{ChannelBinding, ChannelBindingType};
    let h = Harness::start(Options::default()).await;
    let config = ClientConfig::new();
    let login = async |mechanism, binding: Option<&ChannelBinding>, tls12_only| {
        let (mut conn, real) = Conn::open_tls(h.tls(), &h.cert_file, tls12_only).await;
        let binding = binding.unwrap_or(&real);
        let options = client::ClientOptions {
            channel_binding: Some(binding),
            ..Default::default()
        };
        scram_login_with(&mut conn, &config, mechanism, "alice", PASSWORD, options)
            .await
            .map(|_| ())
    };
    // -PLUS: the client's exporter (rustls client) matches the broker's (rustls server).
    login(Mechanism::ScramSha256Plus, None, false)
        .await
        .unwrap();
    login(Mechanism::ScramSha512Plus, None, false)
        .await
        .unwrap();
    // A man in the middle terminating TLS sees a different exporter: the binding fails.
    let forged = ChannelBinding::new(ChannelBindingType::TlsExporter, vec![0u8; 32]);
    let mitm = login(Mechanism::ScramSha256Plus, Some(&forged), false).await;
    assert_eq!(
        mitm,
        Err((0x87, Some("e=channel-bindings-dont-match".into())))
    );
    // Flag `y` (client supports binding, thinks the server does not) on a listener that
    // offers -PLUS: a downgrade, RFC 5802 §6.
    let downgrade = login(Mechanism::ScramSha256, None, false).await;
    assert_eq!(
        downgrade,
        Err((0x87, Some("e=server-does-support-channel-binding".into())))
    );
    // TLS 1.2: the broker offers no tls-exporter binding there (see examples/broker/tls.rs).
    let tls12 = login(Mechanism::ScramSha256Plus, None, true).await;
    assert_eq!(
        tls12,
        Err((0x87, Some("e=channel-binding-not-supported".into())))
    );
    // Plain SCRAM over TLS without binding (flag `n`) still works.
    let (mut conn, _) = Conn::open_tls(h.tls(), &h.cert_file, false).await;
    scram_login(
        &mut conn,
        &config,
        Mechanism::ScramSha512,
        "alice",
        PASSWORD,
    )
    .await
    .unwrap();
    drop(conn);
    let stats = h.finish().await;
    assert_eq!(
        (stats.auth_accepted, stats.auth_rejected),
        (3, 3),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_handshake_is_dropped_at_the_deadline() {
    let h = Harness::start(Options {
        handshake_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let mut conn = Conn::open(h.tcp()).await;
    let (_first, data) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    conn.send(connect_packet(
        "staller",
        Some("SCRAM-SHA-256"),
        Some(data),
        None,
    ))
    .await;
    assert!(matches!(conn.recv().await, Some(Frame::Auth(a)) if a.reason_code == 0x18));
    assert_eq!(h.broker.stats().handshakes_in_flight, 1);
    let began = Instant::now();
    let connack = conn.expect_connack().await; // the client never answers
    assert_eq!(code(connack.code), 0x87);
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "dropped at the deadline, not later"
    );
    assert!(conn.recv().await.is_none(), "connection closed");
    assert_eq!(h.broker.stats().handshakes_in_flight, 0);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_limit_answers_server_busy() {
    let limits = Limits {
        max_handshakes: 2,
        handshake_queue_wait: Duration::from_millis(200),
        ..Limits::default()
    };
    let h = Harness::start(Options {
        limits,
        ..Options::default()
    })
    .await;
    let mut stalled = Vec::new();
    for i in 0..2 {
        let mut conn = Conn::open(h.tcp()).await;
        let (_f, data) = client::start(
            &ClientConfig::new(),
            Mechanism::ScramSha256,
            "alice",
            PASSWORD,
            &mut rand::rng(),
        )
        .unwrap();
        conn.send(connect_packet(
            &format!("s{i}"),
            Some("SCRAM-SHA-256"),
            Some(data),
            None,
        ))
        .await;
        assert!(matches!(conn.recv().await, Some(Frame::Auth(_))));
        stalled.push(conn);
    }
    let mut third = Conn::open(h.tcp()).await;
    let (_f, data) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    third
        .send(connect_packet(
            "third",
            Some("SCRAM-SHA-256"),
            Some(data),
            None,
        ))
        .await;
    assert_eq!(code(third.expect_connack().await.code), 0x89);
    assert_eq!(h.broker.stats().handshakes_in_flight, 2);
    drop(stalled);
    drop(third);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_authentication_method_is_0x87_unless_allow_plain() {
    let h = Harness::start(Options::default()).await;
    let mut conn = Conn::open(h.tcp()).await;
    conn.send(connect_packet(
        "plain",
        None,
        None,
        Some(("alice", PASSWORD)),
    ))
    .await;
    assert_eq!(code(conn.expect_connack().await.code), 0x87);
    drop(conn);
    h.finish().await;

    let h = Harness::start(Options {
        allow_plain: true,
        ..Options::default()
    })
    .await;
    for (user, password, expected) in [
        ("alice", PASSWORD, 0x00),
        ("alice", "wrong", 0x86),
        ("mallory", "wrong", 0x86),
    ] {
        let mut conn = Conn::open(h.tcp()).await;
        conn.send(connect_packet("plain", None, None, Some((user, password))))
            .await;
        let connack = conn.expect_connack().await;
        assert_eq!(code(connack.code), expected, "{user}/{password}");
        if expected == 0 {
            // A plain session cannot re-authenticate: AUTH is a protocol error there.
            conn.send_auth(
                0x19,
                "SCRAM-SHA-256",
                b"n,,n=alice,r=abcdefghijklmnopqrstuvwx".to_vec(),
            )
            .await;
            assert_eq!(conn.expect_disconnect().await, Some(0x82));
        }
    }
    // SCRAM still works next to it.
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &ClientConfig::new(),
        Mechanism::ScramSha512,
        "alice",
        PASSWORD,
    )
    .await
    .unwrap();
    drop(conn);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_at_ends_the_session() {
    let mut expiring = record(HashAlgorithm::Sha256, PASSWORD, 4096);
    expiring.expire_at = Some(broker::unix_now() + 2);
    let mut expired = record(HashAlgorithm::Sha256, PASSWORD, 4096);
    expired.expire_at = Some(broker::unix_now().saturating_sub(10));
    let extra_users = vec![("eve".to_string(), expiring), ("old".to_string(), expired)];
    let h = Harness::start(Options {
        extra_users,
        ..Options::default()
    })
    .await;

    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "eve",
        PASSWORD,
    )
    .await
    .unwrap();
    let began = Instant::now();
    assert_eq!(
        conn.expect_disconnect().await,
        Some(0xA0),
        "Maximum connect time"
    );
    assert!(began.elapsed() <= Duration::from_secs(4));

    let mut conn = Conn::open(h.tcp()).await;
    let rejected = scram_login(
        &mut conn,
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "old",
        PASSWORD,
    )
    .await;
    assert_eq!(
        rejected.err().map(|e| e.0),
        Some(0x87),
        "already expired credentials"
    );
    drop(conn);
    let stats = h.finish().await;
    assert_eq!(stats.expired, 1);
}

/// Re-authenticates on `conn` (AUTH 0x19 → 0x18 → 0x18 → 0x00); `Err` carries the
/// DISCONNECT reason code.
async fn scram_reauth<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    authenticated: client::Authenticated,
) -> Result<client::Authenticated, u8> {
    let method = authenticated.mechanism().name();
    let (first, data) = authenticated.reauthenticate(&mut rand::rng());
    conn.send_auth(0x19, method, data).await;
    let server_first = match conn.recv().await {
        Some(Frame::Auth(a)) if a.reason_code == 0x18 => a.data.unwrap(),
        Some(Frame::Disconnect { reason_code }) => return Err(reason_code),
        other => panic!("expected AUTH 0x18, got {other:?}"),
    };
    let (last, data) = first.on_server_first(&server_first).unwrap();
    conn.send_auth(0x18, method, data).await;
    match conn.recv().await {
        Some(Frame::Auth(a)) if a.reason_code == 0x00 => {
            assert_eq!(a.method.as_deref(), Some(method));
            Ok(last
                .on_server_final(&a.data.unwrap())
                .expect("re-auth server signature"))
        }
        Some(Frame::Disconnect { reason_code }) => Err(reason_code),
        other => panic!("expected AUTH 0x00, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthentication_picks_up_a_renewed_expire_at() {
    let store = std::sync::Arc::new(mqtt_scram::provider::MemoryProvider::new());
    let mut eve = record(HashAlgorithm::Sha256, PASSWORD, 4096);
    eve.expire_at = Some(broker::unix_now() + 2);
    store.insert("eve", eve.clone());
    let provider = Provider::Memory(std::sync::Arc::clone(&store));
    let h = Harness::start(Options {
        provider: Some(provider),
        ..Options::default()
    })
    .await;

    let mut conn = Conn::open(h.tcp()).await;
    let config = ClientConfig::new();
    let authenticated = scram_login(&mut conn, &config, Mechanism::ScramSha256, "eve", PASSWORD)
        .await
        .unwrap();
    // The provider renews the credentials; the client re-authenticates before expiry.
    eve.expire_at = Some(broker::unix_now() + 3600);
    store.insert("eve", eve);
    let authenticated = scram_reauth(&mut conn, authenticated).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    conn.send(Packet::PingReq(rumqttc::v5::mqttbytes::v5::PingReq))
        .await;
    assert!(
        matches!(conn.recv().await, Some(Frame::Mqtt(Packet::PingResp(_)))),
        "still connected after the first expire_at"
    );
    // A failed re-authentication ends the session (DISCONNECT 0x87), MQTT 5.0 §4.12.1.
    store.remove("eve");
    assert_eq!(
        scram_reauth(&mut conn, authenticated).await.err(),
        Some(0x87)
    );
    assert!(conn.recv().await.is_none());
    let stats = h.finish().await;
    assert_eq!((stats.reauth_accepted, stats.expired), (1, 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packets_get_the_right_reason_code_and_never_crash() {
    let limits = Limits {
        max_packet_size: 4096,
        ..Limits::default()
    };
    let h = Harness::start(Options {
        limits,
        ..Options::default()
    })
    .await;
    let config = ClientConfig::new();

    // Garbage instead of CONNECT: closed, nothing else.
    let mut raw = TcpStream::connect(h.tcp()).await.unwrap();
    raw.write_all(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02])
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(STEP, raw.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(
        n == 0 || buf[0] >> 4 == 2,
        "closed, or a CONNACK: {:?}",
        &buf[..n]
    );

    // Random bytes after a valid login must not take the broker down.
    for seed in 0u8..8 {
        let mut conn = Conn::open(h.tcp()).await;
        scram_login(
            &mut conn,
            &config,
            Mechanism::ScramSha256,
            "alice",
            PASSWORD,
        )
        .await
        .unwrap();
        let junk: Vec<u8> = (0..200u32)
            .map(|i| {
                (i as u8)
                    .wrapping_mul(31)
                    .wrapping_add(seed.wrapping_mul(17))
            })
            .collect();
        let _ = stream_write(&mut conn.wire, &junk).await;
    }

    // Unsupported method: CONNACK 0x8C without a method property.
    let mut conn = Conn::open(h.tcp()).await;
    conn.send(connect_packet(
        "c",
        Some("SCRAM-SHA-1"),
        Some(b"n,,n=alice,r=abcdefghijklmnopqrstuvwx".to_vec()),
        None,
    ))
    .await;
    let connack = conn.expect_connack().await;
    assert_eq!(code(connack.code), 0x8C);
    assert_eq!(
        connack.properties.and_then(|p| p.authentication_method),
        None
    );

    // A different method in the AUTH that continues the exchange: 0x8C.
    let mut conn = Conn::open(h.tcp()).await;
    let (first, data) = client::start(
        &config,
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    conn.send(connect_packet("c", Some("SCRAM-SHA-256"), Some(data), None))
        .await;
    let Some(Frame::Auth(challenge)) = conn.recv().await else {
        panic!("no challenge")
    };
    let (_last, data) = first.on_server_first(&challenge.data.unwrap()).unwrap();
    conn.send_auth(0x18, "SCRAM-SHA-512", data).await;
    assert_eq!(code(conn.expect_connack().await.code), 0x8C);

    // A malformed AUTH during the handshake: CONNACK 0x81.
    let mut conn = Conn::open(h.tcp()).await;
    let (_first, data) = client::start(
        &config,
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    conn.send(connect_packet("c", Some("SCRAM-SHA-256"), Some(data), None))
        .await;
    assert!(matches!(conn.recv().await, Some(Frame::Auth(_))));
    stream_write(&mut conn.wire, &[0xF0, 0x04, 0x18, 0x09, 0x15, 0x00])
        .await
        .unwrap();
    assert_eq!(code(conn.expect_connack().await.code), 0x81);

    // Something other than AUTH during the handshake: CONNACK 0x82.
    let mut conn = Conn::open(h.tcp()).await;
    let (_first, data) = client::start(
        &config,
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    conn.send(connect_packet("c", Some("SCRAM-SHA-256"), Some(data), None))
        .await;
    assert!(matches!(conn.recv().await, Some(Frame::Auth(_))));
    conn.send(Packet::PingReq(rumqttc::v5::mqttbytes::v5::PingReq))
        .await;
    assert_eq!(code(conn.expect_connack().await.code), 0x82);

    // After login: an oversized packet (0x95), a second CONNECT (0x82), QoS 2 (0x9B),
    // AUTH 0x18 with no re-authentication in progress (0x82), a changed method on re-auth (0x8C).
    let big = Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "big".into(),
        pkid: 0,
        payload: vec![0u8; 8192].into(),
        properties: None,
    };
    let qos2 = Publish {
        qos: QoS::ExactlyOnce,
        pkid: 1,
        payload: "x".into(),
        ..big.clone()
    };
    #[allow(clippy::large_enum_variant)]
    enum Send {
        Packet(Packet),
        Auth(u8, &'static str),
    }
    let cases = [
        (Send::Packet(Packet::Publish(big)), 0x95),
        (
            Send::Packet(connect_packet("again", None, None, None)),
            0x82,
        ),
        (Send::Packet(Packet::Publish(qos2)), 0x9B),
        (Send::Auth(0x18, "SCRAM-SHA-256"), 0x82),
        (Send::Auth(0x19, "SCRAM-SHA-512"), 0x8C),
    ];
    for (send, expected) in cases {
        let mut conn = Conn::open(h.tcp()).await;
        scram_login(
            &mut conn,
            &config,
            Mechanism::ScramSha256,
            "alice",
            PASSWORD,
        )
        .await
        .unwrap();
        match send {
            Send::Packet(p) => conn.send(p).await,
            Send::Auth(reason, method) => {
                let mech = Mechanism::ScramSha256;
                let (_f, data) =
                    client::start(&config, mech, "alice", PASSWORD, &mut rand::rng()).unwrap();
                conn.send_auth(reason, method, data).await;
            }
        }
        assert_eq!(conn.expect_disconnect().await, Some(expected));
    }

    // Still serving.
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &config,
        Mechanism::ScramSha512,
        "alice",
        PASSWORD,
    )
    .await
    .unwrap();
    drop(conn);
    drop(raw);
    h.finish().await;
}

async fn stream_write(wire: &mut Wire<TcpStream>, bytes: &[u8]) -> std::io::Result<()> {
    // Raw bytes through the connection, bypassing the encoder.
    wire.send_raw(bytes).await
}

// ---------------------------------------------------------------------------------------
// The HTTP provider (feature `http`) behind the cache, as `--http-config` wires it
// ---------------------------------------------------------------------------------------

/// A one-route HTTP/1.1 service speaking the EMQX SCRAM contract: `alice` gets her record
/// (hex), anyone else `{"result":"deny"}`. Counts requests.
#[cfg(feature = "http")]
async fn emqx_like_service(alice: UserRecord) -> (SocketAddr, std::sync::Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = std::sync::Arc::new(AtomicU32::new(0));
    let counter = std::sync::Arc::clone(&hits);
    let hex = alice.credentials.to_emqx_hex();
    let found = format!(
        r#"{{"result":"allow","salt":"{}","stored_key":"{}","server_key":"{}","iteration_count":4096,"is_superuser":true}}"#,
        hex.salt, hex.stored_key, hex.server_key
    );
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = std::sync::Arc::clone(&counter);
            let found = found.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < end + 4 + len {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Value = serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap();
                    buf.drain(..end + 4 + len);
                    counter.fetch_add(1, Ordering::SeqCst);
                    let answer = if body["username"] == "alice" {
                        found.clone()
                    } else {
                        r#"{"result":"deny"}"#.into()
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if socket.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, hits)
}

#[cfg(feature = "http")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_provider_behind_the_cache() {
    use mqtt_scram::provider::HttpConfig;

    let (service, hits) = emqx_like_service(record(HashAlgorithm::Sha256, PASSWORD, 4096)).await;
    let dir = scratch_dir("http");
    let config = HttpConfig::new(format!("http://{service}/scram"))
        .param("username", "${username}")
        .param("mechanism", "${mechanism}");
    let config_file = dir.join("http.json");
    std::fs::write(&config_file, serde_json::to_string(&config).unwrap()).unwrap();
    let provider = Provider::from_http_config(
        &config_file,
        Duration::from_secs(60),
        Duration::from_secs(60),
    )
    .unwrap();
    let h = Harness::start(Options {
        provider: Some(provider),
        ..Options::default()
    })
    .await;
    let config = ClientConfig::new();
    for _ in 0..2 {
        let mut conn = Conn::open(h.tcp()).await;
        scram_login(
            &mut conn,
            &config,
            Mechanism::ScramSha256,
            "alice",
            PASSWORD,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the second login is served from the cache"
    );
    for _ in 0..2 {
        let mut conn = Conn::open(h.tcp()).await;
        let failed = scram_login(&mut conn, &config, Mechanism::ScramSha256, "mallory", "x").await;
        assert_eq!(
            failed.expect_err("unknown user"),
            (0x87, Some("e=invalid-proof".into()))
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "negative answers are cached too"
    );
    let mut conn = Conn::open(h.tcp()).await;
    let failed = scram_login(&mut conn, &config, Mechanism::ScramSha256, "alice", "wrong").await;
    assert_eq!(failed.expect_err("wrong password").0, 0x87);
    drop(conn);
    h.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// 4. `mqtt-scram probe` (feature `cli`) against the broker
// ---------------------------------------------------------------------------------------

/// Runs `mqtt-scram probe --json` with the password on stdin; returns (exit code, report).
#[cfg(feature = "cli")]
async fn probe(target: SocketAddr, password: &str, extra: &[&str]) -> (i32, Value) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mqtt-scram"))
        .args([
            "probe",
            &target.to_string(),
            "--password-stdin",
            "--json",
            "--timeout",
            "20",
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "probe printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// A probe report without what may differ between two runs (timings, names, peers).
#[cfg(feature = "cli")]
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

/// What `mqtt-scram gen --format json` writes is what `--credentials` reads.
#[cfg(feature = "cli")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_from_mqtt_scram_gen_load_into_the_broker() {
    let mut lines = String::new();
    for hash in ["sha256", "sha512"] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mqtt-scram"))
            .args([
                "gen",
                "carol",
                "-m",
                hash,
                "--password-stdin",
                "--format",
                "json",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .await
            .unwrap();
        drop(stdin);
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(out.status.success());
        lines.push_str(&String::from_utf8(out.stdout).unwrap());
        lines.push('\n');
    }
    let dir = scratch_dir("gen");
    let file = dir.join("carol.json");
    std::fs::write(&file, lines).unwrap();
    let provider = Provider::from_record_file(&file).unwrap();
    let h = Harness::start(Options {
        provider: Some(provider),
        ..Options::default()
    })
    .await;
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let mut conn = Conn::open(h.tcp()).await;
        scram_login(
            &mut conn,
            &ClientConfig::new(),
            mechanism,
            "carol",
            PASSWORD,
        )
        .await
        .unwrap();
    }
    h.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "cli")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_scram_probe_against_the_broker() {
    let h = Harness::start(Options::default()).await;
    let (code, report) = probe(h.tcp(), PASSWORD, &["-u", "alice", "--reauth"]).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["result"], "accepted");
    assert_eq!(report["connack"]["reason_code"], 0);
    assert_eq!(report["server_signature_verified"], true);
    assert_eq!(report["reauthenticated"], true);
    assert_eq!(report["reauth_server_signature_verified"], true);

    let (code, report) = probe(h.tcp(), PASSWORD, &["-u", "alice", "-m", "sha512"]).await;
    assert_eq!(
        (code, &report["mechanism"]),
        (0, &Value::from("SCRAM-SHA-512")),
        "{report}"
    );

    // Wrong password and unknown user: the same visible result, step by step.
    let (wrong_code, wrong) = probe(h.tcp(), "not-the-password", &["-u", "alice"]).await;
    // (same name length, so even the CONNECT size matches)
    let (unknown_code, unknown) = probe(h.tcp(), PASSWORD, &["-u", "bobby"]).await;
    assert_eq!((wrong_code, unknown_code), (1, 1));
    assert_eq!(wrong["result"], "rejected");
    assert_eq!(wrong["connack"]["reason_code"], 0x87);
    assert_eq!(comparable(wrong), comparable(unknown));

    // Over TLS, trusting the generated certificate. (`probe` has no -PLUS mode yet, so the
    // -PLUS/tls-exporter path over TLS is covered by mqtt.js above.)
    let cert = h.cert_file.to_str().unwrap().to_string();
    let tls_args = [
        "-u",
        "alice",
        "--tls",
        "--ca",
        &cert,
        "--server-name",
        "localhost",
    ];
    let (code, report) = probe(h.tls(), PASSWORD, &tls_args).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["server_signature_verified"], true);
    let stats = h.finish().await;
    assert_eq!(
        (stats.auth_accepted, stats.auth_rejected),
        (3, 2),
        "{stats:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The command line (examples/broker/config.rs) and TLS from PEM files
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_options_and_pem_files_start_a_working_broker() {
    use broker::config::Args;
    use clap::Parser;

    let dir = scratch_dir("cli");
    let users = dir.join("users.json");
    let mut lines = String::new();
    for (name, rec) in default_users() {
        lines.push_str(&serde_json::to_string(&CredentialRecord::new(&name, &rec)).unwrap());
        lines.push('\n');
    }
    std::fs::write(&users, lines).unwrap();
    let key_file = dir.join("mock.key");
    std::fs::write(&key_file, "11".repeat(32)).unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_pem, generated.cert.pem()).unwrap();
    std::fs::write(&key_pem, generated.signing_key.serialize_pem()).unwrap();
    let path = |p: &PathBuf| p.to_str().unwrap().to_string();

    let args = Args::try_parse_from([
        "broker",
        "--credentials",
        &path(&users),
        "--tcp",
        "127.0.0.1:0",
        "--tls",
        "127.0.0.1:0",
        "--tls-cert",
        &path(&cert_pem),
        "--tls-key",
        &path(&key_pem),
        "--mock-key-file",
        &path(&key_file),
        "--mechanisms",
        "SCRAM-SHA-512,SCRAM-SHA-512-PLUS",
        "--max-handshakes",
        "7",
    ])
    .unwrap();
    let (settings, _) = args.into_settings().unwrap();
    assert_eq!(settings.limits.max_handshakes, 7);
    let broker = Broker::start(settings).await.unwrap();
    let config = ClientConfig::new();
    let mut conn = Conn::open(broker.tcp_addr().unwrap()).await;
    scram_login(
        &mut conn,
        &config,
        Mechanism::ScramSha512,
        "alice",
        PASSWORD,
    )
    .await
    .unwrap();
    drop(conn);
    // Only the configured mechanisms are offered.
    let mut conn = Conn::open(broker.tcp_addr().unwrap()).await;
    let refused = scram_login(
        &mut conn,
        &config,
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
    )
    .await;
    assert_eq!(refused.expect_err("not offered").0, 0x8C);
    drop(conn);
    // TLS from the PEM files, with -PLUS.
    let (mut conn, binding) = Conn::open_tls(broker.tls_addr().unwrap(), &cert_pem, false).await;
    let options = client::ClientOptions {
        channel_binding: Some(&binding),
        ..Default::default()
    };
    scram_login_with(
        &mut conn,
        &config,
        Mechanism::ScramSha512Plus,
        "alice",
        PASSWORD,
        options,
    )
    .await
    .unwrap();
    drop(conn);
    assert!(broker.wait_idle(Duration::from_secs(10)).await);
    assert_eq!(
        broker
            .shutdown(Duration::from_secs(5))
            .await
            .handshakes_in_flight,
        0
    );

    // Refusals: no credential source, a bad mock key, TLS without a certificate.
    assert!(Args::try_parse_from(["broker", "--tcp", "127.0.0.1:0"]).is_err());
    std::fs::write(&key_file, "not hex").unwrap();
    let bad_key = Args::try_parse_from([
        "broker",
        "--credentials",
        &path(&users),
        "--mock-key-file",
        &path(&key_file),
    ]);
    assert!(bad_key.unwrap().into_settings().is_err());
    let no_cert = Args::try_parse_from([
        "broker",
        "--credentials",
        &path(&users),
        "--tls",
        "127.0.0.1:0",
    ]);
    assert!(no_cert.unwrap().into_settings().is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_timeout_disconnects_with_0x8d() {
    let h = Harness::start(Options::default()).await;
    let mut conn = Conn::open(h.tcp()).await;
    let config = ClientConfig::new();
    let (first, data) = client::start(
        &config,
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        &mut rand::rng(),
    )
    .unwrap();
    let Packet::Connect(mut connect, will, login) =
        connect_packet("idle", Some("SCRAM-SHA-256"), Some(data), None)
    else {
        unreachable!()
    };
    connect.keep_alive = 1;
    conn.send(Packet::Connect(connect, will, login)).await;
    let Some(Frame::Auth(challenge)) = conn.recv().await else {
        panic!("no challenge")
    };
    let (last, data) = first.on_server_first(&challenge.data.unwrap()).unwrap();
    conn.send_auth(0x18, "SCRAM-SHA-256", data).await;
    let connack = conn.expect_connack().await;
    last.on_server_final(
        connack
            .properties
            .unwrap()
            .authentication_data
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    let began = Instant::now();
    assert_eq!(
        conn.expect_disconnect().await,
        Some(0x8D),
        "Keep Alive timeout"
    );
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(4),
        "1.5 x keep alive: {waited:?}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_disconnects_sessions_with_0x8b() {
    let h = Harness::start(Options::default()).await;
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
    )
    .await
    .unwrap();
    let tcp = h.tcp();
    let Harness { broker, dir, .. } = h;
    let stopping = tokio::spawn(broker.shutdown(Duration::from_secs(10)));
    assert_eq!(
        conn.expect_disconnect().await,
        Some(0x8B),
        "Server shutting down"
    );
    drop(conn);
    let stats = stopping.await.unwrap();
    assert_eq!(
        (
            stats.auth_accepted,
            stats.connections_open,
            stats.handshakes_in_flight
        ),
        (1, 0, 0)
    );
    assert!(TcpStream::connect(tcp).await.is_err(), "listener closed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn broker_module_files_exist() {
    // The example and this test share one module tree; keep the path honest.
    assert!(
        Path::new(&manifest_dir())
            .join("examples/broker/mod.rs")
            .exists()
    );
}
