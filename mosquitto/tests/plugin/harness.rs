//! Users, keys and files for the tests, and the broker with the plugin loaded.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mqtt_scram::provider::UserRecord;
use mqtt_scram::{HashAlgorithm, StoredCredentials};
use mqtt_scram_stores::record::CredentialRecord;
use mqtt_scram_testkit::TempDir;
use mqtt_scram_testkit::mosquitto::{Config, Mosquitto};

pub const PASSWORD: &str = "pencil";

/// The plugin built with this test binary: cargo builds the package's library (cdylib and
/// rlib) next to it in `target/<profile>/deps/`, so it is never stale.
pub fn plugin_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let deps = exe.parent().unwrap();
        let path = deps.join("libmqtt_scram_mosquitto.so");
        assert!(path.exists(), "{} is missing", path.display());
        path
    })
    .clone()
}

/// One user's record as a JSON value, derived at the minimum iteration count.
pub fn record(user: &str, password: &str, hash: HashAlgorithm) -> serde_json::Value {
    record_with(user, password, hash, |r| r)
}

/// As [`record`], with the record adjusted (superuser, ACL rules...).
pub fn record_with(
    user: &str,
    password: &str,
    hash: HashAlgorithm,
    adjust: impl FnOnce(serde_json::Value) -> serde_json::Value,
) -> serde_json::Value {
    let salt: [u8; 16] = rand::random();
    let credentials = StoredCredentials::derive(hash, password, &salt, 4096).unwrap();
    let record = CredentialRecord::new(user, &UserRecord::new(credentials));
    adjust(serde_json::to_value(&record).unwrap())
}

/// alice (SHA-256 and SHA-512), root (superuser), carol (EMQX rules in her record).
pub fn default_users() -> Vec<serde_json::Value> {
    vec![
        record("alice", PASSWORD, HashAlgorithm::Sha256),
        record("alice", PASSWORD, HashAlgorithm::Sha512),
        record_with("root", PASSWORD, HashAlgorithm::Sha256, |mut r| {
            r["is_superuser"] = true.into();
            r
        }),
        record_with("carol", PASSWORD, HashAlgorithm::Sha256, |mut r| {
            r["acl"] = serde_json::json!([
                {"permission": "deny", "action": "all", "topic": "secret/#"},
                {"permission": "allow", "action": "all", "topic": "#"}
            ]);
            r
        }),
    ]
}

/// Files and a broker.
pub struct Fixture {
    /// Keeps the files until the test ends.
    _dir: TempDir,
    pub users: PathBuf,
    pub broker: Mosquitto,
}

pub fn write_users(path: &Path, users: &[serde_json::Value]) {
    let text = serde_json::to_string_pretty(users).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `chmod 600`: the plugin refuses a mock key file others can read.
pub fn private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A directory with `users.json` and `mock.key`, and the plugin configuration for them.
pub fn files(users: &[serde_json::Value]) -> (TempDir, PathBuf, Config) {
    let dir = TempDir::new("mosquitto-plugin");
    let path = dir.join("users.json");
    write_users(&path, users);
    let key = dir.write("mock.key", &format!("{}\n", "5a".repeat(32)));
    private(&key);
    let config = Config::with_plugin(plugin_path())
        .option("store", path.display())
        .option("mock_key_file", key.display());
    (dir, path, config)
}

impl Fixture {
    /// A broker with [`default_users`] and extra settings; `None` when Mosquitto is missing
    /// and missing peers may be skipped.
    pub fn start(adjust: impl FnOnce(Config, &TempDir) -> Config) -> Option<Self> {
        let (dir, users, config) = files(&default_users());
        let config = adjust(config, &dir);
        let broker = Mosquitto::start(&config)?;
        Some(Self {
            _dir: dir,
            users,
            broker,
        })
    }
}
