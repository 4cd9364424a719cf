//! `server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]`.

use alloc::string::String;
use alloc::vec::Vec;

use super::attributes::{Fields, malformed, preflight};
use super::base64::{decode_base64, encode_base64};
use super::{Attributes, MessageKind, Problem, is_printable_nonce};
use crate::error::{Detail, Error};

const KIND: MessageKind = MessageKind::ServerFirst;

/// A parsed `server-first-message`.
///
/// ```
/// use mqtt_scram::message::ServerFirst;
/// let m = ServerFirst::parse(b"r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", 4096)?;
/// assert_eq!((m.nonce(), m.salt().len(), m.iterations()), ("abcdef", 16, 4096));
/// assert_eq!(ServerFirst::write(m.nonce(), m.salt(), 4096), m.as_str());
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFirst<'a> {
    raw: &'a str,
    nonce: &'a str,
    salt: Vec<u8>,
    iterations: u32,
    extensions: &'a str,
}

impl<'a> ServerFirst<'a> {
    /// Parses a server-first-message of at most `max_len` bytes.
    pub fn parse(bytes: &'a [u8], max_len: usize) -> Result<Self, Error> {
        let raw = preflight(bytes, KIND, max_len)?;
        let mut fields = Fields::new(raw, KIND);
        if fields.peek_is('m') {
            return Err(Detail::MandatoryExtension { message: KIND }.into());
        }
        let nonce = fields.expect('r')?;
        if !is_printable_nonce(nonce.as_bytes()) {
            return Err(malformed(KIND, Problem::InvalidNonce));
        }
        let salt = decode_base64(fields.expect('s')?, 's', KIND)?;
        if salt.is_empty() {
            return Err(malformed(KIND, Problem::EmptySalt));
        }
        let iterations = parse_iteration_count(fields.expect('i')?)
            .ok_or(malformed(KIND, Problem::InvalidIterationCount))?;
        let extensions = fields.extensions()?;
        Ok(Self {
            raw,
            nonce,
            salt,
            iterations,
            extensions,
        })
    }

    /// The message exactly as received (the middle of the AuthMessage).
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The combined nonce (client nonce followed by the server's part).
    pub fn nonce(&self) -> &'a str {
        self.nonce
    }

    /// The decoded salt (never empty).
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The iteration count (at least 1).
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Optional extensions, in order.
    pub fn extensions(&self) -> Attributes<'a> {
        Attributes::new(self.extensions)
    }

    /// Writes `r=<nonce>,s=<base64 salt>,i=<iterations>`.
    pub fn write(nonce: &str, salt: &[u8], iterations: u32) -> String {
        let mut out = String::with_capacity(nonce.len() + salt.len() * 4 / 3 + 24);
        out.push_str("r=");
        out.push_str(nonce);
        out.push_str(",s=");
        out.push_str(&encode_base64(salt));
        out.push_str(",i=");
        push_u32(&mut out, iterations);
        out
    }
}

/// `posit-number = %x31-39 *DIGIT`, within `u32`.
fn parse_iteration_count(value: &str) -> Option<u32> {
    let first = value.bytes().next()?;
    if !(b'1'..=b'9').contains(&first) || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn push_u32(out: &mut String, value: u32) {
    use core::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(out, "{value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7677() {
        let s = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let m = ServerFirst::parse(s.as_bytes(), 4096).unwrap();
        assert_eq!(
            m.nonce(),
            "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        assert_eq!(m.iterations(), 4096);
        assert_eq!(m.salt().len(), 16);
        assert_eq!(ServerFirst::write(m.nonce(), m.salt(), 4096), s);
    }

    #[test]
    fn rejects() {
        for bad in [
            "r=a,s=QQ==",
            "r=a,s=QQ==,i=0",
            "r=a,s=QQ==,i=01",
            "r=a,s=QQ==,i=-1",
            "r=a,s=QQ==,i=4294967296",
            "r=a,s=QQ==,i=1x",
            "r=a,s=,i=1",
            "r=a,s=QQ,i=1",
            "s=QQ==,r=a,i=1",
            "r=,s=QQ==,i=1",
            "r=a,s=QQ==,i=1,",
            "r=a,s=QQ==,i=1,ext",
            "r=a b,s=QQ==,i=1",
            "r=a,s=QQ==,i= 1",
        ] {
            assert!(ServerFirst::parse(bad.as_bytes(), 4096).is_err(), "{bad:?}");
        }
        assert_eq!(
            ServerFirst::parse(b"m=x,r=a,s=QQ==,i=1", 4096),
            Err(Detail::MandatoryExtension { message: KIND }.into())
        );
        let ok = ServerFirst::parse(b"r=a,s=QQ==,i=4294967295,z=1", 4096).unwrap();
        assert_eq!(ok.iterations(), u32::MAX);
        assert_eq!(ok.extensions().as_str(), "z=1");
    }
}
