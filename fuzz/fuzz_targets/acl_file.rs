//! VerneMQ ACL files (`mqtt_scram_authz::file::FileAcl::parse_with`) on arbitrary UTF-8,
//! with every combination of parse options chosen by the first byte.
//!
//! - never panics;
//! - a rejected file names at least one line, and every named line exists (or is 0, the
//!   file as a whole);
//! - every warning names a line that exists;
//! - checks on an accepted file never panic, an empty file only when allowed, and a topic
//!   name with a wildcard is never allowed to be published.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_scram_authz::file::{FileAcl, ParseOptions};
use mqtt_scram_authz::{Client, Request};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let options = ParseOptions {
        trim_trailing_whitespace: flags & 1 != 0,
        anonymous_section_for_everyone: flags & 2 != 0,
        allow_empty: flags & 4 != 0,
    };
    let lines = text.split('\n').count();
    let acl = match FileAcl::parse_with(text, &options) {
        Ok(acl) => acl,
        Err(errors) => {
            assert!(!errors.errors.is_empty());
            for e in &errors.errors {
                assert!(e.line <= lines, "{e:?} beyond {lines} lines");
            }
            return;
        }
    };
    assert!(options.allow_empty || !acl.is_empty());
    for w in acl.warnings() {
        assert!((1..=lines).contains(&w.line), "{w}");
    }
    let clients = [
        Client::anonymous("dev:1"),
        Client::new("alice", "dev-2"),
        Client::new("+", "#"),
        Client::new("$SYS", "c"),
    ];
    let topics: Vec<&str> = text
        .split(['\n', ' '])
        .filter(|t| t.len() < 64)
        .take(32)
        .chain(["a/b", "#", "$SYS/x", "alice/x"])
        .collect();
    for client in &clients {
        for topic in &topics {
            let publish = acl.check(client, Request::publish(topic, 1, false));
            if topic.contains(['+', '#']) {
                assert!(!publish.is_allowed(), "{topic:?}");
            }
            let _ = acl.check(client, Request::subscribe(topic, 0));
            let _ = acl.check(client, Request::read(topic, 0));
        }
    }
});
