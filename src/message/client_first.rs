//! `client-first-message = gs2-header client-first-message-bare` (RFC 5802 §7).

use alloc::borrow::Cow;
use alloc::string::String;

use super::attributes::{Fields, find_byte, malformed, preflight};
use super::{
    Attributes, MessageKind, Problem, escape_saslname, is_printable_nonce, unescape_saslname,
};
use crate::error::{Detail, Error};

const KIND: MessageKind = MessageKind::ClientFirst;

/// The gs2 channel-binding flag (RFC 5802 §5.1, §7 `gs2-cbind-flag`).
///
/// ```
/// use mqtt_scram::message::{CbindFlag, ClientFirst};
/// let m = ClientFirst::parse(b"p=tls-exporter,,n=alice,r=abc", 4096)?;
/// assert_eq!(m.gs2().cbind, CbindFlag::Used("tls-exporter"));
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CbindFlag<'a> {
    /// `n`: the client does not support channel binding.
    NotSupported,
    /// `y`: the client supports channel binding but thinks the server does not.
    SupportedNotUsed,
    /// `p=<cb-name>`: the client uses channel binding of this type.
    Used(&'a str),
}

impl CbindFlag<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Self::NotSupported => out.push('n'),
            Self::SupportedNotUsed => out.push('y'),
            Self::Used(name) => {
                out.push_str("p=");
                out.push_str(name);
            }
        }
    }
}

/// The parsed gs2 header: flag, optional authorization identity, and its raw bytes.
///
/// ```
/// use mqtt_scram::message::ClientFirst;
/// let m = ClientFirst::parse(b"n,a=admin,n=alice,r=abc", 4096)?;
/// assert_eq!(m.gs2().authzid.as_deref(), Some("admin"));
/// assert_eq!(m.gs2().as_str(), "n,a=admin,");
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gs2Header<'a> {
    /// Channel-binding flag.
    pub cbind: CbindFlag<'a>,
    /// Authorization identity (`a=`), unescaped.
    pub authzid: Option<Cow<'a, str>>,
    raw: &'a str,
}

impl<'a> Gs2Header<'a> {
    /// The header exactly as received, including its trailing comma (what `c=` encodes).
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
}

/// A parsed `client-first-message`.
///
/// ```
/// use mqtt_scram::message::ClientFirst;
/// let m = ClientFirst::parse(b"n,,n=al=2Cice,r=rOprNGfwEbeRWgbNEkqO", 4096)?;
/// assert_eq!(m.username(), "al,ice");
/// assert_eq!(m.username_wire(), "al=2Cice");
/// assert_eq!(m.bare(), "n=al=2Cice,r=rOprNGfwEbeRWgbNEkqO");
/// assert!(ClientFirst::parse(b"n,,m=x,n=alice,r=abc", 4096).is_err());   // mandatory extension
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFirst<'a> {
    gs2: Gs2Header<'a>,
    bare: &'a str,
    username: Cow<'a, str>,
    /// The username as on the wire (escaped), right after `n=` in `bare`.
    username_wire: &'a str,
    nonce: &'a str,
    extensions: &'a str,
}

impl<'a> ClientFirst<'a> {
    /// Parses a client-first-message of at most `max_len` bytes.
    pub fn parse(bytes: &'a [u8], max_len: usize) -> Result<Self, Error> {
        let text = preflight(bytes, KIND, max_len)?;
        let mut fields = Fields::new(text, KIND);
        let flag = fields
            .next_raw()
            .ok_or(malformed(KIND, Problem::InvalidGs2Flag))?;
        let cbind = match flag {
            "n" => CbindFlag::NotSupported,
            "y" => CbindFlag::SupportedNotUsed,
            _ => {
                let name = flag
                    .strip_prefix("p=")
                    .ok_or(malformed(KIND, Problem::InvalidGs2Flag))?;
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                {
                    return Err(malformed(KIND, Problem::InvalidCbName));
                }
                CbindFlag::Used(name)
            }
        };
        let authz_field = fields
            .next_raw()
            .ok_or(malformed(KIND, Problem::InvalidAuthzid))?;
        let authzid = if authz_field.is_empty() {
            None
        } else {
            let wire = authz_field
                .strip_prefix("a=")
                .ok_or(malformed(KIND, Problem::InvalidAuthzid))?;
            Some(unescape_saslname(wire).ok_or(malformed(KIND, Problem::InvalidAuthzid))?)
        };
        let bare = fields
            .remainder()
            .ok_or(malformed(KIND, Problem::MissingAttribute('n')))?;
        let raw_gs2 = text.get(..text.len() - bare.len()).unwrap_or_default();
        if fields.peek_is('m') {
            return Err(Detail::MandatoryExtension { message: KIND }.into());
        }
        let username_wire = fields.expect('n')?;
        let username =
            unescape_saslname(username_wire).ok_or(malformed(KIND, Problem::InvalidUsername))?;
        let nonce = fields.expect('r')?;
        if !is_printable_nonce(nonce.as_bytes()) {
            return Err(malformed(KIND, Problem::InvalidNonce));
        }
        let extensions = fields.extensions()?;
        Ok(Self {
            gs2: Gs2Header {
                cbind,
                authzid,
                raw: raw_gs2,
            },
            bare,
            username,
            username_wire,
            nonce,
            extensions,
        })
    }

    /// The usual client-first-message, `n,,n=<username>,r=<nonce>` with a username of
    /// printable ASCII or spaces and no `=` (nothing to unescape) and no extensions,
    /// checked in one pass; `None` for anything else, which [`ClientFirst::parse`] then
    /// handles. For every message it accepts it returns exactly what `parse` returns
    /// (`tests::simple_form_agrees_with_parse`).
    pub(crate) fn parse_simple(bytes: &'a [u8], max_len: usize) -> Option<Self> {
        if bytes.len() > max_len {
            return None;
        }
        let rest = bytes.strip_prefix(b"n,,n=")?;
        let user_len = find_byte(rest, b',')?;
        let nonce = rest.get(user_len..)?.strip_prefix(b",r=")?;
        let user = rest.get(..user_len)?;
        // No NUL, no byte outside ASCII (so the text is UTF-8), no `=` to unescape; the
        // username has no `,` (it ends at the first one).
        let user_ok = user.iter().fold(!user.is_empty(), |ok, &b| {
            ok & (b.wrapping_sub(0x20) < 0x5F) & (b != b'=')
        });
        if !(user_ok && is_printable_nonce(nonce)) {
            return None;
        }
        let text = core::str::from_utf8(bytes).ok()?;
        let username_wire = text.get(5..5 + user_len)?;
        Some(Self {
            gs2: Gs2Header {
                cbind: CbindFlag::NotSupported,
                authzid: None,
                raw: text.get(..3)?,
            },
            bare: text.get(3..)?,
            username: Cow::Borrowed(username_wire),
            username_wire,
            nonce: text.get(5 + user_len + 3..)?,
            extensions: "",
        })
    }

    /// The gs2 header.
    pub fn gs2(&self) -> &Gs2Header<'a> {
        &self.gs2
    }

    /// `client-first-message-bare`, exactly as received (the start of the AuthMessage).
    pub fn bare(&self) -> &'a str {
        self.bare
    }

    /// The username, with `=2C`/`=3D` decoded. Not SASLprep'd: the client prepares it.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The username as it is on the wire (`=2C`, `=3D` escapes kept):
    /// `client-first-message-bare` is `n=` ‖ this ‖ `,r=` ‖ nonce ‖ ….
    pub fn username_wire(&self) -> &'a str {
        self.username_wire
    }

    /// The client nonce.
    pub fn nonce(&self) -> &'a str {
        self.nonce
    }

    /// Optional extensions after the nonce, in order.
    pub fn extensions(&self) -> Attributes<'a> {
        Attributes::new(self.extensions)
    }

    /// Writes a client-first-message; `username` and `authzid` are escaped here.
    ///
    /// Returns the whole message; the bare part starts at the returned index.
    pub fn write(
        cbind: CbindFlag<'_>,
        authzid: Option<&str>,
        username: &str,
        nonce: &str,
    ) -> (String, usize) {
        let mut out = String::with_capacity(16 + username.len() + nonce.len());
        cbind.write(&mut out);
        out.push(',');
        if let Some(a) = authzid {
            out.push_str("a=");
            out.push_str(&escape_saslname(a));
        }
        out.push(',');
        let bare_start = out.len();
        out.push_str("n=");
        out.push_str(&escape_saslname(username));
        out.push_str(",r=");
        out.push_str(nonce);
        (out, bare_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ClientFirst<'_>, Error> {
        ClientFirst::parse(s.as_bytes(), 4096)
    }

    #[test]
    fn rfc7677() {
        let m = parse("n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(m.gs2().cbind, CbindFlag::NotSupported);
        assert_eq!(m.gs2().as_str(), "n,,");
        assert_eq!(m.bare(), "n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(m.username(), "user");
        assert_eq!(m.nonce(), "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(m.extensions().count(), 0);
    }

    #[test]
    fn authzid_binding_and_extensions() {
        let m = parse("p=tls-exporter,a=ad=2Cmin,n=us=3Der,r=abc,x=1,y=a=b").unwrap();
        assert_eq!(m.gs2().cbind, CbindFlag::Used("tls-exporter"));
        assert_eq!(m.gs2().authzid.as_deref(), Some("ad,min"));
        assert_eq!(m.gs2().as_str(), "p=tls-exporter,a=ad=2Cmin,");
        assert_eq!(m.username(), "us=er");
        let ext: alloc::vec::Vec<_> = m.extensions().map(|a| (a.name, a.value)).collect();
        assert_eq!(ext, [('x', "1"), ('y', "a=b")]);
        assert_eq!(m.bare(), "n=us=3Der,r=abc,x=1,y=a=b");
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "n",
            "n,",
            "n,,",
            "x,,n=u,r=a",
            "p=,,n=u,r=a",
            "p=a_b,,n=u,r=a",
            "n,b=x,n=u,r=a",
            "n,a=,n=u,r=a",
            "n,,n=,r=a",
            "n,,n=u=,r=a",
            "n,,n=u",
            "n,,r=a,n=u",
            "n,,n=u,r=",
            "n,,n=u,r=a b",
            "n,,n=u,r=a,",
            "n,,n=u,r=a,1=x",
            "n,,n=u,r=a,xx=1",
            "n,,n=u,r=a,x=",
            "n,,n=u,r=a,,x=1",
            "N,,n=u,r=a",
            "n,,n=u,r=é",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse("n,,m=x,n=u,r=a"),
            Err(Detail::MandatoryExtension { message: KIND }.into())
        );
        assert!(ClientFirst::parse(b"n,,n=u\0,r=a", 4096).is_err());
        assert!(ClientFirst::parse(b"n,,n=\xff,r=a", 4096).is_err());
        assert!(matches!(
            ClientFirst::parse(&[b'n'; 5000], 4096),
            Err(e) if e.kind() == crate::ErrorKind::TooLong
        ));
    }

    /// The one-pass form accepts only what `parse` accepts, and returns the same.
    #[test]
    fn simple_form_agrees_with_parse() {
        let mut cases: alloc::vec::Vec<alloc::vec::Vec<u8>> = alloc::vec![
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO".to_vec(),
            b"n,,n=a b,r=x".to_vec(),
            b"n,,n= ,r=~".to_vec(),
            b"n,,n=u=2Cv,r=abc".to_vec(),
            b"n,,n=u,r=abc,x=1".to_vec(),
            b"n,,n=u,r=".to_vec(),
            b"n,,n=,r=abc".to_vec(),
            b"n,,m=u,r=abc".to_vec(),
            b"y,,n=u,r=abc".to_vec(),
            b"n,a=b,n=u,r=abc".to_vec(),
            b"n,,n=u\x7f,r=abc".to_vec(),
            b"n,,n=u,r=a\x7fb".to_vec(),
            b"n,,n=u,r=a b".to_vec(),
            b"n,,n=u\0,r=ab".to_vec(),
            "n,,n=\u{e9},r=ab".as_bytes().to_vec(),
            b"n,,n=u,x=ab".to_vec(),
            b"n,,n=u".to_vec(),
            b"n,,n=u,".to_vec(),
            b"n,,n=u,r".to_vec(),
        ];
        // Every byte in every position of a short message.
        let base = b"n,,n=us,r=ab";
        for at in 0..base.len() {
            for byte in 0..=255u8 {
                let mut m = base.to_vec();
                m[at] = byte;
                cases.push(m);
            }
        }
        for m in &cases {
            for max in [4096, m.len(), m.len().saturating_sub(1)] {
                let simple = ClientFirst::parse_simple(m, max);
                let full = ClientFirst::parse(m, max);
                if let Some(simple) = simple {
                    assert_eq!(Ok(simple), full, "{m:?}");
                } else if let Ok(full) = full {
                    // Declined: only forms the one-pass check does not cover.
                    let simple_form = matches!(full.gs2().cbind, CbindFlag::NotSupported)
                        && full.gs2().authzid.is_none()
                        && full.extensions().count() == 0
                        && !full.username_wire().contains('=')
                        && full.username().bytes().all(|b| (0x20..0x7f).contains(&b));
                    assert!(!simple_form, "{m:?}");
                }
            }
        }
    }

    #[test]
    fn write_round_trip() {
        let (msg, bare) =
            ClientFirst::write(CbindFlag::Used("tls-exporter"), Some("a,b"), "u=v", "nonce");
        assert_eq!(msg, "p=tls-exporter,a=a=2Cb,n=u=3Dv,r=nonce");
        assert_eq!(&msg[bare..], "n=u=3Dv,r=nonce");
        let m = parse(&msg).unwrap();
        assert_eq!(m.username(), "u=v");
        assert_eq!(m.gs2().authzid.as_deref(), Some("a,b"));
    }
}
