//! Adapter for [`ntex-mqtt`](https://docs.rs/ntex-mqtt)'s MQTT 5 codec (feature
//! `codec-ntex-mqtt`): its `v5::codec` CONNECT and AUTH packets in, a [`Step`] out as its
//! CONNACK, AUTH or DISCONNECT.
//!
//! Only the packet types of `ntex_mqtt::v5::codec` are used: the codec
//! (`ntex_mqtt::v5::codec::Codec`, an `ntex_codec` `Decoder`/`Encoder` over
//! `ntex_bytes::BytesMut`) runs on any runtime, and the example `ntex_mqtt_front` drives it
//! from tokio. On ntex-mqtt's own server the same packet types arrive another way:
//! `v5::Handshake::packet()` is the CONNECT, the AUTH steps before CONNACK go over
//! `Handshake::io()` with the v5 `Codec`, the CONNACK fields are set with
//! `HandshakeAck::with`, and re-authentication comes as `v5::Control::Auth`, answered with its
//! `ack(auth)`. This package tests the codec path (the example), not ntex's server.
//!
//! Why this codec for the second adapter (checked December 2026): ntex-mqtt is the most used
//! maintained Rust MQTT 5 codec with AUTH (a long release history, new majors every few
//! months, used by zenoh's MQTT plugin and rmqtt's bridges); its v5 codec decodes and
//! encodes AUTH with the Authentication Method and Data properties, and CONNACK and CONNECT
//! carry both. Version 6.4.1 is the newest release whose `rust-version` fits this workspace
//! (1.85; 6.5 needs 1.86, 7 and 8 need 1.88, 9 needs 1.95 or newer), and its dependencies resolve to
//! releases on 1.85 as well. `rmqtt-codec` (AUTH too, tokio-util based) has far fewer users
//! and its 0.3 needs rust 1.94; `rumqttc`'s v5 and `mqttbytes` carry no usable AUTH.
//!
//! ```
//! use ntex_mqtt::v5::codec::Connect;
//! use mqtt_scram_authenticator::codec::ntex_mqtt::ConnectFields;
//!
//! let connect = Connect { client_id: "c1".into(), clean_start: true, ..Connect::default() };
//! let fields = ConnectFields::of(&connect);
//! assert_eq!((fields.client_id, fields.method), ("c1", None)); // → on_connect_without_method
//! ```

use ::ntex_mqtt::v5::codec::{
    Auth, AuthReasonCode, Connect, ConnectAck, ConnectAckReason, Disconnect, DisconnectReasonCode,
    Packet,
};
use mqtt_scram::PacketType;

use super::{AuthFields, CodecError};
use crate::{ConnectionAuth, Step};

/// What the authenticator needs from a CONNECT: borrowed from the codec's packet.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectFields<'a> {
    /// Client Identifier (for `ConnectionInfo::new`).
    pub client_id: &'a str,
    /// Authentication Method property: `None` means no enhanced authentication
    /// ([`ConnectionAuth::on_connect_without_method`]).
    pub method: Option<&'a str>,
    /// Authentication Data property (the client-first-message).
    pub data: Option<&'a [u8]>,
    /// User Name, for the password path.
    pub user_name: Option<&'a str>,
    /// Password, for the password path (never logged: `Debug` shows only whether it is set).
    pub password: Option<&'a [u8]>,
}

impl std::fmt::Debug for ConnectFields<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectFields")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .field("data_len", &self.data.map(<[u8]>::len))
            .field("user_name", &self.user_name)
            .field("password", &self.password.map(|_| "<redacted>"))
            .finish()
    }
}

impl<'a> ConnectFields<'a> {
    /// The fields of a decoded CONNECT (the codec checked the strings are UTF-8 and the
    /// lengths fit the packet, so nothing here can fail).
    pub fn of(connect: &'a Connect) -> Self {
        Self {
            client_id: &connect.client_id,
            method: connect.auth_method.as_deref(),
            data: connect.auth_data.as_deref(),
            user_name: connect.username.as_deref(),
            password: connect.password.as_deref(),
        }
    }
}

/// The fields of a decoded AUTH (`AuthFields::from(&auth)`; a packet without a reason code
/// decodes as 0x00, MQTT 5.0 §3.15.2.1). A `From` impl rather than an `of` function, so both
/// adapters can be enabled together.
impl<'a> From<&'a Auth> for AuthFields<'a> {
    fn from(auth: &'a Auth) -> Self {
        Self {
            reason_code: u8::from(auth.reason_code),
            method: auth.auth_method.as_deref(),
            data: auth.auth_data.as_deref(),
        }
    }
}

/// Feeds a CONNECT to `auth`: [`ConnectionAuth::on_connect`] when it carries an
/// Authentication Method, [`ConnectionAuth::on_connect_without_method`] otherwise.
pub async fn on_connect(auth: &mut ConnectionAuth, connect: &Connect) -> Step {
    let fields = ConnectFields::of(connect);
    match fields.method {
        Some(method) => auth.on_connect(method, fields.data).await,
        None => auth.on_connect_without_method(),
    }
}

/// Feeds an AUTH to [`ConnectionAuth::on_auth`].
pub async fn on_auth(auth: &mut ConnectionAuth, packet: &Auth) -> Step {
    let fields = AuthFields::from(packet);
    auth.on_auth(fields.reason_code, fields.method, fields.data)
        .await
}

/// The packet that sends `step`: CONNACK (Session Present 0) or AUTH with the reason code
/// and the Authentication Method and Data properties, or DISCONNECT with the reason code
/// (DISCONNECT carries no authentication properties, MQTT 5.0 §3.14.2.2).
///
/// A CONNACK 0x00 carries only those properties: set your broker's others (Receive Maximum,
/// Maximum QoS, Assigned Client Identifier...) on the returned `ConnectAck`, whose fields
/// are public.
///
/// Errors name what the codec refused (a reason code it has no variant for).
pub fn packet(step: &Step) -> Result<Packet, CodecError> {
    let code = step.reason_code;
    let method = step.method.map(|m| m.name().into());
    let data = step.data.clone().map(Into::into);
    match step.packet {
        PacketType::Connack => {
            let reason_code = ConnectAckReason::try_from(code)
                .map_err(|_| CodecError::reason_code("CONNACK", code))?;
            Ok(Packet::ConnectAck(Box::new(ConnectAck {
                session_present: false,
                reason_code,
                auth_method: method,
                auth_data: data,
                ..ConnectAck::default()
            })))
        }
        PacketType::Auth => {
            let reason_code = AuthReasonCode::try_from(code)
                .map_err(|_| CodecError::reason_code("AUTH", code))?;
            Ok(Packet::Auth(Auth {
                reason_code,
                auth_method: method,
                auth_data: data,
                ..Auth::default()
            }))
        }
        PacketType::Disconnect => {
            let reason_code = DisconnectReasonCode::try_from(code)
                .map_err(|_| CodecError::reason_code("DISCONNECT", code))?;
            Ok(Packet::Disconnect(Disconnect {
                reason_code,
                ..Disconnect::default()
            }))
        }
    }
}

#[cfg(test)]
#[path = "ntex_mqtt_tests.rs"]
mod tests;
