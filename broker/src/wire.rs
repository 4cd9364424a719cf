//! MQTT 5 framing: `rumqttc`'s v5 packet codec over any byte stream, with a bounded
//! read buffer and a write deadline.
//!
//! The codec rejects a packet whose Remaining Length is over the limit as soon as the
//! fixed header has arrived, so a connection never buffers more than one maximum-size
//! packet plus one read.
//!
//! AUTH (MQTT 5.0 §3.15) is encoded and decoded here, not by `rumqttc`: in rumqttc 0.25
//! `AuthProperties` and `AuthReasonCode` are not exported (no AUTH can be built outside
//! the crate), and its AUTH property length counts string properties without their 2-byte
//! length prefix, so a correct AUTH carrying an Authentication Method does not parse.
//! DISCONNECT (§3.14) is decoded here too: the codec refuses the short form (Remaining
//! Length 0) and reason codes missing from its enum (e.g. 0x8C).

use std::future::{Future, poll_fn};
use std::io;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use rumqttc::v5::mqttbytes::Error as CodecError;
use rumqttc::v5::mqttbytes::v5::Packet;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why no packet could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection.
    Closed,
    /// The socket failed.
    Io(io::Error),
    /// The packet's Remaining Length is over the limit (reason code 0x95).
    TooLarge {
        /// Its Remaining Length.
        len: usize,
    },
    /// The bytes are not a valid MQTT 5 packet (reason code 0x81).
    Malformed(CodecError),
}

impl ReadError {
    /// The MQTT reason code to report before closing, if the peer should get one.
    pub fn reason_code(&self) -> Option<u8> {
        match self {
            Self::Closed | Self::Io(_) => None,
            Self::TooLarge { .. } => Some(0x95),
            // An unsupported protocol level is a CONNECT the server cannot read, not garbage.
            Self::Malformed(CodecError::InvalidProtocolLevel(_)) => Some(0x84),
            Self::Malformed(_) => Some(0x81),
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed => f.write_str("connection closed by peer"),
            Self::Io(e) => write!(f, "i/o error: {e}"),
            Self::TooLarge { len } => {
                write!(f, "packet of {len} bytes is over the maximum packet size")
            }
            Self::Malformed(e) => write!(f, "malformed packet: {e}"),
        }
    }
}

/// A packet from the peer: AUTH (decoded here) or any other (decoded by `rumqttc`).
/// Short-lived, so the size difference between variants does not matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Frame {
    /// AUTH.
    Auth(AuthPacket),
    /// DISCONNECT (decoded here: the codec's reason-code enum lacks some, e.g. 0x8C).
    Disconnect {
        /// Reason code (0x00 when the packet has none).
        reason_code: u8,
    },
    /// Every other packet.
    Mqtt(Packet),
}

/// An AUTH packet's reason code and the two properties SCRAM uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthPacket {
    /// Reason code (0x00, 0x18 or 0x19 are legal; others reach the engine, which answers 0x82).
    pub reason_code: u8,
    /// Authentication Method (property 0x15).
    pub method: Option<String>,
    /// Authentication Data (property 0x16).
    pub data: Option<Vec<u8>>,
}

/// A framed MQTT 5 connection.
pub struct Wire<S> {
    stream: S,
    read_buf: BytesMut,
    write_buf: BytesMut,
    max_packet_size: u32,
    write_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    /// Frames `stream`, accepting packets whose Remaining Length is at most `max_packet_size`.
    pub fn new(stream: S, max_packet_size: u32, write_timeout: Duration) -> Self {
        Self {
            stream,
            read_buf: BytesMut::with_capacity(1024),
            write_buf: BytesMut::with_capacity(1024),
            max_packet_size,
            write_timeout,
        }
    }

    /// Reads the next packet. Cancel-safe: bytes read so far stay in the buffer.
    pub async fn read(&mut self) -> Result<Frame, ReadError> {
        loop {
            if let Some(packet) = self.parse()? {
                return Ok(packet);
            }
            match self.stream.read_buf(&mut self.read_buf).await {
                Ok(0) => return Err(ReadError::Closed),
                Ok(_) => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    fn parse(&mut self) -> Result<Option<Frame>, ReadError> {
        match self.read_buf.first() {
            None => return Ok(None),
            Some(byte) if byte >> 4 == 0x0F || byte >> 4 == 0x0E => return self.parse_own(),
            Some(_) => {}
        }
        match Packet::read(&mut self.read_buf, Some(self.max_packet_size)) {
            Ok(packet) => Ok(Some(Frame::Mqtt(packet))),
            Err(CodecError::InsufficientBytes(_)) => Ok(None),
            Err(CodecError::PayloadSizeLimitExceeded { pkt_size, .. }) => {
                Err(ReadError::TooLarge { len: pkt_size })
            }
            Err(e) => Err(ReadError::Malformed(e)),
        }
    }

    /// Frames and decodes AUTH and DISCONNECT.
    fn parse_own(&mut self) -> Result<Option<Frame>, ReadError> {
        let Some((len, len_len)) = remaining_length(self.read_buf.get(1..).unwrap_or_default())?
        else {
            return Ok(None);
        };
        if len > self.max_packet_size as usize {
            return Err(ReadError::TooLarge { len });
        }
        let frame_len = 1 + len_len + len;
        if self.read_buf.len() < frame_len {
            return Ok(None);
        }
        let frame = self.read_buf.split_to(frame_len);
        let first = frame.first().copied().unwrap_or_default();
        let body = frame.get(1 + len_len..).unwrap_or_default();
        if first & 0x0F != 0 {
            return Err(malformed());
        }
        let decoded = match first >> 4 {
            0x0F => decode_auth(body).map(Frame::Auth),
            _ => decode_disconnect(body).map(|reason_code| Frame::Disconnect { reason_code }),
        };
        decoded.map(Some).ok_or_else(malformed)
    }

    /// Writes an AUTH packet.
    pub async fn send_auth(&mut self, auth: &AuthPacket) -> io::Result<()> {
        self.send_auth_parts(
            auth.reason_code,
            auth.method.as_deref(),
            auth.data.as_deref(),
        )
        .await
    }

    /// Writes an AUTH packet from borrowed parts, encoded straight into the write buffer.
    pub async fn send_auth_parts(
        &mut self,
        reason_code: u8,
        method: Option<&str>,
        data: Option<&[u8]>,
    ) -> io::Result<()> {
        let method = method.map(str::as_bytes);
        let props_len = binary_len(method)? + binary_len(data)?;
        let body_len = 1 + varint_len(props_len) + props_len;
        let buf = &mut self.write_buf;
        buf.clear();
        buf.reserve(1 + varint_len(body_len) + body_len);
        buf.put_u8(0xF0);
        put_varint(buf, body_len)?;
        buf.put_u8(reason_code);
        put_varint(buf, props_len)?;
        if let Some(method) = method {
            put_binary(buf, 0x15, method)?;
        }
        if let Some(data) = data {
            put_binary(buf, 0x16, data)?;
        }
        self.flush_buf().await
    }

    /// Writes one packet; gives up after the write timeout (a peer that does not read).
    pub async fn send(&mut self, packet: &Packet) -> io::Result<()> {
        self.write_buf.clear();
        packet.write(&mut self.write_buf, None).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("cannot encode packet: {e}"),
            )
        })?;
        self.flush_buf().await
    }

    /// Writes bytes as they are (tests use it to send malformed packets).
    #[allow(dead_code)]
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_buf.clear();
        self.write_buf.extend_from_slice(bytes);
        self.flush_buf().await
    }

    /// Writes a DISCONNECT with any reason code (the codec's enum lacks some, e.g. 0x8C).
    pub async fn send_disconnect(&mut self, reason_code: u8) -> io::Result<()> {
        self.write_buf.clear();
        // Fixed header, Remaining Length 2, reason code, empty property list.
        self.write_buf
            .extend_from_slice(&[0xE0, 0x02, reason_code, 0x00]);
        self.flush_buf().await
    }

    async fn flush_buf(&mut self) -> io::Result<()> {
        let limit = self.write_timeout;
        let mut write = pin!(async {
            self.stream.write_all(&self.write_buf).await?;
            self.stream.flush().await
        });
        // A write usually completes at once (the socket buffer has room): the timer (a clock
        // reading, the runtime's handle, a timer entry) is only set up when it does not.
        if let Poll::Ready(result) = poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
            return result;
        }
        match tokio::time::timeout(limit, write).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer does not read",
            )),
        }
    }

    /// Closes the write side (TLS close_notify, TCP FIN), bounded by the write timeout.
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(self.write_timeout, self.stream.shutdown()).await;
    }
}

fn malformed() -> ReadError {
    ReadError::Malformed(CodecError::MalformedPacket)
}

/// Decodes a Variable Byte Integer (MQTT 5.0 §1.5.5): `Ok(None)` if more bytes are needed.
fn remaining_length(bytes: &[u8]) -> Result<Option<(usize, usize)>, ReadError> {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= 4 {
        Err(ReadError::Malformed(CodecError::MalformedRemainingLength))
    } else {
        Ok(None)
    }
}

const MAX_VARINT: usize = 268_435_455;

fn put_varint(out: &mut impl BufMut, mut value: usize) -> io::Result<()> {
    if value > MAX_VARINT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "packet too large to encode",
        ));
    }
    loop {
        let byte = (value % 128) as u8;
        value /= 128;
        out.put_u8(if value > 0 { byte | 0x80 } else { byte });
        if value == 0 {
            return Ok(());
        }
    }
}

/// Bytes a Variable Byte Integer takes (values over the maximum fail in [`put_varint`]).
fn varint_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "property longer than 65535 bytes",
    )
}

/// Bytes a binary property takes (identifier, length, value), if it is present.
fn binary_len(value: Option<&[u8]>) -> io::Result<usize> {
    match value {
        None => Ok(0),
        Some(value) if value.len() <= usize::from(u16::MAX) => Ok(3 + value.len()),
        Some(_) => Err(too_long()),
    }
}

fn put_binary(out: &mut impl BufMut, id: u8, value: &[u8]) -> io::Result<()> {
    let len = u16::try_from(value.len()).map_err(|_| too_long())?;
    out.put_u8(id);
    out.put_u16(len);
    out.put_slice(value);
    Ok(())
}

/// Decodes an AUTH body (after the fixed header). `None` if malformed: lengths that do not
/// add up, a method that is not UTF-8, an unknown or repeated property (MQTT 5.0 §3.15.2.2).
fn decode_auth(body: &[u8]) -> Option<AuthPacket> {
    let mut auth = AuthPacket::default();
    let Some((&reason_code, rest)) = body.split_first() else {
        return Some(auth);
    };
    auth.reason_code = reason_code;
    if rest.is_empty() {
        return Some(auth);
    }
    let (props_len, len_len) = remaining_length(rest).ok()??;
    let mut props = rest.get(len_len..)?;
    if props.len() != props_len {
        return None;
    }
    let mut reason_string = false;
    while let Some((&id, tail)) = props.split_first() {
        let (value, tail) = take_binary(tail)?;
        props = tail;
        match id {
            0x15 if auth.method.is_none() => {
                auth.method = Some(String::from_utf8(value.to_vec()).ok()?)
            }
            0x16 if auth.data.is_none() => auth.data = Some(value.to_vec()),
            0x1F if !reason_string => {
                std::str::from_utf8(value).ok()?;
                reason_string = true;
            }
            0x26 => {
                std::str::from_utf8(value).ok()?;
                let (pair_value, tail) = take_binary(props)?;
                std::str::from_utf8(pair_value).ok()?;
                props = tail;
            }
            _ => return None,
        }
    }
    Some(auth)
}

/// Decodes a DISCONNECT body: its reason code (0x00 if absent); properties must add up.
fn decode_disconnect(body: &[u8]) -> Option<u8> {
    let Some((&reason_code, rest)) = body.split_first() else {
        return Some(0x00);
    };
    if !rest.is_empty() {
        let (props_len, len_len) = remaining_length(rest).ok()??;
        if rest.len() != len_len + props_len {
            return None;
        }
    }
    Some(reason_code)
}

fn take_binary(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]));
    let value = bytes.get(2..2 + len)?;
    Some((value, bytes.get(2 + len..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Network input never panics the framing: whatever the bytes, each parse step
        /// returns a frame, "need more", or an error.
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), first in 0u8..=255) {
            let mut input = vec![first];
            input.extend_from_slice(&bytes);
            let (_, server) = tokio::io::duplex(64);
            let mut wire = Wire::new(server, 256, Duration::from_secs(1));
            wire.read_buf.extend_from_slice(&input);
            for _ in 0..8 {
                match wire.parse() {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
            let _ = decode_auth(&bytes);
            let _ = decode_disconnect(&bytes);
        }

        /// The same with a valid fixed header, so the body reaches each packet decoder.
        #[test]
        fn framed_bodies_never_panic(
            first in proptest::sample::select(vec![0x10u8, 0x20, 0x30, 0x32, 0x35, 0x40, 0x62, 0x82, 0xA2, 0xC0, 0xE0, 0xF0]),
            body in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut input = vec![first];
            let mut len = Vec::new();
            put_varint(&mut len, body.len()).unwrap();
            input.extend_from_slice(&len);
            input.extend_from_slice(&body);
            let (_, server) = tokio::io::duplex(64);
            let mut wire = Wire::new(server, 256, Duration::from_secs(1));
            wire.read_buf.extend_from_slice(&input);
            let _ = wire.parse();
        }
    }

    /// A peer that does not read: the write gives up after the write timeout (the timer is
    /// only armed once the write could not complete at once).
    #[tokio::test]
    async fn write_to_a_peer_that_does_not_read_times_out() {
        let (_peer, server) = tokio::io::duplex(64);
        let mut wire = Wire::new(server, 1024, Duration::from_millis(50));
        wire.send_auth_parts(0x18, Some("SCRAM-SHA-256"), Some(&[b'x'; 40]))
            .await
            .unwrap();
        let began = std::time::Instant::now();
        let error = wire
            .send_auth_parts(0x18, Some("SCRAM-SHA-256"), Some(&[b'x'; 40]))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        let waited = began.elapsed();
        assert!(waited >= Duration::from_millis(50), "{waited:?}");
    }

    /// AUTH encoded from borrowed parts: byte-exact, and read back by the framing whatever
    /// properties are present (a 2-byte property length too).
    #[tokio::test]
    async fn auth_from_parts_frames_and_reads_back() {
        let long = [b'x'; 200];
        let cases: [(Option<&str>, Option<&[u8]>); 4] = [
            (Some("SCRAM-SHA-256"), Some(b"r=abc")),
            (None, None),
            (Some("SCRAM-SHA-512"), None),
            (None, Some(&long)),
        ];
        for (method, data) in cases {
            let (client, server) = tokio::io::duplex(4096);
            let mut out = Wire::new(server, 1024, Duration::from_secs(1));
            out.send_auth_parts(0x18, method, data).await.unwrap();
            let mut back = Wire::new(client, 1024, Duration::from_secs(1));
            let Frame::Auth(auth) = back.read().await.unwrap() else {
                panic!("not an AUTH")
            };
            let expected = AuthPacket {
                reason_code: 0x18,
                method: method.map(Into::into),
                data: data.map(<[u8]>::to_vec),
            };
            assert_eq!(auth, expected);
            assert!(back.read_buf.is_empty(), "exactly one packet");
        }
        let (mut client, server) = tokio::io::duplex(4096);
        let mut out = Wire::new(server, 1024, Duration::from_secs(1));
        out.send_auth_parts(0x19, Some("SCRAM-SHA-256"), Some(b"n,,n=u,r=x"))
            .await
            .unwrap();
        drop(out);
        let mut bytes = Vec::new();
        client.read_to_end(&mut bytes).await.unwrap();
        let mut expected = vec![0xF0, 31, 0x19, 29, 0x15, 0, 13];
        expected.extend_from_slice(b"SCRAM-SHA-256");
        expected.extend_from_slice(&[0x16, 0, 10]);
        expected.extend_from_slice(b"n,,n=u,r=x");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn auth_round_trip_and_rejects() {
        let auth = AuthPacket {
            reason_code: 0x18,
            method: Some("SCRAM-SHA-256".into()),
            data: Some(b"r=abc".to_vec()),
        };
        let mut props = Vec::new();
        put_binary(&mut props, 0x15, b"SCRAM-SHA-256").unwrap();
        put_binary(&mut props, 0x16, b"r=abc").unwrap();
        let mut body = vec![0x18, props.len() as u8];
        body.extend_from_slice(&props);
        assert_eq!(decode_auth(&body), Some(auth));
        assert_eq!(decode_auth(&[]), Some(AuthPacket::default()));
        let mut truncated = body.clone();
        truncated.pop();
        assert_eq!(decode_auth(&truncated), None);
        let mut twice = body.clone();
        twice[1] += 4;
        twice.extend_from_slice(&[0x15, 0, 1, b'x']);
        assert_eq!(decode_auth(&twice), None);
    }
}
