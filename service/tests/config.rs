//! `service.toml`: the store as a URL or a table, defaults, and every unknown or bad key
//! refused with the key named.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::time::Duration;

use mqtt_scram_service::ServiceConfig;
use mqtt_scram_stores::config::StoreConfig;

#[test]
fn store_as_url_or_table_and_defaults() {
    let c = ServiceConfig::from_toml("store = \"redis://127.0.0.1:6379\"\n[emqx4]\n").unwrap();
    assert!(matches!(c.store, StoreConfig::Redis(_)));
    assert_eq!(c.listen.to_string(), "127.0.0.1:8090");
    assert_eq!(c.lookup_timeout, Duration::from_secs(5));
    assert!(c.acl_from_records && c.tls.is_none() && c.auth.is_none());
    let emqx4 = c.emqx4.unwrap();
    assert_eq!(
        (
            emqx4.auth_path.as_str(),
            emqx4.superuser_path.as_str(),
            emqx4.acl_path.as_str()
        ),
        ("/emqx4/auth", "/emqx4/superuser", "/emqx4/acl")
    );

    let c = ServiceConfig::from_toml(
        "lookup_timeout = \"750ms\"\n[store]\nkind = \"chain\"\n[[store.stores]]\nkind = \"file\"\npath = \"a.json\"\n[[store.stores]]\nkind = \"postgres\"\nurl = \"postgres://u@h/db\"\n[emqx5]\n",
    )
    .unwrap();
    assert!(matches!(c.store, StoreConfig::Chain(_)));
    assert_eq!(c.lookup_timeout, Duration::from_millis(750));
    let emqx5 = c.emqx5.unwrap();
    assert_eq!(emqx5.path, "/emqx5/scram");
    assert_eq!(emqx5.iterations, 4096);
    assert!(emqx5.mock);
}

#[test]
fn bad_keys_are_named() {
    for (toml, needle) in [
        ("store = \"u.json\"\nlistne = \"x\"\n[emqx4]\n", "listne"),
        ("store = \"u.json\"\n[emqx4]\nauth = \"/a\"\n", "auth"),
        ("store = \"u.json\"\n[emqx5]\nalgorithm = \"md5\"\n", "md5"),
        (
            "store = \"u.json\"\n[emqx5]\npath = \"scram\"\n",
            "emqx5.path",
        ),
        ("store = \"u.json\"\n[tls]\ncert = \"c\"\n[emqx5]\n", "key"),
        (
            "store = \"u.json\"\n[auth]\nheader = \"x y\"\nsecret_file = \"s\"\n[emqx5]\n",
            "auth.header",
        ),
        (
            "store = \"u.json\"\n[password_work]\nmax_concurrent = 0\n[emqx5]\n",
            "max_concurrent",
        ),
        (
            "store = \"u.json\"\n[password_work]\nmock_iterations = 10\n[emqx5]\n",
            "mock_iterations",
        ),
        ("store = \"mongodb://x\"\n[emqx5]\n", "mongodb"),
        (
            "[store]\nkind = \"file\"\npath = \"u.json\"\nreload = 1\n[emqx5]\n",
            "reload",
        ),
        ("[emqx5]\n", "store"),
        (
            "store = \"u.json\"\nlookup_timeout = \"0s\"\n[emqx5]\n",
            "lookup_timeout",
        ),
        ("store = \"u.json\"\n", "no contract table"),
    ] {
        let e = ServiceConfig::from_toml(toml).unwrap_err().to_string();
        assert!(e.contains(needle), "{toml:?}: {e}");
    }
}

/// The mock key file is read with `MockKey::from_file`: one others may read is refused.
#[test]
fn a_readable_mock_key_file_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = mqtt_scram_testkit::TempDir::new("service-config-mock-key");
    let users = dir.write("users.jsonl", "");
    let key = dir.write("mock.key", &"5a".repeat(32));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let toml = format!(
        "store = {:?}\nmock_key_file = {:?}\n[emqx5]\n",
        users.display().to_string(),
        key.display().to_string()
    );
    let config = ServiceConfig::from_toml(&toml).unwrap();
    let e = mqtt_scram_service::Backend::new(&config)
        .unwrap_err()
        .to_string();
    assert!(e.contains("chmod 600"), "{e}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    mqtt_scram_service::Backend::new(&config).unwrap();
}
