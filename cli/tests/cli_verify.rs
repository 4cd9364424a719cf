//! `mqtt-scram verify`: exit codes for every format, selecting a user in a batch.
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

// ---------------------------------------------------------------- verify

#[test]
fn verify_exit_codes_for_every_format() {
    let dir = TempDir::new("cli-verify");
    let pg = vectors()["postgres_verifiers"][1]["verifier"]
        .as_str()
        .unwrap()
        .to_owned();
    let emqx = ok(&run(
        &["gen", "--user", "user", "--password-stdin", "-f", "emqx"],
        "pencil\n",
    ));
    let json = ok(&run(
        &[
            "gen",
            "--user",
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
        &["gen", "--user", "user", "--password-stdin", "-f", "csv"],
        "pencil\n",
    ));
    for (name, text) in [
        ("pg.txt", pg.as_str()),
        ("emqx.json", &emqx),
        ("rec.json", &json),
        ("rec.csv", &csv),
    ] {
        let path = dir.write(name, text);
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
    let dir = TempDir::new("cli-verify-batch");
    let csv = dir.write("u.csv", "alice,apw\nbob,bpw\n");
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
    let batch = dir.write("u.jsonl", &out);
    let b = batch.to_str().unwrap();
    assert_eq!(
        code(&run(
            &["verify", b, "--user", "bob", "--password-stdin"],
            "bpw\n"
        )),
        0
    );
    assert_eq!(
        code(&run(
            &["verify", b, "--user", "bob", "--password-stdin"],
            "apw\n"
        )),
        1
    );
    assert_eq!(
        code(&run(&["verify", b, "--password-stdin"], "bpw\n")),
        2,
        "several records, no --user"
    );
    assert_eq!(
        code(&run(
            &["verify", b, "-u", "carol", "--password-stdin"],
            "bpw\n"
        )),
        2
    );
}
