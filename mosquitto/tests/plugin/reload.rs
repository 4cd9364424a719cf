//! SIGHUP (`MOSQ_EVT_RELOAD`) re-reads the credential file: a new user logs in, a removed
//! one cannot; a broken file keeps the set in force.

use std::time::Duration;

use mqtt_scram::{HashAlgorithm, Mechanism};

use crate::harness::{Fixture, PASSWORD, record, write_users};
use crate::wire::{self, Conn};

fn reason(f: &Fixture, user: &str) -> u8 {
    let mut conn = Conn::tcp(f.broker.addr()).unwrap();
    wire::scram_login(
        &mut conn,
        "reload",
        Mechanism::ScramSha256,
        user,
        PASSWORD,
        None,
    )
    .unwrap()
    .last
    .reason
}

#[test]
fn sighup_reloads_the_credential_file_and_a_bad_file_keeps_the_old_set() {
    let Some(f) = Fixture::start(|c, _| c) else {
        return;
    };
    assert_eq!(reason(&f, "alice"), 0);
    assert_eq!(reason(&f, "dave"), 0x87);

    write_users(&f.users, &[record("dave", PASSWORD, HashAlgorithm::Sha256)]);
    let seen = f.broker.log().len();
    f.broker.reload();
    assert!(
        f.broker.wait_for_log(
            "reloaded 1 credential records",
            seen,
            Duration::from_secs(10)
        ),
        "{}",
        f.broker.log()
    );
    assert_eq!(reason(&f, "dave"), 0, "the new user logs in");
    assert_eq!(reason(&f, "alice"), 0x87, "the removed user cannot");

    std::fs::write(&f.users, "[{\"username\": \"eve\"").unwrap();
    let seen = f.broker.log().len();
    f.broker.reload();
    assert!(
        f.broker
            .wait_for_log("credential reload failed", seen, Duration::from_secs(10)),
        "{}",
        f.broker.log()
    );
    assert_eq!(reason(&f, "dave"), 0, "the previous set stays in force");
}

/// A store configuration with `reload_interval` follows the file without SIGHUP, and the
/// store's own `tracing` events reach the broker's log.
#[test]
fn a_watched_credential_file_reloads_by_itself_and_its_events_reach_the_log() {
    let Some(f) = Fixture::start(|mut c, dir| {
        let users = c
            .plugin_options
            .iter()
            .find(|(k, _)| k == "store")
            .map(|(_, v)| v.clone())
            .unwrap();
        let store = dir.write(
            "store.json",
            &serde_json::json!({"kind": "file", "path": users, "reload_interval": "200ms"})
                .to_string(),
        );
        c.plugin_options.retain(|(k, _)| k != "store");
        c.option("store_config", store.display())
    }) else {
        return;
    };
    assert_eq!(reason(&f, "dave"), 0x87);
    let seen = f.broker.log().len();
    write_users(&f.users, &[record("dave", PASSWORD, HashAlgorithm::Sha256)]);
    assert!(
        f.broker
            .wait_for_log("credential file reloaded", seen, Duration::from_secs(10)),
        "{}",
        f.broker.log()
    );
    assert_eq!(reason(&f, "dave"), 0);
}

/// A reload still running when the broker stops is waited for (within a bound) before the
/// plugin is unloaded, and its result reaches the log.
#[test]
fn a_reload_in_progress_at_shutdown_is_joined_and_logged() {
    let Some(f) = Fixture::start(|c, _| c) else {
        return;
    };
    // Many records (one derivation, many names): the reload takes a while.
    const RECORDS: usize = 60_000;
    let one = record("u", PASSWORD, HashAlgorithm::Sha256);
    let users: Vec<serde_json::Value> = (0..RECORDS)
        .map(|i| {
            let mut r = one.clone();
            r["username"] = format!("user-{i}").into();
            r
        })
        .collect();
    write_users(&f.users, &users);
    let seen = f.broker.log().len();
    f.broker.reload();
    assert!(
        f.broker
            .wait_for_log("Reloading config.", seen, Duration::from_secs(10)),
        "{}",
        f.broker.log()
    );
    let (status, log) = f.broker.stop_with_status();
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{log}");
    let reloaded = format!("reloaded {RECORDS} credential records");
    assert!(log.contains(&reloaded), "{reloaded:?} missing\n{log}");
}
