//! A throw-away PostgreSQL cluster on a free loopback port, stopped and removed on drop.
//! Needs Debian's `postgresql` (the workspace's `scripts/test` installs it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{check, peer};

/// The newest `/usr/lib/postgresql/<version>/bin` holding initdb, pg_ctl and psql.
pub fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin");
            ["initdb", "pg_ctl", "psql"]
                .iter()
                .all(|t| bin.join(t).exists())
                .then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL server tool, as the `postgres` user when we are root (initdb refuses root).
fn pg_tool(bin: &Path, tool: &str, args: &[&str]) -> Output {
    let exe = bin.join(tool);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
}

/// A throw-away cluster in a temp dir, on a private port; stopped and removed on drop.
pub struct Cluster {
    /// The server binaries' directory.
    pub bin: PathBuf,
    /// Scratch directory (data, socket, log).
    pub dir: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
}

impl Cluster {
    /// Starts a cluster, or returns `None` when PostgreSQL is missing and the opt-out
    /// variable is set (see [`peer::require`]); fails the test otherwise.
    pub fn start() -> Option<Self> {
        let bin = postgres_bin();
        if !peer::require(bin.is_some(), "PostgreSQL (initdb, pg_ctl, psql)") {
            return None;
        }
        let bin = bin?;
        Some(Self::start_in(bin))
    }

    fn start_in(bin: PathBuf) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mqtt-scram-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            check(
                &Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&dir)
                    .output()
                    .unwrap(),
                "chown",
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster { bin, dir, port };
        let data = cluster.data();
        check(
            &pg_tool(
                &cluster.bin,
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                ],
            ),
            "initdb",
        );
        let hba = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
        std::fs::write(Path::new(&data).join("pg_hba.conf"), hba).unwrap();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\npassword_encryption = 'scram-sha-256'\nfsync = off\n",
            cluster.dir.display()
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(Path::new(&data).join("postgresql.conf"))
            .unwrap()
            .write_all(conf.as_bytes())
            .unwrap();
        let log = cluster.dir.join("server.log");
        check(
            &pg_tool(
                &cluster.bin,
                "pg_ctl",
                &[
                    "-D",
                    &data,
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ),
            "pg_ctl start",
        );
        cluster
    }

    /// The data directory.
    pub fn data(&self) -> String {
        self.dir.join("data").to_str().unwrap().to_owned()
    }

    /// psql as the superuser over the private Unix socket.
    pub fn admin_sql(&self, sql: &str) -> String {
        let o = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        check(&o, &format!("psql {sql:?}"));
        String::from_utf8(o.stdout).unwrap()
    }

    /// psql as `user` over TCP on 127.0.0.1, password from PGPASSWORD (scram-sha-256 in pg_hba).
    pub fn login(&self, user: &str, password: &str) -> Output {
        let conninfo = format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres sslmode=disable",
            self.port
        );
        Command::new(self.bin.join("psql"))
            .args(["-X", "-w", "-A", "-t", &conninfo, "-c", "select 1"])
            .env("PGPASSWORD", password)
            .env_remove("PGSERVICE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg_tool(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
