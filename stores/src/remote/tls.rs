//! TLS settings of the PostgreSQL and Redis connections (rustls with *ring*, no OpenSSL).

use std::path::PathBuf;
use std::string::String;
use std::vec::Vec;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

/// Trust and client identity for a store's TLS connections.
///
/// Without `ca_file` the system's trusted roots are used. Whether TLS is used at all is
/// said by the connection string (`sslmode=require` for PostgreSQL, `rediss://` for Redis).
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

    /// The CA certificates from `ca_file`, if set.
    pub(crate) fn ca_certificates(&self) -> Result<Option<Vec<CertificateDer<'static>>>, String> {
        let Some(path) = &self.ca_file else {
            return Ok(None);
        };
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| std::format!("tls.ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(std::format!(
                "tls.ca_file {} holds no certificate",
                path.display()
            ));
        }
        Ok(Some(certs))
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
