//! [`StoreConfig`]: every credential store of this package, described in a configuration
//! file (JSON, TOML, … through serde) and built into one shared provider.
//!
//! Each store is an object tagged by `kind`: `file`, `http`, `postgres`, `redis`, and the
//! combinators `cached` (a TTL cache with single-flight lookups around `inner`) and `chain`
//! (`stores` asked in order). Durations are written `"500ms"`, `"5s"`, `"1m"`, `"1h"` or as
//! milliseconds.
//!
//! ```
//! use mqtt_scram_stores::config::StoreConfig;
//! let config: StoreConfig = serde_json::from_str(r#"{
//!     "kind": "chain",
//!     "stores": [
//!         {"kind": "file", "path": "/etc/mqtt/local-users.json", "reload_interval": "5s"},
//!         {"kind": "cached", "ttl": "30s", "inner":
//!             {"kind": "postgres", "url": "postgres://mqtt@db1,db2/mqtt?sslmode=verify-full"}}
//!     ]
//! }"#)?;
//! assert!(matches!(config, StoreConfig::Chain(_)));
//! // The same in TOML:
//! // kind = "cached"
//! // ttl = "30s"
//! // [inner]
//! // kind = "redis"
//! // url = "redis://127.0.0.1:6379"
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! A broker takes a bare URL or path as its credential source with
//! [`StoreConfig::from_url`]: `postgres://…`, `redis://…`, `redis+cluster://…`,
//! `redis+sentinel://…`, `http(s)://…`, or a file path.

use std::path::PathBuf;
use std::string::{String, ToString};
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use core::fmt;

use mqtt_scram::config_duration::millis;
use mqtt_scram::provider::{
    Cached, Chain, CredentialProvider, DynCredentialProvider, Lookup, LookupRequest, OnNotFound,
};
use serde::Deserialize;

use crate::file::{FileProvider, FileProviderError};
use crate::record::Format;

/// A credential store described in configuration; see the [module docs](self).
///
/// The `http`, `postgres` and `redis` kinds are read whatever features are enabled, so a
/// configuration file stays valid; [`StoreConfig::build`] refuses a kind whose feature is
/// not compiled in, naming the feature.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
// Read once at start-up; the variants' sizes depend on the features enabled, and boxing
// them would only complicate matching for users.
#[allow(clippy::large_enum_variant)]
pub enum StoreConfig {
    /// A credential file (JSON records or CSV), see [`FileProvider`].
    File(FileStoreConfig),
    /// An HTTP service speaking EMQX's SCRAM contract (feature `http`).
    Http(HttpSection),
    /// PostgreSQL (feature `postgres`).
    Postgres(PostgresSection),
    /// Redis: one node, Sentinel or Cluster (feature `redis`).
    Redis(RedisSection),
    /// A cache in front of another store.
    Cached(CachedConfig),
    /// Stores asked in order.
    Chain(ChainConfig),
}

/// The `http` section: [`HttpConfig`](crate::http::HttpConfig) with feature `http`.
#[cfg(feature = "http")]
pub type HttpSection = crate::http::HttpConfig;
/// The `http` section: ignored without feature `http` (building it fails).
#[cfg(not(feature = "http"))]
pub type HttpSection = FeatureDisabled;
/// The `postgres` section: [`PostgresConfig`](crate::postgres::PostgresConfig) with feature `postgres`.
#[cfg(feature = "postgres")]
pub type PostgresSection = crate::postgres::PostgresConfig;
/// The `postgres` section: ignored without feature `postgres` (building it fails).
#[cfg(not(feature = "postgres"))]
pub type PostgresSection = FeatureDisabled;
/// The `redis` section: [`RedisConfig`](crate::redis::RedisConfig) with feature `redis`.
#[cfg(feature = "redis")]
pub type RedisSection = crate::redis::RedisConfig;
/// The `redis` section: ignored without feature `redis` (building it fails).
#[cfg(not(feature = "redis"))]
pub type RedisSection = FeatureDisabled;

/// The settings of a store kind whose feature is not compiled in (accepted as anything;
/// [`StoreConfig::build`] fails on it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeatureDisabled;

impl<'de> Deserialize<'de> for FeatureDisabled {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Self)
    }
}

/// The format of a credential file, when its extension does not say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FileFormatName {
    /// The crate's JSON records (object, array or JSON lines).
    Json,
    /// CSV with a header row.
    Csv,
}

/// `kind = "file"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FileStoreConfig {
    /// The file.
    pub path: PathBuf,
    /// Its format (default: from the extension, `.csv` or JSON).
    #[serde(default)]
    pub format: Option<FileFormatName>,
    /// Re-read the file when it changes, checking this often (default `0`: only on
    /// [`Store::reload`]). A bad new file keeps the old set in force.
    #[serde(default, deserialize_with = "millis::deserialize")]
    pub reload_interval: Duration,
}

/// `kind = "cached"`: [`Cached`] around `inner`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CachedConfig {
    /// How long a found record is reused (default 60 s).
    #[serde(default = "default_ttl", deserialize_with = "millis::deserialize")]
    pub ttl: Duration,
    /// How long a "not found" is reused (default: as long as a found record, so that the answer time does not tell who exists; `0` = not cached).
    #[serde(
        default = "default_negative_ttl",
        deserialize_with = "millis::deserialize"
    )]
    pub negative_ttl: Duration,
    /// Most usernames kept (default 10 000).
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// The store behind the cache.
    pub inner: Box<StoreConfig>,
}

fn default_ttl() -> Duration {
    mqtt_scram::provider::cache::DEFAULT_TTL
}
fn default_negative_ttl() -> Duration {
    mqtt_scram::provider::cache::DEFAULT_NEGATIVE_TTL
}
fn default_capacity() -> usize {
    mqtt_scram::provider::cache::DEFAULT_CAPACITY
}

/// What a chain does when a store answers "not found".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnNotFoundName {
    /// The user does not exist: stop (EMQX's chain semantics).
    #[default]
    Stop,
    /// Ask the next store.
    Continue,
}

/// `kind = "chain"`: [`Chain`] of `stores`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ChainConfig {
    /// The stores, asked in order.
    pub stores: Vec<StoreConfig>,
    /// What a "not found" does (default `stop`).
    #[serde(default)]
    pub on_not_found: OnNotFoundName,
}

/// Why a [`StoreConfig`] cannot be built: where in the configuration, and what is wrong
/// (never a secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { std::format!("{path}: ") })]
pub struct StoreConfigError {
    /// Where: e.g. `stores[1].inner` (empty for the top level).
    pub path: String,
    /// What is wrong, naming the setting.
    pub message: String,
}

impl StoreConfigError {
    fn new(path: &str, message: impl fmt::Display) -> Self {
        Self {
            path: path.to_string(),
            message: message.to_string(),
        }
    }
}

impl StoreConfig {
    /// A store for a bare URL or path: `postgres://` / `postgresql://` (default schema),
    /// `redis://`, `rediss://`, `redis+cluster://`, `redis+sentinel://` (default layout),
    /// `http://` / `https://` (EMQX contract, `GET`), a libpq key=value string
    /// (`host=db user=mqtt dbname=mqtt`, PostgreSQL), anything else a credential file.
    ///
    /// ```
    /// use mqtt_scram_stores::config::StoreConfig;
    /// assert!(matches!(StoreConfig::from_url("postgres://mqtt@db/mqtt")?, StoreConfig::Postgres(_)));
    /// assert!(matches!(StoreConfig::from_url("redis+cluster://h1:7000,h2:7000")?, StoreConfig::Redis(_)));
    /// assert!(matches!(StoreConfig::from_url("/etc/mqtt/users.json")?, StoreConfig::File(_)));
    /// # Ok::<(), mqtt_scram_stores::config::StoreConfigError>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self, StoreConfigError> {
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "postgres" | "postgresql" => Ok(Self::Postgres(postgres_from_url(url)?)),
            "redis" | "rediss" | "redis+cluster" | "rediss+cluster" | "redis+sentinel"
            | "rediss+sentinel" => Ok(Self::Redis(redis_from_url(url)?)),
            "http" | "https" => Ok(Self::Http(http_from_url(url)?)),
            "file" => Ok(Self::File(FileStoreConfig::new(
                url.get("file://".len()..).unwrap_or_default(),
            ))),
            "" if is_conninfo(url) => Ok(Self::Postgres(postgres_from_url(url)?)),
            "" => Ok(Self::File(FileStoreConfig::new(url))),
            other => {
                // What precedes "://" is shown only if it can be a scheme: in a key=value
                // string it may hold a password.
                let is_scheme = other.starts_with(|c: char| c.is_ascii_alphabetic())
                    && other
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
                let shown = if is_scheme { other } else { "<redacted>" };
                Err(StoreConfigError::new(
                    "",
                    std::format!(
                        "unknown URL scheme {shown:?}: expected postgres, redis, redis+cluster, redis+sentinel, http(s) or a file path"
                    ),
                ))
            }
        }
    }

    /// Checks the configuration and builds the store. No connection is opened yet (remote
    /// stores connect on the first lookup, which must run inside a Tokio runtime), so a
    /// store that is down at start-up is `Ignore`d until it comes back.
    pub fn build(&self) -> Result<Store, StoreConfigError> {
        let mut parts = Parts::default();
        let provider = self.build_at("", &mut parts)?;
        Ok(Store {
            provider,
            files: parts.files,
            caches: parts.caches,
            _watchers: Arc::new(parts.watchers),
        })
    }

    fn build_at(
        &self,
        path: &str,
        parts: &mut Parts,
    ) -> Result<Arc<dyn DynCredentialProvider>, StoreConfigError> {
        match self {
            Self::File(c) => {
                let format = match c.format {
                    Some(FileFormatName::Json) => Format::Json,
                    Some(FileFormatName::Csv) => Format::Csv,
                    None => Format::from_path(&c.path),
                };
                let file = Arc::new(
                    FileProvider::open_with(&c.path, format)
                        .map_err(|e| StoreConfigError::new(path, std::format!("file: {e}")))?,
                );
                if let Some(watcher) = file.watch(c.reload_interval, report_reload) {
                    parts.watchers.push(watcher);
                }
                parts.files.push(Arc::clone(&file));
                Ok(file)
            }
            Self::Http(c) => build_http(c, path),
            Self::Postgres(c) => build_postgres(c, path),
            Self::Redis(c) => build_redis(c, path),
            Self::Cached(c) => {
                let inner = c.inner.build_at(&join(path, "inner"), parts)?;
                let cached = Arc::new(
                    Cached::new(inner)
                        .ttl(c.ttl)
                        .negative_ttl(c.negative_ttl)
                        .capacity(c.capacity),
                );
                if c.capacity == 0 {
                    return Err(StoreConfigError::new(
                        path,
                        "cached.capacity: must be at least 1",
                    ));
                }
                let clear = Arc::clone(&cached);
                parts.caches.push(Arc::new(move || clear.clear()));
                Ok(cached)
            }
            Self::Chain(c) => {
                if c.stores.is_empty() {
                    return Err(StoreConfigError::new(path, "chain.stores: names no store"));
                }
                let mut chain = Chain::new().on_not_found(match c.on_not_found {
                    OnNotFoundName::Stop => OnNotFound::Stop,
                    OnNotFoundName::Continue => OnNotFound::Continue,
                });
                for (i, store) in c.stores.iter().enumerate() {
                    let built = store.build_at(&join(path, &std::format!("stores[{i}]")), parts)?;
                    chain = chain.push(built);
                }
                Ok(Arc::new(chain))
            }
        }
    }
}

impl core::str::FromStr for StoreConfig {
    type Err = StoreConfigError;

    /// [`StoreConfig::from_url`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_url(s)
    }
}

impl FileStoreConfig {
    /// The file at `path`, format from its extension, reloaded only on demand.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            format: None,
            reload_interval: Duration::ZERO,
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        std::format!("{path}.{key}")
    }
}

fn report_reload(result: &Result<bool, FileProviderError>) {
    match result {
        Ok(_) => tracing::info!("credential file reloaded"),
        Err(e) => {
            tracing::warn!(error = %e, "credential file not reloaded; keeping the previous set")
        }
    }
}

#[derive(Default)]
struct Parts {
    files: Vec<Arc<FileProvider>>,
    caches: Vec<Arc<dyn Fn() + Send + Sync>>,
    watchers: Vec<mqtt_scram_authz::file::Watcher>,
}

/// A built store: one shared provider, plus handles to reload its files.
///
/// Cheap to clone (everything is shared). It is a [`CredentialProvider`] itself, or hand
/// [`Store::provider`] to an engine or authenticator. File watchers started for
/// `reload_interval` stop when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    provider: Arc<dyn DynCredentialProvider>,
    files: Vec<Arc<FileProvider>>,
    caches: Vec<Arc<dyn Fn() + Send + Sync>>,
    _watchers: Arc<Vec<mqtt_scram_authz::file::Watcher>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("files", &self.files.len())
            .field("caches", &self.caches.len())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The provider, shared.
    pub fn provider(&self) -> Arc<dyn DynCredentialProvider> {
        Arc::clone(&self.provider)
    }

    /// The credential files in the configuration, in order.
    pub fn files(&self) -> &[Arc<FileProvider>] {
        &self.files
    }

    /// Re-reads every credential file (e.g. on SIGHUP) and then empties every cache, so a
    /// removed user is gone at once. A file that fails to load keeps its previous set; the
    /// results are in file order.
    pub fn reload(&self) -> Vec<Result<bool, FileProviderError>> {
        let results = self.files.iter().map(|f| f.reload()).collect();
        for clear in &self.caches {
            clear();
        }
        results
    }
}

impl CredentialProvider for Store {
    async fn lookup(&self, request: &LookupRequest<'_>) -> Lookup {
        self.provider.lookup_dyn(request).await
    }

    /// The shape of the first credential file's records (in chain order) that has
    /// records of `hash`; `None` for remote stores, whose mock shape is the server's
    /// configured one (`mock_salt_len`, `mock_iterations`, `mock_shape`).
    fn record_shape(
        &self,
        hash: mqtt_scram::HashAlgorithm,
    ) -> Option<mqtt_scram::provider::MockShape> {
        self.provider.record_shape_dyn(hash)
    }
}

#[cfg(feature = "http")]
fn build_http(
    c: &HttpSection,
    path: &str,
) -> Result<Arc<dyn DynCredentialProvider>, StoreConfigError> {
    crate::http::HttpProvider::new(c.clone())
        .map(|p| Arc::new(p) as Arc<dyn DynCredentialProvider>)
        .map_err(|e| StoreConfigError::new(path, std::format!("http: {e}")))
}

#[cfg(not(feature = "http"))]
fn build_http(
    _: &HttpSection,
    path: &str,
) -> Result<Arc<dyn DynCredentialProvider>, StoreConfigError> {
    Err(disabled(path, "http"))
}

#[cfg(feature = "postgres")]
fn build_postgres(
    c: &PostgresSection,
    path: &str,
) -> Result<Arc<dyn DynCredentialProvider>, StoreConfigError> {
    crate::postgres::PostgresProvider::new(c.clone())
        .map(|p| Arc::new(p) as Arc<dyn DynCredentialProvider>)
        .map_err(|e| StoreConfigError::new(path, e))
}

#[cfg(not(feature = "postgres"))]
fn build_postgres(
    _: &PostgresSection,
    path: &str,
) -> Result<Arc<dyn DynCredentialProvider>, StoreConfigError> {
    Err(disabled(path, "postgres"))
}

#[cfg(feature = "redis")]
fn build_redis(
    c: &RedisSection,
    path: &str,
) -> Result<Arc<dyn DynCredentialProvider>, StoreConfigError> {
    crate::redis::RedisProvider::new(c.clone())
        .map(|p| Arc::new(p) as Arc<dyn DynCredentialProvider>)
        .map_err(|e| StoreConfigError::new(path, e))
}

#[cfg(not(feature = "redis"))]
fn build_redis(
    _: &RedisSection,
    path: &str,
) -> Result<Arc<dyn DynCredentialProvider>, StoreConfigError> {
    Err(disabled(path, "redis"))
}

#[cfg(any(
    not(feature = "http"),
    not(feature = "postgres"),
    not(feature = "redis")
))]
fn disabled(path: &str, kind: &str) -> StoreConfigError {
    StoreConfigError::new(
        path,
        std::format!(
            "kind {kind:?} needs mqtt-scram-stores built with feature {kind:?} (not enabled in this build)"
        ),
    )
}

/// A libpq key=value string (`host=db user=mqtt …`): its first word is a libpq keyword
/// followed by `=`. Such a string is a PostgreSQL store, never a file name (which would
/// be shown, password included, in the file store's messages).
fn is_conninfo(text: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "host",
        "hostaddr",
        "port",
        "user",
        "password",
        "dbname",
        "sslmode",
        "options",
        "application_name",
        "connect_timeout",
        "target_session_attrs",
        "channel_binding",
        "passfile",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "service",
    ];
    text.trim_start()
        .split_once('=')
        .is_some_and(|(key, _)| KEYWORDS.contains(&key.trim()))
}

#[cfg(feature = "postgres")]
fn postgres_from_url(url: &str) -> Result<PostgresSection, StoreConfigError> {
    Ok(crate::postgres::PostgresConfig::new(url))
}

#[cfg(not(feature = "postgres"))]
fn postgres_from_url(_: &str) -> Result<PostgresSection, StoreConfigError> {
    Ok(FeatureDisabled)
}

#[cfg(feature = "redis")]
fn redis_from_url(url: &str) -> Result<RedisSection, StoreConfigError> {
    crate::redis::RedisConfig::from_url(url).map_err(|e| StoreConfigError::new("", e))
}

#[cfg(not(feature = "redis"))]
fn redis_from_url(_: &str) -> Result<RedisSection, StoreConfigError> {
    Ok(FeatureDisabled)
}

#[cfg(feature = "http")]
fn http_from_url(url: &str) -> Result<HttpSection, StoreConfigError> {
    Ok(crate::http::HttpConfig::new(url))
}

#[cfg(not(feature = "http"))]
fn http_from_url(_: &str) -> Result<HttpSection, StoreConfigError> {
    Ok(FeatureDisabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kind_and_keys_are_named() {
        let e = serde_json::from_str::<StoreConfig>(r#"{"kind": "mongo"}"#).unwrap_err();
        assert!(e.to_string().contains("mongo"), "{e}");
        let e =
            serde_json::from_str::<StoreConfig>(r#"{"kind": "file", "path": "x", "reload": "5s"}"#)
                .unwrap_err();
        assert!(e.to_string().contains("reload"), "{e}");
        let e = serde_json::from_str::<StoreConfig>(
            r#"{"kind": "cached", "ttl": "soon", "inner": {"kind": "file", "path": "x"}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
    }

    #[test]
    fn build_errors_name_the_place() {
        let config: StoreConfig = serde_json::from_str(
            r#"{"kind": "chain", "stores": [
                {"kind": "cached", "inner": {"kind": "file", "path": "/nonexistent/users.json"}}]}"#,
        )
        .unwrap();
        let e = config.build().unwrap_err();
        assert_eq!(e.path, "stores[0].inner");
        assert!(e.to_string().starts_with("stores[0].inner: file: "), "{e}");
        let empty: StoreConfig =
            serde_json::from_str(r#"{"kind": "chain", "stores": []}"#).unwrap();
        assert!(
            empty
                .build()
                .unwrap_err()
                .to_string()
                .contains("chain.stores")
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn http_section_reads_and_builds() {
        let config: StoreConfig = serde_json::from_str(
            r#"{"kind": "cached", "inner": {"kind": "http", "url": "http://127.0.0.1:1/${username}", "method": "get"}}"#,
        )
        .unwrap();
        config.build().unwrap();
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn a_kind_without_its_feature_is_read_but_not_built() {
        let config: StoreConfig =
            serde_json::from_str(r#"{"kind": "postgres", "url": "postgres://a@b/c"}"#).unwrap();
        let e = config.build().unwrap_err();
        assert!(e.to_string().contains("feature \"postgres\""), "{e}");
    }

    #[test]
    fn from_url_forms() {
        assert!(matches!(
            StoreConfig::from_url("users.csv").unwrap(),
            StoreConfig::File(FileStoreConfig { format: None, .. })
        ));
        assert!(
            matches!(StoreConfig::from_url("file:///etc/u.json").unwrap(), StoreConfig::File(f) if f.path == std::path::Path::new("/etc/u.json"))
        );
        assert!(StoreConfig::from_url("mongodb://x").is_err());
        assert!(matches!(
            StoreConfig::from_url("https://auth/x").unwrap(),
            StoreConfig::Http(_)
        ));
    }
}
