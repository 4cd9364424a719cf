//! EMQX rules from JSON (feature `serde`): the lenient forms EMQX accepts
//! (`emqx_authz_rule_raw.erl`), validated strictly.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Deserialize;
use serde_json::Value;

use crate::access::Permission;
use crate::rules::{AclRule, Action, RuleError, RuleErrorKind, validate_rule};

/// The EMQX JSON form of a rule. Unknown fields are refused (EMQX ignores them): a
/// misspelt `qos` or `retain` would otherwise silently widen the rule.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    permission: String,
    action: String,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    topics: Option<Vec<String>>,
    #[serde(default)]
    qos: Option<Value>,
    #[serde(default)]
    retain: Option<Value>,
}

impl<'de> Deserialize<'de> for AclRule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawRule::deserialize(deserializer)?;
        let rule = raw
            .into_rule()
            .map_err(|kind| serde::de::Error::custom(RuleError::at(0, kind)))?;
        validate_rule(&rule).map_err(|kind| serde::de::Error::custom(RuleError::at(0, kind)))?;
        Ok(rule)
    }
}

fn one_qos(v: &Value) -> Option<u8> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|q| u8::try_from(q).ok()),
        Value::String(s) => s.trim().parse::<u8>().ok(),
        _ => None,
    }
    .filter(|q| *q <= 2)
}

impl RawRule {
    fn into_rule(self) -> Result<AclRule, RuleErrorKind> {
        let permission = match self.permission.to_ascii_lowercase().as_str() {
            "allow" => Permission::Allow,
            "deny" => Permission::Deny,
            _ => return Err(RuleErrorKind::Permission(self.permission)),
        };
        let action = match self.action.to_ascii_lowercase().as_str() {
            "publish" | "pub" => Action::Publish,
            "subscribe" | "sub" => Action::Subscribe,
            "all" | "pubsub" => Action::All,
            _ => return Err(RuleErrorKind::Action(self.action)),
        };
        let topics = match (self.topic, self.topics) {
            (Some(_), Some(_)) => return Err(RuleErrorKind::TopicAndTopics),
            (Some(t), None) => alloc::vec![t],
            (None, Some(ts)) if !ts.is_empty() => ts,
            _ => return Err(RuleErrorKind::NoTopics),
        };
        let bad_qos = |v: &Value| RuleErrorKind::Qos(v.to_string());
        let qos = match self.qos {
            // EMQX: an absent or null `qos` means every level.
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| one_qos(v).ok_or_else(|| bad_qos(v)))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(Value::String(s)) => Some(
                s.split(',')
                    .map(|p| {
                        one_qos(&Value::String(p.into()))
                            .ok_or_else(|| RuleErrorKind::Qos(alloc::format!("{s:?}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(v) => Some(alloc::vec![one_qos(&v).ok_or_else(|| bad_qos(&v))?]),
        };
        // `emqx_authz_rule_raw:validate_rule_retain/1`.
        let retain = match self.retain {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(Value::Number(n)) if n.as_u64() == Some(1) => Some(true),
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Some(false),
            Some(Value::String(s)) => match s.as_str() {
                "all" => None,
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => return Err(RuleErrorKind::Retain(alloc::format!("{s:?}"))),
            },
            Some(v) => return Err(RuleErrorKind::Retain(v.to_string())),
        };
        Ok(AclRule {
            permission,
            action,
            topics,
            qos,
            retain,
        })
    }
}

/// Parses one rule from its EMQX JSON form (`permission`, `action`, `topic`/`topics`,
/// optional `qos` and `retain`), validating it.
///
/// ```
/// use mqtt_scram_authz::{parse_rule, Action};
/// let rule = parse_rule(&serde_json::json!(
///     {"permission": "allow", "action": "pub", "topic": "t/#", "qos": "0,1", "retain": 0}))?;
/// assert_eq!(rule.action, Action::Publish);
/// assert_eq!(rule.retain, Some(false));
/// # Ok::<(), mqtt_scram_authz::RuleError>(())
/// ```
pub fn parse_rule(value: &Value) -> Result<AclRule, RuleError> {
    parse_at(value, 0)
}

/// Parses a JSON array of rules; the first invalid one is an error naming its position.
///
/// ```
/// let rules = mqtt_scram_authz::parse_rules(&serde_json::json!([
///     {"permission": "deny", "action": "all", "topics": ["$SYS/#", "eq #"]}
/// ]))?;
/// assert_eq!(rules[0].topics.len(), 2);
/// assert!(mqtt_scram_authz::parse_rules(&serde_json::json!({"not": "a list"})).is_err());
/// # Ok::<(), mqtt_scram_authz::RuleError>(())
/// ```
pub fn parse_rules(value: &Value) -> Result<Vec<AclRule>, RuleError> {
    let items = value
        .as_array()
        .ok_or_else(|| RuleError::at(0, RuleErrorKind::Shape("acl is not a JSON array".into())))?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| parse_at(v, i + 1))
        .collect()
}

fn parse_at(value: &Value, n: usize) -> Result<AclRule, RuleError> {
    let raw = RawRule::deserialize(value)
        .map_err(|e| RuleError::at(n, RuleErrorKind::Shape(e.to_string())))?;
    let rule = raw.into_rule().map_err(|kind| RuleError::at(n, kind))?;
    validate_rule(&rule).map_err(|kind| RuleError::at(n, kind))?;
    Ok(rule)
}
