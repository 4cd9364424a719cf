//! Errors, grouped by cause, each mapped to one MQTT reason code and, where the
//! server should tell the client, one RFC 5802 `e=` value.
//!
//! No error carries a password, key, proof or signature, so every error can be logged.

use crate::message::{MessageKind, Problem, ServerErrorValue};
use crate::mqtt::ReasonCode;
use crate::provider::IgnoreReason;
use crate::saslprep::SaslprepError;

/// What kind of party caused an [`Error`].
///
/// ```
/// use mqtt_scram::{Error, ErrorCategory};
/// assert_eq!(Error::InvalidProof.category(), ErrorCategory::Authentication);
/// assert_eq!(Error::MissingData.category(), ErrorCategory::Malformed);
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

/// Every way an exchange or a credential operation can fail.
///
/// ```
/// use mqtt_scram::{Error, ReasonCode, message::ServerErrorValue};
/// // An unknown user is answered exactly like a wrong password.
/// for error in [Error::InvalidProof, Error::UnknownUser] {
///     assert_eq!(error.reason_code(), ReasonCode::NotAuthorized);
///     assert_eq!(error.server_error(), Some(ServerErrorValue::InvalidProof));
/// }
/// assert_eq!(Error::UnsupportedMechanism.reason_code(), ReasonCode::BadAuthenticationMethod);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A SCRAM message does not follow RFC 5802 §7.
    #[error("malformed {message}: {problem}")]
    Malformed {
        /// Which message.
        message: MessageKind,
        /// What was wrong with it.
        problem: Problem,
    },
    /// A SCRAM message is larger than the configured limit.
    #[error("{message} is {len} bytes, over the limit of {max}")]
    TooLong {
        /// Which message.
        message: MessageKind,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The message carries a mandatory extension (`m=`), which no SCRAM version defines.
    #[error("{message} carries a mandatory extension (m=), which is not supported")]
    MandatoryExtension {
        /// Which message.
        message: MessageKind,
    },
    /// The Authentication Method is not one this side accepts.
    #[error("authentication method is not supported here")]
    UnsupportedMechanism,
    /// The Authentication Method changed in the middle of an exchange or a re-authentication.
    #[error("authentication method changed during the exchange")]
    MethodChanged,
    /// A packet's reason code does not fit the exchange's state.
    #[error("reason code 0x{found:02X} does not fit here; expected {expected}")]
    UnexpectedReasonCode {
        /// What the state machine expected.
        expected: ReasonCode,
        /// What arrived.
        found: u8,
    },
    /// A packet that must carry Authentication Data arrived without it.
    #[error("missing Authentication Data")]
    MissingData,
    /// The client proof did not verify. Unknown users end here too, so the two look the same.
    #[error("invalid client proof")]
    InvalidProof,
    /// The user does not exist (only visible locally; the peer sees [`Error::InvalidProof`]).
    #[error("unknown user (answered like a wrong password)")]
    UnknownUser,
    /// The credential provider could not decide (down, timeout, bad answer, record outside
    /// the [`RecordPolicy`](crate::RecordPolicy)); the peer sees the same as for an unknown
    /// user, the operator sees the provider's reason.
    #[error("credentials unavailable ({0})")]
    CredentialsUnavailable(IgnoreReason),
    /// The proof was right but the provider's record has expired (`expire_at`). Only a
    /// client that knows the password can reach this.
    #[error("credentials have expired")]
    CredentialsExpired,
    /// The provider's record does not fit the mechanism (e.g. SHA-256 keys for SCRAM-SHA-512).
    #[error("stored credentials are for {found}, the client asked for {requested}")]
    CredentialsMismatch {
        /// Hash the client's mechanism needs.
        requested: crate::HashAlgorithm,
        /// Hash of the stored record.
        found: crate::HashAlgorithm,
    },
    /// The client-final arrived after the handshake deadline.
    #[error("handshake deadline passed")]
    HandshakeTimeout,
    /// The nonce in a later message does not continue the exchange's nonce.
    #[error("nonce does not match the exchange")]
    NonceMismatch,
    /// `c=` does not equal the gs2 header plus the connection's channel-binding data.
    #[error("channel binding does not match")]
    ChannelBindingMismatch,
    /// The client said it supports channel binding but thinks the server does not (`y`),
    /// while this server offers it: a possible downgrade attack (RFC 5802 §6).
    #[error(
        "client used gs2 flag 'y' but the server supports channel binding (possible downgrade)"
    )]
    ChannelBindingDowngrade,
    /// The client asked for channel binding the connection cannot provide.
    #[error("channel binding is not available on this connection")]
    ChannelBindingNotSupported,
    /// The client asked for a channel-binding type other than the connection's.
    #[error("channel binding type is not supported")]
    UnsupportedChannelBindingType,
    /// A -PLUS mechanism was used without channel binding, or binding without -PLUS.
    #[error("channel binding flag does not fit the mechanism")]
    ChannelBindingMechanismMismatch,
    /// The client sent an authorization identity (`a=`) this server does not accept.
    #[error("authorization identity not allowed")]
    AuthzidNotAllowed,
    /// A re-authentication named a different user than the connection's.
    #[error("re-authentication must be for the connection's current user")]
    ReauthUserMismatch,
    /// The server's iteration count is outside the client's window.
    #[error("server asked for {iterations} iterations, outside the allowed {min}..={max}")]
    IterationCountOutOfRange {
        /// Count the server asked for.
        iterations: u32,
        /// Window minimum.
        min: u32,
        /// Window maximum.
        max: u32,
    },
    /// The server ended the exchange with `e=`.
    #[error("server rejected the authentication: {0}")]
    ServerError(ServerErrorValue),
    /// The server's signature (`v=`) is wrong: the server does not know the credentials.
    #[error("server signature does not verify")]
    InvalidServerSignature,
    /// A username or password failed SASLprep.
    #[error("{what} failed SASLprep: {source}")]
    Saslprep {
        /// `"username"`, `"password"` or `"authzid"`.
        what: &'static str,
        /// Why.
        source: SaslprepError,
    },
    /// A username is empty (after preparation).
    #[error("username is empty")]
    EmptyUsername,
    /// The client's iteration window is empty or starts at zero (see
    /// [`ClientConfig::try_iteration_window`](crate::client::ClientConfig::try_iteration_window)).
    #[error("iteration_window: {min}..={max} must be a non-empty range starting at 1 or more")]
    InvalidIterationWindow {
        /// The window's first count.
        min: u32,
        /// The window's last count.
        max: u32,
    },
}

impl Error {
    /// Which party caused the error.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Malformed { .. }
            | Self::TooLong { .. }
            | Self::MandatoryExtension { .. }
            | Self::MissingData => ErrorCategory::Malformed,
            Self::UnsupportedMechanism
            | Self::MethodChanged
            | Self::UnexpectedReasonCode { .. } => ErrorCategory::Protocol,
            Self::Saslprep { .. } | Self::EmptyUsername | Self::InvalidIterationWindow { .. } => {
                ErrorCategory::Local
            }
            _ => ErrorCategory::Authentication,
        }
    }

    /// The MQTT reason code that reports this error to the peer.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::UnsupportedMechanism | Self::MethodChanged => ReasonCode::BadAuthenticationMethod,
            Self::UnexpectedReasonCode { .. } => ReasonCode::ProtocolError,
            _ => ReasonCode::NotAuthorized,
        }
    }

    /// The RFC 5802 `e=` value a server sends for this error, if any.
    ///
    /// Unknown users, unavailable and mismatched credentials map to `invalid-proof`,
    /// exactly like a wrong password, so the peer cannot enumerate users.
    pub fn server_error(&self) -> Option<ServerErrorValue> {
        Some(match self {
            Self::Malformed {
                problem: Problem::InvalidUsername,
                ..
            } => ServerErrorValue::InvalidUsernameEncoding,
            Self::Malformed { .. } | Self::TooLong { .. } | Self::MissingData => {
                ServerErrorValue::InvalidEncoding
            }
            Self::MandatoryExtension { .. } => ServerErrorValue::ExtensionsNotSupported,
            Self::InvalidProof
            | Self::UnknownUser
            | Self::CredentialsUnavailable(_)
            | Self::CredentialsMismatch { .. } => ServerErrorValue::InvalidProof,
            Self::ChannelBindingMismatch => ServerErrorValue::ChannelBindingsDontMatch,
            Self::ChannelBindingDowngrade => ServerErrorValue::ServerDoesSupportChannelBinding,
            Self::ChannelBindingNotSupported | Self::ChannelBindingMechanismMismatch => {
                ServerErrorValue::ChannelBindingNotSupported
            }
            Self::UnsupportedChannelBindingType => ServerErrorValue::UnsupportedChannelBindingType,
            Self::HandshakeTimeout
            | Self::CredentialsExpired
            | Self::NonceMismatch
            | Self::AuthzidNotAllowed
            | Self::ReauthUserMismatch => ServerErrorValue::OtherError,
            _ => return None,
        })
    }
}
