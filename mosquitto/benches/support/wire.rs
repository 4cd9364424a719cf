//! MQTT 5 framing for the benches' hand-framed clients (`support/loadgen.rs` here and
//! `broker/benches/loopback/mqtt.rs`; each bench includes this file with `#[path]` as
//! `mod wire`): Variable Byte Integers, Binary Data properties, and the Authentication Data
//! of a CONNACK's or AUTH's property list.

pub fn put_varint(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value % 128) as u8;
        value /= 128;
        out.push(if value > 0 { byte | 0x80 } else { byte });
        if value == 0 {
            return;
        }
    }
}

pub fn put_binary_value(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
}

pub fn put_binary(out: &mut Vec<u8>, id: u8, value: &[u8]) {
    out.push(id);
    put_binary_value(out, value);
}

/// A Variable Byte Integer: (value, bytes used), or `None` if incomplete.
pub fn remaining_length(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Authentication Data (0x16) from a property list (its length first), skipping the
/// other properties a CONNACK or AUTH may carry (MQTT 5.0 §2.2.2.2).
pub fn authentication_data(bytes: &[u8]) -> Option<Vec<u8>> {
    let (len, header) = remaining_length(bytes)?;
    let mut props = bytes.get(header..header + len)?;
    while let Some((&id, rest)) = props.split_first() {
        let size = match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => 1,
            0x13 | 0x21 | 0x22 | 0x23 => 2,
            0x02 | 0x11 | 0x18 | 0x27 => 4,
            0x0B => remaining_length(rest)?.1,
            0x26 => {
                let first = 2 + usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let second = usize::from(u16::from_be_bytes([rest[first], rest[first + 1]]));
                first + 2 + second
            }
            _ => 2 + usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
        };
        if id == 0x16 {
            return rest.get(2..size).map(<[u8]>::to_vec);
        }
        props = rest.get(size..)?;
    }
    None
}
