//! The rustls client configuration of HTTP: trust from the workspace's one root policy
//! ([`crate::trust`]: a CA file or the system roots, or with `dangerous_accept_invalid_certs`
//! nothing), client certificate for mutual TLS, SNI, ALPN.

use std::string::{String, ToString};
use std::vec::Vec;

use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::config::{HttpConfigError, HttpVersion, TlsConfig};

/// Builds the client configuration reqwest will use for `https://`.
pub fn client_config(
    tls: &TlsConfig,
    version: HttpVersion,
) -> Result<ClientConfig, HttpConfigError> {
    let err =
        |what: &str, e: &dyn core::fmt::Display| HttpConfigError::Tls(std::format!("{what}: {e}"));
    // The workspace's one root policy (crate::trust): the CA file, else the system's
    // roots, else the built-in Mozilla roots; no check at all only when dangerous.
    let builder = crate::trust::builder(tls.ca_file.as_deref(), tls.dangerous_accept_invalid_certs)
        .map_err(|e| HttpConfigError::Tls(e.to_string()))?;
    if tls.dangerous_accept_invalid_certs {
        tracing::warn!(
            "https: the server's certificate is not checked (tls.dangerous_accept_invalid_certs): \
             anyone on the path can impersonate the server"
        );
    }
    let mut config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let chain = CertificateDer::pem_file_iter(cert_file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    err(
                        &std::format!("reading cert_file {}", cert_file.display()),
                        &e,
                    )
                })?;
            let key = PrivateKeyDer::from_pem_file(key_file)
                .map_err(|e| err(&std::format!("reading key_file {}", key_file.display()), &e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| err("client certificate", &e))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(HttpConfigError::Tls(
                "cert_file and key_file go together".to_string(),
            ));
        }
    };
    config.enable_sni = tls.enable_sni;
    config.alpn_protocols = match version {
        HttpVersion::Auto => std::vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::Http1 => std::vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => std::vec![b"h2".to_vec()],
    };
    Ok(config)
}

/// Checks that an SNI override is a DNS name.
pub fn check_server_name(name: &str) -> Result<(), HttpConfigError> {
    ServerName::try_from(String::from(name))
        .map(drop)
        .map_err(|e| HttpConfigError::Tls(std::format!("server_name {name:?}: {e}")))
}
