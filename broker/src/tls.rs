//! TLS listener configuration (rustls with the `ring` provider) and the channel binding
//! that SCRAM `-PLUS` mechanisms use.

use std::path::Path;
use std::sync::Arc;

use mqtt_scram::{ChannelBinding, ChannelBindingType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ProtocolVersion, ServerConfig, ServerConnection};

/// RFC 9266 §2: the `tls-exporter` label; the context is empty and the output 32 bytes.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
const EXPORTER_LEN: usize = 32;

/// A server configuration and, for a generated certificate, the certificate clients must trust.
pub struct TlsSetup {
    /// rustls configuration for the listener.
    pub config: Arc<ServerConfig>,
    /// The generated certificate (PEM), when there is one; `None` for files.
    pub generated_cert_pem: Option<String>,
}

/// Loads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn from_files(cert: &Path, key: &Path) -> Result<TlsSetup, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read key from {}: {e}", key.display()))?;
    Ok(TlsSetup {
        config: build(chain, key)?,
        generated_cert_pem: None,
    })
}

/// Generates a self-signed certificate for `localhost` and `127.0.0.1` (tests, demos).
pub fn self_signed() -> Result<TlsSetup, String> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot generate certificate: {e}"))?;
    let der = generated.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    Ok(TlsSetup {
        config: build(vec![der], key)?,
        generated_cert_pem: Some(generated.cert.pem()),
    })
}

fn build(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate and key do not fit: {e}"))?;
    Ok(Arc::new(config))
}

/// The connection's `tls-exporter` binding (RFC 9266), offered on TLS 1.3 only.
///
/// RFC 9266 §3 allows `tls-exporter` on TLS 1.2 only with the extended master secret;
/// restricting it to TLS 1.3 keeps that question out of the broker. On a TLS 1.2
/// connection `-PLUS` mechanisms are refused (`e=channel-binding-not-supported`).
/// In TLS 1.3 an absent and an empty exporter context are the same (RFC 8446 §7.5).
pub fn channel_binding(conn: &ServerConnection) -> Option<ChannelBinding> {
    if conn.protocol_version() != Some(ProtocolVersion::TLSv1_3) {
        return None;
    }
    let data = conn
        .export_keying_material([0u8; EXPORTER_LEN], EXPORTER_LABEL, Some(&[]))
        .ok()?;
    Some(ChannelBinding::new(
        ChannelBindingType::TlsExporter,
        data.to_vec(),
    ))
}
