//! `mqtt-scram export` from a real PostgreSQL holding one record that does not decode: the
//! others are exported, the bad one is named in a warning (user name only, no value), and
//! the exit status is 5, "partial" (issue 20 §8).
//!
//! Needs PostgreSQL's server binaries; without them this test FAILS, unless
//! `MQTT_SCRAM_SKIP_MISSING_PEERS=1` is set.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::process::{Command, Stdio};

use mqtt_scram_testkit::postgres::Cluster;

const RECORD: &str = r#"{"username":"NAME","mechanism":"SCRAM-SHA-256","iterations":4096,"salt":"W22ZaJ0SNY7soEsUEjb6gQ==","stored_key":"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=","server_key":"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="}"#;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-scram"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn export_skips_a_bad_record_and_exits_partial() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.set_password("postgres", "export-test-pw");
    let url = cluster.url("postgres", "export-test-pw");
    let users =
        std::env::temp_dir().join(format!("cli-export-partial-{}.jsonl", std::process::id()));
    let lines: Vec<String> = ["alice", "broken", "carol"]
        .iter()
        .map(|name| RECORD.replace("NAME", name))
        .collect();
    std::fs::write(&users, lines.join("\n")).unwrap();
    let (code, _, stderr) = run(&[
        "import",
        "--to",
        &url,
        "--create-table",
        users.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    std::fs::remove_file(&users).unwrap();

    let (code, stdout, stderr) = run(&["export", "--from", &url, "--batch", "lines"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");

    // A stored key of the wrong length: the row no longer decodes.
    cluster.admin_sql(
        "UPDATE mqtt_scram_users SET stored_key = '\\x0102'::bytea WHERE username = 'broken'",
    );
    let (code, stdout, stderr) = run(&["export", "--from", &url, "--batch", "lines"]);
    assert_eq!(code, Some(5), "{stderr}");
    let exported: Vec<&str> = stdout.lines().collect();
    assert_eq!(exported.len(), 2, "{stdout}");
    assert!(exported[0].contains("\"alice\"") && exported[1].contains("\"carol\""));
    assert!(!stdout.contains("broken"), "{stdout}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("warning: skipped"))
        .unwrap_or_else(|| panic!("no warning naming the record:\n{stderr}"));
    assert!(warning.contains("\"broken\""), "{warning}");
    assert!(
        !stderr.contains("AQI="),
        "a stored value is shown:\n{stderr}"
    );
    assert!(
        !stderr.contains("0102"),
        "a stored value is shown:\n{stderr}"
    );
}
