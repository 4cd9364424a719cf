//! Round trips through `mqtt-protocol-core`'s encoder and decoder: a client connection's
//! bytes decoded by a server connection, and back.

use std::sync::Arc;

use ::mqtt_protocol_core::mqtt;
use ::mqtt_protocol_core::mqtt::common::Cursor;
use ::mqtt_protocol_core::mqtt::connection::Event;
use ::mqtt_protocol_core::mqtt::packet::v5_0::{Auth, Connect};
use ::mqtt_protocol_core::mqtt::packet::{AuthenticationData, AuthenticationMethod, Packet};
use ::mqtt_protocol_core::mqtt::prelude::*;
use ::mqtt_protocol_core::mqtt::result_code::AuthReasonCode;
use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::{MemoryProvider, UserRecord};
use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism, ServerConfig, StoredCredentials};

use super::*;
use crate::admission::Refusal;
use crate::{Authenticator, Failure, Status, WithoutMethod};

/// Encodes `events`' packets to bytes.
fn bytes_of(events: Vec<Event>) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        if let Event::RequestSendPacket { packet, .. } = event {
            out.extend(packet.to_continuous_buffer());
        }
    }
    out
}

/// Decodes `bytes` with `conn`: the packets it reports.
fn decode<R: mqtt::role::RoleType>(conn: &mut mqtt::Connection<R>, bytes: &[u8]) -> Vec<Packet> {
    let mut cursor = Cursor::new(bytes);
    let mut packets = Vec::new();
    while (cursor.position() as usize) < bytes.len() {
        for event in conn.recv(&mut cursor) {
            match event {
                Event::NotifyPacketReceived(packet) => packets.push(packet),
                Event::NotifyError(e) => panic!("codec error: {e:?}"),
                _ => {}
            }
        }
    }
    packets
}

struct Pair {
    client: mqtt::Connection<mqtt::role::Client>,
    server: mqtt::Connection<mqtt::role::Server>,
}

impl Pair {
    fn new() -> Self {
        Self {
            client: mqtt::Connection::new(mqtt::Version::V5_0),
            server: mqtt::Connection::new(mqtt::Version::Undetermined),
        }
    }

    fn client_sends(&mut self, packet: impl Into<Packet>) -> Packet {
        let bytes = bytes_of(self.client.send(packet.into()));
        let mut got = decode(&mut self.server, &bytes);
        assert_eq!(got.len(), 1);
        got.remove(0)
    }

    fn server_sends(&mut self, step: &Step) -> Packet {
        let bytes = bytes_of(self.server.send(packet(step).expect("encodable step")));
        let mut got = decode(&mut self.client, &bytes);
        assert_eq!(got.len(), 1);
        got.remove(0)
    }
}

fn connect(method: Option<Mechanism>, data: Option<&[u8]>) -> Connect {
    let mut props = Vec::new();
    if let Some(m) = method {
        props.push(Property::AuthenticationMethod(
            AuthenticationMethod::new(m.name()).unwrap(),
        ));
    }
    if let Some(d) = data {
        props.push(Property::AuthenticationData(
            AuthenticationData::new(d.to_vec()).unwrap(),
        ));
    }
    let builder = Connect::builder()
        .client_id("c1")
        .unwrap()
        .clean_start(true);
    let builder = if props.is_empty() {
        builder
    } else {
        builder.props(props)
    };
    builder.build().unwrap()
}

fn auth(code: AuthReasonCode, mechanism: Mechanism, data: &[u8]) -> Auth {
    Auth::builder()
        .reason_code(code)
        .props(vec![
            Property::AuthenticationMethod(AuthenticationMethod::new(mechanism.name()).unwrap()),
            Property::AuthenticationData(AuthenticationData::new(data.to_vec()).unwrap()),
        ])
        .build()
        .unwrap()
}

fn authenticator(without: WithoutMethod) -> Authenticator {
    let store = MemoryProvider::new();
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let creds = StoredCredentials::derive(hash, "pencil", b"NaCl-NaCl-NaCl!!", 4096).unwrap();
        store.insert("alice", UserRecord::new(creds));
    }
    Authenticator::builder(ServerConfig::new([0x5a; 32]), store)
        .without_method(without)
        .build()
        .unwrap()
}

fn info() -> Arc<ConnectionInfo> {
    Arc::new(ConnectionInfo::new("c1").with_peer(([192, 0, 2, 7], 51_883).into()))
}

/// (reason code, method, data) of a CONNACK or AUTH the client decoded.
fn fields_of(packet: &Packet) -> (u8, Option<String>, Option<Vec<u8>>) {
    let (code, props) = match packet {
        Packet::V5_0Connack(p) => (p.reason_code() as u8, Some(&p.props)),
        Packet::V5_0Auth(p) => (p.reason_code().map_or(0, |c| c as u8), p.props.as_ref()),
        Packet::V5_0Disconnect(p) => (p.reason_code().map_or(0, |c| c as u8), None),
        other => panic!("unexpected {other:?}"),
    };
    let (m, d) = props.map(|p| auth_props(p)).unwrap_or_default();
    (code, m.map(str::to_owned), d.map(<[u8]>::to_vec))
}

async fn login_and_reauth(mechanism: Mechanism, password: &str) -> Option<Pair> {
    let authenticator = authenticator(WithoutMethod::default());
    let mut pair = Pair::new();
    let mut rng = rand::rng();
    let (c, first) =
        client::start(&ClientConfig::new(), mechanism, "alice", password, &mut rng).unwrap();
    let Packet::V5_0Connect(decoded) = pair.client_sends(connect(Some(mechanism), Some(&first)))
    else {
        panic!("not a CONNECT");
    };
    let fields = ConnectFields::of(&decoded);
    assert_eq!(
        (fields.client_id, fields.method, fields.data),
        ("c1", Some(mechanism.name()), Some(&first[..]))
    );
    let mut auth_state = authenticator.connection(info());
    let step = on_connect(&mut auth_state, &decoded).await;
    let (code, method, data) = fields_of(&pair.server_sends(&step));
    assert_eq!((code, method.as_deref()), (0x18, Some(mechanism.name())));
    let (c, last) = c.on_server_first(&data.unwrap()).unwrap();
    let Packet::V5_0Auth(decoded) = pair.client_sends(auth(
        AuthReasonCode::ContinueAuthentication,
        mechanism,
        &last,
    )) else {
        panic!("not an AUTH");
    };
    assert_eq!(AuthFields::of(&decoded).reason_code, 0x18);
    let step = on_auth(&mut auth_state, &decoded).await;
    let reply = pair.server_sends(&step);
    let (code, method, data) = fields_of(&reply);
    if password != "pencil" {
        assert!(matches!(reply, Packet::V5_0Connack(_)));
        assert_eq!(code, 0x87);
        assert!(step.closes());
        return None;
    }
    assert!(matches!(reply, Packet::V5_0Connack(_)));
    assert_eq!((code, method.as_deref()), (0x00, Some(mechanism.name())));
    let authenticated = c.on_server_final(&data.unwrap()).unwrap();

    // Re-authentication: AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00.
    let (c, first) = authenticated.reauthenticate(&mut rng);
    let Packet::V5_0Auth(decoded) =
        pair.client_sends(auth(AuthReasonCode::ReAuthenticate, mechanism, &first))
    else {
        panic!("not an AUTH");
    };
    let step = on_auth(&mut auth_state, &decoded).await;
    let (code, _, data) = fields_of(&pair.server_sends(&step));
    assert_eq!(code, 0x18);
    let (c, last) = c.on_server_first(&data.unwrap()).unwrap();
    let Packet::V5_0Auth(decoded) = pair.client_sends(auth(
        AuthReasonCode::ContinueAuthentication,
        mechanism,
        &last,
    )) else {
        panic!("not an AUTH");
    };
    let step = on_auth(&mut auth_state, &decoded).await;
    assert!(matches!(step.status, Status::Reauthenticated(_)));
    let reply = pair.server_sends(&step);
    assert!(matches!(reply, Packet::V5_0Auth(_)));
    let (code, _, data) = fields_of(&reply);
    assert_eq!(code, 0x00);
    c.on_server_final(&data.unwrap()).unwrap();
    Some(pair)
}

#[tokio::test]
async fn sha256_login_and_reauthentication_round_trip() {
    assert!(
        login_and_reauth(Mechanism::ScramSha256, "pencil")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn sha512_login_and_reauthentication_round_trip() {
    assert!(
        login_and_reauth(Mechanism::ScramSha512, "pencil")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn wrong_password_is_connack_0x87() {
    assert!(
        login_and_reauth(Mechanism::ScramSha256, "wrong")
            .await
            .is_none()
    );
}

#[tokio::test]
async fn connect_without_method_goes_to_without_method() {
    for (without, code) in [
        (WithoutMethod::NotAuthorized, 0x87),
        (WithoutMethod::BadAuthenticationMethod, 0x8C),
    ] {
        let mut pair = Pair::new();
        let Packet::V5_0Connect(decoded) = pair.client_sends(connect(None, None)) else {
            panic!("not a CONNECT");
        };
        let mut state = authenticator(without).connection(info());
        let step = on_connect(&mut state, &decoded).await;
        assert!(matches!(step.status, Status::Failed(Failure::NoMethod)));
        assert_eq!(fields_of(&pair.server_sends(&step)), (code, None, None));
    }
    let connect = Connect::builder()
        .client_id("c1")
        .unwrap()
        .user_name("bob")
        .unwrap()
        .password(b"secret".to_vec())
        .unwrap()
        .build()
        .unwrap();
    let fields = ConnectFields::of(&connect);
    assert_eq!(
        (fields.user_name, fields.password),
        (Some("bob"), Some(&b"secret"[..]))
    );
    assert!(!format!("{fields:?}").contains("secret"));
    let mut state = authenticator(WithoutMethod::PasswordPath).connection(info());
    assert_eq!(
        on_connect(&mut state, &connect).await.status,
        Status::PasswordPath
    );
}

#[test]
fn refusals_and_disconnects_encode() {
    // DISCONNECT 0x82 (AUTH out of sequence), 0x87, 0x89, 0xA0: the codec has each.
    for code in [0x82, 0x87, 0x89, 0xA0] {
        let step = Step::failed(PacketType::Disconnect, code, Failure::CredentialsExpired);
        let packet = packet(&step).unwrap();
        assert!(
            matches!(&packet, Packet::V5_0Disconnect(d) if d.reason_code().map(|c| c as u8) == Some(code))
        );
    }
    let step = Step::refused(PacketType::Connack, Refusal::PerAddress);
    assert!(
        matches!(packet(&step).unwrap(), Packet::V5_0Connack(c) if c.reason_code() as u8 == 0x89)
    );
}

#[test]
fn steps_the_codec_cannot_express_are_errors_naming_the_part() {
    let step = Step::failed(PacketType::Auth, 0x87, Failure::OutOfSequence);
    let e = packet(&step).unwrap_err();
    assert_eq!(e.what(), "the AUTH reason code 0x87");
    let step = Step::failed(PacketType::Connack, 0x19, Failure::OutOfSequence);
    assert_eq!(
        packet(&step).unwrap_err().what(),
        "the CONNACK reason code 0x19"
    );
    let step = Step::failed(PacketType::Disconnect, 0x01, Failure::OutOfSequence);
    assert!(packet(&step).is_err());
}

#[test]
fn auth_without_reason_code_reads_as_success() {
    let bare = Auth::builder().build().unwrap();
    let fields = AuthFields::of(&bare);
    assert_eq!(
        (fields.reason_code, fields.method, fields.data),
        (0, None, None)
    );
}
