//! `mqtt-scram gen --format postgres` against a real PostgreSQL server: the verifier is set
//! with `ALTER ROLE ... PASSWORD '<verifier>'`, then psql logs in over TCP with SCRAM using the
//! password (and fails with a wrong one).
//!
//! Needs PostgreSQL's server binaries (`scripts/install-test-deps.sh` installs them). Without
//! them this test FAILS, unless `MQTT_SCRAM_SKIP_POSTGRES=1` is set, which skips it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The newest `/usr/lib/postgresql/<version>/bin` holding initdb, pg_ctl and psql.
fn postgres_bin() -> Option<PathBuf> {
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

fn check(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A throw-away cluster in a temp dir, on a private port; stopped and removed on drop.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start(bin: PathBuf) -> Self {
        let dir = std::env::temp_dir().join(format!("mqtt-scram-pg-{}", std::process::id()));
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

    fn data(&self) -> String {
        self.dir.join("data").to_str().unwrap().to_owned()
    }

    /// psql as the superuser over the private Unix socket.
    fn admin_sql(&self, sql: &str) -> String {
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
    fn login(&self, user: &str, password: &str) -> Output {
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

fn gen_verifier(user: &str, password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mqtt-scram"))
        .args(["gen", user, "--password-stdin", "--format", "postgres"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    check(&o, "mqtt-scram gen --format postgres");
    String::from_utf8(o.stdout).unwrap().trim_end().to_owned()
}

#[test]
fn postgres_accepts_generated_verifier() {
    let Some(bin) = postgres_bin() else {
        let message = "PostgreSQL server binaries (initdb, pg_ctl, psql under /usr/lib/postgresql/*/bin) \
                       are not installed: run scripts/install-test-deps.sh";
        if std::env::var("MQTT_SCRAM_SKIP_POSTGRES").as_deref() == Ok("1") {
            eprintln!(
                "\n**************** SKIPPED postgres_accepts_generated_verifier: {message} ****************\n"
            );
            return;
        }
        panic!("{message} (or set MQTT_SCRAM_SKIP_POSTGRES=1 to skip this test loudly)");
    };
    let cluster = Cluster::start(bin);
    let password = "correct horse battery staple";
    let verifier = gen_verifier("alice", password);
    assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
    cluster.admin_sql("CREATE ROLE alice LOGIN");
    cluster.admin_sql(&format!("ALTER ROLE alice PASSWORD '{verifier}'"));
    // PostgreSQL keeps a well-formed verifier as given rather than hashing it again.
    let stored = cluster.admin_sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'alice'");
    assert_eq!(stored.trim(), verifier);

    let ok = cluster.login("alice", password);
    check(&ok, "SCRAM login with the right password");
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "1");

    let bad = cluster.login("alice", "wrong password");
    assert!(!bad.status.success(), "a wrong password must not log in");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("password authentication failed"), "{err}");
}
