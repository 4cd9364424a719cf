//! EMQX authorization rules as an HTTP authentication response carries them
//! (`"acl": [{"permission": "allow", "action": "publish", "topic": "t/#"}]`), read into
//! [`AclRule`]s.

use std::string::{String, ToString};
use std::vec::Vec;

use serde_json::Value;

use crate::acl::{AclRule, Action, Permission};

/// Reads a list of rules; any invalid rule rejects the whole list.
pub(crate) fn parse_rules(value: &Value) -> Result<Vec<AclRule>, String> {
    let rules = value.as_array().ok_or("acl is not a list")?;
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| parse_rule(rule).map_err(|e| std::format!("acl rule {i}: {e}")))
        .collect()
}

fn parse_rule(value: &Value) -> Result<AclRule, String> {
    let rule = value.as_object().ok_or("not an object")?;
    let permission = match rule.get("permission").and_then(Value::as_str) {
        Some("allow") => Permission::Allow,
        Some("deny") => Permission::Deny,
        _ => return Err("permission must be \"allow\" or \"deny\"".into()),
    };
    let action = match rule.get("action").and_then(Value::as_str) {
        Some("publish" | "pub") => Action::Publish,
        Some("subscribe" | "sub") => Action::Subscribe,
        Some("all") => Action::All,
        _ => return Err("action must be publish, subscribe or all".into()),
    };
    let mut topics = Vec::new();
    if let Some(topic) = rule.get("topic") {
        topics.push(topic.as_str().ok_or("topic is not a string")?.to_string());
    }
    if let Some(list) = rule.get("topics") {
        for topic in list.as_array().ok_or("topics is not a list")? {
            topics.push(
                topic
                    .as_str()
                    .ok_or("topics holds a non-string")?
                    .to_string(),
            );
        }
    }
    if topics.is_empty() || topics.iter().any(String::is_empty) {
        return Err("no topic (or an empty one)".into());
    }
    let qos = match rule.get("qos") {
        None | Some(Value::Null) => None,
        Some(value) => Some(parse_qos(value)?),
    };
    let retain = match rule.get("retain") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s == "all" => None,
        Some(Value::String(s)) if s == "true" => Some(true),
        Some(Value::String(s)) if s == "false" => Some(false),
        Some(_) => return Err("retain must be true, false or \"all\"".into()),
    };
    Ok(AclRule {
        permission,
        action,
        topics,
        qos,
        retain,
    })
}

fn parse_qos(value: &Value) -> Result<Vec<u8>, String> {
    let one = |v: u64| {
        u8::try_from(v)
            .ok()
            .filter(|q| *q <= 2)
            .ok_or("qos must be 0, 1 or 2")
    };
    let mut levels = match value {
        Value::Number(n) => std::vec![one(n.as_u64().ok_or("qos must be 0, 1 or 2")?)?],
        Value::Array(list) => list
            .iter()
            .map(|v| v.as_u64().ok_or("qos must be 0, 1 or 2").and_then(one))
            .collect::<Result<Vec<_>, _>>()?,
        Value::String(s) => s
            .split(',')
            .map(|q| {
                q.trim()
                    .parse::<u64>()
                    .map_err(|_| "qos must be 0, 1 or 2")
                    .and_then(one)
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("qos must be a number, a list or \"0,1\"".into()),
    };
    levels.sort_unstable();
    levels.dedup();
    if levels.is_empty() {
        return Err("qos list is empty".into());
    }
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(rules[0].qos, Some(std::vec![0, 1]));
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
        ] {
            assert!(parse_rules(&bad).is_err(), "{bad}");
        }
    }
}
