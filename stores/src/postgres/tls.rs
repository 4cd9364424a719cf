//! The rustls configuration of the PostgreSQL connections: verified against
//! `tls.ca_file` or the system roots, or (libpq's `sslmode=prefer` without a CA file)
//! encrypted without checking the server's certificate.

use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::remote::TlsSettings;

/// The rustls client configuration for `settings` (*ring* provider, safe defaults). With
/// `verify` false the server's certificate is not checked (encryption only, as libpq's
/// `sslmode=prefer`); the TLS files are still checked.
pub(crate) fn client_config(settings: &TlsSettings, verify: bool) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    if !verify {
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| std::format!("tls: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)));
        return match settings.client_identity_files()? {
            None => Ok(builder.with_no_client_auth()),
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| std::format!("tls client certificate: {e}")),
        };
    }
    let mut roots = RootCertStore::empty();
    match settings.ca_certificates()? {
        Some(certs) => {
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| std::format!("tls.ca_file: {e}"))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
        }
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| std::format!("tls: {e}"))?
        .with_root_certificates(roots);
    match settings.client_identity_files()? {
        None => Ok(builder.with_no_client_auth()),
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| std::format!("tls client certificate: {e}")),
    }
}

/// Accepts any server certificate (signatures are still checked, so the handshake is
/// genuine TLS). Only for libpq's `sslmode=prefer` without a CA file.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
