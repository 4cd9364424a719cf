//! Everything `gen` writes, in every format (json, emqx, postgres, csv), as one record and
//! as a batch (array and JSON lines), loads back: in the file store (json, csv: the same
//! codec, `mqtt_scram_stores::record`), in the HTTP store (an emqx body served by a
//! loopback HTTP server), and in `convert`, whose json and csv output the file store loads;
//! every password verifies and no field is lost on the way. PostgreSQL itself takes the
//! postgres output in cli_postgres.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "fixtures/cli/common.rs"]
mod common;

use std::io::{Read, Write};

use common::*;
use mqtt_scram::HashAlgorithm;
use mqtt_scram::provider::{CredentialProvider, Lookup, LookupRequest, UserRecord};
use mqtt_scram::{ConnectionInfo, Mechanism};
use mqtt_scram_stores::FileProvider;
use mqtt_scram_stores::record::{Format, read_records};

/// The users of every batch: (name, password, superuser).
const USERS: [(&str, &str, bool); 3] = [
    ("alice", "apw", false),
    ("bob, jr", "b\"pw", true),
    ("carol", "  spaced  ", false),
];

/// Formats that carry the superuser flag and client attributes.
fn keeps_extras(format: &str) -> bool {
    format != "postgres"
}

fn gen_single(dir: &TempDir, format: &str) -> String {
    gen_user(
        "alice",
        "apw",
        &[
            "-f",
            format,
            "-i",
            "5000",
            "--is-superuser",
            "--attr",
            "site=berlin",
        ],
    )
    .tap_write(dir, format, "single")
}

fn gen_batch(dir: &TempDir, format: &str, layout: &str) -> String {
    let csv: String = USERS
        .iter()
        .map(|(n, p, s)| {
            format!(
                "\"{}\",\"{}\",{s}\n",
                n.replace('"', "\"\""),
                p.replace('"', "\"\"")
            )
        })
        .collect();
    let path = dir.write("passwords.csv", &csv);
    let out = ok(&run(
        &[
            "gen",
            "--from-csv",
            path.to_str().unwrap(),
            "-f",
            format,
            "--batch",
            layout,
            "--attr",
            "site=berlin",
            "-q",
        ],
        "",
    ));
    out.tap_write(dir, format, layout)
}

trait TapWrite {
    fn tap_write(self, dir: &TempDir, format: &str, what: &str) -> Self;
}

impl TapWrite for String {
    /// Keeps a copy in the scratch directory (shown in assertion messages).
    fn tap_write(self, dir: &TempDir, format: &str, what: &str) -> Self {
        dir.write(&format!("gen-{format}-{what}.out"), &self);
        self
    }
}

/// `convert` of `text` into `to` (with hints for formats that lack fields).
fn convert(text: &str, to: &str, hints: &[&str]) -> String {
    let mut args = vec!["convert", "--record", text, "--to", to, "--batch", "lines"];
    args.extend(hints);
    ok(&run(&args, ""))
}

/// Checks the loaded users against what was generated.
fn check_users(
    users: &[(String, UserRecord)],
    expected: &[(&str, &str, bool)],
    iterations: u32,
    extras: bool,
    what: &str,
) {
    assert_eq!(users.len(), expected.len(), "{what}");
    for ((name, record), (want_name, password, superuser)) in users.iter().zip(expected) {
        assert_eq!(name, want_name, "{what}");
        let c = &record.credentials;
        assert!(c.verify_password(password).unwrap(), "{what}: {name}");
        assert_eq!(c.iterations(), iterations, "{what}: {name}");
        assert_eq!(c.hash(), HashAlgorithm::Sha256, "{what}");
        if extras {
            let a = &record.attributes;
            assert_eq!(a.is_superuser, *superuser, "{what}: {name}");
            assert_eq!(a.client_attrs["site"], "berlin", "{what}: {name}");
        }
    }
}

/// Loads `text` in the file store under `name` and returns its users in `expected` order.
fn file_store(
    dir: &TempDir,
    name: &str,
    text: &str,
    expected: &[(&str, &str, bool)],
) -> Vec<(String, UserRecord)> {
    let path = dir.write(name, text);
    let store = FileProvider::open(&path)
        .unwrap_or_else(|e| panic!("the file store refuses {}: {e}", path.display()));
    assert_eq!(store.len(), expected.len(), "{name}");
    expected
        .iter()
        .map(|(n, _, _)| {
            let record = store.get(n, HashAlgorithm::Sha256).unwrap();
            ((*n).to_owned(), (*record).clone())
        })
        .collect()
}

/// The store's codec and `convert` both take `text` (in the record format `format`).
fn check_record_format(
    dir: &TempDir,
    text: &str,
    format: &str,
    expected: &[(&str, &str, bool)],
    iterations: u32,
) {
    let codec = if format == "csv" {
        Format::Csv
    } else {
        Format::Json
    };
    let users = read_records(text, codec).unwrap();
    check_users(
        &users,
        expected,
        iterations,
        true,
        &format!("{format}: codec"),
    );
    let users = file_store(dir, &format!("direct.{format}"), text, expected);
    check_users(
        &users,
        expected,
        iterations,
        true,
        &format!("{format}: file store"),
    );
    for to in ["json", "csv"] {
        let converted = convert(text, to, &[]);
        let users = file_store(dir, &format!("converted.{to}"), &converted, expected);
        check_users(
            &users,
            expected,
            iterations,
            true,
            &format!("{format} -> convert -> {to}"),
        );
    }
}

#[test]
fn json_and_csv_load_in_the_file_store_and_in_convert() {
    let dir = TempDir::new("cli-round-trip-records");
    for format in ["json", "csv"] {
        let single = gen_single(&dir, format);
        check_record_format(&dir, &single, format, &[("alice", "apw", true)], 5000);
        for layout in ["array", "lines"] {
            let batch = gen_batch(&dir, format, layout);
            check_record_format(&dir, &batch, format, &USERS, 4096);
        }
    }
}

#[test]
fn emqx_and_postgres_load_through_convert() {
    let dir = TempDir::new("cli-round-trip-foreign");
    for format in ["emqx", "postgres"] {
        let extras = keeps_extras(format);
        let single = gen_single(&dir, format);
        let hints = ["-u", "alice", "-i", "5000"];
        for to in ["json", "csv"] {
            let converted = convert(&single, to, &hints);
            let users = file_store(
                &dir,
                &format!("single.{to}"),
                &converted,
                &[("alice", "apw", true)],
            );
            check_users(
                &users,
                &[("alice", "apw", true)],
                5000,
                extras,
                &format!("{format} -> {to}"),
            );
        }
        for layout in ["array", "lines"] {
            let batch = gen_batch(&dir, format, layout);
            for to in ["json", "csv"] {
                let converted = convert(&batch, to, &[]);
                let users = file_store(&dir, &format!("batch.{to}"), &converted, &USERS);
                check_users(
                    &users,
                    &USERS,
                    4096,
                    extras,
                    &format!("{format} {layout} -> {to}"),
                );
            }
        }
    }
}

/// Serves `body` to every request on a loopback port until the test ends.
fn serve_http(body: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/auth", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn emqx_body_loads_in_the_http_store() {
    use mqtt_scram_stores::http::{HttpConfig, HttpProvider};
    let dir = TempDir::new("cli-round-trip-http");
    let body = gen_single(&dir, "emqx");
    let url = serve_http(body.trim_end().to_owned());
    let provider = HttpProvider::new(HttpConfig::new(url).default_iterations(5000)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connection = ConnectionInfo::new("client-1");
    let request = LookupRequest::new(Mechanism::ScramSha256, "alice", &connection);
    let Lookup::Found(record) = runtime.block_on(provider.lookup(&request)) else {
        panic!("the HTTP store did not take the emqx body {body}");
    };
    check_users(
        &[("alice".into(), (*record).clone())],
        &[("alice", "apw", true)],
        5000,
        true,
        "emqx -> http store",
    );
}
