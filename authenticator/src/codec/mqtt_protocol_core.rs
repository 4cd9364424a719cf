//! Adapter for [`mqtt-protocol-core`](https://docs.rs/mqtt-protocol-core) (feature
//! `codec-mqtt-protocol-core`): its v5.0 CONNECT and AUTH packets in, a [`Step`] out as its
//! CONNACK, AUTH or DISCONNECT.
//!
//! ```
//! use mqtt_protocol_core::mqtt::packet::v5_0::Connect;
//! use mqtt_scram_authenticator::codec::mqtt_protocol_core::ConnectFields;
//!
//! let connect = Connect::builder().client_id("c1")?.clean_start(true).build()?;
//! let fields = ConnectFields::of(&connect);
//! assert_eq!((fields.client_id, fields.method), ("c1", None)); // → on_connect_without_method
//! # Ok::<(), mqtt_protocol_core::mqtt::result_code::MqttError>(())
//! ```

use ::mqtt_protocol_core::mqtt::packet::v5_0::{Auth, Connack, Connect, Disconnect};
use ::mqtt_protocol_core::mqtt::packet::{
    AuthenticationData, AuthenticationMethod, Packet, Properties, Property,
};
use ::mqtt_protocol_core::mqtt::result_code::{
    AuthReasonCode, ConnectReasonCode, DisconnectReasonCode, MqttError,
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

/// The Authentication Method and Data of a property list (the first of each).
fn auth_props(props: &[Property]) -> (Option<&str>, Option<&[u8]>) {
    let mut method = None;
    let mut data = None;
    for p in props {
        match p {
            Property::AuthenticationMethod(m) if method.is_none() => method = Some(m.val()),
            Property::AuthenticationData(d) if data.is_none() => data = Some(d.val()),
            _ => {}
        }
    }
    (method, data)
}

impl<'a> ConnectFields<'a> {
    /// The fields of a decoded CONNECT.
    pub fn of(connect: &'a Connect) -> Self {
        let (method, data) = auth_props(&connect.props);
        Self {
            client_id: connect.client_id(),
            method,
            data,
            user_name: connect.user_name(),
            password: connect.password(),
        }
    }
}

impl<'a> AuthFields<'a> {
    /// The fields of a decoded AUTH (a packet without a reason code means 0x00, MQTT 5.0
    /// §3.15.2.1).
    pub fn of(auth: &'a Auth) -> Self {
        let (method, data) = auth.props.as_deref().map(auth_props).unwrap_or_default();
        Self {
            reason_code: auth.reason_code().map_or(0x00, |c| c as u8),
            method,
            data,
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
    let fields = AuthFields::of(packet);
    auth.on_auth(fields.reason_code, fields.method, fields.data)
        .await
}

fn bad(what: &'static str) -> impl Fn(MqttError) -> CodecError {
    move |e| CodecError::new(what, format!("{e:?}"))
}

fn properties(step: &Step) -> Result<Properties, CodecError> {
    let mut props = Properties::new();
    if let Some(method) = step.method {
        let method = AuthenticationMethod::new(method.name())
            .map_err(bad("the Authentication Method property"))?;
        props.push(Property::AuthenticationMethod(method));
    }
    if let Some(data) = &step.data {
        let data = AuthenticationData::new(data.clone())
            .map_err(bad("the Authentication Data property"))?;
        props.push(Property::AuthenticationData(data));
    }
    Ok(props)
}

/// The packet that sends `step`: CONNACK (Session Present 0) or AUTH with the reason code
/// and the Authentication Method and Data properties, or DISCONNECT with the reason code
/// (DISCONNECT carries no authentication properties, MQTT 5.0 §3.14.2.2).
///
/// Errors name what the codec refused (e.g. a reason code it has no variant for).
pub fn packet(step: &Step) -> Result<Packet, CodecError> {
    let code = step.reason_code;
    match step.packet {
        PacketType::Connack => {
            let reason = ConnectReasonCode::try_from(code)
                .map_err(|_| CodecError::reason_code("CONNACK", code))?;
            let connack = Connack::builder()
                .session_present(false)
                .reason_code(reason)
                .props(properties(step)?)
                .build()
                .map_err(bad("the CONNACK packet"))?;
            Ok(connack.into())
        }
        PacketType::Auth => {
            let reason = AuthReasonCode::try_from(code)
                .map_err(|_| CodecError::reason_code("AUTH", code))?;
            let auth = Auth::builder()
                .reason_code(reason)
                .props(properties(step)?)
                .build()
                .map_err(bad("the AUTH packet"))?;
            Ok(auth.into())
        }
        PacketType::Disconnect => {
            let reason = DisconnectReasonCode::try_from(code)
                .map_err(|_| CodecError::reason_code("DISCONNECT", code))?;
            let disconnect = Disconnect::builder()
                .reason_code(reason)
                .build()
                .map_err(bad("the DISCONNECT packet"))?;
            Ok(disconnect.into())
        }
    }
}

#[cfg(test)]
#[path = "mqtt_protocol_core_tests.rs"]
mod tests;
