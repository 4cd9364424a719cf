//! `server-final-message = (server-error / verifier) ["," extensions]`.

use alloc::string::String;

use super::attributes::{Fields, malformed, preflight};
use super::base64::{decode_key, encode_base64};
use super::{Attributes, MessageKind, Problem, ServerErrorValue};
use crate::crypto::Key;
use crate::error::Error;

const KIND: MessageKind = MessageKind::ServerFinal;

/// What a server-final-message says.
///
/// ```
/// use mqtt_scram::message::{ServerErrorValue, ServerFinal, ServerFinalOutcome};
/// let m = ServerFinal::parse(b"e=invalid-proof", 32, 4096)?;
/// assert_eq!(m.outcome(), &ServerFinalOutcome::Error(ServerErrorValue::InvalidProof));
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerFinalOutcome {
    /// `v=`: the server signature.
    Verifier(Key),
    /// `e=`: the server rejected the exchange.
    Error(ServerErrorValue),
}

/// A parsed `server-final-message`.
///
/// ```
/// use mqtt_scram::message::{ServerFinal, ServerFinalOutcome};
/// let m = ServerFinal::parse(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", 32, 4096)?;
/// assert!(matches!(m.outcome(), ServerFinalOutcome::Verifier(v) if v.len() == 32));
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFinal<'a> {
    outcome: ServerFinalOutcome,
    extensions: &'a str,
}

impl<'a> ServerFinal<'a> {
    /// Parses a server-final-message of at most `max_len` bytes whose signature
    /// must be `signature_len` bytes.
    pub fn parse(bytes: &'a [u8], signature_len: usize, max_len: usize) -> Result<Self, Error> {
        let text = preflight(bytes, KIND, max_len)?;
        let mut fields = Fields::new(text, KIND);
        let outcome = if fields.peek_is('e') {
            let value = fields.expect('e')?;
            ServerFinalOutcome::Error(ServerErrorValue::parse(value))
        } else if fields.peek_is('v') {
            ServerFinalOutcome::Verifier(decode_key(
                fields.expect('v')?.as_bytes(),
                'v',
                signature_len,
                KIND,
            )?)
        } else {
            return Err(malformed(KIND, Problem::ExpectedAttribute('v')));
        };
        let extensions = fields.extensions()?;
        Ok(Self {
            outcome,
            extensions,
        })
    }

    /// Verifier or error.
    pub fn outcome(&self) -> &ServerFinalOutcome {
        &self.outcome
    }

    /// Optional extensions, in order.
    pub fn extensions(&self) -> Attributes<'a> {
        Attributes::new(self.extensions)
    }

    /// Writes `v=<base64 signature>`.
    pub fn write_verifier(signature: &Key) -> String {
        let mut out = String::from("v=");
        out.push_str(&encode_base64(signature.as_bytes()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let v = ServerFinal::parse(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", 32, 4096)
            .unwrap();
        assert!(matches!(v.outcome(), ServerFinalOutcome::Verifier(k) if k.len() == 32));
        let e = ServerFinal::parse(b"e=invalid-proof,x=1", 32, 4096).unwrap();
        assert_eq!(
            e.outcome(),
            &ServerFinalOutcome::Error(ServerErrorValue::InvalidProof)
        );
        let e = ServerFinal::parse(b"e=weird-thing", 32, 4096).unwrap();
        assert_eq!(
            e.outcome(),
            &ServerFinalOutcome::Error(ServerErrorValue::Extension("weird-thing".into()))
        );
        for bad in [
            "",
            "v=",
            "e=",
            "x=1",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
            "v=AAAA",
            "e=a,",
        ] {
            assert!(
                ServerFinal::parse(bad.as_bytes(), 32, 4096).is_err(),
                "{bad:?}"
            );
        }
    }
}
