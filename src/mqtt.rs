//! The MQTT 5 side of the exchange (MQTT 5.0 §4.12): reason codes and the packets
//! the engine asks the broker (or client) to send.

use alloc::vec::Vec;
use core::fmt;

use crate::mechanism::Mechanism;

/// The MQTT 5 reason codes that enhanced authentication uses (MQTT 5.0 §2.4).
///
/// ```
/// use mqtt_scram::ReasonCode;
/// assert_eq!(ReasonCode::from_u8(0x87), Some(ReasonCode::NotAuthorized));
/// assert_eq!(ReasonCode::ContinueAuthentication.to_u8(), 0x18);
/// assert_eq!(ReasonCode::NotAuthorized.to_string(), "0x87 Not authorized");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReasonCode {
    /// 0x00 Success (CONNACK, AUTH).
    Success,
    /// 0x18 Continue authentication (AUTH).
    ContinueAuthentication,
    /// 0x19 Re-authenticate (AUTH, sent by the client).
    ReAuthenticate,
    /// 0x80 Unspecified error.
    UnspecifiedError,
    /// 0x81 Malformed Packet.
    MalformedPacket,
    /// 0x82 Protocol Error: a reason code or packet that does not fit the exchange's state.
    ProtocolError,
    /// 0x86 Bad User Name or Password.
    BadUserNameOrPassword,
    /// 0x87 Not authorized: every SCRAM-level failure.
    NotAuthorized,
    /// 0x89 Server busy.
    ServerBusy,
    /// 0x8C Bad authentication method: unsupported, or changed mid-exchange.
    BadAuthenticationMethod,
}

impl ReasonCode {
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Success => 0x00,
            Self::ContinueAuthentication => 0x18,
            Self::ReAuthenticate => 0x19,
            Self::UnspecifiedError => 0x80,
            Self::MalformedPacket => 0x81,
            Self::ProtocolError => 0x82,
            Self::BadUserNameOrPassword => 0x86,
            Self::NotAuthorized => 0x87,
            Self::ServerBusy => 0x89,
            Self::BadAuthenticationMethod => 0x8C,
        }
    }

    /// Parses a wire value; `None` for codes this crate does not use.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x00 => Self::Success,
            0x18 => Self::ContinueAuthentication,
            0x19 => Self::ReAuthenticate,
            0x80 => Self::UnspecifiedError,
            0x81 => Self::MalformedPacket,
            0x82 => Self::ProtocolError,
            0x86 => Self::BadUserNameOrPassword,
            0x87 => Self::NotAuthorized,
            0x89 => Self::ServerBusy,
            0x8C => Self::BadAuthenticationMethod,
            _ => return None,
        })
    }

    /// The name the MQTT 5 specification gives the code.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::ContinueAuthentication => "Continue authentication",
            Self::ReAuthenticate => "Re-authenticate",
            Self::UnspecifiedError => "Unspecified error",
            Self::MalformedPacket => "Malformed Packet",
            Self::ProtocolError => "Protocol Error",
            Self::BadUserNameOrPassword => "Bad User Name or Password",
            Self::NotAuthorized => "Not authorized",
            Self::ServerBusy => "Server busy",
            Self::BadAuthenticationMethod => "Bad authentication method",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X} {}", self.to_u8(), self.name())
    }
}

/// Which MQTT control packet the broker (or client) should send.
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::{ConnectionInfo, PacketType, ScramServer, ServerConfig, StartPacket, Timestamp};
/// let server = ScramServer::new(ServerConfig::new([1; 32]))?;
/// let start = StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(b"n,,n=alice,r=abcdef") };
/// let pending = server.start(&Arc::new(ConnectionInfo::new("c")), start, Timestamp::new(Default::default(), 0)).expect("valid");
/// let (_, reply) = pending.continue_with(mqtt_scram::provider::Lookup::NotFound, &mut rand::rng());
/// assert_eq!(reply.packet, PacketType::Auth);
/// # Ok::<(), mqtt_scram::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// CONNACK: ends an exchange that started with CONNECT.
    Connack,
    /// AUTH: continues an exchange, or ends a re-authentication successfully.
    Auth,
    /// DISCONNECT: ends a connection whose re-authentication failed (MQTT 5.0 §4.12.1).
    Disconnect,
}

/// A packet the engine asks the caller to send: type, reason code, and the
/// Authentication Method and Authentication Data properties.
///
/// `method` is `None` only for DISCONNECT, which has no authentication properties.
/// Every AUTH and CONNACK of one exchange carries the method of the CONNECT
/// [MQTT-4.12.0-5]. `Debug` shows the data's length, not its bytes.
///
/// ```
/// use mqtt_scram::{Mechanism, PacketType, ReasonCode, ScramServer, ServerConfig, StartPacket, Timestamp};
/// use std::sync::Arc;
/// let server = ScramServer::new(ServerConfig::new([1; 32]))?;
/// let conn = Arc::new(mqtt_scram::ConnectionInfo::new("c"));
/// let start = StartPacket::Connect { method: "SCRAM-SHA-1", data: None };
/// let rejection = server.start(&conn, start, Timestamp::new(Default::default(), 0)).unwrap_err();
/// let reply = rejection.reply;
/// assert_eq!((reply.packet, reply.reason_code), (PacketType::Connack, ReasonCode::BadAuthenticationMethod));
/// assert_eq!(reply.method, None);
/// # Ok::<(), mqtt_scram::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// Packet to send.
    pub packet: PacketType,
    /// Its reason code.
    pub reason_code: ReasonCode,
    /// Authentication Method property, when the packet carries one.
    pub method: Option<Mechanism>,
    /// Authentication Data property (a SCRAM message), when there is one.
    pub data: Option<Vec<u8>>,
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SCRAM messages carry no secrets in the clear, but signatures are not worth logging.
        f.debug_struct("Reply")
            .field("packet", &self.packet)
            .field("reason_code", &self.reason_code)
            .field("method", &self.method)
            .field("data_len", &self.data.as_ref().map(Vec::len))
            .finish()
    }
}
