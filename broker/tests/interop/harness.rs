//! Harness: the credentials file, an in-process broker, the external tools.

use super::*;

// ---------------------------------------------------------------------------------------
// Harness: credentials file, broker, external tools
// ---------------------------------------------------------------------------------------

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "mqtt-scram-interop-{}-{name}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn record(hash: HashAlgorithm, password: &str, iterations: u32) -> UserRecord {
    let salt: [u8; 16] = rand::random();
    UserRecord::new(StoredCredentials::derive(hash, password, &salt, iterations).unwrap())
}

/// Users every broker knows: `alice` (SHA-256 and SHA-512) and `loader` (SHA-256, 64
/// iterations, for the load test: the broker does no PBKDF2, so a low count keeps the test
/// measuring the broker rather than the test's clients).
pub fn default_users() -> Vec<(String, UserRecord)> {
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

pub struct Options {
    pub handshake_timeout: Duration,
    pub allow_plain: bool,
    pub limits: Limits,
    pub admission: AdmissionPolicy,
    /// Replaces the engine's default record policy (e.g. to accept the load test's
    /// low-iteration user).
    pub record_policy: Option<mqtt_scram::RecordPolicy>,
    /// Serve Prometheus metrics on a free port.
    pub metrics: bool,
    pub extra_users: Vec<(String, UserRecord)>,
    /// Replaces the record file as the credential source.
    pub provider: Option<Provider>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            allow_plain: false,
            limits: Limits::default(),
            admission: AdmissionPolicy::default(),
            record_policy: None,
            metrics: false,
            extra_users: Vec::new(),
            provider: None,
        }
    }
}

pub struct Harness {
    pub broker: Broker,
    pub dir: PathBuf,
    pub cert_file: PathBuf,
}

impl Harness {
    /// Writes the users as a JSON-lines record file (the crate's format), loads it the
    /// way the broker's `--credentials` does, and starts TCP and TLS listeners on port 0.
    pub async fn start(options: Options) -> Self {
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
        let mut scram = ServerConfig::new([7u8; 32]).handshake_timeout(options.handshake_timeout);
        if let Some(policy) = options.record_policy {
            scram = scram.record_policy(policy);
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let settings = Settings {
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            tls: Some((SocketAddr::from(([127, 0, 0, 1], 0)), tls.config)),
            provider,
            scram,
            admission: options.admission,
            limits: options.limits,
            allow_plain: options.allow_plain,
            metrics: options
                .metrics
                .then(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            // Metrics are process-wide: each broker's series carry its own label.
            name: format!("interop-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        };
        let broker = Broker::start(settings).await.unwrap();
        Self {
            broker,
            dir,
            cert_file,
        }
    }

    pub fn tcp(&self) -> SocketAddr {
        self.broker.tcp_addr().unwrap()
    }

    pub fn tls(&self) -> SocketAddr {
        self.broker.tls_addr().unwrap()
    }

    /// Waits for every connection to close, stops the broker and checks that nothing leaked.
    pub async fn finish(self) -> Stats {
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

pub use mqtt_scram_testkit::peer::require;
use mqtt_scram_testkit::process;

pub fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

pub fn scramp_ready() -> bool {
    let ok = std::process::Command::new(python())
        .args(["-c", "import scramp"])
        .output()
        .is_ok_and(|o| o.status.success());
    require(ok, "python3 with scramp")
}

/// Runs a script to completion (bounded) and returns its stdout lines parsed as JSON.
pub fn run_json_lines(program: &str, args: &[String], limit: Duration) -> Vec<Value> {
    let mut command = std::process::Command::new(program);
    command.args(args).current_dir(manifest_dir());
    tokio::task::block_in_place(|| process::json_lines_within(&mut command, limit))
}
