//! `mqtt-scram gen --from-csv`: RFC 4180 quoting, layouts, bad rows named by their line
//! (blank lines and quoted line breaks counted), nothing written on error, the summary.
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

// ---------------------------------------------------------------- gen: CSV batches

#[test]
fn csv_batch_with_rfc4180_quoting() {
    let dir = TempDir::new("cli-quoting");
    let csv = "username,password,is_superuser\r\n\
               alice,plain,true\r\n\
               \"bob, jr\",\"has \"\"quotes\"\", commas\",false\r\n\
               carol,\"  spaced  \"\r\n";
    let path = dir.write("users.csv", csv);
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
    let dir = TempDir::new("cli-lines");
    let path = dir.write("u.csv", "u1,p1\nu2,p2\n");
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
    let dir = TempDir::new("cli-bad");
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
        let path = dir.write("bad.csv", csv);
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
            err.contains(&format!("{}: line {line}: ", path.display())) && err.contains(what),
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
    let dir = TempDir::new("cli-empty");
    for csv in ["", "username,password\n", "\n\n"] {
        let path = dir.write("empty.csv", csv);
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
    let dir = TempDir::new("cli-outfile");
    let path = dir.write("u.csv", "u1,p1\n");
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
    assert!(o.stdout.is_empty());
    let summary = stderr(&o);
    assert!(
        summary.starts_with("mqtt-scram: derived 1 user (SCRAM-SHA-256, 4096 iterations) in ")
            && summary
                .trim_end()
                .ends_with(&format!("-> {}", out_file.display()))
            && summary.lines().count() == 1,
        "{summary}"
    );
    let records = parse_records(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(records.len(), 1);
}

#[test]
fn csv_quiet_output_file_is_private() {
    let dir = TempDir::new("cli-quiet");
    let path = dir.write("u.csv", "u1,p1\nu2,p2\n");
    let out_file = dir.join("users.csv");
    let o = run(
        &[
            "gen",
            "--from-csv",
            path.to_str().unwrap(),
            "-f",
            "csv",
            "-o",
            out_file.to_str().unwrap(),
            "--quiet",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{}", stderr(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out_file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the keys are readable by the owner only"
        );
    }
    let users = mqtt_scram_stores::FileProvider::open(&out_file).unwrap();
    assert_eq!(users.len(), 2);
}

#[test]
fn csv_line_numbers_count_blank_lines_and_quoted_breaks() {
    // The csv crate's own line count skips blank lines and line breaks inside quotes.
    let dir = TempDir::new("cli-lines");
    let path = dir.write(
        "u.csv",
        "username,password\n\nalice,\"multi\nline\"\n\n\nbob,pw,maybe\n",
    );
    let o = run(&["gen", "--from-csv", path.to_str().unwrap()], "");
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("line 7: is_superuser"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn csv_errors_do_not_repeat_passwords() {
    // An unquoted comma in a password shifts its tail into the is_superuser column.
    let dir = TempDir::new("cli-secret");
    let path = dir.write("u.csv", "alice,s3cret,tail-of-the-secret\n");
    let o = run(&["gen", "--from-csv", path.to_str().unwrap()], "");
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains("line 1") && err.contains("is_superuser"),
        "{err}"
    );
    assert!(
        !err.contains("tail-of-the-secret") && !err.contains("s3cret"),
        "{err}"
    );
}
