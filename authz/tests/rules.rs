//! EMQX rules: topic matching edge cases, placeholders, QoS/retain, the JSON forms, chains;
//! the trie against a linear reference; untrusted input never panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use mqtt_scram_authz::file::FileAcl;
use mqtt_scram_authz::{
    Access, AclRule, Action, Chain, Client, ClientRules, Decision, Permission, Request,
    RuleErrorKind, RuleSet,
};

mod common;
use common::*;

#[test]
fn literal_and_wildcard_filters() {
    let c = Client::new("u", "c");
    let rules = [
        allow(Action::Publish, &["a/b"]),
        allow(Action::Subscribe, &["s/+/x"]),
        allow(Action::All, &["all/#"]),
    ];
    run(
        &rules,
        &c,
        &[
            (P, "a/b", Some(true)),
            (S, "a/b", None),
            (P, "a/b/c", None),
            (P, "a", None),
            (S, "s/1/x", Some(true)),
            (R, "s/1/x", Some(true)),
            (P, "s/1/x", None),
            (S, "s/+/x", Some(true)),
            (S, "s/#", None),
            (P, "all", Some(true)),
            (P, "all/x/y", Some(true)),
            (S, "all/+/y", Some(true)),
            (S, "all/#", Some(true)),
            (S, "$share/g/all/x", Some(true)),
            (S, "$share/g/a/b", None),
        ],
    );
}

#[test]
fn first_match_wins_in_rule_order() {
    let c = Client::new("u", "c");
    run(
        &[
            deny(Action::All, &["x/secret"]),
            allow(Action::All, &["x/#"]),
        ],
        &c,
        &[
            (P, "x/secret", Some(false)),
            (P, "x/public", Some(true)),
            (S, "x/+", Some(false)),
            (S, "x/public", Some(true)),
        ],
    );
    run(
        &[
            allow(Action::All, &["x/#"]),
            deny(Action::All, &["x/secret"]),
        ],
        &c,
        &[(P, "x/secret", Some(true)), (S, "x/+", Some(true))],
    );
}

#[test]
fn dollar_topics_and_root_hash() {
    let c = Client::new("u", "c");
    run(
        &[allow(Action::All, &["#"])],
        &c,
        &[
            (P, "a", Some(true)),
            (P, "/", Some(true)),
            (P, "$SYS/broker/uptime", None),
            (S, "$SYS/#", None),
            (S, "#", Some(true)),
            (S, "+/x", Some(true)),
            (R, "$SYS/x", None),
        ],
    );
    run(
        &[allow(Action::All, &["+/x"])],
        &c,
        &[(P, "$SYS/x", None), (P, "a/x", Some(true))],
    );
    run(
        &[allow(Action::Subscribe, &["$SYS/#"])],
        &c,
        &[
            (S, "$SYS/#", Some(true)),
            (S, "$SYS/a/b", Some(true)),
            (S, "#", None),
            (R, "$SYS/a", Some(true)),
        ],
    );
    // A deny on $SYS does not overlap a subscription to "#".
    run(
        &[
            deny(Action::Subscribe, &["$SYS/#"]),
            allow(Action::Subscribe, &["#"]),
        ],
        &c,
        &[(S, "#", Some(true)), (S, "$SYS/x", Some(false))],
    );
}

#[test]
fn eq_is_literal() {
    let c = Client::new("u", "c");
    run(
        &[
            deny(Action::Subscribe, &["eq #"]),
            allow(Action::All, &["eq a/+"]),
            allow(Action::Subscribe, &["#"]),
        ],
        &c,
        &[
            (S, "#", Some(false)),
            (S, "a/#", Some(true)),
            (S, "a/+", Some(true)),
            // "eq a/+" is a literal filter: it grants only that exact subscription and
            // cannot match a topic name.
            (P, "a/b", None),
            (S, "a/b", Some(true)),
        ],
    );
    run(
        &[allow(Action::All, &["eq ${username}/x"])],
        &c,
        &[(P, "u/x", None)],
    );
}

#[test]
fn placeholders() {
    let mut c = Client::new("alice", "dev-1");
    c.cert_common_name = Some("cn1".into());
    c.client_attrs.insert("group".into(), "g7".into());
    run(
        &[allow(
            Action::All,
            &[
                "u/${username}/#",
                "c/${clientid}",
                "cn/${cert_common_name}",
                "g/${client_attrs.group}/+",
                "p/x-${username}-y",
            ],
        )],
        &c,
        &[
            (P, "u/alice/t", Some(true)),
            (P, "u/bob/t", None),
            (P, "c/dev-1", Some(true)),
            (P, "c/dev-2", None),
            (P, "cn/cn1", Some(true)),
            (P, "g/g7/z", Some(true)),
            (P, "g/g8/z", None),
            (P, "p/x-alice-y", Some(true)),
            (P, "p/x-alice", None),
            (S, "u/alice/+", Some(true)),
            (S, "u/+/t", None),
        ],
    );
    // Missing values never match.
    let anon = Client::anonymous("dev-1");
    run(
        &[allow(
            Action::All,
            &[
                "u/${username}",
                "cn/${cert_common_name}",
                "a/${client_attrs.x}",
            ],
        )],
        &anon,
        &[(P, "u/", None), (P, "cn/", None), (P, "a/", None)],
    );
}

#[test]
fn placeholder_values_cannot_widen_access() {
    let rules = [allow(
        Action::All,
        &["users/${username}/#", "${username}/data", "c/${clientid}"],
    )];
    for name in ["a/b", "+", "#", "x+", "a#", ""] {
        let c = Client::new(name, "c/+");
        let set = RuleSet::compile(&rules).unwrap();
        for (access, topic) in [
            (S, "users/+/#"),
            (S, "users/#"),
            (S, "#"),
            (S, "+/data"),
            (P, "users/a/b/x"),
            (P, "a/b/data"),
            (S, "c/+"),
            (S, "c/#"),
            (P, "users//x"),
        ] {
            assert_eq!(
                verdict(set.check(&c, rq(access, topic, 0, false))),
                None,
                "user {name:?}: {access:?} {topic}"
            );
        }
    }
    // A user called "$SYS" does not reach system topics through a leading placeholder.
    let c = Client::new("$SYS", "c");
    run(
        &rules,
        &c,
        &[
            (P, "$SYS/data", None),
            (S, "$SYS/data", None),
            (P, "users/$SYS/x", Some(true)),
        ],
    );
}

#[test]
fn qos_and_retain_conditions() {
    let c = Client::new("u", "c");
    let mut r1 = allow(Action::Publish, &["t"]);
    r1.qos = Some(vec![0, 1]);
    r1.retain = Some(false);
    let mut r2 = deny(Action::All, &["t"]);
    r2.retain = Some(true);
    let set = RuleSet::compile(&[r1, r2]).unwrap();
    let check = |a, q, r| verdict(set.check(&c, rq(a, "t", q, r)));
    assert_eq!(check(P, 0, false), Some(true));
    assert_eq!(check(P, 1, false), Some(true));
    // QoS 2 is outside r1, and r2 only covers retained publishes.
    assert_eq!(check(P, 2, false), None);
    assert_eq!(check(P, 1, true), Some(false));
    assert_eq!(check(P, 3, false), Some(false)); // invalid QoS is denied
    // retain does not constrain subscribe: r2 applies to subscribe at any retain.
    assert_eq!(check(S, 0, false), Some(false));
}

#[test]
fn invalid_topics_are_denied() {
    let c = Client::new("u", "c");
    run(
        &[allow(Action::All, &["#"])],
        &c,
        &[
            (P, "a/+", Some(false)),
            (P, "", Some(false)),
            (S, "a/#/b", Some(false)),
            (S, "$share/g", Some(false)),
        ],
    );
}

#[test]
fn invalid_rules_are_rejected_whole() {
    for (rules, kind) in [
        (vec![allow(Action::All, &[])], "no topic"),
        (vec![allow(Action::All, &["a/#/b"])], "topic"),
        (vec![allow(Action::All, &["a/b+"])], "topic"),
        (vec![allow(Action::All, &["${user}/x"])], "placeholder"),
        (vec![allow(Action::All, &["${username/x"])], "placeholder"),
        (vec![allow(Action::All, &["eq "])], "topic"),
    ] {
        let mut all = vec![allow(Action::All, &["ok/#"])];
        all.extend(rules);
        let err = RuleSet::compile(&all).unwrap_err();
        assert_eq!(err.rule, 2, "{err}");
        assert!(err.to_string().contains(kind), "{err}");
    }
    let mut bad_qos = allow(Action::All, &["t"]);
    bad_qos.qos = Some(vec![3]);
    assert!(matches!(
        RuleSet::compile(&[bad_qos]).unwrap_err().kind,
        RuleErrorKind::Qos(_)
    ));
}

#[cfg(feature = "serde")]
#[test]
fn emqx_json_forms() {
    use mqtt_scram_authz::{parse_rule, parse_rules};
    use serde_json::json;
    let r = parse_rule(&json!({"permission": "allow", "action": "pub", "topic": "t/1", "qos": "0,1", "retain": "all"}))
        .unwrap();
    assert_eq!(
        r,
        AclRule {
            qos: Some(vec![0, 1]),
            ..allow(Action::Publish, &["t/1"])
        }
    );
    let r = parse_rule(&json!({"permission": "deny", "action": "sub", "topics": ["a", "eq b/#"], "qos": 2, "retain": true}))
        .unwrap();
    assert_eq!(
        r,
        AclRule {
            qos: Some(vec![2]),
            retain: Some(true),
            ..deny(Action::Subscribe, &["a", "eq b/#"])
        }
    );
    let r =
        parse_rule(&json!({"permission": "allow", "action": "all", "topic": "x", "qos": [0, 2]}))
            .unwrap();
    assert_eq!(r.qos, Some(vec![0, 2]));
    for bad in [
        json!({"permission": "maybe", "action": "all", "topic": "x"}),
        json!({"permission": "allow", "action": "read", "topic": "x"}),
        json!({"permission": "allow", "action": "all"}),
        json!({"permission": "allow", "action": "all", "topic": "x", "topics": ["y"]}),
        json!({"permission": "allow", "action": "all", "topic": "x", "qos": 3}),
        json!({"permission": "allow", "action": "all", "topic": "x", "qos": "0,7"}),
        json!({"permission": "allow", "action": "all", "topic": "x", "retain": "sometimes"}),
        json!({"permission": "allow", "action": "all", "topic": "x", "who": "anyone"}),
        json!({"permission": "allow", "action": "all", "topic": "a/#/b"}),
    ] {
        assert!(parse_rule(&bad).is_err(), "{bad}");
    }
    let err = parse_rules(
        &json!([{"permission": "allow", "action": "all", "topic": "x"}, {"permission": "allow"}]),
    )
    .unwrap_err();
    assert_eq!(err.rule, 2);
    // Deserializing AclRule (as a record does) validates the same way.
    let ok: Vec<AclRule> =
        serde_json::from_value(json!([{"permission": "allow", "action": "all", "topic": "x"}]))
            .unwrap();
    assert_eq!(ok.len(), 1);
    let bad = serde_json::from_value::<AclRule>(
        json!({"permission": "allow", "action": "all", "topic": "${nope}"}),
    );
    assert!(bad.unwrap_err().to_string().contains("unknown placeholder"));
    // Round trip through Serialize.
    let back: AclRule = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn chain_order_default_and_superuser() {
    let c = Client::new("u", "c")
        .with_rules(&[deny(Action::Publish, &["x"])])
        .unwrap();
    let file = FileAcl::parse("pattern %u/#\ntopic x\n").unwrap();
    let chain = Chain::new().with(ClientRules).with(file);
    assert_eq!(verdict(chain.check(&c, rq(P, "x", 0, false))), Some(false));
    assert_eq!(verdict(chain.check(&c, rq(P, "u/1", 0, false))), Some(true));
    assert_eq!(verdict(chain.check(&c, rq(P, "y", 0, false))), Some(false)); // default deny
    let open = Chain::new()
        .with(ClientRules)
        .default_decision(Decision::Allow(None));
    assert_eq!(verdict(open.check(&c, rq(P, "y", 0, false))), Some(true));
    let su = c.clone().superuser(true);
    let d = chain.check(&su, rq(P, "x", 0, false));
    assert_eq!(d.label(), Some("superuser"));
    assert!(d.is_allowed());
    let strict = Chain::new().with(ClientRules).superuser_bypass(false);
    assert_eq!(
        verdict(strict.check(&su, rq(P, "x", 0, false))),
        Some(false)
    );
}

#[test]
fn async_chain_mixes_sync_authorizers() {
    use mqtt_scram_authz::AsyncChain;
    let c = Client::new("u", "c");
    let chain = AsyncChain::new().with(FileAcl::parse("user u\ntopic t\n").unwrap());
    let fut = chain.authorize(&c, rq(P, "t", 0, false));
    let d = block_on(fut);
    assert!(d.is_allowed());
    assert!(!block_on(chain.authorize(&c, rq(P, "other", 0, false))).is_allowed());
}

// ---- the trie agrees with a linear reference ----

#[path = "rules/reference.rs"]
mod reference;

#[test]
fn client_from_identity() {
    use mqtt_scram::provider::{AuthzData, UserAttributes};
    use mqtt_scram::{ConnectionInfo, Identity, Mechanism};
    let mut conn = ConnectionInfo::new("dev-7");
    conn.cert_common_name = Some("cn-7".into());
    conn.client_attrs
        .insert("site".into(), "from-broker".into());
    let rules = vec![allow(
        Action::Publish,
        &["${client_attrs.site}/${clientid}/${cert_common_name}"],
    )];
    let mut attributes = UserAttributes::new();
    attributes.client_attrs = [("site".to_string(), "from-provider".to_string())].into();
    attributes.authz = Some(AuthzData::new(RuleSet::compile(&rules).unwrap()));
    let identity = Identity::new("alice", Mechanism::ScramSha256, Arc::new(attributes));
    let client = Client::from_identity(&identity, &conn);
    assert_eq!(client.username.as_deref(), Some("alice"));
    let chain = Chain::new().with(ClientRules);
    assert!(
        chain
            .check(&client, rq(P, "from-provider/dev-7/cn-7", 0, false))
            .is_allowed()
    );
    assert!(
        !chain
            .check(&client, rq(P, "from-broker/dev-7/cn-7", 0, false))
            .is_allowed()
    );
    let mut bad = rules.clone();
    bad.push(allow(Action::All, &["a/#/b"]));
    assert_eq!(RuleSet::compile(&bad).unwrap_err().rule, 2);
}

// ---- untrusted input never panics ----

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just("topic ".to_string()),
                Just("user ".to_string()),
                Just("pattern ".to_string()),
                Just("token ".to_string()),
                Just("read ".to_string()),
                Just(" label ".to_string()),
                Just("%u".to_string()),
                Just("%(c, :, 2)".to_string()),
                Just("${username}".to_string()),
                Just("\n".to_string()),
                "[a-z/+#$%(), \t\r{}]{0,4}",
            ],
            0..24,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn parsers_and_checks_do_not_panic(file in text(), topic in "[a-z/+#$ ]{0,12}", user in "[a-z:/+#$-]{0,8}") {
            let c = Client::new(user.clone(), user.clone());
            if let Ok(acl) = FileAcl::parse(&file) {
                for access in [P, S, R] {
                    let _ = acl.check(&c, Request::new(access, &topic));
                }
            }
            let rules = [allow(Action::All, &[file.as_str()]), deny(Action::Subscribe, &[topic.as_str()])];
            if let Ok(set) = RuleSet::compile(&rules) {
                for access in [P, S, R] {
                    let _ = set.check(&c, rq(access, &topic, 1, true));
                    let _ = set.check(&c, rq(access, &file, 3, false));
                }
            }
        }
    }
}

/// `emqx_authz_rule_raw.erl`: "retain: true | false | all | 0 | 1 | <<\"true\">> | ...",
/// `validate_rule_retain(<<"0">>) -> false; (<<"1">>) -> true; (0) -> false; (1) -> true`,
/// and `null` is the default (every value); `validate_rule_qos(null) -> ?DEFAULT_RULE_QOS`.
#[cfg(feature = "serde")]
#[test]
fn emqx_retain_and_qos_spellings() {
    use mqtt_scram_authz::parse_rule;
    use serde_json::json;
    let retain = |value: serde_json::Value| {
        parse_rule(
            &json!({"permission": "allow", "action": "publish", "topic": "t", "retain": value}),
        )
        .map(|r| r.retain)
    };
    assert_eq!(retain(json!(1)), Ok(Some(true)));
    assert_eq!(retain(json!(0)), Ok(Some(false)));
    assert_eq!(retain(json!("1")), Ok(Some(true)));
    assert_eq!(retain(json!("0")), Ok(Some(false)));
    assert_eq!(retain(json!("true")), Ok(Some(true)));
    assert_eq!(retain(json!(false)), Ok(Some(false)));
    assert_eq!(retain(json!("all")), Ok(None));
    assert_eq!(retain(json!(null)), Ok(None));
    assert!(retain(json!(2)).is_err());
    assert!(retain(json!("yes")).is_err());
    let qos =
        parse_rule(&json!({"permission": "allow", "action": "all", "topic": "t", "qos": null}))
            .unwrap();
    assert_eq!(qos.qos, None);
    let qos =
        parse_rule(&json!({"permission": "allow", "action": "all", "topic": "t", "qos": ["1", 2]}))
            .unwrap();
    assert_eq!(qos.qos, Some(vec![1, 2]));
    // The parsed rule decides as EMQX does: `retain: 1` matches only retained publishes.
    let set = RuleSet::compile(&[retain_rule()]).unwrap();
    let c = Client::new("u", "c");
    assert_eq!(
        verdict(set.check(&c, Request::publish("t", 0, true))),
        Some(true)
    );
    assert_eq!(
        verdict(set.check(&c, Request::publish("t", 0, false))),
        None
    );

    fn retain_rule() -> AclRule {
        parse_rule(
            &json!({"permission": "allow", "action": "publish", "topic": "t", "retain": "1"}),
        )
        .unwrap()
    }
}
