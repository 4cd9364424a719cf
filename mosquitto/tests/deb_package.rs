//! The Debian package (`scripts/build-deb`, issue 21 §7) on this machine: packages the plugin
//! this `cargo test` built, checks the control fields, installs it with `dpkg -i`, checks
//! the files landed (the `.so` under `/usr/lib/mosquitto/`, the conf.d snippet as a conffile
//! with every line commented out, the README and copyright), starts Mosquitto once with a
//! copy of the snippet as installed (the plugin is not loaded) and once with its settings
//! enabled (pointing at a credential file and mock key the test writes), logs in with SCRAM
//! through the installed `.so` (`mqtt-scram probe`: SHA-256 and SHA-512; a wrong password
//! gets 0x87), and purges the package.
//!
//! Needs root or passwordless sudo for dpkg (otherwise fails, or skips loudly with
//! `MQTT_SCRAM_SKIP_MISSING_PEERS=1`). Runs of this test take turns machine-wide (a lock
//! file held through `flock(1)`); the brokers are the test's own, on free ports (the
//! system's mosquitto service is never touched); the package is purged even when the test
//! fails. A package installed by someone else is left alone: the test then fails and says so.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "plugin/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use mqtt_scram_testkit::mosquitto::{self, Config, Mosquitto};
use mqtt_scram_testkit::{TempDir, check, peer, probe};

use harness::PASSWORD;

const PACKAGE: &str = "mqtt-scram-mosquitto";
const PLUGIN: &str = "/usr/lib/mosquitto/libmqtt_scram_mosquitto.so";
const SNIPPET: &str = "/etc/mosquitto/conf.d/mqtt-scram.conf";
const README: &str = "/usr/share/doc/mqtt-scram-mosquitto/README.md";
const COPYRIGHT: &str = "/usr/share/doc/mqtt-scram-mosquitto/copyright";
/// Held (flock) for the whole test by whichever run is using dpkg.
const LOCK: &str = "/tmp/mqtt-scram-deb-package.lock";
/// Exists while this test has the package installed: a run that was killed before it could
/// purge leaves it, and the next run purges that package instead of refusing to start.
const MARKER: &str = "/tmp/mqtt-scram-deb-package.installed";
/// The snippet's placeholders for the files an operator creates.
const USERS_PLACEHOLDER: &str = "/etc/mosquitto/scram-users.json";
const KEY_PLACEHOLDER: &str = "/etc/mosquitto/scram-mock.key";

/// How to become root: nothing (already root) or `sudo -n`; `None` when neither works and
/// missing peers may be skipped.
fn root_prefix() -> Option<Vec<&'static str>> {
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        return Some(Vec::new());
    }
    let sudo = Command::new("sudo")
        .args(["-n", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if sudo {
        return Some(vec!["sudo", "-n"]);
    }
    let why = "dpkg -i needs root or passwordless sudo";
    assert!(
        std::env::var(peer::SKIP_VARIABLE).as_deref() == Ok("1"),
        "{why} (or set {}=1 to skip this test)",
        peer::SKIP_VARIABLE
    );
    eprintln!(
        "\n********** SKIPPED: {why} ({}=1) **********\n",
        peer::SKIP_VARIABLE
    );
    None
}

/// Whether `program` is on `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Runs `args` (as root when `root` is given); returns its output, whatever the status.
fn run(root: Option<&[&str]>, args: &[&str]) -> Output {
    let mut argv: Vec<&str> = root.unwrap_or_default().to_vec();
    argv.extend_from_slice(args);
    Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"))
}

/// Runs `args` and returns its stdout; fails the test unless it succeeds.
fn run_ok(root: Option<&[&str]>, args: &[&str]) -> String {
    let out = run(root, args);
    check(&out, &args.join(" "));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `dpkg <args>` as root; waits while another program (apt-get, dpkg) holds dpkg's lock.
fn dpkg(root: &[&str], args: &[&str]) -> String {
    let argv: Vec<&str> = std::iter::once("dpkg")
        .chain(args.iter().copied())
        .collect();
    loop {
        let out = run(Some(root), &argv);
        if !String::from_utf8_lossy(&out.stderr).contains("locked by another process") {
            check(&out, &argv.join(" "));
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The package's dpkg status (`installed`, `config-files`, ...); `None` if dpkg never saw it.
fn status() -> Option<String> {
    let out = run(
        None,
        &["dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE],
    );
    let status = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && status != "not-installed").then_some(status)
}

/// An exclusive lock on [`LOCK`] for as long as it lives: `flock(1)` runs `cat` while it
/// holds the lock; closing cat's input (on drop, or when this process dies) releases it.
struct MachineLock(Child);

impl MachineLock {
    fn acquire() -> Self {
        let mut child = Command::new("flock")
            .args([LOCK, "-c", "echo locked && exec cat >/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked", "flock {LOCK} failed");
        Self(child)
    }
}

impl Drop for MachineLock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// The package installed by this test; purged on drop (when the test fails) or by
/// [`Installed::purge`], which checks the result.
struct Installed {
    root: Vec<&'static str>,
    purged: bool,
}

impl Installed {
    fn install(root: &[&'static str], deb: &Path) -> Self {
        std::fs::write(MARKER, "installed by mosquitto/tests/deb_package.rs\n").unwrap();
        let installed = Self {
            root: root.to_vec(),
            purged: false,
        };
        dpkg(root, &["-i", deb.to_str().unwrap()]);
        installed
    }

    fn purge(mut self) {
        self.purged = true;
        dpkg(&self.root, &["-P", PACKAGE]);
        let _ = std::fs::remove_file(MARKER);
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.purged {
            let _ = run(Some(&self.root), &["dpkg", "-P", PACKAGE]);
            let _ = std::fs::remove_file(MARKER);
        }
    }
}

/// Leaves the machine without the package: purges one a killed run of this test left (it
/// left [`MARKER`]); fails if someone else installed it.
fn start_clean(root: &[&str]) {
    let Some(state) = status() else {
        let _ = std::fs::remove_file(MARKER);
        return;
    };
    assert!(
        Path::new(MARKER).exists(),
        "{PACKAGE} is on this machine ({state}) and this test did not install it; it \
         installs and purges that package, so remove it first: dpkg -P {PACKAGE}"
    );
    dpkg(root, &["-P", PACKAGE]);
    let _ = std::fs::remove_file(MARKER);
}

/// `scripts/build-deb --so <the plugin this test built> --out <dir> --fast`.
fn build_deb(out: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-deb");
    let plugin = harness::plugin_path();
    let stdout = run_ok(
        None,
        &[
            script.to_str().unwrap(),
            "--so",
            plugin.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--fast",
        ],
    );
    let deb = PathBuf::from(stdout.trim());
    assert!(deb.is_file(), "build-deb printed {stdout:?}");
    deb
}

/// The snippet with its settings (`#name value`) enabled and the placeholder paths replaced
/// by the test's files; its prose (`# ...`) stays commented.
fn enable(snippet: &str, users: &Path, key: &Path) -> String {
    assert!(snippet.contains(USERS_PLACEHOLDER) && snippet.contains(KEY_PLACEHOLDER));
    snippet
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(setting) if setting.starts_with(|c: char| c.is_ascii_alphabetic()) => setting
                .replace(USERS_PLACEHOLDER, users.to_str().unwrap())
                .replace(KEY_PLACEHOLDER, key.to_str().unwrap()),
            _ => line.to_owned(),
        })
        .map(|line| line + "\n")
        .collect()
}

/// A broker whose configuration includes a directory holding `snippet` as `mqtt-scram.conf`.
fn broker_with(dir: &TempDir, name: &str, snippet: &str) -> Option<Mosquitto> {
    let conf_d = dir.join(name);
    std::fs::create_dir(&conf_d).unwrap();
    std::fs::write(conf_d.join("mqtt-scram.conf"), snippet).unwrap();
    Mosquitto::start(&Config::default().line(format!("include_dir {}", conf_d.display())))
}

#[test]
fn the_package_installs_enables_the_plugin_through_its_snippet_and_purges() {
    if !mosquitto::available() {
        return;
    }
    let Some(root) = root_prefix() else {
        return;
    };
    for tool in ["dpkg-deb", "dpkg-shlibdeps", "flock", "strip"] {
        if !peer::require(on_path(tool), tool) {
            return;
        }
    }
    let _lock = MachineLock::acquire();
    start_clean(&root);

    // The package and its control fields.
    let dir = TempDir::new("deb-package");
    let deb = build_deb(dir.path());
    let field = |name: &str| run_ok(None, &["dpkg-deb", "-f", deb.to_str().unwrap(), name]);
    assert_eq!(field("Package").trim(), PACKAGE);
    // Cargo's pre-release `-rc.1` is Debian's `~rc.1` (sorted before the release).
    let version = env!("CARGO_PKG_VERSION").replacen('-', "~", 1);
    assert_eq!(field("Version").trim(), version);
    let arch = run_ok(None, &["dpkg", "--print-architecture"]);
    assert_eq!(field("Architecture").trim(), arch.trim());
    let depends = field("Depends");
    assert!(depends.starts_with("mosquitto (>= 2.0)"), "{depends}");
    assert!(depends.contains("libc6"), "dpkg-shlibdeps: {depends}");

    let installed = Installed::install(&root, &deb);
    assert_eq!(status().as_deref(), Some("installed"));
    let listed = dpkg(&root, &["-L", PACKAGE]);
    for file in [PLUGIN, SNIPPET, README, COPYRIGHT] {
        assert!(
            listed.lines().any(|l| l == file),
            "{file} not in:\n{listed}"
        );
        assert!(Path::new(file).is_file(), "{file} is missing");
    }
    let conffiles = run_ok(None, &["dpkg-query", "-W", "-f=${Conffiles}", PACKAGE]);
    assert!(conffiles.contains(SNIPPET), "conffiles: {conffiles}");
    let snippet = std::fs::read_to_string(SNIPPET).unwrap();
    assert!(
        snippet.lines().all(|l| l.starts_with('#')),
        "a line of {SNIPPET} is not a comment:\n{snippet}"
    );

    // As installed, the snippet changes nothing: the broker starts without the plugin.
    let Some(broker) = broker_with(&dir, "conf.d-as-installed", &snippet) else {
        return;
    };
    let log = broker.stop();
    assert!(!log.contains(PLUGIN), "{log}");

    // Enabled, with the test's users and key: SCRAM logins through the installed plugin.
    let users = dir.join("users.json");
    harness::write_users(&users, &harness::default_users());
    let key = dir.write("mock.key", &format!("{}\n", "5a".repeat(32)));
    harness::private(&key);
    let enabled = enable(&snippet, &users, &key);
    assert!(
        enabled.contains(&format!("\nplugin {PLUGIN}\n")),
        "{enabled}"
    );
    let Some(broker) = broker_with(&dir, "conf.d-enabled", &enabled) else {
        return;
    };
    let target = broker.addr().to_string();
    for hash in ["sha256", "sha512"] {
        let (code, report) = probe::run(&target, PASSWORD, &["-u", "alice", "-m", hash]);
        assert_eq!(code, 0, "{hash}: {report}\n{}", broker.log());
        assert_eq!(report["connack"]["reason_code"], 0, "{report}");
    }
    let (code, report) = probe::run(&target, "wrong", &["-u", "alice"]);
    assert_ne!(code, 0, "{report}");
    assert_eq!(report["connack"]["reason_code"], 0x87, "{report}");
    let log = broker.stop();
    assert!(
        log.contains(PLUGIN),
        "the broker did not load {PLUGIN}:\n{log}"
    );

    installed.purge();
    assert_eq!(
        status(),
        None,
        "{PACKAGE} is still known to dpkg after the purge"
    );
    for file in [PLUGIN, SNIPPET, README, COPYRIGHT] {
        assert!(!Path::new(file).exists(), "{file} is left after the purge");
    }
}
