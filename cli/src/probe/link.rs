//! The wire side of `probe`: a byte stream plus `mqtt-protocol-core`'s client connection
//! (framing, packet checks), and the authentication properties of MQTT 5 packets.

use std::collections::VecDeque;
use std::io::{Read, Write};

use mqtt_protocol_core::mqtt;
use mqtt_protocol_core::mqtt::common::Cursor;
use mqtt_protocol_core::mqtt::connection::Event;
use mqtt_protocol_core::mqtt::packet::v5_0::Auth;
use mqtt_protocol_core::mqtt::packet::{
    AuthenticationData, AuthenticationMethod, Packet as GenericPacket, Property,
};
use mqtt_protocol_core::mqtt::prelude::*;
use mqtt_protocol_core::mqtt::result_code::AuthReasonCode;
use mqtt_scram::Mechanism;

use super::Stop;

pub trait Transport: Read + Write {}
impl<T: Read + Write> Transport for T {}

/// A byte stream plus the codec's client connection (framing and packet state).
pub struct Link {
    stream: Box<dyn Transport>,
    conn: mqtt::Connection<mqtt::role::Client>,
    received: VecDeque<GenericPacket>,
}

impl Link {
    /// A fresh MQTT 5 client connection over `stream`.
    pub fn new(stream: Box<dyn Transport>) -> Self {
        Self {
            stream,
            conn: mqtt::Connection::<mqtt::role::Client>::new(mqtt::Version::V5_0),
            received: VecDeque::new(),
        }
    }

    fn handle(&mut self, events: Vec<Event>) -> Result<(), Stop> {
        for event in events {
            match event {
                Event::RequestSendPacket { packet, .. } => {
                    let bytes = packet.to_continuous_buffer();
                    self.stream
                        .write_all(&bytes)
                        .and_then(|()| self.stream.flush())
                        .map_err(|e| {
                            Stop::connection(format!("cannot send {}: {e}", packet.packet_type()))
                        })?;
                }
                Event::NotifyPacketReceived(packet) => self.received.push_back(packet),
                Event::NotifyError(e) => {
                    return Err(Stop::protocol(format!(
                        "malformed or unexpected packet: {e:?}"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn send(&mut self, packet: impl Into<GenericPacket>) -> Result<(), Stop> {
        let events = self.conn.send(packet.into());
        self.handle(events)
    }

    pub fn recv(&mut self, waiting_for: &str) -> Result<GenericPacket, Stop> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(packet) = self.received.pop_front() {
                return Ok(packet);
            }
            let n = match self.stream.read(&mut buf) {
                Ok(0) => {
                    return Err(Stop::connection(format!(
                        "connection closed while waiting for {waiting_for}"
                    )));
                }
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Stop::connection(format!(
                        "timed out waiting for {waiting_for}"
                    )));
                }
                Err(e) => {
                    return Err(Stop::connection(format!(
                        "read error waiting for {waiting_for}: {e}"
                    )));
                }
            };
            let data = buf.get(..n).unwrap_or_default();
            let mut cursor = Cursor::new(data);
            while (cursor.position() as usize) < data.len() {
                let events = self.conn.recv(&mut cursor);
                self.handle(events)?;
            }
        }
    }
}

pub fn auth_props(method: Mechanism, data: &[u8]) -> Result<Vec<Property>, Stop> {
    let bad = |e| Stop::protocol(format!("cannot encode authentication properties: {e:?}"));
    Ok(vec![
        Property::AuthenticationMethod(AuthenticationMethod::new(method.name()).map_err(bad)?),
        Property::AuthenticationData(AuthenticationData::new(data.to_vec()).map_err(bad)?),
    ])
}

/// Authentication Method and Data of a received packet.
pub fn auth_of(props: Option<&Vec<Property>>) -> (Option<String>, Option<Vec<u8>>) {
    let mut method = None;
    let mut data = None;
    for p in props.into_iter().flatten() {
        match p {
            Property::AuthenticationMethod(m) => method = Some(m.val().to_owned()),
            Property::AuthenticationData(d) => data = Some(d.val().to_vec()),
            _ => {}
        }
    }
    (method, data)
}

/// The MQTT 5 name of a CONNACK / DISCONNECT / AUTH reason code (MQTT 5.0 §2.4).
pub fn reason_name(code: u8) -> &'static str {
    match code {
        0x00 => "Success",
        0x04 => "Disconnect with Will Message",
        0x18 => "Continue authentication",
        0x19 => "Re-authenticate",
        0x80 => "Unspecified error",
        0x81 => "Malformed Packet",
        0x82 => "Protocol Error",
        0x83 => "Implementation specific error",
        0x84 => "Unsupported Protocol Version",
        0x85 => "Client Identifier not valid",
        0x86 => "Bad User Name or Password",
        0x87 => "Not authorized",
        0x88 => "Server unavailable",
        0x89 => "Server busy",
        0x8A => "Banned",
        0x8B => "Server shutting down",
        0x8C => "Bad authentication method",
        0x8D => "Keep Alive timeout",
        0x8E => "Session taken over",
        0x95 => "Packet too large",
        0x97 => "Quota exceeded",
        0x99 => "Payload format invalid",
        0x9C => "Use another server",
        0x9D => "Server moved",
        0x9F => "Connection rate exceeded",
        _ => "Unknown reason code",
    }
}

pub fn build_auth(code: AuthReasonCode, mechanism: Mechanism, data: &[u8]) -> Result<Auth, Stop> {
    Auth::builder()
        .reason_code(code)
        .props(auth_props(mechanism, data)?)
        .build()
        .map_err(|e| Stop::protocol(format!("cannot build AUTH: {e:?}")))
}
