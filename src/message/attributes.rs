//! The attribute grammar shared by all four messages (RFC 5802 §7): fields split
//! on `,`, `<letter>=<value>` attributes, saslname escaping, nonces and base64.

use alloc::borrow::Cow;
use alloc::string::String;

use super::{MessageKind, Problem};
use crate::error::{Detail, Error};

/// One `<letter>=<value>` attribute, borrowed from a message.
///
/// ```
/// use mqtt_scram::message::{Attribute, ClientFirst};
/// let m = ClientFirst::parse(b"n,,n=alice,r=abc,x=1", 4096)?;
/// assert_eq!(m.extensions().next(), Some(Attribute { name: 'x', value: "1" }));
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The attribute letter.
    pub name: char,
    /// The value after `=` (never empty).
    pub value: &'a str,
}

/// Iterator over the optional extensions at the end of a message, in wire order.
///
/// Built only from text a parser already validated, so every item is well formed.
///
/// ```
/// use mqtt_scram::message::ServerFirst;
/// let m = ServerFirst::parse(b"r=abc,s=c2FsdA==,i=4096,x=1,y=2", 4096)?;
/// let names: Vec<char> = m.extensions().map(|a| a.name).collect();
/// assert_eq!(names, ['x', 'y']);
/// assert_eq!(m.extensions().as_str(), "x=1,y=2");
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Attributes<'a> {
    rest: &'a str,
}

impl<'a> Attributes<'a> {
    pub(crate) fn new(raw: &'a str) -> Self {
        Self { rest: raw }
    }

    /// The raw text of all extensions, without the leading comma (empty when none).
    pub fn as_str(&self) -> &'a str {
        self.rest
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (field, rest) = self.rest.split_once(',').unwrap_or((self.rest, ""));
        self.rest = rest;
        let mut chars = field.chars();
        let name = chars.next()?;
        let value = chars.as_str().strip_prefix('=')?;
        Some(Attribute { name, value })
    }
}

/// Rejects input over `max`, not UTF-8, empty, or containing NUL.
pub(crate) fn preflight(bytes: &[u8], kind: MessageKind, max: usize) -> Result<&str, Error> {
    if bytes.len() > max {
        return Err(Detail::TooLong {
            message: kind,
            len: bytes.len(),
            max,
        }
        .into());
    }
    let text = core::str::from_utf8(bytes).map_err(|_| malformed(kind, Problem::NotUtf8))?;
    if text.is_empty() {
        return Err(malformed(kind, Problem::Empty));
    }
    // A branch-free scan: messages are short, and `memchr`'s set-up costs more here.
    if bytes.iter().fold(false, |nul, &b| nul | (b == 0)) {
        return Err(malformed(kind, Problem::ContainsNul));
    }
    Ok(text)
}

pub(crate) fn malformed(message: MessageKind, problem: Problem) -> Error {
    Detail::Malformed { message, problem }.into()
}

/// Walks the comma-separated fields of one message.
pub(crate) struct Fields<'a> {
    rest: Option<&'a str>,
    kind: MessageKind,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(text: &'a str, kind: MessageKind) -> Self {
        Self {
            rest: Some(text),
            kind,
        }
    }

    /// The next field, raw.
    pub(crate) fn next_raw(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match split_at_comma(rest) {
            Some((field, tail)) => {
                self.rest = Some(tail);
                Some(field)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }

    /// Whether the next field starts with `name=`.
    pub(crate) fn peek_is(&self, name: char) -> bool {
        self.rest.is_some_and(|r| attr_value(r, name).is_some())
    }

    /// The next field, which must be `name=<non-empty value>`; returns the value.
    pub(crate) fn expect(&mut self, name: char) -> Result<&'a str, Error> {
        let field = self
            .next_raw()
            .ok_or(malformed(self.kind, Problem::MissingAttribute(name)))?;
        let value = attr_value(field, name)
            .ok_or(malformed(self.kind, Problem::ExpectedAttribute(name)))?;
        if value.is_empty() {
            return Err(malformed(self.kind, Problem::EmptyValue(name)));
        }
        Ok(value)
    }

    /// Everything not yet consumed (`None` when the message ended exactly).
    pub(crate) fn remainder(&self) -> Option<&'a str> {
        self.rest
    }

    /// Validates the remaining fields as extensions and returns their raw text.
    pub(crate) fn extensions(self) -> Result<&'a str, Error> {
        let Some(rest) = self.rest else { return Ok("") };
        validate_extensions(rest, self.kind)?;
        Ok(rest)
    }
}

/// Checks that `raw` is `attr-val *("," attr-val)` (RFC 5802 §7 `extensions`).
pub(crate) fn validate_extensions(raw: &str, kind: MessageKind) -> Result<(), Error> {
    for field in raw.split(',') {
        let mut chars = field.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars
                .as_str()
                .strip_prefix('=')
                .is_some_and(|v| !v.is_empty());
        if !ok {
            return Err(malformed(
                kind,
                if field.is_empty() {
                    Problem::EmptyField
                } else {
                    Problem::InvalidExtension
                },
            ));
        }
    }
    Ok(())
}

/// The value of `field` if it is `name=<value>` (`name` is an ASCII letter).
#[inline]
fn attr_value(field: &str, name: char) -> Option<&str> {
    match field.as_bytes() {
        [n, b'=', ..] if u32::from(*n) == u32::from(name) => field.get(2..),
        _ => None,
    }
}

/// `text` split around its first comma.
#[inline]
pub(crate) fn split_at_comma(text: &str) -> Option<(&str, &str)> {
    let at = find_byte(text.as_bytes(), b',')?;
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// Escapes a name for the wire: `,` → `=2C`, `=` → `=3D` (RFC 5802 §5.1).
pub fn escape_saslname(name: &str) -> Cow<'_, str> {
    if !name.contains([',', '=']) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            ',' => out.push_str("=2C"),
            '=' => out.push_str("=3D"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Reverses [`escape_saslname`]. `None` if a `=` is not followed by `2C` or `3D`
/// (upper case only, as the RFC's grammar says), or the name is empty.
pub fn unescape_saslname(wire: &str) -> Option<Cow<'_, str>> {
    if wire.is_empty() {
        return None;
    }
    if find_byte(wire.as_bytes(), b'=').is_none() {
        return Some(Cow::Borrowed(wire));
    }
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some((head, tail)) = rest.split_once('=') {
        out.push_str(head);
        if let Some(t) = tail.strip_prefix("2C") {
            out.push(',');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("3D") {
            out.push('=');
            rest = t;
        } else {
            return None;
        }
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// Whether `nonce` is `1*printable`: ASCII 0x21..=0x7E except `,`.
pub(crate) fn is_printable_nonce(nonce: &[u8]) -> bool {
    // A fold without early exit, which the compiler turns into vector code.
    !nonce.is_empty()
        && nonce.iter().fold(true, |ok, &b| {
            ok & (b.wrapping_sub(0x21) < 0x5E) & (b != b',')
        })
}

/// The index of the first `needle` in `haystack`, eight bytes at a time (the classic
/// "has a zero byte" test on `word ^ needle×8`; the lowest flagged byte is always a true
/// match). Faster than `memchr` on the few dozen bytes of a SCRAM field.
#[inline]
pub(crate) fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut words = haystack.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes) ^ pattern;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslname_round_trip() {
        for name in ["user", "a,b", "a=b", "=,=", "=2C", "ünï,cöde="] {
            let wire = escape_saslname(name);
            assert!(!wire.contains(','));
            assert_eq!(unescape_saslname(&wire).as_deref(), Some(name));
        }
        for bad in ["", "a=", "a=2", "a=2c", "a=3d", "a=41", "=="] {
            assert_eq!(unescape_saslname(bad), None, "{bad}");
        }
    }

    #[test]
    fn find_byte_agrees_with_position() {
        let text: alloc::vec::Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for start in 0..40 {
            for end in start..text.len() {
                let hay = &text[start..end];
                for needle in [b',', 0, 0x80, 0xFF, hay.last().copied().unwrap_or(1)] {
                    assert_eq!(
                        find_byte(hay, needle),
                        hay.iter().position(|&b| b == needle),
                        "{start}..{end} {needle}"
                    );
                }
            }
        }
    }

    #[test]
    fn nonces() {
        assert!(is_printable_nonce(b"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"));
        assert!(!is_printable_nonce(b""));
        assert!(!is_printable_nonce(b"a b"));
        assert!(!is_printable_nonce(b"a,b"));
        assert!(!is_printable_nonce("é".as_bytes()));
    }
}
