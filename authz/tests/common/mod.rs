//! Helpers shared by the authorization tests.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::panic)]

use mqtt_scram_authz::{Access, AclRule, Action, Client, Decision, Permission, Request, RuleSet};

pub use Access::{Publish as P, Read as R, Subscribe as S};

pub fn rule(permission: Permission, action: Action, topics: &[&str]) -> AclRule {
    AclRule::new(permission, action, topics.iter().copied())
}

pub fn allow(action: Action, topics: &[&str]) -> AclRule {
    rule(Permission::Allow, action, topics)
}

pub fn deny(action: Action, topics: &[&str]) -> AclRule {
    rule(Permission::Deny, action, topics)
}

/// A request with every field given.
pub fn rq(access: Access, topic: &str, qos: u8, retain: bool) -> Request<'_> {
    Request::new(access, topic).qos(qos).retain(retain)
}

/// `Some(true)` allow, `Some(false)` deny, `None` no match.
pub fn verdict(d: Decision) -> Option<bool> {
    match d {
        Decision::Allow(_) => Some(true),
        Decision::Deny(_) => Some(false),
        Decision::NoMatch => None,
    }
}

pub fn run(rules: &[AclRule], client: &Client, cases: &[(Access, &str, Option<bool>)]) {
    let set = RuleSet::compile(rules).unwrap();
    for (access, topic, expected) in cases {
        let got = verdict(set.check(client, rq(*access, topic, 0, false)));
        assert_eq!(got, *expected, "{access:?} {topic:?} with rules {rules:?}");
    }
}

/// Polls a future that needs no runtime to completion.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Log lines captured from `tracing` while the guard lives (this thread only).
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every `tracing` event of this thread (all levels) until the guard drops.
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, Captured) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (tracing::subscriber::set_default(subscriber), captured)
}
