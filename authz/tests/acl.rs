//! Authorization: EMQX rules, topic matching edge cases, the vmq_acl file format, reload.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mqtt_scram_authz::file::{FileAcl, FileAuthorizer, ParseOptions};
use mqtt_scram_authz::{
    Access, AclRule, Action, Authorizer, Chain, Client, ClientRules, Decision, Permission,
    RuleErrorKind, RuleSet,
};

use Access::{Publish as P, Read as R, Subscribe as S};

fn rule(permission: Permission, action: Action, topics: &[&str]) -> AclRule {
    AclRule {
        permission,
        action,
        topics: topics.iter().map(|t| t.to_string()).collect(),
        qos: None,
        retain: None,
    }
}

fn allow(action: Action, topics: &[&str]) -> AclRule {
    rule(Permission::Allow, action, topics)
}

fn deny(action: Action, topics: &[&str]) -> AclRule {
    rule(Permission::Deny, action, topics)
}

/// `Some(true)` allow, `Some(false)` deny, `None` no match.
fn verdict(d: Decision) -> Option<bool> {
    match d {
        Decision::Allow(_) => Some(true),
        Decision::Deny(_) => Some(false),
        Decision::NoMatch => None,
    }
}

fn run(rules: &[AclRule], client: &Client, cases: &[(Access, &str, Option<bool>)]) {
    let set = RuleSet::compile(rules).unwrap();
    for (access, topic, expected) in cases {
        let got = verdict(set.check(client, *access, topic, 0, false));
        assert_eq!(got, *expected, "{access:?} {topic:?} with rules {rules:?}");
    }
}

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
                verdict(set.check(&c, access, topic, 0, false)),
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
    let check = |a, q, r| verdict(set.check(&c, a, "t", q, r));
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
    assert_eq!(verdict(chain.check(&c, P, "x", 0, false)), Some(false));
    assert_eq!(verdict(chain.check(&c, P, "u/1", 0, false)), Some(true));
    assert_eq!(verdict(chain.check(&c, P, "y", 0, false)), Some(false)); // default deny
    let open = Chain::new()
        .with(ClientRules)
        .default_decision(Decision::Allow(None));
    assert_eq!(verdict(open.check(&c, P, "y", 0, false)), Some(true));
    let su = c.clone().superuser(true);
    let d = chain.check(&su, P, "x", 0, false);
    assert_eq!(d.label(), Some("superuser"));
    assert!(d.is_allowed());
    let strict = Chain::new().with(ClientRules).superuser_bypass(false);
    assert_eq!(verdict(strict.check(&su, P, "x", 0, false)), Some(false));
}

#[test]
fn async_chain_mixes_sync_authorizers() {
    use mqtt_scram_authz::AsyncChain;
    let c = Client::new("u", "c");
    let chain = AsyncChain::new().with(FileAcl::parse("user u\ntopic t\n").unwrap());
    let fut = chain.authorize(&c, P, "t", 0, false);
    let d = block_on(fut);
    assert!(d.is_allowed());
    assert!(!block_on(chain.authorize(&c, P, "other", 0, false)).is_allowed());
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

// ---- vmq_acl file format ----

/// The "Simple ACL Example" of the `vmq_gojek_auth` documentation, reproduced exactly:
/// gojek/vmq-docs, configuration/customauth.md at def250635049a51c5796dfec5de42269b1c7d3dc
/// ("Chore: Add documentation for adding labels to acl entries (#5)").
const GOJEK_EXAMPLE: &str = include_str!("fixtures/acl/gojek-simple.acl");

#[test]
fn gojek_documentation_example() {
    let acl = FileAcl::parse(GOJEK_EXAMPLE).unwrap();
    assert_eq!(acl.len(), 7);
    let anon = Client::anonymous("anon-1");
    let label = |c: &Client, a, t: &str| match acl.decide(c, a, t) {
        Decision::Allow(l) => Some(l.map(|l| l.to_string()).unwrap_or_default()),
        _ => None,
    };
    // "Anonymous users are allowed to ..."
    assert_eq!(label(&anon, P, "bar").as_deref(), Some("topic_bar"));
    assert_eq!(label(&anon, S, "bar").as_deref(), Some("topic_bar"));
    assert_eq!(label(&anon, P, "foo").as_deref(), Some("topic_foo"));
    assert_eq!(label(&anon, S, "foo"), None);
    assert_eq!(label(&anon, S, "open_to_all").as_deref(), Some("open"));
    assert_eq!(label(&anon, P, "open_to_all"), None);
    // "... subscribe to topic foo/<whatever their 3rd token is>/bar": token entries apply to
    // everyone, so a client with a username of at least three ':'-separated tokens.
    let tok = Client::new("org:team:device42", "c");
    assert_eq!(
        label(&tok, S, "foo/device42/bar").as_deref(),
        Some("foo_client_bar")
    );
    assert_eq!(label(&tok, S, "foo/team/bar"), None);
    assert_eq!(label(&tok, P, "foo/device42/bar"), None);
    assert_eq!(label(&anon, S, "foo/device42/bar"), None); // no username, no token
    // "User john is allowed to ..."
    let john = Client::new("john", "j1");
    assert_eq!(label(&john, P, "foo").as_deref(), Some("john_foo"));
    assert_eq!(label(&john, S, "foo").as_deref(), Some("john_foo"));
    assert_eq!(label(&john, S, "bar").as_deref(), Some("john_bar"));
    assert_eq!(label(&john, P, "bar"), None);
    assert_eq!(
        label(&john, P, "open_to_all").as_deref(),
        Some("john_open_to_all")
    );
    assert_eq!(label(&john, S, "open_to_all"), None);
    // vmq_acl's own code applies the leading section to every client.
    let everyone = ParseOptions {
        anonymous_section_for_everyone: true,
        ..ParseOptions::default()
    };
    let acl2 = FileAcl::parse_with(GOJEK_EXAMPLE, &everyone).unwrap();
    assert_eq!(acl2.decide(&john, P, "bar").label(), Some("topic_bar"));
    assert_eq!(acl2.decide(&john, S, "open_to_all").label(), Some("open"));
}

#[test]
fn vmq_patterns_and_tokens() {
    let acl = FileAcl::parse(
        "pattern read devices/%c/#\npattern write users/%u/+ label own\npattern write x/a%u\n\
         token read t/%(c, -, 2)/%(u, |, 1)\ntoken write k/%u/%c\n",
    )
    .unwrap();
    let c = Client::new("bob|admin", "dev-42-eu");
    assert!(acl.decide(&c, S, "devices/dev-42-eu/#").is_allowed());
    assert!(acl.decide(&c, R, "devices/dev-42-eu/x").is_allowed());
    assert!(!acl.decide(&c, P, "devices/dev-42-eu/x").is_allowed());
    assert!(!acl.decide(&c, S, "devices/+/#").is_allowed());
    assert_eq!(acl.decide(&c, P, "users/bob|admin/1").label(), Some("own"));
    assert!(!acl.decide(&c, P, "x/abob|admin").is_allowed()); // partial %u is literal
    assert!(acl.decide(&c, P, "x/a%u").is_allowed());
    assert!(acl.decide(&c, S, "t/42/bob").is_allowed());
    assert!(!acl.decide(&c, S, "t/eu/bob").is_allowed());
    assert!(acl.decide(&c, P, "k/bob|admin/dev-42-eu").is_allowed());
    // Consecutive delimiters count as one (Erlang string:nth_lexeme).
    let c2 = Client::new("x", "a--b");
    assert!(acl.decide(&c2, S, "t/b/x").is_allowed());
    // Anonymous clients get no %u substitution.
    assert!(
        !acl.decide(&Client::anonymous("dev-42-eu"), P, "users//1")
            .is_allowed()
    );
    // Values with wildcards or '/' do not match.
    let evil = Client::new("+", "#");
    assert!(!acl.decide(&evil, S, "devices/#/#").is_allowed());
    assert!(!acl.decide(&evil, P, "users/+/1").is_allowed());
}

#[test]
fn vmq_parser_is_forgiving_but_strict() {
    let text = "  # indented comment\n\ntopic   read\ta/b\r\n\t\nuser  carol\ntopic c/#   label  carols  \n";
    let acl = FileAcl::parse(text).unwrap();
    assert!(acl.decide(&Client::anonymous("x"), S, "a/b").is_allowed());
    assert_eq!(
        acl.decide(&Client::new("carol", "x"), P, "c/1").label(),
        Some("carols")
    );
    // "topic read" alone is a topic named "read" (as in the original).
    let acl = FileAcl::parse("topic read\n").unwrap();
    assert!(acl.decide(&Client::anonymous("x"), P, "read").is_allowed());
    // Last line without newline keeps its last character.
    let acl = FileAcl::parse("topic abc").unwrap();
    assert!(acl.decide(&Client::anonymous("x"), P, "abc").is_allowed());
    // Trailing whitespace is part of the topic unless trimmed.
    let acl = FileAcl::parse("topic abc \n").unwrap();
    assert!(!acl.decide(&Client::anonymous("x"), P, "abc").is_allowed());
    assert!(acl.decide(&Client::anonymous("x"), P, "abc ").is_allowed());
    let trim = ParseOptions {
        trim_trailing_whitespace: true,
        ..ParseOptions::default()
    };
    let acl = FileAcl::parse_with("user dave \ntopic abc \n", &trim).unwrap();
    assert!(acl.decide(&Client::new("dave", "x"), P, "abc").is_allowed());
    // Every bad line is reported.
    let err = FileAcl::parse(
        "topic ok\nfrobnicate x\ntopic a/#/b\npattern %m/x\ntoken read %(q, :, 1)\nuser\ntopic\n",
    )
    .unwrap_err();
    let lines: Vec<usize> = err.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7], "{err}");
    assert!(err.to_string().contains("line 3"));
    // Empty files are refused unless allowed.
    assert!(FileAcl::parse("# nothing\n\n").is_err());
    let empty_ok = ParseOptions {
        allow_empty: true,
        ..ParseOptions::default()
    };
    assert!(FileAcl::parse_with("", &empty_ok).unwrap().is_empty());
}

// ---- reload ----

fn temp_acl(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mqtt-scram-acl-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vmq.acl");
    write_atomic(&path, text);
    path
}

fn write_atomic(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn reload_keeps_old_rules_on_bad_file() {
    let path = temp_acl("bad", "topic a\n");
    let auth = FileAuthorizer::open(&path, ParseOptions::default()).unwrap();
    let c = Client::anonymous("x");
    assert!(auth.check(&c, P, "a", 0, false).is_allowed());
    write_atomic(&path, "topic a/#/b\n");
    let err = auth.reload().unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    assert!(auth.check(&c, P, "a", 0, false).is_allowed());
    assert_eq!(auth.generation(), 1);
    assert!(auth.last_error().is_some());
    write_atomic(&path, "");
    assert!(auth.reload().is_err()); // empty file refused
    assert!(auth.check(&c, P, "a", 0, false).is_allowed());
    std::fs::remove_file(&path).unwrap();
    assert!(auth.reload().is_err()); // missing file
    assert!(auth.check(&c, P, "a", 0, false).is_allowed());
    write_atomic(&path, "topic b\n");
    assert_eq!(auth.reload(), Ok(true));
    assert!(auth.last_error().is_none());
    assert!(!auth.check(&c, P, "a", 0, false).is_allowed());
    assert!(auth.check(&c, P, "b", 0, false).is_allowed());
    assert_eq!(auth.poll(), Ok(false)); // unchanged
    assert_eq!(auth.generation(), 2);
}

#[test]
fn watcher_reloads_and_zero_disables() {
    let path = temp_acl("watch", "topic a\n");
    let auth = FileAuthorizer::open(&path, ParseOptions::default()).unwrap();
    assert!(auth.watch(Duration::ZERO, |_| {}).is_none());
    let (tx, rx) = std::sync::mpsc::channel();
    let watcher = auth.watch(Duration::from_millis(20), move |r| {
        let _ = tx.send(r.clone());
    });
    assert!(watcher.is_some());
    write_atomic(&path, "topic b\n");
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(true));
    assert!(
        auth.check(&Client::anonymous("x"), P, "b", 0, false)
            .is_allowed()
    );
    write_atomic(&path, "nonsense\n");
    assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap().is_err());
    assert!(
        auth.check(&Client::anonymous("x"), P, "b", 0, false)
            .is_allowed()
    );
    drop(watcher);
}

#[test]
fn reload_under_concurrent_checks_has_no_torn_reads() {
    // File A allows a/1..a/50 and nothing else; file B allows b/1..b/50. A check sees one
    // complete file or the other: for a given snapshot, a/N and b/N are never both allowed,
    // and never both refused (both files cover index N).
    let file = |p: &str| {
        (1..=50)
            .map(|i| format!("topic {p}/{i} label {p}\n"))
            .collect::<String>()
    };
    let (fa, fb) = (file("a"), file("b"));
    let path = temp_acl("torn", &fa);
    let auth = FileAuthorizer::open(&path, ParseOptions::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for t in 0..3 {
        let auth = auth.clone();
        let stop = Arc::clone(&stop);
        readers.push(std::thread::spawn(move || {
            let c = Client::anonymous("x");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let acl = auth.current();
                let i = (n % 50) + 1;
                let a = acl.decide(&c, P, &format!("a/{i}")).is_allowed();
                let b = acl.decide(&c, P, &format!("b/{i}")).is_allowed();
                assert!(a ^ b, "thread {t}: torn snapshot at {i}");
                let d = auth.check(&c, P, &format!("a/{i}"), 0, false);
                if let Some(l) = d.label() {
                    assert_eq!(l, "a");
                }
                n += 1;
            }
            n
        }));
    }
    for k in 0..40 {
        write_atomic(&path, if k % 2 == 0 { &fb } else { &fa });
        auth.reload().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(auth.generation(), 41);
}

// ---- the trie agrees with a linear reference ----

mod reference {
    use super::*;
    use mqtt_scram_authz::topic;
    use proptest::prelude::*;

    fn level() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("$s".to_string()),
            Just(String::new())
        ]
    }

    fn filter() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(prop_oneof![3 => level(), 1 => Just("+".to_string())], 1..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(levels, hash, eq)| {
                let mut f = levels.join("/");
                if hash {
                    f.push_str("/#");
                }
                if eq { format!("eq {f}") } else { f }
            })
            .prop_filter("valid", |f| {
                topic::validate_filter(f.strip_prefix("eq ").unwrap_or(f)).is_ok()
            })
    }

    fn rules() -> impl Strategy<Value = Vec<AclRule>> {
        prop::collection::vec((any::<bool>(), 0..3usize, filter()), 1..12).prop_map(|v| {
            v.into_iter()
                .map(|(p, a, f)| {
                    let permission = if p {
                        Permission::Allow
                    } else {
                        Permission::Deny
                    };
                    rule(
                        permission,
                        [Action::Publish, Action::Subscribe, Action::All][a],
                        &[f.as_str()],
                    )
                })
                .collect()
        })
    }

    fn linear(rules: &[AclRule], access: Access, t: &str) -> Option<bool> {
        for r in rules {
            let action_ok = match access {
                Access::Publish => r.action != Action::Subscribe,
                _ => r.action != Action::Publish,
            };
            let f = &r.topics[0];
            let hit = match f.strip_prefix("eq ") {
                Some(lit) => lit == t,
                None => match (access, r.permission) {
                    (Access::Subscribe, Permission::Allow) => topic::covers(f, t),
                    (Access::Subscribe, Permission::Deny) => topic::overlaps(f, t),
                    _ => topic::matches(f, t),
                },
            };
            if action_ok && hit {
                return Some(r.permission == Permission::Allow);
            }
        }
        None
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn trie_matches_linear_scan(rules in rules(), t in filter(), access in 0..3usize) {
            let t = t.strip_prefix("eq ").unwrap_or(&t).to_string();
            let access = [Access::Publish, Access::Subscribe, Access::Read][access];
            let valid = match access {
                Access::Subscribe => topic::validate_filter(&t).is_ok(),
                _ => topic::validate_name(&t).is_ok(),
            };
            let set = RuleSet::compile(&rules).unwrap();
            let got = verdict(set.check(&Client::new("u", "c"), access, &t, 0, false));
            let want = if valid { linear(&rules, access, &t) } else { Some(false) };
            prop_assert_eq!(got, want, "{:?} {:?} {:?}", rules, access, t);
        }
    }
}

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
            .check(&client, P, "from-provider/dev-7/cn-7", 0, false)
            .is_allowed()
    );
    assert!(
        !chain
            .check(&client, P, "from-broker/dev-7/cn-7", 0, false)
            .is_allowed()
    );
    let mut bad = rules.clone();
    bad.push(allow(Action::All, &["a/#/b"]));
    assert_eq!(RuleSet::compile(&bad).unwrap_err().rule, 2);
}

// ---- HTTP ACL endpoint against a real local server ----

#[cfg(feature = "http")]
use mqtt_scram_testkit::pki as test_pki;

mod http {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;

    use axum::Router;
    use axum::extract::{Request, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use mqtt_scram_authz::AsyncChain;
    use mqtt_scram_authz::http::{
        HttpAclConfig, HttpAuthorizer, HttpMethod, ParamsMode, ResponseMode, TlsConfig,
    };

    use super::*;

    #[derive(Default)]
    struct Seen {
        acl_calls: AtomicUsize,
        super_calls: AtomicUsize,
        last: Mutex<HashMap<String, String>>,
    }

    use std::sync::Mutex;

    async fn handle(State(seen): State<Arc<Seen>>, req: Request) -> Response {
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        let ctype = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = axum::body::to_bytes(req.into_body(), 1 << 16)
            .await
            .unwrap();
        let mut params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        if ctype.starts_with("application/json") {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            for (k, v) in v.as_object().unwrap() {
                params.insert(
                    k.clone(),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                );
            }
        } else if ctype.starts_with("application/x-www-form-urlencoded") {
            params.extend(form_urlencoded::parse(&body).into_owned());
        }
        *seen.last.lock().unwrap() = params.clone();
        if path.ends_with("/super") {
            seen.super_calls.fetch_add(1, Ordering::SeqCst);
            let yes = params.get("username").map(String::as_str) == Some("root");
            return if yes {
                (StatusCode::OK, r#"{"ok":true}"#).into_response()
            } else {
                StatusCode::FORBIDDEN.into_response()
            };
        }
        seen.acl_calls.fetch_add(1, Ordering::SeqCst);
        let topic = params.get("topic").cloned().unwrap_or_default();
        let verdict = topic.split('/').next().unwrap_or_default().to_string();
        if verdict == "slow" {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let mode = path.rsplit('/').next().unwrap_or_default().to_string();
        match (mode.as_str(), verdict.as_str()) {
            ("status", "allow") => StatusCode::NO_CONTENT.into_response(),
            ("status", "deny") => StatusCode::FORBIDDEN.into_response(),
            ("json", "allow") => (StatusCode::OK, r#"{"ok": true}"#).into_response(),
            ("json", "deny") => (StatusCode::OK, r#"{"ok": false}"#).into_response(),
            ("json", "nomatch") => (StatusCode::OK, r#"{"error": "no opinion"}"#).into_response(),
            ("text", "allow") => (StatusCode::OK, "OK").into_response(),
            ("text", "deny") => (StatusCode::OK, "error").into_response(),
            _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }

    async fn serve() -> (String, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let router = Router::new().fallback(handle).with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (format!("http://{addr}"), seen)
    }

    fn verdict(d: Decision) -> Option<bool> {
        super::verdict(d)
    }

    #[tokio::test]
    async fn three_response_modes() {
        let (base, seen) = serve().await;
        let c = Client::new("alice", "c1");
        for (mode, rm, method, params) in [
            (
                "status",
                ResponseMode::Status,
                HttpMethod::Post,
                ParamsMode::Json,
            ),
            (
                "json",
                ResponseMode::Json,
                HttpMethod::Post,
                ParamsMode::Form,
            ),
            (
                "text",
                ResponseMode::Text,
                HttpMethod::Get,
                ParamsMode::Json,
            ),
            (
                "json",
                ResponseMode::Json,
                HttpMethod::Put,
                ParamsMode::Json,
            ),
        ] {
            let cfg = HttpAclConfig::new(format!("{base}/acl/{mode}"))
                .response_mode(rm)
                .method(method)
                .params_mode(params)
                .timeout(Duration::from_millis(500));
            let a = HttpAuthorizer::new(cfg).unwrap();
            assert_eq!(
                verdict(a.check(&c, P, "allow/x").await),
                Some(true),
                "{mode}"
            );
            let last = seen.last.lock().unwrap().clone();
            assert_eq!(last["username"], "alice");
            assert_eq!(last["client_id"], "c1");
            assert_eq!(last["topic"], "allow/x");
            assert_eq!(last["acc"], "2");
            assert_eq!(
                verdict(a.check(&c, S, "deny/x").await),
                Some(false),
                "{mode}"
            );
            assert_eq!(seen.last.lock().unwrap()["acc"], "4");
            assert_eq!(verdict(a.check(&c, R, "down/x").await), None, "{mode}: 5xx");
            assert_eq!(seen.last.lock().unwrap()["acc"], "1");
        }
        let json = HttpAuthorizer::new(HttpAclConfig::new(format!("{base}/acl/json"))).unwrap();
        assert_eq!(verdict(json.check(&c, P, "nomatch/x").await), None);
    }

    #[tokio::test]
    async fn failures_never_allow() {
        let (base, _seen) = serve().await;
        let c = Client::new("alice", "c1");
        let a = HttpAuthorizer::new(
            HttpAclConfig::new(format!("{base}/acl/status"))
                .response_mode(ResponseMode::Status)
                .timeout(Duration::from_millis(200)),
        )
        .unwrap();
        assert_eq!(verdict(a.check(&c, P, "slow/x").await), None, "timeout");
        // Nothing listens on this port any more.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let a = HttpAuthorizer::new(
            HttpAclConfig::new(format!("http://{dead}/acl")).timeout(Duration::from_millis(200)),
        )
        .unwrap();
        assert_eq!(
            verdict(a.check(&c, P, "allow/x").await),
            None,
            "connection refused"
        );
        // A chain with default deny turns that into a deny.
        let chain = AsyncChain::new().with(a);
        assert_eq!(
            verdict(chain.authorize(&c, P, "allow/x", 0, false).await),
            Some(false)
        );
    }

    #[tokio::test]
    async fn url_placeholders_superuser_and_cache() {
        let (base, seen) = serve().await;
        let cfg = HttpAclConfig::new(format!("{base}/acl/${{clientid}}/%A/json?t=${{topic}}"))
            .superuser_url(format!("{base}/super"))
            .cache(Duration::from_secs(60), 100);
        let a = HttpAuthorizer::new(cfg).unwrap();
        let c = Client::new("alice", "c/1");
        assert!(a.check(&c, P, "allow/x").await.is_allowed());
        assert!(a.check(&c, P, "allow/x").await.is_allowed());
        assert!(!a.check(&c, P, "deny/x").await.is_allowed());
        assert!(!a.check(&c, P, "deny/x").await.is_allowed());
        assert_eq!(seen.acl_calls.load(Ordering::SeqCst), 2, "answers cached");
        assert_eq!(
            seen.super_calls.load(Ordering::SeqCst),
            1,
            "superuser asked once"
        );
        a.forget("c/1");
        assert!(a.check(&c, P, "allow/x").await.is_allowed());
        assert_eq!(seen.acl_calls.load(Ordering::SeqCst), 3);
        assert_eq!(seen.super_calls.load(Ordering::SeqCst), 2);
        let root = Client::new("root", "c2");
        let d = a.check(&root, P, "deny/x").await;
        assert_eq!(d.label(), Some("superuser"));
        assert_eq!(seen.acl_calls.load(Ordering::SeqCst), 3);
        // Placeholders cannot move the request to another host.
        assert!(HttpAuthorizer::new(HttpAclConfig::new("http://${username}.example/acl")).is_err());
        assert!(HttpAuthorizer::new(HttpAclConfig::new("http://h/${password}")).is_err());
    }

    /// Like [`serve`], over TLS with a certificate for `localhost` from a fresh CA (written
    /// to `ca.pem`, with a client certificate `client.pem`/`client.key` from the same CA);
    /// the server requires a client certificate when `mtls`.
    async fn serve_tls(mtls: bool) -> (String, Arc<Seen>, std::path::PathBuf) {
        let pki = super::test_pki::pki(&["localhost"], mtls);
        let dir = pki.dir;
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config);

        let seen = Arc::new(Seen::default());
        let router = Router::new().fallback(handle).with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                let router = router.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
                });
            }
        });
        (format!("https://localhost:{port}"), seen, dir)
    }

    #[tokio::test]
    async fn tls_with_a_ca_file_and_client_certificate() {
        let c = Client::new("alice", "c1");
        let (base, seen, dir) = serve_tls(false).await;
        let ca_only = TlsConfig {
            ca_file: Some(dir.join("ca.pem")),
            ..TlsConfig::default()
        };
        let cfg = HttpAclConfig::new(format!("{base}/acl/${{action}}/json"))
            .tls(ca_only.clone())
            .timeout(Duration::from_secs(2));
        let a = HttpAuthorizer::new(cfg).unwrap();
        assert_eq!(verdict(a.check(&c, P, "allow/x").await), Some(true));
        assert_eq!(verdict(a.check(&c, P, "deny/x").await), Some(false));
        assert_eq!(seen.last.lock().unwrap()["topic"], "deny/x");
        assert_eq!(seen.acl_calls.load(Ordering::SeqCst), 2);
        // Without the CA file the system roots do not know the server: no answer, no allow.
        let system_roots = HttpAuthorizer::new(
            HttpAclConfig::new(format!("{base}/acl/json")).timeout(Duration::from_secs(2)),
        )
        .unwrap();
        assert_eq!(verdict(system_roots.check(&c, P, "allow/x").await), None);
        assert_eq!(seen.acl_calls.load(Ordering::SeqCst), 2, "never reached");
        let _ = std::fs::remove_dir_all(&dir);

        // Mutual TLS: the server wants a certificate from its CA.
        let (base, seen, dir) = serve_tls(true).await;
        let ca_only = TlsConfig {
            ca_file: Some(dir.join("ca.pem")),
            ..TlsConfig::default()
        };
        let no_cert = HttpAuthorizer::new(
            HttpAclConfig::new(format!("{base}/acl/json"))
                .tls(ca_only.clone())
                .timeout(Duration::from_secs(2)),
        )
        .unwrap();
        assert_eq!(verdict(no_cert.check(&c, P, "allow/x").await), None);
        let with_cert = HttpAuthorizer::new(
            HttpAclConfig::new(format!("{base}/acl/json"))
                .tls(TlsConfig {
                    cert_file: Some(dir.join("client.pem")),
                    key_file: Some(dir.join("client.key")),
                    ..ca_only
                })
                .timeout(Duration::from_secs(2)),
        )
        .unwrap();
        assert_eq!(verdict(with_cert.check(&c, P, "allow/x").await), Some(true));
        assert_eq!(seen.acl_calls.load(Ordering::SeqCst), 1);
        // A missing CA file is a construction error, not a silent fallback.
        let missing = HttpAclConfig::new(format!("{base}/acl/json")).tls(TlsConfig {
            ca_file: Some(dir.join("nonexistent.pem")),
            ..TlsConfig::default()
        });
        assert!(HttpAuthorizer::new(missing).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
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
                    let _ = acl.decide(&c, access, &topic);
                }
            }
            let rules = [allow(Action::All, &[file.as_str()]), deny(Action::Subscribe, &[topic.as_str()])];
            if let Ok(set) = RuleSet::compile(&rules) {
                for access in [P, S, R] {
                    let _ = set.check(&c, access, &topic, 1, true);
                    let _ = set.check(&c, access, &file, 3, false);
                }
            }
        }
    }
}
