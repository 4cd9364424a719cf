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

    /// Stops the server now (`pg_ctl stop -m immediate`, like a crash); [`Cluster::restart`]
    /// brings it back on the same port with the same data.
    pub fn stop(&self) {
        check(
            &pg_tool(
                &self.bin,
                "pg_ctl",
                &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
            ),
            "pg_ctl stop",
        );
    }

    /// Starts a stopped server again.
    pub fn restart(&self) {
        let log = self.dir.join("server.log");
        check(
            &pg_tool(
                &self.bin,
                "pg_ctl",
                &[
                    "-D",
                    &self.data(),
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
    }

    /// Sets the password of `role` (which may log in over TCP with SCRAM then).
    pub fn set_password(&self, role: &str, password: &str) {
        self.admin_sql(&format!("ALTER ROLE {role} PASSWORD '{password}'"));
    }

    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/postgres`.
    pub fn url(&self, user: &str, password: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// Turns TLS on with a fresh CA and a server certificate for `127.0.0.1` and
    /// `localhost`, and restarts the server. Plain connections keep working.
    pub fn enable_tls(&self) -> TlsFiles {
        let files = tls_files(&self.dir.join("tls"), &["127.0.0.1", "localhost"]);
        self.use_tls_files(&files);
        files
    }

    /// Turns TLS on with these files (e.g. [`expired_tls_files`], or another CA's), or
    /// swaps them in, and restarts the server.
    pub fn use_tls_files(&self, files: &TlsFiles) {
        let dir = files.server_cert.parent().unwrap().to_path_buf();
        if is_root() {
            check(
                &Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir)
                    .output()
                    .unwrap(),
                "chown",
            );
        }
        let conf = format!(
            "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            files.server_cert.display(),
            files.server_key.display()
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(Path::new(&self.data()).join("postgresql.conf"))
            .unwrap()
            .write_all(conf.as_bytes())
            .unwrap();
        self.stop();
        self.restart();
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

/// PEM files of a throw-away CA, a server certificate and a client certificate.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The server certificate (signed by the CA).
    pub server_cert: PathBuf,
    /// The server key (mode 0600).
    pub server_key: PathBuf,
    /// A client certificate (CN `client`, signed by the CA).
    pub client_cert: PathBuf,
    /// The client key.
    pub client_key: PathBuf,
}

/// Writes a fresh CA, a server certificate for `names` and a client certificate into `dir`.
pub fn tls_files(dir: &Path, names: &[&str]) -> TlsFiles {
    write_tls_files(dir, names, false)
}

/// Like [`tls_files`], but the server certificate expired (valid in 2000 only).
pub fn expired_tls_files(dir: &Path, names: &[&str]) -> TlsFiles {
    write_tls_files(dir, names, true)
}

fn write_tls_files(dir: &Path, names: &[&str], expired: bool) -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    std::fs::create_dir_all(dir).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut server_params = CertificateParams::new(names).unwrap();
    if expired {
        server_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        server_params.not_after = rcgen::date_time_ymd(2000, 12, 31);
    }
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["client".to_string()]).unwrap();
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "client");
    let client_cert = client_params.signed_by(&client_key, &ca).unwrap();
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    };
    std::fs::write(&files.ca, ca.pem()).unwrap();
    std::fs::write(&files.server_cert, server_cert.pem()).unwrap();
    std::fs::write(&files.server_key, server_key.serialize_pem()).unwrap();
    std::fs::write(&files.client_cert, client_cert.pem()).unwrap();
    std::fs::write(&files.client_key, client_key.serialize_pem()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in [&files.server_key, &files.client_key] {
            std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    files
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
