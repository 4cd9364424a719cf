//! Adapters for MQTT 5 codecs: a codec's CONNECT and AUTH packets in, a [`Step`](crate::Step)
//! out as the codec's CONNACK, AUTH or DISCONNECT. Each adapter is behind a feature named
//! after its codec:
//!
//! - `codec-mqtt-protocol-core`: `mqtt_protocol_core`, for
//!   [`mqtt-protocol-core`](https://docs.rs/mqtt-protocol-core) 0.7 (sans-IO, server and
//!   client roles, AUTH and every enhanced-authentication property).
//! - `codec-ntex-mqtt`: `ntex_mqtt`, for [`ntex-mqtt`](https://docs.rs/ntex-mqtt) 6.4's
//!   `v5::codec` (the codec of the ntex MQTT server; only its packet types are used here).
//!
//! The examples `mqtt_protocol_core_front` (`cargo run -p mqtt-scram-authenticator --example
//! mqtt_protocol_core_front --features codec-mqtt-protocol-core`) and `ntex_mqtt_front`
//! (`--example ntex_mqtt_front --features codec-ntex-mqtt`) are the guide's loop on each
//! adapter; the package README holds the survey of the Rust MQTT 5 codecs and when to pick
//! which.

use std::fmt;

#[cfg(feature = "codec-mqtt-protocol-core")]
#[cfg_attr(docsrs, doc(cfg(feature = "codec-mqtt-protocol-core")))]
pub mod mqtt_protocol_core;

#[cfg(feature = "codec-ntex-mqtt")]
#[cfg_attr(docsrs, doc(cfg(feature = "codec-ntex-mqtt")))]
pub mod ntex_mqtt;

/// What the authenticator needs from an AUTH packet (the inputs of
/// [`ConnectionAuth::on_auth`](crate::ConnectionAuth::on_auth)), borrowed from the codec's
/// packet. Built by an adapter: `AuthFields::of` (mqtt-protocol-core) or `AuthFields::from`
/// (ntex-mqtt).
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthFields<'a> {
    /// Reason code (0x00 when the packet has none).
    pub reason_code: u8,
    /// Authentication Method property.
    pub method: Option<&'a str>,
    /// Authentication Data property (a SCRAM message).
    pub data: Option<&'a [u8]>,
}

impl fmt::Debug for AuthFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFields")
            .field("reason_code", &format_args!("0x{:02X}", self.reason_code))
            .field("method", &self.method)
            .field("data_len", &self.data.map(<[u8]>::len))
            .finish()
    }
}

/// A [`Step`](crate::Step) the codec cannot express: names the part it refused.
///
/// ```
/// use mqtt_scram_authenticator::codec::CodecError;
/// let e = CodecError::reason_code("AUTH", 0x87);
/// assert_eq!(e.to_string(), "cannot encode the AUTH reason code 0x87: the codec has no such AUTH reason code");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecError {
    what: String,
    why: String,
}

impl CodecError {
    /// `what` could not be encoded, because `why`.
    pub fn new(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            why: why.into(),
        }
    }

    /// A reason code the codec has no variant for in `packet`.
    pub fn reason_code(packet: &str, code: u8) -> Self {
        Self::new(
            format!("the {packet} reason code 0x{code:02X}"),
            format!("the codec has no such {packet} reason code"),
        )
    }

    /// The part that could not be encoded.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode {}: {}", self.what, self.why)
    }
}

impl std::error::Error for CodecError {}
