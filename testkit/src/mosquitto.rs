//! A throw-away Mosquitto broker: `mosquitto -c <generated conf>` on free loopback ports,
//! usually with the freshly built `mqtt-scram` plugin; stopped (SIGTERM, then SIGKILL) on
//! drop. Needs Debian's `mosquitto` (the workspace's `scripts/test` installs it).

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{TempDir, free_port, peer};

/// The broker executable.
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// Whether Mosquitto is installed; a missing broker fails the test (see [`peer::require`]).
pub fn available() -> bool {
    peer::require(
        Path::new(MOSQUITTO).exists(),
        "Mosquitto (/usr/sbin/mosquitto)",
    )
}

/// A TLS listener: certificate chain and key files (PEM).
#[derive(Clone, Debug)]
pub struct TlsListener {
    /// Certificate (chain) file.
    pub cert_file: PathBuf,
    /// Private key file.
    pub key_file: PathBuf,
}

/// What to start.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The plugin's shared library, if any.
    pub plugin: Option<PathBuf>,
    /// `plugin_opt_<key> <value>` lines.
    pub plugin_options: Vec<(String, String)>,
    /// A TLS listener (on its own free port) next to the plain one.
    pub tls: Option<TlsListener>,
    /// Extra lines for the global section (e.g. `password_file ...`).
    pub extra: Vec<String>,
    /// `per_listener_settings true`: each listener gets its own `allow_anonymous false` and
    /// its own plugin block (one plugin instance per listener).
    pub per_listener_settings: bool,
    /// With [`per_listener_settings`](Self::per_listener_settings): more
    /// `plugin_opt_<key> <value>` lines for the TLS listener's plugin block only.
    pub tls_plugin_options: Vec<(String, String)>,
}

impl Config {
    /// A broker with `plugin` loaded.
    pub fn with_plugin(plugin: impl Into<PathBuf>) -> Self {
        Self {
            plugin: Some(plugin.into()),
            ..Self::default()
        }
    }

    /// Adds `plugin_opt_<key> <value>`.
    pub fn option(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        self.plugin_options
            .push((key.to_owned(), value.to_string()));
        self
    }

    /// Adds a TLS listener.
    pub fn tls(mut self, tls: TlsListener) -> Self {
        self.tls = Some(tls);
        self
    }

    /// One plugin instance per listener (`per_listener_settings true`), as Mosquitto's
    /// per-listener configurations run it.
    pub fn per_listener_settings(mut self) -> Self {
        self.per_listener_settings = true;
        self
    }

    /// Adds `plugin_opt_<key> <value>` to the TLS listener's plugin block only (with
    /// [`per_listener_settings`](Self::per_listener_settings)).
    pub fn tls_option(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        self.tls_plugin_options
            .push((key.to_owned(), value.to_string()));
        self
    }

    /// Adds a raw configuration line.
    pub fn line(mut self, line: impl Into<String>) -> Self {
        self.extra.push(line.into());
        self
    }

    fn render(&self, port: u16, tls_port: Option<u16>) -> String {
        let mut conf = String::new();
        if self.per_listener_settings {
            // Must come before any security setting.
            conf.push_str("per_listener_settings true\n");
        }
        // Stay the user that runs the tests (as root, Mosquitto would switch to `mosquitto`
        // and lose access to the scratch files).
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| whoami().unwrap_or_else(|| "root".into()));
        conf.push_str(&format!("user {user}\n"));
        conf.push_str("log_dest stderr\nlog_type all\nconnection_messages true\n");
        if !self.per_listener_settings {
            conf.push_str("allow_anonymous false\n");
        }
        for line in &self.extra {
            conf.push_str(line);
            conf.push('\n');
        }
        let plugin_block = |conf: &mut String, more: &[(String, String)]| {
            if let Some(plugin) = &self.plugin {
                conf.push_str(&format!("plugin {}\n", plugin.display()));
                for (k, v) in self.plugin_options.iter().chain(more) {
                    conf.push_str(&format!("plugin_opt_{k} {v}\n"));
                }
            }
        };
        if !self.per_listener_settings {
            plugin_block(&mut conf, &[]);
        }
        conf.push_str(&format!("listener {port} 127.0.0.1\n"));
        if self.per_listener_settings {
            conf.push_str("allow_anonymous false\n");
            plugin_block(&mut conf, &[]);
        }
        if let (Some(tls), Some(tls_port)) = (&self.tls, tls_port) {
            conf.push_str(&format!(
                "listener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
                tls.cert_file.display(),
                tls.key_file.display()
            ));
            if self.per_listener_settings {
                conf.push_str("allow_anonymous false\n");
                plugin_block(&mut conf, &self.tls_plugin_options);
            }
        }
        conf
    }
}

fn whoami() -> Option<String> {
    let out = Command::new("id").arg("-un").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A running broker.
pub struct Mosquitto {
    child: Child,
    /// Plain MQTT port on 127.0.0.1.
    pub port: u16,
    /// TLS port, when configured.
    pub tls_port: Option<u16>,
    dir: TempDir,
}

/// Why a broker did not start: its exit status and log.
#[derive(Debug)]
pub struct StartError {
    /// What happened.
    pub message: String,
    /// Everything the broker wrote.
    pub log: String,
}

impl Mosquitto {
    /// Starts a broker and waits until its listeners accept connections; panics (with the
    /// broker's log) if it does not start. `None` when Mosquitto is missing and the
    /// opt-out variable is set.
    pub fn start(config: &Config) -> Option<Self> {
        if !available() {
            return None;
        }
        match Self::try_start(config) {
            Ok(broker) => Some(broker),
            Err(e) => panic!("mosquitto did not start: {}\n{}", e.message, e.log),
        }
    }

    /// Starts a broker; `Err` with its log if it exits or does not listen within 15 s.
    pub fn try_start(config: &Config) -> Result<Self, StartError> {
        let dir = TempDir::new("mosquitto");
        let port = free_port();
        let tls_port = config.tls.as_ref().map(|_| free_port());
        let conf = dir.write("mosquitto.conf", &config.render(port, tls_port));
        let log = std::fs::File::create(dir.join("broker.log")).unwrap();
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {MOSQUITTO}: {e}"));
        let mut broker = Self {
            child,
            port,
            tls_port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = broker.child.try_wait() {
                return Err(StartError {
                    message: format!("exited with {status}"),
                    log: broker.log(),
                });
            }
            let up = |p: u16| {
                TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], p)),
                    Duration::from_millis(200),
                )
                .is_ok()
            };
            if up(port) && tls_port.is_none_or(up) {
                return Ok(broker);
            }
            if Instant::now() > deadline {
                return Err(StartError {
                    message: "not listening after 15 s".into(),
                    log: broker.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The plain listener's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The TLS listener's address.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the broker has logged so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join("broker.log")) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// Waits up to `timeout` for `needle` to appear in the log (after `skip` bytes).
    pub fn wait_for_log(&self, needle: &str, skip: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().get(skip..).is_some_and(|l| l.contains(needle)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal (`HUP`, `TERM`, ...) with `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Asks the broker to reload its configuration (SIGHUP), as `systemctl reload` does.
    pub fn reload(&self) {
        self.signal("HUP");
    }

    /// Resident set size in KiB (`VmRSS` in `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// CPU time (user + system) the broker has used, from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after ")".
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let hz = clock_ticks_per_second();
        Duration::from_nanos(ticks * 1_000_000_000 / hz)
    }

    /// The scratch directory (configuration and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the broker (SIGTERM, then SIGKILL after 5 s) and returns its log.
    pub fn stop(self) -> String {
        self.stop_with_status().1
    }

    /// Stops the broker as [`stop`](Self::stop) does; also returns how it exited (`None` if
    /// it had to be killed).
    pub fn stop_with_status(mut self) -> (Option<std::process::ExitStatus>, String) {
        let status = self.terminate();
        (status, self.log())
    }

    fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}
