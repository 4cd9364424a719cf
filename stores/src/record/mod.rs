//! The crate's own JSON record format for stored credentials (feature `serde`):
//! what `mqtt-scram gen --format json` writes and file/memory stores load.
//!
//! ```json
//! {"username":"user","mechanism":"SCRAM-SHA-256","iterations":4096,
//!  "salt":"W22ZaJ0SNY7soEsUEjb6gQ==",
//!  "stored_key":"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
//!  "server_key":"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
//!  "is_superuser":false}
//! ```
//! Salt and keys are standard padded base64 (as on the SCRAM wire and in PostgreSQL
//! verifiers). `client_attrs`, `expire_at` and `acl` are optional.
//! A file holds one record, a JSON array of records, or JSON lines.

use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mqtt_scram::credentials::{CredentialsError, StoredCredentials};
use mqtt_scram::provider::{AuthzData, UserAttributes, UserRecord};
use mqtt_scram::{HashAlgorithm, Mechanism};
use mqtt_scram_authz::{AclRule, RuleError, RuleSet};
use serde::{Deserialize, Serialize};

/// One user's record in the crate's JSON format.
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

impl core::fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("username", &self.username)
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .field("keys", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Why a record file or record could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The text is not JSON of the expected shape.
    #[error("record {index}: invalid JSON: {message}")]
    Json {
        /// 1-based record (or line) number.
        index: usize,
        /// serde_json's message (never contains key material beyond the position).
        message: String,
    },
    /// The mechanism is not SCRAM-SHA-256 or SCRAM-SHA-512.
    #[error("record {index} ({username}): unknown mechanism")]
    Mechanism {
        /// 1-based record number.
        index: usize,
        /// Username of the record.
        username: String,
    },
    /// Salt, keys or iteration count are invalid.
    #[error("record {index} ({username}): {source}")]
    Credentials {
        /// 1-based record number.
        index: usize,
        /// Username of the record.
        username: String,
        /// What is wrong.
        source: CredentialsError,
    },
    /// The username is empty.
    #[error("record {index}: empty username")]
    EmptyUsername {
        /// 1-based record number.
        index: usize,
    },
    /// An ACL rule is invalid.
    #[error("record {index} ({username}): {source}")]
    Acl {
        /// 1-based record number.
        index: usize,
        /// Username of the record.
        username: String,
        /// What is wrong.
        source: RuleError,
    },
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

    /// Validates and converts into a username and a [`UserRecord`]. `index` (1-based) names
    /// the record in errors.
    pub fn into_user_record(self, index: usize) -> Result<(String, UserRecord), RecordError> {
        if self.username.is_empty() {
            return Err(RecordError::EmptyUsername { index });
        }
        let hash: HashAlgorithm = match Mechanism::from_name(&self.mechanism) {
            Some(m) if !m.is_plus() => m.hash(),
            _ => {
                return Err(RecordError::Mechanism {
                    index,
                    username: self.username,
                });
            }
        };
        let username = self.username;
        let bad = |source| RecordError::Credentials {
            index,
            username: username.clone(),
            source,
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
        })()
        .map_err(bad)?;
        let authz = if self.acl.is_empty() {
            None
        } else {
            let rules = RuleSet::compile(&self.acl).map_err(|source| RecordError::Acl {
                index,
                username: username.clone(),
                source,
            })?;
            Some(AuthzData::from_arc(Arc::new(rules)))
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

/// Parses a record file: one JSON object, a JSON array of objects, or JSON lines
/// (blank lines ignored). Every record is validated; the first bad one is an error.
pub fn parse_records(text: &str) -> Result<Vec<(String, UserRecord)>, RecordError> {
    let trimmed = text.trim_start();
    let raw: Vec<CredentialRecord> = if trimmed.starts_with('[') {
        serde_json::from_str(text).map_err(|e| RecordError::Json {
            index: 1,
            message: e.to_string(),
        })?
    } else {
        let mut all = Vec::new();
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<CredentialRecord>();
        for index in 1.. {
            match stream.next() {
                None => break,
                Some(Ok(r)) => all.push(r),
                Some(Err(e)) => {
                    return Err(RecordError::Json {
                        index,
                        message: e.to_string(),
                    });
                }
            }
        }
        all
    };
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| r.into_user_record(i + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC: &str = r#"{"username":"user","mechanism":"SCRAM-SHA-256","iterations":4096,"salt":"W22ZaJ0SNY7soEsUEjb6gQ==","stored_key":"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=","server_key":"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="}"#;

    #[test]
    fn round_trip_and_shapes() {
        let one = parse_records(RFC).unwrap();
        assert_eq!(one.len(), 1);
        let (name, rec) = &one[0];
        assert_eq!(name, "user");
        assert!(rec.credentials.verify_password("pencil").unwrap());
        let back = serde_json::to_string(&CredentialRecord::new(name, rec)).unwrap();
        assert_eq!(parse_records(&back).unwrap(), one);
        let array = std::format!("[{RFC},{RFC}]");
        assert_eq!(parse_records(&array).unwrap().len(), 2);
        let lines = std::format!("{RFC}\n\n{RFC}\n");
        assert_eq!(parse_records(&lines).unwrap().len(), 2);
        assert!(parse_records("").unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_records() {
        let short = RFC.replace("WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=", "WG5d8oPm");
        assert!(matches!(
            parse_records(&short),
            Err(RecordError::Credentials { .. })
        ));
        let mech = RFC.replace("SCRAM-SHA-256", "SCRAM-SHA-1");
        assert!(matches!(
            parse_records(&mech),
            Err(RecordError::Mechanism { .. })
        ));
        let extra = RFC.replace("\"username\"", "\"password\":\"x\",\"username\"");
        assert!(matches!(
            parse_records(&extra),
            Err(RecordError::Json { .. })
        ));
        let lines = std::format!("{RFC}\n{{oops");
        assert!(matches!(
            parse_records(&lines),
            Err(RecordError::Json { index: 2, .. })
        ));
    }
}
