//! Every bad option stops the broker at start-up, and the log names the option.

use mqtt_scram_testkit::mosquitto::{Mosquitto, available};

use crate::harness::{default_users, files, private};

#[test]
fn bad_options_stop_the_broker_with_the_option_named() {
    if !available() {
        return;
    }
    let (dir, _users, base) = files(&default_users());
    let weak_key = dir.write("short.key", "abcd");
    private(&weak_key);
    // A good key others can read.
    let open_key = dir.write("open.key", &"5a".repeat(32));
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let ed25519 = dir.write(
        "ed.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("bogus", "1".into())],
            "plugin_opt_bogus: unknown option",
        ),
        (
            vec![("iterations", "lots".into())],
            "plugin_opt_iterations:",
        ),
        (vec![("iterations", "100".into())], "plugin_opt_iterations:"),
        (
            vec![("handshake_timeout", "0".into())],
            "plugin_opt_handshake_timeout:",
        ),
        (
            vec![("max_message_size", "10".into())],
            "plugin_opt_max_message_size:",
        ),
        (
            vec![("mechanisms", "SCRAM-SHA-256-PLUS".into())],
            "plugin_opt_mechanisms:",
        ),
        (
            vec![("tls_cert_file", ed25519.display().to_string())],
            "plugin_opt_tls_cert_file:",
        ),
        (
            vec![("acl_file", "/nonexistent/acl".into())],
            "plugin_opt_acl_file:",
        ),
        (
            vec![("basic_auth", "perhaps".into())],
            "plugin_opt_basic_auth:",
        ),
    ];
    for (extra, expected) in cases {
        let mut config = base.clone();
        for (k, v) in &extra {
            config = config.option(k, v);
        }
        let error = Mosquitto::try_start(&config)
            .err()
            .unwrap_or_else(|| panic!("{extra:?} started"));
        assert!(
            error.log.contains(expected),
            "{extra:?}: expected {expected:?} in\n{}",
            error.log
        );
    }
    // Options replacing the defaults' files.
    let replace = |key: &str, value: String| {
        let mut config = base.clone();
        config.plugin_options.retain(|(k, _)| k != key);
        config.option(key, value)
    };
    for (config, expected) in [
        (
            replace("mock_key_file", weak_key.display().to_string()),
            "plugin_opt_mock_key_file:",
        ),
        (
            replace("mock_key_file", open_key.display().to_string()),
            "chmod 600",
        ),
        (
            replace("store", "/nonexistent/users.json".into()),
            "plugin_opt_store:",
        ),
        (
            replace("store", "ftp://example".into()),
            "plugin_opt_store:",
        ),
    ] {
        let error = Mosquitto::try_start(&config).err().unwrap();
        assert!(
            error.log.contains(expected),
            "expected {expected:?} in\n{}",
            error.log
        );
    }
    let mut config = base.clone();
    config.plugin_options.retain(|(k, _)| k != "mock_key_file");
    let error = Mosquitto::try_start(&config).err().unwrap();
    assert!(
        error.log.contains("plugin_opt_mock_key_file: required"),
        "{}",
        error.log
    );
}
