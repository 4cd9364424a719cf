//! Base64 as SCRAM uses it (RFC 5802 §7: standard alphabet, padded, canonical), over the
//! `base64` crate.
//!
//! [`STRICT`] spells out the rules the engine keeps: the standard alphabet, padding
//! written, and on decoding canonical padding required (none missing, none extra, none
//! inside a value), no whitespace or other non-alphabet byte, and no set bits after the
//! last byte. A canonical encoding is unique, which [`base64_matches`] relies on. The
//! engine once had its own table-driven coder; `benches/base64.rs` showed the crate costs
//! about 2 % of a SCRAM-SHA-256 server exchange more (BENCHMARKS.md, "base64: ours vs the
//! base64 crate"), under the 5 % that would have justified keeping it. Everything coded
//! here is public (nonces, salts, proofs, signatures, channel-binding data), so the
//! crate's table lookups need not be constant time.

use alloc::string::String;
use alloc::vec::Vec;

use base64::DecodeSliceError;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine as _};

use super::attributes::malformed;
use super::{MessageKind, Problem};
use crate::crypto::{self, Key};
use crate::error::Error;

/// The engine's base64: the standard alphabet, padded, decoding only canonical text.
/// (These are the `base64` crate's `STANDARD` defaults, written out so that a change of
/// defaults cannot loosen them.)
pub(crate) const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_allow_trailing_bits(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Characters of the padded encoding of `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    len.div_ceil(3).saturating_mul(4)
}

/// Encodes `data` into the start of `out`, which must hold [`encoded_len`] bytes (a
/// shorter `out` gets nothing); returns the characters written.
#[inline]
pub(crate) fn encode_into(data: &[u8], out: &mut [u8]) -> usize {
    STRICT.encode_slice(data, out).unwrap_or(0)
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
    STRICT.encode(bytes)
}

/// Checks `text` without allocating, 64 characters (48 bytes) at a time; returns the
/// decoded length, `None` when `text` is not strict base64.
fn validate(text: &[u8]) -> Option<usize> {
    const CHUNK: usize = encoded_len(48);
    let mut buf = [0u8; 48];
    let mut total = 0;
    let mut chunks = text.chunks(CHUNK).peekable();
    while let Some(chunk) = chunks.next() {
        // Each chunk alone would be canonical with its own padding: only the last may pad.
        if chunks.peek().is_some() && chunk.contains(&b'=') {
            return None;
        }
        total += STRICT.decode_slice(chunk, &mut buf).ok()?;
    }
    Some(total)
}

/// Strict base64 (standard alphabet, canonical padding, no trailing bits), decoded.
pub(crate) fn decode_base64(
    value: &str,
    attribute: char,
    kind: MessageKind,
) -> Result<Vec<u8>, Error> {
    STRICT
        .decode(value)
        .map_err(|_| malformed(kind, Problem::InvalidBase64(attribute)))
}

/// Checks that `value` is strict base64 (as [`decode_base64`]) without decoding it into
/// an allocation.
pub(crate) fn validate_base64(
    value: &str,
    attribute: char,
    kind: MessageKind,
) -> Result<(), Error> {
    validate(value.as_bytes())
        .map(drop)
        .ok_or_else(|| malformed(kind, Problem::InvalidBase64(attribute)))
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
/// into the key (no intermediate buffer to wipe). Valid base64 of another length is a
/// wrong length (with the length found), anything else invalid base64.
pub(crate) fn decode_key(
    value: &[u8],
    attribute: char,
    expected: usize,
    kind: MessageKind,
) -> Result<Key, Error> {
    let mut found = 0;
    let key = Key::fill(expected, |buf| {
        let out = match buf.get_mut(..expected) {
            Some(out) => out,
            None => buf.as_mut_slice(),
        };
        match STRICT.decode_slice(value, out) {
            Ok(n) => {
                found = n;
                Ok(n == expected)
            }
            // Longer than expected, or garbage: tell them apart.
            Err(DecodeSliceError::OutputSliceTooSmall) => {
                found = validate(value).ok_or(())?;
                Ok(false)
            }
            Err(DecodeSliceError::DecodeError(_)) => Err(()),
        }
    });
    match key {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(malformed(
            kind,
            Problem::WrongLength {
                attribute,
                expected,
                found,
            },
        )),
        Err(()) => Err(malformed(kind, Problem::InvalidBase64(attribute))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: MessageKind = MessageKind::ClientFinal;

    fn decodes(text: &str) -> bool {
        let decoded = decode_base64(text, 'c', K).is_ok();
        assert_eq!(validate_base64(text, 'c', K).is_ok(), decoded, "{text:?}");
        decoded
    }

    #[test]
    fn round_trip_and_lengths() {
        let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in 0..data.len() {
            let input = &data[..len];
            let text = encode_base64(input);
            assert_eq!(text.len(), encoded_len(len));
            assert_eq!(decode_base64(&text, 'c', K).unwrap(), input);
            assert!(validate_base64(&text, 'c', K).is_ok());
            let mut v = b"x=".to_vec();
            push_base64(&mut v, input);
            assert_eq!(&v[2..], text.as_bytes());
            let mut out = alloc::vec![0; encoded_len(len) + 3];
            assert_eq!(encode_into(input, &mut out), text.len());
            assert_eq!(&out[..text.len()], text.as_bytes());
        }
        assert_eq!(encode_base64(b"n,,"), "biws");
        assert_eq!(encode_base64(b"a"), "YQ==");
        assert_eq!(encode_base64(&[0xFB, 0xFF]), "+/8=");
    }

    /// Every decoded text is the one canonical encoding of its bytes: exhaustively over
    /// 4-character texts (alone and after a full quad) of an alphabet with the edge cases,
    /// anything that decodes encodes back to itself.
    #[test]
    fn only_canonical_text_decodes() {
        let alphabet = b"AQgw=+/z-_ \x00\n";
        let mut accepted = 0;
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for d in alphabet {
                        let quad = String::from_utf8_lossy(&[*a, *b, *c, *d]).into_owned();
                        for text in [quad.clone(), alloc::format!("QUFB{quad}")] {
                            if decodes(&text) {
                                accepted += 1;
                                let bytes = decode_base64(&text, 'c', K).unwrap();
                                assert_eq!(encode_base64(&bytes), text);
                            }
                        }
                    }
                }
            }
        }
        assert!(accepted > 1000, "{accepted}");
    }

    #[test]
    fn strict_rules() {
        assert_eq!(decode_base64("biws", 'c', K).unwrap(), b"n,,");
        assert_eq!(decode_base64("", 'c', K).unwrap(), b"");
        for bad in [
            // padding missing, short, extra, or inside the value
            "YQ", "YQ=", "YQ===", "YWI", "Y===", "=", "==", "====", "YQ==YQ==", "YQ=a",
            // non-canonical trailing bits ("a" is YQ==, "ab" is YWI=)
            "YR==", "YZ==", "YWJ=", "YWL=", // whitespace anywhere
            " YQ==", "YQ== ", "Y Q==", "YQ==\n", "YQ\r\n==", "\tbiws",
            // URL-safe alphabet, other bytes
            "-_==", "a-b_", "biw.", "bi\0s", "biwsé", // length not a multiple of 4
            "b", "bi", "biw", "biwsb",
        ] {
            assert!(!decodes(bad), "{bad:?}");
            assert_eq!(
                decode_base64(bad, 'c', K).unwrap_err(),
                malformed(K, Problem::InvalidBase64('c'))
            );
        }
        // Padding inside a long value (at the end of a 64-character chunk) is refused too.
        let mut long = "QUFB".repeat(15);
        long.push_str("QQ==");
        long.push_str("QUFB");
        assert!(!decodes(&long));
        let ok = encode_base64(&[7u8; 1000]);
        assert!(decodes(&ok));
        assert!(!decodes(&alloc::format!("{ok} ")));
    }

    #[test]
    fn keys_of_the_expected_length_only() {
        let proof = [0x5Au8; 32];
        let text = encode_base64(&proof);
        let key = decode_key(text.as_bytes(), 'p', 32, K).unwrap();
        assert_eq!(key.as_bytes(), proof);
        let long = encode_base64(&[1u8; 64]);
        let wrong = |found| {
            malformed(
                K,
                Problem::WrongLength {
                    attribute: 'p',
                    expected: 32,
                    found,
                },
            )
        };
        assert_eq!(
            decode_key(long.as_bytes(), 'p', 32, K).unwrap_err(),
            wrong(64)
        );
        let short = encode_base64(&[1u8; 31]);
        assert_eq!(
            decode_key(short.as_bytes(), 'p', 32, K).unwrap_err(),
            wrong(31)
        );
        let invalid = malformed(K, Problem::InvalidBase64('p'));
        // Invalid text is invalid whatever its length: too long, right length, short.
        let mut bad = long.clone().into_bytes();
        bad[10] = b'-';
        assert_eq!(decode_key(&bad, 'p', 32, K).unwrap_err(), invalid);
        let mut bad = text.clone().into_bytes();
        bad[42] = b'B'; // a trailing bit: 32 bytes end in a symbol with 2 unused bits
        assert_eq!(decode_key(&bad, 'p', 32, K).unwrap_err(), invalid);
        assert_eq!(decode_key(b"YQ", 'p', 32, K).unwrap_err(), invalid);
        let mut spaced = text.into_bytes();
        spaced.insert(4, b' ');
        assert_eq!(decode_key(&spaced, 'p', 32, K).unwrap_err(), invalid);
        let sig = [9u8; 64];
        let key = decode_key(encode_base64(&sig).as_bytes(), 'v', 64, K).unwrap();
        assert_eq!(key.as_bytes(), sig);
    }

    #[test]
    fn matches_compares_the_concatenation() {
        let a = b"p=tls-exporter,,";
        let b = [0xCB; 100];
        let mut both = a.to_vec();
        both.extend_from_slice(&b);
        let text = encode_base64(&both);
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
            encode_base64(&b[..48]).as_bytes(),
            &b[..48],
            b""
        ));
        assert!(!base64_matches(b"biw=", b"n,,", b""));
    }
}
