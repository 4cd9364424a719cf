//! Every kind round-trips through `kind()` and `Display`.

use alloc::string::ToString;
use alloc::vec;

use super::{Detail, Error, ErrorCategory, ErrorKind};
use crate::mechanism::HashAlgorithm;
use crate::message::{MessageKind, Problem, ServerErrorValue};
use crate::mqtt::ReasonCode;
use crate::provider::IgnoreReason;
use crate::saslprep::SaslprepError;

#[test]
fn every_kind_round_trips_through_kind_and_display() {
    let cases = vec![
        (
            Detail::Malformed {
                message: MessageKind::ClientFirst,
                problem: Problem::InvalidUsername,
            },
            ErrorKind::Malformed,
            "malformed client-first-message: ",
        ),
        (
            Detail::TooLong {
                message: MessageKind::ClientFinal,
                len: 5000,
                max: 4096,
            },
            ErrorKind::TooLong,
            "client-final-message is 5000 bytes, over the limit of 4096",
        ),
        (
            Detail::MandatoryExtension {
                message: MessageKind::ServerFirst,
            },
            ErrorKind::MandatoryExtension,
            "server-first-message carries a mandatory extension (m=), which is not supported",
        ),
        (
            Detail::UnsupportedMechanism,
            ErrorKind::UnsupportedMechanism,
            "authentication method is not supported here",
        ),
        (
            Detail::MethodChanged,
            ErrorKind::MethodChanged,
            "authentication method changed during the exchange",
        ),
        (
            Detail::UnexpectedReasonCode {
                expected: ReasonCode::ContinueAuthentication,
                found: 0x19,
            },
            ErrorKind::UnexpectedReasonCode,
            "reason code 0x19 does not fit here; expected ",
        ),
        (
            Detail::MissingData,
            ErrorKind::MissingData,
            "missing Authentication Data",
        ),
        (
            Detail::InvalidProof,
            ErrorKind::InvalidProof,
            "invalid client proof",
        ),
        (
            Detail::UnknownUser,
            ErrorKind::UnknownUser,
            "unknown user (answered like a wrong password)",
        ),
        (
            Detail::CredentialsUnavailable(IgnoreReason::timeout("db-1 did not answer")),
            ErrorKind::CredentialsUnavailable,
            "credentials unavailable (timeout: db-1 did not answer)",
        ),
        (
            Detail::CredentialsExpired,
            ErrorKind::CredentialsExpired,
            "credentials have expired",
        ),
        (
            Detail::CredentialsMismatch {
                requested: HashAlgorithm::Sha512,
                found: HashAlgorithm::Sha256,
            },
            ErrorKind::CredentialsMismatch,
            "stored credentials are for ",
        ),
        (
            Detail::HandshakeTimeout,
            ErrorKind::HandshakeTimeout,
            "handshake deadline passed",
        ),
        (
            Detail::NonceMismatch,
            ErrorKind::NonceMismatch,
            "nonce does not match the exchange",
        ),
        (
            Detail::ChannelBindingMismatch,
            ErrorKind::ChannelBindingMismatch,
            "channel binding does not match",
        ),
        (
            Detail::ChannelBindingDowngrade,
            ErrorKind::ChannelBindingDowngrade,
            "client used gs2 flag 'y' but the server supports channel binding (possible downgrade)",
        ),
        (
            Detail::ChannelBindingNotSupported,
            ErrorKind::ChannelBindingNotSupported,
            "channel binding is not available on this connection",
        ),
        (
            Detail::UnsupportedChannelBindingType,
            ErrorKind::UnsupportedChannelBindingType,
            "channel binding type is not supported",
        ),
        (
            Detail::ChannelBindingMechanismMismatch,
            ErrorKind::ChannelBindingMechanismMismatch,
            "channel binding flag does not fit the mechanism",
        ),
        (
            Detail::AuthzidNotAllowed,
            ErrorKind::AuthzidNotAllowed,
            "authorization identity not allowed",
        ),
        (
            Detail::ReauthUserMismatch,
            ErrorKind::ReauthUserMismatch,
            "re-authentication must be for the connection's current user",
        ),
        (
            Detail::IterationCountOutOfRange {
                iterations: 100,
                min: 4096,
                max: 600_000,
            },
            ErrorKind::IterationCountOutOfRange,
            "server asked for 100 iterations, outside the allowed 4096..=600000",
        ),
        (
            Detail::ServerError(ServerErrorValue::InvalidProof),
            ErrorKind::ServerError,
            "server rejected the authentication: invalid-proof",
        ),
        (
            Detail::InvalidServerSignature,
            ErrorKind::InvalidServerSignature,
            "server signature does not verify",
        ),
        (
            Detail::Saslprep {
                what: "username",
                source: SaslprepError::Bidi,
            },
            ErrorKind::Saslprep,
            "username failed SASLprep: invalid bidirectional text (RFC 3454 section 6)",
        ),
        (
            Detail::EmptyUsername,
            ErrorKind::EmptyUsername,
            "username is empty",
        ),
        (
            Detail::InvalidIterationWindow { min: 0, max: 10 },
            ErrorKind::InvalidIterationWindow,
            "iteration_window: 0..=10 must be a non-empty range starting at 1 or more",
        ),
    ];
    let mut kinds = vec![];
    for (detail, kind, display) in cases {
        let shown = detail.to_string();
        let error = Error::from(detail);
        assert_eq!(error.kind(), kind);
        assert_eq!(error.category(), kind.category());
        assert_eq!(error.reason_code(), kind.reason_code());
        assert!(
            error.to_string().starts_with(display),
            "{kind:?}: {error} does not start with {display}"
        );
        assert_eq!(error.to_string(), shown, "Display is the detail's");
        assert!(!kinds.contains(&kind), "{kind:?} twice");
        kinds.push(kind);
    }
    assert_eq!(kinds.len(), 27, "one case per kind");
}

#[test]
fn accessors_give_the_details() {
    let too_long = Error::from(Detail::TooLong {
        message: MessageKind::ClientFirst,
        len: 5000,
        max: 4096,
    });
    assert_eq!(too_long.message_kind(), Some(MessageKind::ClientFirst));
    assert_eq!(too_long.message_len(), Some(5000));
    assert_eq!(too_long.limit(), Some(4096));
    assert_eq!(too_long.iteration_count(), None);
    assert_eq!(
        too_long.server_error(),
        Some(ServerErrorValue::InvalidEncoding)
    );

    let malformed = Error::from(Detail::Malformed {
        message: MessageKind::ClientFirst,
        problem: Problem::InvalidUsername,
    });
    assert_eq!(malformed.problem(), Some(Problem::InvalidUsername));
    assert_eq!(
        malformed.server_error(),
        Some(ServerErrorValue::InvalidUsernameEncoding)
    );
    assert_eq!(malformed.category(), ErrorCategory::Malformed);

    let window = Error::from(Detail::IterationCountOutOfRange {
        iterations: 100,
        min: 4096,
        max: 600_000,
    });
    assert_eq!(window.iteration_count(), Some(100));
    assert_eq!(window.iteration_window(), Some(4096..=600_000));
    assert_eq!(window.server_error(), None);

    let code = Error::from(Detail::UnexpectedReasonCode {
        expected: ReasonCode::ContinueAuthentication,
        found: 0x19,
    });
    assert_eq!(
        code.expected_reason_code(),
        Some(ReasonCode::ContinueAuthentication)
    );
    assert_eq!(code.found_reason_code(), Some(0x19));
    assert_eq!(code.reason_code(), ReasonCode::ProtocolError);

    let mismatch = Error::from(Detail::CredentialsMismatch {
        requested: HashAlgorithm::Sha512,
        found: HashAlgorithm::Sha256,
    });
    assert_eq!(mismatch.requested_hash(), Some(HashAlgorithm::Sha512));
    assert_eq!(mismatch.stored_hash(), Some(HashAlgorithm::Sha256));
    assert_eq!(
        mismatch.server_error(),
        Some(ServerErrorValue::InvalidProof)
    );

    let unavailable = Error::from(Detail::CredentialsUnavailable(IgnoreReason::timeout("x")));
    assert_eq!(
        unavailable.ignore_reason().map(IgnoreReason::to_string),
        Some("timeout: x".to_string())
    );

    let server = Error::from(Detail::ServerError(ServerErrorValue::OtherError));
    assert_eq!(
        server.received_server_error(),
        Some(&ServerErrorValue::OtherError)
    );

    let prep = Error::from(Detail::Saslprep {
        what: "password",
        source: SaslprepError::Bidi,
    });
    assert_eq!(prep.saslprep_input(), Some("password"));
    assert_eq!(prep.saslprep_error(), Some(&SaslprepError::Bidi));
    let source = core::error::Error::source(&prep).map(ToString::to_string);
    assert_eq!(source, Some(SaslprepError::Bidi.to_string()));
    assert!(core::error::Error::source(&too_long).is_none());
}

#[test]
fn debug_shows_the_detail() {
    let error = Error::from(Detail::NonceMismatch);
    assert_eq!(alloc::format!("{error:?}"), "NonceMismatch");
}
