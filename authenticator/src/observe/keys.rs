//! Metric keys built once per authenticator, and recording through the current recorder
//! without allocating.
//!
//! The `metrics` macros build a [`Key`] on every call: a vector of labels and, for the
//! `authenticator` label, a copy of the name — about a dozen allocations per handshake even
//! with no recorder installed. Here the series a successful handshake touches have their
//! keys built when the authenticator is; rarer series (failures, refusals, provider
//! `Ignore`s) build a key with static and shared label values only (one allocation).

use std::sync::Arc;

use metrics::{Key, Label, Level, Metadata, SharedString, with_recorder};
use mqtt_scram::Mechanism;

use super::{
    HANDSHAKE_SECONDS, HANDSHAKES_IN_PROGRESS, HANDSHAKES_STARTED, HANDSHAKES_SUCCEEDED,
    HandshakeKind, LOOKUP_SECONDS, MOCK_CHALLENGES,
};

/// What the macros would pass from `observe`.
static METADATA: Metadata<'static> = Metadata::new(
    "mqtt_scram_authenticator::observe",
    Level::INFO,
    Some("mqtt_scram_authenticator::observe"),
);

/// One value per handshake kind.
struct PerKind<T> {
    connect: T,
    reauth: T,
}

impl<T> PerKind<T> {
    fn new(mut make: impl FnMut(HandshakeKind) -> T) -> Self {
        Self {
            connect: make(HandshakeKind::Connect),
            reauth: make(HandshakeKind::Reauth),
        }
    }

    fn get(&self, kind: HandshakeKind) -> &T {
        match kind {
            HandshakeKind::Connect => &self.connect,
            HandshakeKind::Reauth => &self.reauth,
        }
    }
}

/// One key per mechanism.
struct PerMechanism {
    sha256: Key,
    sha256_plus: Key,
    sha512: Key,
    sha512_plus: Key,
}

impl PerMechanism {
    fn new(make: impl Fn(Mechanism) -> Key) -> Self {
        Self {
            sha256: make(Mechanism::ScramSha256),
            sha256_plus: make(Mechanism::ScramSha256Plus),
            sha512: make(Mechanism::ScramSha512),
            sha512_plus: make(Mechanism::ScramSha512Plus),
        }
    }

    fn get(&self, mechanism: Mechanism) -> &Key {
        match mechanism {
            Mechanism::ScramSha256 => &self.sha256,
            Mechanism::ScramSha256Plus => &self.sha256_plus,
            Mechanism::ScramSha512 => &self.sha512,
            Mechanism::ScramSha512Plus => &self.sha512_plus,
        }
    }
}

/// One authenticator's keys (labels in the order the series always had: `authenticator`
/// first).
pub(super) struct Keys {
    /// The `authenticator` label value, shared by every key.
    name: SharedString,
    started: PerKind<Key>,
    succeeded: PerKind<PerMechanism>,
    /// Success, failure.
    seconds: PerKind<(Key, Key)>,
    mock: PerKind<Key>,
    pub(super) in_progress: Key,
    pub(super) lookup: Key,
}

/// A key of `metric` with the `authenticator` label (`name`) and then `labels`.
fn key(name: &SharedString, metric: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    let mut all = Vec::with_capacity(labels.len() + 1);
    all.push(Label::new("authenticator", name.clone()));
    all.extend(
        labels
            .iter()
            .map(|&(key, value)| Label::from_static_parts(key, value)),
    );
    Key::from_parts(metric, all)
}

impl Keys {
    pub(super) fn new(name: &Arc<str>) -> Self {
        let name = SharedString::from_shared(Arc::clone(name));
        let n = &name;
        Self {
            started: PerKind::new(|kind| key(n, HANDSHAKES_STARTED, &[("kind", kind.as_str())])),
            succeeded: PerKind::new(|kind| {
                PerMechanism::new(|mechanism| {
                    key(
                        n,
                        HANDSHAKES_SUCCEEDED,
                        &[("kind", kind.as_str()), ("mechanism", mechanism.name())],
                    )
                })
            }),
            seconds: PerKind::new(|kind| {
                let outcome = |outcome| {
                    key(
                        n,
                        HANDSHAKE_SECONDS,
                        &[("kind", kind.as_str()), ("outcome", outcome)],
                    )
                };
                (outcome("success"), outcome("failure"))
            }),
            mock: PerKind::new(|kind| key(n, MOCK_CHALLENGES, &[("kind", kind.as_str())])),
            in_progress: key(n, HANDSHAKES_IN_PROGRESS, &[]),
            lookup: key(n, LOOKUP_SECONDS, &[]),
            name,
        }
    }

    /// A key of `metric` with this authenticator's label and then `labels` (rarer series).
    pub(super) fn key(&self, metric: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
        key(&self.name, metric, labels)
    }

    pub(super) fn started(&self, kind: HandshakeKind) -> &Key {
        self.started.get(kind)
    }

    pub(super) fn succeeded(&self, kind: HandshakeKind, mechanism: Mechanism) -> &Key {
        self.succeeded.get(kind).get(mechanism)
    }

    pub(super) fn seconds(&self, kind: HandshakeKind, success: bool) -> &Key {
        let (succeeded, failed) = self.seconds.get(kind);
        if success { succeeded } else { failed }
    }

    pub(super) fn mock(&self, kind: HandshakeKind) -> &Key {
        self.mock.get(kind)
    }
}

pub(super) fn counter(key: &Key) {
    with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

pub(super) fn gauge(key: &Key, delta: f64) {
    with_recorder(|recorder| {
        let gauge = recorder.register_gauge(key, &METADATA);
        if delta < 0.0 {
            gauge.decrement(-delta);
        } else {
            gauge.increment(delta);
        }
    });
}

pub(super) fn histogram(key: &Key, value: f64) {
    with_recorder(|recorder| recorder.register_histogram(key, &METADATA).record(value));
}
