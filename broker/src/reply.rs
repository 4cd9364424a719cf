//! What the front sends: CONNACK (with the server's capabilities on success), AUTH and
//! DISCONNECT, from the authenticator's [`Step`] or directly; reason-code mapping for the codec.

use bytes::Bytes;
use mqtt_scram::{ConnectionInfo, Mechanism, PacketType};
use mqtt_scram_authenticator::Step;
use rumqttc::v5::mqttbytes::v5::{ConnAck, ConnAckProperties, ConnectReturnCode, Packet};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::debug;

use super::listener::Shared;
use super::wire::Wire;

/// What this server supports, announced in a successful CONNACK (MQTT 5.0 §3.2.2.3).
pub fn server_properties(shared: &Shared, info: &ConnectionInfo) -> ConnAckProperties {
    ConnAckProperties {
        session_expiry_interval: Some(0),
        receive_max: None,
        max_qos: Some(1),
        retain_available: Some(0),
        max_packet_size: Some(shared.limits.max_packet_size),
        assigned_client_identifier: info
            .client_id
            .is_empty()
            .then(|| format!("auto-{}", super::now().as_nanos())),
        topic_alias_max: None,
        reason_string: None,
        user_properties: Vec::new(),
        wildcard_subscription_available: Some(1),
        subscription_identifiers_available: Some(0),
        shared_subscription_available: Some(0),
        server_keep_alive: None,
        response_information: None,
        server_reference: None,
        authentication_method: None,
        authentication_data: None,
    }
}

/// Sends what the authenticator asked for (success properties go on a CONNACK 0x00);
/// `false` if the socket failed.
pub async fn send_step<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<S>,
    step: &Step,
    success: Option<ConnAckProperties>,
) -> bool {
    let result = match step.packet {
        PacketType::Connack => {
            let data = step.data.clone().map(Bytes::from);
            let mut props = success.unwrap_or_else(empty_connack_properties);
            props.authentication_method = step.method.map(|m| m.name().to_string());
            props.authentication_data = data;
            let connack = ConnAck {
                session_present: false,
                code: connack_code_u8(step.reason_code),
                properties: Some(props),
            };
            wire.send(&Packet::ConnAck(connack)).await
        }
        PacketType::Auth => {
            let method = step.method.map(Mechanism::name);
            wire.send_auth_parts(step.reason_code, method, step.data.as_deref())
                .await
        }
        PacketType::Disconnect => wire.send_disconnect(step.reason_code).await,
    };
    if let Err(e) = &result {
        debug!(error = %e, "could not send reply");
    }
    result.is_ok()
}

/// Sends a CONNACK with `code`, optional authentication properties and, on success,
/// the server's capabilities.
pub async fn send_connack<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<S>,
    code: ConnectReturnCode,
    method: Option<Mechanism>,
    data: Option<Vec<u8>>,
    success: Option<ConnAckProperties>,
) -> bool {
    let mut props = success.unwrap_or_else(empty_connack_properties);
    props.authentication_method = method.map(|m| m.name().to_string());
    props.authentication_data = data.map(Bytes::from);
    let connack = ConnAck {
        session_present: false,
        code,
        properties: Some(props),
    };
    wire.send(&Packet::ConnAck(connack)).await.is_ok()
}

fn empty_connack_properties() -> ConnAckProperties {
    ConnAckProperties {
        session_expiry_interval: None,
        receive_max: None,
        max_qos: None,
        retain_available: None,
        max_packet_size: None,
        assigned_client_identifier: None,
        topic_alias_max: None,
        reason_string: None,
        user_properties: Vec::new(),
        wildcard_subscription_available: None,
        subscription_identifiers_available: None,
        shared_subscription_available: None,
        server_keep_alive: None,
        response_information: None,
        server_reference: None,
        authentication_method: None,
        authentication_data: None,
    }
}

/// CONNACK reason codes this front sends (the codec's writer supports exactly these).
pub fn connack_code_u8(code: u8) -> ConnectReturnCode {
    match code {
        0x00 => ConnectReturnCode::Success,
        0x81 => ConnectReturnCode::MalformedPacket,
        0x82 => ConnectReturnCode::ProtocolError,
        0x84 => ConnectReturnCode::UnsupportedProtocolVersion,
        0x86 => ConnectReturnCode::BadUserNamePassword,
        0x87 => ConnectReturnCode::NotAuthorized,
        0x89 => ConnectReturnCode::ServerBusy,
        0x8C => ConnectReturnCode::BadAuthenticationMethod,
        0x95 => ConnectReturnCode::PacketTooLarge,
        _ => ConnectReturnCode::UnspecifiedError,
    }
}

/// A packet's name, for logs.
pub fn packet_name(packet: &Packet) -> &'static str {
    match packet {
        Packet::Auth(_) => "AUTH",
        Packet::Connect(..) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PingReq(_) => "PINGREQ",
        Packet::PingResp(_) => "PINGRESP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::Disconnect(_) => "DISCONNECT",
    }
}
