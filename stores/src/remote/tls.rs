//! TLS settings of the PostgreSQL and Redis connections (rustls with *ring*, no OpenSSL).

use std::path::PathBuf;
use std::string::String;
use std::vec::Vec;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

/// Trust and client identity for a store's TLS connections, and the two `dangerous`
/// switches that weaken them.
///
/// TLS to a store is verified by default: the server's certificate chain, validity period
/// and host name (libpq's `sslmode=verify-full`) are checked against `ca_file`, else the
/// system's roots, else the built-in Mozilla roots (the workspace's one root policy,
/// [`mqtt_scram_http::trust`]). A host that is not loopback (127.0.0.0/8, `::1`,
/// `localhost`, a Unix socket) is only reached over verified TLS (PostgreSQL) or
/// `rediss://` (Redis) unless an operator sets:
///
/// - `dangerous_plaintext`: plaintext is allowed (PostgreSQL `sslmode=disable|prefer`,
///   Redis `redis://` to another host); anyone on the path reads and rewrites the records;
/// - `dangerous_accept_invalid_certs`: TLS without any certificate check (PostgreSQL
///   `sslmode=require`, `rediss://`); anyone on the path can impersonate the store.
///
/// Either logs one WARN when the store is built. Loopback hosts may use plaintext without
/// them.
///
/// ```
/// use mqtt_scram_stores::remote::TlsSettings;
/// let tls: TlsSettings = serde_json::from_str(r#"{"ca_file": "/etc/mqtt/db-ca.pem"}"#)?;
/// assert!(tls.client_cert_file.is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsSettings {
    /// PEM file of the CA certificate(s) to trust instead of the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS (with `client_key_file`).
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// Allow plaintext to a host that is not loopback (see the type's docs).
    #[serde(default)]
    pub dangerous_plaintext: bool,
    /// Accept any server certificate: TLS without authentication (see the type's docs).
    #[serde(default)]
    pub dangerous_accept_invalid_certs: bool,
}

impl TlsSettings {
    /// Trust the CA certificate(s) in `path`.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Present this client certificate and key (PEM files).
    pub fn client_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert_file = Some(cert.into());
        self.client_key_file = Some(key.into());
        self
    }

    /// Allow plaintext to a host that is not loopback (logged as a WARN).
    pub fn dangerous_plaintext(mut self, allow: bool) -> Self {
        self.dangerous_plaintext = allow;
        self
    }

    /// Accept any server certificate (logged as a WARN).
    pub fn dangerous_accept_invalid_certs(mut self, allow: bool) -> Self {
        self.dangerous_accept_invalid_certs = allow;
        self
    }

    /// The rustls configuration of the workspace's root policy for these settings:
    /// `ca_file` (or `ca_override`, e.g. libpq's `sslrootcert`) or the system roots, the
    /// client identity, no certificate check with `dangerous_accept_invalid_certs`.
    #[cfg(feature = "postgres")]
    pub(crate) fn client_config(
        &self,
        ca_override: Option<&std::path::Path>,
    ) -> Result<rustls::ClientConfig, String> {
        let ca = ca_override.or(self.ca_file.as_deref());
        let builder = mqtt_scram_http::trust::builder(ca, self.dangerous_accept_invalid_certs)
            .map_err(|e| std::format!("tls.{e}"))?;
        match self.client_identity_files()? {
            None => Ok(builder.with_no_client_auth()),
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| std::format!("tls client certificate: {e}")),
        }
    }

    /// Whether a host name or address is loopback: 127.0.0.0/8, `::1` (bracketed or not),
    /// `localhost` or a name under `.localhost` (RFC 6761). The only hosts a store may reach
    /// in plaintext without `dangerous_plaintext`.
    pub(crate) fn is_loopback_host(name: &str) -> bool {
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            return ip.is_loopback();
        }
        let lower = bare.trim_end_matches('.').to_ascii_lowercase();
        lower == "localhost" || lower.ends_with(".localhost")
    }

    /// The client certificate chain and key, if set (both or neither).
    #[allow(clippy::type_complexity)]
    pub(crate) fn client_identity_files(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, String> {
        match (&self.client_cert_file, &self.client_key_file) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| std::format!("tls.client_cert_file {}: {e}", cert.display()))?;
                if chain.is_empty() {
                    return Err(std::format!(
                        "tls.client_cert_file {} holds no certificate",
                        cert.display()
                    ));
                }
                // Never echo the key file's content; name the file only.
                let key = PrivateKeyDer::from_pem_file(key).map_err(|_| {
                    std::format!("tls.client_key_file {}: no PEM private key", key.display())
                })?;
                Ok(Some((chain, key)))
            }
            (Some(_), None) => Err("tls.client_cert_file needs tls.client_key_file".into()),
            (None, Some(_)) => Err("tls.client_key_file needs tls.client_cert_file".into()),
        }
    }
}
