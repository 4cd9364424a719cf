//! FileProvider: JSON and CSV credential files, validation, reload (the old set stays on a
//! bad file), errors naming file and line without key material, locked appends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::UserRecord;
use mqtt_scram::{HashAlgorithm, Timestamp};
use mqtt_scram_authz::fallback::verify_plain_password;
use mqtt_scram_stores::file::FileProviderError;
use mqtt_scram_stores::record::{CredentialRecord, Format, Position, RecordError, read_records};
use mqtt_scram_stores::{FileProvider, append_record_locked};
use mqtt_scram_testkit::TempDir;

/// Before every `expire_at` of these tests.
const NOW: Timestamp = Timestamp::new(Duration::ZERO, 1_700_000_000);

// RFC 7677 §3 credentials for user "user", password "pencil".
const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const STORED: &str = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=";
const SERVER: &str = "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

fn json_record(name: &str) -> String {
    format!(
        r#"{{"username":"{name}","mechanism":"SCRAM-SHA-256","iterations":4096,"salt":"{SALT}","stored_key":"{STORED}","server_key":"{SERVER}"}}"#
    )
}

fn record(name: &str, hash: HashAlgorithm) -> CredentialRecord {
    let creds = StoredCredentials::derive(hash, "pw", name.as_bytes(), 4096).unwrap();
    CredentialRecord::new(name, &UserRecord::new(creds))
}

fn dir(name: &str) -> TempDir {
    TempDir::new(&format!("fp-{name}"))
}

fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("swap");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

#[test]
fn loads_json_shapes_and_csv() {
    let d = dir("shapes");
    let lines = d.join("users.json");
    replace(
        &lines,
        &format!("{}\n\n{}\n", json_record("user"), json_record("bob")),
    );
    let p = FileProvider::open(&lines).unwrap();
    assert_eq!(p.len(), 2);
    let rec = p.get("user", HashAlgorithm::Sha256).unwrap();
    assert!(verify_plain_password(&rec, "pencil", NOW));
    let array = d.join("array.json");
    replace(
        &array,
        &format!("[{},\n {}]", json_record("a"), json_record("b")),
    );
    assert_eq!(FileProvider::open(&array).unwrap().len(), 2);

    let csv = d.join("users.csv");
    replace(
        &csv,
        &format!(
            "username,mechanism,iterations,salt,stored_key,server_key,is_superuser,expire_at\r\n\
             user,SCRAM-SHA-256,4096,{SALT},{STORED},{SERVER},true,1900000000\r\n\
             \"comma, user\",SCRAM-SHA-256,4096,{SALT},{STORED},{SERVER},,\n"
        ),
    );
    let p = FileProvider::open(&csv).unwrap();
    assert_eq!(p.len(), 2);
    let rec = p.get("user", HashAlgorithm::Sha256).unwrap();
    assert!(rec.attributes.is_superuser);
    assert_eq!(rec.attributes.expire_at, Some(1_900_000_000));
    assert!(verify_plain_password(
        &p.get("comma, user", HashAlgorithm::Sha256).unwrap(),
        "pencil",
        NOW
    ));
    assert_eq!(Format::from_path(&csv), Format::Csv);
}

#[test]
fn invalid_files_are_rejected_with_the_reason() {
    for (text, line, needle) in [
        ("username,mechanism\nx,y\n", 1, "missing column"),
        (
            "username,mechanism,iterations,salt,stored_key,server_key,colour\n",
            1,
            "unknown column",
        ),
        (
            &*format!(
                "username,mechanism,iterations,salt,stored_key,server_key\n\nu,SCRAM-SHA-1,4096,{SALT},{STORED},{SERVER}\n"
            ),
            3,
            "mechanism",
        ),
        (
            &*format!(
                "username,mechanism,iterations,salt,stored_key,server_key\nu,SCRAM-SHA-256,many,{SALT},{STORED},{SERVER}\n"
            ),
            2,
            "iterations",
        ),
        (
            "username,mechanism,iterations,salt,stored_key,server_key\n\"u,SCRAM-SHA-256\n",
            2,
            "1 fields",
        ),
        (
            "username,mechanism,iterations,salt,stored_key,server_key\nu,SCRAM-SHA-256,4096\n",
            2,
            "fields",
        ),
    ] {
        let err = read_records(text, Format::Csv).unwrap_err();
        assert_eq!(
            err.position(),
            Some(Position::Line(line)),
            "{text:?}: {err}"
        );
        assert!(err.to_string().contains(needle), "{text:?}: {err}");
    }
    let d = dir("invalid");
    let dup = d.join("dup.json");
    replace(
        &dup,
        &format!("{}\n{}\n", json_record("a"), json_record("a")),
    );
    assert!(
        matches!(
            FileProvider::open(&dup),
            Err(FileProviderError::Record {
                source: RecordError::Duplicate { .. },
                ..
            })
        ),
        "{:?}",
        FileProvider::open(&dup)
    );
    let bad_acl = d.join("acl.json");
    let rec = json_record("a").replace(
        "\"iterations\"",
        r#""acl":[{"permission":"allow","action":"all","topic":"a/#/b"}],"iterations""#,
    );
    replace(&bad_acl, &rec);
    let err = FileProvider::open(&bad_acl).unwrap_err();
    assert!(err.to_string().contains("a/#/b"), "{err}");
    assert!(matches!(
        FileProvider::open(d.join("missing.json")),
        Err(FileProviderError::Io { .. })
    ));
}

#[test]
fn reload_swaps_atomically_and_keeps_old_set_on_errors() {
    let d = dir("reload");
    let path = d.join("users.json");
    replace(&path, &json_record("a"));
    let p = Arc::new(FileProvider::open(&path).unwrap());
    replace(&path, "{broken");
    assert!(p.reload().is_err());
    assert!(p.get("a", HashAlgorithm::Sha256).is_some());
    assert!(p.last_error().is_some());
    replace(&path, "");
    assert!(matches!(
        p.reload(),
        Err(FileProviderError::Emptied { previous: 1, .. })
    ));
    assert!(p.get("a", HashAlgorithm::Sha256).is_some());
    replace(
        &path,
        &format!("{}\n{}", json_record("b"), json_record("c")),
    );
    assert_eq!(p.reload(), Ok(true));
    assert!(p.get("a", HashAlgorithm::Sha256).is_none());
    assert_eq!(p.len(), 2);
    assert_eq!(p.poll(), Ok(false));
    assert_eq!(p.generation(), 2);

    let (tx, rx) = std::sync::mpsc::channel();
    let w = p.watch(Duration::from_millis(20), move |r| {
        let _ = tx.send(r.clone());
    });
    assert!(w.is_some());
    replace(&path, &json_record("d"));
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(true));
    assert!(p.get("d", HashAlgorithm::Sha256).is_some());
    assert!(p.watch(Duration::ZERO, |_| {}).is_none());
}

#[test]
fn concurrent_locked_appends_lose_nothing() {
    let d = dir("append");
    for file in ["users.json", "array.json", "users.csv"] {
        let path = d.join(file);
        if file == "array.json" {
            replace(&path, "[]\n");
        }
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for i in 0..4 {
                        append_record_locked(
                            &path,
                            &record(&format!("u{t}-{i}"), HashAlgorithm::Sha256),
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let p = FileProvider::open(&path).unwrap();
        assert_eq!(p.len(), 24, "{file}");
        assert!(verify_plain_password(
            &p.get("u5-3", HashAlgorithm::Sha256).unwrap(),
            "pw",
            NOW
        ));
        // The same user and mechanism again is refused; another mechanism is fine.
        let again = append_record_locked(&path, &record("u0-0", HashAlgorithm::Sha256));
        assert!(
            matches!(again, Err(FileProviderError::Duplicate { .. })),
            "{again:?}"
        );
        append_record_locked(&path, &record("u0-0", HashAlgorithm::Sha512)).unwrap();
        assert_eq!(FileProvider::open(&path).unwrap().len(), 25);
        assert!(
            !path
                .with_extension(format!(
                    "{}.lock",
                    path.extension().unwrap().to_str().unwrap()
                ))
                .exists()
        );
    }
    let text = std::fs::read_to_string(d.join("array.json")).unwrap();
    assert!(text.trim_start().starts_with('[') && text.trim_end().ends_with(']'));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("users.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A broken file is not appended to.
    let broken = d.join("broken.json");
    replace(&broken, "{oops");
    assert!(append_record_locked(&broken, &record("x", HashAlgorithm::Sha256)).is_err());
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "{oops");
}

#[test]
fn record_with_bad_rule_is_rejected_at_load() {
    let rec = r#"{"username":"user","mechanism":"SCRAM-SHA-256","iterations":4096,"salt":"W22ZaJ0SNY7soEsUEjb6gQ==","stored_key":"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=","server_key":"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=","acl":[{"permission":"allow","action":"publish","topic":"ok"},{"permission":"allow","action":"publish","topic":"a/#/b"}]}"#;
    let err = mqtt_scram_stores::record::parse_records(rec).unwrap_err();
    assert!(err.to_string().contains("a/#/b"), "{err}");
}

#[test]
fn csv_written_by_the_old_and_new_gen_loads() {
    // `mqtt-scram gen -f csv` wrote a client_attrs column this store refused, and the tool
    // dropped expire_at: one codec now reads and writes every column.
    let d = dir("gen-csv");
    let old = d.join("old.csv");
    replace(
        &old,
        &format!(
            "username,mechanism,iterations,salt,stored_key,server_key,is_superuser,client_attrs\n\
             user,SCRAM-SHA-256,4096,{SALT},{STORED},{SERVER},false,\"{{\"\"site\"\":\"\"b\"\"}}\"\n"
        ),
    );
    let p = FileProvider::open(&old).unwrap();
    let rec = p.get("user", HashAlgorithm::Sha256).unwrap();
    assert_eq!(rec.attributes.client_attrs["site"], "b");
    let mut record = CredentialRecord::new("bob", &rec);
    record.expire_at = Some(1_900_000_000);
    let new = d.join("new.csv");
    replace(
        &new,
        &mqtt_scram_stores::record::write_records(&[record], Format::Csv).unwrap(),
    );
    let p = FileProvider::open(&new).unwrap();
    let rec = p.get("bob", HashAlgorithm::Sha256).unwrap();
    assert_eq!(rec.attributes.expire_at, Some(1_900_000_000));
    assert_eq!(rec.attributes.client_attrs["site"], "b");
}

#[test]
fn reload_errors_name_file_and_line_without_key_material() {
    let d = dir("reload-errors");
    let head = "username,mechanism,iterations,salt,stored_key,server_key,is_superuser";
    let path = d.join("users.csv");
    replace(
        &path,
        &format!("{head}\nuser,SCRAM-SHA-256,4096,{SALT},{STORED},{SERVER},false\n"),
    );
    let p = FileProvider::open(&path).unwrap();
    // Line 4: the ServerKey landed in the is_superuser column; line 5 would be fine.
    replace(
        &path,
        &format!(
            "{head}\nuser,SCRAM-SHA-256,4096,{SALT},{STORED},{SERVER},false\n\n\
             bob,SCRAM-SHA-256,4096,{SALT},{STORED},{STORED},{SERVER}\n\
             eve,SCRAM-SHA-256,4096,{SALT},{STORED},{SERVER},true\n"
        ),
    );
    let err = p.reload().unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{}: line 4 (\"bob\"): is_superuser",
            path.display()
        )),
        "{text}"
    );
    assert!(!text.contains(SERVER) && !text.contains(STORED), "{text}");
    assert!(!format!("{err:?}").contains(SERVER), "{err:?}");
    assert_eq!(p.last_error(), Some(err));
    assert!(
        p.get("user", HashAlgorithm::Sha256).is_some(),
        "old set kept"
    );
    assert!(p.get("eve", HashAlgorithm::Sha256).is_none());
    // A key in a JSON number field: named by line, the value left out.
    let json = d.join("users.json");
    replace(&json, &json_record("user"));
    let p = FileProvider::open(&json).unwrap();
    replace(
        &json,
        &format!(
            "{}\n{}",
            json_record("user"),
            json_record("bob").replace("4096", &format!("\"{SERVER}\""))
        ),
    );
    let text = p.reload().unwrap_err().to_string();
    assert!(
        text.starts_with(&format!("{}: line 2: invalid type", json.display())),
        "{text}"
    );
    assert!(!text.contains(SERVER), "{text}");
    assert_eq!(p.len(), 1);
}

#[test]
fn unknown_users_go_through_the_memory_store() {
    use mqtt_scram::ConnectionInfo;
    use mqtt_scram::provider::{Lookup, LookupRequest, MemoryProvider, SyncCredentialProvider};
    // The file store answers from a MemoryProvider holding the loaded set, so an unknown
    // user costs what the memory store's unknown user costs (equal work is the memory
    // store's and the engine's property, measured in the engine's benches).
    let d = dir("unknown");
    let path = d.join("users.json");
    replace(&path, &json_record("user"));
    let p = FileProvider::open(&path).unwrap();
    let memory = MemoryProvider::new();
    for (name, record) in read_records(&json_record("user"), Format::Json).unwrap() {
        memory.insert(&name, record);
    }
    let connection = ConnectionInfo::new("c");
    for name in ["user", "nobody"] {
        let request = LookupRequest::new(mqtt_scram::Mechanism::ScramSha256, name, &connection);
        let (a, b) = (p.lookup_sync(&request), memory.lookup_sync(&request));
        match (&a, &b) {
            (Lookup::Found(x), Lookup::Found(y)) => assert_eq!(x, y),
            (Lookup::NotFound, Lookup::NotFound) => {}
            _ => panic!("{name}: file {a:?}, memory {b:?}"),
        }
    }
}

#[test]
fn csv_append_refuses_to_drop_a_field() {
    let d = dir("append-fields");
    let path = d.join("users.csv");
    replace(
        &path,
        &format!(
            "username,mechanism,iterations,salt,stored_key,server_key\nuser,SCRAM-SHA-256,4096,{SALT},{STORED},{SERVER}\n"
        ),
    );
    let mut rec = record("bob", HashAlgorithm::Sha256);
    rec.client_attrs.insert("site".into(), "b".into());
    let err = append_record_locked(&path, &rec).unwrap_err();
    assert!(err.to_string().contains("no client_attrs column"), "{err}");
    rec.client_attrs.clear();
    append_record_locked(&path, &rec).unwrap();
    assert_eq!(FileProvider::open(&path).unwrap().len(), 2);
}
