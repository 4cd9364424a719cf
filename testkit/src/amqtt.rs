//! A throw-away amqtt broker (0.12.1 from PyPI, pinned in `peers/requirements.txt`) with
//! amqtt's HTTP plugins (`amqtt.contrib.http.UserAuthHttpPlugin` and `TopicAuthHttpPlugin`)
//! pointed at an auth service, on a free loopback port, stopped (SIGTERM, then SIGKILL) on
//! drop. Installed by `scripts/setup-test-peers`.
//!
//! The broker runs from a generated YAML file through `peers/amqtt_broker.py`, not `amqtt
//! -c`: amqtt 0.12.1's command cannot load these plugins (they need a running event loop,
//! and their mode settings are enums a YAML file cannot hold); the script starts amqtt's
//! own `Broker` with the same file, as amqtt's tests do (see the script).

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{TempDir, free_port, peer};

/// The Python interpreter that runs the broker (`PYTHON`, default `python3`).
pub fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `peers/amqtt_broker.py`.
pub fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/amqtt_broker.py")
}

/// The version the tests are written against.
pub const VERSION: &str = "0.12.1";

/// Whether amqtt (the pinned version) is installed; a missing broker fails the test (see
/// [`peer::require`]).
pub fn available() -> bool {
    let version = Command::new(python())
        .args([
            "-c",
            "import amqtt, amqtt.contrib.http, aiohttp; print(amqtt.__version__)",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    peer::require(
        version.as_deref() == Some(VERSION),
        "amqtt 0.12.1 with aiohttp and sqlalchemy (scripts/setup-test-peers)",
    )
}

/// `params_mode` of amqtt's HTTP plugins: how the request carries its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsMode {
    /// A JSON body (also with GET).
    Json,
    /// A form: the query string with GET, an urlencoded body with POST/PUT.
    Form,
}

/// `response_mode` of amqtt's HTTP plugins: how the answer is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// 2xx allow, 4xx deny, anything else no opinion.
    Status,
    /// 2xx with `{"ok": true|false}`; no `ok` key: no opinion.
    Json,
    /// 2xx with the body `ok`; anything else deny.
    Text,
}

/// `request_method` of amqtt's HTTP plugins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
}

impl ParamsMode {
    fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Form => "form",
        }
    }
}

impl ResponseMode {
    fn name(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Json => "json",
            Self::Text => "text",
        }
    }
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Put => "put",
        }
    }
}

/// What to start: where the auth service listens and how the plugins talk to it.
#[derive(Clone, Debug)]
pub struct Config {
    /// The auth service's address (plain HTTP).
    pub service: SocketAddr,
    /// `params_mode`.
    pub params_mode: ParamsMode,
    /// `response_mode`.
    pub response_mode: ResponseMode,
    /// `request_method`.
    pub method: Method,
    /// `user_uri` of the user plugin.
    pub user_uri: String,
    /// `topic_uri` of the topic plugin.
    pub topic_uri: String,
    /// `superuser_uri` (amqtt 0.12.1 accepts it but does not call it).
    pub superuser_uri: Option<String>,
}

impl Config {
    /// Both plugins against `service` with the `/amqtt/*` paths of the auth service.
    pub fn new(
        service: SocketAddr,
        params_mode: ParamsMode,
        response_mode: ResponseMode,
        method: Method,
    ) -> Self {
        Self {
            service,
            params_mode,
            response_mode,
            method,
            user_uri: "/amqtt/user".into(),
            topic_uri: "/amqtt/acl".into(),
            superuser_uri: Some("/amqtt/superuser".into()),
        }
    }

    /// The broker configuration (YAML) for a listener on `port`.
    pub fn render(&self, port: u16) -> String {
        let common = format!(
            "    host: '{}'\n    port: {}\n    request_method: {}\n    params_mode: {}\n    \
             response_mode: {}\n    timeout: 5\n",
            self.service.ip(),
            self.service.port(),
            self.method.name(),
            self.params_mode.name(),
            self.response_mode.name(),
        );
        let superuser = self
            .superuser_uri
            .as_ref()
            .map(|u| format!("    superuser_uri: '{u}'\n"))
            .unwrap_or_default();
        format!(
            "---\nlisteners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\n\
             plugins:\n  amqtt.contrib.http.UserAuthHttpPlugin:\n{common}{superuser}    \
             user_uri: '{}'\n  amqtt.contrib.http.TopicAuthHttpPlugin:\n{common}    \
             topic_uri: '{}'\n",
            self.user_uri, self.topic_uri
        )
    }
}

/// A running amqtt broker.
pub struct Amqtt {
    child: Child,
    /// The MQTT port on 127.0.0.1.
    pub port: u16,
    dir: TempDir,
}

impl Amqtt {
    /// Starts a broker and waits until it accepts connections; panics (with its log) if it
    /// does not start. `None` when amqtt is missing and the opt-out variable is set.
    pub fn start(config: &Config) -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = TempDir::new("amqtt");
        let port = free_port();
        let yaml = dir.write("broker.yaml", &config.render(port));
        let log = std::fs::File::create(dir.join("broker.log")).unwrap();
        let child = Command::new(python())
            .arg(script())
            .arg(&yaml)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
        let mut broker = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("amqtt exited with {status}:\n{}", broker.log());
            }
            if TcpStream::connect_timeout(&broker.addr(), Duration::from_millis(200)).is_ok() {
                return Some(broker);
            }
            assert!(
                Instant::now() < deadline,
                "amqtt not listening after 30 s:\n{}",
                broker.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The scratch directory (configuration and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the broker has logged so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join("broker.log")) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Amqtt {
    fn drop(&mut self) {
        self.terminate();
    }
}
