//! The `tls-server-end-point` channel binding (RFC 5929 §4.1) of a listener, computed from
//! its certificate file: Mosquitto's plugin API exposes no TLS exporter (`tls-exporter`,
//! RFC 9266) and no handshake data, but the server certificate is known to both ends.
//!
//! The binding is the hash of the DER certificate with the hash of its signature algorithm,
//! except that MD5 and SHA-1 are replaced by SHA-256. Certificates signed with RSASSA-PSS or
//! EdDSA have no such hash and are refused.

use std::path::Path;

use mqtt_scram::{ChannelBinding, ChannelBindingType};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::{self, PemObject as _};
use sha2::Digest as _;
use x509_cert::Certificate;
use x509_cert::der::Decode as _;

/// Why the certificate file cannot give a binding.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BindingError {
    /// Reading failed.
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    /// No PEM certificate in the file, or one that does not parse.
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    /// A signature algorithm without a defined hash.
    #[error(
        "{path}: the certificate is signed with {algorithm}, for which RFC 5929 defines no \
         tls-server-end-point hash; use an RSA or ECDSA certificate signed with SHA-256/384/512"
    )]
    Algorithm { path: String, algorithm: String },
}

/// A PEM error without the file's bytes (a key may sit in the same file).
fn pem_error(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { .. } => "the first certificate has no END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a malformed BEGIN line".into(),
        pem::Error::Base64Decode(_) => "the certificate is not valid base64".into(),
        pem::Error::Io(e) => e.to_string(),
        _ => "not a PEM file".into(),
    }
}

/// The binding for the first certificate in the PEM file at `path` (the server's own; any
/// chain certificates after it are ignored).
pub(crate) fn tls_server_end_point(path: &Path) -> Result<ChannelBinding, BindingError> {
    let shown = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| BindingError::Read {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let parse = |message: String| BindingError::Parse {
        path: shown.clone(),
        message,
    };
    // The PEM reader of rustls-pki-types (what rustls itself reads certificates with): other
    // sections (a key in the same file) are skipped, the first CERTIFICATE section is the
    // server's own.
    let der: CertificateDer<'static> = match CertificateDer::pem_slice_iter(&text).next() {
        Some(Ok(der)) => der,
        Some(Err(e)) => return Err(parse(format!("bad PEM: {}", pem_error(&e)))),
        None => {
            return Err(parse(
                "no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
    };
    let der: &[u8] = der.as_ref();
    let certificate =
        Certificate::from_der(der).map_err(|e| parse(format!("bad certificate: {e}")))?;
    let algorithm = certificate.signature_algorithm.oid.to_string();
    let data = match algorithm.as_str() {
        // md5WithRSA, sha1WithRSA, sha256WithRSA, ecdsa-with-SHA1, ecdsa-with-SHA256
        "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.2" => sha2::Sha256::digest(der).to_vec(),
        // sha384WithRSA, ecdsa-with-SHA384
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => sha2::Sha384::digest(der).to_vec(),
        // sha512WithRSA, ecdsa-with-SHA512
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => sha2::Sha512::digest(der).to_vec(),
        _ => {
            return Err(BindingError::Algorithm {
                path: shown,
                algorithm: name(&algorithm),
            });
        }
    };
    Ok(ChannelBinding::new(
        ChannelBindingType::TlsServerEndPoint,
        data,
    ))
}

fn name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.10" => "RSASSA-PSS (1.2.840.113549.1.1.10)".into(),
        "1.3.101.112" => "Ed25519 (1.3.101.112)".into(),
        "1.3.101.113" => "Ed448 (1.3.101.113)".into(),
        other => format!("the algorithm {other}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("binding-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cert.pem");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The first CERTIFICATE section counts, after a key in the same file; its binding is
    /// SHA-256 of the DER (an ECDSA P-256 / SHA-256 certificate, rcgen's default).
    #[test]
    fn first_certificate_after_a_key() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let path = file(
            "key-first",
            &format!("{}{}", key.serialize_pem(), cert.pem()),
        );
        let binding = tls_server_end_point(&path).unwrap();
        assert_eq!(binding.kind(), ChannelBindingType::TlsServerEndPoint);
        assert_eq!(
            binding.data(),
            sha2::Sha256::digest(cert.der().as_ref()).as_slice()
        );
    }

    /// No certificate, a broken one: errors name the file and never echo its bytes.
    #[test]
    fn bad_files_are_named_not_echoed() {
        let key = rcgen::KeyPair::generate().unwrap();
        let only_key = file("only-key", &key.serialize_pem());
        let e = tls_server_end_point(&only_key).unwrap_err().to_string();
        assert!(
            e.contains("no PEM certificate") && e.contains("only-key"),
            "{e}"
        );
        assert!(!e.contains("PRIVATE KEY"), "{e}");
        let broken = file(
            "broken",
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        );
        let e = tls_server_end_point(&broken).unwrap_err().to_string();
        assert!(
            e.contains("bad PEM") && !e.contains("not base64 at all"),
            "{e}"
        );
        let unterminated = file("unterminated", "-----BEGIN CERTIFICATE-----\nMIIB\n");
        let e = tls_server_end_point(&unterminated).unwrap_err().to_string();
        assert!(e.contains("bad PEM"), "{e}");
    }
}
