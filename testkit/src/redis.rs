//! Throw-away Redis servers on free loopback ports: one node, a three-master Redis Cluster,
//! and a Sentinel watching a master. Each runs in a temp dir and is stopped (and the dir
//! removed) on drop. Needs Debian's `redis-server` and `redis-tools` (`scripts/test`
//! installs them).

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{TempDir, check, free_port, peer};

/// Whether `redis-server` and `redis-cli` are installed; fails the test otherwise unless
/// `MQTT_SCRAM_SKIP_MISSING_PEERS=1` (see [`peer::require`]).
pub fn available() -> bool {
    peer::require(
        peer::runs("redis-server") && peer::runs("redis-cli"),
        "Redis (redis-server, redis-cli)",
    )
}

/// One `redis-server` process.
pub struct Server {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Server {
    fn spawn(dir: &Path, port: u16, extra: &[&str]) -> Self {
        let dir = dir.join(format!("node-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            dir.to_str().unwrap(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--logfile",
            "redis.log",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut server = Self {
            port,
            dir,
            args,
            child: None,
        };
        server.start();
        server
    }

    /// Starts the process again (after [`Server::stop`]) with the same settings and data dir.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start redis-server");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    /// Stops the process (SIGKILL, like a crash) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the process (SIGSTOP): connections stay open but nothing answers.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Thaws a frozen process (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(child) = &self.child {
            let o = Command::new("kill")
                .args([sig, &child.id().to_string()])
                .output()
                .unwrap();
            check(&o, "kill");
        }
    }

    /// `redis-cli -p PORT ARGS…`, checked; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let o = self.cli_output(args);
        check(&o, &format!("redis-cli {args:?}"));
        String::from_utf8(o.stdout).unwrap()
    }

    /// `redis-cli -p PORT ARGS…`, unchecked.
    pub fn cli_output(&self, args: &[&str]) -> Output {
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// How many times `command` (lowercase, e.g. `hgetall`) ran, from `INFO commandstats`.
    pub fn command_calls(&self, command: &str) -> u64 {
        let info = self.cli(&["INFO", "commandstats"]);
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|l| l.trim().strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .output();
        }
        self.stop();
    }
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("redis on port {port} did not start");
}

/// One standalone server.
pub struct Single {
    /// The server.
    pub server: Server,
    _dir: TempDir,
}

impl Single {
    /// Starts a server, or `None` when Redis is missing and the opt-out is set.
    pub fn start() -> Option<Self> {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments (e.g. `["--requirepass", "pw"]`).
    pub fn start_with(extra: &[&str]) -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = TempDir::new("redis");
        let server = Server::spawn(dir.path(), free_port(), extra);
        Some(Self { server, _dir: dir })
    }
}

/// A Redis Cluster of three masters (no replicas) on loopback.
pub struct Cluster {
    /// The masters.
    pub nodes: Vec<Server>,
    _dir: TempDir,
}

impl Cluster {
    /// Starts three `--cluster-enabled yes` servers and joins them with
    /// `redis-cli --cluster create … --cluster-yes`; waits until the cluster is `ok`.
    pub fn start() -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = TempDir::new("redis-cluster");
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = loop {
                // The cluster bus listens on port + 10000: both must be free.
                let p = free_port();
                if p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
                    break p;
                }
            };
            nodes.push(Server::spawn(
                dir.path(),
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                ],
            ));
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let o = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        check(&o, "redis-cli --cluster create");
        let cluster = Self { nodes, _dir: dir };
        cluster.wait_ok();
        Some(cluster)
    }

    /// Waits until every node reports `cluster_state:ok`.
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self.nodes.iter().all(|n| {
                let o = n.cli_output(&["CLUSTER", "INFO"]);
                String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok")
            });
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// `redis-cli -c` (follows redirects) against the first node.
    pub fn cli(&self, args: &[&str]) -> String {
        let o = Command::new("redis-cli")
            .args([
                "-c",
                "-h",
                "127.0.0.1",
                "-p",
                &self.nodes[0].port.to_string(),
            ])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        check(&o, &format!("redis-cli -c {args:?}"));
        String::from_utf8(o.stdout).unwrap()
    }

    /// Total calls of `command` over all nodes.
    pub fn command_calls(&self, command: &str) -> u64 {
        self.nodes.iter().map(|n| n.command_calls(command)).sum()
    }

    /// Keys held by each node.
    pub fn keys_per_node(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|n| n.cli(&["DBSIZE"]).trim().parse().unwrap())
            .collect()
    }
}

/// A master (optionally with one replica) watched by one Sentinel (quorum 1).
pub struct Sentinel {
    /// The data node.
    pub master: Server,
    /// A replica of the master, if started with [`Sentinel::start_with_replica`].
    pub replica: Option<Server>,
    /// The sentinel process.
    pub sentinel: Server,
    _dir: TempDir,
}

impl Sentinel {
    /// The master's name in the sentinel.
    pub const MASTER_NAME: &'static str = "mymaster";

    /// Starts a master and a sentinel that monitors it; waits until the sentinel knows it.
    pub fn start() -> Option<Self> {
        Self::start_inner(false)
    }

    /// Like [`Sentinel::start`], plus a replica the sentinel can promote when the master
    /// goes away (`down-after-milliseconds` 1000).
    pub fn start_with_replica() -> Option<Self> {
        Self::start_inner(true)
    }

    fn start_inner(with_replica: bool) -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = TempDir::new("redis-sentinel");
        let master = Server::spawn(dir.path(), free_port(), &[]);
        let replica = with_replica.then(|| {
            let port = master.port.to_string();
            let replica = Server::spawn(
                dir.path(),
                free_port(),
                &["--replicaof", "127.0.0.1", &port],
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            while !replica
                .cli(&["INFO", "replication"])
                .contains("master_link_status:up")
            {
                assert!(Instant::now() < deadline, "the replica did not sync");
                std::thread::sleep(Duration::from_millis(50));
            }
            replica
        });
        let sentinel_port = free_port();
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\nprotected-mode no\nsentinel monitor {m} 127.0.0.1 {} 1\nsentinel down-after-milliseconds {m} 1000\nsentinel failover-timeout {m} 5000\n",
                master.port,
                m = Self::MASTER_NAME,
            ),
        )
        .unwrap();
        let sentinel_dir = dir.path().join(format!("node-{sentinel_port}"));
        std::fs::create_dir_all(&sentinel_dir).unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .current_dir(&sentinel_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start redis-server --sentinel");
        let mut sentinel = Server {
            port: sentinel_port,
            dir: sentinel_dir,
            args: vec![conf.to_str().unwrap().to_owned(), "--sentinel".into()],
            child: Some(child),
        };
        // Drain the sentinel's stdout so it never blocks on a full pipe.
        if let Some(out) = sentinel.child.as_mut().and_then(|c| c.stdout.take()) {
            std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
        }
        wait_for_port(sentinel_port);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let o =
                sentinel.cli_output(&["SENTINEL", "get-master-addr-by-name", Self::MASTER_NAME]);
            if String::from_utf8_lossy(&o.stdout).contains(&master.port.to_string()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sentinel does not know the master"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Self {
            master,
            replica,
            sentinel,
            _dir: dir,
        })
    }

    /// The master's port as the sentinel reports it now (changes after a fail-over).
    pub fn current_master_port(&self) -> Option<u16> {
        let o =
            self.sentinel
                .cli_output(&["SENTINEL", "get-master-addr-by-name", Self::MASTER_NAME]);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)?
            .trim()
            .parse()
            .ok()
    }

    /// `redis+sentinel://127.0.0.1:SENTINEL_PORT/mymaster`.
    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://127.0.0.1:{}/{}",
            self.sentinel.port,
            Self::MASTER_NAME
        )
    }
}
