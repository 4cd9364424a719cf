//! `MockKey::from_file` (issue 21 §3): hex or 32 raw bytes, a group- or world-readable file
//! refused with the fix, errors that never show the key, and a key that works.
#![cfg(all(unix, feature = "std"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mqtt_scram::{MockKey, MockKeyError, ServerConfig};

/// A file under the temporary directory, removed on drop.
struct KeyFile(PathBuf);

impl KeyFile {
    fn new(contents: &[u8], mode: u32) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mqtt-scram-mock-key-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The server-first salt for `user` under the key, to compare keys without seeing them.
fn salt_under(key: MockKey, user: &str) -> Vec<u8> {
    use mqtt_scram::provider::Lookup;
    use mqtt_scram::{ConnectionInfo, ScramServer, StartPacket, Timestamp};
    let server = ScramServer::new(ServerConfig::from_mock_key(key)).unwrap();
    let conn = std::sync::Arc::new(ConnectionInfo::new("c"));
    let first = format!("n,,n={user},r=abcdefgh");
    let start = StartPacket::Connect {
        method: "SCRAM-SHA-256",
        data: Some(first.as_bytes()),
    };
    let pending = server
        .start(&conn, start, Timestamp::new(Default::default(), 0))
        .unwrap();
    let (_, reply) = pending.continue_with(Lookup::NotFound, &mut rand::rng());
    let text = String::from_utf8(reply.data.unwrap()).unwrap();
    let salt = text.split(',').find_map(|a| a.strip_prefix("s=")).unwrap();
    salt.as_bytes().to_vec()
}

#[test]
fn hex_with_whitespace_and_raw_bytes_give_the_same_key() {
    let bytes: [u8; 32] = core::array::from_fn(|i| i as u8 * 7 + 1);
    let hex_file = KeyFile::new(format!("  {}\n\n", hex::encode(bytes)).as_bytes(), 0o600);
    let upper = KeyFile::new(hex::encode_upper(bytes).as_bytes(), 0o400);
    let raw_file = KeyFile::new(&bytes, 0o600);
    let expected = salt_under(MockKey::new(bytes), "nobody");
    for file in [&hex_file, &upper, &raw_file] {
        let key = MockKey::from_file(file.path()).unwrap();
        assert_eq!(salt_under(key, "nobody"), expected);
    }
    assert_ne!(salt_under(MockKey::new([0; 32]), "nobody"), expected);
}

#[test]
fn a_file_others_can_read_is_refused_with_the_fix() {
    let key = "5a".repeat(32);
    for mode in [0o644, 0o640, 0o604, 0o660, 0o602, 0o620, 0o777] {
        let file = KeyFile::new(key.as_bytes(), mode);
        let err = MockKey::from_file(file.path()).unwrap_err();
        assert!(matches!(err, MockKeyError::Permissions { .. }), "{mode:o}");
        let text = err.to_string();
        assert!(text.contains(&file.path().display().to_string()), "{text}");
        assert!(text.contains("chmod 600"), "{text}");
        assert!(text.contains(&format!("{mode:03o}")), "{text}");
        assert!(!text.contains(&key) && !format!("{err:?}").contains(&key));
    }
}

#[test]
fn malformed_files_are_refused_without_showing_their_bytes() {
    let secret = "c0ffee".repeat(10) + "abc"; // 63 hex characters
    let secret_raw = [0xabu8; 31];
    let cases: [&[u8]; 6] = [
        secret.as_bytes(),
        &secret_raw,
        b"",
        b"zz5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        &[0x41; 33],
        &[b'5'; 5000],
    ];
    for contents in cases {
        let file = KeyFile::new(contents, 0o600);
        let err = MockKey::from_file(file.path()).unwrap_err();
        assert!(matches!(err, MockKeyError::Format { .. }), "{err}");
        let (text, debug) = (err.to_string(), format!("{err:?}"));
        assert!(text.contains(&file.path().display().to_string()), "{text}");
        assert!(text.contains("64 hex characters") && text.contains("32 raw bytes"));
        for shown in [&text, &debug] {
            assert!(
                !shown.contains(&secret) && !shown.contains("c0ffee"),
                "{shown}"
            );
            assert!(
                !shown.contains("ab, ab") && !shown.contains("171, 171"),
                "{shown}"
            );
        }
    }
}

#[test]
fn a_missing_file_names_the_path() {
    let path = std::env::temp_dir().join("mqtt-scram-no-such-mock-key");
    let err = MockKey::from_file(&path).unwrap_err();
    assert!(matches!(err, MockKeyError::Read { .. }));
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn debug_is_redacted() {
    let key = MockKey::new([0x42; 32]);
    let debug = format!("{key:?}");
    assert_eq!(debug, "MockKey(<redacted>)");
    let config = format!("{:?}", ServerConfig::from_mock_key(key));
    assert!(
        !config.contains("42, 66") && !config.contains("66, 66"),
        "{config}"
    );
}
