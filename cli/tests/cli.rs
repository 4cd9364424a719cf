//! Drives the built `mqtt-scram` binary: every output format against the published vectors
//! (shared/vectors/scram.json: RFC 7677 §3, xdg-go/scram SHA-512, rust-postgres verifier),
//! CSV batches, password sources, `verify` exit codes and `convert` round trips.
//! `probe` is tested in tests/cli_probe.rs.
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
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
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
    // The SHA-512 analogue.
    let v = exchange("sha512-i10000");
    let out = ok(&run(
        &[
            "gen",
            "user",
            "--password-stdin",
            "-m",
            "sha512",
            "-i",
            "10000",
            "--salt-hex",
            RFC_SALT,
            "-f",
            "postgres",
        ],
        "pencil\n",
    ));
    let expected = format!(
        "SCRAM-SHA-512$10000:{}${}:{}",
        v["salt_b64"].as_str().unwrap(),
        b64_of_hex(v["stored_key_hex"].as_str().unwrap()),
        b64_of_hex(v["server_key_hex"].as_str().unwrap())
    );
    assert_eq!(out.trim_end(), expected);
}

#[test]
fn gen_csv_matches_vector() {
    let v = exchange("rfc7677-sha256");
    let out = ok(&run(
        &[
            "gen",
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
        "username,mechanism,iterations,salt,stored_key,server_key,is_superuser,client_attrs"
    );
    let row = lines.next().unwrap();
    let expected = format!(
        "user,SCRAM-SHA-256,4096,{},{},{},false,",
        v["salt_b64"].as_str().unwrap(),
        b64_of_hex(v["stored_key_hex"].as_str().unwrap()),
        b64_of_hex(v["server_key_hex"].as_str().unwrap())
    );
    assert_eq!(row, expected);
    assert!(lines.next().is_none());
}

#[test]
fn gen_random_salt_differs_and_verifies() {
    let a = ok(&run(&["gen", "alice", "--password-stdin"], "s3cret\n"));
    let b = ok(&run(&["gen", "alice", "--password-stdin"], "s3cret\n"));
    assert_ne!(a, b, "fresh salt per run");
    let rec = parse_records(&a).unwrap();
    assert_eq!(rec[0].1.credentials.salt().len(), 16);
    assert!(rec[0].1.credentials.verify_password("s3cret").unwrap());
}

// ---------------------------------------------------------------- gen: options and passwords

#[test]
fn gen_refuses_weak_iterations_unless_allowed() {
    let o = run(&["gen", "u", "--password-stdin", "-i", "1000"], "pw\n");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--allow-weak"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let out = ok(&run(
        &["gen", "u", "--password-stdin", "-i", "1000", "--allow-weak"],
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
        &["gen", "user", "--password-env", "MISSING_PW_VAR"],
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
    let o = run(&["gen", "user"], "");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--password-stdin"), "{}", stderr(&o));
    let o = run(&["gen", "user", "--password-stdin"], "\n");
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

// ---------------------------------------------------------------- gen: CSV batches

#[test]
fn csv_batch_with_rfc4180_quoting() {
    let dir = temp_dir("quoting");
    let csv = "username,password,is_superuser\r\n\
               alice,plain,true\r\n\
               \"bob, jr\",\"has \"\"quotes\"\", commas\",false\r\n\
               carol,\"  spaced  \"\r\n";
    let path = write(&dir, "users.csv", csv);
    let out = ok(&run(
        &["gen", "--from-csv", path.to_str().unwrap(), "-f", "json"],
        "",
    ));
    assert!(out.trim_start().starts_with('['), "array by default");
    let records = parse_records(&out).unwrap();
    let names: Vec<&str> = records.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["alice", "bob, jr", "carol"], "input order kept");
    let pw = ["plain", "has \"quotes\", commas", "  spaced  "];
    for ((_, rec), pw) in records.iter().zip(pw) {
        assert!(rec.credentials.verify_password(pw).unwrap(), "{pw:?}");
    }
    assert!(
        records[0].1.attributes.is_superuser
            && !records[1].1.attributes.is_superuser
            && !records[2].1.attributes.is_superuser
    );
}

#[test]
fn csv_batch_without_header_as_json_lines_and_emqx_and_postgres() {
    let dir = temp_dir("lines");
    let path = write(&dir, "u.csv", "u1,p1\nu2,p2\n");
    let p = path.to_str().unwrap();
    let out = ok(&run(
        &[
            "gen",
            "--from-csv",
            p,
            "-f",
            "json",
            "--batch",
            "lines",
            "-m",
            "sha512",
        ],
        "",
    ));
    assert_eq!(out.lines().count(), 2);
    let records = parse_records(&out).unwrap();
    assert_eq!(records[1].0, "u2");
    assert_eq!(records[1].1.credentials.hash(), HashAlgorithm::Sha512);
    let out = ok(&run(
        &["gen", "--from-csv", p, "-f", "emqx", "--batch", "lines"],
        "",
    ));
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["username"], "u1");
    assert_eq!(first["stored_key"].as_str().unwrap().len(), 64);
    let out = ok(&run(&["gen", "--from-csv", p, "-f", "postgres"], ""));
    let array: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(array[1]["username"], "u2");
    let c = StoredCredentials::from_postgres(array[1]["verifier"].as_str().unwrap()).unwrap();
    assert!(c.verify_password("p2").unwrap());
    // CSV from stdin.
    let out = ok(&run(&["gen", "--from-csv", "-", "-f", "csv"], "x,y\n"));
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("x,SCRAM-SHA-256,4096,")
    );
}

#[test]
fn csv_bad_row_names_its_line_and_writes_nothing() {
    let dir = temp_dir("bad");
    let out_file = dir.join("out.json");
    for (csv, line, what) in [
        (
            "username,password\nok,pw\nbad,pw,true,extra\n",
            3,
            "found 4 fields",
        ),
        ("a,pw\n,pw\n", 2, "empty username"),
        ("a,pw\nb,pw,maybe\n", 2, "is_superuser"),
        ("a,pw\nb,pw\na,pw2\n", 3, "duplicate"),
        ("a,pw\nb,\"\"\n", 2, "empty password"),
        ("a,pw\nb,\"two\nlines\"\n", 2, "SASLprep"),
        ("a,pw\nb,pw\n\"c\nd\",pw\n", 3, "username"),
    ] {
        let path = write(&dir, "bad.csv", csv);
        let o = run(
            &[
                "gen",
                "--from-csv",
                path.to_str().unwrap(),
                "-o",
                out_file.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(code(&o), 2, "{csv:?}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("line {line}")) && err.contains(what),
            "{csv:?}: {err}"
        );
        assert!(o.stdout.is_empty());
        assert!(!out_file.exists(), "no partial output");
        let o = run(&["gen", "--from-csv", path.to_str().unwrap()], "");
        assert_eq!(code(&o), 2);
        assert!(o.stdout.is_empty(), "no partial output on stdout");
    }
}

#[test]
fn csv_empty_or_header_only_file_is_an_error() {
    let dir = temp_dir("empty");
    for csv in ["", "username,password\n", "\n\n"] {
        let path = write(&dir, "empty.csv", csv);
        let o = run(&["gen", "--from-csv", path.to_str().unwrap()], "");
        assert_eq!(code(&o), 2, "{csv:?}");
        assert!(stderr(&o).contains("no users"), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    let o = run(
        &[
            "gen",
            "--from-csv",
            dir.join("missing.csv").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&o), 2);
}

#[test]
fn csv_output_file_is_written_on_success() {
    let dir = temp_dir("outfile");
    let path = write(&dir, "u.csv", "u1,p1\n");
    let out_file = dir.join("users.json");
    let o = run(
        &[
            "gen",
            "--from-csv",
            path.to_str().unwrap(),
            "-o",
            out_file.to_str().unwrap(),
            "-j",
            "1",
        ],
        "",
    );
    assert_eq!(code(&o), 0);
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "quiet by default"
    );
    let records = parse_records(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(records.len(), 1);
}

// ---------------------------------------------------------------- verify

#[test]
fn verify_exit_codes_for_every_format() {
    let dir = temp_dir("verify");
    let pg = vectors()["postgres_verifiers"][1]["verifier"]
        .as_str()
        .unwrap()
        .to_owned();
    let emqx = ok(&run(
        &["gen", "user", "--password-stdin", "-f", "emqx"],
        "pencil\n",
    ));
    let json = ok(&run(
        &[
            "gen",
            "user",
            "--password-stdin",
            "-f",
            "json",
            "-m",
            "sha512",
        ],
        "pencil\n",
    ));
    let csv = ok(&run(
        &["gen", "user", "--password-stdin", "-f", "csv"],
        "pencil\n",
    ));
    for (name, text) in [
        ("pg.txt", pg.as_str()),
        ("emqx.json", &emqx),
        ("rec.json", &json),
        ("rec.csv", &csv),
    ] {
        let path = write(&dir, name, text);
        let p = path.to_str().unwrap();
        assert_eq!(
            code(&run(&["verify", p, "--password-stdin"], "pencil\n")),
            0,
            "{name}"
        );
        assert_eq!(
            code(&run(&["verify", p, "--password-stdin"], "pencil!\n")),
            1,
            "{name}"
        );
    }
    assert_eq!(
        code(&run(
            &["verify", "--record", &pg, "--password-stdin"],
            "pencil\n"
        )),
        0
    );
    let o = run(
        &["verify", "--record", &pg, "--password-stdin", "-v"],
        "nope\n",
    );
    assert_eq!((code(&o), stdout(&o).as_str()), (1, "no match\n"));
    // Record on stdin, password from the environment.
    assert_eq!(
        code(&run_env(
            &["verify", "--password-env", "PW"],
            &pg,
            &[("PW", "pencil")]
        )),
        0
    );
    // Usage and format errors: 2.
    for bad in [
        "garbage",
        "SCRAM-SHA-256$4096:W22Z$abc:def",
        "{\"stored_key\":\"00\",\"server_key\":\"00\",\"salt\":\"00\"}",
    ] {
        let o = run(&["verify", "--record", bad, "--password-stdin"], "pencil\n");
        assert_eq!(code(&o), 2, "{bad}: {}", stderr(&o));
    }
    assert_eq!(
        code(&run(
            &[
                "verify",
                dir.join("nope").to_str().unwrap(),
                "--password-stdin"
            ],
            "pencil\n"
        )),
        2
    );
    assert_eq!(
        code(&run(&["verify", "--password-stdin"], "pencil\n")),
        2,
        "record and password both on stdin"
    );
}

#[test]
fn verify_selects_a_user_in_a_batch() {
    let dir = temp_dir("verify-batch");
    let csv = write(&dir, "u.csv", "alice,apw\nbob,bpw\n");
    let out = ok(&run(
        &[
            "gen",
            "--from-csv",
            csv.to_str().unwrap(),
            "--batch",
            "lines",
        ],
        "",
    ));
    let batch = write(&dir, "u.jsonl", &out);
    let b = batch.to_str().unwrap();
    assert_eq!(
        code(&run(
            &["verify", b, "-u", "bob", "--password-stdin"],
            "bpw\n"
        )),
        0
    );
    assert_eq!(
        code(&run(
            &["verify", b, "-u", "bob", "--password-stdin"],
            "apw\n"
        )),
        1
    );
    assert_eq!(
        code(&run(&["verify", b, "--password-stdin"], "bpw\n")),
        2,
        "several records, no --username"
    );
    assert_eq!(
        code(&run(
            &["verify", b, "-u", "carol", "--password-stdin"],
            "bpw\n"
        )),
        2
    );
}

// ---------------------------------------------------------------- convert

#[test]
fn convert_emqx_to_postgres_and_back() {
    let v = exchange("rfc7677-sha256");
    let emqx = format!(
        "{{\"stored_key\":\"{}\",\"server_key\":\"{}\",\"salt\":\"{}\",\"is_superuser\":false}}",
        v["stored_key_hex"].as_str().unwrap(),
        v["server_key_hex"].as_str().unwrap(),
        v["salt_hex"].as_str().unwrap()
    );
    let pg = ok(&run(
        &["convert", "--record", &emqx, "--to", "postgres"],
        "",
    ));
    assert_eq!(
        pg.trim_end(),
        vectors()["postgres_verifiers"][1]["verifier"]
            .as_str()
            .unwrap()
    );
    let back = ok(&run(
        &["convert", "--record", pg.trim_end(), "--to", "emqx"],
        "",
    ));
    let a: Value = serde_json::from_str(&emqx).unwrap();
    let b: Value = serde_json::from_str(&back).unwrap();
    for k in ["stored_key", "server_key", "salt"] {
        assert_eq!(a[k], b[k], "{k}");
    }
    // Upper-case hex is read too.
    let upper = emqx
        .to_uppercase()
        .replace("STORED_KEY", "stored_key")
        .replace("SERVER_KEY", "server_key")
        .replace("SALT", "salt")
        .replace("IS_SUPERUSER", "is_superuser")
        .replace("FALSE", "false");
    assert_eq!(
        ok(&run(
            &["convert", "--record", &upper, "--to", "postgres"],
            ""
        )),
        pg
    );
}

#[test]
fn convert_round_trips_through_every_format() {
    let original = ok(&run(
        &[
            "gen",
            "user",
            "--password-stdin",
            "-m",
            "sha512",
            "-i",
            "5000",
            "--is-superuser",
            "--attr",
            "k=v",
        ],
        "pencil\n",
    ));
    let json_rec: Value = serde_json::from_str(&original).unwrap();
    let mut text = original.clone();
    for (to, extra) in [
        ("csv", vec![]),
        ("emqx", vec![]),
        ("json", vec!["-u", "user", "-i", "5000"]),
        ("postgres", vec![]),
        ("json", vec!["-u", "user"]),
    ] {
        let mut args = vec!["convert", "--record", text.as_str(), "--to", to];
        args.extend(extra);
        text = ok(&run(&args, ""));
    }
    let back: Value = serde_json::from_str(&text).unwrap();
    for k in [
        "username",
        "mechanism",
        "iterations",
        "salt",
        "stored_key",
        "server_key",
    ] {
        assert_eq!(back[k], json_rec[k], "{k}");
    }
}

#[test]
fn convert_checks_lengths() {
    let v = exchange("rfc7677-sha256");
    let emqx = format!(
        "{{\"stored_key\":\"{}\",\"server_key\":\"{}\",\"salt\":\"{}\"}}",
        v["stored_key_hex"].as_str().unwrap(),
        v["server_key_hex"].as_str().unwrap(),
        v["salt_hex"].as_str().unwrap()
    );
    let o = run(
        &[
            "convert", "--record", &emqx, "--to", "postgres", "-m", "sha512",
        ],
        "",
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("needs 64"), "{}", stderr(&o));
    let short = emqx.replacen(v["server_key_hex"].as_str().unwrap(), "abcd", 1);
    let o = run(&["convert", "--record", &short, "--to", "postgres"], "");
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("server_key is 2 bytes"),
        "{}",
        stderr(&o)
    );
    let pg = "SCRAM-SHA-512$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
    assert_eq!(
        code(&run(&["convert", "--record", pg, "--to", "emqx"], "")),
        2
    );
}

#[test]
fn convert_batches_keep_usernames() {
    let dir = temp_dir("convert-batch");
    let csv = write(&dir, "u.csv", "alice,apw\nbob,bpw\n");
    let emqx = ok(&run(
        &["gen", "--from-csv", csv.to_str().unwrap(), "-f", "emqx"],
        "",
    ));
    let json = ok(&run(
        &[
            "convert", "--record", &emqx, "--to", "json", "--batch", "lines",
        ],
        "",
    ));
    let records = parse_records(&json).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].0, "bob");
    assert!(records[1].1.credentials.verify_password("bpw").unwrap());
    let csv_out = ok(&run(&["convert", "--record", &json, "--to", "csv"], ""));
    assert_eq!(csv_out.lines().count(), 3);
}
