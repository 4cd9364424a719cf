//! One handshake's observability: metrics through [`Metrics`](crate::observe::Metrics) and,
//! with the `tracing` feature, one span carrying mechanism, username, outcome and reason.
//! Never a password, key, proof, nonce or signature.

use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::provider::Lookup;
use mqtt_scram::{ConnectionInfo, Identity, Mechanism};

use crate::authenticator::Shared;
use crate::observe::HandshakeKind;
use crate::step::Failure;

/// A monotonic time in nanoseconds (saturating at 584 years): 8 bytes where a `Duration`
/// takes 16, for the times every waiting handshake keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Nanos(u64);

impl Nanos {
    pub(crate) fn new(at: Duration) -> Self {
        Self(u64::try_from(at.as_nanos()).unwrap_or(u64::MAX))
    }

    pub(crate) fn get(self) -> Duration {
        Duration::from_nanos(self.0)
    }
}

pub(crate) struct Tracker {
    shared: Arc<Shared>,
    kind: HandshakeKind,
    started: Nanos,
    finished: bool,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl Tracker {
    pub(crate) fn start(
        shared: &Arc<Shared>,
        kind: HandshakeKind,
        info: &ConnectionInfo,
        started: Duration,
    ) -> Self {
        shared.metrics.handshake_started(kind);
        #[cfg(not(feature = "tracing"))]
        let _ = info;
        Self {
            shared: Arc::clone(shared),
            kind,
            started: Nanos::new(started),
            finished: false,
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                target: "mqtt_scram",
                "mqtt_scram.handshake",
                authenticator = shared.metrics.name(),
                kind = kind.as_str(),
                peer = info.peer.map(tracing::field::display),
                client_id = %info.client_id,
                mechanism = tracing::field::Empty,
                username = tracing::field::Empty,
                mock = tracing::field::Empty,
                outcome = tracing::field::Empty,
                reason = tracing::field::Empty,
            ),
        }
    }

    pub(crate) fn started(&self, mechanism: Mechanism, username: &str) {
        #[cfg(feature = "tracing")]
        {
            self.span.record("mechanism", mechanism.name());
            self.span.record("username", username);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (mechanism, username);
    }

    pub(crate) fn lookup(&self, took: Duration, lookup: &Lookup, mock: bool) {
        let ignored = match lookup {
            Lookup::Ignore(reason) => Some(reason),
            _ => None,
        };
        self.shared
            .metrics
            .lookup_finished(took, ignored.map(|r| r.kind()));
        if mock {
            self.shared.metrics.mock_challenge(self.kind);
        }
        #[cfg(feature = "tracing")]
        {
            self.span.record("mock", mock);
            let _entered = self.span.enter();
            match ignored {
                Some(reason) => {
                    tracing::info!(target: "mqtt_scram", ?took, %reason, "provider could not decide; mock challenge")
                }
                None => {
                    tracing::debug!(target: "mqtt_scram", ?took, mock, "credential lookup done")
                }
            }
        }
    }

    fn took(&self) -> Duration {
        self.shared
            .clock
            .now()
            .monotonic()
            .saturating_sub(self.started.get())
    }

    pub(crate) fn succeeded(mut self, identity: &Identity) {
        self.finished = true;
        let took = self.took();
        self.shared
            .metrics
            .handshake_succeeded(self.kind, identity.mechanism, took);
        #[cfg(feature = "tracing")]
        {
            self.span.record("outcome", "success");
            let _entered = self.span.enter();
            tracing::info!(target: "mqtt_scram", ?took, superuser = identity.is_superuser(), expire_at = identity.expire_at(), "authenticated");
        }
    }

    pub(crate) fn failed(mut self, failure: &Failure) {
        self.finished = true;
        let took = self.took();
        self.shared
            .metrics
            .handshake_failed(self.kind, failure.label(), took);
        #[cfg(feature = "tracing")]
        {
            self.span.record("outcome", "failure");
            self.span.record("reason", failure.label());
            let _entered = self.span.enter();
            // `failure` says locally whether the user was unknown or the provider down; the
            // client saw the same packet either way.
            tracing::info!(target: "mqtt_scram", ?took, error = %failure, "authentication failed");
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if !self.finished {
            // The connection went away (or the broker dropped the state) mid-handshake.
            let took = self.took();
            self.shared
                .metrics
                .handshake_failed(self.kind, "abandoned", took);
            #[cfg(feature = "tracing")]
            {
                self.span.record("outcome", "abandoned");
                let _entered = self.span.enter();
                tracing::debug!(target: "mqtt_scram", ?took, "handshake abandoned");
            }
        }
    }
}
