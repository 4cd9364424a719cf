//! What the PostgreSQL and Redis providers share (features `postgres`, `redis`): TLS
//! settings, the text encoding of salts and keys in user-written queries and commands,
//! the decoding of a stored row or hash into a [`UserRecord`](mqtt_scram::provider::UserRecord),
//! and the redaction of connection strings.

mod decode;
mod failures;
mod redact;
mod tls;

pub(crate) use decode::{Cell, Fields, KNOWN_FIELDS, decode_record, is_known_field};
pub(crate) use failures::FailureLog;
pub(crate) use redact::{redact_message, redact_url};
pub use tls::TlsSettings;

use serde::{Deserialize, Serialize};

/// How salts and keys are written in *text* columns or fields of a user-written query or
/// command (`bytea` columns are raw bytes and need no encoding). The default layouts have
/// one fixed encoding each: `bytea` in PostgreSQL, base64 in Redis.
///
/// ```
/// use mqtt_scram_stores::remote::Encoding;
/// let hex: Encoding = serde_json::from_str("\"hex\"")?;
/// assert_eq!(hex, Encoding::Hex);
/// assert_eq!(Encoding::default(), Encoding::Base64);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Standard padded base64, as in the crate's JSON records and PostgreSQL verifiers.
    #[default]
    Base64,
    /// Hexadecimal (either case), as in EMQX's SCRAM HTTP contract.
    Hex,
}

impl Encoding {
    /// Decodes `text` (surrounding whitespace ignored).
    pub fn decode(self, text: &str) -> Option<std::vec::Vec<u8>> {
        use base64::Engine as _;
        let text = text.trim();
        match self {
            Self::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
            Self::Hex => hex::decode(text).ok(),
        }
    }

    /// Encodes `bytes`.
    pub fn encode(self, bytes: &[u8]) -> std::string::String {
        use base64::Engine as _;
        match self {
            Self::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
            Self::Hex => hex::encode(bytes),
        }
    }

    /// `base64` or `hex`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Base64 => "base64",
            Self::Hex => "hex",
        }
    }
}
