//! `mqtt-scram gen` for one user: every output format against the published vectors
//! (the engine's tests/data/scram.json: RFC 7677 §3, xdg-go/scram SHA-512, rust-postgres
//! verifiers), options, password sources (prompt on a pseudo-terminal, stdin, environment,
//! flag) and usage errors. Batches: cli_batch.rs; warnings and refusals: cli_checks.rs.
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
use mqtt_scram_stores::record::parse_records;
use serde_json::Value;

// ---------------------------------------------------------------- gen: formats vs vectors

#[test]
fn gen_json_matches_rfc7677_and_sha512_vectors() {
    for (name, mech) in [("rfc7677-sha256", "sha256"), ("sha512-i10000", "sha512")] {
        let v = exchange(name);
        let iterations = v["iterations"].to_string();
        let out = ok(&run(
            &[
                "gen",
                "--user",
                "user",
                "--password-stdin",
                "-m",
                mech,
                "-i",
                &iterations,
                "--salt-hex",
                RFC_SALT,
                "-f",
                "json",
            ],
            "pencil\n",
        ));
        let record: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(record["username"], "user");
        assert_eq!(record["mechanism"], v["mechanism"]);
        assert_eq!(record["iterations"], v["iterations"]);
        assert_eq!(record["salt"], v["salt_b64"]);
        assert_eq!(
            record["stored_key"].as_str().unwrap(),
            b64_of_hex(v["stored_key_hex"].as_str().unwrap())
        );
        assert_eq!(
            record["server_key"].as_str().unwrap(),
            b64_of_hex(v["server_key_hex"].as_str().unwrap())
        );
        // The memory/file store loads it.
        let loaded = parse_records(&out).unwrap();
        assert!(loaded[0].1.credentials.verify_password("pencil").unwrap());
    }
}

#[test]
fn gen_emqx_matches_vectors() {
    for (name, mech) in [("rfc7677-sha256", "sha256"), ("sha512-i10000", "sha512")] {
        let v = exchange(name);
        let iterations = v["iterations"].to_string();
        let out = ok(&run(
            &[
                "gen",
                "--user",
                "user",
                "--password-stdin",
                "-m",
                mech,
                "-i",
                &iterations,
                "--salt-hex",
                RFC_SALT,
                "-f",
                "emqx",
                "--is-superuser",
                "--attr",
                "role=admin",
            ],
            "pencil\n",
        ));
        let body: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(body["stored_key"], v["stored_key_hex"]);
        assert_eq!(body["server_key"], v["server_key_hex"]);
        assert_eq!(body["salt"], v["salt_hex"]);
        assert_eq!(body["is_superuser"], true);
        assert_eq!(body["client_attrs"]["role"], "admin");
        assert!(
            body.get("username").is_none(),
            "a single EMQX body is exactly what the HTTP service returns"
        );
    }
}

#[test]
fn gen_postgres_matches_verifiers() {
    for pg in vectors()["postgres_verifiers"].as_array().unwrap() {
        let password = format!("{}\n", pg["password"].as_str().unwrap());
        let out = ok(&run(
            &[
                "gen",
                "--user",
                "someone",
                "--password-stdin",
                "--salt-hex",
                pg["salt_hex"].as_str().unwrap(),
                "-f",
                "postgres",
            ],
            &password,
        ));
        assert_eq!(
            out.trim_end(),
            pg["verifier"].as_str().unwrap(),
            "source: {}",
            pg["source"]
        );
    }
}

#[test]
fn gen_csv_matches_vector() {
    let v = exchange("rfc7677-sha256");
    let out = ok(&run(
        &[
            "gen",
            "--user",
            "user",
            "--password-stdin",
            "--salt-hex",
            RFC_SALT,
            "-f",
            "csv",
        ],
        "pencil\n",
    ));
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "username,mechanism,iterations,salt,stored_key,server_key,is_superuser,client_attrs,expire_at,acl"
    );
    let row = lines.next().unwrap();
    let expected = format!(
        "user,SCRAM-SHA-256,4096,{},{},{},false,,,",
        v["salt_b64"].as_str().unwrap(),
        b64_of_hex(v["stored_key_hex"].as_str().unwrap()),
        b64_of_hex(v["server_key_hex"].as_str().unwrap())
    );
    assert_eq!(row, expected);
    assert!(lines.next().is_none());
}

#[test]
fn gen_random_salt_differs_and_verifies() {
    let a = ok(&run(
        &["gen", "--user", "alice", "--password-stdin"],
        "s3cret\n",
    ));
    let b = ok(&run(
        &["gen", "--user", "alice", "--password-stdin"],
        "s3cret\n",
    ));
    assert_ne!(a, b, "fresh salt per run");
    let rec = parse_records(&a).unwrap();
    assert_eq!(rec[0].1.credentials.salt().len(), 16);
    assert!(rec[0].1.credentials.verify_password("s3cret").unwrap());
}

// ---------------------------------------------------------------- gen: options and passwords

#[test]
fn gen_refuses_weak_iterations_unless_allowed() {
    let o = run(
        &["gen", "--user", "u", "--password-stdin", "-i", "1000"],
        "pw\n",
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--allow-weak"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let out = ok(&run(
        &[
            "gen",
            "--user",
            "u",
            "--password-stdin",
            "-i",
            "1000",
            "--allow-weak",
        ],
        "pw\n",
    ));
    assert_eq!(
        parse_records(&out).unwrap()[0].1.credentials.iterations(),
        1000
    );
}

#[test]
fn gen_password_from_environment() {
    let out = ok(&run_env(
        &[
            "gen",
            "--user",
            "user",
            "--password-env",
            "MY_PW",
            "--salt-hex",
            RFC_SALT,
            "-f",
            "postgres",
        ],
        "",
        &[("MY_PW", "pencil")],
    ));
    assert!(out.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm"));
    let o = run_env(
        &["gen", "--user", "user", "--password-env", "MISSING_PW_VAR"],
        "",
        &[],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("MISSING_PW_VAR"));
}

#[test]
fn gen_password_flag_warns_and_never_echoes() {
    let o = run(
        &[
            "gen",
            "--user",
            "user",
            "--password",
            "pencil",
            "--salt-hex",
            RFC_SALT,
            "-f",
            "emqx",
        ],
        "",
    );
    assert_eq!(code(&o), 0);
    assert!(stderr(&o).contains("shell history"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("pencil") && !stderr(&o).contains("pencil"));
}

#[test]
fn gen_without_password_or_terminal_is_a_usage_error() {
    let o = run(&["gen", "--user", "user"], "");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--password-stdin"), "{}", stderr(&o));
    let o = run(&["gen", "--user", "user", "--password-stdin"], "\n");
    assert_eq!(code(&o), 2, "empty password");
}

#[test]
fn usage_errors_exit_2_and_help_documents_exit_codes() {
    assert_eq!(code(&run(&["gen", "--no-such-flag"], "")), 2);
    assert_eq!(code(&run(&[], "")), 2);
    let help = ok(&run(&["--help"], ""));
    assert!(
        help.contains("Exit codes:") && help.contains("Examples:"),
        "{help}"
    );
    for sub in ["gen", "verify", "convert", "probe"] {
        assert_eq!(code(&run(&[sub, "--help"], "")), 0);
    }
}

#[test]
fn gen_prompts_twice_on_a_terminal() {
    // The README's main command: `gen --user alice` with the password typed twice at a
    // prompt without echo. `script` (util-linux) gives the binary a pseudo-terminal; the
    // prompt reads it from /dev/tty like an interactive shell would.
    if !mqtt_scram_testkit::peer::require(
        mqtt_scram_testkit::peer::runs("script"),
        "script (util-linux, for a pseudo-terminal)",
    ) {
        return;
    }
    let typed = |first: &str, second: &str| {
        let command = format!("{} gen --user alice", env!("CARGO_BIN_EXE_mqtt-scram"));
        let mut child = std::process::Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        // Type each answer after its prompt appeared (the terminal echoes nothing then).
        std::thread::sleep(std::time::Duration::from_millis(500));
        std::io::Write::write_all(&mut input, format!("{first}\r").as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        std::io::Write::write_all(&mut input, format!("{second}\r").as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(input);
        child.wait_with_output().unwrap()
    };
    let o = typed("correct horse", "correct horse");
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    assert!(
        out.contains("Password: ") && out.contains("Password (again): "),
        "{out}"
    );
    assert!(
        !out.contains("correct horse"),
        "the password is not echoed: {out}"
    );
    let json = &out[out.find('{').unwrap()..];
    let records = parse_records(json.trim()).unwrap();
    assert_eq!(records[0].0, "alice");
    assert!(
        records[0]
            .1
            .credentials
            .verify_password("correct horse")
            .unwrap()
    );
    let o = typed("correct horse", "battery staple");
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("the passwords do not match"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn username_is_spelled_the_same_in_every_subcommand() {
    for sub in ["gen", "verify", "probe"] {
        let help = ok(&run(&[sub, "--help"], ""));
        assert!(help.contains("-u, --user <USER>"), "{sub}: {help}");
        assert!(!help.contains("--username"), "{sub}: {help}");
    }
    let help = ok(&run(&["convert", "--help"], ""));
    assert!(help.contains("-u, --user <USER>"), "{help}");
    // The old spellings are gone (clap points to the new one).
    let o = run(&["gen", "alice", "--password-stdin"], "pw\n");
    assert_eq!(code(&o), 2);
    let o = run(&["verify", "--username", "alice"], "");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--user"), "{}", stderr(&o));
}

/// Issue 21 §3: `-m sha256 -m sha512` in one run writes one record per hash (same password,
/// each with its own salt), JSON lines the file store loads; a repeated hash is written once.
#[test]
fn gen_derives_every_mechanism_given() {
    let out = ok(&run(
        &[
            "gen",
            "--user",
            "alice",
            "--password-stdin",
            "-m",
            "sha256",
            "-m",
            "sha512",
            "-m",
            "sha256",
        ],
        "pencil\n",
    ));
    let loaded = parse_records(&out).unwrap();
    assert_eq!(loaded.len(), 2, "{out}");
    let mechanisms: Vec<&str> = out
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            assert_eq!(record["username"], "alice");
            match record["mechanism"].as_str().unwrap() {
                "SCRAM-SHA-256" => "sha256",
                "SCRAM-SHA-512" => "sha512",
                other => panic!("unexpected mechanism {other}"),
            }
        })
        .collect();
    assert_eq!(mechanisms, ["sha256", "sha512"]);
    for (_, record) in &loaded {
        assert!(record.credentials.verify_password("pencil").unwrap());
    }
    // PostgreSQL only knows SCRAM-SHA-256: any sha512 among several is refused.
    let refused = run(
        &[
            "gen",
            "--user",
            "alice",
            "--password-stdin",
            "-m",
            "sha256",
            "-m",
            "sha512",
            "-f",
            "postgres",
        ],
        "pencil\n",
    );
    assert_eq!(refused.status.code(), Some(2));
}
