//! Reading the service's answer: status, content type, a size-capped body, and the
//! EMQX SCRAM record (`stored_key`, `server_key`, `salt`, `is_superuser`, …).

use std::collections::BTreeMap;
use std::string::{String, ToString};

use serde_json::{Map, Value};

use std::sync::Arc;

use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{AuthzData, IgnoreKind, IgnoreReason, Lookup, UserRecord};
use mqtt_scram_authz::RuleSet;

/// A Unix time above this is taken for milliseconds (it is the year 5138 in seconds).
const MAX_EXPIRE_AT_SECONDS: u64 = 100_000_000_000;

fn ignore(reason: impl Into<String>) -> Lookup {
    Lookup::Ignore(IgnoreReason::invalid_record(reason.into()))
}

fn no_opinion(reason: &'static str) -> Lookup {
    Lookup::Ignore(IgnoreReason::new(IgnoreKind::NotApplicable, reason))
}

/// Turns the body of a 200 response into an answer: the provider's response parser,
/// public (hidden) for the fuzz targets. Never panics; every failure is
/// [`Lookup::Ignore`] with a reason that never repeats a key.
pub fn parse_body(
    content_type: Option<&str>,
    body: &[u8],
    hash: HashAlgorithm,
    default_iterations: u32,
) -> Lookup {
    if body.trim_ascii().eq_ignore_ascii_case(b"ignore") {
        return no_opinion("service answered \"ignore\"");
    }
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    let fields = match essence.as_deref() {
        Some("application/json") => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return ignore("json body is not an object"),
            Err(e) => return ignore(std::format!("invalid json body: {e}")),
        },
        Some("application/x-www-form-urlencoded") => form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect(),
        Some(other) => return ignore(std::format!("unexpected content-type {other:?}")),
        None => return ignore("response has no content-type"),
    };
    match parse_record(&fields, hash, default_iterations) {
        Ok(lookup) => lookup,
        Err(reason) => ignore(reason),
    }
}

fn parse_record(
    fields: &Map<String, Value>,
    hash: HashAlgorithm,
    default_iterations: u32,
) -> Result<Lookup, String> {
    match fields
        .get("result")
        .map(|r| r.as_str().ok_or("result is not a string"))
        .transpose()?
    {
        None | Some("allow") => {}
        Some("ignore") => return Ok(no_opinion("service answered result \"ignore\"")),
        Some("deny") => return Ok(Lookup::NotFound),
        Some(other) => return Err(std::format!("unknown result {other:?}")),
    }
    let text = |name: &str| -> Result<&str, String> {
        fields
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| std::format!("{name} is missing or not a string"))
    };
    let iterations = match fields.get("iteration_count") {
        None | Some(Value::Null) => default_iterations,
        Some(value) => unsigned(value)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or("iteration_count is not a positive 32-bit integer")?,
    };
    let credentials = StoredCredentials::from_emqx_hex(
        hash,
        text("salt")?,
        text("stored_key")?,
        text("server_key")?,
        iterations,
    )
    .map_err(|e| e.to_string())?;
    let mut record = UserRecord::new(credentials);
    let is_superuser = match fields.get("is_superuser") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "1" => true,
        Some(Value::String(s)) if s == "false" || s == "0" => false,
        Some(Value::Number(n)) if n.as_u64() == Some(1) => true,
        Some(Value::Number(n)) if n.as_u64() == Some(0) => false,
        Some(_) => return Err("is_superuser must be true, false, 1 or 0".into()),
    };
    record = record.superuser(is_superuser);
    if let Some(attrs) = fields.get("client_attrs").filter(|v| !v.is_null()) {
        record = record.client_attrs(client_attrs(attrs)?);
    }
    if let Some(expire_at) = fields.get("expire_at").filter(|v| !v.is_null()) {
        let expire_at = unsigned(expire_at).ok_or("expire_at is not a Unix time in seconds")?;
        if expire_at > MAX_EXPIRE_AT_SECONDS {
            return Err(std::format!(
                "expire_at {expire_at} looks like milliseconds; seconds are expected"
            ));
        }
        // A past `expire_at` stays: the engine refuses the login (a final "no").
        record = record.expire_at(Some(expire_at));
    }
    if let Some(acl) = fields.get("acl").filter(|v| !v.is_null()) {
        // The validating parser: an invalid rule rejects the whole record.
        let rules = mqtt_scram_authz::parse_rules(acl).map_err(|e| e.to_string())?;
        let compiled = RuleSet::compile(&rules).map_err(|e| e.to_string())?;
        record = record.authz(Some(AuthzData::from_arc(Arc::new(compiled))));
    }
    Ok(Lookup::found(record))
}

fn unsigned(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

fn client_attrs(value: &Value) -> Result<BTreeMap<String, String>, String> {
    let object = value.as_object().ok_or("client_attrs is not an object")?;
    let mut attrs = BTreeMap::new();
    for (key, value) in object {
        if !valid_attr_name(key) {
            tracing::warn!(attribute = %key, "dropping client attribute: name must match ^[A-Za-z0-9]+[A-Za-z0-9_-]*$");
            continue;
        }
        match value.as_str() {
            Some(v) => {
                attrs.insert(key.clone(), v.to_string());
            }
            None => {
                tracing::warn!(attribute = %key, "dropping client attribute: value is not a string")
            }
        }
    }
    Ok(attrs)
}

/// `^[A-Za-z0-9]+[A-Za-z0-9_-]*$`
fn valid_attr_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Lookup {
        parse_body(
            Some("application/json; charset=utf-8"),
            json.as_bytes(),
            HashAlgorithm::Sha256,
            4096,
        )
    }

    fn body(extra: &str) -> String {
        std::format!(
            r#"{{"salt": "73616C74", "stored_key": "{}", "server_key": "{}"{extra}}}"#,
            "AB".repeat(32),
            "cd".repeat(32)
        )
    }

    #[test]
    fn minimal_record_uses_defaults() {
        let Lookup::Found(record) = parse(&body("")) else {
            panic!()
        };
        assert_eq!(record.credentials.iterations(), 4096);
        assert_eq!(record.credentials.salt(), b"salt");
        assert!(!record.attributes.is_superuser);
    }

    #[test]
    fn optional_fields() {
        let extra = r#", "iteration_count": "10000", "is_superuser": 1, "expire_at": 1800000000,
            "client_attrs": {"tenant": "a", "_bad": "x", "n": 5}"#;
        let Lookup::Found(record) = parse(&body(extra)) else {
            panic!()
        };
        assert_eq!(record.credentials.iterations(), 10000);
        assert!(record.attributes.is_superuser);
        assert_eq!(record.attributes.expire_at, Some(1_800_000_000));
        assert_eq!(record.attributes.client_attrs.len(), 1);
    }

    #[test]
    fn rejected_records() {
        // A past expiry is kept for the engine to refuse (EMQX: "'expire_at' is in the
        // past" fails the login).
        let Lookup::Found(expired) = parse(&body(r#", "expire_at": 1600000000"#)) else {
            panic!()
        };
        assert_eq!(expired.attributes.expire_at, Some(1_600_000_000));
        for extra in [
            r#", "expire_at": 1800000000000"#,
            r#", "is_superuser": "yes""#,
            r#", "iteration_count": 0"#,
            r#", "acl": [{"permission": "allow"}]"#,
            r#", "result": "maybe""#,
        ] {
            assert!(matches!(parse(&body(extra)), Lookup::Ignore(_)), "{extra}");
        }
        assert!(matches!(
            parse(r#"{"salt": "zz", "stored_key": "", "server_key": ""}"#),
            Lookup::Ignore(_)
        ));
        assert!(matches!(parse("[1]"), Lookup::Ignore(_)));
        assert!(matches!(parse("{"), Lookup::Ignore(_)));
        assert!(matches!(parse(r#"{"result": "deny"}"#), Lookup::NotFound));
        assert!(matches!(
            parse_body(None, b" ignore\n", HashAlgorithm::Sha256, 1),
            Lookup::Ignore(r) if r.kind() == IgnoreKind::NotApplicable
        ));
        assert!(matches!(
            parse_body(Some("text/html"), b"{}", HashAlgorithm::Sha256, 1),
            Lookup::Ignore(r) if r.kind() == IgnoreKind::InvalidRecord
        ));
    }

    #[test]
    fn form_body() {
        let form = std::format!(
            "salt=73616c74&stored_key={}&server_key={}&is_superuser=true",
            "ab".repeat(32),
            "cd".repeat(32)
        );
        let lookup = parse_body(
            Some("application/x-www-form-urlencoded"),
            form.as_bytes(),
            HashAlgorithm::Sha256,
            4096,
        );
        assert!(matches!(lookup, Lookup::Found(r) if r.attributes.is_superuser));
    }
}

#[cfg(test)]
mod acl_tests {

    use mqtt_scram_authz::Action;
    use mqtt_scram_authz::parse_rules;
    use serde_json::json;

    #[test]
    fn emqx_rule_forms() {
        let rules = parse_rules(&json!([
            {"permission": "allow", "action": "pub", "topic": "t/1", "qos": [1, 0], "retain": "all"},
            {"permission": "deny", "action": "all", "topics": ["a/#", "eq b/+"], "qos": "0,2", "retain": false},
            {"permission": "allow", "action": "subscribe", "topic": "x", "qos": 1}
        ]))
        .unwrap();
        assert_eq!(rules[0].action, Action::Publish);
        let mut qos = rules[0].qos.clone().unwrap();
        qos.sort_unstable();
        assert_eq!(qos, [0, 1]);
        assert_eq!(rules[0].retain, None);
        assert_eq!(rules[1].topics, ["a/#", "eq b/+"]);
        assert_eq!(rules[1].qos, Some(std::vec![0, 2]));
        assert_eq!(rules[1].retain, Some(false));
        assert_eq!(rules[2].qos, Some(std::vec![1]));
    }

    #[test]
    fn invalid_rules_are_errors() {
        for bad in [
            json!([{"permission": "maybe", "action": "all", "topic": "t"}]),
            json!([{"permission": "allow", "action": "read", "topic": "t"}]),
            json!([{"permission": "allow", "action": "all"}]),
            json!([{"permission": "allow", "action": "all", "topic": "t", "qos": 3}]),
            json!([{"permission": "allow", "action": "all", "topic": "t", "retain": "sometimes"}]),
            json!({"permission": "allow"}),
            json!([{"permission": "allow", "action": "all", "topic": "a/#/b"}]),
            json!([{"permission": "allow", "action": "all", "topic": "${nope}/x"}]),
        ] {
            assert!(parse_rules(&bad).is_err(), "{bad}");
        }
    }
}
