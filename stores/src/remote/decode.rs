//! One stored row (PostgreSQL) or hash (Redis) into a [`Lookup`]: the columns or fields
//! named like the default schema's, or one `verifier` in PostgreSQL's own format.
//!
//! Every problem is a reason string for [`IgnoreReason::invalid_record`](mqtt_scram::provider::IgnoreReason::invalid_record);
//! reasons name the column or field, never its value (a key is a secret).

use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::vec::Vec;

use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{Lookup, UserRecord};
use serde_json::Value;
use zeroize::Zeroizing;

use super::Encoding;
use crate::record::with_acl_rules;

/// A Unix time above this is taken for milliseconds (it is the year 5138 in seconds).
pub(crate) const MAX_EXPIRE_AT_SECONDS: u64 = 100_000_000_000;

/// One value as the store returned it, converted from the driver's type.
#[derive(Clone, PartialEq)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) enum Cell {
    /// SQL `NULL`, a missing hash field, a nil reply.
    Null,
    /// Raw bytes (`bytea`): salts and keys as they are (wiped on drop).
    Bytes(Zeroizing<Vec<u8>>),
    /// Text: salts and keys in the configured [`Encoding`], numbers in decimal, JSON
    /// (wiped on drop).
    Text(Zeroizing<String>),
    /// An integer column.
    Int(i64),
    /// A boolean column.
    Bool(bool),
    /// A `json`/`jsonb` column.
    Json(Value),
}

impl Cell {
    /// Text, wiped on drop.
    pub(crate) fn text(text: impl Into<String>) -> Self {
        Self::Text(Zeroizing::new(text.into()))
    }

    /// Bytes, wiped on drop.
    #[cfg(feature = "postgres")]
    pub(crate) fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self::Bytes(Zeroizing::new(bytes.into()))
    }
}

impl Cell {
    fn type_name(&self) -> &'static str {
        match self {
            Cell::Null => "null",
            Cell::Bytes(_) => "bytes",
            Cell::Text(_) => "text",
            Cell::Int(_) => "integer",
            Cell::Bool(_) => "boolean",
            Cell::Json(_) => "json",
        }
    }
}

/// The named values of one record. Names are the default schema's column names.
pub(crate) type Fields = BTreeMap<String, Cell>;

/// The column and field names a record may have.
pub(crate) const KNOWN_FIELDS: &[&str] = &[
    "verifier",
    "mechanism",
    "iterations",
    "salt",
    "stored_key",
    "server_key",
    "is_superuser",
    "client_attrs",
    "expire_at",
    "acl",
];

/// Whether `name` is a column or field the decoder understands (`iteration_count` is
/// EMQX's spelling of `iterations`).
pub(crate) fn is_known_field(name: &str) -> bool {
    KNOWN_FIELDS.contains(&name) || name == "iteration_count"
}

/// Decodes one record for `hash`. `Ok(Lookup::NotFound)` when the record belongs to the
/// other hash (a `verifier` or `mechanism` of SCRAM-SHA-512 for a SCRAM-SHA-256 lookup).
pub(crate) fn decode_record(
    mut fields: Fields,
    hash: HashAlgorithm,
    encoding: Encoding,
) -> Result<Lookup, String> {
    let mut take = |name: &str| fields.remove(name).unwrap_or(Cell::Null);
    if let Cell::Text(mechanism) = take("mechanism") {
        if mechanism.trim() != hash.mechanism().name() {
            return Ok(Lookup::NotFound);
        }
    }
    let credentials = match take("verifier") {
        Cell::Null => {
            let iterations = match take("iterations") {
                Cell::Null => take("iteration_count"),
                cell => cell,
            };
            let iterations = integer("iterations", &iterations)?
                .ok_or("iterations is missing (or select a verifier column)")?;
            let iterations = u32::try_from(iterations)
                .ok()
                .filter(|n| *n > 0)
                .ok_or("iterations is not a positive 32-bit integer")?;
            let salt = bytes("salt", take("salt"), encoding)?;
            let stored = bytes("stored_key", take("stored_key"), encoding)?;
            let server = bytes("server_key", take("server_key"), encoding)?;
            StoredCredentials::from_parts(hash, &salt, iterations, &stored, &server)
                .map_err(|e| e.to_string())?
        }
        Cell::Text(verifier) => {
            let credentials = StoredCredentials::from_postgres(&verifier)
                .map_err(|e| std::format!("verifier: {e}"))?;
            if credentials.hash() != hash {
                return Ok(Lookup::NotFound);
            }
            credentials
        }
        other => {
            return Err(std::format!(
                "verifier must be text, not {}",
                other.type_name()
            ));
        }
    };
    let is_superuser = match take("is_superuser") {
        Cell::Null => false,
        Cell::Bool(b) => b,
        Cell::Int(1) => true,
        Cell::Int(0) => false,
        Cell::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => true,
            "false" | "f" | "0" | "" => false,
            _ => return Err("is_superuser must be true, false, 1 or 0".into()),
        },
        _ => return Err("is_superuser must be true, false, 1 or 0".into()),
    };
    let mut record = UserRecord::new(credentials).superuser(is_superuser);
    if let Some(attrs) = json("client_attrs", take("client_attrs"))? {
        record = record.client_attrs(client_attrs(&attrs)?);
    }
    if let Some(expire_at) = integer("expire_at", &take("expire_at"))? {
        let expire_at =
            u64::try_from(expire_at).map_err(|_| "expire_at is negative".to_string())?;
        if expire_at > MAX_EXPIRE_AT_SECONDS {
            return Err(std::format!(
                "expire_at {expire_at} looks like milliseconds; seconds are expected"
            ));
        }
        // An expired record is still Found: expiry is a final "no" that the engine enforces.
        record = record.expire_at(Some(expire_at));
    }
    if let Some(acl) = json("acl", take("acl"))? {
        let rules = mqtt_scram_authz::parse_rules(&acl).map_err(|e| std::format!("acl: {e}"))?;
        record = with_acl_rules(record, &rules).map_err(|e| std::format!("acl: {e}"))?;
    }
    Ok(Lookup::found(record))
}

fn integer(name: &str, cell: &Cell) -> Result<Option<i64>, String> {
    match cell {
        Cell::Null => Ok(None),
        Cell::Int(n) => Ok(Some(*n)),
        Cell::Text(t) => {
            let t = t.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse()
                .map(Some)
                .map_err(|_| std::format!("{name} is not an integer"))
        }
        other => Err(std::format!(
            "{name} must be an integer, not {}",
            other.type_name()
        )),
    }
}

fn bytes(name: &str, cell: Cell, encoding: Encoding) -> Result<Zeroizing<Vec<u8>>, String> {
    match &cell {
        Cell::Null => Err(std::format!("{name} is missing or null")),
        Cell::Bytes(b) => Ok(b.clone()),
        Cell::Text(t) => encoding
            .decode(t)
            .map(Zeroizing::new)
            .ok_or_else(|| std::format!("{name} is not valid {}", encoding.name())),
        other => Err(std::format!(
            "{name} must be bytes or text, not {}",
            other.type_name()
        )),
    }
}

fn json(name: &str, cell: Cell) -> Result<Option<Value>, String> {
    match &cell {
        Cell::Null => Ok(None),
        Cell::Json(Value::Null) => Ok(None),
        Cell::Json(v) => Ok(Some(v.clone())),
        Cell::Text(t) if t.trim().is_empty() => Ok(None),
        Cell::Text(t) => serde_json::from_str(t.as_str())
            .map(Some)
            .map_err(|e| std::format!("{name} is not valid JSON: {e}")),
        other => Err(std::format!(
            "{name} must be JSON, not {}",
            other.type_name()
        )),
    }
}

fn client_attrs(value: &Value) -> Result<BTreeMap<String, String>, String> {
    let object = value
        .as_object()
        .ok_or("client_attrs is not a JSON object")?;
    let mut attrs = BTreeMap::new();
    for (key, value) in object {
        let text = value
            .as_str()
            .ok_or_else(|| std::format!("client_attrs.{key} is not a string"))?;
        attrs.insert(key.clone(), text.to_string());
    }
    Ok(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_scram::provider::UserAttributes;

    fn rfc() -> Fields {
        let mut f = Fields::new();
        f.insert("iterations".into(), Cell::Int(4096));
        f.insert("salt".into(), Cell::text("W22ZaJ0SNY7soEsUEjb6gQ=="));
        f.insert(
            "stored_key".into(),
            Cell::text("WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="),
        );
        f.insert(
            "server_key".into(),
            Cell::text("wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="),
        );
        f
    }

    fn attributes(lookup: Lookup) -> std::sync::Arc<UserAttributes> {
        match lookup {
            Lookup::Found(r) => {
                assert!(r.credentials.verify_password("pencil").unwrap());
                std::sync::Arc::clone(&r.attributes)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn columns_and_extras() {
        let mut f = rfc();
        f.insert("is_superuser".into(), Cell::text("1"));
        f.insert(
            "client_attrs".into(),
            Cell::Json(serde_json::json!({"site": "lab"})),
        );
        f.insert("expire_at".into(), Cell::Int(1_000));
        f.insert(
            "acl".into(),
            Cell::text(r#"[{"permission":"allow","action":"all","topic":"t/#"}]"#),
        );
        let a = attributes(decode_record(f, HashAlgorithm::Sha256, Encoding::Base64).unwrap());
        assert!(a.is_superuser);
        assert_eq!(a.client_attrs["site"], "lab");
        assert_eq!(a.expire_at, Some(1_000), "expired records are still found");
        assert!(a.authz.is_some());
    }

    #[test]
    fn verifier_column() {
        let mut f = Fields::new();
        f.insert("verifier".into(), Cell::text("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="));
        let a = attributes(decode_record(f.clone(), HashAlgorithm::Sha256, Encoding::Hex).unwrap());
        assert!(!a.is_superuser);
        assert_eq!(
            decode_record(f, HashAlgorithm::Sha512, Encoding::Hex).unwrap(),
            Lookup::NotFound
        );
    }

    #[test]
    fn garbage_is_a_reason_without_the_value() {
        let cases: Vec<(&str, Cell)> = vec![
            ("iterations", Cell::text("many")),
            ("iterations", Cell::Int(0)),
            ("iterations", Cell::Bool(true)),
            ("salt", Cell::Null),
            ("salt", Cell::text("%%%secret%%%")),
            ("stored_key", Cell::text("AAAA")),
            ("is_superuser", Cell::text("yes")),
            ("client_attrs", Cell::text("[1]")),
            ("client_attrs", Cell::Json(serde_json::json!({"a": 1}))),
            ("expire_at", Cell::Int(1_800_000_000_000)),
            ("expire_at", Cell::Int(-1)),
            ("acl", Cell::text(r#"[{"permission":"allow"}]"#)),
            ("verifier", Cell::Int(3)),
            ("verifier", Cell::text("SCRAM-SHA-256$x")),
        ];
        for (name, cell) in cases {
            let mut f = rfc();
            f.insert(name.into(), cell);
            let reason = decode_record(f, HashAlgorithm::Sha256, Encoding::Base64).unwrap_err();
            assert!(
                reason.contains(name) || name == "stored_key",
                "{name}: {reason}"
            );
            assert!(!reason.contains("secret"), "{reason}");
        }
    }

    #[test]
    fn hex_encoding_and_mechanism_column() {
        let mut f = Fields::new();
        f.insert("iteration_count".into(), Cell::text("4096"));
        f.insert(
            "salt".into(),
            Cell::text("5b6d99689d12358eeca04b141236fa81"),
        );
        f.insert(
            "stored_key".into(),
            Cell::text("586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6"),
        );
        f.insert(
            "server_key".into(),
            Cell::text("c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5"),
        );
        f.insert("mechanism".into(), Cell::text("SCRAM-SHA-256"));
        attributes(decode_record(f.clone(), HashAlgorithm::Sha256, Encoding::Hex).unwrap());
        f.insert("mechanism".into(), Cell::text("SCRAM-SHA-512"));
        assert_eq!(
            decode_record(f, HashAlgorithm::Sha256, Encoding::Hex).unwrap(),
            Lookup::NotFound
        );
    }
}
