//! The workspace's one root-certificate policy: every TLS client of the workspace (the
//! HTTP store and authorizer, the PostgreSQL and Redis stores, `mqtt-scram probe`) builds
//! its rustls configuration here.
//!
//! - With a CA file, its PEM certificates are the only trusted roots (libpq's
//!   `sslrootcert`, curl's `--cacert`).
//! - Without one, the system's trust store (`rustls-native-certs`: the OS store, or
//!   `SSL_CERT_FILE` / `SSL_CERT_DIR`); when the system has no usable root (a minimal
//!   container without `ca-certificates`), the built-in Mozilla roots (`webpki-roots`).
//! - The server's certificate is always checked (chain, validity period, host name or IP
//!   address) unless the caller passes the `dangerous` switch, which accepts any
//!   certificate ([`AcceptAnyServerCert`]: handshake signatures are still checked).
//!
//! This module needs only rustls: it is available without the `client` feature (no
//! reqwest), so the PostgreSQL and Redis stores use it too.
//!
//! ```
//! let config = mqtt_scram_http::trust::builder(None, false)?.with_no_client_auth();
//! assert!(config.alpn_protocols.is_empty());
//! # Ok::<(), mqtt_scram_http::trust::TrustError>(())
//! ```

use std::path::{Path, PathBuf};
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use rustls::client::WantsClientCert;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, ConfigBuilder, RootCertStore};

use crate::dangerous_tls::AcceptAnyServerCert;

/// Why the trust settings cannot be used (names the file, never its content).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The CA file cannot be read or is not PEM.
    #[error("ca_file {}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the settings.
    #[error("rustls: {0}")]
    Rustls(String),
}

/// The trusted roots as certificates: those of `ca_file`, else the system's; `None`
/// when neither applies and the built-in Mozilla roots (`webpki-roots`, trust anchors
/// rather than certificates) are the roots (see the [module docs](self)).
pub fn root_certificates(
    ca_file: Option<&Path>,
) -> Result<Option<Vec<CertificateDer<'static>>>, TrustError> {
    if let Some(path) = ca_file {
        let bad = |reason: String| TrustError::CaFile {
            path: path.to_path_buf(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("holds no PEM certificate".into()));
        }
        return Ok(Some(certs));
    }
    let native = rustls_native_certs::load_native_certs();
    if native.certs.is_empty() {
        tracing::debug!(
            errors = native.errors.len(),
            "no system root certificate found: using the built-in Mozilla roots"
        );
        return Ok(None);
    }
    Ok(Some(native.certs))
}

/// The trusted roots as a rustls root store (see the [module docs](self)).
pub fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, TrustError> {
    let mut roots = RootCertStore::empty();
    match (root_certificates(ca_file)?, ca_file) {
        (None, _) => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        (Some(certs), Some(path)) => {
            for cert in certs {
                roots.add(cert).map_err(|e| TrustError::CaFile {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            }
        }
        (Some(certs), None) => {
            // Like every TLS client, skip a system root rustls cannot parse.
            let _ = roots.add_parsable_certificates(certs);
        }
    }
    Ok(roots)
}

/// A rustls client configuration builder with the *ring* provider, the safe default
/// protocol versions and the policy's server-certificate check: against
/// [`root_store`]`(ca_file)`, or, with `dangerous_accept_invalid_certs`, none at all.
/// The caller adds the client identity (`with_no_client_auth` or
/// `with_client_auth_cert`) and its own settings (ALPN, SNI).
pub fn builder(
    ca_file: Option<&Path>,
    dangerous_accept_invalid_certs: bool,
) -> Result<ConfigBuilder<ClientConfig, WantsClientCert>, TrustError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TrustError::Rustls(e.to_string()))?;
    if dangerous_accept_invalid_certs {
        // The CA file is still read, so a typo in it is reported either way.
        if ca_file.is_some() {
            root_certificates(ca_file)?;
        }
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(provider))));
    }
    Ok(builder.with_root_certificates(root_store(ca_file)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_bad_ca_file_is_named_and_never_replaced_by_the_system_roots() {
        let dir = std::env::temp_dir().join(format!("trust-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let e = root_store(Some(&missing)).unwrap_err().to_string();
        assert!(
            e.starts_with("ca_file ") && e.contains("missing.pem"),
            "{e}"
        );
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = root_certificates(Some(&empty)).unwrap_err().to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        // The dangerous switch still reads the file, so a typo is reported either way.
        assert!(builder(Some(&empty), true).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_a_ca_file_some_roots_are_trusted() {
        // The system's, or the built-in Mozilla roots when the system has none.
        assert!(!root_store(None).unwrap().is_empty());
        let config = builder(None, false).unwrap().with_no_client_auth();
        assert!(config.alpn_protocols.is_empty());
        builder(None, true).unwrap().with_no_client_auth();
    }
}
