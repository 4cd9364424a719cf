//! The guide's packet loop on ntex-mqtt's codec: a small tokio MQTT 5 front over
//! `ntex_mqtt::v5::codec` and the `codec::ntex_mqtt` adapter (the codec only: no ntex
//! runtime runs). It accepts CONNECT, runs the SCRAM exchange (SHA-256, SHA-512), answers
//! PINGREQ, SUBSCRIBE (QoS 0, exact topics) and DISCONNECT, echoes QoS 0 and 1 PUBLISH (at
//! QoS 0) to the same connection's subscriptions (a real broker routes them), and takes
//! re-authentication (AUTH 0x19) at any time.
//!
//! ```sh
//! cargo run -p mqtt-scram-authenticator --features codec-ntex-mqtt \
//!     --example ntex_mqtt_front -- 127.0.0.1:1883
//! ```
//! One demo user, `alice` / `pencil`, and a random mock key (the `mqtt_protocol_core_front`
//! example shows the file store and a fixed mock key).
//!
//! # Cancel safety in the `select!` loops
//!
//! - `Wire::read` is cancel-safe: its only await is `TcpStream::read` (no byte is consumed
//!   unless it completes), and the bytes go into the codec's buffer synchronously.
//! - `ConnectionAuth::timeout()` is cancel-safe (it only sleeps, then checks the deadlines).
//! - `ConnectionAuth::on_auth` / `on_connect` are **not** raced: they run in the handler
//!   (`=> ...`), after `select!` chose the read branch.
//! - `Wire::send` (a `write_all`) is not cancel-safe either: it runs outside `select!`.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mqtt_scram::ConnectionInfo;
use mqtt_scram_authenticator::codec::ntex_mqtt as adapter;
use mqtt_scram_authenticator::{Authenticator, ConnectionAuth, Status, Step};
use ntex_bytes::{Bytes, BytesMut};
use ntex_codec::{Decoder, Encoder};
use ntex_mqtt::QoS;
use ntex_mqtt::v5::codec::{
    Codec, Decoded, Encoded, Packet, Publish, PublishAck, PublishAckReason, Subscribe,
    SubscribeAck, SubscribeAckReason,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest packet this front takes (the codec refuses bigger ones before buffering them).
const MAX_PACKET: u32 = 64 * 1024;

/// What the codec decoded: a packet, or a PUBLISH with its whole payload.
enum Incoming {
    Packet(Packet),
    Publish(Publish, Bytes),
}

/// A TCP stream and ntex-mqtt's v5 codec (framing and packet checks).
struct Wire {
    stream: TcpStream,
    codec: Codec,
    received: BytesMut,
    buf: Vec<u8>,
}

fn codec_error(e: impl std::fmt::Debug) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
}

impl Wire {
    fn new(stream: TcpStream) -> Self {
        let codec = Codec::new();
        codec.set_max_inbound_size(MAX_PACKET);
        // Hand over each PUBLISH with its whole payload (at most MAX_PACKET), not in chunks.
        codec.set_min_chunk_size(MAX_PACKET);
        Self {
            stream,
            codec,
            received: BytesMut::new(),
            buf: vec![0; 8192],
        }
    }

    /// The next packet; `Ok(None)` when the peer closed. Cancel-safe (see the module docs).
    async fn read(&mut self) -> io::Result<Option<Incoming>> {
        loop {
            match self.codec.decode(&mut self.received).map_err(codec_error)? {
                Some(Decoded::Packet(packet, _)) => return Ok(Some(Incoming::Packet(packet))),
                Some(Decoded::Publish(publish, payload, _)) => {
                    return Ok(Some(Incoming::Publish(publish, payload)));
                }
                // Not with `set_min_chunk_size(MAX_PACKET)`: a PUBLISH comes whole.
                Some(Decoded::PayloadChunk(..)) => return Err(codec_error("payload chunk")),
                None => {}
            }
            let n = self.stream.read(&mut self.buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.received
                .extend_from_slice(self.buf.get(..n).unwrap_or_default());
        }
    }

    /// Encodes `item` and writes it.
    async fn send(&mut self, item: Encoded) -> io::Result<()> {
        let mut out = BytesMut::new();
        self.codec.encode(item, &mut out).map_err(codec_error)?;
        self.stream.write_all(&out).await
    }

    /// Sends the authenticator's step as the codec's CONNACK / AUTH / DISCONNECT.
    async fn send_step(&mut self, step: &Step) -> io::Result<()> {
        let packet = adapter::packet(step).map_err(io::Error::other)?;
        self.send(Encoded::Packet(packet)).await
    }
}

/// Accepts connections until the listener fails, each on its own task.
pub async fn serve(listener: TcpListener, authenticator: Arc<Authenticator>) -> io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let authenticator = Arc::clone(&authenticator);
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, &authenticator).await {
                eprintln!("{peer}: connection ended: {e}");
            }
        });
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    authenticator: &Authenticator,
) -> io::Result<()> {
    let mut wire = Wire::new(stream);
    // The first packet must be an MQTT 5 CONNECT; anything else: close.
    let Some(Incoming::Packet(Packet::Connect(connect))) = wire.read().await? else {
        return Ok(());
    };
    // Always pass the peer address: the admission policy caps handshakes per address.
    let info = ConnectionInfo::new(&*connect.client_id).with_peer(peer);
    let mut auth = authenticator.connection(Arc::new(info));
    let step = adapter::on_connect(&mut auth, &connect).await;
    if step.status == Status::PasswordPath {
        // Check `adapter::ConnectFields::of(&connect)`'s user name and password your own
        // way and send your own CONNACK. This front has no passwords: the step refuses.
        wire.send_step(&step).await?;
        return Ok(());
    }
    if !authenticate(&mut wire, &mut auth, step).await? {
        return Ok(());
    }
    session(&mut wire, &mut auth).await
}

/// The exchange after CONNECT: `true` once CONNACK 0x00 is sent.
async fn authenticate(wire: &mut Wire, auth: &mut ConnectionAuth, first: Step) -> io::Result<bool> {
    let mut step = first;
    loop {
        wire.send_step(&step).await?;
        match &step.status {
            Status::Authenticated(identity) => {
                eprintln!("authenticated as {}", identity.username);
                return Ok(true);
            }
            Status::Failed(failure) => {
                // For the operator only; the client saw 0x87 / 0x89 / 0x8C.
                eprintln!("refused: {failure}");
                return Ok(false);
            }
            _ => {} // AUTH 0x18 sent: wait for the client's AUTH or the deadline.
        }
        step = tokio::select! {
            step = auth.timeout() => step,            // no answer in time: CONNACK 0x87
            packet = wire.read() => match packet? {
                Some(Incoming::Packet(Packet::Auth(packet))) => adapter::on_auth(auth, &packet).await,
                _ => return Ok(false),               // anything else: protocol error, close
            },
        };
    }
}

/// After CONNACK 0x00: packets, re-authentication and the credential-expiry timer.
async fn session(wire: &mut Wire, auth: &mut ConnectionAuth) -> io::Result<()> {
    let mut subscriptions = HashSet::new();
    loop {
        let step = tokio::select! {
            step = auth.timeout() => step,            // expire_at passed: DISCONNECT 0xA0
            packet = wire.read() => match packet? {
                Some(Incoming::Packet(Packet::Auth(packet))) => adapter::on_auth(auth, &packet).await,
                Some(Incoming::Packet(Packet::PingRequest)) => {
                    wire.send(Packet::PingResponse.into()).await?;
                    continue;
                }
                Some(Incoming::Packet(Packet::Subscribe(subscribe))) => {
                    subscribed(wire, &mut subscriptions, &subscribe).await?;
                    continue;
                }
                Some(Incoming::Publish(publish, payload)) => {
                    published(wire, &subscriptions, &publish, payload).await?;
                    continue;
                }
                Some(Incoming::Packet(Packet::Disconnect(_))) | None => return Ok(()),
                Some(_) => continue,                 // UNSUBSCRIBE, PUBACK...: not served here
            },
        };
        wire.send_step(&step).await?;
        if let Status::Reauthenticated(identity) = &step.status {
            // AUTH 0x00 sent: the new identity (attributes, ACL, expire_at) applies now.
            eprintln!("re-authenticated as {}", identity.username);
        }
        if step.closes() {
            return Ok(());
        }
    }
}

/// SUBSCRIBE: QoS 0 granted for each filter (matched exactly, no wildcards here).
async fn subscribed(
    wire: &mut Wire,
    subscriptions: &mut HashSet<String>,
    subscribe: &Subscribe,
) -> io::Result<()> {
    let mut status = Vec::new();
    for (filter, _) in &subscribe.topic_filters {
        subscriptions.insert(filter.to_string());
        status.push(SubscribeAckReason::GrantedQos0);
    }
    let suback = SubscribeAck {
        packet_id: subscribe.packet_id,
        properties: Vec::new(),
        reason_string: None,
        status,
    };
    wire.send(Packet::SubscribeAck(suback).into()).await
}

/// PUBLISH: PUBACK for QoS 1 (QoS 2 is not served here), then the message back at QoS 0
/// when this connection subscribed to its topic.
async fn published(
    wire: &mut Wire,
    subscriptions: &HashSet<String>,
    publish: &Publish,
    payload: Bytes,
) -> io::Result<()> {
    if let (QoS::AtLeastOnce, Some(packet_id)) = (publish.qos, publish.packet_id) {
        let puback = PublishAck {
            packet_id,
            reason_code: PublishAckReason::Success,
            ..PublishAck::default()
        };
        wire.send(Packet::PublishAck(puback).into()).await?;
    }
    if publish.qos != QoS::ExactlyOnce && subscriptions.contains(&*publish.topic) {
        let echo = Publish {
            dup: false,
            retain: false,
            qos: QoS::AtMostOnce,
            packet_id: None,
            topic: publish.topic.clone(),
            payload_size: u32::try_from(payload.len()).map_err(codec_error)?,
            properties: Default::default(),
        };
        wire.send(Encoded::Publish(echo, Some(payload))).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use mqtt_scram::provider::{MemoryProvider, UserRecord};
    use mqtt_scram::{HashAlgorithm, ServerConfig, StoredCredentials};

    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1883".to_owned());
    eprintln!("demo mode: user alice / pencil, a random mock key");
    let users = MemoryProvider::new();
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let salt: [u8; 16] = rand::random();
        let credentials = StoredCredentials::derive(hash, "pencil", &salt, 4096)?;
        users.insert("alice", UserRecord::new(credentials));
    }
    let authenticator = Authenticator::builder(ServerConfig::new(rand::random()), users).build()?;
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    serve(listener, Arc::new(authenticator)).await?;
    Ok(())
}
