//! The end of an exchange: [`ServerChallenge`] (server-first-message sent, waiting for
//! the client-final-message) and its `finish`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::outcome::{Identity, Outcome};
use super::pending::{NeedCredentials, Username};
use crate::connection::ConnectionInfo;
use crate::crypto::{self, Key, PublicDigest};
use crate::error::{Detail, Error};
use crate::mechanism::Mechanism;
use crate::message::{ClientFinal, encoded_len, push_base64};
use crate::mqtt::{ReasonCode, Reply};
use crate::provider::UserRecord;
use crate::time::Timestamp;

/// State after the server-first-message was sent: waiting for the client-final-message.
///
/// It holds the exchange's transcript (inline for typical message sizes), the record in
/// use (the provider's, shared, or the server's mock record) and why the exchange must
/// fail whatever the proof, if it must: under 400 bytes and no heap for an RFC 7677-sized
/// exchange, however long the client takes.
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::{ConnectionInfo, ErrorKind, Outcome, ScramServer, ServerConfig, StartPacket, Timestamp};
/// use mqtt_scram::provider::Lookup;
/// let server = ScramServer::new(ServerConfig::new([1; 32]))?;
/// let conn = Arc::new(ConnectionInfo::new("client-1"));
/// let now = Timestamp::new(Default::default(), 0);
/// let start = StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(b"n,,n=alice,r=abcdefgh") };
/// let pending = server.start(&conn, start, now).expect("valid");
/// let (challenge, _auth) = pending.continue_with(Lookup::NotFound, &mut rand::rng());
/// let late = now.advanced(challenge.deadline() + std::time::Duration::from_secs(1));
/// match challenge.finish(0x18, "SCRAM-SHA-256", Some(b"c=biws,r=x,p=AAAA"), late) {
///     Outcome::Rejected(rejection) => assert_eq!(rejection.error.kind(), ErrorKind::HandshakeTimeout),
///     Outcome::Accepted { .. } => unreachable!(),
/// }
/// # Ok::<(), mqtt_scram::ConfigError>(())
/// ```
pub struct ServerChallenge {
    /// The exchange so far; its `nonce` is now the combined nonce.
    pub(super) pending: NeedCredentials,
    /// The provider's record, or the server's mock record when it cannot be used.
    pub(super) record: Arc<UserRecord>,
    /// Whether `record` is the provider's, and the error a failed exchange reports.
    pub(super) verdict: Verdict,
}

/// Whether the record is the provider's, and otherwise why the mock record is in use (the
/// exchange then fails whatever the proof). Decided once, when the record is chosen, so
/// that `finish` runs the same instructions for a known and an unknown user.
///
/// 16 bytes where the [`Error`] it stands for takes 48: it is kept for every waiting
/// handshake. Only the rare reasons (a provider failure, an unusable record) carry a full
/// error, boxed.
#[derive(Debug)]
pub(super) enum Verdict {
    /// The provider's record: a failed proof is `InvalidProof` (a wrong password).
    Provider,
    /// The mock record, for an unknown user: `UnknownUser`.
    UnknownUser,
    /// The mock record, because the provider failed or its record is unusable.
    Unusable(Box<Error>),
}

impl Verdict {
    /// Whether the record is the provider's.
    #[inline(always)]
    pub(super) fn is_provider(&self) -> bool {
        matches!(self, Self::Provider)
    }

    /// The error a failed exchange reports.
    pub(super) fn into_failure(self) -> Error {
        match self {
            Self::Provider => Detail::InvalidProof.into(),
            Self::UnknownUser => Detail::UnknownUser.into(),
            Self::Unusable(error) => *error,
        }
    }
}

impl fmt::Debug for ServerChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerChallenge")
            .field("mechanism", &self.pending.mechanism)
            .field("username", &self.pending.username())
            .field("deadline", &self.pending.deadline)
            .finish_non_exhaustive()
    }
}

impl ServerChallenge {
    /// When the exchange expires, on the caller's monotonic clock; arm a timer for it.
    pub fn deadline(&self) -> Duration {
        self.pending.deadline
    }

    /// When the exchange started: the monotonic time given to
    /// [`ScramServer::start`](crate::ScramServer::start) (the deadline less the configured
    /// handshake timeout), e.g. for a handshake-latency figure without keeping it twice.
    pub fn started(&self) -> Duration {
        self.pending
            .deadline
            .saturating_sub(self.pending.shared.config.handshake_timeout)
    }

    /// The mechanism in use.
    pub fn mechanism(&self) -> Mechanism {
        self.pending.mechanism
    }

    /// The username the client claimed (SASLprep'd).
    pub fn username(&self) -> &str {
        self.pending.username()
    }

    /// The connection the exchange runs on (the one given to
    /// [`ScramServer::start`](crate::ScramServer::start)), so that a caller keeping the
    /// challenge need not keep a second handle to it.
    pub fn connection(&self) -> &Arc<ConnectionInfo> {
        &self.pending.connection
    }

    /// Finishes with the client's AUTH packet (reason code, method, data) at `now`.
    ///
    /// Fails after the deadline, and when the provider's record has expired at
    /// `now.unix_seconds()` ([`ErrorKind::CredentialsExpired`](crate::ErrorKind::CredentialsExpired)) — after the same work as any
    /// other failure. Allocates only what the result owns: the reply's bytes, and on
    /// success the [`Identity`]'s username when it was read from the transcript.
    #[inline]
    pub fn finish(
        self,
        reason_code: u8,
        method: &str,
        data: Option<&[u8]>,
        now: Timestamp,
    ) -> Outcome {
        let (trigger, mechanism) = (self.pending.trigger, self.pending.mechanism);
        let reject = move |error| Outcome::Rejected(trigger.reject(Some(mechanism), error));
        let last = match check_final(&self.pending, reason_code, method, data, now) {
            Ok(last) => last,
            Err(error) => return reject(error),
        };
        // The same computation for every record: the provider's or the mock's, and no
        // branch on which it is before the outcome (see `NeedCredentials::challenge`).
        let (proof_ok, server_signature) = prove(&self.pending, &self.record, &last);
        let expired = self.record.attributes.is_expired_at(now.unix_seconds());
        let usable = self.verdict.is_provider();
        if usable & proof_ok & !expired {
            return self.accept(&server_signature);
        }
        // Only a client that knows the password can learn that its record has expired.
        let expired_only = usable & proof_ok;
        let error = if expired_only {
            Detail::CredentialsExpired.into()
        } else {
            self.verdict.into_failure()
        };
        Outcome::Rejected(trigger.reject_after_proof(mechanism, error, expired_only))
    }

    /// The success: server-final-message `v=` base64(ServerSignature) in one allocation,
    /// and the identity.
    fn accept(mut self, server_signature: &PublicDigest) -> Outcome {
        let p = &mut self.pending;
        let (trigger, mechanism) = (p.trigger, p.mechanism);
        let username = match &mut p.username {
            Username::Prepared(name) => String::from(core::mem::take(name)),
            Username::Wire(span) => match p.transcript.get(*span).map(core::str::from_utf8) {
                Some(Ok(name)) => String::from(name),
                // Unreachable (`start` keeps the username's span in the transcript): fail
                // closed.
                _ => {
                    return Outcome::Rejected(
                        trigger.reject(Some(mechanism), Detail::UnknownUser.into()),
                    );
                }
            },
        };
        let mut data = Vec::with_capacity(2 + encoded_len(server_signature.as_bytes().len()));
        data.extend_from_slice(b"v=");
        push_base64(&mut data, server_signature.as_bytes());
        let (packet, reason_code) = trigger.success();
        Outcome::Accepted {
            reply: Reply {
                packet,
                reason_code,
                method: Some(mechanism),
                data: Some(data),
            },
            identity: Identity::new(username, mechanism, Arc::clone(&self.record.attributes))
                .with_authzid(p.authzid.take().map(String::from)),
        }
    }
}

/// What `finish` needs of a checked client-final-message.
struct Final<'a> {
    /// client-final-message-without-proof (the end of the AuthMessage).
    without_proof: &'a [u8],
    proof: Key,
}

/// Everything about the client-final-message but the proof: reason code, method,
/// deadline, syntax, channel binding and nonce (RFC 5802 §5.1, §6).
fn check_final<'a>(
    p: &NeedCredentials,
    reason_code: u8,
    method: &str,
    data: Option<&'a [u8]>,
    now: Timestamp,
) -> Result<Final<'a>, Error> {
    if method != p.mechanism.name() {
        return Err(Detail::MethodChanged.into());
    }
    if reason_code != ReasonCode::ContinueAuthentication.to_u8() {
        return Err(Detail::UnexpectedReasonCode {
            expected: ReasonCode::ContinueAuthentication,
            found: reason_code,
        }
        .into());
    }
    if now.monotonic() > p.deadline {
        return Err(Detail::HandshakeTimeout.into());
    }
    let hash = p.mechanism.hash();
    let data = data.ok_or(Detail::MissingData)?;
    let max_len = p.shared.config.max_message_len;
    let cbind_data = match (p.mechanism.is_plus(), &p.connection.channel_binding) {
        (true, Some(binding)) => binding.data(),
        _ => &[],
    };
    // `c=` must be the gs2 header followed by the connection's binding data. (The gs2
    // span always exists: `start` wrote it first; were it missing, nothing would match.)
    let gs2_header = p.transcript.get(p.gs2);
    let expected_nonce = p.transcript.get(p.nonce);
    // What a correct client sends, checked in one pass; anything else in full below.
    if let (Some(gs2_header), Some(expected_nonce)) = (gs2_header, expected_nonce) {
        let fast = ClientFinal::parse_expected(
            data,
            gs2_header,
            cbind_data,
            expected_nonce,
            hash.output_len(),
            max_len,
        );
        if let Some((without_proof, proof)) = fast {
            return Ok(Final {
                without_proof,
                proof,
            });
        }
    }
    let last = ClientFinal::parse(data, hash.output_len(), max_len)?;
    let Some(gs2_header) = gs2_header else {
        return Err(Detail::ChannelBindingMismatch.into());
    };
    if !last.channel_binding_is(gs2_header, cbind_data) {
        return Err(Detail::ChannelBindingMismatch.into());
    }
    if expected_nonce != Some(last.nonce().as_bytes()) {
        return Err(Detail::NonceMismatch.into());
    }
    let (without_proof, proof) = last.into_parts();
    Ok(Final {
        without_proof: without_proof.as_bytes(),
        proof,
    })
}

/// Verifies the proof against `record`; returns whether it holds and the
/// ServerSignature (computed on failures too, so they take as long).
fn prove(p: &NeedCredentials, record: &UserRecord, last: &Final<'_>) -> (bool, PublicDigest) {
    let credentials = &record.credentials;
    // AuthMessage = client-first-bare "," server-first "," client-final-without-proof;
    // the transcript after the gs2 header holds all of it but the last part. (It always
    // exists, `check_final` read the gs2 header; were it missing, no proof would verify.)
    let prefix = match p.transcript.as_bytes().split_at_checked(p.gs2.len()) {
        Some((_, prefix)) => prefix,
        None => b"<no transcript>",
    };
    let auth_message: [&[u8]; 2] = [prefix, last.without_proof];
    // Both signatures from the record's precomputed HMAC states, their compressions
    // interleaved; the same work whatever the proof.
    crypto::verify_proof(
        credentials.stored_mac(),
        credentials.server_mac(),
        credentials.stored_key(),
        &last.proof,
        &auth_message,
    )
}
