//! The MQTT 5 packets the test front speaks, written by hand from MQTT 5.0 chapters 2 and 3
//! (CONNECT, CONNACK, AUTH, SUBSCRIBE/SUBACK, PUBLISH/PUBACK, PINGREQ/PINGRESP,
//! DISCONNECT): test code, so no MQTT library sits between the clients and the front, and
//! a malformed packet is an `Err` (the front closes the connection, as VerneMQ does).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};

pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const SUBSCRIBE: u8 = 8;
pub const SUBACK: u8 = 9;
pub const PINGREQ: u8 = 12;
pub const PINGRESP: u8 = 13;
pub const DISCONNECT: u8 = 14;
pub const AUTH: u8 = 15;

/// Authentication Method / Data property identifiers.
pub const AUTH_METHOD: u8 = 0x15;
pub const AUTH_DATA: u8 = 0x16;
const REASON_STRING: u8 = 0x1F;

/// Largest packet the front reads.
const MAX_PACKET: usize = 1 << 20;

/// One property value.
#[derive(Clone, Debug, PartialEq)]
pub enum Prop {
    Byte(u8),
    U16(u16),
    U32(u32),
    Var(u32),
    Str(String),
    Bin(Vec<u8>),
    Pair(String, String),
}

/// A property list in wire order.
pub type Props = Vec<(u8, Prop)>;

/// A packet: type, the fixed header's flags, the rest.
#[derive(Debug)]
pub struct Packet {
    pub kind: u8,
    pub flags: u8,
    pub body: Vec<u8>,
}

/// Reads one packet; `Ok(None)` when the peer closed between packets.
pub async fn read_packet(r: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Packet>> {
    let mut first = [0u8; 1];
    if r.read(&mut first).await? == 0 {
        return Ok(None);
    }
    let (mut length, mut shift) = (0usize, 0u32);
    loop {
        let byte = r.read_u8().await?;
        length |= usize::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return Err(std::io::Error::other("malformed remaining length"));
        }
    }
    if length > MAX_PACKET {
        return Err(std::io::Error::other("packet too large"));
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body).await?;
    Ok(Some(Packet {
        kind: first[0] >> 4,
        flags: first[0] & 0x0F,
        body,
    }))
}

fn varint(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        out.push(if n > 0 { byte | 0x80 } else { byte });
        if n == 0 {
            return;
        }
    }
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// A whole packet from its type, flags and body.
pub fn encode(kind: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![(kind << 4) | flags];
    varint(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

fn write_props(props: &Props, out: &mut Vec<u8>) {
    let mut block = Vec::new();
    for (id, value) in props {
        block.push(*id);
        match value {
            Prop::Byte(b) => block.push(*b),
            Prop::U16(v) => block.extend_from_slice(&v.to_be_bytes()),
            Prop::U32(v) => block.extend_from_slice(&v.to_be_bytes()),
            Prop::Var(v) => varint(*v as usize, &mut block),
            Prop::Str(s) => string(s.as_bytes(), &mut block),
            Prop::Bin(b) => string(b, &mut block),
            Prop::Pair(k, v) => {
                string(k.as_bytes(), &mut block);
                string(v.as_bytes(), &mut block);
            }
        }
    }
    varint(block.len(), out);
    out.extend_from_slice(&block);
}

/// A cursor over a packet body.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or("truncated packet")?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn varint(&mut self) -> Result<u32, String> {
        let (mut n, mut shift) = (0u32, 0u32);
        loop {
            let byte = self.u8()?;
            n |= u32::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
            shift += 7;
            if shift > 21 {
                return Err("malformed variable byte integer".into());
            }
        }
    }

    fn binary(&mut self) -> Result<Vec<u8>, String> {
        let n = self.u16()?;
        Ok(self.take(usize::from(n))?.to_vec())
    }

    fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.binary()?).map_err(|_| "string is not UTF-8".into())
    }

    fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn props(&mut self) -> Result<Props, String> {
        let length = self.varint()? as usize;
        let mut block = Reader::new(self.take(length)?);
        let mut props = Props::new();
        while !block.done() {
            let id = block.u8()?;
            let value = match id {
                0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => Prop::Byte(block.u8()?),
                0x13 | 0x21 | 0x22 | 0x23 => Prop::U16(block.u16()?),
                0x02 | 0x11 | 0x18 | 0x27 => Prop::U32(block.u32()?),
                0x0B => Prop::Var(block.varint()?),
                0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F => Prop::Str(block.string()?),
                0x09 | 0x16 => Prop::Bin(block.binary()?),
                0x26 => Prop::Pair(block.string()?, block.string()?),
                other => return Err(format!("unknown property 0x{other:02X}")),
            };
            props.push((id, value));
        }
        Ok(props)
    }
}

/// The Authentication Method of `props`.
pub fn method(props: &Props) -> Option<&str> {
    props.iter().find_map(|(id, v)| match (id, v) {
        (&AUTH_METHOD, Prop::Str(s)) => Some(s.as_str()),
        _ => None,
    })
}

/// The Authentication Data of `props`.
pub fn data(props: &Props) -> Option<&[u8]> {
    props.iter().find_map(|(id, v)| match (id, v) {
        (&AUTH_DATA, Prop::Bin(b)) => Some(b.as_slice()),
        _ => None,
    })
}

/// VerneMQ's name for a property (`vmq_types_mqtt5.hrl`, `vmq_parser_mqtt5`).
fn vmq_name(id: u8) -> Option<&'static str> {
    Some(match id {
        0x01 => "p_payload_format_indicator",
        0x02 => "p_message_expiry_interval",
        0x03 => "p_content_type",
        0x08 => "p_response_topic",
        0x09 => "p_correlation_data",
        0x11 => "p_session_expiry_interval",
        0x15 => "p_authentication_method",
        0x16 => "p_authentication_data",
        0x17 => "p_request_problem_info",
        0x18 => "p_will_delay_interval",
        0x19 => "p_request_response_info",
        0x21 => "p_receive_max",
        0x22 => "p_topic_alias_max",
        0x26 => "p_user_property",
        0x27 => "p_max_packet_size",
        _ => return None,
    })
}

/// The properties as `vmq_webhooks_plugin:encode_props/2` puts them in a hook's JSON:
/// VerneMQ's names, the Authentication Data base64 (`encode_property/3`), the two request
/// flags as booleans, user properties as `{"key", "val"}` objects with base64 text.
pub fn vmq_props(props: &Props) -> Value {
    let mut map = Map::new();
    for (id, value) in props {
        let Some(name) = vmq_name(*id) else { continue };
        let json = match (*id, value) {
            (0x17 | 0x19, Prop::Byte(b)) => json!(*b == 1),
            (_, Prop::Byte(b)) => json!(b),
            (_, Prop::U16(v)) => json!(v),
            (_, Prop::U32(v) | Prop::Var(v)) => json!(v),
            (_, Prop::Str(s)) => json!(s),
            (_, Prop::Bin(b)) => json!(STANDARD.encode(b)),
            (_, Prop::Pair(k, v)) => {
                let entry = json!({"key": STANDARD.encode(k), "val": STANDARD.encode(v)});
                if let Some(Value::Array(list)) = map.get_mut(name) {
                    list.push(entry);
                    continue;
                }
                json!([entry])
            }
        };
        map.insert(name.to_owned(), json);
    }
    Value::Object(map)
}

/// The properties of a hook answer's `modifiers.properties` that VerneMQ copies into an
/// AUTH or CONNACK (`FilterProps` in `vmq_mqtt5_fsm.erl`: method, data, reason string),
/// the data base64-decoded (`normalize_property/3`). `Err` where VerneMQ's `base64:decode`
/// would crash.
pub fn from_vmq(properties: &Value) -> Result<Props, String> {
    let mut out = Props::new();
    let field = |name: &str| properties.get(name).and_then(Value::as_str);
    if let Some(method) = field("p_authentication_method") {
        out.push((AUTH_METHOD, Prop::Str(method.to_owned())));
    }
    if let Some(data) = field("p_authentication_data") {
        let data = STANDARD.decode(data).map_err(|e| format!("base64: {e}"))?;
        out.push((AUTH_DATA, Prop::Bin(data)));
    }
    if let Some(reason) = field("p_reason_string") {
        out.push((REASON_STRING, Prop::Str(reason.to_owned())));
    }
    Ok(out)
}

/// A CONNECT.
#[derive(Debug)]
pub struct Connect {
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    pub clean_start: bool,
    pub props: Props,
}

/// Parses a CONNECT body (protocol level 5 only).
pub fn parse_connect(body: &[u8]) -> Result<Connect, String> {
    let mut r = Reader::new(body);
    if r.string()? != "MQTT" || r.u8()? != 5 {
        return Err("not MQTT 5".into());
    }
    let flags = r.u8()?;
    let _keep_alive = r.u16()?;
    let props = r.props()?;
    let client_id = r.string()?;
    if flags & 0x04 != 0 {
        let _will_props = r.props()?;
        let _topic = r.string()?;
        let _payload = r.binary()?;
    }
    let username = (flags & 0x80 != 0).then(|| r.string()).transpose()?;
    let password = (flags & 0x40 != 0).then(|| r.binary()).transpose()?;
    Ok(Connect {
        client_id,
        username,
        password,
        clean_start: flags & 0x02 != 0,
        props,
    })
}

/// Parses an AUTH body: reason code (0 when the body is empty) and properties.
pub fn parse_auth(body: &[u8]) -> Result<(u8, Props), String> {
    if body.is_empty() {
        return Ok((0, Props::new()));
    }
    let mut r = Reader::new(body);
    let reason = r.u8()?;
    let props = if r.done() { Props::new() } else { r.props()? };
    Ok((reason, props))
}

/// Parses a SUBSCRIBE body: packet identifier and topic filters.
pub fn parse_subscribe(body: &[u8]) -> Result<(u16, Vec<String>), String> {
    let mut r = Reader::new(body);
    let id = r.u16()?;
    let _props = r.props()?;
    let mut filters = Vec::new();
    while !r.done() {
        filters.push(r.string()?);
        let _options = r.u8()?;
    }
    Ok((id, filters))
}

/// Parses a PUBLISH: topic, packet identifier (QoS > 0), payload.
pub fn parse_publish(flags: u8, body: &[u8]) -> Result<(String, Option<u16>, Vec<u8>), String> {
    let mut r = Reader::new(body);
    let topic = r.string()?;
    let id = (flags & 0x06 != 0).then(|| r.u16()).transpose()?;
    let _props = r.props()?;
    Ok((topic, id, r.rest().to_vec()))
}

/// CONNECT with an Authentication Method and Data (clean start, keep alive 30 s).
pub fn connect(client_id: &str, method: &str, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    string(b"MQTT", &mut body);
    body.extend_from_slice(&[5, 0x02, 0, 30]);
    let props = vec![
        (AUTH_METHOD, Prop::Str(method.to_owned())),
        (AUTH_DATA, Prop::Bin(data.to_vec())),
    ];
    write_props(&props, &mut body);
    string(client_id.as_bytes(), &mut body);
    encode(CONNECT, 0, &body)
}

/// CONNACK (no session present).
pub fn connack(reason: u8, props: &Props) -> Vec<u8> {
    let mut body = vec![0, reason];
    write_props(props, &mut body);
    encode(CONNACK, 0, &body)
}

/// AUTH with a reason code and properties.
pub fn auth(reason: u8, props: &Props) -> Vec<u8> {
    let mut body = vec![reason];
    write_props(props, &mut body);
    encode(AUTH, 0, &body)
}

/// SUBACK granting QoS 0 to `count` filters.
pub fn suback(id: u16, count: usize) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    body.push(0);
    body.extend(std::iter::repeat_n(0u8, count));
    encode(SUBACK, 0, &body)
}

/// PUBLISH at QoS 0.
pub fn publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    string(topic.as_bytes(), &mut body);
    body.push(0);
    body.extend_from_slice(payload);
    encode(PUBLISH, 0, &body)
}

/// PUBACK (success).
pub fn puback(id: u16) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    encode(PUBACK, 0, &body)
}

/// PINGRESP.
pub fn pingresp() -> Vec<u8> {
    encode(PINGRESP, 0, &[])
}
