//! Errors, grouped by cause, each mapped to one MQTT reason code and, where the
//! server should tell the client, one RFC 5802 `e=` value.
//!
//! [`Error`] is opaque: match on [`Error::kind`] (a fieldless, `#[non_exhaustive]`
//! [`ErrorKind`]) and read the details through its accessors. Only the engine creates
//! errors.
//!
//! No error carries a password, key, proof or signature, so every error can be logged.

use core::fmt;
use core::ops::RangeInclusive;

use crate::mechanism::HashAlgorithm;
use crate::message::{MessageKind, Problem, ServerErrorValue};
use crate::mqtt::ReasonCode;
use crate::provider::IgnoreReason;
use crate::saslprep::SaslprepError;

#[cfg(test)]
mod tests;

/// What kind of party caused an [`Error`].
///
/// ```
/// use mqtt_scram::{ErrorCategory, ErrorKind};
/// assert_eq!(ErrorKind::InvalidProof.category(), ErrorCategory::Authentication);
/// assert_eq!(ErrorKind::MissingData.category(), ErrorCategory::Malformed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCategory {
    /// The peer sent bytes that break RFC 5802's grammar or size limits.
    Malformed,
    /// The peer broke the MQTT 5 exchange rules (reason code, method).
    Protocol,
    /// Well-formed, but authentication failed (proof, user, deadline, binding, ...).
    Authentication,
    /// Input given by the local side (username, password, authorization identity) was unusable.
    Local,
}

/// What went wrong, without the details: what [`Error::kind`] returns, for `match`.
///
/// New kinds may be added in minor releases, so a `match` needs a `_` arm.
///
/// ```
/// use mqtt_scram::{ErrorKind, ReasonCode};
/// assert_eq!(ErrorKind::UnsupportedMechanism.reason_code(), ReasonCode::BadAuthenticationMethod);
/// assert_eq!(ErrorKind::InvalidProof.reason_code(), ReasonCode::NotAuthorized);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A SCRAM message does not follow RFC 5802 §7 ([`Error::message_kind`], [`Error::problem`]).
    Malformed,
    /// A SCRAM message is larger than the configured limit ([`Error::message_len`],
    /// [`Error::limit`]).
    TooLong,
    /// The message carries a mandatory extension (`m=`), which no SCRAM version defines.
    MandatoryExtension,
    /// The Authentication Method is not one this side accepts.
    UnsupportedMechanism,
    /// The Authentication Method changed in the middle of an exchange or a re-authentication.
    MethodChanged,
    /// A packet's reason code does not fit the exchange's state
    /// ([`Error::expected_reason_code`], [`Error::found_reason_code`]).
    UnexpectedReasonCode,
    /// A packet that must carry Authentication Data arrived without it.
    MissingData,
    /// The client proof did not verify. Unknown users end here too, so the two look the same.
    InvalidProof,
    /// The user does not exist (only visible locally; the peer sees [`ErrorKind::InvalidProof`]).
    UnknownUser,
    /// The credential provider could not decide (down, timeout, bad answer, record outside
    /// the [`RecordPolicy`](crate::RecordPolicy)): [`Error::ignore_reason`] says why. The
    /// peer sees the same as for an unknown user.
    CredentialsUnavailable,
    /// The proof was right but the provider's record has expired (`expire_at`). Only a
    /// client that knows the password can reach this.
    CredentialsExpired,
    /// The provider's record does not fit the mechanism (e.g. SHA-256 keys for
    /// SCRAM-SHA-512): [`Error::requested_hash`], [`Error::stored_hash`].
    CredentialsMismatch,
    /// The client-final arrived after the handshake deadline.
    HandshakeTimeout,
    /// The nonce in a later message does not continue the exchange's nonce.
    NonceMismatch,
    /// `c=` does not equal the gs2 header plus the connection's channel-binding data.
    ChannelBindingMismatch,
    /// The client said it supports channel binding but thinks the server does not (`y`),
    /// while this server offers it: a possible downgrade attack (RFC 5802 §6).
    ChannelBindingDowngrade,
    /// The client asked for channel binding the connection cannot provide.
    ChannelBindingNotSupported,
    /// The client asked for a channel-binding type other than the connection's.
    UnsupportedChannelBindingType,
    /// A -PLUS mechanism was used without channel binding, or binding without -PLUS.
    ChannelBindingMechanismMismatch,
    /// The client sent an authorization identity (`a=`) this server does not accept.
    AuthzidNotAllowed,
    /// A re-authentication named a different user than the connection's.
    ReauthUserMismatch,
    /// The server's iteration count is outside the client's window
    /// ([`Error::iteration_count`], [`Error::iteration_window`]).
    IterationCountOutOfRange,
    /// The server ended the exchange with `e=` ([`Error::received_server_error`]).
    ServerError,
    /// The server's signature (`v=`) is wrong: the server does not know the credentials.
    InvalidServerSignature,
    /// A username, password or authorization identity failed SASLprep
    /// ([`Error::saslprep_input`], [`Error::saslprep_error`], and the error's `source()`).
    Saslprep,
    /// A username is empty (after preparation).
    EmptyUsername,
    /// The client's iteration window is empty or starts at zero ([`Error::iteration_window`];
    /// see [`ClientConfig::try_iteration_window`](crate::client::ClientConfig::try_iteration_window)).
    InvalidIterationWindow,
}

impl ErrorKind {
    /// Which party causes errors of this kind.
    pub fn category(self) -> ErrorCategory {
        match self {
            Self::Malformed | Self::TooLong | Self::MandatoryExtension | Self::MissingData => {
                ErrorCategory::Malformed
            }
            Self::UnsupportedMechanism | Self::MethodChanged | Self::UnexpectedReasonCode => {
                ErrorCategory::Protocol
            }
            Self::Saslprep | Self::EmptyUsername | Self::InvalidIterationWindow => {
                ErrorCategory::Local
            }
            _ => ErrorCategory::Authentication,
        }
    }

    /// The MQTT reason code that reports errors of this kind to the peer.
    pub fn reason_code(self) -> ReasonCode {
        match self {
            Self::UnsupportedMechanism | Self::MethodChanged => ReasonCode::BadAuthenticationMethod,
            Self::UnexpectedReasonCode => ReasonCode::ProtocolError,
            _ => ReasonCode::NotAuthorized,
        }
    }
}

/// Every way an exchange or a credential operation can fail.
///
/// Match on [`kind`](Error::kind); the accessors give the details of the kinds that have
/// some. `Display` names the bad input, never a secret.
///
/// ```
/// use mqtt_scram::client::ClientConfig;
/// use mqtt_scram::{ErrorCategory, ErrorKind, ReasonCode};
/// let error = ClientConfig::new().try_iteration_window(600_000..=4096).unwrap_err();
/// match error.kind() {
///     ErrorKind::InvalidIterationWindow => assert_eq!(error.iteration_window(), Some(600_000..=4096)),
///     _ => unreachable!(),
/// }
/// assert_eq!(error.category(), ErrorCategory::Local);
/// assert_eq!(error.reason_code(), ReasonCode::NotAuthorized);
/// assert_eq!(
///     error.to_string(),
///     "iteration_window: 600000..=4096 must be a non-empty range starting at 1 or more"
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    /// Inline, not boxed: creating an error never allocates (the handshake's allocation
    /// budget, `tests/handshake_memory.rs`, counts on it).
    detail: Detail,
}

/// The details of an [`Error`]; crate-private, so only the engine creates errors
/// (`Detail::X.into()`, or `?` on a `Result<_, Detail>`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Detail {
    #[error("malformed {message}: {problem}")]
    Malformed {
        message: MessageKind,
        problem: Problem,
    },
    #[error("{message} is {len} bytes, over the limit of {max}")]
    TooLong {
        message: MessageKind,
        len: usize,
        max: usize,
    },
    #[error("{message} carries a mandatory extension (m=), which is not supported")]
    MandatoryExtension { message: MessageKind },
    #[error("authentication method is not supported here")]
    UnsupportedMechanism,
    #[error("authentication method changed during the exchange")]
    MethodChanged,
    #[error("reason code 0x{found:02X} does not fit here; expected {expected}")]
    UnexpectedReasonCode { expected: ReasonCode, found: u8 },
    #[error("missing Authentication Data")]
    MissingData,
    #[error("invalid client proof")]
    InvalidProof,
    #[error("unknown user (answered like a wrong password)")]
    UnknownUser,
    #[error("credentials unavailable ({0})")]
    CredentialsUnavailable(IgnoreReason),
    #[error("credentials have expired")]
    CredentialsExpired,
    #[error("stored credentials are for {found}, the client asked for {requested}")]
    CredentialsMismatch {
        requested: HashAlgorithm,
        found: HashAlgorithm,
    },
    #[error("handshake deadline passed")]
    HandshakeTimeout,
    #[error("nonce does not match the exchange")]
    NonceMismatch,
    #[error("channel binding does not match")]
    ChannelBindingMismatch,
    #[error(
        "client used gs2 flag 'y' but the server supports channel binding (possible downgrade)"
    )]
    ChannelBindingDowngrade,
    #[error("channel binding is not available on this connection")]
    ChannelBindingNotSupported,
    #[error("channel binding type is not supported")]
    UnsupportedChannelBindingType,
    #[error("channel binding flag does not fit the mechanism")]
    ChannelBindingMechanismMismatch,
    #[error("authorization identity not allowed")]
    AuthzidNotAllowed,
    #[error("re-authentication must be for the connection's current user")]
    ReauthUserMismatch,
    #[error("server asked for {iterations} iterations, outside the allowed {min}..={max}")]
    IterationCountOutOfRange { iterations: u32, min: u32, max: u32 },
    #[error("server rejected the authentication: {0}")]
    ServerError(ServerErrorValue),
    #[error("server signature does not verify")]
    InvalidServerSignature,
    /// `what` is `"username"`, `"password"` or `"authzid"`.
    #[error("{what} failed SASLprep: {source}")]
    Saslprep {
        what: &'static str,
        source: SaslprepError,
    },
    #[error("username is empty")]
    EmptyUsername,
    #[error("iteration_window: {min}..={max} must be a non-empty range starting at 1 or more")]
    InvalidIterationWindow { min: u32, max: u32 },
}

impl From<Detail> for Error {
    fn from(detail: Detail) -> Self {
        Self { detail }
    }
}

impl Error {
    /// What went wrong, for `match`.
    pub fn kind(&self) -> ErrorKind {
        match &self.detail {
            Detail::Malformed { .. } => ErrorKind::Malformed,
            Detail::TooLong { .. } => ErrorKind::TooLong,
            Detail::MandatoryExtension { .. } => ErrorKind::MandatoryExtension,
            Detail::UnsupportedMechanism => ErrorKind::UnsupportedMechanism,
            Detail::MethodChanged => ErrorKind::MethodChanged,
            Detail::UnexpectedReasonCode { .. } => ErrorKind::UnexpectedReasonCode,
            Detail::MissingData => ErrorKind::MissingData,
            Detail::InvalidProof => ErrorKind::InvalidProof,
            Detail::UnknownUser => ErrorKind::UnknownUser,
            Detail::CredentialsUnavailable(_) => ErrorKind::CredentialsUnavailable,
            Detail::CredentialsExpired => ErrorKind::CredentialsExpired,
            Detail::CredentialsMismatch { .. } => ErrorKind::CredentialsMismatch,
            Detail::HandshakeTimeout => ErrorKind::HandshakeTimeout,
            Detail::NonceMismatch => ErrorKind::NonceMismatch,
            Detail::ChannelBindingMismatch => ErrorKind::ChannelBindingMismatch,
            Detail::ChannelBindingDowngrade => ErrorKind::ChannelBindingDowngrade,
            Detail::ChannelBindingNotSupported => ErrorKind::ChannelBindingNotSupported,
            Detail::UnsupportedChannelBindingType => ErrorKind::UnsupportedChannelBindingType,
            Detail::ChannelBindingMechanismMismatch => ErrorKind::ChannelBindingMechanismMismatch,
            Detail::AuthzidNotAllowed => ErrorKind::AuthzidNotAllowed,
            Detail::ReauthUserMismatch => ErrorKind::ReauthUserMismatch,
            Detail::IterationCountOutOfRange { .. } => ErrorKind::IterationCountOutOfRange,
            Detail::ServerError(_) => ErrorKind::ServerError,
            Detail::InvalidServerSignature => ErrorKind::InvalidServerSignature,
            Detail::Saslprep { .. } => ErrorKind::Saslprep,
            Detail::EmptyUsername => ErrorKind::EmptyUsername,
            Detail::InvalidIterationWindow { .. } => ErrorKind::InvalidIterationWindow,
        }
    }

    /// Which party caused the error (the kind's [`ErrorKind::category`]).
    pub fn category(&self) -> ErrorCategory {
        self.kind().category()
    }

    /// The MQTT reason code that reports this error to the peer (the kind's
    /// [`ErrorKind::reason_code`]).
    pub fn reason_code(&self) -> ReasonCode {
        self.kind().reason_code()
    }

    /// The RFC 5802 `e=` value a server sends for this error, if any.
    ///
    /// Unknown users, unavailable and mismatched credentials map to `invalid-proof`,
    /// exactly like a wrong password, so the peer cannot enumerate users.
    pub fn server_error(&self) -> Option<ServerErrorValue> {
        Some(match &self.detail {
            Detail::Malformed {
                problem: Problem::InvalidUsername,
                ..
            } => ServerErrorValue::InvalidUsernameEncoding,
            Detail::Malformed { .. } | Detail::TooLong { .. } | Detail::MissingData => {
                ServerErrorValue::InvalidEncoding
            }
            Detail::MandatoryExtension { .. } => ServerErrorValue::ExtensionsNotSupported,
            Detail::InvalidProof
            | Detail::UnknownUser
            | Detail::CredentialsUnavailable(_)
            | Detail::CredentialsMismatch { .. } => ServerErrorValue::InvalidProof,
            Detail::ChannelBindingMismatch => ServerErrorValue::ChannelBindingsDontMatch,
            Detail::ChannelBindingDowngrade => ServerErrorValue::ServerDoesSupportChannelBinding,
            Detail::ChannelBindingNotSupported | Detail::ChannelBindingMechanismMismatch => {
                ServerErrorValue::ChannelBindingNotSupported
            }
            Detail::UnsupportedChannelBindingType => {
                ServerErrorValue::UnsupportedChannelBindingType
            }
            Detail::HandshakeTimeout
            | Detail::CredentialsExpired
            | Detail::NonceMismatch
            | Detail::AuthzidNotAllowed
            | Detail::ReauthUserMismatch => ServerErrorValue::OtherError,
            _ => return None,
        })
    }

    /// Which SCRAM message was bad ([`ErrorKind::Malformed`], [`ErrorKind::TooLong`],
    /// [`ErrorKind::MandatoryExtension`]).
    pub fn message_kind(&self) -> Option<MessageKind> {
        match &self.detail {
            Detail::Malformed { message, .. }
            | Detail::TooLong { message, .. }
            | Detail::MandatoryExtension { message } => Some(*message),
            _ => None,
        }
    }

    /// What was wrong with the message ([`ErrorKind::Malformed`]).
    pub fn problem(&self) -> Option<Problem> {
        match &self.detail {
            Detail::Malformed { problem, .. } => Some(*problem),
            _ => None,
        }
    }

    /// The message's length in bytes ([`ErrorKind::TooLong`]).
    pub fn message_len(&self) -> Option<usize> {
        match &self.detail {
            Detail::TooLong { len, .. } => Some(*len),
            _ => None,
        }
    }

    /// The length limit the message broke ([`ErrorKind::TooLong`]).
    pub fn limit(&self) -> Option<usize> {
        match &self.detail {
            Detail::TooLong { max, .. } => Some(*max),
            _ => None,
        }
    }

    /// The reason code the exchange expected ([`ErrorKind::UnexpectedReasonCode`]).
    pub fn expected_reason_code(&self) -> Option<ReasonCode> {
        match &self.detail {
            Detail::UnexpectedReasonCode { expected, .. } => Some(*expected),
            _ => None,
        }
    }

    /// The reason code that arrived instead ([`ErrorKind::UnexpectedReasonCode`]).
    pub fn found_reason_code(&self) -> Option<u8> {
        match &self.detail {
            Detail::UnexpectedReasonCode { found, .. } => Some(*found),
            _ => None,
        }
    }

    /// Why the credential provider could not decide ([`ErrorKind::CredentialsUnavailable`]).
    pub fn ignore_reason(&self) -> Option<&IgnoreReason> {
        match &self.detail {
            Detail::CredentialsUnavailable(reason) => Some(reason),
            _ => None,
        }
    }

    /// The hash the client's mechanism needs ([`ErrorKind::CredentialsMismatch`]).
    pub fn requested_hash(&self) -> Option<HashAlgorithm> {
        match &self.detail {
            Detail::CredentialsMismatch { requested, .. } => Some(*requested),
            _ => None,
        }
    }

    /// The hash of the stored record ([`ErrorKind::CredentialsMismatch`]).
    pub fn stored_hash(&self) -> Option<HashAlgorithm> {
        match &self.detail {
            Detail::CredentialsMismatch { found, .. } => Some(*found),
            _ => None,
        }
    }

    /// The iteration count the server asked for ([`ErrorKind::IterationCountOutOfRange`]).
    pub fn iteration_count(&self) -> Option<u32> {
        match &self.detail {
            Detail::IterationCountOutOfRange { iterations, .. } => Some(*iterations),
            _ => None,
        }
    }

    /// The client's iteration window ([`ErrorKind::IterationCountOutOfRange`]: the allowed
    /// window; [`ErrorKind::InvalidIterationWindow`]: the rejected one).
    pub fn iteration_window(&self) -> Option<RangeInclusive<u32>> {
        match &self.detail {
            Detail::IterationCountOutOfRange { min, max, .. }
            | Detail::InvalidIterationWindow { min, max } => Some(*min..=*max),
            _ => None,
        }
    }

    /// The `e=` value the server ended the exchange with ([`ErrorKind::ServerError`]).
    pub fn received_server_error(&self) -> Option<&ServerErrorValue> {
        match &self.detail {
            Detail::ServerError(value) => Some(value),
            _ => None,
        }
    }

    /// Which input failed SASLprep: `"username"`, `"password"` or `"authzid"`
    /// ([`ErrorKind::Saslprep`]).
    pub fn saslprep_input(&self) -> Option<&'static str> {
        match &self.detail {
            Detail::Saslprep { what, .. } => Some(what),
            _ => None,
        }
    }

    /// Why the input failed SASLprep ([`ErrorKind::Saslprep`]; also the error's `source()`).
    pub fn saslprep_error(&self) -> Option<&SaslprepError> {
        match &self.detail {
            Detail::Saslprep { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.detail, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.detail, f)
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.detail {
            Detail::Saslprep { source, .. } => Some(source),
            _ => None,
        }
    }
}
