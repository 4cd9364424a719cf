//! Round trips through ntex-mqtt's v5 encoder and decoder: a client codec's bytes decoded by
//! a server codec, and back; hostile bytes end in the codec's errors, never a panic.

use std::sync::Arc;

use ::ntex_mqtt::v5::codec::{Codec, Decoded, Encoded};
use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::{MemoryProvider, UserRecord};
use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism, ServerConfig, StoredCredentials};
use ntex_bytes::BytesMut;
use ntex_codec::{Decoder, Encoder};

use super::*;
use crate::admission::Refusal;
use crate::{Authenticator, Failure, Status, WithoutMethod};

/// Encodes `packet` with `codec`.
fn encode(codec: &Codec, packet: Packet) -> BytesMut {
    let mut out = BytesMut::new();
    codec
        .encode(Encoded::Packet(packet), &mut out)
        .expect("encodable packet");
    out
}

/// Decodes the one packet in `bytes` with `codec`.
fn decode(codec: &Codec, mut bytes: BytesMut) -> Packet {
    match codec.decode(&mut bytes) {
        Ok(Some(Decoded::Packet(packet, _))) if bytes.is_empty() => packet,
        other => panic!("not one packet: {other:?}"),
    }
}

#[derive(Default)]
struct Pair {
    client: Codec,
    server: Codec,
}

impl Pair {
    fn client_sends(&self, packet: Packet) -> Packet {
        decode(&self.server, encode(&self.client, packet))
    }

    fn server_sends(&self, step: &Step) -> Packet {
        decode(
            &self.client,
            encode(&self.server, packet(step).expect("encodable step")),
        )
    }
}

fn connect(method: Option<Mechanism>, data: Option<&[u8]>) -> Packet {
    Packet::Connect(Box::new(Connect {
        client_id: "c1".into(),
        clean_start: true,
        auth_method: method.map(|m| m.name().into()),
        auth_data: data.map(|d| d.to_vec().into()),
        ..Connect::default()
    }))
}

fn auth(code: AuthReasonCode, mechanism: Mechanism, data: &[u8]) -> Packet {
    Packet::Auth(Auth {
        reason_code: code,
        auth_method: Some(mechanism.name().into()),
        auth_data: Some(data.to_vec().into()),
        ..Auth::default()
    })
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

/// (reason code, method, data) of a CONNACK, AUTH or DISCONNECT the client decoded.
fn fields_of(packet: &Packet) -> (u8, Option<String>, Option<Vec<u8>>) {
    let (code, method, data) = match packet {
        Packet::ConnectAck(p) => (u8::from(p.reason_code), &p.auth_method, &p.auth_data),
        Packet::Auth(p) => (u8::from(p.reason_code), &p.auth_method, &p.auth_data),
        Packet::Disconnect(p) => (u8::from(p.reason_code), &None, &None),
        other => panic!("unexpected {other:?}"),
    };
    (
        code,
        method.as_ref().map(|m| m.to_string()),
        data.as_ref().map(|d| d.to_vec()),
    )
}

async fn login_and_reauth(mechanism: Mechanism, password: &str) -> bool {
    let authenticator = authenticator(WithoutMethod::default());
    let pair = Pair::default();
    let mut rng = rand::rng();
    let (c, first) =
        client::start(&ClientConfig::new(), mechanism, "alice", password, &mut rng).unwrap();
    let Packet::Connect(decoded) = pair.client_sends(connect(Some(mechanism), Some(&first))) else {
        panic!("not a CONNECT");
    };
    let fields = ConnectFields::of(&decoded);
    assert_eq!(
        (fields.client_id, fields.method, fields.data),
        ("c1", Some(mechanism.name()), Some(&first[..]))
    );
    let mut auth_state = authenticator.connection(info());
    let step = on_connect(&mut auth_state, &decoded).await;
    let reply = pair.server_sends(&step);
    assert!(matches!(reply, Packet::Auth(_)));
    let (code, method, data) = fields_of(&reply);
    assert_eq!((code, method.as_deref()), (0x18, Some(mechanism.name())));
    let (c, last) = c.on_server_first(&data.unwrap()).unwrap();
    let Packet::Auth(decoded) =
        pair.client_sends(auth(AuthReasonCode::ContinueAuth, mechanism, &last))
    else {
        panic!("not an AUTH");
    };
    assert_eq!(AuthFields::from(&decoded).reason_code, 0x18);
    let step = on_auth(&mut auth_state, &decoded).await;
    let reply = pair.server_sends(&step);
    assert!(matches!(reply, Packet::ConnectAck(_)));
    let (code, method, data) = fields_of(&reply);
    if password != "pencil" {
        assert_eq!(code, 0x87);
        // The SCRAM server-error travels as Authentication Data (RFC 5802 §7).
        assert_eq!(data.as_deref(), Some(&b"e=invalid-proof"[..]));
        assert!(step.closes());
        return false;
    }
    assert_eq!((code, method.as_deref()), (0x00, Some(mechanism.name())));
    let authenticated = c.on_server_final(&data.unwrap()).unwrap();

    // Re-authentication: AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00.
    let (c, first) = authenticated.reauthenticate(&mut rng);
    let Packet::Auth(decoded) = pair.client_sends(auth(AuthReasonCode::ReAuth, mechanism, &first))
    else {
        panic!("not an AUTH");
    };
    assert_eq!(AuthFields::from(&decoded).reason_code, 0x19);
    let step = on_auth(&mut auth_state, &decoded).await;
    let (code, _, data) = fields_of(&pair.server_sends(&step));
    assert_eq!(code, 0x18);
    let (c, last) = c.on_server_first(&data.unwrap()).unwrap();
    let Packet::Auth(decoded) =
        pair.client_sends(auth(AuthReasonCode::ContinueAuth, mechanism, &last))
    else {
        panic!("not an AUTH");
    };
    let step = on_auth(&mut auth_state, &decoded).await;
    assert!(matches!(step.status, Status::Reauthenticated(_)));
    let reply = pair.server_sends(&step);
    assert!(matches!(reply, Packet::Auth(_)));
    let (code, _, data) = fields_of(&reply);
    assert_eq!(code, 0x00);
    c.on_server_final(&data.unwrap()).unwrap();
    true
}

#[tokio::test]
async fn sha256_login_and_reauthentication_round_trip() {
    assert!(login_and_reauth(Mechanism::ScramSha256, "pencil").await);
}

#[tokio::test]
async fn sha512_login_and_reauthentication_round_trip() {
    assert!(login_and_reauth(Mechanism::ScramSha512, "pencil").await);
}

#[tokio::test]
async fn wrong_password_is_connack_0x87() {
    assert!(!login_and_reauth(Mechanism::ScramSha256, "wrong").await);
}

#[tokio::test]
async fn connect_without_method_goes_to_without_method() {
    for (without, code) in [
        (WithoutMethod::NotAuthorized, 0x87),
        (WithoutMethod::BadAuthenticationMethod, 0x8C),
    ] {
        let pair = Pair::default();
        let Packet::Connect(decoded) = pair.client_sends(connect(None, None)) else {
            panic!("not a CONNECT");
        };
        let mut state = authenticator(without).connection(info());
        let step = on_connect(&mut state, &decoded).await;
        assert!(matches!(step.status, Status::Failed(Failure::NoMethod)));
        assert_eq!(fields_of(&pair.server_sends(&step)), (code, None, None));
    }
    let pair = Pair::default();
    let Packet::Connect(decoded) = pair.client_sends(Packet::Connect(Box::new(Connect {
        client_id: "c1".into(),
        username: Some("bob".into()),
        password: Some(b"secret".to_vec().into()),
        ..Connect::default()
    }))) else {
        panic!("not a CONNECT");
    };
    let fields = ConnectFields::of(&decoded);
    assert_eq!(
        (fields.user_name, fields.password),
        (Some("bob"), Some(&b"secret"[..]))
    );
    assert!(!format!("{fields:?}").contains("secret"));
    let mut state = authenticator(WithoutMethod::PasswordPath).connection(info());
    assert_eq!(
        on_connect(&mut state, &decoded).await.status,
        Status::PasswordPath
    );
}

#[test]
fn refusals_and_disconnects_encode() {
    // DISCONNECT 0x82 (AUTH out of sequence), 0x87, 0x89, 0xA0: the codec has each.
    let pair = Pair::default();
    for code in [0x82, 0x87, 0x89, 0xA0] {
        let step = Step::failed(PacketType::Disconnect, code, Failure::CredentialsExpired);
        let reply = pair.server_sends(&step);
        assert!(matches!(reply, Packet::Disconnect(_)));
        assert_eq!(fields_of(&reply), (code, None, None));
    }
    let step = Step::refused(PacketType::Connack, Refusal::PerAddress);
    let reply = pair.server_sends(&step);
    assert!(matches!(reply, Packet::ConnectAck(_)));
    assert_eq!(fields_of(&reply), (0x89, None, None));
}

#[test]
fn steps_the_codec_cannot_express_are_errors_naming_the_part() {
    let step = Step::failed(PacketType::Auth, 0x87, Failure::OutOfSequence);
    assert_eq!(
        packet(&step).unwrap_err().what(),
        "the AUTH reason code 0x87"
    );
    let step = Step::failed(PacketType::Connack, 0x19, Failure::OutOfSequence);
    assert_eq!(
        packet(&step).unwrap_err().what(),
        "the CONNACK reason code 0x19"
    );
    let step = Step::failed(PacketType::Disconnect, 0x01, Failure::OutOfSequence);
    assert_eq!(
        packet(&step).unwrap_err().what(),
        "the DISCONNECT reason code 0x01"
    );
}

#[test]
fn auth_without_reason_code_reads_as_success() {
    // AUTH with remaining length 0 (MQTT 5.0 §3.15.2.1): reason code 0x00, no properties.
    let bare = decode(&Codec::new(), BytesMut::from(&[0xF0, 0x00][..]));
    let Packet::Auth(bare) = bare else {
        panic!("not an AUTH");
    };
    let fields = AuthFields::from(&bare);
    assert_eq!(
        (fields.reason_code, fields.method, fields.data),
        (0, None, None)
    );
    assert_eq!(
        format!("{fields:?}"),
        "AuthFields { reason_code: 0x00, method: None, data_len: None }"
    );
}

#[test]
fn hostile_auth_packets_are_codec_errors() {
    let hostile: [&[u8]; 6] = [
        // Reason code 0x87: no such AUTH reason code.
        &[0xF0, 0x01, 0x87],
        // Property length 5 in a 2-byte packet.
        &[0xF0, 0x02, 0x18, 0x05],
        // Authentication Method whose string length runs past the packet.
        &[0xF0, 0x05, 0x18, 0x03, 0x15, 0x00, 0x09],
        // Authentication Method that is not UTF-8.
        &[0xF0, 0x07, 0x18, 0x05, 0x15, 0x00, 0x02, 0xC3, 0x28],
        // An unknown property (0x7F).
        &[0xF0, 0x04, 0x18, 0x02, 0x7F, 0x00],
        // Remaining length with five continuation bytes.
        &[0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
    ];
    for bytes in hostile {
        let mut buf = BytesMut::from(bytes);
        let got = Codec::new().decode(&mut buf);
        assert!(got.is_err(), "{bytes:02X?} decoded as {got:?}");
    }
}

#[test]
fn mutated_connect_and_auth_bytes_never_panic() {
    use rand::rngs::StdRng;
    use rand::{RngExt as _, SeedableRng};

    let valid = [
        encode(
            &Codec::new(),
            connect(Some(Mechanism::ScramSha256), Some(b"n,,n=alice,r=abc")),
        ),
        encode(
            &Codec::new(),
            auth(
                AuthReasonCode::ContinueAuth,
                Mechanism::ScramSha512,
                b"c=biws,r=x,p=y",
            ),
        ),
    ];
    let mut rng = StdRng::seed_from_u64(21);
    let (mut packets, mut errors) = (0, 0);
    for round in 0..20_000 {
        let mut bytes = valid[round % 2].to_vec();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..bytes.len());
            bytes[i] = rng.random();
        }
        bytes.truncate(rng.random_range(1..=bytes.len()));
        let mut buf = BytesMut::from(&bytes[..]);
        match Codec::new().decode(&mut buf) {
            Ok(Some(Decoded::Packet(Packet::Connect(c), _))) => {
                let _ = format!("{:?}", ConnectFields::of(&c));
                packets += 1;
            }
            Ok(Some(Decoded::Packet(Packet::Auth(a), _))) => {
                let _ = format!("{:?}", AuthFields::from(&a));
                packets += 1;
            }
            Ok(_) => {}
            Err(_) => errors += 1,
        }
    }
    // Both paths ran: some mutations still decode, most are refused.
    assert!(
        packets > 0 && errors > 0,
        "{packets} packets, {errors} errors"
    );
}
