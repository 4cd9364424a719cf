//! What the broker knows about a connection: identifiers for providers and
//! templates, and the TLS channel-binding data for `-PLUS` mechanisms.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;

use zeroize::Zeroizing;

/// A channel-binding type (RFC 5056, RFC 5929, RFC 9266).
///
/// ```
/// use mqtt_scram::ChannelBindingType;
/// assert_eq!(ChannelBindingType::TlsExporter.name(), "tls-exporter");
/// assert_eq!(ChannelBindingType::from_name("tls-server-end-point"), Some(ChannelBindingType::TlsServerEndPoint));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelBindingType {
    /// `tls-exporter` (RFC 9266): TLS exporter, label `EXPORTER-Channel-Binding`, empty context, 32 bytes.
    /// The binding for TLS 1.3.
    TlsExporter,
    /// `tls-server-end-point` (RFC 5929 §4): hash of the server certificate.
    TlsServerEndPoint,
    /// `tls-unique` (RFC 5929 §3): TLS 1.2 Finished message. Not defined for TLS 1.3.
    TlsUnique,
}

impl ChannelBindingType {
    /// The registered name used in the gs2 header (`p=<name>`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::TlsExporter => "tls-exporter",
            Self::TlsServerEndPoint => "tls-server-end-point",
            Self::TlsUnique => "tls-unique",
        }
    }

    /// Looks up a type by its registered name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::TlsExporter, Self::TlsServerEndPoint, Self::TlsUnique]
            .into_iter()
            .find(|t| t.name() == name)
    }
}

/// Channel-binding data for one TLS connection, as both ends compute it.
///
/// ```
/// use mqtt_scram::{ChannelBinding, ChannelBindingType};
/// // e.g. the TLS exporter value ("EXPORTER-Channel-Binding", 32 bytes) of the connection
/// let binding = ChannelBinding::new(ChannelBindingType::TlsExporter, vec![0xCB; 32]);
/// assert_eq!(binding.data().len(), 32);
/// assert!(!format!("{binding:?}").contains("203"));   // the bytes are not printed
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelBinding {
    kind: ChannelBindingType,
    /// A boxed slice, not a `Vec`: 8 bytes less in every [`ConnectionInfo`].
    data: Zeroizing<Box<[u8]>>,
}

impl ChannelBinding {
    /// Binding data of the given type (e.g. 32 bytes from rustls `export_keying_material`
    /// with label `EXPORTER-Channel-Binding` and no context, for `tls-exporter`).
    pub fn new(kind: ChannelBindingType, data: impl Into<Vec<u8>>) -> Self {
        Self {
            kind,
            data: Zeroizing::new(exact(Zeroizing::new(data.into()))),
        }
    }

    /// The type.
    pub fn kind(&self) -> ChannelBindingType {
        self.kind
    }

    /// The binding data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// `data` in a box of its length; a copy, and the `Vec` wiped, when it has spare
/// capacity (shrinking it in place could leave the bytes in freed memory).
fn exact(mut data: Zeroizing<Vec<u8>>) -> Box<[u8]> {
    if data.len() == data.capacity() {
        core::mem::take(&mut *data).into_boxed_slice()
    } else {
        Box::from(data.as_slice())
    }
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelBinding")
            .field("kind", &self.kind)
            .field("data", &"<redacted>")
            .finish()
    }
}

/// Facts about the connection being authenticated, owned by the broker and shared
/// with the engine (through an `Arc`) so providers can see them.
///
/// Every field is optional information except what the broker chooses to fill.
///
/// ```
/// use mqtt_scram::ConnectionInfo;
/// let conn = ConnectionInfo::new("sensor-17")
///     .with_peer("192.0.2.7:50312".parse().expect("address"))
///     .with_listener("tls")
///     .with_mqtt_username("alice");
/// assert_eq!(conn.client_id, "sensor-17");
/// assert_eq!(conn.protocol, "mqtt");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// MQTT client identifier from CONNECT.
    pub client_id: String,
    /// MQTT User Name from CONNECT, if any (not necessarily the SCRAM username).
    pub mqtt_username: Option<String>,
    /// Remote address.
    pub peer: Option<SocketAddr>,
    /// Listener name (e.g. `tcp:default`); a constant name is not copied per connection.
    pub listener: Cow<'static, str>,
    /// Local port of the listener the client connected to (EMQX v4 `%p`).
    pub listener_port: Option<u16>,
    /// Protocol name (e.g. `mqtt`); a constant name is not copied per connection.
    pub protocol: Cow<'static, str>,
    /// TLS client certificate common name.
    pub cert_common_name: Option<String>,
    /// TLS client certificate subject.
    pub cert_subject: Option<String>,
    /// Client attributes the broker attached before authentication.
    pub client_attrs: BTreeMap<String, String>,
    /// TLS channel binding of this connection; `None` on plain TCP.
    pub channel_binding: Option<ChannelBinding>,
}

impl ConnectionInfo {
    /// Connection info with just a client id; set other fields as needed.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            protocol: Cow::Borrowed("mqtt"),
            ..Self::default()
        }
    }

    /// Sets the peer address.
    pub fn with_peer(mut self, peer: SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    /// Sets the listener name (a `&'static str` is kept without a copy).
    pub fn with_listener(mut self, listener: impl Into<Cow<'static, str>>) -> Self {
        self.listener = listener.into();
        self
    }

    /// Sets the listener's local port.
    pub fn with_listener_port(mut self, port: u16) -> Self {
        self.listener_port = Some(port);
        self
    }

    /// Sets the protocol name (default `mqtt`; a `&'static str` is kept without a copy).
    pub fn with_protocol(mut self, protocol: impl Into<Cow<'static, str>>) -> Self {
        self.protocol = protocol.into();
        self
    }

    /// Sets the TLS client certificate's common name.
    pub fn with_cert_common_name(mut self, name: impl Into<String>) -> Self {
        self.cert_common_name = Some(name.into());
        self
    }

    /// Sets the TLS client certificate's subject.
    pub fn with_cert_subject(mut self, subject: impl Into<String>) -> Self {
        self.cert_subject = Some(subject.into());
        self
    }

    /// Sets the client attributes known before authentication.
    pub fn with_client_attrs(mut self, attrs: BTreeMap<String, String>) -> Self {
        self.client_attrs = attrs;
        self
    }

    /// Sets the MQTT User Name.
    pub fn with_mqtt_username(mut self, name: impl Into<String>) -> Self {
        self.mqtt_username = Some(name.into());
        self
    }

    /// Sets the channel binding.
    pub fn with_channel_binding(mut self, binding: ChannelBinding) -> Self {
        self.channel_binding = Some(binding);
        self
    }
}
