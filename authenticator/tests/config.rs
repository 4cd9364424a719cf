//! Settings from configuration files: the engine's `ServerConfig` and `ClientConfig`
//! (feature `serde` of the engine) and the admission policy, with errors naming the key.
#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use mqtt_scram::client::ClientConfig;
use mqtt_scram::{Mechanism, ServerConfig};

const KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

fn server(json: &str) -> Result<ServerConfig, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

#[test]
fn server_config_from_json_with_every_setting() {
    let config = server(&format!(
        r#"{{"mechanisms": ["SCRAM-SHA-512"], "mock_key": "{KEY}", "mock_iterations": 8192,
            "nonce_len": 32, "handshake_timeout": "10s", "max_message_len": 8192,
            "allow_authzid": true, "record_policy": {{"iterations": [4096, 100000]}}}}"#
    ))
    .unwrap();
    assert_eq!(config.offered_mechanisms(), &[Mechanism::ScramSha512]);
    assert_eq!(config.timeout(), Duration::from_secs(10));
    assert_eq!(config.message_limit(), 8192);
    assert_eq!(config.policy().iterations(), &(4096..=100_000));
    assert!(
        !format!("{config:?}").contains("5a5a"),
        "the key is never printed"
    );
}

#[test]
fn server_config_mock_key_from_a_file() {
    let dir = std::env::temp_dir().join(format!("mqtt-scram-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mock.key");
    std::fs::write(&file, format!("{KEY}\n")).unwrap();
    let json = serde_json::json!({ "mock_key_file": file, "handshake_timeout": 5 }).to_string();
    #[cfg(unix)]
    {
        // A key file others can read is refused (MockKey::from_file), with the fix.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = server(&json).unwrap_err();
        assert!(
            error.contains("mock_key_file") && error.contains("chmod 600"),
            "{error}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert_eq!(server(&json).unwrap().timeout(), Duration::from_secs(5));
    std::fs::write(&file, "not hex").unwrap();
    let error = server(&json).unwrap_err();
    assert!(
        error.contains("mock_key_file") && error.contains("64 hex"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn server_config_errors_name_the_key() {
    for (json, key) in [
        (
            r#"{"handshake_timeout": "30s"}"#.to_string(),
            "mock_key_file",
        ),
        (
            format!(r#"{{"mock_key": "{KEY}", "mock_iteration": 1}}"#),
            "mock_iteration",
        ),
        (
            format!(r#"{{"mock_key": "{KEY}", "mechanisms": ["SCRAM-SHA-1"]}}"#),
            "mechanisms",
        ),
        (
            format!(r#"{{"mock_key": "{KEY}", "mock_iterations": 10}}"#),
            "mock_iterations",
        ),
        (
            format!(r#"{{"mock_key": "{KEY}", "handshake_timeout": "soon"}}"#),
            "soon",
        ),
        (
            format!(r#"{{"mock_key": "{KEY}", "nonce_len": 4}}"#),
            "nonce_len",
        ),
        (r#"{"mock_key": "abcd"}"#.to_string(), "mock_key"),
    ] {
        let error = server(&json).unwrap_err();
        assert!(error.contains(key), "{json}: {error}");
        assert!(!error.contains("5a5a5a"), "no key in errors: {error}");
    }
}

#[test]
fn client_config_from_json() {
    let config: ClientConfig =
        serde_json::from_str(r#"{"iteration_window": [4096, 600000], "nonce_len": 32}"#).unwrap();
    assert_eq!(
        config,
        ClientConfig::new()
            .iteration_window(4096..=600_000)
            .nonce_len(32)
    );
    let error = serde_json::from_str::<ClientConfig>(r#"{"iteration_window": [0, 10]}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("iteration_window"), "{error}");
}
