//! `mqtt-scram serve` as a process: it answers on `--listen`, SIGHUP with a bad credential
//! file keeps the old set (and a good one replaces it), SIGTERM exits 0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mqtt_scram_testkit::{TempDir, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_mqtt-scram");

/// A file-store record for `user` with `password`, from `mqtt-scram gen`.
fn record(user: &str, password: &str) -> String {
    let mut child = Command::new(BIN)
        .args([
            "gen",
            "--user",
            user,
            "--password-stdin",
            "--format",
            "json",
        ])
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
    let out = child.wait_with_output().unwrap();
    mqtt_scram_testkit::check(&out, "mqtt-scram gen");
    String::from_utf8(out.stdout).unwrap()
}

/// EMQX 4's default auth_req (POST, form-encoded); the status code.
fn auth(port: u16, user: &str, password: &str) -> u16 {
    let body = format!("clientid=c1&username={user}&password={password}");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /emqx4/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

/// Waits (up to a minute, not a timed assertion) until `ready` holds.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn serve_reloads_on_sighup_and_exits_0_on_sigterm() {
    let dir = TempDir::new("cli-serve");
    let users = dir.write("users.jsonl", &record("alice", "pencil"));
    let config = dir.write(
        "service.toml",
        &format!("store = {:?}\n[emqx4]\n", users.display().to_string()),
    );
    let log = dir.join("stderr.log");
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let logged = |needle: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches(needle)
            .count()
    };
    wait_for("the listener", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert_eq!(auth(port, "alice", "pencil"), 200);
    assert_eq!(auth(port, "alice", "wrong"), 401);

    // A bad file: the old set stays.
    std::fs::write(&users, "{not json\n").unwrap();
    signal(pid, "HUP");
    wait_for("the failed reload", || logged("not reloaded") >= 1);
    assert_eq!(auth(port, "alice", "pencil"), 200);

    // A good file replaces it.
    std::fs::write(&users, record("bob", "builder")).unwrap();
    signal(pid, "HUP");
    wait_for("the reload", || logged("credential file reloaded") >= 1);
    assert_eq!(auth(port, "bob", "builder"), 200);
    assert_eq!(auth(port, "alice", "pencil"), 401);

    // A bad request: one log line, without the query string.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /nowhere?password=sekrit-in-query HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    wait_for("the bad-request line", || logged("bad request") >= 1);

    signal(pid, "TERM");
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(
        !text.contains("pencil") && !text.contains("builder"),
        "{text}"
    );
    assert!(!text.contains("sekrit"), "{text}");
    assert_eq!(text.matches("bad request").count(), 1, "{text}");
}

#[test]
fn a_bad_configuration_names_the_key_and_exits_2() {
    let dir = TempDir::new("cli-serve-bad");
    for (toml, needle) in [
        ("store = \"u.json\"\nlisten_on = 1\n[emqx4]\n", "listen_on"),
        ("store = \"u.json\"\n[emqx5]\niteration = 1\n", "iteration"),
        ("store = \"u.json\"\n", "no contract table"),
    ] {
        let config = dir.write("service.toml", toml);
        let out = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
}
