//! `mqtt-scram probe` against an in-process SCRAM server (tests/fixtures/cli/probe_server.rs:
//! `mqtt_scram::ScramServer` + `mqtt-protocol-core`): accepted, re-authenticated, rejected
//! (wrong password and unknown user look the same), bad server signature, TLS, connection
//! and protocol errors, `--plus` (tls-exporter channel binding) `--min-iterations` and `--max-iterations` — each
//! with its exit code. tests/interop.rs runs it against the example broker.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "fixtures/cli/common.rs"]
mod common;
#[path = "fixtures/cli/probe_server.rs"]
mod probe_server;

use std::io::Write;
use std::process::Output;

use common::*;
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{MemoryProvider, UserRecord};
use serde_json::Value;

fn provider() -> MemoryProvider {
    let store = MemoryProvider::new();
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha256, "secret", b"0123456789abcdef", 4096)
            .unwrap();
    store.insert("alice", UserRecord::new(creds));
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha512, "secret", b"0123456789abcdef", 4096)
            .unwrap();
    store.insert("alice", UserRecord::new(creds));
    store
}

fn probe(server: &probe_server::ProbeServer, extra: &[&str], password: &str) -> Output {
    let target = server.addr.to_string();
    let mut args = vec![
        "probe",
        target.as_str(),
        "--password-stdin",
        "--timeout",
        "20",
    ];
    args.extend(extra);
    run(&args, &format!("{password}\n"))
}

#[test]
fn probe_accepts_and_reauthenticates() {
    let server = probe_server::ProbeServer::start(provider(), 3);
    let o = probe(&server, &["-u", "alice"], "secret");
    let out = ok(&o);
    for needle in [
        "CONNECT sent",
        "AUTH 0x18 received",
        "iterations 4096",
        "salt 16 bytes",
        "extends ours: ok",
        "CONNACK 0x00 Success",
        "server signature: verified",
        "result: accepted",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(!out.contains("secret"));
    eprintln!("probe output:\n{out}");
    let o = probe(&server, &["-u", "alice", "--reauth", "--json"], "secret");
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(report["result"], "accepted");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["connack"]["reason_code"], 0);
    assert_eq!(report["server_signature_verified"], true);
    assert_eq!(report["reauth_server_signature_verified"], true);
    assert_eq!(report["reauthenticated"], true);
    assert!(report["timings_ms"]["total"].as_f64().unwrap() > 0.0);
    let o = probe(
        &server,
        &["-u", "alice", "-m", "sha512", "--json"],
        "secret",
    );
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(report["mechanism"], "SCRAM-SHA-512");
    server.join();
}

/// The report without timings, which are the only part allowed to differ.
fn without_timings(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("timings_ms");
    v.as_object_mut().unwrap().remove("username");
    v.as_object_mut().unwrap().remove("target");
    for step in v["steps"].as_array_mut().unwrap() {
        let s = step.as_object_mut().unwrap();
        s.retain(|k, _| !k.ends_with("_ms") && k != "peer" && k != "client_id");
    }
    v
}

#[test]
fn probe_wrong_password_and_unknown_user_look_the_same() {
    let server = probe_server::ProbeServer::start(provider(), 2);
    let wrong = probe(&server, &["-u", "alice", "--json"], "not-the-password");
    let unknown = probe(&server, &["-u", "bobby", "--json"], "secret");
    server.join();
    assert_eq!(code(&wrong), 1, "{}", stderr(&wrong));
    assert_eq!(code(&unknown), 1, "{}", stderr(&unknown));
    let w: Value = serde_json::from_str(&stdout(&wrong)).unwrap();
    let u: Value = serde_json::from_str(&stdout(&unknown)).unwrap();
    assert_eq!(w["result"], "rejected");
    assert_eq!(w["connack"]["reason_code"], 0x87);
    assert_eq!(w["connack"]["name"], "Not authorized");
    assert_eq!(without_timings(w), without_timings(u));
}

#[test]
fn probe_bad_server_signature_is_a_protocol_error() {
    // The server holds the right StoredKey but a wrong ServerKey: the proof passes, the
    // server's signature does not.
    let good =
        StoredCredentials::derive(HashAlgorithm::Sha256, "secret", b"0123456789abcdef", 4096)
            .unwrap();
    let forged = StoredCredentials::from_parts(
        HashAlgorithm::Sha256,
        good.salt(),
        good.iterations(),
        good.stored_key().as_bytes(),
        &[0u8; 32],
    )
    .unwrap();
    let store = MemoryProvider::new();
    store.insert("alice", UserRecord::new(forged));
    let server = probe_server::ProbeServer::start(store, 1);
    let o = probe(&server, &["-u", "alice"], "secret");
    server.join();
    assert_eq!(code(&o), 3, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("server signature: NOT verified"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn probe_connection_errors_exit_4() {
    // A port nobody listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("127.0.0.1:{port}");
    let o = run(
        &[
            "probe",
            &target,
            "-u",
            "alice",
            "--password-stdin",
            "--timeout",
            "5",
        ],
        "secret\n",
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
    // A server that accepts and closes at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || drop(listener.accept()));
    let o = run(
        &[
            "probe",
            &target,
            "-u",
            "alice",
            "--password-stdin",
            "--json",
        ],
        "secret\n",
    );
    t.join().unwrap();
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["result"], "connection_error");
}

#[test]
fn probe_garbage_from_server_is_a_protocol_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 512];
        let _ = std::io::Read::read(&mut s, &mut buf);
        // PUBLISH before CONNACK, then junk.
        let _ = s.write_all(&[0x30, 0x03, 0x00, 0x01, b'a', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        std::thread::sleep(std::time::Duration::from_millis(500));
    });
    let o = run(
        &["probe", &target, "-u", "alice", "--password-stdin"],
        "secret\n",
    );
    t.join().unwrap();
    assert_eq!(code(&o), 3, "stdout: {} stderr: {}", stdout(&o), stderr(&o));
}

#[test]
fn probe_over_tls_checks_the_certificate() {
    let (ca_pem, config) = probe_server::tls_config();
    let dir = TempDir::new("cli-tls");
    let ca = dir.write("ca.pem", &ca_pem);
    let server = probe_server::ProbeServer::start_with(provider(), 4, Some(config));
    let ca_arg = ca.to_str().unwrap();
    let o = probe(
        &server,
        &[
            "-u",
            "alice",
            "--tls",
            "--ca",
            ca_arg,
            "--server-name",
            "localhost",
            "--reauth",
        ],
        "secret",
    );
    let out = ok(&o);
    assert!(
        out.contains("TLS handshake done") && out.contains("server signature: verified"),
        "{out}"
    );
    // The risky option says so in its name (issue 21 §6); the old name still works.
    for flag in ["--dangerous-accept-invalid-certs", "--insecure"] {
        let o = probe(&server, &["-u", "alice", "--tls", flag], "secret");
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("--dangerous-accept-invalid-certs"),
            "warns: {}",
            stderr(&o)
        );
    }
    // Not signed by any built-in root: the handshake fails, a connection error.
    let o = probe(
        &server,
        &["-u", "alice", "--tls", "--server-name", "localhost"],
        "secret",
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("TLS handshake failed"),
        "{}",
        stderr(&o)
    );
    server.join();
}

#[test]
fn probe_plus_over_tls_binds_the_connection() {
    // The server side computes the same tls-exporter from its rustls connection; the login
    // (and the re-authentication) only succeed if both ends agree on it.
    let (ca_pem, config) = probe_server::tls_config();
    let dir = TempDir::new("cli-tls-plus");
    let ca = dir.write("ca.pem", &ca_pem);
    let server = probe_server::ProbeServer::start_with(provider(), 2, Some(config));
    let ca_arg = ca.to_str().unwrap();
    let tls = [
        "-u",
        "alice",
        "--tls",
        "--plus",
        "--ca",
        ca_arg,
        "--server-name",
        "localhost",
        "--reauth",
    ];
    let o = probe(&server, &tls, "secret");
    let out = ok(&o);
    for needle in [
        "TLS handshake done: TLSv1_3",
        "channel binding: tls-exporter, 32 bytes",
        "method SCRAM-SHA-256-PLUS, channel binding tls-exporter",
        "AUTH 0x19 sent: re-authentication, method SCRAM-SHA-256-PLUS, channel binding tls-exporter",
        "server signature: verified",
        "result: accepted",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    let mut args = tls.to_vec();
    args.extend(["-m", "sha512", "--json"]);
    let o = probe(&server, &args, "secret");
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    server.join();
    assert_eq!(report["result"], "accepted");
    assert_eq!(report["mechanism"], "SCRAM-SHA-512-PLUS");
    assert_eq!(report["channel_binding"], "tls-exporter");
    assert_eq!(report["tls_version"], "TLSv1_3");
    assert_eq!(report["server_signature_verified"], true);
    assert_eq!(report["reauth_server_signature_verified"], true);
    let steps = report["steps"].as_array().unwrap();
    let step = |name: &str| steps.iter().find(|s| s["step"] == name).unwrap().clone();
    assert_eq!(step("channel_binding")["type"], "tls-exporter");
    assert_eq!(step("channel_binding")["data_len"], 32);
    assert_eq!(step("connect_sent")["channel_binding"], "tls-exporter");
    assert_eq!(step("reauth_sent")["channel_binding"], "tls-exporter");
}

#[test]
fn probe_plus_without_tls_is_a_usage_error() {
    // Refused while parsing the command line: nothing is connected to.
    let o = run(
        &[
            "probe",
            "127.0.0.1:1",
            "-u",
            "alice",
            "--plus",
            "--password-stdin",
        ],
        "secret\n",
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--tls"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[test]
fn probe_plus_over_tls12_is_a_protocol_error() {
    // No tls-exporter without TLS 1.3: the probe stops after the handshake, before CONNECT.
    let (ca_pem, config) = probe_server::tls12_config();
    let dir = TempDir::new("cli-tls12-plus");
    let ca = dir.write("ca.pem", &ca_pem);
    let server = probe_server::ProbeServer::start_with(provider(), 1, Some(config));
    let ca_arg = ca.to_str().unwrap();
    let o = probe(
        &server,
        &[
            "-u",
            "alice",
            "--tls",
            "--plus",
            "--ca",
            ca_arg,
            "--server-name",
            "localhost",
            "--json",
        ],
        "secret",
    );
    server.join();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["result"], "protocol_error");
    assert_eq!(report["tls_version"], "TLSv1_2");
    assert_eq!(report["channel_binding"], Value::Null);
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains("--plus needs TLS 1.3") && error.contains("TLSv1_2"),
        "{error}"
    );
    assert!(
        !report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"] == "connect_sent"),
        "{report}"
    );
}

#[test]
fn probe_min_iterations_sets_the_lowest_accepted_count() {
    let store = MemoryProvider::new();
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha256, "secret", b"0123456789abcdef", 1024)
            .unwrap();
    store.insert("alice", UserRecord::new(creds));
    let server = probe_server::ProbeServer::start(store, 3);
    // Below the default window (4096): refused before any PBKDF2 work, with a hint.
    let o = probe(&server, &["-u", "alice"], "secret");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--min-iterations 1024"),
        "{}",
        stderr(&o)
    );
    let o = probe(
        &server,
        &["-u", "alice", "--min-iterations", "1024", "--json"],
        "secret",
    );
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(
        report["iteration_window"],
        serde_json::json!([1024, 1_000_000])
    );
    assert_eq!(report["server_signature_verified"], true);
    let o = probe(
        &server,
        &["-u", "alice", "--min-iterations", "1000"],
        "secret",
    );
    assert!(ok(&o).contains("iterations 1024"));
    server.join();
    // Out of range: a usage error.
    for bad in [
        &["--min-iterations", "0"][..],
        &["--min-iterations", "many"],
        &["--max-iterations", "0"],
        &["--min-iterations", "5000", "--max-iterations", "4096"],
    ] {
        let mut args = vec!["probe", "127.0.0.1:1", "-u", "alice", "--password-stdin"];
        args.extend(bad);
        let o = run(&args, "secret\n");
        assert_eq!(code(&o), 2, "{bad:?}: {}", stderr(&o));
    }
}

#[test]
fn probe_max_iterations_sets_the_highest_accepted_count() {
    // What `gen -i N` above the client's default window tells the user to pass.
    let server = probe_server::ProbeServer::start(provider(), 2);
    let o = probe(
        &server,
        &[
            "-u",
            "alice",
            "--min-iterations",
            "1024",
            "--max-iterations",
            "2048",
        ],
        "secret",
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--max-iterations 4096"),
        "{}",
        stderr(&o)
    );
    let o = probe(
        &server,
        &["-u", "alice", "--max-iterations", "4096", "--json"],
        "secret",
    );
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(report["iteration_window"], serde_json::json!([4096, 4096]));
    assert_eq!(report["result"], "accepted");
    server.join();
}
