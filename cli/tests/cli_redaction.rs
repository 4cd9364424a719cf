//! `mqtt-scram export` and `import` with a store password holding an unencoded `/` (and
//! `? # : % = '`, a space, non-ASCII) against a real PostgreSQL that refuses it: the
//! command fails with the connection exit code and its stderr never shows the password
//! (issue 20 §3). Also key=value strings and percent-encoded forms.
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

/// Every byte but ASCII letters and digits as `%XX`.
fn encode(password: &str) -> String {
    password
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-scram"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_refused_password_never_reaches_stderr() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.set_password("postgres", "the-right-one");
    // tokio-postgres takes the userinfo up to the first '@': unencoded, everything else
    // reaches the server.
    let raw = "Zx9/q+T?w#r:s%t=u'v é/中";
    let full = "Zx9/q+T@k?w#r:s%t=u'v é/中";
    let port = cluster.port;
    let cases = [
        (
            raw,
            format!("postgres://postgres:{raw}@127.0.0.1:{port}/postgres"),
        ),
        (
            full,
            format!(
                "postgres://postgres:{}@127.0.0.1:{port}/postgres",
                encode(full)
            ),
        ),
        (
            full,
            format!(
                "postgresql://postgres:{}@127.0.0.1:{port},127.0.0.1:{port}/postgres",
                encode(full)
            ),
        ),
    ];
    let users = std::env::temp_dir().join(format!("cli-redaction-{}.json", std::process::id()));
    std::fs::write(
        &users,
        r#"{"username":"user","mechanism":"SCRAM-SHA-256","iterations":4096,
"salt":"W22ZaJ0SNY7soEsUEjb6gQ==",
"stored_key":"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
"server_key":"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="}"#,
    )
    .unwrap();
    let users_path = users.to_str().unwrap();
    for (password, url) in &cases {
        for command in ["export", "import"] {
            let args: Vec<&str> = if command == "export" {
                vec!["export", "--from", url]
            } else {
                vec!["import", "--to", url, users_path]
            };
            let (code, stderr) = run(&args);
            assert_ne!(code, Some(0), "{command} {url:?}: {stderr}");
            for secret in [password.to_string(), encode(password)] {
                assert!(
                    !stderr.contains(&secret),
                    "{command} shows the password of {url:?}:\n{stderr}"
                );
            }
            assert_eq!(code, Some(4), "{command} {url:?}: {stderr}");
            assert!(
                stderr.contains("password authentication failed") || stderr.contains("28P01"),
                "{command} {url:?}: {stderr}"
            );
        }
    }
    std::fs::remove_file(&users).unwrap();
}
