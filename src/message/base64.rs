//! Base64 as SCRAM uses it (RFC 5802 §7: standard alphabet, padded, canonical).
//!
//! Decoding goes through the `base64` crate (strict: canonical padding, no trailing
//! bits) and never allocates for what the server checks: `c=` is validated in chunks on
//! the stack and compared by encoding the expected bytes. Encoding is done here, in
//! constant time and without a fallible step: a salt, nonce or signature is a few dozen
//! bytes, for which the crate's general encoder costs more than the encoding itself.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::attributes::malformed;
use super::{MessageKind, Problem};
use crate::crypto::{self, Key, MAX_OUTPUT_LEN};
use crate::error::Error;

/// Characters of the padded encoding of `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    len.div_ceil(3).saturating_mul(4)
}

/// The base64 symbol of the low six bits of `v`, computed without a table lookup or a
/// data-dependent branch.
#[inline(always)]
fn symbol(v: u32) -> u8 {
    let v = (v & 63) as i16;
    let mut c = v + i16::from(b'A');
    c += ((25 - v) >> 8) & 6; // 26..=51 → 'a'..='z'
    c -= ((51 - v) >> 8) & 75; // 52..=61 → '0'..='9'
    c -= ((61 - v) >> 8) & 15; // 62 → '+'
    c += ((62 - v) >> 8) & 3; // 63 → '/'
    c as u8
}

/// The encoding of `data`, four characters per three bytes (padded at the end).
#[inline]
pub(crate) fn quads(data: &[u8]) -> impl Iterator<Item = [u8; 4]> + '_ {
    data.chunks(3).filter_map(|chunk| {
        let (n, pad) = match *chunk {
            [a, b, c] => (u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c), 0),
            [a, b] => (u32::from(a) << 16 | u32::from(b) << 8, 1),
            [a] => (u32::from(a) << 16, 2),
            // `chunks(3)` yields one to three bytes.
            _ => return None,
        };
        let mut quad = [symbol(n >> 18), symbol(n >> 12), symbol(n >> 6), symbol(n)];
        for c in quad.iter_mut().rev().take(pad) {
            *c = b'=';
        }
        Some(quad)
    })
}

/// The encoding of `data`, character by character.
#[inline]
pub(crate) fn base64_chars(data: &[u8]) -> impl Iterator<Item = u8> + '_ {
    quads(data).flat_map(IntoIterator::into_iter)
}

/// Appends the encoding of `data` to `out`.
#[inline]
pub(crate) fn push_base64(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(encoded_len(data.len()));
    for quad in quads(data) {
        out.extend_from_slice(&quad);
    }
}

/// Standard padded base64 as a string.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
    for quad in quads(bytes) {
        out.extend(quad.iter().map(|&c| char::from(c)));
    }
    out
}

/// Strict base64 (standard alphabet, canonical padding, no trailing bits), decoded.
pub(crate) fn decode_base64(
    value: &str,
    attribute: char,
    kind: MessageKind,
) -> Result<Vec<u8>, Error> {
    STANDARD
        .decode(value)
        .map_err(|_| malformed(kind, Problem::InvalidBase64(attribute)))
}

/// Checks that `value` is strict base64 (as [`decode_base64`]) without allocating: it is
/// decoded 64 characters at a time into a stack buffer. Only the last chunk may hold
/// padding; every earlier one is a whole number of quads, so decoding chunk by chunk
/// accepts exactly what decoding the whole value does.
pub(crate) fn validate_base64(
    value: &str,
    attribute: char,
    kind: MessageKind,
) -> Result<(), Error> {
    const CHUNK: usize = 64;
    let bad = || malformed(kind, Problem::InvalidBase64(attribute));
    if value.len() % 4 != 0 {
        return Err(bad());
    }
    let mut buf = [0u8; CHUNK / 4 * 3];
    let mut chunks = value.as_bytes().chunks(CHUNK).peekable();
    while let Some(chunk) = chunks.next() {
        if chunks.peek().is_some() && chunk.contains(&b'=') {
            return Err(bad());
        }
        STANDARD.decode_slice(chunk, &mut buf).map_err(|_| bad())?;
    }
    Ok(())
}

/// Whether `encoded` is the padded base64 of `a ‖ b`, compared without decoding or
/// allocating: the expected bytes are encoded 48 at a time (64 characters, no padding
/// but in the last chunk) and compared with the received text in constant time.
/// `encoded` must already be valid (see [`validate_base64`]): a canonical encoding is
/// unique, so equal text means equal bytes.
pub(crate) fn base64_matches(encoded: &str, a: &[u8], b: &[u8]) -> bool {
    const CHUNK: usize = 48;
    let total = a.len().saturating_add(b.len());
    if encoded.len() != encoded_len(total) || total == 0 {
        return false;
    }
    let mut input = a.iter().chain(b.iter()).copied();
    let mut text = encoded.as_bytes().chunks(encoded_len(CHUNK));
    let mut buf = [0u8; CHUNK];
    let mut out = [0u8; encoded_len(CHUNK)];
    let mut equal = true;
    let mut remaining = total;
    while remaining > 0 {
        let n = remaining.min(CHUNK);
        for (slot, byte) in buf.iter_mut().zip(&mut input).take(n) {
            *slot = byte;
        }
        let mut written = 0;
        for (dst, quad) in out
            .chunks_exact_mut(4)
            .zip(quads(buf.get(..n).unwrap_or(&buf)))
        {
            dst.copy_from_slice(&quad);
            written += 4;
        }
        let expected = out.get(..written).unwrap_or(&out);
        equal &= text.next().is_some_and(|got| crypto::ct_eq(got, expected));
        remaining -= n;
    }
    equal
}

/// Decodes a base64 proof or signature that must be exactly `expected` bytes, without allocating.
pub(crate) fn decode_key(
    value: &str,
    attribute: char,
    expected: usize,
    kind: MessageKind,
) -> Result<Key, Error> {
    let wrong_length = |found| {
        malformed(
            kind,
            Problem::WrongLength {
                attribute,
                expected,
                found,
            },
        )
    };
    let mut buf = [0u8; MAX_OUTPUT_LEN + 3];
    let found = STANDARD
        .decode_slice(value, &mut buf)
        .map_err(|e| match e {
            base64::DecodeSliceError::OutputSliceTooSmall => wrong_length(value.len() / 4 * 3),
            base64::DecodeSliceError::DecodeError(_) => {
                malformed(kind, Problem::InvalidBase64(attribute))
            }
        })?;
    let key = buf
        .get(..found)
        .filter(|_| found == expected)
        .and_then(Key::from_slice);
    zeroize::Zeroize::zeroize(&mut buf);
    key.ok_or(wrong_length(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_the_base64_crate() {
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in 0..data.len() {
            let input = &data[..len];
            let ours = encode_base64(input);
            assert_eq!(ours, STANDARD.encode(input), "{len}");
            let mut v = b"x=".to_vec();
            push_base64(&mut v, input);
            assert_eq!(&v[2..], ours.as_bytes());
            assert_eq!(encoded_len(len), ours.len());
        }
    }

    #[test]
    fn matches_compares_the_concatenation() {
        let a = b"p=tls-exporter,,";
        let b = [0xCB; 100];
        let mut both = a.to_vec();
        both.extend_from_slice(&b);
        let text = STANDARD.encode(&both);
        assert!(base64_matches(&text, a, &b));
        assert!(base64_matches(&text, &both, b""));
        assert!(!base64_matches(&text, a, &b[1..]));
        let mut other = b;
        other[99] = 0;
        assert!(!base64_matches(&text, a, &other));
        assert!(!base64_matches("", b"", b""));
        assert!(base64_matches("biws", b"n,,", b""));
        assert!(!base64_matches("biwt", b"n,,", b""));
    }

    #[test]
    fn strict_base64() {
        let k = MessageKind::ClientFinal;
        assert_eq!(decode_base64("biws", 'c', k).unwrap(), b"n,,");
        for bad in ["biw", "bi ws", "YQ", "YR==", "-_==", "YQ==YQ=="] {
            assert!(decode_base64(bad, 'c', k).is_err(), "{bad}");
            assert!(validate_base64(bad, 'c', k).is_err(), "{bad}");
        }
        assert!(validate_base64("YQ==", 'c', k).is_ok());
        // Padding inside a long value (at the end of a 64-character chunk) is refused too.
        let mut long = "QUFB".repeat(15);
        long.push_str("QQ==");
        long.push_str("QUFB");
        assert!(decode_base64(&long, 'c', k).is_err());
        assert!(validate_base64(&long, 'c', k).is_err());
        let ok = STANDARD.encode([7u8; 1000]);
        assert!(validate_base64(&ok, 'c', k).is_ok());
    }
}
