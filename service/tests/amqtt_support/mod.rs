//! Shared pieces of the amqtt tests: the service on a free loopback port (its own Tokio
//! runtime, backed by a throw-away Redis), and the Mosquitto command-line clients.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use mqtt_scram_service::Service as AuthService;
use mqtt_scram_service::config::ServiceConfig;
use mqtt_scram_testkit::process::output_within;
use mqtt_scram_testkit::redis::Single;
use mqtt_scram_testkit::{TempDir, peer};

/// RFC 7677's test user: password `pencil`, 4096 iterations.
pub const PASSWORD: &str = "pencil";
const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const STORED_KEY: &str = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=";
const SERVER_KEY: &str = "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

/// alice may use `alice/#` (read and write); `root` is a superuser with no ACL entry.
pub const ACL: &str = "user alice\ntopic alice/#\n";

/// The service with the `[amqtt]` table `amqtt_table`, a Redis store holding `alice` and
/// `root` (superuser), and [`ACL`].
pub struct Service {
    pub runtime: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    pub redis: Single,
    _dir: TempDir,
}

impl Service {
    /// `None` when Redis is missing and the opt-out is set.
    pub fn start(amqtt_table: &str) -> Option<Self> {
        let redis = Single::start()?;
        for (user, superuser) in [("alice", "false"), ("root", "true")] {
            let key = format!("mqtt_scram:SCRAM-SHA-256:{user}");
            let reply = redis.server.cli(&[
                "HSET",
                &key,
                "salt",
                SALT,
                "stored_key",
                STORED_KEY,
                "server_key",
                SERVER_KEY,
                "iterations",
                "4096",
                "is_superuser",
                superuser,
            ]);
            assert!(reply.trim() == "5", "HSET: {reply}");
        }
        let dir = TempDir::new("service-amqtt");
        let acl = dir.write("acl", ACL);
        let toml = format!(
            "store = \"{}\"\nacl_file = \"{}\"\nlookup_timeout = 2\n{amqtt_table}\n",
            redis.server.url(),
            acl.display()
        );
        let config = ServiceConfig::from_toml(&toml).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = runtime.block_on(async {
            let service = AuthService::new(&config).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(service.serve(listener, std::future::pending()));
            addr
        });
        Some(Self {
            runtime,
            addr,
            redis,
            _dir: dir,
        })
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Whether the Mosquitto clients are installed (a missing peer fails unless opted out).
pub fn clients_available() -> bool {
    peer::require(
        std::path::Path::new("/usr/bin/mosquitto_pub").exists(),
        "mosquitto-clients (mosquitto_pub, mosquitto_sub)",
    )
}

const LIMIT: Duration = Duration::from_secs(60);

fn base(program: &str, broker: SocketAddr, user: &str, password: &str) -> Command {
    // Line-buffered stdout (coreutils `stdbuf`): the SUBACK and message lines of a running
    // `mosquitto_sub` must reach the pipe as they are printed.
    let mut c = Command::new("stdbuf");
    c.args(["-oL", program]);
    c.args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(["-V", "mqttv311", "-u", user, "-P", password]);
    c
}

/// `mosquitto_pub` of one QoS 1 message.
pub fn publish(broker: SocketAddr, user: &str, password: &str, topic: &str, text: &str) -> Output {
    let mut c = base("mosquitto_pub", broker, user, password);
    c.args(["-q", "1", "-t", topic, "-m", text]);
    output_within(&mut c, None, LIMIT)
}

/// Panics unless the client connected and published.
pub fn assert_connects(broker: SocketAddr, user: &str, password: &str, topic: &str) {
    let out = publish(broker, user, password, topic, "hello");
    assert!(
        out.status.success(),
        "{user} should connect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Panics unless the broker refused the connection.
pub fn assert_refused(broker: SocketAddr, user: &str, password: &str) {
    let out = publish(broker, user, password, "alice/x", "hello");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{user} should be refused");
    assert!(stderr.contains("Connection Refused"), "{user}: {stderr}");
}

/// Subscribes to `filters` (QoS 0), exits once acknowledged (`-E`), and returns the
/// granted QoS list of the SUBACK (`128` for a refused filter).
pub fn subscribe_granted(
    broker: SocketAddr,
    user: &str,
    password: &str,
    filters: &[&str],
) -> Vec<u8> {
    let mut c = base("mosquitto_sub", broker, user, password);
    c.args(["-E", "-d"]);
    for f in filters {
        c.args(["-t", f]);
    }
    let out = output_within(&mut c, None, LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // "Subscribed (mid: 1): 0, 128"
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Subscribed (mid: "))
        .unwrap_or_else(|| {
            panic!(
                "no SUBACK for {user}: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let granted = line.split_once("): ").map_or("", |(_, g)| g);
    granted
        .split(',')
        .map(|g| g.trim().parse().unwrap())
        .collect()
}

/// A running `mosquitto_sub -C 1 -v` that has its subscription acknowledged.
pub struct Subscriber {
    child: Child,
    lines: BufReader<ChildStdout>,
}

impl Subscriber {
    /// Subscribes `user` to `filter` and waits for the SUBACK (printed with `-d`).
    pub fn start(broker: SocketAddr, user: &str, password: &str, filter: &str) -> Self {
        let mut c = base("mosquitto_sub", broker, user, password);
        c.args(["-d", "-v", "-C", "1", "-W", "20", "-t", filter])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        loop {
            let mut line = String::new();
            assert!(
                lines.read_line(&mut line).unwrap() > 0,
                "mosquitto_sub ended before SUBACK"
            );
            if line.starts_with("Subscribed (mid: ") {
                assert!(!line.contains("128"), "subscription refused: {line}");
                break;
            }
        }
        Self { child, lines }
    }

    /// The first message received, as `topic payload` (`None`: none within 60 s).
    pub fn first_message(mut self) -> Option<String> {
        loop {
            let mut line = String::new();
            if self.lines.read_line(&mut line).unwrap() == 0 {
                return None;
            }
            // Debug lines start with "Client "; the -v message line is "topic payload".
            if !line.starts_with("Client ") && !line.trim().is_empty() {
                let _ = self.child.wait();
                return Some(line.trim().to_owned());
            }
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
