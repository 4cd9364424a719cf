//! `mqtt-scram import` / `export` follow the stores' TLS rule (issue 20 §4): a store that
//! is not on loopback is reached over verified TLS only; plaintext or unchecked TLS is a
//! usage error naming the switch (`--dangerous-plaintext`,
//! `--dangerous-accept-invalid-certs`), which, when given, is warned about. No server and
//! no network needed: the refusals come before any connection.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "fixtures/cli/common.rs"]
mod common;

use common::*;

#[test]
fn weak_transport_to_a_remote_store_needs_a_dangerous_switch() {
    for (url, setting, flag) in [
        (
            "postgres://app:pw-x1@db.example/mqtt?sslmode=disable",
            "postgres.tls.dangerous_plaintext",
            "--dangerous-plaintext",
        ),
        (
            "host=db.example user=app dbname=mqtt sslmode=require",
            "postgres.tls.dangerous_accept_invalid_certs",
            "--dangerous-accept-invalid-certs",
        ),
        (
            "redis://:pw-x1@db.example:6379",
            "redis.tls.dangerous_plaintext",
            "--dangerous-plaintext",
        ),
        (
            "rediss://db.example:6380/#insecure",
            "redis.tls.dangerous_accept_invalid_certs",
            "--dangerous-accept-invalid-certs",
        ),
    ] {
        let o = run(&["export", "--from", url, "--format", "csv"], "");
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{url}: {err}");
        assert!(
            err.contains(setting) && err.contains(flag) && !err.contains("pw-x1"),
            "{url}: {err}"
        );
    }
}

#[test]
fn a_dangerous_switch_is_warned_about() {
    // Loopback on a closed port: the switch is accepted and warned about, then the
    // connection fails (exit 4).
    let o = run(
        &[
            "export",
            "--from",
            "postgres://app@127.0.0.1:1/mqtt?sslmode=disable",
            "--dangerous-plaintext",
            "--format",
            "csv",
        ],
        "",
    );
    let err = stderr(&o);
    assert!(err.contains("warning: --dangerous-plaintext"), "{err}");
    assert_eq!(code(&o), 4, "{err}");
}
