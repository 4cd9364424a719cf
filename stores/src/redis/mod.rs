//! [`RedisProvider`]: credentials from Redis (feature `redis`) — one node, a master found
//! through Sentinel, or a Redis Cluster — through the `redis` crate (connection manager,
//! cluster connection), TLS by rustls.
//!
//! By default a user is the hash `mqtt_scram:<mechanism>:<username>` with base64 `salt`,
//! `stored_key`, `server_key`, decimal `iterations`, and optional `is_superuser`,
//! `expire_at` (Unix seconds), `client_attrs` (JSON object) and `acl` (JSON array of EMQX
//! rules), e.g.
//!
//! ```text
//! HSET mqtt_scram:SCRAM-SHA-256:alice salt W22ZaJ0SNY7soEsUEjb6gQ== \
//!      stored_key WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY= \
//!      server_key wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU= iterations 4096 is_superuser false
//! ```
//!
//! or a user-written command (see [`RedisConfig`]). No key is [`Lookup::NotFound`]; a hash
//! is [`Lookup::Found`] (an expired one too: the engine refuses it); a server that is down,
//! slow or answers garbage is [`Lookup::Ignore`] with the reason logged through `tracing`.
//! Lookups must run inside a Tokio runtime; connections are opened on first use and
//! re-opened after failures, so the provider never needs rebuilding.
//!
//! ```no_run
//! use mqtt_scram::provider::{Cached, CredentialProvider, LookupRequest};
//! use mqtt_scram::{ConnectionInfo, Mechanism};
//! use mqtt_scram_stores::redis::{RedisConfig, RedisProvider};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = RedisConfig::from_url("redis+cluster://10.0.0.1:7000,10.0.0.2:7000")?;
//! let provider = Cached::new(RedisProvider::new(config)?);
//! let connection = ConnectionInfo::new("client-1");
//! let lookup = provider.lookup(&LookupRequest::new(Mechanism::ScramSha256, "alice", &connection)).await;
//! # drop(lookup);
//! # Ok(())
//! # }
//! ```

mod backend;
mod command;
mod config;
mod reply;
mod writer;

pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEY_PREFIX, DEFAULT_LOOKUP_DEADLINE, DEFAULT_RESPONSE_TIMEOUT,
    RedisConfig, RedisConfigError, RedisMode,
};
pub use writer::{RedisWriter, WriteError};

use std::string::String;
use std::time::Duration;

use core::fmt;

use mqtt_scram::provider::{CredentialProvider, IgnoreReason, Lookup, LookupRequest};

use self::backend::{Backend, describe};
use self::command::LookupCommand;
use crate::remote::{Encoding, FailureLog, decode_record};

/// A credential provider backed by Redis; see the [module docs](self).
///
/// Cheap to share (`Arc` it). Build it once with [`RedisProvider::new`], which checks the
/// whole configuration without connecting.
pub struct RedisProvider {
    backend: Backend,
    command: LookupCommand,
    encoding: Encoding,
    lookup_deadline: Duration,
    description: String,
    failures: FailureLog,
}

impl fmt::Debug for RedisProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisProvider")
            .field("store", &self.description)
            .field("command", &self.command)
            .field("lookup_deadline", &self.lookup_deadline)
            .finish_non_exhaustive()
    }
}

impl RedisProvider {
    /// Checks `config` (URLs, mode, command template, password file, TLS files, timeouts).
    /// Connects nothing yet.
    pub fn new(config: RedisConfig) -> Result<Self, RedisConfigError> {
        config.check()?;
        let command = match &config.command {
            Some(template) => LookupCommand::parse(template)
                .map_err(|reason| RedisConfigError::setting("command", &reason))?,
            None => {
                // The default layout is always base64.
                LookupCommand::default_layout(&config.key_prefix)
            }
        };
        let encoding = if config.command.is_some() {
            config.encoding
        } else {
            Encoding::Base64
        };
        let mode = match config.mode {
            RedisMode::Single => "single",
            RedisMode::Cluster => "cluster",
            RedisMode::Sentinel => "sentinel",
        };
        let servers: std::vec::Vec<String> = config
            .server_urls()
            .iter()
            .map(|u| crate::remote::redact_url(u))
            .collect();
        let description = std::format!("({mode}) {}", servers.join(","));
        Ok(Self {
            backend: Backend::new(&config)?,
            command,
            encoding,
            lookup_deadline: config.lookup_deadline,
            description,
            failures: FailureLog::new("redis"),
        })
    }

    /// The answer, or the error of a store that could not answer.
    async fn attempt(&self, request: &LookupRequest<'_>) -> Result<Lookup, redis::RedisError> {
        let mut conn = self.backend.connection().await?;
        let value = match conn.query(&self.command.build(request)).await {
            Ok(value) => value,
            Err(e) => {
                self.backend.failed(&e);
                return Err(e);
            }
        };
        let invalid = |reason: String| {
            Lookup::Ignore(IgnoreReason::invalid_record(std::format!(
                "redis record: {reason}"
            )))
        };
        Ok(match reply::fields(&self.command.reply, value) {
            Ok(None) => Lookup::NotFound,
            Ok(Some(fields)) => decode_record(fields, request.mechanism.hash(), self.encoding)
                .unwrap_or_else(invalid),
            Err(reason) => invalid(reason),
        })
    }

    fn failure(&self, e: &redis::RedisError) -> Lookup {
        let detail = std::format!("redis {}: {}", self.description, describe(e));
        if e.is_timeout() {
            Lookup::Ignore(IgnoreReason::timeout(detail))
        } else if e.code() == Some("WRONGTYPE") {
            Lookup::Ignore(IgnoreReason::invalid_record(detail))
        } else {
            Lookup::Ignore(IgnoreReason::unavailable(detail))
        }
    }
}

impl CredentialProvider for RedisProvider {
    async fn lookup(&self, request: &LookupRequest<'_>) -> Lookup {
        if tokio::runtime::Handle::try_current().is_err() {
            let reason = "redis provider used outside a Tokio runtime";
            tracing::warn!(username = request.username, reason);
            return Lookup::Ignore(IgnoreReason::unavailable(reason));
        }
        let (lookup, kind) =
            match tokio::time::timeout(self.lookup_deadline, self.attempt(request)).await {
                Ok(Ok(lookup)) => (lookup, None),
                Ok(Err(e)) => (self.failure(&e), Some(std::format!("{:?}", e.kind()))),
                Err(_) => (
                    Lookup::Ignore(IgnoreReason::timeout(std::format!(
                        "redis {}: lookup deadline of {:?} exceeded",
                        self.description,
                        self.lookup_deadline
                    ))),
                    Some("LookupDeadline".into()),
                ),
            };
        // A store that cannot answer is summarised (one line per interval, not per login);
        // a bad record is about one user and logged each time.
        match (&lookup, kind) {
            (Lookup::Found(_), _) => {
                self.failures.answered();
                tracing::debug!(username = request.username, "redis provider: found")
            }
            (Lookup::NotFound, _) => {
                self.failures.answered();
                tracing::debug!(username = request.username, "redis provider: not found")
            }
            (Lookup::Ignore(reason), Some(kind)) => {
                self.failures.failed(request.username, &kind, reason)
            }
            (Lookup::Ignore(reason), None) => {
                tracing::warn!(username = request.username, %reason, "redis provider: ignoring")
            }
        }
        lookup
    }
}
