//! A small blocking MQTT 5 client written for these tests: exactly the packets the tests
//! send, byte for byte (CONNECT with authentication properties, AUTH, SUBSCRIBE, PUBLISH),
//! so the robustness and leak tests control every field.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use mqtt_scram::client::{self, ClientConfig, ClientOptions};
use mqtt_scram::{ChannelBinding, Mechanism};

/// A received packet: type nibble, reason code, and the authentication properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packet {
    /// Control packet type (2 CONNACK, 3 PUBLISH, 4 PUBACK, 9 SUBACK, 14 DISCONNECT, 15 AUTH).
    pub kind: u8,
    /// The reason code (0 when the packet has none).
    pub reason: u8,
    /// Authentication Method.
    pub method: Option<String>,
    /// Authentication Data.
    pub data: Option<Vec<u8>>,
    /// PUBLISH topic and payload; SUBACK reason codes in `payload`.
    pub topic: Option<String>,
    /// PUBLISH payload or SUBACK reason codes.
    pub payload: Vec<u8>,
}

pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const SUBACK: u8 = 9;
pub const DISCONNECT: u8 = 14;
pub const AUTH: u8 = 15;

/// Any stream a client can talk MQTT over (TCP or TLS).
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

pub struct Conn {
    stream: Box<dyn Stream>,
}

fn varint(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            break;
        }
    }
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

fn auth_properties(method: Option<&str>, data: Option<&[u8]>) -> Vec<u8> {
    let mut props = Vec::new();
    if let Some(m) = method {
        props.push(0x15);
        string(m.as_bytes(), &mut props);
    }
    if let Some(d) = data {
        props.push(0x16);
        string(d, &mut props);
    }
    let mut out = Vec::new();
    varint(props.len(), &mut out);
    out.extend_from_slice(&props);
    out
}

fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    varint(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

impl Conn {
    pub fn tcp(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Self::over(Box::new(stream)))
    }

    pub fn over(stream: Box<dyn Stream>) -> Self {
        Self { stream }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// CONNECT (clean start, keep-alive 60 s) with optional authentication properties and
    /// optional User Name / Password.
    pub fn send_connect(
        &mut self,
        client_id: &str,
        method: Option<&str>,
        data: Option<&[u8]>,
        login: Option<(&str, &[u8])>,
    ) -> io::Result<()> {
        let mut body = Vec::new();
        string(b"MQTT", &mut body);
        body.push(5);
        body.push(0x02 | if login.is_some() { 0xC0 } else { 0 });
        body.extend_from_slice(&60u16.to_be_bytes());
        body.extend_from_slice(&auth_properties(method, data));
        string(client_id.as_bytes(), &mut body);
        if let Some((user, password)) = login {
            string(user.as_bytes(), &mut body);
            string(password, &mut body);
        }
        self.send_raw(&frame(0x10, &body))
    }

    pub fn send_auth(&mut self, reason: u8, method: &str, data: Option<&[u8]>) -> io::Result<()> {
        let mut body = vec![reason];
        body.extend_from_slice(&auth_properties(Some(method), data));
        self.send_raw(&frame(0xF0, &body))
    }

    pub fn subscribe(&mut self, filter: &str, qos: u8) -> io::Result<Packet> {
        let mut body = vec![0, 1, 0];
        string(filter.as_bytes(), &mut body);
        body.push(qos);
        self.send_raw(&frame(0x82, &body))?;
        self.read()
    }

    pub fn publish(&mut self, topic: &str, payload: &[u8]) -> io::Result<()> {
        let mut body = Vec::new();
        string(topic.as_bytes(), &mut body);
        body.push(0);
        body.extend_from_slice(payload);
        self.send_raw(&frame(0x30, &body))
    }

    /// Reads one packet; `UnexpectedEof` when the broker closed the connection.
    pub fn read(&mut self) -> io::Result<Packet> {
        let mut first = [0u8; 1];
        self.stream.read_exact(&mut first)?;
        let mut len = 0usize;
        for shift in 0..4 {
            let mut b = [0u8; 1];
            self.stream.read_exact(&mut b)?;
            len |= ((b[0] & 0x7F) as usize) << (7 * shift);
            if b[0] & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        Ok(parse(first[0], &body))
    }
}

fn parse(first: u8, body: &[u8]) -> Packet {
    let kind = first >> 4;
    let mut p = Packet {
        kind,
        ..Packet::default()
    };
    let mut at;
    match kind {
        CONNACK => {
            p.reason = *body.get(1).unwrap_or(&0);
            at = 2;
        }
        AUTH | DISCONNECT => {
            p.reason = *body.first().unwrap_or(&0);
            at = 1;
        }
        SUBACK => at = 2,
        PUBLISH => {
            let n = u16::from_be_bytes([body[0], body[1]]) as usize;
            p.topic = Some(String::from_utf8_lossy(&body[2..2 + n]).into_owned());
            at = 2 + n;
            if (first >> 1) & 3 > 0 {
                at += 2;
            }
        }
        _ => return p,
    }
    if at >= body.len() {
        return p;
    }
    // Properties: a varint length, then id + value.
    let (mut plen, mut shift) = (0usize, 0);
    loop {
        let b = body[at];
        at += 1;
        plen |= ((b & 0x7F) as usize) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let end = at + plen;
    while at < end {
        let id = body[at];
        at += 1;
        let u16_at = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]) as usize;
        match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => at += 1,
            0x13 | 0x21 | 0x22 | 0x23 => at += 2,
            0x02 | 0x11 | 0x18 | 0x27 => at += 4,
            0x0B => {
                while body[at] & 0x80 != 0 {
                    at += 1;
                }
                at += 1;
            }
            0x26 => {
                at += 2 + u16_at(at);
                at += 2 + u16_at(at);
            }
            0x15 => {
                let n = u16_at(at);
                p.method = Some(String::from_utf8_lossy(&body[at + 2..at + 2 + n]).into_owned());
                at += 2 + n;
            }
            0x16 => {
                let n = u16_at(at);
                p.data = Some(body[at + 2..at + 2 + n].to_vec());
                at += 2 + n;
            }
            _ => at += 2 + u16_at(at),
        }
    }
    p.payload = body[end..].to_vec();
    p
}

/// How a SCRAM login ended.
#[derive(Debug)]
pub struct Login {
    /// The CONNACK (or the packet that came instead).
    pub last: Packet,
    /// The AUTH 0x18 with the server-first-message, if one came.
    pub challenge: Option<Packet>,
    /// The client state after a verified success (for re-authentication).
    pub authenticated: Option<client::Authenticated>,
}

/// A full SCRAM login with the crate's client on `conn`.
pub fn scram_login(
    conn: &mut Conn,
    client_id: &str,
    mechanism: Mechanism,
    user: &str,
    password: &str,
    binding: Option<&ChannelBinding>,
) -> io::Result<Login> {
    let options = ClientOptions::new().channel_binding(binding);
    let (first, client_first) = client::start_with(
        &ClientConfig::new(),
        mechanism,
        user,
        password,
        options,
        &mut rand::rng(),
    )
    .expect("client-first");
    conn.send_connect(client_id, Some(mechanism.name()), Some(&client_first), None)?;
    let challenge = conn.read()?;
    if challenge.kind != AUTH {
        return Ok(Login {
            last: challenge,
            challenge: None,
            authenticated: None,
        });
    }
    assert_eq!(challenge.reason, 0x18, "{challenge:?}");
    assert_eq!(challenge.method.as_deref(), Some(mechanism.name()));
    let (last, client_final) = first
        .on_server_first(challenge.data.as_deref().unwrap_or_default())
        .expect("server-first");
    conn.send_auth(0x18, mechanism.name(), Some(&client_final))?;
    let connack = conn.read()?;
    let authenticated = if connack.kind == CONNACK && connack.reason == 0 {
        Some(
            last.on_server_final(connack.data.as_deref().unwrap_or_default())
                .expect("the broker's v= verifies"),
        )
    } else {
        None
    };
    Ok(Login {
        last: connack,
        challenge: Some(challenge),
        authenticated,
    })
}
