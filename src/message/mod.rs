//! The four SCRAM messages (RFC 5802 §7): strict parsers over the exact bytes
//! received, and writers.
//!
//! Parsed messages borrow from the input and keep the raw slices the AuthMessage
//! needs, so it is always built from the bytes on the wire, never re-serialized.
//! Unknown optional extensions are accepted and kept (as raw text); a mandatory
//! extension (`m=`) is rejected.

mod attributes;
pub(crate) mod base64;
mod client_final;
mod client_first;
mod server_error;
mod server_final;
mod server_first;

pub use attributes::{Attribute, Attributes, escape_saslname, unescape_saslname};
pub use client_final::{ClientFinal, write_client_final_without_proof};
pub use client_first::{CbindFlag, ClientFirst, Gs2Header};
pub use server_error::ServerErrorValue;
pub use server_final::{ServerFinal, ServerFinalOutcome};
pub use server_first::ServerFirst;

pub(crate) use attributes::is_printable_nonce;
pub(crate) use base64::{encode_base64 as encode_nonce, encode_into, encoded_len, push_base64};
pub(crate) use client_final::push_proof;

use core::fmt;

/// Default upper bound on one SCRAM message, in bytes (4 KiB).
///
/// Real messages are a few hundred bytes; the bound keeps hostile peers from
/// making the engine hold or hash large buffers.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 4096;

/// Which of the four SCRAM messages an error is about.
///
/// ```
/// use mqtt_scram::{ErrorKind, message::{ClientFirst, MessageKind}};
/// let error = ClientFirst::parse(b"x", 4096).unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::Malformed);
/// let message = error.message_kind().unwrap();
/// assert_eq!(message, MessageKind::ClientFirst);
/// assert_eq!(message.to_string(), "client-first-message");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// `client-first-message` (in CONNECT, or AUTH 0x19).
    ClientFirst,
    /// `server-first-message` (in AUTH 0x18 from the server).
    ServerFirst,
    /// `client-final-message` (in AUTH 0x18 from the client).
    ClientFinal,
    /// `server-final-message` (in CONNACK, or AUTH 0x00).
    ServerFinal,
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClientFirst => "client-first-message",
            Self::ServerFirst => "server-first-message",
            Self::ClientFinal => "client-final-message",
            Self::ServerFinal => "server-final-message",
        })
    }
}

/// What exactly is wrong with a malformed message. Never contains message content.
///
/// ```
/// use mqtt_scram::message::{ClientFirst, Problem};
/// let error = ClientFirst::parse(b"n,,n=alice,r=a b", 4096).unwrap_err();
/// assert_eq!(error.problem(), Some(Problem::InvalidNonce));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Problem {
    /// The bytes are not UTF-8.
    NotUtf8,
    /// The message contains a NUL byte.
    ContainsNul,
    /// The message is empty.
    Empty,
    /// The gs2 channel-binding flag is not `n`, `y` or `p=<cb-name>`.
    InvalidGs2Flag,
    /// The channel-binding name is empty or has characters outside `A-Za-z0-9.-`.
    InvalidCbName,
    /// The gs2 header's second field is neither empty nor `a=<saslname>`.
    InvalidAuthzid,
    /// The username is empty or has a `=` not followed by `2C` or `3D`.
    InvalidUsername,
    /// An attribute was expected but the message ended.
    MissingAttribute(char),
    /// A different attribute stands where this one must be.
    ExpectedAttribute(char),
    /// An attribute has an empty value.
    EmptyValue(char),
    /// A nonce is empty or has a character outside printable ASCII, or a comma.
    InvalidNonce,
    /// A base64 value is not canonical, padded, standard-alphabet base64.
    InvalidBase64(char),
    /// The iteration count is not a positive decimal without leading zeros that fits in 32 bits.
    InvalidIterationCount,
    /// The salt is empty.
    EmptySalt,
    /// A proof or signature has the wrong length for the hash.
    WrongLength {
        /// Attribute (`p` or `v`).
        attribute: char,
        /// Length the hash requires.
        expected: usize,
        /// Length received.
        found: usize,
    },
    /// An extension is not `<letter>=<value>`.
    InvalidExtension,
    /// The message ends with a comma, or has an empty field.
    EmptyField,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => f.write_str("not valid UTF-8"),
            Self::ContainsNul => f.write_str("contains a NUL byte"),
            Self::Empty => f.write_str("empty"),
            Self::InvalidGs2Flag => {
                f.write_str("gs2 channel-binding flag is not 'n', 'y' or 'p=<name>'")
            }
            Self::InvalidCbName => {
                f.write_str("channel-binding name is empty or not [A-Za-z0-9.-]+")
            }
            Self::InvalidAuthzid => {
                f.write_str("gs2 authzid field is neither empty nor 'a=<saslname>'")
            }
            Self::InvalidUsername => {
                f.write_str("username is empty or has '=' not followed by '2C' or '3D'")
            }
            Self::MissingAttribute(a) => write!(f, "attribute '{a}=' is missing"),
            Self::ExpectedAttribute(a) => write!(f, "expected attribute '{a}=' here"),
            Self::EmptyValue(a) => write!(f, "attribute '{a}=' has an empty value"),
            Self::InvalidNonce => f.write_str("nonce is empty or not printable ASCII without ','"),
            Self::InvalidBase64(a) => write!(f, "attribute '{a}=' is not canonical padded base64"),
            Self::InvalidIterationCount => {
                f.write_str("iteration count is not a positive 32-bit decimal number")
            }
            Self::EmptySalt => f.write_str("salt is empty"),
            Self::WrongLength {
                attribute,
                expected,
                found,
            } => {
                write!(
                    f,
                    "attribute '{attribute}=' decodes to {found} bytes, expected {expected}"
                )
            }
            Self::InvalidExtension => f.write_str("extension is not '<letter>=<value>'"),
            Self::EmptyField => f.write_str("empty field (stray comma)"),
        }
    }
}
