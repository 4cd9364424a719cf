//! TLS for `probe --tls`: rustls with the built-in web roots, a CA file, or no checks.

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned,
};

use super::{Stop, Transport};
use crate::Failure;

/// The client configuration: roots from `ca` (PEM) or the web roots; `insecure` skips
/// certificate checks but still verifies handshake signatures.
pub fn client_config(
    ca: Option<&Path>,
    insecure: bool,
) -> Result<Arc<rustls::ClientConfig>, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::usage(format!("TLS setup: {e}")))?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        match ca {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
                    Failure::usage(format!("cannot read --ca {}: {e}", path.display()))
                })?;
                for cert in certs {
                    let cert =
                        cert.map_err(|e| Failure::usage(format!("--ca {}: {e}", path.display())))?;
                    roots
                        .add(cert)
                        .map_err(|e| Failure::usage(format!("--ca {}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(Failure::usage(format!(
                        "--ca {}: no certificate found",
                        path.display()
                    )));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Runs the handshake; returns the stream and the negotiated protocol version.
pub fn handshake(
    config: Arc<rustls::ClientConfig>,
    name: &str,
    mut tcp: TcpStream,
) -> Result<(Box<dyn Transport>, String), Stop> {
    let server_name = ServerName::try_from(name.to_owned())
        .map_err(|e| Stop::connection(format!("invalid TLS server name {name:?}: {e}")))?;
    let mut conn = ClientConnection::new(config, server_name)
        .map_err(|e| Stop::connection(format!("TLS setup: {e}")))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| Stop::connection(format!("TLS handshake failed: {e}")))?;
    }
    let version = conn
        .protocol_version()
        .map_or_else(|| "TLS".to_owned(), |v| format!("{v:?}"));
    Ok((Box::new(StreamOwned::new(conn, tcp)), version))
}

#[derive(Debug)]
struct NoCertificateCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
