//! The connection pool: libpq-style configuration, TLS through rustls, the statement
//! timeout, and failover across hosts (tokio-postgres tries them in order).

use std::path::PathBuf;
use std::string::{String, ToString};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::{PostgresConfig, PostgresConfigError};
use super::sslmode::{self, Policy};

/// The tokio-postgres configuration for `config` (password, statement timeout and TLS
/// mode applied), the TLS policy, and the CA file named by `sslrootcert`.
fn pg_config(
    config: &PostgresConfig,
) -> Result<(tokio_postgres::Config, Policy, Option<PathBuf>), PostgresConfigError> {
    // sslmode and sslrootcert are ours (tokio-postgres knows no verify-full); the driver
    // gets the rest and the mode decided below.
    let split = sslmode::split(&config.url).map_err(|e| PostgresConfigError::setting("url", &e))?;
    // tokio-postgres's parse errors echo an unknown key (`unknown option `…``), which may
    // be a piece of a password that split the string: quoted spans are redacted.
    let mut pg: tokio_postgres::Config =
        split.rest.parse().map_err(|e: tokio_postgres::Error| {
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
    if split.sslrootcert.is_some() && config.tls.ca_file.is_some() {
        return Err(PostgresConfigError::setting(
            "tls.ca_file",
            "give tls.ca_file or sslrootcert in url, not both",
        ));
    }
    let policy = sslmode::policy(
        split.sslmode,
        config.tls.dangerous_plaintext,
        config.tls.dangerous_accept_invalid_certs,
        sslmode::all_loopback(&pg),
    )
    .map_err(|(setting, reason)| {
        PostgresConfigError::setting(
            if setting == "dangerous_plaintext" {
                "tls.dangerous_plaintext"
            } else {
                "tls.dangerous_accept_invalid_certs"
            },
            &reason,
        )
    })?;
    pg.ssl_mode(policy.mode);
    Ok((pg, policy, split.sslrootcert))
}

/// The pool (no connection is opened until the first lookup).
pub(crate) fn pool(config: &PostgresConfig) -> Result<Pool, PostgresConfigError> {
    let (pg, policy, sslrootcert) = pg_config(config)?;
    // Verified TLS (chain, validity, host name) unless a `dangerous` switch said otherwise;
    // with `require` tokio-postgres refuses a server without TLS (no downgrade).
    let mut settings = config.tls.clone();
    settings.dangerous_accept_invalid_certs = !policy.verify;
    let tls = settings
        .client_config(sslrootcert.as_deref())
        .map_err(|e| PostgresConfigError::setting("tls", &e))?;
    if let Some(warning) = policy.warning {
        tracing::warn!(store = %crate::remote::redact_url(&config.url), "{warning}");
    }
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
