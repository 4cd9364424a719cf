//! FileProvider: JSON and CSV credential files, validation, reload, locked appends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::UserRecord;
use mqtt_scram_authz::fallback::verify_plain_password;
use mqtt_scram_stores::file::{FileFormat, FileProviderError, parse_csv};
use mqtt_scram_stores::record::CredentialRecord;
use mqtt_scram_stores::{FileProvider, append_record_locked};

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

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mqtt-scram-fp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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
    assert!(verify_plain_password(&rec, "pencil"));
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
        "pencil"
    ));
    assert_eq!(FileFormat::from_path(&csv), FileFormat::Csv);
}

#[test]
fn invalid_files_are_rejected_with_the_reason() {
    for (text, needle) in [
        ("username,mechanism\nx,y\n", "missing column"),
        (
            "username,mechanism,iterations,salt,stored_key,server_key,colour\n",
            "unknown column",
        ),
        (
            &*format!(
                "username,mechanism,iterations,salt,stored_key,server_key\nu,SCRAM-SHA-1,4096,{SALT},{STORED},{SERVER}\n"
            ),
            "mechanism",
        ),
        (
            &*format!(
                "username,mechanism,iterations,salt,stored_key,server_key\nu,SCRAM-SHA-256,many,{SALT},{STORED},{SERVER}\n"
            ),
            "iterations",
        ),
        (
            "username,mechanism,iterations,salt,stored_key,server_key\n\"u,SCRAM-SHA-256\n",
            "unterminated",
        ),
        (
            "username,mechanism,iterations,salt,stored_key,server_key\nu,SCRAM-SHA-256,4096\n",
            "fields",
        ),
    ] {
        let err = parse_csv(text).unwrap_err();
        assert!(err.1.contains(needle), "{text:?}: {err:?}");
    }
    let d = dir("invalid");
    let dup = d.join("dup.json");
    replace(
        &dup,
        &format!("{}\n{}\n", json_record("a"), json_record("a")),
    );
    assert!(matches!(
        FileProvider::open(&dup),
        Err(FileProviderError::Duplicate { .. })
    ));
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
            "pw"
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
