//! The `tls-server-end-point` channel binding (RFC 5929 §4.1) of a listener, computed from
//! its certificate file: Mosquitto's plugin API exposes no TLS exporter (`tls-exporter`,
//! RFC 9266) and no handshake data, but the server certificate is known to both ends.
//!
//! The binding is the hash of the DER certificate with the hash of its signature algorithm,
//! except that MD5 and SHA-1 are replaced by SHA-256. Certificates signed with RSASSA-PSS or
//! EdDSA have no such hash and are refused.

use std::path::Path;

use mqtt_scram::{ChannelBinding, ChannelBindingType};
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

/// The binding for the first certificate in the PEM file at `path` (the server's own; any
/// chain certificates after it are ignored).
pub(crate) fn tls_server_end_point(path: &Path) -> Result<ChannelBinding, BindingError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| BindingError::Read {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let parse = |message: String| BindingError::Parse {
        path: shown.clone(),
        message,
    };
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = text
        .find(BEGIN)
        .ok_or_else(|| parse("no PEM certificate (-----BEGIN CERTIFICATE-----)".into()))?;
    let rest = text.get(start..).unwrap_or_default();
    let end = rest
        .find(END)
        .map(|e| e + END.len())
        .ok_or_else(|| parse("the first certificate has no END line".into()))?;
    let block = rest.get(..end).unwrap_or_default();
    let (_, der) = x509_cert::der::pem::decode_vec(block.as_bytes())
        .map_err(|e| parse(format!("bad PEM: {e}")))?;
    let certificate =
        Certificate::from_der(&der).map_err(|e| parse(format!("bad certificate: {e}")))?;
    let algorithm = certificate.signature_algorithm.oid.to_string();
    let data = match algorithm.as_str() {
        // md5WithRSA, sha1WithRSA, sha256WithRSA, ecdsa-with-SHA1, ecdsa-with-SHA256
        "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.2" => sha2::Sha256::digest(&der).to_vec(),
        // sha384WithRSA, ecdsa-with-SHA384
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => sha2::Sha384::digest(&der).to_vec(),
        // sha512WithRSA, ecdsa-with-SHA512
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => sha2::Sha512::digest(&der).to_vec(),
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
