//! The broker binary with a store URL (`--store URL`, as the root README says: "give …
//! the example front … a URL") and with a `[store]` table in `--config FILE`, logged in to
//! by a real MQTT 5 client (rust-mqtt driving this crate's SCRAM client, testkit):
//!
//! - `--store users.json` (a credential file), and `--store` replacing the file's `[store]`;
//! - `--store postgres://…` against a real PostgreSQL started by the test (testkit; a
//!   missing server FAILS unless `MQTT_SCRAM_SKIP_MISSING_PEERS=1`), and the same store as
//!   a `[store]` table with `password_file`; the start-up log names the store with the
//!   password redacted;
//! - bad URLs: a clear error naming the problem, never the password, and a non-zero exit.
//!
//! Every wait is bounded; everything listens on 127.0.0.1 port 0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqtt_scram::provider::UserRecord;
use mqtt_scram::{HashAlgorithm, Mechanism, StoredCredentials};
use mqtt_scram_stores::postgres::{PostgresConfig, PostgresWriter};
use mqtt_scram_stores::record::CredentialRecord;
use mqtt_scram_testkit::rust_mqtt::{Session, login_publish_reauthenticate};
use mqtt_scram_testkit::{TempDir, process};

const PASSWORD: &str = "correct horse battery staple";
const DB_PASSWORD: &str = "db-s3cret-pw";
const STEP: Duration = Duration::from_secs(20);

fn users() -> Vec<(String, UserRecord)> {
    [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
        .into_iter()
        .map(|hash| {
            let salt: [u8; 16] = rand::random();
            let credentials = StoredCredentials::derive(hash, PASSWORD, &salt, 4096).unwrap();
            ("alice".to_string(), UserRecord::new(credentials))
        })
        .collect()
}

fn write_users(dir: &TempDir) -> String {
    let mut lines = String::new();
    for (name, record) in users() {
        lines.push_str(&serde_json::to_string(&CredentialRecord::new(&name, &record)).unwrap());
        lines.push('\n');
    }
    path(&dir.write("users.json", &lines))
}

fn mock_key(dir: &TempDir) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let file = dir.write("mock.key", &"5a".repeat(32));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    path(&file)
}

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn broker_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mqtt-scram-broker"));
    // The broker's own default filter (`info,redis=error`).
    command.env_remove("RUST_LOG").args(args);
    command
}

/// The broker binary, running until dropped (killed), with its log collected.
struct Running {
    child: Child,
    tcp: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    /// Starts the broker on a free port and waits (bounded) for its "ready" line.
    fn start(args: &[&str]) -> Self {
        let mut all = vec!["--tcp", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut child = broker_command(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready, wait) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("tcp=Some(").nth(1) {
                    if let Some(addr) = rest.split(')').next() {
                        let _ = ready.send(addr.to_string());
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = match wait.recv_timeout(STEP) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the broker did not get ready:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Self {
            child,
            tcp: addr.parse().unwrap(),
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// A real client logs in (SHA-256 and SHA-512), publishes to itself and
    /// re-authenticates.
    async fn alice_logs_in(&self) {
        for (mechanism, client_id) in [
            (Mechanism::ScramSha256, "store-url-256"),
            (Mechanism::ScramSha512, "store-url-512"),
        ] {
            login_publish_reauthenticate(
                self.tcp,
                mechanism,
                "alice",
                PASSWORD,
                Session {
                    client_id,
                    topic: "store/url",
                    step: STEP,
                },
            )
            .await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_file_by_store_url_and_store_replacing_the_files_table() {
    let dir = TempDir::new("broker-store-file");
    let users = write_users(&dir);
    let key = mock_key(&dir);

    let broker = Running::start(&["--store", &users, "--mock-key-file", &key]);
    broker.alice_logs_in().await;
    assert!(
        broker.log().contains(&format!("file {users}")),
        "{}",
        broker.log()
    );
    drop(broker);

    // A `[store]` table in the configuration file …
    let config = dir.write(
        "broker.toml",
        &format!(
            "[store]\nkind = \"file\"\npath = \"{users}\"\n\n[scram]\nmock_key_file = \"{key}\"\n"
        ),
    );
    let broker = Running::start(&["--config", &path(&config)]);
    broker.alice_logs_in().await;
    drop(broker);

    // … which `--store` replaces (the file's store does not even exist).
    let missing = dir.write(
        "missing.toml",
        &format!(
            "[store]\nkind = \"file\"\npath = \"{}\"\n",
            path(&dir.join("nonexistent.json"))
        ),
    );
    let broker = Running::start(&[
        "--config",
        &path(&missing),
        "--store",
        &users,
        "--mock-key-file",
        &key,
    ]);
    broker.alice_logs_in().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_by_url_and_by_table() {
    let Some(cluster) = mqtt_scram_testkit::postgres::Cluster::start() else {
        return;
    };
    cluster.set_password("postgres", DB_PASSWORD);
    let url = cluster.url("postgres", DB_PASSWORD);
    let mut writer = PostgresWriter::connect(&PostgresConfig::new(url.clone()))
        .await
        .unwrap();
    writer.create_schema().await.unwrap();
    writer.write_all(&users(), 100, |_| {}).await.unwrap();
    drop(writer);
    let dir = TempDir::new("broker-store-postgres");
    let key = mock_key(&dir);

    let broker =
        tokio::task::block_in_place(|| Running::start(&["--store", &url, "--mock-key-file", &key]));
    broker.alice_logs_in().await;
    let log = broker.log();
    assert!(
        log.contains(&format!(
            "postgres postgres://postgres:***@127.0.0.1:{}/postgres",
            cluster.port
        )),
        "{log}"
    );
    assert!(!log.contains(DB_PASSWORD), "{log}");
    drop(broker);

    // The README's `[store]` table: the URL without the password, which comes from a file.
    let password_file = dir.write("db.password", DB_PASSWORD);
    let config = dir.write(
        "broker.toml",
        &format!(
            "[store]\nkind = \"cached\"\nttl = \"30s\"\n\n[store.inner]\nkind = \"postgres\"\n\
             url = \"postgres://postgres@127.0.0.1:{}/postgres\"\npassword_file = \"{}\"\n\n\
             [scram]\nmock_key_file = \"{key}\"\n",
            cluster.port,
            path(&password_file)
        ),
    );
    let broker = tokio::task::block_in_place(|| Running::start(&["--config", &path(&config)]));
    broker.alice_logs_in().await;
    assert!(
        broker
            .log()
            .contains("cached (postgres postgres://postgres@127.0.0.1"),
        "{}",
        broker.log()
    );
}

/// The broker exits non-zero at once, and its error names the problem without the password.
fn refused(args: &[&str], problem: &str) {
    let out = process::output_within(&mut broker_command(args), None, STEP);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} started:\n{stderr}");
    assert!(
        stderr.contains(problem),
        "{args:?}: no {problem:?} in\n{stderr}"
    );
    assert!(
        !stderr.contains("s3cret"),
        "{args:?} shows the password:\n{stderr}"
    );
}

#[test]
fn a_bad_store_url_is_refused_naming_the_problem_not_the_password() {
    refused(
        &["--store", "mongodb://mqtt:s3cret-pw@db.example/mqtt"],
        "unknown URL scheme \"mongodb\"",
    );
    refused(
        &[
            "--store",
            "postgres://mqtt:s3cret-pw@db.example/mqtt?sslmode=disable",
        ],
        "tls.dangerous_plaintext",
    );
    refused(
        &["--store", "redis://:s3cret-pw@db.example:6379"],
        "tls.dangerous_plaintext",
    );
    refused(
        &["--store", "postgres://mqtt:s3cret-pw@/mqtt"],
        "names no host",
    );
    refused(&["--store", "redis+cluster://:s3cret-pw@"], "--store");
    // In a configuration file too: the error gives the line, not the line's text.
    let dir = TempDir::new("broker-store-bad");
    let config = dir.write(
        "broker.toml",
        "store = { kind = \"postgres\", url = \"postgres://mqtt:s3cret-pw@127.0.0.1/mqtt\", pool = 3 }\n",
    );
    refused(&["--config", &path(&config)], "pool");
    refused(
        &["--store", "users.json", "--credentials", "users.json"],
        "cannot be used with",
    );
}

/// The README's complete `[store]` example is a valid configuration file.
#[test]
fn the_readme_store_table_is_a_valid_configuration() {
    use mqtt_scram_stores::config::StoreConfig;
    let readme = include_str!("../README.md");
    let section = readme.split("### `[store]`").nth(1).unwrap();
    let toml = section
        .split("```toml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let config = mqtt_scram_broker::config::FileConfig::parse(toml).unwrap();
    let Some(StoreConfig::Chain(chain)) = &config.store else {
        panic!("{:?}", config.store)
    };
    assert!(matches!(chain.stores[1], StoreConfig::Cached(_)));
    // `store = "URL"` is read as `--store` reads it.
    let by_url = mqtt_scram_broker::config::FileConfig::parse(
        "store = \"redis+cluster://127.0.0.1:7000\"\n",
    )
    .unwrap();
    assert!(matches!(by_url.store, Some(StoreConfig::Redis(_))));
}
