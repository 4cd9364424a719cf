//! The configuration file (`--config FILE`, TOML) and command-line options, and how they
//! become [`Settings`]. Options given on the command line override the file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use mqtt_scram::{Mechanism, MockKey, ServerConfig};
use mqtt_scram_authenticator::admission::AdmissionPolicy;
use mqtt_scram_stores::config::StoreConfig;
use rand::Rng as _;
use serde::Deserialize;
use tracing::warn;

use super::listener::{Limits, Settings};
use super::provider::Provider;
use super::tls;

/// A small MQTT 5 server that does what a broker's authentication front does:
/// SCRAM-SHA-256/512 (and -PLUS on TLS) enhanced authentication, re-authentication,
/// credential expiry, and a loopback publish/subscribe to show a client working.
#[derive(Debug, Parser)]
#[command(name = "broker", version)]
pub struct Args {
    /// Configuration file (TOML): listeners, TLS, `[scram]`, `[admission]`, `[limits]`,
    /// credentials; see the broker's README for a complete one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Plain TCP listener (default 127.0.0.1:1883 when no listener is given).
    #[arg(long, value_name = "ADDR")]
    pub tcp: Option<SocketAddr>,

    /// TLS listener; needs --tls-cert and --tls-key, or --tls-self-signed.
    #[arg(long, value_name = "ADDR")]
    pub tls: Option<SocketAddr>,

    /// PEM certificate chain for the TLS listener.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for the TLS listener.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Generate a self-signed certificate for localhost/127.0.0.1 at start-up.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls_self_signed: bool,

    /// Write the generated certificate (PEM) here, for clients to trust.
    #[arg(long, value_name = "FILE", requires = "tls_self_signed")]
    pub tls_self_signed_out: Option<PathBuf>,

    /// Credential records in the crate's JSON format (`mqtt-scram gen --format json`).
    #[arg(long, value_name = "FILE", conflicts_with = "http_config")]
    pub credentials: Option<PathBuf>,

    /// Look credentials up with the HTTP provider configured by this JSON file (an
    /// `HttpConfig`), behind a cache. Needs the crate feature `http`.
    #[arg(long, value_name = "FILE")]
    pub http_config: Option<PathBuf>,

    /// The credential store as a URL or path (`StoreConfig::from_url` of
    /// mqtt-scram-stores): a credential file (JSON or CSV), `postgres://…` or a libpq
    /// `host=… user=…` string, `redis://…`, `rediss://…`, `redis+cluster://…`,
    /// `redis+sentinel://…`, `http(s)://…`. Replaces the configuration file's
    /// `store`/`[store]`, `credentials` and `http_config`. A password in it is visible to
    /// other local users (`ps`): prefer `[store]` with `password_file`.
    #[arg(long, value_name = "URL", conflicts_with_all = ["credentials", "http_config"])]
    pub store: Option<StoreUrl>,

    /// Seconds a record from the HTTP provider is reused.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub cache_ttl: u64,

    /// Seconds an "unknown user" answer from the HTTP provider is reused (default: as long
    /// as `--cache-ttl`; a different value lets the answer time tell who exists).
    #[arg(long, value_name = "SECONDS")]
    pub cache_negative_ttl: Option<u64>,

    /// File with the 32-byte mock key: 64 hex characters or 32 raw bytes, readable only by
    /// its owner (`chmod 600`). Keep it stable across restarts; without it a random key is
    /// used and unknown users can be told apart from real ones across a restart.
    #[arg(long, value_name = "FILE")]
    pub mock_key_file: Option<PathBuf>,

    /// Mechanisms to offer (comma-separated; default: all four, from `[scram]` when the
    /// configuration file has it); -PLUS ones work on TLS 1.3 listeners.
    #[arg(long, value_delimiter = ',', value_name = "MECHANISMS")]
    pub mechanisms: Option<Vec<String>>,

    /// Iteration count shown to unknown users (set it to what real users have; default
    /// 4096 or the file's `[scram]`).
    #[arg(long, value_name = "N")]
    pub mock_iterations: Option<u32>,

    /// Seconds from CONNECT (or AUTH 0x19) to the client's final message (default 30 or
    /// the file's `[scram]`).
    #[arg(long, value_name = "SECONDS")]
    pub handshake_timeout: Option<u64>,

    /// Largest packet accepted in bytes (default 65536 or the file's `[limits]`); bounds
    /// each connection's read buffer.
    #[arg(long, value_name = "BYTES")]
    pub max_packet_size: Option<u32>,

    /// Open connections at most (default 10000 or the file's `[limits]`).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Handshakes in progress at most (a waiting handshake costs memory, not CPU); beyond
    /// it CONNECT gets 0x89 Server busy. Default 100,000.
    #[arg(long)]
    pub max_handshakes: Option<usize>,

    /// Handshakes in progress from one address at most (0: no cap). Default 64.
    #[arg(long)]
    pub max_handshakes_per_address: Option<usize>,

    /// Credential lookups and proof checks running at once. Default 32.
    #[arg(long)]
    pub max_concurrent_work: Option<usize>,

    /// Seconds the client has to answer the server's challenge. Default 10.
    #[arg(long, value_name = "SECONDS")]
    pub first_step_timeout: Option<u64>,

    /// Serve Prometheus metrics on this address (`GET /metrics`).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,

    /// Accept CONNECT without an Authentication Method and check its User Name and
    /// Password against the stored credentials. RISK: the password crosses the network
    /// (use TLS), the server runs PBKDF2 for every attempt (CPU cost an attacker controls),
    /// and the client does not authenticate the server.
    #[arg(long)]
    pub allow_plain: bool,
}

/// The `--store` argument as given; its `Debug` never shows it (it may hold a password).
#[derive(Clone)]
pub struct StoreUrl(String);

impl From<String> for StoreUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreUrl(<redacted>)")
    }
}

impl StoreUrl {
    /// The store it names; the error names the problem, never the URL's secrets.
    pub fn config(&self) -> Result<StoreConfig, String> {
        StoreConfig::from_url(&self.0).map_err(|e| format!("--store: {e}"))
    }
}

/// What `main` needs besides the settings.
pub struct Extras {
    /// Where to write a generated certificate.
    pub cert_out: Option<(PathBuf, String)>,
}

impl Args {
    /// Validates the options, reads the configuration file and loads files.
    pub fn into_settings(mut self) -> Result<(Settings, Extras), String> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        // A credential source on the command line replaces the file's (all of them).
        let from_command_line =
            self.store.is_some() || self.credentials.is_some() || self.http_config.is_some();
        let store = match &self.store {
            Some(url) => Some(("--store", url.config()?)),
            None if from_command_line => None,
            None => file.store.clone().map(|store| ("store", store)),
        };
        if !from_command_line {
            self.credentials = file.credentials.clone();
            self.http_config = file.http_config.clone();
        }
        self.tcp = self.tcp.or(file.listeners.tcp);
        self.tls = self.tls.or(file.listeners.tls);
        // A certificate or `--tls-self-signed` on the command line replaces the file's choice.
        if !self.tls_self_signed && self.tls_cert.is_none() {
            self.tls_cert = file.tls.cert.clone();
            self.tls_key = self.tls_key.take().or(file.tls.key.clone());
            self.tls_self_signed = file.tls.self_signed;
        }
        self.tls_self_signed_out = self
            .tls_self_signed_out
            .take()
            .or(file.tls.self_signed_out.clone());
        self.allow_plain |= file.allow_plain;
        let provider = match (&self.credentials, &self.http_config, store) {
            (None, None, Some((origin, store))) => {
                // Builds without connecting: a store that is down is `Ignore`d until it is back.
                let built = store.build().map_err(|e| format!("{origin}: {e}"))?;
                Provider::Shared(built.provider(), describe_store(&store))
            }
            (Some(path), _, _) => Provider::from_record_file(path)?,
            (None, Some(path), _) => http_provider(path, &self)?,
            (None, None, None) => {
                return Err("--store URL, --credentials FILE or --http-config FILE (or `store`, `credentials` or `http_config` in the configuration file) is required".into());
            }
        };
        // The file's `[scram]` (or the defaults), then each option given on the command line.
        let mut scram = match (file.scram, &self.mock_key_file) {
            (Some(scram), None) => scram,
            (Some(scram), Some(path)) => scram.mock_key(mock_key(Some(path))?),
            (None, path) => ServerConfig::from_mock_key(mock_key(path.as_ref())?),
        };
        if let Some(names) = &self.mechanisms {
            let mechanisms = names
                .iter()
                .map(|name| {
                    Mechanism::from_name(name.trim())
                        .ok_or_else(|| format!("unknown mechanism {name:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            scram = scram.mechanisms(&mechanisms);
        }
        if let Some(n) = self.mock_iterations {
            scram = scram.mock_iterations(n);
        }
        if let Some(secs) = self.handshake_timeout {
            scram = scram.handshake_timeout(Duration::from_secs(secs));
        }
        let mut cert_out = None;
        let tls = match self.tls {
            None => None,
            Some(addr) => {
                let setup = match (&self.tls_cert, &self.tls_key) {
                    (Some(cert), Some(key)) => tls::from_files(cert, key)?,
                    _ if self.tls_self_signed => tls::self_signed()?,
                    _ => {
                        return Err(
                            "--tls needs --tls-cert and --tls-key, or --tls-self-signed".into()
                        );
                    }
                };
                if let (Some(path), Some(pem)) =
                    (&self.tls_self_signed_out, &setup.generated_cert_pem)
                {
                    cert_out = Some((path.clone(), pem.clone()));
                }
                Some((addr, setup.config))
            }
        };
        let tcp = match (self.tcp, &tls) {
            (None, None) => Some(SocketAddr::from(([127, 0, 0, 1], 1883))),
            (tcp, _) => tcp,
        };
        let mut limits = file.limits.apply(Limits::default());
        if let Some(bytes) = self.max_packet_size {
            limits.max_packet_size = bytes;
        }
        if let Some(n) = self.max_connections {
            limits.max_connections = n;
        }
        let mut admission = file.admission;
        if let Some(n) = self.max_handshakes {
            admission.max_handshakes = n;
        }
        if let Some(n) = self.max_handshakes_per_address {
            admission.max_handshakes_per_address = n;
        }
        if let Some(n) = self.max_concurrent_work {
            admission.max_concurrent_work = n;
        }
        if let Some(secs) = self.first_step_timeout {
            admission.first_step_timeout = Duration::from_secs(secs);
        }
        admission.validate()?;
        let settings = Settings {
            tcp,
            tls,
            provider,
            scram,
            admission,
            limits,
            allow_plain: self.allow_plain,
            metrics: self.metrics.or(file.listeners.metrics),
            name: file.name.unwrap_or_else(|| "broker".into()),
        };
        Ok((settings, Extras { cert_out }))
    }
}

#[cfg(feature = "http")]
fn http_provider(path: &std::path::Path, args: &Args) -> Result<Provider, String> {
    let ttl = Duration::from_secs(args.cache_ttl);
    let negative_ttl = args.cache_negative_ttl.map_or(ttl, Duration::from_secs);
    Provider::from_http_config(path, ttl, negative_ttl)
}

#[cfg(not(feature = "http"))]
fn http_provider(_: &std::path::Path, _: &Args) -> Result<Provider, String> {
    Err(
        "--http-config needs the broker built with the crate feature `http` (--all-features)"
            .into(),
    )
}

/// A one-line description of a store for the start-up log: kinds and places, the URLs
/// redacted by the stores' own redaction (passwords and unknown parameters are `***`).
fn describe_store(store: &StoreConfig) -> String {
    match store {
        StoreConfig::File(c) => format!("file {}", c.path.display()),
        StoreConfig::Postgres(c) => format!("postgres {}", c.redacted_url()),
        StoreConfig::Redis(c) => format!("redis {}", c.redacted_servers()),
        StoreConfig::Cached(c) => format!("cached ({})", describe_store(&c.inner)),
        StoreConfig::Chain(c) => {
            let stores: Vec<String> = c.stores.iter().map(describe_store).collect();
            format!("chain [{}]", stores.join(", "))
        }
        StoreConfig::Http(_) => "http".into(),
        _ => "store".into(),
    }
}

/// The mock key from `--mock-key-file` ([`MockKey::from_file`]: hex or 32 raw bytes, refused
/// when its group or others can read it), or a random one with a warning.
fn mock_key(path: Option<&PathBuf>) -> Result<MockKey, String> {
    match path {
        Some(path) => MockKey::from_file(path).map_err(|e| e.to_string()),
        None => {
            warn!(
                "no --mock-key-file: using a random mock key (unknown users become recognisable across restarts)"
            );
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            Ok(MockKey::new(key))
        }
    }
}

/// The configuration file (`--config`, TOML). Every section is optional; unknown keys are
/// refused and errors name the key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The `authenticator` label of the metrics.
    pub name: Option<String>,
    /// Accept CONNECT without an Authentication Method (see `--allow-plain`).
    #[serde(default)]
    pub allow_plain: bool,
    /// Credential records (the crate's JSON format).
    pub credentials: Option<PathBuf>,
    /// An `HttpConfig` JSON file for the HTTP provider (feature `http`).
    pub http_config: Option<PathBuf>,
    /// Any credential store of `mqtt-scram-stores`: a `[store]` table (`kind = "file" |
    /// "http" | "postgres" | "redis" | "cached" | "chain"`) or `store = "URL or path"`,
    /// instead of `credentials`/`http_config`; `--store` replaces it.
    #[serde(default, deserialize_with = "store_source")]
    pub store: Option<StoreConfig>,
    /// Listener addresses.
    #[serde(default)]
    pub listeners: ListenersConfig,
    /// TLS certificate and key.
    #[serde(default)]
    pub tls: TlsConfig,
    /// The engine's settings ([`ServerConfig`]: mechanisms, mock key, deadlines, record policy).
    pub scram: Option<ServerConfig>,
    /// Handshake admission ([`AdmissionPolicy`]).
    #[serde(default)]
    pub admission: AdmissionPolicy,
    /// Resource bounds.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// `[listeners]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenersConfig {
    /// Plain TCP.
    pub tcp: Option<SocketAddr>,
    /// TLS.
    pub tls: Option<SocketAddr>,
    /// Prometheus metrics (`GET /metrics`).
    pub metrics: Option<SocketAddr>,
}

/// `[tls]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
    /// Generate a self-signed certificate.
    #[serde(default)]
    pub self_signed: bool,
    /// Where to write the generated certificate.
    pub self_signed_out: Option<PathBuf>,
}

/// `[limits]` (durations as `"10s"`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest packet accepted.
    pub max_packet_size: Option<u32>,
    /// Open connections at most.
    pub max_connections: Option<usize>,
    /// From accept to a complete CONNECT.
    #[serde(default, with = "optional_duration")]
    pub connect_timeout: Option<Duration>,
    /// A peer that does not read a packet within this time is dropped.
    #[serde(default, with = "optional_duration")]
    pub write_timeout: Option<Duration>,
    /// The time budget of a credential lookup.
    #[serde(default, with = "optional_duration")]
    pub lookup_timeout: Option<Duration>,
    /// Subscriptions per connection.
    pub max_subscriptions: Option<usize>,
}

impl LimitsConfig {
    fn apply(&self, mut limits: Limits) -> Limits {
        if let Some(v) = self.max_packet_size {
            limits.max_packet_size = v;
        }
        if let Some(v) = self.max_connections {
            limits.max_connections = v;
        }
        if let Some(v) = self.connect_timeout {
            limits.connect_timeout = v;
        }
        if let Some(v) = self.write_timeout {
            limits.write_timeout = v;
        }
        if let Some(v) = self.lookup_timeout {
            limits.provider_timeout = v;
        }
        if let Some(v) = self.max_subscriptions {
            limits.max_subscriptions = v;
        }
        limits
    }
}

mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    struct Wrapped(#[serde(with = "mqtt_scram_authenticator::duration::serde")] Duration);

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<Wrapped>::deserialize(d).map(|w| w.map(|Wrapped(duration)| duration))
    }
}

/// `store = "URL or path"` or a `[store]` table.
fn store_source<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<StoreConfig>, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::String(url) => StoreConfig::from_url(&url)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("store: {e}"))),
        toml::Value::Table(table) => StoreConfig::deserialize(table)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("store: {}", e.message()))),
        _ => Err(serde::de::Error::custom(
            "store: expected a URL or file path, or a table with `kind`",
        )),
    }
}

impl FileConfig {
    /// Reads and parses a TOML file; the error names the file and the key.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses TOML text. The error gives the line and the message, not the offending
    /// line's text (which may hold a store password).
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| match e.span() {
            Some(span) => {
                let before = text.get(..span.start).unwrap_or_default();
                let line = before.matches('\n').count() + 1;
                format!("line {line}: {}", e.message())
            }
            None => e.message().to_string(),
        })
    }
}
