//! The connection pool: libpq-style configuration, TLS through rustls, the statement
//! timeout, and failover across hosts (tokio-postgres tries them in order).

use std::string::{String, ToString};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::{PostgresConfig, PostgresConfigError};
use super::tls::client_config;

/// The tokio-postgres configuration for `config` (password and statement timeout applied).
pub(crate) fn pg_config(
    config: &PostgresConfig,
) -> Result<tokio_postgres::Config, PostgresConfigError> {
    // tokio-postgres's parse errors echo an unknown key (`unknown option `…``), which may
    // be a piece of a password that split the string: quoted spans are redacted.
    let mut pg: tokio_postgres::Config = config.url.parse().map_err(|e: tokio_postgres::Error| {
        PostgresConfigError::setting("url", &crate::remote::redact_message(&e.to_string()))
    })?;
    if pg.get_hosts().is_empty() {
        return Err(PostgresConfigError::setting("url", "names no host"));
    }
    if pg.get_user().is_none() {
        return Err(PostgresConfigError::setting("url", "names no user"));
    }
    if let Some(password) = config.resolved_password()? {
        pg.password(password.as_bytes());
    }
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(config.connect_timeout);
    }
    if pg.get_application_name().is_none() {
        pg.application_name("mqtt-scram");
    }
    let timeout = std::format!("-c statement_timeout={}", millis(config.statement_timeout));
    let options = match pg.get_options() {
        Some(existing) if !existing.trim().is_empty() => std::format!("{existing} {timeout}"),
        _ => timeout,
    };
    pg.options(&options);
    Ok(pg)
}

/// The pool (no connection is opened until the first lookup).
pub(crate) fn pool(config: &PostgresConfig) -> Result<Pool, PostgresConfigError> {
    let pg = pg_config(config)?;
    // libpq's rules: `prefer` (the default) encrypts when the server offers TLS and checks
    // its certificate only against a configured CA; `require` always checks it (against
    // `tls.ca_file` or the system roots). tokio-postgres has no verify-ca/verify-full.
    let verify = config.tls.ca_file.is_some()
        || pg.get_ssl_mode() == tokio_postgres::config::SslMode::Require;
    let tls =
        client_config(&config.tls, verify).map_err(|e| PostgresConfigError::setting("tls", &e))?;
    let manager = Manager::from_config(
        pg,
        MakeRustlsConnect::new(tls),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // The lookup deadline bounds a lookup as a whole; the pool's own bounds are only a
    // backstop (for the writer, which has no deadline), so they never fire first.
    let backstop = config.lookup_deadline.saturating_mul(2);
    Pool::builder(manager)
        .max_size(config.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(backstop))
        .create_timeout(Some(backstop))
        .recycle_timeout(Some(backstop))
        .build()
        .map_err(|e| PostgresConfigError::setting("pool_size", &e.to_string()))
}

fn millis(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

/// A pool error as an operator reads it (never a password).
pub(crate) fn describe_pool_error(e: &deadpool_postgres::PoolError) -> (bool, String) {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Timeout(kind) => (true, std::format!("no connection in time ({kind:?})")),
        PoolError::Backend(e) => (false, describe(e)),
        other => (false, other.to_string()),
    }
}

/// A driver error as an operator reads it: the server's message and SQLSTATE, or the
/// connection problem.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => std::format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}
