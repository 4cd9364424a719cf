//! TLS for `probe --tls`: rustls with the workspace's root policy (a CA file, the system's
//! roots or the built-in Mozilla roots, or no checks); the RFC 9266 `tls-exporter` channel
//! binding for `--plus`.

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use mqtt_scram::{ChannelBinding, ChannelBindingType};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ProtocolVersion, StreamOwned};

use super::Stop;
use super::link::Transport;
use crate::Failure;

/// The client configuration from the workspace's one root policy
/// ([`mqtt_scram_http::trust`]): the CAs of `ca` (PEM), else the system's roots, else the
/// built-in Mozilla roots; `insecure` skips certificate checks but still verifies
/// handshake signatures.
pub fn client_config(
    ca: Option<&Path>,
    insecure: bool,
) -> Result<Arc<rustls::ClientConfig>, Failure> {
    let config = mqtt_scram_http::trust::builder(ca, insecure)
        .map_err(|e| Failure::usage(format!("--ca: {e}")))?
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// RFC 9266 §2: the `tls-exporter` label; the context is empty and the output 32 bytes.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
const EXPORTER_LEN: usize = 32;

/// A finished TLS handshake.
pub struct Established {
    /// The TLS stream, ready for MQTT.
    pub stream: Box<dyn Transport>,
    /// The negotiated protocol version, e.g. `TLSv1_3`.
    pub version: String,
    /// With `want_binding`: the `tls-exporter` binding, or why there is none.
    pub binding: Option<Result<ChannelBinding, String>>,
}

/// Runs the handshake; returns the stream, the negotiated protocol version and, when
/// `want_binding`, the connection's `tls-exporter` channel binding.
pub fn handshake(
    config: Arc<rustls::ClientConfig>,
    name: &str,
    mut tcp: TcpStream,
    want_binding: bool,
) -> Result<Established, Stop> {
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
    let binding = want_binding.then(|| tls_exporter(&conn, &version));
    Ok(Established {
        stream: Box::new(StreamOwned::new(conn, tcp)),
        version,
        binding,
    })
}

/// The `tls-exporter` channel binding (RFC 9266) of a connection, TLS 1.3 only.
///
/// RFC 9266 §3 allows `tls-exporter` on TLS 1.2 only with the extended master secret, which
/// rustls does not report, and brokers offer `-PLUS` on TLS 1.3 only; so TLS 1.2 is refused.
/// In TLS 1.3 an absent and an empty exporter context are the same (RFC 8446 §7.5).
fn tls_exporter(conn: &ClientConnection, version: &str) -> Result<ChannelBinding, String> {
    if conn.protocol_version() != Some(ProtocolVersion::TLSv1_3) {
        return Err(format!(
            "--plus needs TLS 1.3 for the tls-exporter channel binding (RFC 9266), \
             but the broker negotiated {version}"
        ));
    }
    let data = conn
        .export_keying_material([0u8; EXPORTER_LEN], EXPORTER_LABEL, None)
        .map_err(|e| format!("cannot export the tls-exporter channel binding: {e}"))?;
    Ok(ChannelBinding::new(
        ChannelBindingType::TlsExporter,
        data.to_vec(),
    ))
}
