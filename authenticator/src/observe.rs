//! Observability shared by every integration (this authenticator, the Mosquitto plugin):
//! metric names, label values, and the recording calls, so every front reports the same
//! series (like EMQX's per-authenticator metrics).
//!
//! With the `metrics` feature the calls go to the [`metrics`](https://docs.rs/metrics)
//! facade (install any recorder, e.g. `metrics-exporter-prometheus`); without it they do
//! nothing. Every series carries the label `authenticator` (the name given to
//! [`Metrics::new`]) so several authenticators in one process stay apart.
//!
//! | name | type | labels |
//! |---|---|---|
//! | [`HANDSHAKES_STARTED`] | counter | `kind` (`connect`, `reauth`) |
//! | [`HANDSHAKES_SUCCEEDED`] | counter | `kind`, `mechanism` |
//! | [`HANDSHAKES_FAILED`] | counter | `kind`, `reason` ([`error_label`], refusal labels, ...) |
//! | [`MOCK_CHALLENGES`] | counter | `kind` |
//! | [`PROVIDER_IGNORES`] | counter | `reason` ([`IgnoreKind::as_str`]) |
//! | [`ADMISSION_REFUSED`] | counter | `reason` (`capacity`, `per_address`, `work_timeout`) |
//! | [`LOOKUP_SECONDS`] | histogram | – |
//! | [`HANDSHAKE_SECONDS`] | histogram | `kind`, `outcome` (`success`, `failure`) |
//! | [`HANDSHAKES_IN_PROGRESS`] | gauge | – |
//!
//! ```
//! use std::time::Duration;
//! use mqtt_scram_authenticator::observe::{HandshakeKind, Metrics};
//! let metrics = Metrics::new("mosquitto");
//! metrics.handshake_started(HandshakeKind::Connect);
//! metrics.lookup_finished(Duration::from_micros(40), None);
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::provider::IgnoreKind;
use mqtt_scram::{Error, ErrorKind, Mechanism};

use crate::admission::Refusal;

/// Handshakes started (CONNECT with an Authentication Method, AUTH 0x19).
pub const HANDSHAKES_STARTED: &str = "mqtt_scram_handshakes_started_total";
/// Handshakes that authenticated the client.
pub const HANDSHAKES_SUCCEEDED: &str = "mqtt_scram_handshakes_succeeded_total";
/// Handshakes that failed, by reason.
pub const HANDSHAKES_FAILED: &str = "mqtt_scram_handshakes_failed_total";
/// Challenges built from the mock key (unknown user, provider could not decide, unusable record).
pub const MOCK_CHALLENGES: &str = "mqtt_scram_mock_challenges_total";
/// Provider answers "could not decide", by [`IgnoreKind`].
pub const PROVIDER_IGNORES: &str = "mqtt_scram_provider_ignores_total";
/// Handshakes refused by the admission policy, by reason.
pub const ADMISSION_REFUSED: &str = "mqtt_scram_admission_refused_total";
/// Credential lookup latency, seconds.
pub const LOOKUP_SECONDS: &str = "mqtt_scram_lookup_duration_seconds";
/// Handshake latency from the first packet to the last, seconds.
pub const HANDSHAKE_SECONDS: &str = "mqtt_scram_handshake_duration_seconds";
/// Handshakes in progress now.
pub const HANDSHAKES_IN_PROGRESS: &str = "mqtt_scram_handshakes_in_progress";

/// Which packet started a handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeKind {
    /// CONNECT with an Authentication Method.
    Connect,
    /// AUTH 0x19 on an authenticated connection.
    Reauth,
}

impl HandshakeKind {
    /// The label value: `connect` or `reauth`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Reauth => "reauth",
        }
    }
}

/// The `reason` label of a failed handshake for an engine error (low cardinality).
///
/// The label of the error's [`kind`](Error::kind): see [`kind_label`].
pub fn error_label(error: &Error) -> &'static str {
    kind_label(error.kind())
}

/// The `reason` label of a failed handshake for a kind of engine error (low cardinality).
///
/// ```
/// use mqtt_scram::ErrorKind;
/// use mqtt_scram_authenticator::observe::kind_label;
/// assert_eq!(kind_label(ErrorKind::InvalidProof), "invalid_proof");
/// assert_eq!(kind_label(ErrorKind::UnknownUser), "unknown_user");
/// assert_eq!(kind_label(ErrorKind::HandshakeTimeout), "timeout");
/// ```
pub fn kind_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidProof => "invalid_proof",
        ErrorKind::UnknownUser => "unknown_user",
        ErrorKind::CredentialsUnavailable => "credentials_unavailable",
        ErrorKind::CredentialsExpired => "credentials_expired",
        ErrorKind::CredentialsMismatch => "credentials_mismatch",
        ErrorKind::HandshakeTimeout => "timeout",
        ErrorKind::Malformed
        | ErrorKind::TooLong
        | ErrorKind::MandatoryExtension
        | ErrorKind::MissingData => "malformed",
        ErrorKind::UnsupportedMechanism | ErrorKind::MethodChanged => "bad_method",
        ErrorKind::UnexpectedReasonCode => "protocol_error",
        ErrorKind::NonceMismatch => "nonce_mismatch",
        ErrorKind::ChannelBindingMismatch
        | ErrorKind::ChannelBindingDowngrade
        | ErrorKind::ChannelBindingNotSupported
        | ErrorKind::UnsupportedChannelBindingType
        | ErrorKind::ChannelBindingMechanismMismatch => "channel_binding",
        ErrorKind::AuthzidNotAllowed => "authzid_not_allowed",
        ErrorKind::ReauthUserMismatch => "reauth_user_mismatch",
        _ => "other",
    }
}

/// The recording calls, labelled with one authenticator's name. Cheap to clone.
///
/// The keys of the series a successful handshake records are built once, here; recording
/// then allocates nothing (the `metrics` macros would build a label vector and a string per
/// label on every call). Each call still asks the current recorder for its handle, so a
/// recorder installed later (or a thread-local one in a test) sees every record.
#[derive(Clone)]
pub struct Metrics {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    name: Arc<str>,
    #[cfg(feature = "metrics")]
    keys: Arc<keys::Keys>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").field("name", &self.name).finish()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new("default")
    }
}

impl Metrics {
    /// Recording calls whose series carry `authenticator="<name>"`.
    pub fn new(name: &str) -> Self {
        let name: Arc<str> = name.into();
        Self {
            #[cfg(feature = "metrics")]
            keys: Arc::new(keys::Keys::new(&name)),
            name,
        }
    }

    /// The `authenticator` label value.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A handshake started.
    pub fn handshake_started(&self, kind: HandshakeKind) {
        #[cfg(feature = "metrics")]
        {
            let keys = &self.keys;
            keys::counter(keys.started(kind));
            keys::gauge(&keys.in_progress, 1.0);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = kind;
    }

    /// A handshake succeeded after `took`.
    pub fn handshake_succeeded(&self, kind: HandshakeKind, mechanism: Mechanism, took: Duration) {
        #[cfg(feature = "metrics")]
        {
            let keys = &self.keys;
            keys::counter(keys.succeeded(kind, mechanism));
            keys::histogram(keys.seconds(kind, true), took.as_secs_f64());
            keys::gauge(&keys.in_progress, -1.0);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (kind, mechanism, took);
    }

    /// A handshake that had started failed after `took`, for `reason` (a label such as
    /// [`error_label`] returns).
    pub fn handshake_failed(&self, kind: HandshakeKind, reason: &'static str, took: Duration) {
        #[cfg(feature = "metrics")]
        {
            let keys = &self.keys;
            let failed = keys.key(
                HANDSHAKES_FAILED,
                &[("kind", kind.as_str()), ("reason", reason)],
            );
            keys::counter(&failed);
            keys::histogram(keys.seconds(kind, false), took.as_secs_f64());
            keys::gauge(&keys.in_progress, -1.0);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (kind, reason, took);
    }

    /// The admission policy refused a handshake before it started (counted as started and
    /// failed too, so `started = succeeded + failed + in progress` holds).
    pub fn refused(&self, kind: HandshakeKind, refusal: Refusal) {
        #[cfg(feature = "metrics")]
        {
            let keys = &self.keys;
            keys::counter(&keys.key(ADMISSION_REFUSED, &[("reason", refusal.label())]));
            keys::counter(keys.started(kind));
            keys::counter(&keys.key(
                HANDSHAKES_FAILED,
                &[("kind", kind.as_str()), ("reason", refusal.label())],
            ));
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (kind, refusal);
    }

    /// A credential lookup finished after `took`; `ignored` is the provider's
    /// [`IgnoreKind`] when it could not decide.
    pub fn lookup_finished(&self, took: Duration, ignored: Option<IgnoreKind>) {
        #[cfg(feature = "metrics")]
        {
            let keys = &self.keys;
            keys::histogram(&keys.lookup, took.as_secs_f64());
            if let Some(kind) = ignored {
                keys::counter(&keys.key(PROVIDER_IGNORES, &[("reason", kind.as_str())]));
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (took, ignored);
    }

    /// A challenge was built from the mock key.
    pub fn mock_challenge(&self, kind: HandshakeKind) {
        #[cfg(feature = "metrics")]
        keys::counter(self.keys.mock(kind));
        #[cfg(not(feature = "metrics"))]
        let _ = kind;
    }
}

#[cfg(feature = "metrics")]
mod keys;
