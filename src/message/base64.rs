//! Base64 as SCRAM uses it (RFC 5802 §7: standard alphabet, padded, canonical).
//!
//! SCRAM's base64 values are short (a salt, a nonce, a proof or signature, the gs2
//! header): a few dozen characters, for which the `base64` crate's general engine costs
//! more than the conversion itself. These table-driven coders work on one quad at a time,
//! never allocate (the server compares `c=` by encoding the expected bytes), and decode
//! exactly what the `base64` crate's `STANDARD` engine accepts (canonical padding, no
//! trailing bits), which `tests::decoding_matches_the_base64_crate` checks. Everything
//! they handle is public (nonces, salts, proofs, signatures, channel-binding data), so
//! the table lookups need not be constant time.

use alloc::string::String;
use alloc::vec::Vec;

use super::attributes::malformed;
use super::{MessageKind, Problem};
use crate::crypto::{self, Key};
use crate::error::Error;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks a byte that is not a base64 symbol ('=' included: padding is handled apart).
const INVALID: u8 = 0xFF;

/// Symbol value of every byte, [`INVALID`] for the rest.
// Evaluated at compile time: an out-of-range index is a build error, not a panic.
#[allow(clippy::indexing_slicing)]
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Characters of the padded encoding of `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    len.div_ceil(3).saturating_mul(4)
}

#[inline(always)]
fn symbol(v: u32) -> u8 {
    // `v & 63` is below 64: the lookup always hits.
    ALPHABET.get((v & 63) as usize).copied().unwrap_or(b'A')
}

#[inline(always)]
fn value(c: u8) -> u8 {
    DECODE.get(usize::from(c)).copied().unwrap_or(INVALID)
}

/// Encodes `data` into the start of `out`, which must hold [`encoded_len`] bytes (a
/// shorter `out` gets a prefix of the encoding); returns the characters written.
#[inline]
pub(crate) fn encode_into(data: &[u8], out: &mut [u8]) -> usize {
    let mut written = 0;
    let mut outs = out.chunks_exact_mut(4);
    let mut ins = data.chunks_exact(3);
    // `ins` first: when it runs out, `zip` stops without taking a chunk of `outs`.
    for (src, dst) in (&mut ins).zip(&mut outs) {
        if let ([a, b, c], [w, x, y, z]) = (src, dst) {
            let n = u32::from(*a) << 16 | u32::from(*b) << 8 | u32::from(*c);
            *w = symbol(n >> 18);
            *x = symbol(n >> 12);
            *y = symbol(n >> 6);
            *z = symbol(n);
            written += 4;
        }
    }
    let (n, pad) = match *ins.remainder() {
        [a, b] => (u32::from(a) << 16 | u32::from(b) << 8, 1),
        [a] => (u32::from(a) << 16, 2),
        _ => return written,
    };
    if let Some(dst) = outs.next() {
        let quad = [symbol(n >> 18), symbol(n >> 12), symbol(n >> 6), symbol(n)];
        for (i, (d, q)) in dst.iter_mut().zip(quad).enumerate() {
            *d = if i >= 4 - pad { b'=' } else { q };
        }
        written += 4;
    }
    written
}

/// Appends the encoding of `data` to `out`.
#[inline]
pub(crate) fn push_base64(out: &mut Vec<u8>, data: &[u8]) {
    let at = out.len();
    out.resize(at + encoded_len(data.len()), 0);
    let written = out.get_mut(at..).map_or(0, |tail| encode_into(data, tail));
    out.truncate(at + written);
}

/// Standard padded base64 as a string.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    push_base64(&mut out, bytes);
    // Symbols and padding are ASCII, so this never falls back to the empty string.
    String::from_utf8(out).unwrap_or_default()
}

/// Why strict decoding failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DecodeError {
    /// Not canonical padded standard base64.
    Invalid,
    /// Valid, but it decodes to this many bytes, more than the output holds.
    TooLong(usize),
}

/// The length `text` decodes to, from its length and padding; `None` when the length is
/// not a multiple of 4.
fn decoded_len(text: &[u8]) -> Option<usize> {
    if text.len() % 4 != 0 {
        return None;
    }
    let pad = match text {
        [.., b'=', b'='] => 2,
        [.., b'='] => 1,
        _ => 0,
    };
    Some(text.len() / 4 * 3 - pad)
}

/// The last quad of a canonical encoding: its bytes and whether it is invalid (a
/// non-symbol, misplaced padding, or set bits after the last byte).
#[inline(always)]
fn last_quad(quad: &[u8]) -> ([u8; 3], bool) {
    match *quad {
        [a, b, b'=', b'='] => {
            let (a, b) = (value(a), value(b));
            let bad = (a | b) & 0x80 != 0 || b & 0x0F != 0;
            ([a << 2 | b >> 4, 0, 0], bad)
        }
        [a, b, c, b'='] => {
            let (a, b, c) = (value(a), value(b), value(c));
            let bad = (a | b | c) & 0x80 != 0 || c & 0x03 != 0;
            ([a << 2 | b >> 4, b << 4 | c >> 2, 0], bad)
        }
        [a, b, c, d] => {
            let (a, b, c, d) = (value(a), value(b), value(c), value(d));
            let bad = (a | b | c | d) & 0x80 != 0;
            ([a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d], bad)
        }
        _ => ([0; 3], true),
    }
}

/// The 24 bits of a full quad, and whether a character is not a symbol.
#[inline(always)]
fn full_quad(quad: &[u8]) -> (u32, bool) {
    match *quad {
        [a, b, c, d] => {
            let (a, b, c, d) = (value(a), value(b), value(c), value(d));
            let n = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
            (n, (a | b | c | d) & 0x80 != 0)
        }
        _ => (0, true),
    }
}

/// Checks `text` without decoding it; returns the decoded length.
fn validate(text: &[u8]) -> Result<usize, DecodeError> {
    let len = decoded_len(text).ok_or(DecodeError::Invalid)?;
    let (body, last) = text
        .split_at_checked(text.len().saturating_sub(4))
        .unwrap_or((text, &[]));
    let mut bad = body
        .chunks_exact(4)
        .fold(false, |bad, quad| bad | full_quad(quad).1);
    if !last.is_empty() {
        bad |= last_quad(last).1;
    }
    if bad {
        Err(DecodeError::Invalid)
    } else {
        Ok(len)
    }
}

/// Strictly decodes `text` into the start of `out`; returns the bytes written.
fn decode(text: &[u8], out: &mut [u8]) -> Result<usize, DecodeError> {
    let len = decoded_len(text).ok_or(DecodeError::Invalid)?;
    let Some(out) = out.get_mut(..len) else {
        // Tell a wrong length from garbage, as the `base64` crate does.
        validate(text)?;
        return Err(DecodeError::TooLong(len));
    };
    if text.is_empty() {
        return Ok(0);
    }
    // Both splits exist: `text` holds at least one quad and `out` exactly `len` bytes.
    let (Some((body, last)), Some((out_body, out_last))) = (
        text.split_at_checked(text.len() - 4),
        out.split_at_mut_checked((text.len() - 4) / 4 * 3),
    ) else {
        return Err(DecodeError::Invalid);
    };
    let mut bad = false;
    for (quad, dst) in body.chunks_exact(4).zip(out_body.chunks_exact_mut(3)) {
        let (n, invalid) = full_quad(quad);
        bad |= invalid;
        if let [x, y, z] = dst {
            *x = (n >> 16) as u8;
            *y = (n >> 8) as u8;
            *z = n as u8;
        }
    }
    let (tail, invalid) = last_quad(last);
    for (d, t) in out_last.iter_mut().zip(tail) {
        *d = t;
    }
    if bad | invalid {
        Err(DecodeError::Invalid)
    } else {
        Ok(len)
    }
}

/// Strict base64 (standard alphabet, canonical padding, no trailing bits), decoded.
pub(crate) fn decode_base64(
    value: &str,
    attribute: char,
    kind: MessageKind,
) -> Result<Vec<u8>, Error> {
    let bad = || malformed(kind, Problem::InvalidBase64(attribute));
    let len = decoded_len(value.as_bytes()).ok_or_else(bad)?;
    let mut out = alloc::vec![0; len];
    let written = decode(value.as_bytes(), &mut out).map_err(|_| bad())?;
    out.truncate(written);
    Ok(out)
}

/// Checks that `value` is strict base64 (as [`decode_base64`]) without decoding it.
pub(crate) fn validate_base64(
    value: &str,
    attribute: char,
    kind: MessageKind,
) -> Result<(), Error> {
    validate(value.as_bytes())
        .map(drop)
        .map_err(|_| malformed(kind, Problem::InvalidBase64(attribute)))
}

/// Whether `encoded` is the padded base64 of `a ‖ b`, compared without decoding or
/// allocating: the expected bytes are encoded 48 at a time (64 characters, no padding
/// but in the last chunk) and compared with the received text in constant time.
/// `encoded` need not be valid base64: a canonical encoding is unique, so equal text
/// means equal bytes, and any other text differs.
pub(crate) fn base64_matches(encoded: &[u8], a: &[u8], b: &[u8]) -> bool {
    const CHUNK: usize = 48;
    let total = a.len().saturating_add(b.len());
    if encoded.len() != encoded_len(total) || total == 0 {
        return false;
    }
    let mut out = [0u8; encoded_len(CHUNK)];
    if b.is_empty() && a.len() <= CHUNK {
        // The usual `c=` of a client without channel binding (`biws` for `n,,`).
        let written = encode_into(a, &mut out);
        return crypto::ct_eq(encoded, out.get(..written).unwrap_or(&out));
    }
    let mut input = a.iter().chain(b.iter()).copied();
    let mut text = encoded.chunks(encoded_len(CHUNK));
    let mut buf = [0u8; CHUNK];
    let mut equal = true;
    let mut remaining = total;
    while remaining > 0 {
        let n = remaining.min(CHUNK);
        for (slot, byte) in buf.iter_mut().zip(&mut input).take(n) {
            *slot = byte;
        }
        let written = encode_into(buf.get(..n).unwrap_or(&buf), &mut out);
        let expected = out.get(..written).unwrap_or(&out);
        equal &= text.next().is_some_and(|got| crypto::ct_eq(got, expected));
        remaining -= n;
    }
    equal
}

/// Decodes a base64 proof or signature that must be exactly `expected` bytes, straight
/// into the key (no intermediate buffer to wipe).
pub(crate) fn decode_key(
    value: &[u8],
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
    let mut found = 0;
    let key = Key::fill(expected, |buf| match decode(value, buf) {
        Ok(n) => {
            found = n;
            Ok(n == expected)
        }
        Err(DecodeError::TooLong(n)) => {
            found = n;
            Ok(false)
        }
        Err(DecodeError::Invalid) => Err(()),
    });
    match key {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(wrong_length(found)),
        Err(()) => Err(malformed(kind, Problem::InvalidBase64(attribute))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

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
        let text = text.as_bytes();
        assert!(base64_matches(text, a, &b));
        assert!(base64_matches(text, &both, b""));
        assert!(!base64_matches(text, a, &b[1..]));
        let mut other = b;
        other[99] = 0;
        assert!(!base64_matches(text, a, &other));
        assert!(!base64_matches(b"", b"", b""));
        assert!(base64_matches(b"biws", b"n,,", b""));
        assert!(!base64_matches(b"biwt", b"n,,", b""));
        assert!(base64_matches(
            STANDARD.encode(&b[..48]).as_bytes(),
            &b[..48],
            b""
        ));
        assert!(!base64_matches(b"biw=", b"n,,", b""));
    }

    #[test]
    fn decoding_matches_the_base64_crate() {
        let k = MessageKind::ClientFinal;
        let data: Vec<u8> = (0..=255u8).collect();
        let mut cases: Vec<String> = (0..100).map(|n| STANDARD.encode(&data[..n])).collect();
        // Every 4-character text over a small alphabet with the interesting characters.
        let alphabet = b"AQgw=+/z-_ \x00";
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for d in alphabet {
                        cases.push(String::from_utf8_lossy(&[*a, *b, *c, *d]).into_owned());
                        cases.push(alloc::format!(
                            "QUFB{}",
                            String::from_utf8_lossy(&[*a, *b, *c, *d])
                        ));
                    }
                }
            }
        }
        cases.extend(
            [
                "", "=", "==", "===", "====", "A", "AB", "ABC", "QQ==QQ==", "QUFBQQ",
            ]
            .map(String::from),
        );
        for text in &cases {
            let theirs = STANDARD.decode(text).ok();
            let ours = decode_base64(text, 'c', k).ok();
            assert_eq!(ours, theirs, "{text:?}");
            assert_eq!(
                validate_base64(text, 'c', k).is_ok(),
                theirs.is_some(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn strict_base64() {
        let k = MessageKind::ClientFinal;
        assert_eq!(decode_base64("biws", 'c', k).unwrap(), b"n,,");
        for bad in ["biw", "bi ws", "YQ", "YR==", "-_==", "YQ==YQ==", "Y==="] {
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
