//! ACL files in the VerneMQ format: parsing, decisions, reload.
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
use mqtt_scram_authz::{Authorizer, Client, Decision, Request};

mod common;
use common::*;

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
    let label = |c: &Client, a, t: &str| match acl.check(c, Request::new(a, t)) {
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
    assert_eq!(
        acl2.check(&john, Request::new(P, "bar")).label(),
        Some("topic_bar")
    );
    assert_eq!(
        acl2.check(&john, Request::new(S, "open_to_all")).label(),
        Some("open")
    );
}

#[test]
fn vmq_patterns_and_tokens() {
    let acl = FileAcl::parse(
        "pattern read devices/%c/#\npattern write users/%u/+ label own\npattern write x/a%u\n\
         token read t/%(c, -, 2)/%(u, |, 1)\ntoken write k/%u/%c\n",
    )
    .unwrap();
    let c = Client::new("bob|admin", "dev-42-eu");
    assert!(
        acl.check(&c, Request::new(S, "devices/dev-42-eu/#"))
            .is_allowed()
    );
    assert!(
        acl.check(&c, Request::new(R, "devices/dev-42-eu/x"))
            .is_allowed()
    );
    assert!(
        !acl.check(&c, Request::new(P, "devices/dev-42-eu/x"))
            .is_allowed()
    );
    assert!(!acl.check(&c, Request::new(S, "devices/+/#")).is_allowed());
    assert_eq!(
        acl.check(&c, Request::new(P, "users/bob|admin/1")).label(),
        Some("own")
    );
    assert!(!acl.check(&c, Request::new(P, "x/abob|admin")).is_allowed()); // partial %u is literal
    assert!(acl.check(&c, Request::new(P, "x/a%u")).is_allowed());
    assert!(acl.check(&c, Request::new(S, "t/42/bob")).is_allowed());
    assert!(!acl.check(&c, Request::new(S, "t/eu/bob")).is_allowed());
    assert!(
        acl.check(&c, Request::new(P, "k/bob|admin/dev-42-eu"))
            .is_allowed()
    );
    // Consecutive delimiters count as one (Erlang string:nth_lexeme).
    let c2 = Client::new("x", "a--b");
    assert!(acl.check(&c2, Request::new(S, "t/b/x")).is_allowed());
    // Anonymous clients get no %u substitution.
    assert!(
        !acl.check(&Client::anonymous("dev-42-eu"), Request::new(P, "users//1"))
            .is_allowed()
    );
    // Values with wildcards or '/' do not match.
    let evil = Client::new("+", "#");
    assert!(
        !acl.check(&evil, Request::new(S, "devices/#/#"))
            .is_allowed()
    );
    assert!(!acl.check(&evil, Request::new(P, "users/+/1")).is_allowed());
}

#[test]
fn vmq_parser_is_forgiving_but_strict() {
    let text =
        "  # indented comment\n\ntopic read\ta/b\r\n\t\nuser carol\ntopic c/#   label  carols  \n";
    let acl = FileAcl::parse(text).unwrap();
    assert!(acl.warnings().is_empty(), "{:?}", acl.warnings());
    assert!(
        acl.check(&Client::anonymous("x"), Request::new(S, "a/b"))
            .is_allowed()
    );
    assert_eq!(
        acl.check(&Client::new("carol", "x"), Request::new(P, "c/1"))
            .label(),
        Some("carols")
    );
    // "topic read" alone is a topic named "read" (as in the original).
    let acl = FileAcl::parse("topic read\n").unwrap();
    assert!(
        acl.check(&Client::anonymous("x"), Request::new(P, "read"))
            .is_allowed()
    );
    // Last line without newline keeps its last character.
    let acl = FileAcl::parse("topic abc").unwrap();
    assert!(
        acl.check(&Client::anonymous("x"), Request::new(P, "abc"))
            .is_allowed()
    );
    // Trailing whitespace is part of the topic unless trimmed.
    let acl = FileAcl::parse("topic abc \n").unwrap();
    assert!(
        !acl.check(&Client::anonymous("x"), Request::new(P, "abc"))
            .is_allowed()
    );
    assert!(
        acl.check(&Client::anonymous("x"), Request::new(P, "abc "))
            .is_allowed()
    );
    let trim = ParseOptions {
        trim_trailing_whitespace: true,
        ..ParseOptions::default()
    };
    let acl = FileAcl::parse_with("user dave \ntopic abc \n", &trim).unwrap();
    assert!(
        acl.check(&Client::new("dave", "x"), Request::new(P, "abc"))
            .is_allowed()
    );
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

/// VerneMQ's ACL documentation (File Based Authorization): "Only one space should be put
/// between the topic and the preceding keyword. Extra spaces will be interpreted as part of
/// the topic!"
#[test]
fn extra_spaces_are_part_of_the_topic() {
    let anon = Client::anonymous("x");
    let acl = FileAcl::parse("topic  foo\n").unwrap();
    assert!(acl.check(&anon, Request::new(P, " foo")).is_allowed());
    assert!(!acl.check(&anon, Request::new(P, "foo")).is_allowed());
    let acl = FileAcl::parse("topic read  foo\npattern write bar \nuser  bob\ntopic x\n").unwrap();
    assert!(acl.check(&anon, Request::new(S, " foo")).is_allowed());
    assert!(!acl.check(&anon, Request::new(S, "foo")).is_allowed());
    assert!(acl.check(&anon, Request::new(P, "bar ")).is_allowed());
    assert!(
        acl.check(&Client::new(" bob", "c"), Request::new(P, "x"))
            .is_allowed()
    );
    assert!(
        !acl.check(&Client::new("bob", "c"), Request::new(P, "x"))
            .is_allowed()
    );
    // Each padded topic or username is a warning naming its line.
    let lines: Vec<usize> = acl.warnings().iter().map(|w| w.line).collect();
    assert_eq!(lines, [1, 2, 3], "{:?}", acl.warnings());
    assert!(
        acl.warnings()[0].message.contains("\" foo\""),
        "{}",
        acl.warnings()[0]
    );
    // One space (or one tab) is the separator.
    let acl = FileAcl::parse("topic\tfoo\n").unwrap();
    assert!(acl.check(&anon, Request::new(P, "foo")).is_allowed());
    assert!(acl.warnings().is_empty());
}

/// The file authorizer logs every warning with the file and the line.
#[test]
fn file_authorizer_logs_padded_topics_with_file_and_line() {
    let path = temp_acl("padded.acl", "# header\ntopic  foo\n");
    let (guard, log) = capture_logs();
    let auth = FileAuthorizer::open(&path, ParseOptions::default()).unwrap();
    drop(guard);
    let text = log.text();
    assert!(text.contains("padded.acl"), "{text}");
    assert!(text.contains("line=2"), "{text}");
    assert!(text.contains("\" foo\""), "{text}");
    assert!(
        auth.check(&Client::anonymous("x"), Request::new(P, " foo"))
            .is_allowed()
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
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
    assert!(auth.check(&c, rq(P, "a", 0, false)).is_allowed());
    write_atomic(&path, "topic a/#/b\n");
    let err = auth.reload().unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    assert!(auth.check(&c, rq(P, "a", 0, false)).is_allowed());
    assert_eq!(auth.generation(), 1);
    assert!(auth.last_error().is_some());
    write_atomic(&path, "");
    assert!(auth.reload().is_err()); // empty file refused
    assert!(auth.check(&c, rq(P, "a", 0, false)).is_allowed());
    std::fs::remove_file(&path).unwrap();
    assert!(auth.reload().is_err()); // missing file
    assert!(auth.check(&c, rq(P, "a", 0, false)).is_allowed());
    write_atomic(&path, "topic b\n");
    assert_eq!(auth.reload(), Ok(true));
    assert!(auth.last_error().is_none());
    assert!(!auth.check(&c, rq(P, "a", 0, false)).is_allowed());
    assert!(auth.check(&c, rq(P, "b", 0, false)).is_allowed());
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
        auth.check(&Client::anonymous("x"), rq(P, "b", 0, false))
            .is_allowed()
    );
    write_atomic(&path, "nonsense\n");
    assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap().is_err());
    assert!(
        auth.check(&Client::anonymous("x"), rq(P, "b", 0, false))
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
                let a = acl
                    .check(&c, Request::new(P, &format!("a/{i}")))
                    .is_allowed();
                let b = acl
                    .check(&c, Request::new(P, &format!("b/{i}")))
                    .is_allowed();
                assert!(a ^ b, "thread {t}: torn snapshot at {i}");
                let d = auth.check(&c, rq(P, &format!("a/{i}"), 0, false));
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
