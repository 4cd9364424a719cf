//! Command-line options and how they become [`Settings`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use mqtt_scram::{Mechanism, ServerConfig};
use rand::Rng as _;
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
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "http_config",
        conflicts_with = "http_config"
    )]
    pub credentials: Option<PathBuf>,

    /// Look credentials up with the HTTP provider configured by this JSON file (an
    /// `HttpConfig`), behind a cache. Needs the crate feature `http`.
    #[arg(long, value_name = "FILE")]
    pub http_config: Option<PathBuf>,

    /// Seconds a record from the HTTP provider is reused.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub cache_ttl: u64,

    /// Seconds an "unknown user" answer from the HTTP provider is reused.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub cache_negative_ttl: u64,

    /// File with the 32-byte mock key in hex (64 characters). Keep it stable across
    /// restarts; without it a random key is used and unknown users can be told apart
    /// from real ones across a restart.
    #[arg(long, value_name = "FILE")]
    pub mock_key_file: Option<PathBuf>,

    /// Mechanisms to offer (comma-separated); -PLUS ones work on TLS 1.3 listeners.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "SCRAM-SHA-256,SCRAM-SHA-512,SCRAM-SHA-256-PLUS,SCRAM-SHA-512-PLUS"
    )]
    pub mechanisms: Vec<String>,

    /// Iteration count shown to unknown users (set it to what real users have).
    #[arg(long, default_value_t = 4096)]
    pub mock_iterations: u32,

    /// Seconds from CONNECT (or AUTH 0x19) to the client's final message.
    #[arg(long, default_value_t = 30)]
    pub handshake_timeout: u64,

    /// Largest packet accepted (bytes); bounds each connection's read buffer.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_packet_size: u32,

    /// Open connections at most.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,

    /// Handshakes in progress at most; further CONNECTs queue for a while, then get 0x89.
    #[arg(long, default_value_t = 512)]
    pub max_handshakes: usize,

    /// Accept CONNECT without an Authentication Method and check its User Name and
    /// Password against the stored credentials. RISK: the password crosses the network
    /// (use TLS), the server runs PBKDF2 for every attempt (CPU cost an attacker controls),
    /// and the client does not authenticate the server.
    #[arg(long)]
    pub allow_plain: bool,
}

/// What `main` needs besides the settings.
pub struct Extras {
    /// Where to write a generated certificate.
    pub cert_out: Option<(PathBuf, String)>,
}

impl Args {
    /// Validates the options and loads files.
    pub fn into_settings(self) -> Result<(Settings, Extras), String> {
        let provider = match (&self.credentials, &self.http_config) {
            (Some(path), _) => Provider::from_record_file(path)?,
            (None, Some(path)) => http_provider(path, &self)?,
            (None, None) => {
                return Err("--credentials FILE or --http-config FILE is required".into());
            }
        };
        let mechanisms = self
            .mechanisms
            .iter()
            .map(|name| {
                Mechanism::from_name(name.trim())
                    .ok_or_else(|| format!("unknown mechanism {name:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let scram = ServerConfig::new(mock_key(self.mock_key_file.as_ref())?)
            .mechanisms(&mechanisms)
            .mock_iterations(self.mock_iterations)
            .handshake_timeout(Duration::from_secs(self.handshake_timeout));
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
        let limits = Limits {
            max_packet_size: self.max_packet_size,
            max_connections: self.max_connections,
            max_handshakes: self.max_handshakes,
            ..Limits::default()
        };
        let settings = Settings {
            tcp,
            tls,
            provider,
            scram,
            limits,
            allow_plain: self.allow_plain,
        };
        Ok((settings, Extras { cert_out }))
    }
}

#[cfg(feature = "http")]
fn http_provider(path: &std::path::Path, args: &Args) -> Result<Provider, String> {
    let ttl = Duration::from_secs(args.cache_ttl);
    Provider::from_http_config(path, ttl, Duration::from_secs(args.cache_negative_ttl))
}

#[cfg(not(feature = "http"))]
fn http_provider(_: &std::path::Path, _: &Args) -> Result<Provider, String> {
    Err(
        "--http-config needs the broker built with the crate feature `http` (--all-features)"
            .into(),
    )
}

fn mock_key(path: Option<&PathBuf>) -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
                format!("{}: the mock key must be 64 hex characters", path.display())
            })?;
        }
        None => {
            warn!(
                "no --mock-key-file: using a random mock key (unknown users become recognisable across restarts)"
            );
            rand::rng().fill_bytes(&mut key);
        }
    }
    Ok(key)
}
