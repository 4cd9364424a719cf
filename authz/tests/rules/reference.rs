//! The topic trie agrees with a linear reference (property tests).

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
        let got = verdict(set.check(&Client::new("u", "c"), rq(access, &t, 0, false)));
        let want = if valid { linear(&rules, access, &t) } else { Some(false) };
        prop_assert_eq!(got, want, "{:?} {:?} {:?}", rules, access, t);
    }
}
