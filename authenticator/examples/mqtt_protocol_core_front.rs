//! The guide's packet loop on a real codec: a small tokio MQTT 5 front over
//! `mqtt-protocol-core` and the `codec::mqtt_protocol_core` adapter. It accepts CONNECT,
//! runs the SCRAM exchange (SHA-256, SHA-512), answers PINGREQ, SUBSCRIBE (QoS 0, exact
//! topics) and DISCONNECT, echoes QoS 0 and 1 PUBLISH (at QoS 0) to the same connection's subscriptions (a
//! real broker routes them), and takes re-authentication (AUTH 0x19) at any time.
//!
//! ```sh
//! cargo run -p mqtt-scram-authenticator --features codec-mqtt-protocol-core \
//!     --example mqtt_protocol_core_front -- 127.0.0.1:1883 users.json mock.key
//! ```
//! Without the two files: one demo user, `alice` / `pencil`, and a random mock key.
//!
//! # Cancel safety in the `select!` loops
//!
//! A `select!` drops the branches that lose, so every future *raced* there must be
//! cancel-safe, and everything that must not be cut in half runs in a branch's handler:
//! - `Wire::read` is cancel-safe: its only await is `TcpStream::read` (cancel-safe: no
//!   byte is consumed unless it completes), and the bytes go to the codec and into the
//!   `received` queue synchronously, so a dropped read loses nothing.
//! - `ConnectionAuth::timeout()` is cancel-safe (it only sleeps, then checks the deadlines).
//! - `ConnectionAuth::on_auth` / `on_connect` are **not** raced: dropping one before it
//!   completes ends the authentication. They run in the handler (`=> ...`), after `select!`
//!   chose the read branch, so nothing cancels them but the task itself.
//! - `Wire::send` (a `write_all`) is not cancel-safe either: it runs outside `select!`.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mqtt_protocol_core::mqtt;
use mqtt_protocol_core::mqtt::common::Cursor;
use mqtt_protocol_core::mqtt::connection::Event;
use mqtt_protocol_core::mqtt::packet::v5_0::{Pingresp, Puback, Publish, Suback, Subscribe};
use mqtt_protocol_core::mqtt::packet::{Packet, Qos};
use mqtt_protocol_core::mqtt::prelude::*;
use mqtt_protocol_core::mqtt::result_code::SubackReasonCode;
use mqtt_scram::ConnectionInfo;
use mqtt_scram_authenticator::codec::mqtt_protocol_core as adapter;
use mqtt_scram_authenticator::{Authenticator, ConnectionAuth, Status, Step};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP stream and the codec's server connection (framing and packet checks).
struct Wire {
    stream: TcpStream,
    codec: mqtt::Connection<mqtt::role::Server>,
    received: VecDeque<Packet>,
    /// Packets the codec produced while decoding (e.g. a DISCONNECT for a malformed packet),
    /// written by the next `send`/`flush`: `read` never writes, to stay cancel-safe.
    outbox: Vec<u8>,
    closing: bool,
    buf: Vec<u8>,
}

fn codec_error(e: impl std::fmt::Debug) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
}

impl Wire {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            codec: mqtt::Connection::new(mqtt::Version::Undetermined),
            received: VecDeque::new(),
            outbox: Vec::new(),
            closing: false,
            buf: vec![0; 8192],
        }
    }

    /// The next packet; `Ok(None)` when the peer closed. Cancel-safe (see the module docs).
    async fn read(&mut self) -> io::Result<Option<Packet>> {
        loop {
            if let Some(packet) = self.received.pop_front() {
                return Ok(Some(packet));
            }
            if self.closing {
                return Ok(None);
            }
            let n = self.stream.read(&mut self.buf).await?;
            if n == 0 {
                return Ok(None);
            }
            let bytes = self.buf.get(..n).unwrap_or_default();
            let mut cursor = Cursor::new(bytes);
            while (cursor.position() as usize) < n {
                for event in self.codec.recv(&mut cursor) {
                    match event {
                        Event::NotifyPacketReceived(packet) => self.received.push_back(packet),
                        Event::RequestSendPacket { packet, .. } => {
                            self.outbox.extend(packet.to_continuous_buffer());
                        }
                        Event::RequestClose => self.closing = true,
                        Event::NotifyError(e) => return Err(codec_error(e)),
                        // Keep-alive timers: a real broker arms them; this front does not.
                        _ => {}
                    }
                }
            }
        }
    }

    /// Writes what the codec queued while decoding.
    async fn flush(&mut self) -> io::Result<()> {
        if !self.outbox.is_empty() {
            let bytes = std::mem::take(&mut self.outbox);
            self.stream.write_all(&bytes).await?;
        }
        Ok(())
    }

    /// Sends `packet` through the codec (which checks it against the connection's state).
    async fn send(&mut self, packet: Packet) -> io::Result<()> {
        self.flush().await?;
        for event in self.codec.send(packet) {
            match event {
                Event::RequestSendPacket { packet, .. } => {
                    self.stream
                        .write_all(&packet.to_continuous_buffer())
                        .await?;
                }
                Event::NotifyError(e) => return Err(codec_error(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Sends the authenticator's step as the codec's CONNACK / AUTH / DISCONNECT.
    async fn send_step(&mut self, step: &Step) -> io::Result<()> {
        let packet = adapter::packet(step).map_err(io::Error::other)?;
        self.send(packet).await
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
    let Some(Packet::V5_0Connect(connect)) = wire.read().await? else {
        return Ok(());
    };
    // Always pass the peer address: the admission policy caps handshakes per address.
    let info = ConnectionInfo::new(connect.client_id()).with_peer(peer);
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
                Some(Packet::V5_0Auth(packet)) => adapter::on_auth(auth, &packet).await,
                _ => return Ok(false),               // anything else: protocol error, close
            },
        };
    }
}

/// After CONNACK 0x00: packets, re-authentication and the credential-expiry timer.
async fn session(wire: &mut Wire, auth: &mut ConnectionAuth) -> io::Result<()> {
    let mut subscriptions = HashSet::new();
    loop {
        wire.flush().await?;
        let step = tokio::select! {
            step = auth.timeout() => step,            // expire_at passed: DISCONNECT 0xA0
            packet = wire.read() => match packet? {
                Some(Packet::V5_0Auth(packet)) => adapter::on_auth(auth, &packet).await,
                Some(Packet::V5_0Pingreq(_)) => {
                    wire.send(Pingresp::new().into()).await?;
                    continue;
                }
                Some(Packet::V5_0Subscribe(subscribe)) => {
                    subscribed(wire, &mut subscriptions, &subscribe).await?;
                    continue;
                }
                Some(Packet::V5_0Publish(publish)) => {
                    published(wire, &subscriptions, &publish).await?;
                    continue;
                }
                Some(Packet::V5_0Disconnect(_)) | None => return Ok(()),
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
    let mut granted = Vec::new();
    for entry in subscribe.entries() {
        subscriptions.insert(entry.topic_filter().to_owned());
        granted.push(SubackReasonCode::GrantedQos0);
    }
    let suback = Suback::builder()
        .packet_id(subscribe.packet_id())
        .reason_codes(granted)
        .build()
        .map_err(codec_error)?;
    wire.send(suback.into()).await
}

/// PUBLISH: PUBACK for QoS 1 (QoS 2 is not served here), then the message back at QoS 0
/// when this connection subscribed to its topic.
async fn published(
    wire: &mut Wire,
    subscriptions: &HashSet<String>,
    publish: &Publish,
) -> io::Result<()> {
    if let (Qos::AtLeastOnce, Some(id)) = (publish.qos(), publish.packet_id()) {
        let puback = Puback::builder()
            .packet_id(id)
            .build()
            .map_err(codec_error)?;
        wire.send(puback.into()).await?;
    }
    if publish.qos() != Qos::ExactlyOnce && subscriptions.contains(publish.topic_name()) {
        let echo = Publish::builder()
            .topic_name(publish.topic_name())
            .and_then(|b| {
                b.qos(Qos::AtMostOnce)
                    .payload(publish.payload().as_slice())
                    .build()
            })
            .map_err(codec_error)?;
        wire.send(echo.into()).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use mqtt_scram::provider::{MemoryProvider, UserRecord};
    use mqtt_scram::{HashAlgorithm, MockKey, ServerConfig, StoredCredentials};

    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:1883".to_owned());
    let authenticator = match (args.next(), args.next()) {
        (Some(users), Some(mock_key)) => {
            // Records from `mqtt-scram gen`; a key that stays the same across restarts.
            let users = Arc::new(mqtt_scram_stores::FileProvider::open(users)?);
            let config = ServerConfig::from_mock_key(MockKey::from_file(mock_key)?);
            Authenticator::builder_shared(config, users).build()?
        }
        _ => {
            eprintln!("demo mode: user alice / pencil, a random mock key");
            let users = MemoryProvider::new();
            for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
                let salt: [u8; 16] = rand::random();
                let credentials = StoredCredentials::derive(hash, "pencil", &salt, 4096)?;
                users.insert("alice", UserRecord::new(credentials));
            }
            Authenticator::builder(ServerConfig::new(rand::random()), users).build()?
        }
    };
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    serve(listener, Arc::new(authenticator)).await?;
    Ok(())
}
