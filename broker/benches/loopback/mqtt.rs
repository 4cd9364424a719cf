//! A lean MQTT 5 client for the bench: only the packets of an enhanced-authentication login
//! (CONNECT, AUTH, CONNACK, DISCONNECT), hand-framed so the load generator spends as little
//! of the shared CPU as it can. The SCRAM side is the engine's own client, re-using its
//! SaltedPassword (no PBKDF2 per login).

use std::net::{IpAddr, SocketAddr};

use mqtt_scram::client::Authenticated;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::wire::{
    authentication_data, put_binary, put_binary_value, put_varint, remaining_length,
};

/// The Authentication Method every login uses.
pub const METHOD: &str = "SCRAM-SHA-256";

const CONNECT: u8 = 0x10;
const CONNACK: u8 = 0x20;
const DISCONNECT: u8 = 0xE0;
const AUTH: u8 = 0xF0;

/// One MQTT connection.
pub struct Conn {
    stream: TcpStream,
    read: Vec<u8>,
    out: Vec<u8>,
}

/// A packet from the broker: its first byte and its body (after the Remaining Length).
struct Incoming {
    first: u8,
    body: Vec<u8>,
}

impl Conn {
    /// Opens a TCP connection from `source` (one of several loopback addresses, so the
    /// broker's per-address cap of 64 handshakes in progress is never what limits the run).
    pub async fn open(broker: SocketAddr, source: IpAddr) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(source, 0)).unwrap();
        let stream = socket.connect(broker).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            read: Vec::with_capacity(512),
            out: Vec::with_capacity(512),
        }
    }

    /// CONNECT with SCRAM → AUTH 0x18 → AUTH 0x18 → CONNACK 0x00 (server signature checked).
    pub async fn login(&mut self, client: Authenticated, client_id: &str) -> Authenticated {
        let (state, first) = client.reauthenticate(&mut rand::rng());
        self.send_connect(client_id, &first).await;
        let challenge = self.expect(AUTH, 0x18).await;
        let (state, last) = state.on_server_first(&challenge).unwrap();
        self.send_auth(0x18, &last).await;
        let verifier = self.expect(CONNACK, 0x00).await;
        state.on_server_final(&verifier).unwrap()
    }

    /// AUTH 0x19 → AUTH 0x18 → AUTH 0x18 → AUTH 0x00 on an authenticated connection.
    pub async fn reauthenticate(&mut self, client: Authenticated) -> Authenticated {
        let (state, first) = client.reauthenticate(&mut rand::rng());
        self.send_auth(0x19, &first).await;
        let challenge = self.expect(AUTH, 0x18).await;
        let (state, last) = state.on_server_first(&challenge).unwrap();
        self.send_auth(0x18, &last).await;
        let verifier = self.expect(AUTH, 0x00).await;
        state.on_server_final(&verifier).unwrap()
    }

    /// DISCONNECT, then waits for the broker to close first (so TIME_WAIT stays on the
    /// broker's side and the client's ports are free again at once).
    pub async fn disconnect(mut self) {
        self.stream.write_all(&[DISCONNECT, 0x00]).await.unwrap();
        let mut sink = [0u8; 64];
        while self.stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    }

    async fn send_connect(&mut self, client_id: &str, data: &[u8]) {
        let mut props = Vec::with_capacity(data.len() + 24);
        put_binary(&mut props, 0x15, METHOD.as_bytes());
        put_binary(&mut props, 0x16, data);
        let mut body = Vec::with_capacity(props.len() + client_id.len() + 16);
        // Protocol name, level 5, flags: clean start; keep alive 60 s.
        body.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60]);
        put_varint(&mut body, props.len());
        body.extend_from_slice(&props);
        put_binary_value(&mut body, client_id.as_bytes());
        self.send(CONNECT, &body).await;
    }

    async fn send_auth(&mut self, reason_code: u8, data: &[u8]) {
        let mut props = Vec::with_capacity(data.len() + 24);
        put_binary(&mut props, 0x15, METHOD.as_bytes());
        put_binary(&mut props, 0x16, data);
        let mut body = Vec::with_capacity(props.len() + 8);
        body.push(reason_code);
        put_varint(&mut body, props.len());
        body.extend_from_slice(&props);
        self.send(AUTH, &body).await;
    }

    async fn send(&mut self, first: u8, body: &[u8]) {
        self.out.clear();
        self.out.push(first);
        put_varint(&mut self.out, body.len());
        self.out.extend_from_slice(body);
        self.stream.write_all(&self.out).await.unwrap();
    }

    /// The next packet must be `first` with `reason_code`; returns its Authentication Data.
    async fn expect(&mut self, first: u8, reason_code: u8) -> Vec<u8> {
        let packet = self.next().await;
        let (code, props) = match packet.first {
            CONNACK => (packet.body.get(1).copied(), packet.body.get(2..)),
            AUTH => (
                Some(packet.body.first().copied().unwrap_or(0)),
                packet.body.get(1..),
            ),
            _ => (None, None),
        };
        assert!(
            packet.first == first && code == Some(reason_code),
            "expected packet {first:#04x} with reason {reason_code:#04x}, got {:#04x} {code:?} (is the broker's admission refusing? see its log)",
            packet.first
        );
        authentication_data(props.unwrap_or_default()).expect("no Authentication Data")
    }

    async fn next(&mut self) -> Incoming {
        loop {
            if let Some((len, header)) = remaining_length(self.read.get(1..).unwrap_or_default()) {
                let total = 1 + header + len;
                if self.read.len() >= total {
                    let first = self.read[0];
                    let body = self.read[1 + header..total].to_vec();
                    self.read.drain(..total);
                    return Incoming { first, body };
                }
            }
            let mut chunk = [0u8; 1024];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the broker closed the connection");
            self.read.extend_from_slice(&chunk[..n]);
        }
    }
}
