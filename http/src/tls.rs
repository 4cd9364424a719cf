//! The rustls client configuration: trust (system roots or a CA file), client
//! certificate for mutual TLS, SNI, ALPN, and the test-only "accept anything" verifier.

use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use crate::config::{HttpConfigError, HttpVersion, TlsConfig};

/// Builds the client configuration reqwest will use for `https://`.
pub fn client_config(
    tls: &TlsConfig,
    version: HttpVersion,
) -> Result<ClientConfig, HttpConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let err =
        |what: &str, e: &dyn core::fmt::Display| HttpConfigError::Tls(std::format!("{what}: {e}"));
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| err("protocol versions", &e))?;
    let builder = if tls.danger_accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(crate::insecure_tls::AcceptAnyServerCert(
                provider,
            )))
    } else if let Some(ca_file) = &tls.ca_file {
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca_file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| err(&std::format!("reading ca_file {}", ca_file.display()), &e))?;
        if certs.is_empty() {
            return Err(HttpConfigError::Tls(std::format!(
                "ca_file {} holds no certificate",
                ca_file.display()
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| err("ca_file certificate", &e))?;
        }
        builder.with_root_certificates(roots)
    } else {
        let verifier = rustls_platform_verifier::Verifier::new(provider)
            .map_err(|e| err("system roots", &e))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    };
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
