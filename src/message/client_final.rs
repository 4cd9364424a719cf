//! `client-final-message = channel-binding "," nonce ["," extensions] "," proof`.

use alloc::string::String;
use alloc::vec::Vec;

use super::attributes::{Fields, malformed, preflight, validate_extensions};
use super::base64::{base64_matches, decode_base64, decode_key, encode_base64, validate_base64};
use super::{Attributes, MessageKind, Problem, is_printable_nonce};
use crate::crypto::Key;
use crate::error::{Detail, Error};

const KIND: MessageKind = MessageKind::ClientFinal;

/// A parsed `client-final-message`.
///
/// Parsing allocates nothing: `c=` is validated as strict base64 and kept as text.
///
/// ```
/// use mqtt_scram::message::ClientFinal;
/// let m = ClientFinal::parse(b"c=biws,r=abcdef,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", 32, 4096)?;
/// assert_eq!(m.channel_binding(), b"n,,");
/// assert!(m.channel_binding_is(b"n,,", b""));
/// assert_eq!(m.nonce(), "abcdef");
/// assert_eq!(m.without_proof(), "c=biws,r=abcdef");
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFinal<'a> {
    without_proof: &'a str,
    /// `c=` as received (valid base64).
    channel_binding: &'a str,
    nonce: &'a str,
    extensions: &'a str,
    proof: Key,
}

impl<'a> ClientFinal<'a> {
    /// Parses a client-final-message of at most `max_len` bytes whose proof must be
    /// `proof_len` bytes (the hash output length).
    pub fn parse(bytes: &'a [u8], proof_len: usize, max_len: usize) -> Result<Self, Error> {
        let text = preflight(bytes, KIND, max_len)?;
        let missing_proof = || malformed(KIND, Problem::MissingAttribute('p'));
        // The proof is the last field: the text after the last comma. A proof of the
        // expected length is `,p=` and its base64, so look there first.
        let expected_at = text.len().checked_sub(3 + super::encoded_len(proof_len));
        let comma = match expected_at {
            Some(at) if text.as_bytes().get(at) == Some(&b',') => at,
            _ => text
                .bytes()
                .rposition(|b| b == b',')
                .ok_or_else(missing_proof)?,
        };
        let (without_proof, proof_field) = (
            text.get(..comma).ok_or_else(missing_proof)?,
            text.get(comma + 1..).ok_or_else(missing_proof)?,
        );
        let proof_b64 = match proof_field.as_bytes() {
            [b'p', b'=', ..] => proof_field.get(2..).ok_or_else(missing_proof)?,
            _ => return Err(missing_proof()),
        };
        if proof_b64.is_empty() {
            return Err(malformed(KIND, Problem::EmptyValue('p')));
        }
        let mut fields = Fields::new(without_proof, KIND);
        if fields.peek_is('m') {
            return Err(Detail::MandatoryExtension { message: KIND }.into());
        }
        let channel_binding = fields.expect('c')?;
        validate_base64(channel_binding, 'c', KIND)?;
        let nonce = fields.expect('r')?;
        if !is_printable_nonce(nonce.as_bytes()) {
            return Err(malformed(KIND, Problem::InvalidNonce));
        }
        let extensions = fields.remainder().unwrap_or("");
        if fields.remainder().is_some() {
            validate_extensions(extensions, KIND)?;
        }
        let proof = decode_key(proof_b64.as_bytes(), 'p', proof_len, KIND)?;
        Ok(Self {
            without_proof,
            channel_binding,
            nonce,
            extensions,
            proof,
        })
    }

    /// The server's one-pass check of what every correct client sends: exactly `c=` ‖
    /// base64(`gs2_header` ‖ `binding_data`) ‖ `,r=` ‖ `nonce` ‖ `,p=` ‖ a base64 proof of
    /// `proof_len` bytes. Returns the client-final-message-without-proof and the proof;
    /// `None` for anything else, which the caller then parses in full with
    /// [`ClientFinal::parse`] and checks field by field. For every message it accepts,
    /// `parse` accepts it too, with the same `c=` and nonce and the same proof
    /// (`tests::expected_form_agrees_with_parse`), so it never decides an error.
    pub(crate) fn parse_expected(
        bytes: &'a [u8],
        gs2_header: &[u8],
        binding_data: &[u8],
        nonce: &[u8],
        proof_len: usize,
        max_len: usize,
    ) -> Option<(&'a [u8], Key)> {
        let cbind_len = super::encoded_len(gs2_header.len().saturating_add(binding_data.len()));
        let without_proof_len = 2 + cbind_len + 3 + nonce.len();
        if bytes.len() > max_len
            || bytes.len() != without_proof_len + 3 + super::encoded_len(proof_len)
        {
            return None;
        }
        let (without_proof, proof_field) = bytes.split_at_checked(without_proof_len)?;
        let cbind = without_proof.strip_prefix(b"c=")?;
        let (cbind, rest) = cbind.split_at_checked(cbind_len)?;
        // The nonce is public, and a printable one keeps the whole text ASCII without `,`
        // in any value, as `parse` requires.
        let nonce_ok = rest.strip_prefix(b",r=") == Some(nonce) && is_printable_nonce(nonce);
        if !nonce_ok || !base64_matches(cbind, gs2_header, binding_data) {
            return None;
        }
        let proof = proof_field.strip_prefix(b",p=")?;
        let proof = decode_key(proof, 'p', proof_len, KIND).ok()?;
        Some((without_proof, proof))
    }

    /// The client-final-message-without-proof and the proof.
    pub(crate) fn into_parts(self) -> (&'a str, Key) {
        (self.without_proof, self.proof)
    }

    /// `client-final-message-without-proof`, exactly as received (the end of the AuthMessage).
    pub fn without_proof(&self) -> &'a str {
        self.without_proof
    }

    /// The decoded `c=` value: gs2 header followed by any channel-binding data.
    pub fn channel_binding(&self) -> Vec<u8> {
        // Validated by `parse`, so decoding cannot fail here.
        decode_base64(self.channel_binding, 'c', KIND).unwrap_or_default()
    }

    /// The `c=` value as received (base64).
    pub fn channel_binding_base64(&self) -> &'a str {
        self.channel_binding
    }

    /// Whether `c=` decodes to `gs2_header ‖ binding_data`, checked without decoding or
    /// allocating, in time that depends only on the lengths.
    pub fn channel_binding_is(&self, gs2_header: &[u8], binding_data: &[u8]) -> bool {
        base64_matches(self.channel_binding.as_bytes(), gs2_header, binding_data)
    }

    /// The combined nonce.
    pub fn nonce(&self) -> &'a str {
        self.nonce
    }

    /// Optional extensions before the proof, in order.
    pub fn extensions(&self) -> Attributes<'a> {
        Attributes::new(self.extensions)
    }

    /// The client proof.
    pub fn proof(&self) -> &Key {
        &self.proof
    }
}

/// Writes `c=<base64(gs2 header + cbind data)>,r=<nonce>`.
pub fn write_client_final_without_proof(
    gs2_header: &[u8],
    cbind_data: &[u8],
    nonce: &str,
) -> String {
    let mut input = Vec::with_capacity(gs2_header.len() + cbind_data.len());
    input.extend_from_slice(gs2_header);
    input.extend_from_slice(cbind_data);
    let mut out = String::with_capacity(nonce.len() + input.len() * 4 / 3 + 8);
    out.push_str("c=");
    out.push_str(&encode_base64(&input));
    out.push_str(",r=");
    out.push_str(nonce);
    out
}

/// Appends `,p=<base64 proof>` to a client-final-message-without-proof.
pub(crate) fn push_proof(out: &mut String, proof: &Key) {
    out.push_str(",p=");
    out.push_str(&encode_base64(proof.as_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

    #[test]
    fn rfc7677() {
        let m = ClientFinal::parse(RFC.as_bytes(), 32, 4096).unwrap();
        assert_eq!(m.channel_binding(), b"n,,");
        assert!(m.channel_binding_is(b"n", b",,"));
        assert!(!m.channel_binding_is(b"y,,", b""));
        assert_eq!(
            m.without_proof(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        assert_eq!(m.proof().len(), 32);
        let mut again = write_client_final_without_proof(b"n,,", b"", m.nonce());
        push_proof(&mut again, m.proof());
        assert_eq!(again, RFC);
    }

    /// The one-pass check accepts only what `parse` and the server's checks accept.
    #[test]
    fn expected_form_agrees_with_parse() {
        let nonce = b"rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let check = |m: &[u8], gs2: &[u8], cbind: &[u8], nonce: &[u8], max: usize| {
            let fast = ClientFinal::parse_expected(m, gs2, cbind, nonce, 32, max);
            let full = ClientFinal::parse(m, 32, max)
                .ok()
                .filter(|f| f.channel_binding_is(gs2, cbind) && f.nonce().as_bytes() == nonce);
            match (fast, full) {
                (Some((without_proof, proof)), Some(full)) => {
                    assert_eq!(without_proof, full.without_proof().as_bytes(), "{m:?}");
                    assert_eq!(&proof, full.proof(), "{m:?}");
                }
                (Some(_), None) => panic!("accepted what parse refuses: {m:?}"),
                (None, Some(full)) => {
                    // Declined: only forms with extensions.
                    assert!(full.extensions().count() > 0, "{m:?}");
                }
                (None, None) => {}
            }
        };
        let mut cases = alloc::vec![RFC.as_bytes().to_vec()];
        for at in 0..RFC.len() {
            for byte in [0u8, b',', b'=', b'A', b'/', b'+', b' ', 0x80, 0xFF] {
                let mut m = RFC.as_bytes().to_vec();
                m[at] = byte;
                cases.push(m.clone());
                m.remove(at);
                cases.push(m);
            }
        }
        cases.push(b"c=biws,r=abc,x=1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=".to_vec());
        for m in &cases {
            for max in [4096, RFC.len() - 1] {
                check(m, b"n,,", b"", nonce, max);
                check(m, b"y,,", b"", nonce, max);
                check(m, b"n,", b",", nonce, max);
                check(m, b"p=tls-exporter,,", &[0xCB; 32], nonce, max);
                check(m, b"n,,", b"", b"abc", max);
                check(
                    m,
                    b"n,,",
                    b"",
                    b"rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k,",
                    max,
                );
            }
        }
        let bound = alloc::format!(
            "c={},r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            encode_base64(&[b"p=tls-exporter,,".as_slice(), &[0xCB; 32]].concat())
        );
        assert!(
            ClientFinal::parse_expected(
                bound.as_bytes(),
                b"p=tls-exporter,,",
                &[0xCB; 32],
                b"abc",
                32,
                4096
            )
            .is_some()
        );
        check(
            bound.as_bytes(),
            b"p=tls-exporter,,",
            &[0xCB; 32],
            b"abc",
            4096,
        );
        check(
            bound.as_bytes(),
            b"p=tls-exporter,,",
            &[0xCC; 32],
            b"abc",
            4096,
        );
    }

    #[test]
    fn extensions_kept() {
        let s = "c=biws,r=abc,x=1,q=w=x,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let m = ClientFinal::parse(s.as_bytes(), 32, 4096).unwrap();
        assert_eq!(m.without_proof(), "c=biws,r=abc,x=1,q=w=x");
        assert_eq!(m.extensions().count(), 2);
    }

    #[test]
    fn rejects() {
        let p = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        for bad in [
            alloc::string::String::from("c=biws,r=abc"),
            alloc::format!("r=abc,c=biws,{p}"),
            alloc::format!("c=biws,{p}"),
            alloc::format!("c=biw,r=abc,{p}"),
            alloc::format!("c=,r=abc,{p}"),
            alloc::format!("c=biws,r=abc,,{p}"),
            alloc::format!("c=biws,r=abc,1=2,{p}"),
            alloc::string::String::from("c=biws,r=abc,p="),
            alloc::string::String::from("c=biws,r=abc,p=dHzb"),
            alloc::string::String::from(
                "c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
            ),
            alloc::format!("c=biws,r=abc,{p},x=1"),
            alloc::string::String::from(
                "c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=dHzb",
            ),
        ] {
            assert!(
                ClientFinal::parse(bad.as_bytes(), 32, 4096).is_err(),
                "{bad:?}"
            );
        }
        assert!(matches!(
            ClientFinal::parse(alloc::format!("m=1,c=biws,r=abc,{p}").as_bytes(), 32, 4096),
            Err(e) if e.kind() == crate::ErrorKind::MandatoryExtension
        ));
        assert!(matches!(
            ClientFinal::parse(alloc::format!("c=biws,r=abc,{p}").as_bytes(), 64, 4096),
            Err(e) if matches!(e.problem(), Some(Problem::WrongLength { .. }))
        ));
    }
}
