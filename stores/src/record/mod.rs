//! The credential record format shared by the file store, the `mqtt-scram` tool and its
//! `import`/`export`: one [`CredentialRecord`] per user and mechanism, written as JSON
//! ([`json`]) or CSV ([`csv`]), read back by one codec ([`read_records`]).
//!
//! Every field, in both forms:
//!
//! | field          | type                         | required | meaning |
//! |----------------|------------------------------|----------|---------|
//! | `username`     | string                       | yes      | as the client sends it after SASLprep, unescaped |
//! | `mechanism`    | `SCRAM-SHA-256` / `SCRAM-SHA-512` | yes | the credentials also serve the `-PLUS` variant |
//! | `iterations`   | integer ≥ 1                  | yes      | PBKDF2 iteration count |
//! | `salt`         | standard padded base64       | yes      | |
//! | `stored_key`   | standard padded base64       | yes      | StoredKey (32 or 64 bytes) |
//! | `server_key`   | standard padded base64       | yes      | ServerKey (32 or 64 bytes) |
//! | `is_superuser` | boolean                      | no       | default `false` |
//! | `client_attrs` | object of strings            | no       | in CSV: a JSON object in one cell |
//! | `expire_at`    | integer, Unix seconds        | no       | the engine refuses the login from then on |
//! | `acl`          | array of EMQX rules          | no       | in CSV: a JSON array in one cell |
//!
//! ```json
//! {"username":"user","mechanism":"SCRAM-SHA-256","iterations":4096,
//!  "salt":"W22ZaJ0SNY7soEsUEjb6gQ==",
//!  "stored_key":"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
//!  "server_key":"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
//!  "is_superuser":false}
//! ```
//!
//! Reading validates every record (lengths, mechanism, ACL rules, no second record for the
//! same user and mechanism); the first bad one is an error that names its line (CSV, JSON
//! lines) or its place in a JSON array, and the user, but never key material.
//!
//! ```
//! use mqtt_scram_stores::record::{CredentialRecord, Format, read_records, write_records};
//! let csv = "username,mechanism,iterations,salt,stored_key,server_key\n\
//!     user,SCRAM-SHA-256,4096,W22ZaJ0SNY7soEsUEjb6gQ==,\
//!     WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n";
//! let users = read_records(csv, Format::Csv)?;
//! let (name, record) = &users[0];
//! assert!(record.credentials.verify_password("pencil")?);
//! // The same user as JSON lines, and back.
//! let json = write_records(&[CredentialRecord::new(name, record)], Format::Json)?;
//! assert_eq!(read_records(&json, Format::Json)?, users);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod csv;
pub mod json;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mqtt_scram::credentials::{CredentialsError, StoredCredentials};
use mqtt_scram::provider::{AuthzData, UserAttributes, UserRecord};
use mqtt_scram::{HashAlgorithm, Mechanism};
use mqtt_scram_authz::{AclRule, RuleError, RuleSet};
use serde::{Deserialize, Serialize};

pub use json::parse_records;

/// One user's record (one mechanism), as written in the JSON and CSV forms. Convert from an
/// engine record with [`new`](Self::new), into one with
/// [`into_user_record`](Self::into_user_record). `Debug` never shows the salt or keys.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRecord {
    /// Username (as the client sends it after SASLprep, unescaped).
    pub username: String,
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512` (the credentials also serve the -PLUS variant).
    pub mechanism: String,
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// Base64 salt.
    pub salt: String,
    /// Base64 StoredKey.
    pub stored_key: String,
    /// Base64 ServerKey.
    pub server_key: String,
    /// Superuser flag.
    #[serde(default)]
    pub is_superuser: bool,
    /// Client attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client_attrs: BTreeMap<String, String>,
    /// Expiry, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<u64>,
    /// Authorization rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acl: Vec<AclRule>,
}

impl fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("username", &self.username)
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .field("keys", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Which form a record file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JSON: one object, an array of objects, or JSON lines ([`json`]).
    Json,
    /// CSV with a header row ([`csv`]).
    Csv,
}

impl Format {
    /// `Csv` for a `.csv` extension (any case), `Json` otherwise.
    ///
    /// ```
    /// use mqtt_scram_stores::record::Format;
    /// assert_eq!(Format::from_path("users.CSV".as_ref()), Format::Csv);
    /// assert_eq!(Format::from_path("users.jsonl".as_ref()), Format::Json);
    /// ```
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Self::Csv,
            _ => Self::Json,
        }
    }

    /// The form of `text` judged by its first character: `{` or `[` is JSON, anything else
    /// CSV. `None` for empty (or blank) text.
    pub fn detect(text: &str) -> Option<Self> {
        match text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .chars()
            .next()?
        {
            '{' | '[' => Some(Self::Json),
            _ => Some(Self::Csv),
        }
    }
}

/// Where in the input a record is: a line (CSV, JSON lines) or a place in a JSON array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Position {
    /// 1-based line number (of the first line of the record).
    Line(usize),
    /// 1-based index in a JSON array (or in a sequence of records without line numbers).
    Record(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// Why records could not be read or written. Every reading error names the
/// [`Position`] of the first bad record (and its user when known), never key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The text is not JSON / CSV of the expected shape (syntax, unknown field or column,
    /// missing column, wrong field count).
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Position,
        /// What is wrong (values from the input are left out).
        message: String,
    },
    /// A field's value is invalid (not a number, not a boolean, not a JSON object, ...).
    #[error("{at} ({username:?}): {field}: {message}")]
    Field {
        /// Where.
        at: Position,
        /// Username of the record.
        username: String,
        /// The field (column) name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The username is empty.
    #[error("{at}: empty username")]
    EmptyUsername {
        /// Where.
        at: Position,
    },
    /// The mechanism is not SCRAM-SHA-256 or SCRAM-SHA-512.
    #[error(
        "{at} ({username:?}): unknown mechanism {mechanism:?} (expected SCRAM-SHA-256 or SCRAM-SHA-512)"
    )]
    Mechanism {
        /// Where.
        at: Position,
        /// Username of the record.
        username: String,
        /// The mechanism found.
        mechanism: String,
    },
    /// Salt, keys or iteration count are invalid.
    #[error("{at} ({username:?}): {source}")]
    Credentials {
        /// Where.
        at: Position,
        /// Username of the record.
        username: String,
        /// What is wrong.
        source: CredentialsError,
    },
    /// An ACL rule is invalid.
    #[error("{at} ({username:?}): acl: {source}")]
    Acl {
        /// Where.
        at: Position,
        /// Username of the record.
        username: String,
        /// What is wrong.
        source: RuleError,
    },
    /// A second record for the same user and mechanism.
    #[error("{at}: a second {mechanism} record for {username:?} (the first is at {first})")]
    Duplicate {
        /// Where the second record is.
        at: Position,
        /// Where the first one is.
        first: Position,
        /// The user.
        username: String,
        /// The mechanism.
        mechanism: &'static str,
    },
    /// A record could not be encoded.
    #[error("cannot encode {username:?}: {message}")]
    Encode {
        /// The user.
        username: String,
        /// Why.
        message: String,
    },
}

impl RecordError {
    /// Where the bad record is (`None` for an encoding error).
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::Syntax { at, .. }
            | Self::Field { at, .. }
            | Self::EmptyUsername { at }
            | Self::Mechanism { at, .. }
            | Self::Credentials { at, .. }
            | Self::Acl { at, .. }
            | Self::Duplicate { at, .. } => Some(*at),
            Self::Encode { .. } => None,
        }
    }
}

impl CredentialRecord {
    /// The record of `username` with these credentials and extras.
    pub fn new(username: &str, record: &UserRecord) -> Self {
        let c = &record.credentials;
        let a = &record.attributes;
        Self {
            username: username.into(),
            mechanism: c.hash().mechanism().name().into(),
            iterations: c.iterations(),
            salt: STANDARD.encode(c.salt()),
            stored_key: STANDARD.encode(c.stored_key().as_bytes()),
            server_key: STANDARD.encode(c.server_key().as_bytes()),
            is_superuser: a.is_superuser,
            client_attrs: a.client_attrs.clone(),
            expire_at: a.expire_at,
            acl: acl_rules(record),
        }
    }

    /// Validates and converts into a username and a [`UserRecord`]; `at` names the record
    /// in errors.
    pub fn into_user_record(self, at: Position) -> Result<(String, UserRecord), RecordError> {
        if self.username.is_empty() {
            return Err(RecordError::EmptyUsername { at });
        }
        let hash: HashAlgorithm = match Mechanism::from_name(&self.mechanism) {
            Some(m) if !m.is_plus() => m.hash(),
            _ => {
                return Err(RecordError::Mechanism {
                    at,
                    username: self.username,
                    mechanism: self.mechanism,
                });
            }
        };
        let b64 = |field, s: &str| {
            STANDARD
                .decode(s)
                .map_err(|_| CredentialsError::InvalidBase64 { field })
        };
        let credentials = (|| {
            StoredCredentials::from_parts(
                hash,
                &b64("salt", &self.salt)?,
                self.iterations,
                &b64("stored_key", &self.stored_key)?,
                &b64("server_key", &self.server_key)?,
            )
        })();
        let username = self.username;
        let credentials = match credentials {
            Ok(c) => c,
            Err(source) => {
                return Err(RecordError::Credentials {
                    at,
                    username,
                    source,
                });
            }
        };
        let authz = if self.acl.is_empty() {
            None
        } else {
            match RuleSet::compile(&self.acl) {
                Ok(rules) => Some(AuthzData::from_arc(Arc::new(rules))),
                Err(source) => {
                    return Err(RecordError::Acl {
                        at,
                        username,
                        source,
                    });
                }
            }
        };
        let mut attributes = UserAttributes::new();
        attributes.is_superuser = self.is_superuser;
        attributes.client_attrs = self.client_attrs;
        attributes.expire_at = self.expire_at;
        attributes.authz = authz;
        Ok((
            username,
            UserRecord::new(credentials).with_attributes(attributes),
        ))
    }
}

/// Reads every record of `text` in `format`, validated, in input order. The first bad
/// record (or a second record for the same user and mechanism) is an error naming its
/// position. Empty text, or a CSV header without rows, is an empty list.
pub fn read_records(text: &str, format: Format) -> Result<Vec<(String, UserRecord)>, RecordError> {
    match format {
        Format::Json => json::read(text),
        Format::Csv => csv::read(text),
    }
}

/// Writes records in `format`: JSON lines (one object per line) or CSV with a header row
/// and every column. [`json::write_array`] writes a JSON array instead.
pub fn write_records(records: &[CredentialRecord], format: Format) -> Result<String, RecordError> {
    match format {
        Format::Json => json::write_lines(records),
        Format::Csv => csv::write(records),
    }
}

/// Converts raw records (with their positions) and refuses a second record for the same
/// user and mechanism.
fn validate(
    raw: impl IntoIterator<Item = (Position, CredentialRecord)>,
) -> Result<Vec<(String, UserRecord)>, RecordError> {
    let mut out = Vec::new();
    let mut seen: HashMap<(String, HashAlgorithm), Position> = HashMap::new();
    for (at, record) in raw {
        let (username, user) = record.into_user_record(at)?;
        let hash = user.credentials.hash();
        if let Some(first) = seen.insert((username.clone(), hash), at) {
            return Err(RecordError::Duplicate {
                at,
                first,
                username,
                mechanism: hash.mechanism().name(),
            });
        }
        out.push((username, user));
    }
    Ok(out)
}

/// Removes the input strings serde quotes in its messages (`invalid type: string "…"`),
/// so an error never repeats a salt or key that landed in the wrong field. Other quoted
/// text (a rule's topic in the ACL parser's message) stays.
fn redact_values(message: &str) -> String {
    const MARK: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        let (before, after) = rest.split_at(at + MARK.len());
        out.push_str(before);
        out.push('…');
        // serde writes the string with Rust escapes, so the first unescaped quote ends it.
        let mut escaped = false;
        let end = after.char_indices().find(|&(_, c)| {
            let end = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            end
        });
        match end {
            Some((i, _)) => rest = after.get(i..).unwrap_or_default(),
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The EMQX ACL rules attached to a record (empty when it has none).
pub fn acl_rules(record: &UserRecord) -> Vec<AclRule> {
    record
        .attributes
        .authz
        .as_ref()
        .and_then(|d| d.downcast_ref::<RuleSet>())
        .map(|rules| rules.rules().to_vec())
        .unwrap_or_default()
}

/// Attaches EMQX ACL rules to a record, compiled once ([`RuleSet`] in the record's
/// [`AuthzData`]); an empty list removes them.
pub fn with_acl_rules(record: UserRecord, rules: &[AclRule]) -> Result<UserRecord, RuleError> {
    if rules.is_empty() {
        return Ok(record.authz(None));
    }
    let compiled = RuleSet::compile(rules)?;
    Ok(record.authz(Some(AuthzData::from_arc(Arc::new(compiled)))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_quoted_values_only() {
        assert_eq!(
            redact_values("invalid type: string \"WG5d8oPm\", expected u32 at line 1 column 9"),
            "invalid type: string \"…\", expected u32 at line 1 column 9"
        );
        assert_eq!(
            redact_values("unknown field `password`, expected `username`"),
            "unknown field `password`, expected `username`"
        );
        assert_eq!(
            redact_values("a string \"x\\\"y\" and string \"z\"; topic \"a/#/b\""),
            "a string \"…\" and string \"…\"; topic \"a/#/b\""
        );
        assert_eq!(redact_values("string \"unterminated"), "string \"…");
    }

    #[test]
    fn detects_the_form() {
        assert_eq!(Format::detect(" \n[{}]"), Some(Format::Json));
        assert_eq!(Format::detect("\u{feff}{"), Some(Format::Json));
        assert_eq!(Format::detect("username,"), Some(Format::Csv));
        assert_eq!(Format::detect(" \n"), None);
    }
}
