//! EMQX authorization rules as an HTTP authentication response carries them
//! (`"acl": [{"permission": "allow", "action": "publish", "topic": "t/#"}]`), read into
//! [`AclRule`]s.

use std::string::{String, ToString};
use std::vec::Vec;

use serde_json::Value;

use crate::acl::AclRule;

/// Reads a list of rules with the crate's validating parser ([`crate::acl::parse_rules`]:
/// topics, placeholders, qos and retain are checked); any invalid rule rejects the whole
/// list, so a record is never half-authorized.
pub(crate) fn parse_rules(value: &Value) -> Result<Vec<AclRule>, String> {
    crate::acl::parse_rules(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::Action;
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
