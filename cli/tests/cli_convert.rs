//! `mqtt-scram convert`: EMQX hex to PostgreSQL and back, round trips through every
//! format, length checks, batches keep their usernames.
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
            "--user",
            "user",
            "--password-stdin",
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
    let dir = TempDir::new("cli-convert-batch");
    let csv = dir.write("u.csv", "alice,apw\nbob,bpw\n");
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
