//! [`PostgresProvider`]: credentials from PostgreSQL (feature `postgres`), through
//! tokio-postgres and a deadpool connection pool, TLS by rustls.
//!
//! One lookup is one prepared statement on a pooled connection: the default schema's
//! `SELECT … FROM mqtt_scram_users WHERE username = $1 AND mechanism = $2` (see
//! [`schema_sql`]), or a user-written query with `${username}`-style placeholders sent as
//! bind parameters (see [`PostgresConfig`]). No row is [`Lookup::NotFound`]; one row is
//! [`Lookup::Found`] (an expired one too: the engine refuses it); everything else — no
//! connection, a timeout, two rows, NULL keys, wrong types, a bad ACL — is
//! [`Lookup::Ignore`] with the reason logged through `tracing`, so the client sees the same
//! mock challenge as for an unknown user.
//!
//! Lookups must run inside a Tokio runtime (outside one they answer `Ignore`). The pool
//! connects on demand: a database that is down at start-up or restarts later is `Ignore`d
//! until it is back, without rebuilding the provider.
//!
//! ```no_run
//! use mqtt_scram::provider::{Cached, CredentialProvider, LookupRequest};
//! use mqtt_scram::{ConnectionInfo, Mechanism};
//! use mqtt_scram_stores::postgres::{PostgresConfig, PostgresProvider};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = PostgresConfig::new("postgres://mqtt@db1,db2/mqtt?sslmode=verify-full")
//!     .password("from-a-secret-store");
//! let provider = Cached::new(PostgresProvider::new(config)?);
//! let connection = ConnectionInfo::new("client-1");
//! let lookup = provider.lookup(&LookupRequest::new(Mechanism::ScramSha256, "alice", &connection)).await;
//! # drop(lookup);
//! # Ok(())
//! # }
//! ```

mod backoff;
mod config;
mod connect;
mod query;
mod row;
mod schema;
mod sslmode;
mod writer;

pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_LOOKUP_DEADLINE, DEFAULT_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT,
    DEFAULT_TABLE, PostgresConfig, PostgresConfigError,
};
pub use schema::{COLUMNS, schema_sql};
pub use writer::{PostgresWriter, WriteError};

use std::string::String;
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use core::fmt;

use futures_util::StreamExt as _;
use mqtt_scram::provider::{CredentialProvider, IgnoreReason, Lookup, LookupRequest};
use tokio_postgres::types::ToSql;

use self::backoff::Backoff;
use self::connect::{describe, describe_pool_error};
use self::query::LookupQuery;
use crate::remote::{Encoding, FailureLog, decode_record};

/// A credential provider backed by PostgreSQL; see the [module docs](self).
///
/// Cheap to share (`Arc` it); the pool lives inside. Build it once with
/// [`PostgresProvider::new`], which checks the whole configuration without connecting.
pub struct PostgresProvider {
    pool: deadpool_postgres::Pool,
    query: LookupQuery,
    encoding: Encoding,
    lookup_deadline: Duration,
    description: String,
    backoff: Arc<Backoff>,
    failures: FailureLog,
}

impl fmt::Debug for PostgresProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresProvider")
            .field("store", &self.description)
            .field("sql", &self.query.sql)
            .field("lookup_deadline", &self.lookup_deadline)
            .finish_non_exhaustive()
    }
}

/// An answer that is not a decision.
enum Failure {
    Unavailable(String),
    Timeout(String),
    Invalid(String),
}

impl PostgresProvider {
    /// Checks `config` (URL, password file, query placeholders, table name, TLS files,
    /// timeouts) and builds the pool. Connects nothing yet.
    pub fn new(config: PostgresConfig) -> Result<Self, PostgresConfigError> {
        config.check()?;
        let query = match &config.query {
            Some(template) => LookupQuery::parse(template)
                .map_err(|reason| PostgresConfigError::setting("query", &reason))?,
            None => LookupQuery::default_schema(&config.table),
        };
        let pool = connect::pool(&config)?;
        Ok(Self {
            pool,
            query,
            encoding: config.encoding,
            lookup_deadline: config.lookup_deadline,
            description: crate::remote::redact_url(&config.url),
            backoff: Arc::new(Backoff::default()),
            failures: FailureLog::new("postgres"),
        })
    }

    /// A pooled connection, unless the back-off after a failed connect is running. The
    /// pool is asked in a task of its own, so a connect outlives a lookup that gives up
    /// (its deadline) and its outcome still sets or clears the back-off.
    async fn client(&self) -> Result<deadpool_postgres::Object, Failure> {
        let admitted = self.backoff.admit().map_err(|refused| {
            if refused.timeout {
                Failure::Timeout(refused.reason)
            } else {
                Failure::Unavailable(refused.reason)
            }
        })?;
        let pool = self.pool.clone();
        let backoff = Arc::clone(&self.backoff);
        let task = tokio::spawn(async move {
            let result = pool.get().await;
            match &result {
                Ok(_) => backoff.connected(admitted),
                Err(e) if is_connect_failure(e) => {
                    let (timeout, reason) = describe_pool_error(e);
                    backoff.connect_failed(admitted, reason, timeout);
                }
                Err(_) => backoff.other_failure(admitted),
            }
            result
        });
        match task.await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(match describe_pool_error(&e) {
                (true, reason) => Failure::Timeout(reason),
                (false, reason) => Failure::Unavailable(reason),
            }),
            Err(e) => Err(Failure::Unavailable(std::format!("connection task: {e}"))),
        }
    }

    /// The SQL actually prepared (placeholders replaced by `$n::text` parameters).
    pub fn sql(&self) -> &str {
        &self.query.sql
    }

    /// The underlying pool (e.g. for health checks or statistics).
    pub fn pool(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }

    async fn attempt(&self, request: &LookupRequest<'_>) -> Result<Lookup, Failure> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&self.query.sql)
            .await
            .map_err(|e| Failure::Unavailable(std::format!("prepare: {}", describe(&e))))?;
        let values: Vec<Option<String>> =
            self.query.params.iter().map(|p| p.value(request)).collect();
        let params = values.iter().map(|v| v as &(dyn ToSql + Sync));
        let rows = client
            .query_raw(&statement, params)
            .await
            .map_err(query_failure)?;
        let mut rows = core::pin::pin!(rows);
        let Some(first) = rows.next().await.transpose().map_err(query_failure)? else {
            return Ok(Lookup::NotFound);
        };
        if rows
            .next()
            .await
            .transpose()
            .map_err(query_failure)?
            .is_some()
        {
            return Err(Failure::Invalid(
                "the query returned more than one row".into(),
            ));
        }
        let fields = row::fields(&first, &[]).map_err(Failure::Invalid)?;
        decode_record(fields, request.mechanism.hash(), self.encoding).map_err(Failure::Invalid)
    }
}

/// A pool error that says connecting failed (refused, unreachable, TLS, authentication,
/// or no connection within the connect timeout), not that the pool was busy.
fn is_connect_failure(e: &deadpool_postgres::PoolError) -> bool {
    use deadpool_postgres::{PoolError, TimeoutType};
    matches!(
        e,
        PoolError::Backend(_) | PoolError::Timeout(TimeoutType::Create)
    )
}

fn query_failure(e: tokio_postgres::Error) -> Failure {
    let canceled = e
        .code()
        .is_some_and(|c| *c == tokio_postgres::error::SqlState::QUERY_CANCELED);
    if canceled {
        Failure::Timeout(std::format!("statement timeout: {}", describe(&e)))
    } else {
        Failure::Unavailable(describe(&e))
    }
}

impl CredentialProvider for PostgresProvider {
    async fn lookup(&self, request: &LookupRequest<'_>) -> Lookup {
        if tokio::runtime::Handle::try_current().is_err() {
            let reason = "postgres provider used outside a Tokio runtime";
            tracing::warn!(username = request.username, reason);
            return Lookup::Ignore(IgnoreReason::unavailable(reason));
        }
        let (lookup, kind) =
            match tokio::time::timeout(self.lookup_deadline, self.attempt(request)).await {
                Ok(Ok(lookup)) => (lookup, None),
                Ok(Err(Failure::Unavailable(reason))) => (
                    Lookup::Ignore(IgnoreReason::unavailable(std::format!(
                        "postgres {}: {reason}",
                        self.description
                    ))),
                    Some("unavailable"),
                ),
                Ok(Err(Failure::Timeout(reason))) => (
                    Lookup::Ignore(IgnoreReason::timeout(std::format!(
                        "postgres {}: {reason}",
                        self.description
                    ))),
                    Some("timeout"),
                ),
                Ok(Err(Failure::Invalid(reason))) => (
                    Lookup::Ignore(IgnoreReason::invalid_record(std::format!(
                        "postgres record: {reason}"
                    ))),
                    None,
                ),
                Err(_) => (
                    Lookup::Ignore(IgnoreReason::timeout(std::format!(
                        "postgres {}: lookup deadline of {:?} exceeded",
                        self.description,
                        self.lookup_deadline
                    ))),
                    Some("lookup deadline"),
                ),
            };
        // A store that cannot answer is summarised (one line per interval, not per login);
        // a bad record is about one user and logged each time.
        match (&lookup, kind) {
            (Lookup::Found(_), _) => {
                self.failures.answered();
                tracing::debug!(username = request.username, "postgres provider: found")
            }
            (Lookup::NotFound, _) => {
                self.failures.answered();
                tracing::debug!(username = request.username, "postgres provider: not found")
            }
            (Lookup::Ignore(reason), Some(kind)) => {
                self.failures.failed(request.username, kind, reason)
            }
            (Lookup::Ignore(reason), None) => {
                tracing::warn!(username = request.username, %reason, "postgres provider: ignoring")
            }
        }
        lookup
    }
}
