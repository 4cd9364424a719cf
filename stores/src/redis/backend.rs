//! Connections to one node (the redis crate's `ConnectionManager`), a Redis Cluster (its
//! cluster connection) or the master named by Sentinel (a multiplexed connection, found
//! again through the sentinels after a failure). All connect on first use and after a
//! broken connection, so a server that is down at start-up or restarts is picked up
//! without rebuilding the provider.

use std::string::{String, ToString};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use std::vec::Vec;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, ClientTlsConfig, Cmd, ConnectionAddr, ConnectionInfo,
    IntoConnectionInfo, Pipeline, RedisError, TlsCertificates, TlsMode, Value,
};
use zeroize::Zeroizing;

use super::config::{RedisConfig, RedisConfigError, RedisMode};
use crate::remote::{TlsSettings, redact_url};

/// One live connection of any mode (all are cheap clones of a shared multiplexer).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(MultiplexedConnection),
}

impl Conn {
    pub(crate) async fn query(&mut self, cmd: &Cmd) -> Result<Value, RedisError> {
        match self {
            Conn::Single(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => cmd.query_async(c).await,
            Conn::Sentinel(c) => cmd.query_async(c).await,
        }
    }

    pub(crate) async fn pipeline(&mut self, pipe: &Pipeline) -> Result<Vec<Value>, RedisError> {
        match self {
            Conn::Single(c) => pipe.query_async(c).await,
            Conn::Cluster(c) => pipe.query_async(c).await,
            Conn::Sentinel(c) => pipe.query_async(c).await,
        }
    }
}

enum Target {
    Single(Client, ConnectionManagerConfig),
    Cluster(ClusterClient),
    Sentinel(tokio::sync::Mutex<SentinelClient>, AsyncConnectionConfig),
}

/// The first wait after a failed connect; it doubles after each further failure.
const BACKOFF_START: Duration = Duration::from_millis(250);
/// The longest wait between two connects after failures.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// After a failed connect (a wrong password, a server down): no new connection before
/// `until`; lookups meanwhile get the failure at once instead of opening connections.
struct Backoff {
    until: Instant,
    delay: Duration,
    error: RedisError,
}

/// Where to connect, and the current connection.
pub(crate) struct Backend {
    target: Target,
    current: Mutex<Option<Conn>>,
    connecting: tokio::sync::Mutex<()>,
    backoff: Mutex<Option<Backoff>>,
}

impl Backend {
    /// Checks the URLs, credentials and TLS files; connects nothing.
    pub(crate) fn new(config: &RedisConfig) -> Result<Self, RedisConfigError> {
        let bad = |setting: &'static str, e: &dyn core::fmt::Display| {
            RedisConfigError::setting(setting, &e.to_string())
        };
        let password = config.resolved_password()?;
        let certs = if config.uses_tls() {
            // The redis crate builds its rustls configuration with the process default
            // provider: make sure there is one (ours, *ring*) instead of panicking.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(certificates(config)?)
        } else {
            None
        };
        let mut infos = Vec::new();
        let mut plaintext = false;
        for url in config.server_urls() {
            let info = url.as_str().into_connection_info().map_err(|e| {
                bad(
                    "servers",
                    &std::format!("{}: {}", redact_url(&url), e.kind_name()),
                )
            })?;
            let (info, remote_plaintext) = transport_policy(info, config, &url)?;
            plaintext |= remote_plaintext;
            infos.push(info);
        }
        if plaintext {
            tracing::warn!(
                store = %describe_servers(config),
                "redis store: plaintext to a host that is not loopback \
                 (tls.dangerous_plaintext): anyone on the path can read and rewrite credentials"
            );
        }
        if config.uses_tls() && config.tls.dangerous_accept_invalid_certs {
            tracing::warn!(
                store = %describe_servers(config),
                "redis store: the server's certificate is not checked \
                 (tls.dangerous_accept_invalid_certs): anyone on the path can impersonate the store"
            );
        }
        let target = match config.mode {
            RedisMode::Single => {
                let info = infos
                    .pop()
                    .ok_or_else(|| RedisConfigError::setting("servers", "names no server"))?;
                let info = with_credentials(info, config, password.as_deref().map(String::as_str));
                let client = match certs {
                    Some(certs) => Client::build_with_tls(info, certs),
                    None => Client::open(info),
                }
                .map_err(|e| bad("servers", &e.kind_name()))?;
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(std::time::Duration::from_millis(50))
                    .set_max_delay(std::time::Duration::from_millis(500));
                Target::Single(client, manager)
            }
            RedisMode::Cluster => {
                let mut builder = ClusterClient::builder(infos)
                    .connection_timeout(config.connect_timeout)
                    .response_timeout(config.response_timeout)
                    .retries(2)
                    .min_retry_wait(20)
                    .max_retry_wait(500);
                if let Some(user) = &config.username {
                    builder = builder.username(user);
                }
                if let Some(password) = &password {
                    builder = builder.password(password.as_str());
                }
                if let Some(certs) = certs {
                    builder = builder.tls(tls_mode(config)).certs(certs);
                }
                Target::Cluster(
                    builder
                        .build()
                        .map_err(|e| bad("servers", &e.kind_name()))?,
                )
            }
            RedisMode::Sentinel => {
                let master = config.sentinel_master.clone().unwrap_or_default();
                let sentinel_auth = infos.first().map(|i| {
                    let s = i.redis_settings();
                    (
                        s.username().map(str::to_string),
                        s.password().map(str::to_string),
                    )
                });
                let addrs = infos.iter().map(|i| i.addr().clone());
                let mut builder =
                    SentinelClientBuilder::new(addrs, &master, SentinelServerType::Master)
                        .map_err(|e| bad("servers", &e.kind_name()))?;
                if let Some(user) = &config.username {
                    builder = builder.set_client_to_redis_username(user);
                }
                if let Some(password) = &password {
                    builder = builder.set_client_to_redis_password(password.as_str());
                }
                if let Some(db) = config.database {
                    builder = builder.set_client_to_redis_db(db);
                }
                if let Some((user, password)) = sentinel_auth {
                    if let Some(user) = user {
                        builder = builder.set_client_to_sentinel_username(user);
                    }
                    if let Some(password) = password {
                        builder = builder.set_client_to_sentinel_password(password);
                    }
                }
                if let Some(certs) = certs {
                    builder = builder
                        .set_client_to_redis_tls_mode(tls_mode(config))
                        .set_client_to_sentinel_tls_mode(tls_mode(config))
                        .set_client_to_redis_certificates(clone_certs(&certs))
                        .set_client_to_sentinel_certificates(certs);
                }
                let client = builder
                    .build()
                    .map_err(|e| bad("servers", &e.kind_name()))?;
                let connection = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout));
                Target::Sentinel(tokio::sync::Mutex::new(client), connection)
            }
        };
        Ok(Self {
            target,
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            backoff: Mutex::new(None),
        })
    }

    /// The current connection, connecting first if there is none. After a failed
    /// connect, further connects wait a bounded, growing back-off (up to 5 s): lookups
    /// meanwhile get that failure without opening a connection (no reconnect storm on a
    /// wrong password).
    pub(crate) async fn connection(&self) -> Result<Conn, RedisError> {
        if let Some(conn) = self.cached() {
            return Ok(conn);
        }
        // One connect at a time; the others wait for it and reuse its connection.
        let _guard = self.connecting.lock().await;
        if let Some(conn) = self.cached() {
            return Ok(conn);
        }
        let now = Instant::now();
        let previous = {
            let backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
            match &*backoff {
                Some(b) if now < b.until => return Err(b.error.clone()),
                Some(b) => Some(b.delay),
                None => None,
            }
        };
        match self.connect().await {
            Ok(conn) => {
                *self.backoff.lock().unwrap_or_else(PoisonError::into_inner) = None;
                Ok(conn)
            }
            Err(error) => {
                let delay =
                    previous.map_or(BACKOFF_START, |d| d.saturating_mul(2).min(BACKOFF_MAX));
                *self.backoff.lock().unwrap_or_else(PoisonError::into_inner) = Some(Backoff {
                    until: Instant::now() + delay,
                    delay,
                    error: error.clone(),
                });
                Err(error)
            }
        }
    }

    async fn connect(&self) -> Result<Conn, RedisError> {
        let conn = match &self.target {
            Target::Single(client, config) => Conn::Single(
                ConnectionManager::new_with_config(client.clone(), config.clone()).await?,
            ),
            Target::Cluster(client) => Conn::Cluster(client.get_async_connection().await?),
            Target::Sentinel(client, config) => {
                let master = client.lock().await.async_get_client().await?;
                Conn::Sentinel(
                    master
                        .get_multiplexed_async_connection_with_config(config)
                        .await?,
                )
            }
        };
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }

    /// Drops the current connection after a failure that the connection itself does not
    /// recover from (a Sentinel master that went away or was demoted). The connection
    /// manager and the cluster connection reconnect on their own and are kept.
    pub(crate) fn failed(&self, error: &RedisError) {
        let broken = error.is_io_error()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.is_timeout()
            || error.code() == Some("READONLY");
        if broken && matches!(self.target, Target::Sentinel(..)) {
            *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }

    fn cached(&self) -> Option<Conn> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The store's TLS rules for one server: plaintext (`redis://`) only to a loopback host
/// unless `tls.dangerous_plaintext`; `rediss://` always verified unless
/// `tls.dangerous_accept_invalid_certs` (the redis crate's `#insecure` fragment counts as
/// asking for it). Returns the connection info with the verification decided, and whether
/// it is plaintext to a host that is not loopback (allowed, to be warned about).
fn transport_policy(
    info: ConnectionInfo,
    config: &RedisConfig,
    url: &str,
) -> Result<(ConnectionInfo, bool), RedisConfigError> {
    match info.addr().clone() {
        ConnectionAddr::Tcp(host, _) => {
            if !TlsSettings::is_loopback_host(&host) {
                if !config.tls.dangerous_plaintext {
                    return Err(RedisConfigError::setting(
                        "tls.dangerous_plaintext",
                        &std::format!(
                            "{} sends credentials in plaintext to a host that is not \
                             loopback; use rediss:// (verified TLS), or add \
                             tls.dangerous_plaintext = true to allow it",
                            redact_url(url)
                        ),
                    ));
                }
                return Ok((info, true));
            }
            Ok((info, false))
        }
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure,
            tls_params,
        } => {
            if insecure && !config.tls.dangerous_accept_invalid_certs {
                return Err(RedisConfigError::setting(
                    "tls.dangerous_accept_invalid_certs",
                    &std::format!(
                        "{} asks for TLS without a certificate check (#insecure); remove \
                         #insecure, or add tls.dangerous_accept_invalid_certs = true to allow it",
                        redact_url(url)
                    ),
                ));
            }
            if insecure == config.tls.dangerous_accept_invalid_certs {
                return Ok((info, false));
            }
            let settings = info.redis_settings().clone();
            let addr = ConnectionAddr::TcpTls {
                host,
                port,
                insecure: config.tls.dangerous_accept_invalid_certs,
                tls_params,
            };
            let info = addr
                .into_connection_info()
                .map_err(|e| RedisConfigError::setting("servers", &e.kind_name()))?
                .set_redis_settings(settings);
            Ok((info, false))
        }
        _ => Ok((info, false)),
    }
}

/// Secure (verified) TLS, or with `tls.dangerous_accept_invalid_certs` none.
fn tls_mode(config: &RedisConfig) -> TlsMode {
    if config.tls.dangerous_accept_invalid_certs {
        TlsMode::Insecure
    } else {
        TlsMode::Secure
    }
}

fn describe_servers(config: &RedisConfig) -> String {
    let servers: Vec<String> = config.server_urls().iter().map(|u| redact_url(u)).collect();
    servers.join(",")
}

fn with_credentials(
    info: ConnectionInfo,
    config: &RedisConfig,
    password: Option<&str>,
) -> ConnectionInfo {
    let mut settings = info.redis_settings().clone();
    if let Some(user) = &config.username {
        settings = settings.set_username(user);
    }
    if let Some(password) = password {
        settings = settings.set_password(password);
    }
    if let Some(db) = config.database {
        settings = settings.set_db(db);
    }
    info.set_redis_settings(settings)
}

fn certificates(config: &RedisConfig) -> Result<TlsCertificates, RedisConfigError> {
    let read = |setting: &'static str, path: &std::path::Path| {
        std::fs::read(path).map(Zeroizing::new).map_err(|e| {
            RedisConfigError::setting(
                setting,
                &std::format!("cannot read {}: {}", path.display(), e.kind()),
            )
        })
    };
    // Check the client files the way rustls will read them (and name the bad one).
    config
        .tls
        .client_identity_files()
        .map_err(|e| RedisConfigError::setting("tls", &e))?;
    // The workspace's one root policy: the CA file, else the system's roots (as PEM for
    // the redis crate), else (None) the built-in Mozilla roots the crate falls back to.
    let root_cert = mqtt_scram_http::trust::root_certificates(config.tls.ca_file.as_deref())
        .map_err(|e| RedisConfigError::setting("tls", &std::format!("tls.{e}")))?
        .map(|certs| pem(&certs));
    let client_tls = match (&config.tls.client_cert_file, &config.tls.client_key_file) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read("tls.client_cert_file", cert)?.to_vec(),
            client_key: read("tls.client_key_file", key)?.to_vec(),
        }),
        _ => None,
    };
    Ok(TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// Certificates as one PEM text.
fn pem(certs: &[rustls::pki_types::CertificateDer<'_>]) -> Vec<u8> {
    use base64::Engine as _;
    let mut out = String::new();
    for cert in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(core::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

fn clone_certs(certs: &TlsCertificates) -> TlsCertificates {
    TlsCertificates {
        client_tls: certs.client_tls.as_ref().map(|c| ClientTlsConfig {
            client_cert: c.client_cert.clone(),
            client_key: c.client_key.clone(),
        }),
        root_cert: certs.root_cert.clone(),
    }
}

/// A redis error as an operator reads it (the crate's errors carry no credentials).
pub(crate) fn describe(e: &RedisError) -> String {
    e.to_string()
}

trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for RedisError {
    /// The error without anything that might echo a URL.
    fn kind_name(&self) -> String {
        std::format!("{:?}", self.kind())
    }
}
