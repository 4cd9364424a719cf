//! [`PostgresConfig`]: where the PostgreSQL store is and how a user is looked up.

use std::path::PathBuf;
use std::string::{String, ToString};
use std::time::Duration;

use core::fmt;

use mqtt_scram::config_duration::millis;
use serde::Deserialize;

use crate::remote::{Encoding, TlsSettings, redact_url};

/// Default table of the default schema.
pub const DEFAULT_TABLE: &str = "mqtt_scram_users";
/// Default number of pooled connections.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// Default time to open one connection (per host tried).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default server-side `statement_timeout` of the lookup query.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default overall deadline of one lookup (pool wait, connect, prepare, query).
pub const DEFAULT_LOOKUP_DEADLINE: Duration = Duration::from_secs(3);

/// How the PostgreSQL provider connects and what it asks.
///
/// `url` is a libpq connection string, as a URL
/// (`postgres://user:password@db1:5432,db2:5432/mqtt?sslmode=verify-full&target_session_attrs=read-write`)
/// or as key=value pairs (`host=db1,db2 port=5432 user=mqtt dbname=mqtt sslmode=verify-full`).
/// Several hosts are tried in order (failover). The password may come from `url`,
/// `password` or `password_file`; it never appears in `Debug` output, errors or logs.
///
/// Without `query`, the default schema's table (`table`, see
/// [`schema_sql`](super::schema_sql)) is read. With `query`, the user-written SQL runs with
/// `${username}`, `${clientid}`, `${peerhost}`, `${cert_common_name}` and `${mechanism}`
/// sent as bind parameters of type text (never spliced into the SQL), and returns at most
/// one row holding the default schema's columns or one `verifier` column in PostgreSQL's
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` format.
///
/// TLS is verified by default (libpq's `sslmode=verify-full`: chain, validity and host
/// name, against `tls.ca_file` or `sslrootcert`, else the system's roots) for every host
/// that is not loopback, and a server without TLS is then an error, never plaintext.
/// Loopback hosts (127.0.0.0/8, `::1`, `localhost`, Unix sockets; `hostaddr` too) are
/// reached in plaintext unless `sslmode=verify-full` (or `verify-ca`, checked as
/// `verify-full`, or `require`) asks for TLS. libpq's `sslmode=disable` and `prefer` need
/// `tls.dangerous_plaintext`, `require` (no certificate check)
/// `tls.dangerous_accept_invalid_certs` (see [`TlsSettings`]); without them
/// [`PostgresProvider::new`] refuses the configuration naming the setting, with them it
/// logs one WARN.
///
/// [`PostgresProvider::new`]: super::PostgresProvider::new
///
/// ```
/// use std::time::Duration;
/// use mqtt_scram_stores::postgres::PostgresConfig;
/// let config: PostgresConfig = serde_json::from_str(r#"{
///     "url": "postgres://mqtt@db1,db2/mqtt?sslmode=verify-full",
///     "password_file": "/run/secrets/db-password",
///     "query": "SELECT rolpassword AS verifier FROM pg_authid WHERE rolname = ${username}",
///     "statement_timeout": "500ms",
///     "tls": {"ca_file": "/etc/mqtt/db-ca.pem"}
/// }"#)?;
/// assert_eq!(config.statement_timeout, Duration::from_millis(500));
/// let built = PostgresConfig::new("host=127.0.0.1 user=mqtt dbname=mqtt").pool_size(4);
/// assert_eq!(built.pool_size, 4);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// libpq connection string (URL or key=value).
    pub url: String,
    /// Password, when it is not in `url`.
    #[serde(default)]
    pub password: Option<String>,
    /// File whose first line is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Table of the default schema (optionally `schema.table`).
    #[serde(default = "default_table")]
    pub table: String,
    /// User-written lookup query (see the type's docs).
    #[serde(default)]
    pub query: Option<String>,
    /// Encoding of salts and keys in text columns of a user-written query.
    #[serde(default)]
    pub encoding: Encoding,
    /// TLS trust, client identity and the `dangerous` switches (see the type's docs).
    #[serde(default)]
    pub tls: TlsSettings,
    /// Most connections kept open.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Time to open one connection (per host).
    #[serde(
        default = "default_connect_timeout",
        deserialize_with = "millis::deserialize"
    )]
    pub connect_timeout: Duration,
    /// Server-side `statement_timeout` of every statement on the provider's connections.
    #[serde(
        default = "default_statement_timeout",
        deserialize_with = "millis::deserialize"
    )]
    pub statement_timeout: Duration,
    /// Overall deadline of one lookup; past it the lookup is `Ignore` (timeout).
    #[serde(
        default = "default_lookup_deadline",
        deserialize_with = "millis::deserialize"
    )]
    pub lookup_deadline: Duration,
}

fn default_table() -> String {
    DEFAULT_TABLE.into()
}
fn default_pool_size() -> usize {
    DEFAULT_POOL_SIZE
}
fn default_connect_timeout() -> Duration {
    DEFAULT_CONNECT_TIMEOUT
}
fn default_statement_timeout() -> Duration {
    DEFAULT_STATEMENT_TIMEOUT
}
fn default_lookup_deadline() -> Duration {
    DEFAULT_LOOKUP_DEADLINE
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("table", &self.table)
            .field("query", &self.query)
            .field("encoding", &self.encoding)
            .field("tls", &self.tls)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("lookup_deadline", &self.lookup_deadline)
            .finish()
    }
}

impl PostgresConfig {
    /// The default settings for the store at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            password: None,
            password_file: None,
            table: default_table(),
            query: None,
            encoding: Encoding::default(),
            tls: TlsSettings::default(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            lookup_deadline: DEFAULT_LOOKUP_DEADLINE,
        }
    }

    /// The URL without its secrets (password and unknown parameters `***`), for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Uses a user-written query instead of the default schema.
    pub fn query(mut self, sql: impl Into<String>) -> Self {
        self.query = Some(sql.into());
        self
    }

    /// The default schema's table.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// Encoding of salts and keys in text columns.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The password, when it is not in the URL.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// TLS trust and client identity.
    pub fn tls(mut self, tls: TlsSettings) -> Self {
        self.tls = tls;
        self
    }

    /// Most pooled connections.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Time to open one connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Server-side statement timeout.
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Overall deadline of one lookup.
    pub fn lookup_deadline(mut self, deadline: Duration) -> Self {
        self.lookup_deadline = deadline;
        self
    }

    /// Checks every setting, naming the bad one.
    pub(crate) fn check(&self) -> Result<(), PostgresConfigError> {
        let bad = PostgresConfigError::setting;
        if self.pool_size == 0 {
            return Err(bad("pool_size", "must be at least 1"));
        }
        for (name, value) in [
            ("connect_timeout", self.connect_timeout),
            ("statement_timeout", self.statement_timeout),
            ("lookup_deadline", self.lookup_deadline),
        ] {
            if value.is_zero() {
                return Err(bad(name, "must be longer than zero"));
            }
        }
        if self.query.is_none() {
            super::schema::check_table_name(&self.table).map_err(|reason| bad("table", &reason))?;
        }
        if self.password.is_some() && self.password_file.is_some() {
            return Err(bad("password", "give password or password_file, not both"));
        }
        Ok(())
    }

    /// The password from `password` or `password_file`, if any.
    pub(crate) fn resolved_password(
        &self,
    ) -> Result<Option<zeroize::Zeroizing<String>>, PostgresConfigError> {
        if let Some(p) = &self.password {
            return Ok(Some(zeroize::Zeroizing::new(p.clone())));
        }
        let Some(path) = &self.password_file else {
            return Ok(None);
        };
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            PostgresConfigError::setting(
                "password_file",
                &std::format!("cannot read {}: {}", path.display(), e.kind()),
            )
        })?);
        let line = text.lines().next().unwrap_or_default();
        Ok(Some(zeroize::Zeroizing::new(line.to_string())))
    }
}

/// Why a PostgreSQL configuration cannot be used. Messages name the setting and never
/// contain the password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresConfigError {
    /// A setting is invalid.
    #[error("postgres.{setting}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl PostgresConfigError {
    /// An [`PostgresConfigError::InvalidSetting`].
    pub(crate) fn setting(setting: &'static str, reason: &str) -> Self {
        Self::InvalidSetting {
            setting,
            reason: reason.to_string(),
        }
    }
}
