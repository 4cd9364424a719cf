//! EMQX rules from JSON (`mqtt_scram_authz::parse_rules`, and `AclRule`'s `Deserialize`)
//! on arbitrary JSON, then compiled and checked.
//!
//! - never panics;
//! - `parse_rules` and deserializing `Vec<AclRule>` accept the same inputs;
//! - accepted rules compile (`RuleSet::compile`) and serialize to JSON that parses back to
//!   the same rules;
//! - checks on the compiled set never panic, and a name with a wildcard is never allowed
//!   to be published.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_scram_authz::{AclRule, Client, Decision, Request, RuleSet, parse_rules};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let parsed = parse_rules(&value);
    let derived = serde_json::from_value::<Vec<AclRule>>(value.clone());
    assert_eq!(parsed.is_ok(), derived.is_ok(), "{parsed:?} vs {derived:?}");
    let Ok(rules) = parsed else {
        return;
    };
    assert_eq!(Ok(&rules), derived.as_ref().map_err(|_| ()));
    let set = RuleSet::compile(&rules).expect("parsed rules compile");
    let written = serde_json::to_value(&rules).expect("rules serialize");
    assert_eq!(
        parse_rules(&written).expect("written rules parse back"),
        rules
    );

    let mut client = Client::new("alice", "c/1");
    client.cert_common_name = Some("cn".into());
    client.client_attrs.insert("tenant".into(), "+".into());
    let topics: Vec<&str> = rules
        .iter()
        .flat_map(|r| r.topics.iter().map(String::as_str))
        .chain(["a/b", "#", "+/+", "$SYS/x", "alice/x", "$share/g/a/#", ""])
        .collect();
    for topic in topics {
        for qos in 0..=3 {
            for request in [
                Request::publish(topic, qos, qos % 2 == 0),
                Request::subscribe(topic, qos),
                Request::read(topic, qos),
            ] {
                let decision = set.check(&client, request);
                if request.access == mqtt_scram_authz::Access::Publish && topic.contains(['+', '#'])
                {
                    assert!(!matches!(decision, Decision::Allow(_)), "{topic:?}");
                }
            }
        }
    }
});
