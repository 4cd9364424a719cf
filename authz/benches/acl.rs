//! ACL check latency with 1,000 rules: EMQX rules (RuleSet) and a vmq_acl file (FileAcl),
//! literal and wildcard topics, against a linear scan as baseline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mqtt_scram_authz::file::FileAcl;
use mqtt_scram_authz::{Access, AclRule, Action, Client, Permission, Request, RuleSet, topic};

const N: usize = 1000;

fn emqx_rules() -> Vec<AclRule> {
    (0..N)
        .map(|i| {
            let topic = match i % 10 {
                0 => format!("fleet/{i}/+/status"),
                1 => format!("fleet/{i}/#"),
                2 => format!("users/${{username}}/{i}/#"),
                _ => format!("devices/{i}/telemetry"),
            };
            let permission = if i % 7 == 0 {
                Permission::Deny
            } else {
                Permission::Allow
            };
            let action = [Action::Publish, Action::Subscribe, Action::All][i % 3];
            AclRule {
                permission,
                action,
                topics: vec![topic],
                qos: None,
                retain: None,
            }
        })
        .collect()
}

fn vmq_file() -> String {
    let mut s = String::new();
    for u in 0..10 {
        s.push_str(&format!("user user{u}\n"));
        for i in 0..N / 10 - 10 {
            s.push_str(&format!("topic devices/{u}/{i}/telemetry label d{u}_{i}\n"));
        }
    }
    for i in 0..100 {
        s.push_str(&format!("pattern read fleet/{i}/%c/# label p{i}\n"));
    }
    s
}

fn bench(c: &mut Criterion) {
    let rules = emqx_rules();
    let set = RuleSet::compile(&rules).unwrap();
    let who = Client::new("alice", "dev-1");
    // Literal topic matched by rule 998 ("devices/998/telemetry", action All): the trie
    // must still rule out every earlier candidate.
    assert!(
        set.check(
            &who,
            Request::new(Access::Publish, "devices/998/telemetry")
                .qos(0)
                .retain(false)
        )
        .is_allowed()
    );
    c.bench_function("emqx_1000_rules_literal_publish", |b| {
        b.iter(|| {
            set.check(
                black_box(&who),
                Request::new(Access::Publish, black_box("devices/998/telemetry")),
            )
        })
    });
    c.bench_function("emqx_1000_rules_literal_no_match", |b| {
        b.iter(|| {
            set.check(
                black_box(&who),
                Request::new(Access::Publish, black_box("devices/998/other")),
            )
        })
    });
    c.bench_function("emqx_1000_rules_placeholder_publish", |b| {
        b.iter(|| {
            set.check(
                black_box(&who),
                Request::new(Access::Publish, black_box("users/alice/992/x/y")),
            )
        })
    });
    c.bench_function("emqx_1000_rules_wildcard_subscribe", |b| {
        b.iter(|| {
            set.check(
                black_box(&who),
                Request::new(Access::Subscribe, black_box("fleet/991/#")),
            )
        })
    });
    c.bench_function("emqx_1000_rules_root_wildcard_subscribe", |b| {
        b.iter(|| {
            set.check(
                black_box(&who),
                Request::new(Access::Subscribe, black_box("+/+/telemetry")),
            )
        })
    });
    // Baseline: what a first-match linear scan costs for the literal topic.
    c.bench_function("linear_scan_1000_filters_literal", |b| {
        let filters: Vec<&str> = rules.iter().map(|r| r.topics[0].as_str()).collect();
        b.iter(|| {
            filters
                .iter()
                .position(|f| topic::matches(f, black_box("devices/998/telemetry")))
        })
    });

    let acl = FileAcl::parse(&vmq_file()).unwrap();
    let user = Client::new("user9", "dev-1");
    assert_eq!(
        acl.check(
            &user,
            Request::new(Access::Publish, "devices/9/89/telemetry")
        )
        .label(),
        Some("d9_89")
    );
    c.bench_function("vmq_file_1000_lines_literal_publish", |b| {
        b.iter(|| {
            acl.check(
                black_box(&user),
                Request::new(Access::Publish, black_box("devices/9/89/telemetry")),
            )
        })
    });
    c.bench_function("vmq_file_1000_lines_pattern_subscribe", |b| {
        b.iter(|| {
            acl.check(
                black_box(&user),
                Request::new(Access::Subscribe, black_box("fleet/99/dev-1/+")),
            )
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
