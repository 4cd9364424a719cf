//! `service.toml`: what the service listens on, where credentials and ACLs come from, and
//! which contracts it serves (one table each; a contract is served only when its table is
//! present). Unknown keys are refused, naming the key.
//!
//! ```
//! use mqtt_scram_service::config::ServiceConfig;
//! let config = ServiceConfig::from_toml(r#"
//!     store = "/etc/mqtt-scram/users.json"
//!     acl_file = "/etc/mqtt-scram/acl"
//!     [emqx5]
//!     iterations = 4096
//!     [emqx4]
//! "#)?;
//! assert_eq!(config.listen.to_string(), "127.0.0.1:8090");
//! assert!(config.emqx5.is_some() && config.amqtt.is_none());
//! let e = ServiceConfig::from_toml("listen = \"127.0.0.1:1\"\nstore = \"u.json\"\nlisten_on = 1\n").unwrap_err();
//! assert!(e.to_string().contains("listen_on"), "{e}");
//! # Ok::<(), mqtt_scram_service::config::ConfigError>(())
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mqtt_scram::config_duration::seconds;
use mqtt_scram::provider::MockShape;
use mqtt_scram::{ConfigError as EngineConfigError, HashAlgorithm, RecordPolicy, ServerConfig};
use mqtt_scram_stores::config::StoreConfig;
use serde::{Deserialize, Deserializer};

use crate::{amqtt, emqx4, emqx5, vernemq};

/// The default listen address: loopback, port 8090 (VerneMQ's docs recommend a local
/// endpoint per node).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";

/// The whole `service.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// Address to listen on (default [`DEFAULT_LISTEN`]; `--listen` overrides it).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// File with the 32-byte mock key, as 64 hex characters or 32 raw bytes, readable by its
    /// owner only (`chmod 600`; read by [`mqtt_scram::MockKey::from_file`]). It keys the
    /// salts of the mock records served for unknown users. Without it a random key is used
    /// and a warning logged: mock salts then change at every restart, which tells an
    /// attacker over time which users are fake.
    #[serde(default)]
    pub mock_key_file: Option<PathBuf>,
    /// The credential store: a table (any [`StoreConfig`]) or a URL / file path.
    #[serde(deserialize_with = "store_source")]
    pub store: StoreConfig,
    /// ACL file in the VerneMQ `vmq_acl` format with the gojek extensions (re-read on SIGHUP).
    #[serde(default)]
    pub acl_file: Option<PathBuf>,
    /// Apply the EMQX rules carried by credential records (default `true`).
    #[serde(default = "yes")]
    pub acl_from_records: bool,
    /// Longest a store lookup may take before the request is answered "can't decide"
    /// (default 5 s).
    #[serde(default = "default_lookup_timeout", with = "seconds")]
    pub lookup_timeout: Duration,
    /// TLS for the listener (rustls); plain HTTP without it.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// A shared secret every request must carry in a header.
    #[serde(default)]
    pub auth: Option<SharedSecretConfig>,
    /// Bounds on clear-password checks (PBKDF2 work).
    #[serde(default)]
    pub password_work: PasswordWorkConfig,
    /// Salt length in bytes (8..=64, default 16) of unknown users' challenges, mock records
    /// and mock password checks when the store does not report the shape of its records
    /// (remote stores). A credential file's most common salt length wins over it.
    #[serde(default)]
    pub mock_salt_len: Option<usize>,
    /// Iteration count (within `password_work.min_iterations..=max_iterations`, default
    /// 4096) of unknown users' challenges and mock password checks when the store does not
    /// report the shape of its records (remote stores); set it to what most real users
    /// have. A credential file's most common count wins over it.
    #[serde(default)]
    pub mock_iterations: Option<u32>,
    /// `[mock_shape.sha256]` / `[mock_shape.sha512]`: `salt_len` and `iterations` for one
    /// hash, over `mock_salt_len` and `mock_iterations` (remote stores whose SHA-256 and
    /// SHA-512 records differ).
    #[serde(default)]
    pub mock_shape: MockShapesConfig,
    /// EMQX 5 SCRAM REST contract.
    #[serde(default)]
    pub emqx5: Option<emqx5::Config>,
    /// EMQX 4 `emqx_auth_http` contract.
    #[serde(default)]
    pub emqx4: Option<emqx4::Config>,
    /// amqtt HTTP plugins contract.
    #[serde(default)]
    pub amqtt: Option<amqtt::Config>,
    /// VerneMQ `vmq_webhooks` contract.
    #[serde(default)]
    pub vernemq: Option<vernemq::Config>,
}

/// `[tls]`: certificate chain and private key, PEM files.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// `[auth]`: a shared secret in a request header, compared in constant time and never
/// logged. Requests without it (or with another value) get 401.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SharedSecretConfig {
    /// Header name, e.g. `x-auth-secret` (case-insensitive).
    pub header: String,
    /// File holding the secret (surrounding whitespace is trimmed; re-read on SIGHUP).
    pub secret_file: PathBuf,
}

/// `[password_work]`: how much PBKDF2 work clear-password checks may take.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PasswordWorkConfig {
    /// Checks computing at once (default: the number of CPUs).
    pub max_concurrent: usize,
    /// Checks admitted at once (computing or queued) from one client IP (default 16).
    pub max_per_client: usize,
    /// Checks admitted at once in total (default 1024). Beyond it: "busy".
    pub max_queued: usize,
    /// Longest a check waits for a work slot before the answer is "busy" (default 5 s).
    #[serde(with = "seconds")]
    pub max_wait: Duration,
    /// Lowest iteration count a record may have (default 4096).
    pub min_iterations: u32,
    /// Highest iteration count a record may have (default 1,000,000); a record outside the
    /// range is not used ("can't decide", logged).
    pub max_iterations: u32,
    /// Deprecated name of the top-level [`ServiceConfig::mock_iterations`] (used when that
    /// is not set; both set is an error). A warning is logged at start.
    pub mock_iterations: Option<u32>,
}

/// `[mock_shape]`: per-hash mock shapes for stores that do not report their records'.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MockShapesConfig {
    /// `[mock_shape.sha256]`.
    #[serde(default)]
    pub sha256: Option<MockShapeConfig>,
    /// `[mock_shape.sha512]`.
    #[serde(default)]
    pub sha512: Option<MockShapeConfig>,
}

/// One hash's mock shape; an absent key takes `mock_salt_len` / `mock_iterations`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MockShapeConfig {
    /// Salt length in bytes (8..=64).
    #[serde(default)]
    pub salt_len: Option<usize>,
    /// Iteration count (within the `password_work` range).
    #[serde(default)]
    pub iterations: Option<u32>,
}

impl Default for PasswordWorkConfig {
    fn default() -> Self {
        Self {
            max_concurrent: std::thread::available_parallelism().map_or(2, usize::from),
            max_per_client: 16,
            max_queued: 1024,
            max_wait: Duration::from_secs(5),
            min_iterations: 4096,
            max_iterations: 1_000_000,
            mock_iterations: None,
        }
    }
}

/// Why `service.toml` cannot be used (never a secret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or a key is unknown or of the wrong type (the message names it).
    #[error("{0}")]
    Parse(String),
    /// A setting is out of range or a table is not supported (the message names it).
    #[error("{0}")]
    Invalid(String),
}

impl ServiceConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses and checks TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.message().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings that serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let work = &self.password_work;
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if work.max_concurrent == 0 {
            return invalid("password_work.max_concurrent: must be at least 1");
        }
        if work.max_per_client == 0 || work.max_queued == 0 {
            return invalid("password_work.max_per_client and max_queued: must be at least 1");
        }
        if work.min_iterations == 0 || work.min_iterations > work.max_iterations {
            return invalid(
                "password_work.min_iterations: must be at least 1 and not above max_iterations",
            );
        }
        self.validate_mock_shapes()?;
        if self.lookup_timeout.is_zero() {
            return invalid("lookup_timeout: must be longer than zero");
        }
        if let Some(auth) = &self.auth
            && axum::http::HeaderName::from_bytes(auth.header.as_bytes()).is_err()
        {
            return invalid("auth.header: not a valid HTTP header name");
        }
        if let Some(c) = &self.emqx5 {
            c.validate().map_err(ConfigError::Invalid)?;
        }
        if let Some(c) = &self.emqx4 {
            c.validate().map_err(ConfigError::Invalid)?;
        }
        if let Some(c) = &self.amqtt {
            amqtt::validate(c).map_err(ConfigError::Invalid)?;
        }
        if let Some(c) = &self.vernemq {
            vernemq::validate(c).map_err(ConfigError::Invalid)?;
        }
        if self.emqx5.is_none()
            && self.emqx4.is_none()
            && self.amqtt.is_none()
            && self.vernemq.is_none()
        {
            return invalid(
                "no contract table: add at least one of [emqx5], [emqx4], [amqtt], [vernemq]",
            );
        }
        Ok(())
    }
}

impl ServiceConfig {
    /// The record policy records must satisfy: `password_work`'s iteration range, salts of
    /// 8..=64 bytes.
    pub fn record_policy(&self) -> RecordPolicy {
        let work = &self.password_work;
        RecordPolicy::new(work.min_iterations..=work.max_iterations, 8..=64)
    }

    /// The configured mock shape of `hash`, shown to unknown users when the store does not
    /// report its records' shape: `[mock_shape.<hash>]`, else `mock_salt_len` and
    /// `mock_iterations` (or the deprecated `password_work.mock_iterations`), else 16
    /// bytes and 4096.
    ///
    /// ```
    /// use mqtt_scram::{HashAlgorithm, provider::MockShape};
    /// use mqtt_scram_service::config::ServiceConfig;
    /// let config = ServiceConfig::from_toml(
    ///     "store = \"u.json\"\nmock_salt_len = 32\n[mock_shape.sha512]\niterations = 10000\n[emqx5]\n",
    /// )?;
    /// assert_eq!(config.mock_shape_for(HashAlgorithm::Sha256), MockShape::new(32, 4096));
    /// assert_eq!(config.mock_shape_for(HashAlgorithm::Sha512), MockShape::new(32, 10_000));
    /// # Ok::<(), mqtt_scram_service::config::ConfigError>(())
    /// ```
    pub fn mock_shape_for(&self, hash: HashAlgorithm) -> MockShape {
        let default = MockShape::DEFAULT;
        let salt_len = self.mock_salt_len.unwrap_or(default.salt_len());
        let iterations = self
            .mock_iterations
            .or(self.password_work.mock_iterations)
            .unwrap_or(default.iterations());
        match self.hash_shape(hash) {
            Some(own) => MockShape::new(
                own.salt_len.unwrap_or(salt_len),
                own.iterations.unwrap_or(iterations),
            ),
            None => MockShape::new(salt_len, iterations),
        }
    }

    fn hash_shape(&self, hash: HashAlgorithm) -> Option<&MockShapeConfig> {
        match hash {
            HashAlgorithm::Sha256 => self.mock_shape.sha256.as_ref(),
            HashAlgorithm::Sha512 => self.mock_shape.sha512.as_ref(),
        }
    }

    /// The mock shapes against the record policy, the error naming the setting it came from.
    fn validate_mock_shapes(&self) -> Result<(), ConfigError> {
        if self.mock_iterations.is_some() && self.password_work.mock_iterations.is_some() {
            return Err(ConfigError::Invalid(
                "mock_iterations: also given as password_work.mock_iterations (its deprecated name); keep only mock_iterations".into(),
            ));
        }
        let engine = ServerConfig::new([0; 32]).record_policy(self.record_policy());
        for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            let shape = self.mock_shape_for(hash);
            let own = self.hash_shape(hash);
            let (setting, what) = match engine.check_mock_shape(shape) {
                Ok(()) => continue,
                Err(EngineConfigError::MockSaltLen { min, max, .. }) => (
                    if own.is_some_and(|o| o.salt_len.is_some()) {
                        format!("mock_shape.{}.salt_len", hash.short_name())
                    } else {
                        "mock_salt_len".into()
                    },
                    format!("{} bytes is outside {min}..={max}", shape.salt_len()),
                ),
                Err(_) => (
                    if own.is_some_and(|o| o.iterations.is_some()) {
                        format!("mock_shape.{}.iterations", hash.short_name())
                    } else if self.mock_iterations.is_none()
                        && self.password_work.mock_iterations.is_some()
                    {
                        "password_work.mock_iterations".into()
                    } else {
                        "mock_iterations".into()
                    },
                    format!(
                        "{} is outside password_work.min_iterations..=max_iterations ({}..={})",
                        shape.iterations(),
                        self.password_work.min_iterations,
                        self.password_work.max_iterations
                    ),
                ),
            };
            return Err(ConfigError::Invalid(format!(
                "{setting}: {what}; unknown users would stand out"
            )));
        }
        Ok(())
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8090))
}

fn yes() -> bool {
    true
}

fn default_lookup_timeout() -> Duration {
    Duration::from_secs(5)
}

/// `store = "URL or path"` or a `[store]` table.
fn store_source<'de, D: Deserializer<'de>>(deserializer: D) -> Result<StoreConfig, D::Error> {
    let value = toml::Value::deserialize(deserializer)?;
    match value {
        toml::Value::String(url) => {
            StoreConfig::from_url(&url).map_err(|e| serde::de::Error::custom(format!("store: {e}")))
        }
        toml::Value::Table(table) => StoreConfig::deserialize(table)
            .map_err(|e| serde::de::Error::custom(format!("store: {}", e.message()))),
        _ => Err(serde::de::Error::custom(
            "store: expected a URL or file path, or a table with `kind`",
        )),
    }
}
