//! Why a provider could not decide: [`IgnoreReason`].

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

/// The kind of reason a provider could not decide, for metrics and log filters
/// (low cardinality; the detail is in [`IgnoreReason::detail`]).
///
/// ```
/// use mqtt_scram::provider::{IgnoreKind, IgnoreReason};
/// let reason = IgnoreReason::new(IgnoreKind::Overloaded, "512 lookups in flight");
/// assert_eq!(reason.kind().as_str(), "overloaded");   // a metric label
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IgnoreKind {
    /// The store could not be reached or answered with an error.
    Unavailable,
    /// The store did not answer within its deadline.
    Timeout,
    /// The store answered with a record that cannot be used (bad lengths, wrong types, garbage).
    InvalidRecord,
    /// The record is well-formed but outside the server's [`RecordPolicy`](crate::RecordPolicy).
    OutsidePolicy,
    /// The lookup was not attempted because too many were in progress.
    Overloaded,
    /// The provider has no opinion on this user (e.g. a username outside its namespace).
    NotApplicable,
}

impl IgnoreKind {
    /// A short stable name (`unavailable`, `timeout`, …), usable as a metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::InvalidRecord => "invalid_record",
            Self::OutsidePolicy => "outside_policy",
            Self::Overloaded => "overloaded",
            Self::NotApplicable => "not_applicable",
        }
    }
}

impl fmt::Display for IgnoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a provider could not decide: a [`IgnoreKind`] and a human-readable detail for the
/// operator. It reaches the broker in the [`Rejection`](crate::Rejection)'s error while the
/// client sees the same mock challenge and 0x87 as for an unknown user.
///
/// The detail must never contain a secret (passwords, keys, header values, query strings).
///
/// ```
/// use mqtt_scram::provider::{IgnoreKind, IgnoreReason};
/// let reason = IgnoreReason::new(IgnoreKind::Timeout, "no answer from db-1 within 2s");
/// assert_eq!(reason.kind(), IgnoreKind::Timeout);
/// assert_eq!(reason.to_string(), "timeout: no answer from db-1 within 2s");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IgnoreReason {
    kind: IgnoreKind,
    detail: Cow<'static, str>,
}

impl IgnoreReason {
    /// A reason of the given kind.
    pub fn new(kind: IgnoreKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// [`IgnoreKind::Unavailable`] with a detail.
    pub fn unavailable(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(IgnoreKind::Unavailable, detail)
    }

    /// [`IgnoreKind::InvalidRecord`] with a detail.
    pub fn invalid_record(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(IgnoreKind::InvalidRecord, detail)
    }

    /// [`IgnoreKind::Timeout`] with a detail.
    pub fn timeout(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(IgnoreKind::Timeout, detail)
    }

    /// The kind.
    pub fn kind(&self) -> IgnoreKind {
        self.kind
    }

    /// The detail, for the operator.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The detail as an owned string.
    pub fn into_detail(self) -> String {
        self.detail.into_owned()
    }
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}
