//! `mqtt-scram gen --format postgres` against a real PostgreSQL server: the verifier (one, or
//! each of a batch) is set with `ALTER ROLE ... PASSWORD '<verifier>'`, then psql logs in over
//! TCP with SCRAM using the password (and fails with a wrong one).
//!
//! Needs PostgreSQL's server binaries (`scripts/test` installs them). Without them this test
//! FAILS, unless `MQTT_SCRAM_SKIP_MISSING_PEERS=1` is set, which skips it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::io::Write;
use std::process::{Command, Stdio};

use mqtt_scram_testkit::check;
use mqtt_scram_testkit::postgres::Cluster;

fn gen_verifier(user: &str, password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mqtt-scram"))
        .args([
            "gen",
            "--user",
            user,
            "--password-stdin",
            "--format",
            "postgres",
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
    let o = child.wait_with_output().unwrap();
    check(&o, "mqtt-scram gen --format postgres");
    String::from_utf8(o.stdout).unwrap().trim_end().to_owned()
}

#[test]
fn postgres_accepts_generated_verifier() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
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

#[test]
fn postgres_accepts_a_generated_batch() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let dir = mqtt_scram_testkit::TempDir::new("cli-pg-batch");
    let csv = dir.write("users.csv", "username,password\nann,ann pw\nben,\"b,en\"\n");
    let o = Command::new(env!("CARGO_BIN_EXE_mqtt-scram"))
        .args([
            "gen",
            "--from-csv",
            csv.to_str().unwrap(),
            "-f",
            "postgres",
            "-q",
        ])
        .output()
        .unwrap();
    check(&o, "mqtt-scram gen --from-csv --format postgres");
    let batch: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for entry in batch.as_array().unwrap() {
        let user = entry["username"].as_str().unwrap();
        let verifier = entry["verifier"].as_str().unwrap();
        cluster.admin_sql(&format!("CREATE ROLE {user} LOGIN"));
        cluster.admin_sql(&format!("ALTER ROLE {user} PASSWORD '{verifier}'"));
    }
    for (user, password) in [("ann", "ann pw"), ("ben", "b,en")] {
        let ok = cluster.login(user, password);
        check(&ok, "SCRAM login of a batch user");
        assert!(!cluster.login(user, "nope").status.success());
    }
}
