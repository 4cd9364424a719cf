//! [`RedisConfig`]: where the Redis store is (one node, Sentinel or Cluster) and how a
//! user is looked up.

use std::path::PathBuf;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use core::fmt;

use mqtt_scram::config_duration::millis;
use serde::{Deserialize, Serialize};

use crate::remote::{Encoding, TlsSettings, redact_url};

/// Default key prefix of the default layout.
pub const DEFAULT_KEY_PREFIX: &str = "mqtt_scram";
/// Default time to open one connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time to wait for one reply.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Default overall deadline of one lookup (connect or reconnect included).
pub const DEFAULT_LOOKUP_DEADLINE: Duration = Duration::from_secs(3);

/// How the Redis deployment is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RedisMode {
    /// One server (or a proxy); `servers` holds one URL.
    #[default]
    Single,
    /// Redis Cluster; `servers` are seed nodes (any subset of the cluster).
    Cluster,
    /// A master found through Redis Sentinel; `servers` are the sentinels and
    /// `sentinel_master` names the master.
    Sentinel,
}

/// How the Redis provider connects and what it asks.
///
/// Server addresses are URLs: `redis://[user[:password]@]host[:port][/db]`, `rediss://…`
/// for TLS. [`RedisConfig::from_url`] also reads the one-string forms
/// `redis+cluster://[user:password@]h1:p1,h2:p2` and
/// `redis+sentinel://[user:password@]s1:p1,s2:p2/<master>[/db]` (`rediss+…` for TLS).
/// TLS is always verified (chain, validity, host name; `tls.ca_file` for a private CA);
/// `redis://` to a host that is not loopback needs `tls.dangerous_plaintext`, and
/// the `#insecure` URL fragment `tls.dangerous_accept_invalid_certs`
/// (see [`TlsSettings`]).
/// `username`/`password`/`password_file` (Redis 6 ACL users) override the URLs'
/// credentials for the data nodes. Secrets never appear in `Debug` output, errors or logs.
///
/// Without `command` a user is the hash `<key_prefix>:<mechanism>:<username>`, e.g.
/// `HSET mqtt_scram:SCRAM-SHA-256:alice salt <base64> stored_key <base64> server_key <base64>
/// iterations 4096 is_superuser false`, with optional `expire_at` (Unix seconds),
/// `client_attrs` (JSON object) and `acl` (JSON array of EMQX rules). With `command`, a
/// user-written `HMGET <key> <field>…`, `HGETALL <key>` or `GET <key>` (one PostgreSQL-style
/// `verifier` string) runs with `${username}`, `${clientid}`, `${peerhost}`,
/// `${cert_common_name}` and `${mechanism}` filled into its arguments (each argument is
/// sent as one value: no injection).
///
/// ```
/// use mqtt_scram_stores::redis::{RedisConfig, RedisMode};
/// let config: RedisConfig = serde_json::from_str(r#"{
///     "mode": "cluster",
///     "servers": ["rediss://10.0.0.1:7000", "rediss://10.0.0.2:7000"],
///     "username": "mqtt", "password_file": "/run/secrets/redis",
///     "command": "HMGET mqtt_user:${username} salt stored_key server_key iterations is_superuser",
///     "encoding": "hex"
/// }"#)?;
/// assert_eq!(config.mode, RedisMode::Cluster);
/// let sentinel = RedisConfig::from_url("redis+sentinel://:pw@s1:26379,s2:26379/mymaster").unwrap();
/// assert_eq!(sentinel.sentinel_master.as_deref(), Some("mymaster"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RedisConfig {
    /// Single, cluster or sentinel.
    #[serde(default)]
    pub mode: RedisMode,
    /// One URL (single mode), seed nodes (cluster) or sentinels (sentinel).
    #[serde(default)]
    pub servers: Vec<String>,
    /// Shorthand for one server.
    #[serde(default)]
    pub url: Option<String>,
    /// Sentinel mode: the master's name.
    #[serde(default)]
    pub sentinel_master: Option<String>,
    /// ACL user of the data nodes.
    #[serde(default)]
    pub username: Option<String>,
    /// Password of the data nodes.
    #[serde(default)]
    pub password: Option<String>,
    /// File whose first line is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Database number (single and sentinel mode).
    #[serde(default)]
    pub database: Option<i64>,
    /// User-written command (see the type's docs).
    #[serde(default)]
    pub command: Option<String>,
    /// Key prefix of the default layout.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// Encoding of salts and keys in a user-written command's fields.
    #[serde(default)]
    pub encoding: Encoding,
    /// TLS trust, client identity (used with `rediss://` URLs) and the `dangerous` switches.
    #[serde(default)]
    pub tls: TlsSettings,
    /// Time to open one connection.
    #[serde(
        default = "default_connect_timeout",
        deserialize_with = "millis::deserialize"
    )]
    pub connect_timeout: Duration,
    /// Time to wait for one reply.
    #[serde(
        default = "default_response_timeout",
        deserialize_with = "millis::deserialize"
    )]
    pub response_timeout: Duration,
    /// Overall deadline of one lookup (a reconnect included).
    #[serde(
        default = "default_lookup_deadline",
        deserialize_with = "millis::deserialize"
    )]
    pub lookup_deadline: Duration,
}

fn default_key_prefix() -> String {
    DEFAULT_KEY_PREFIX.into()
}
fn default_connect_timeout() -> Duration {
    DEFAULT_CONNECT_TIMEOUT
}
fn default_response_timeout() -> Duration {
    DEFAULT_RESPONSE_TIMEOUT
}
fn default_lookup_deadline() -> Duration {
    DEFAULT_LOOKUP_DEADLINE
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<String> = self.server_urls().iter().map(|u| redact_url(u)).collect();
        f.debug_struct("RedisConfig")
            .field("mode", &self.mode)
            .field("servers", &servers)
            .field("sentinel_master", &self.sentinel_master)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("database", &self.database)
            .field("command", &self.command)
            .field("key_prefix", &self.key_prefix)
            .field("encoding", &self.encoding)
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("lookup_deadline", &self.lookup_deadline)
            .finish()
    }
}

impl RedisConfig {
    /// The servers' URLs without their secrets (passwords and unknown parameters `***`),
    /// comma-separated, for logs.
    pub fn redacted_servers(&self) -> String {
        let servers: Vec<String> = self.server_urls().iter().map(|u| redact_url(u)).collect();
        servers.join(",")
    }

    /// Default settings for `mode` with these servers.
    pub fn new(mode: RedisMode, servers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            mode,
            servers: servers.into_iter().map(Into::into).collect(),
            url: None,
            sentinel_master: None,
            username: None,
            password: None,
            password_file: None,
            database: None,
            command: None,
            key_prefix: default_key_prefix(),
            encoding: Encoding::default(),
            tls: TlsSettings::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            lookup_deadline: DEFAULT_LOOKUP_DEADLINE,
        }
    }

    /// Reads `redis://`, `rediss://`, `redis+cluster://…` and `redis+sentinel://…/<master>`
    /// URLs (see the type's docs).
    pub fn from_url(url: &str) -> Result<Self, RedisConfigError> {
        let bad = |reason: &str| RedisConfigError::setting("url", reason);
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            bad("expected redis://, rediss://, redis+cluster:// or redis+sentinel://")
        })?;
        let (tls, mode) = match scheme.to_ascii_lowercase().as_str() {
            "redis" => return Ok(Self::new(RedisMode::Single, [url])),
            "rediss" => return Ok(Self::new(RedisMode::Single, [url])),
            "redis+cluster" => (false, RedisMode::Cluster),
            "rediss+cluster" => (true, RedisMode::Cluster),
            "redis+sentinel" => (false, RedisMode::Sentinel),
            "rediss+sentinel" => (true, RedisMode::Sentinel),
            _ => return Err(bad("unknown scheme")),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if path.contains('@') {
            // A password with an unencoded '/' splits here, and its tail would be taken
            // for a master name (and shown as one).
            return Err(bad(
                "percent-encode the password (an unencoded '/' in it splits the URL)",
            ));
        }
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(at) => (
                authority.get(..at),
                authority.get(at + 1..).unwrap_or_default(),
            ),
            None => (None, authority),
        };
        let node_scheme = if tls { "rediss" } else { "redis" };
        let nodes: Vec<&str> = hosts.split(',').filter(|h| !h.trim().is_empty()).collect();
        if nodes.is_empty() {
            return Err(bad("names no host"));
        }
        let mut config;
        if mode == RedisMode::Cluster {
            let prefix = userinfo.map(|u| std::format!("{u}@")).unwrap_or_default();
            config = Self::new(
                mode,
                nodes
                    .iter()
                    .map(|h| std::format!("{node_scheme}://{prefix}{}", h.trim())),
            );
            if !path.is_empty() {
                return Err(bad(
                    "a cluster URL has no path (Redis Cluster has only database 0)",
                ));
            }
        } else {
            config = Self::new(
                mode,
                nodes
                    .iter()
                    .map(|h| std::format!("{node_scheme}://{}", h.trim())),
            );
            let mut parts = path.split('/');
            let master = parts
                .next()
                .filter(|m| !m.is_empty())
                .ok_or_else(|| bad("a sentinel URL ends with /<master name>[/<db>]"))?;
            config.sentinel_master = Some(master.to_string());
            if let Some(db) = parts.next().filter(|d| !d.is_empty()) {
                config.database = Some(db.parse().map_err(|_| bad("database is not a number"))?);
            }
            if let Some(userinfo) = userinfo {
                let (user, password) = match userinfo.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                config.username = Some(user.to_string()).filter(|u| !u.is_empty());
                config.password = password.map(str::to_string);
            }
        }
        Ok(config)
    }

    /// Uses a user-written command instead of the default layout.
    pub fn command(mut self, command: impl Into<String>) -> Self {
        self.command = Some(command.into());
        self
    }

    /// Sentinel mode: the master's name.
    pub fn sentinel_master(mut self, name: impl Into<String>) -> Self {
        self.sentinel_master = Some(name.into());
        self
    }

    /// ACL user and password of the data nodes.
    pub fn credentials(mut self, username: Option<&str>, password: Option<&str>) -> Self {
        self.username = username.map(str::to_string);
        self.password = password.map(str::to_string);
        self
    }

    /// Key prefix of the default layout.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Encoding of salts and keys in a user-written command's fields.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// TLS trust and client identity.
    pub fn tls(mut self, tls: TlsSettings) -> Self {
        self.tls = tls;
        self
    }

    /// Time to open one connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time to wait for one reply.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Overall deadline of one lookup.
    pub fn lookup_deadline(mut self, deadline: Duration) -> Self {
        self.lookup_deadline = deadline;
        self
    }

    /// `servers`, or `url` alone.
    pub(crate) fn server_urls(&self) -> Vec<String> {
        let mut all = self.servers.clone();
        all.extend(self.url.iter().cloned());
        all
    }

    /// Checks every setting, naming the bad one.
    pub(crate) fn check(&self) -> Result<(), RedisConfigError> {
        let bad = RedisConfigError::setting;
        let servers = self.server_urls();
        if servers.is_empty() {
            return Err(bad("servers", "names no server (give url or servers)"));
        }
        if self.url.is_some() && !self.servers.is_empty() {
            return Err(bad("url", "give url or servers, not both"));
        }
        for server in &servers {
            let lower = server.to_ascii_lowercase();
            if !(lower.starts_with("redis://") || lower.starts_with("rediss://")) {
                return Err(bad(
                    "servers",
                    &std::format!("{} is not a redis:// or rediss:// URL", redact_url(server)),
                ));
            }
        }
        let tls = servers
            .iter()
            .map(|s| s.to_ascii_lowercase().starts_with("rediss://"));
        if tls.clone().any(|t| t) && !tls.clone().all(|t| t) {
            return Err(bad("servers", "mixes redis:// and rediss:// URLs"));
        }
        match self.mode {
            RedisMode::Single if servers.len() > 1 => {
                return Err(bad(
                    "servers",
                    "single mode takes one server; use mode cluster or sentinel",
                ));
            }
            RedisMode::Sentinel if self.sentinel_master.as_deref().is_none_or(str::is_empty) => {
                return Err(bad(
                    "sentinel_master",
                    "sentinel mode needs the master's name",
                ));
            }
            RedisMode::Cluster if self.database.is_some_and(|d| d != 0) => {
                return Err(bad("database", "Redis Cluster has only database 0"));
            }
            _ => {}
        }
        if self.mode != RedisMode::Sentinel && self.sentinel_master.is_some() {
            return Err(bad("sentinel_master", "only for mode sentinel"));
        }
        for (name, value) in [
            ("connect_timeout", self.connect_timeout),
            ("response_timeout", self.response_timeout),
            ("lookup_deadline", self.lookup_deadline),
        ] {
            if value.is_zero() {
                return Err(bad(name, "must be longer than zero"));
            }
        }
        if self.key_prefix.is_empty() && self.command.is_none() {
            return Err(bad("key_prefix", "must not be empty"));
        }
        if self.password.is_some() && self.password_file.is_some() {
            return Err(bad("password", "give password or password_file, not both"));
        }
        Ok(())
    }

    /// The password from `password` or `password_file`, if any.
    pub(crate) fn resolved_password(
        &self,
    ) -> Result<Option<zeroize::Zeroizing<String>>, RedisConfigError> {
        if let Some(p) = &self.password {
            return Ok(Some(zeroize::Zeroizing::new(p.clone())));
        }
        let Some(path) = &self.password_file else {
            return Ok(None);
        };
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            RedisConfigError::setting(
                "password_file",
                &std::format!("cannot read {}: {}", path.display(), e.kind()),
            )
        })?);
        let line = text.lines().next().unwrap_or_default();
        Ok(Some(zeroize::Zeroizing::new(line.to_string())))
    }

    /// Whether the servers are `rediss://`.
    pub(crate) fn uses_tls(&self) -> bool {
        self.server_urls()
            .first()
            .is_some_and(|s| s.to_ascii_lowercase().starts_with("rediss://"))
    }
}

/// Why a Redis configuration cannot be used. Messages name the setting and never
/// contain a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisConfigError {
    /// A setting is invalid.
    #[error("redis.{setting}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl RedisConfigError {
    /// A [`RedisConfigError::InvalidSetting`].
    pub(crate) fn setting(setting: &'static str, reason: &str) -> Self {
        Self::InvalidSetting {
            setting,
            reason: reason.to_string(),
        }
    }
}
