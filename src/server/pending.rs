//! The middle and end of an exchange: [`NeedCredentials`] (waiting for the provider) and
//! [`ServerChallenge`] (server-first-message sent, waiting for the client-final-message).

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::CryptoRng;

use super::config::ServerConfig;
use super::outcome::{Identity, Outcome, Trigger};
use crate::connection::ConnectionInfo;
use crate::credentials::DEFAULT_SALT_LEN;
use crate::crypto::{self, Key};
use crate::error::Error;
use crate::mechanism::{HashAlgorithm, Mechanism};
use crate::message::ClientFinal;
use crate::mqtt::{PacketType, ReasonCode, Reply};
use crate::provider::{Lookup, LookupRequest, UserAttributes, UserRecord};
use crate::time::Timestamp;

/// A range of the transcript in 8 bytes (messages are far below 4 GiB: MQTT packets
/// end at 256 MiB, and `start` rejects anything longer than `u32::MAX / 2`).
#[derive(Clone, Copy)]
pub(super) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    pub(super) fn new(start: usize, len: usize) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            start: clamp(start),
            len: clamp(len),
        }
    }

    fn range(self) -> core::ops::Range<usize> {
        let start = self.start as usize;
        start..start.saturating_add(self.len as usize)
    }

    pub(super) fn len(self) -> usize {
        self.len as usize
    }
}

/// State after the client's first message: the caller must look up credentials for
/// [`NeedCredentials::request`] and pass the answer to [`NeedCredentials::continue_with`].
pub struct NeedCredentials {
    pub(super) config: Arc<ServerConfig>,
    pub(super) connection: Arc<ConnectionInfo>,
    pub(super) trigger: Trigger,
    pub(super) mechanism: Mechanism,
    pub(super) username: String,
    pub(super) authzid: Option<String>,
    /// The exchange's messages in one buffer: gs2-header ‖ client-first-message-bare, and
    /// after `continue_with` also `,` ‖ server-first-message ‖ `,`; the bytes from the
    /// end of the gs2 header on are then the AuthMessage up to client-final-without-proof.
    pub(super) transcript: Vec<u8>,
    /// Length of the gs2 header at the start of `transcript`.
    pub(super) gs2_len: u32,
    /// Where the client nonce is in `transcript`.
    pub(super) client_nonce: Span,
    pub(super) deadline: Duration,
}

impl fmt::Debug for NeedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeedCredentials")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl NeedCredentials {
    /// What to look up.
    pub fn request(&self) -> LookupRequest<'_> {
        LookupRequest::new(self.mechanism, &self.username, &self.connection)
            .with_authzid(self.authzid.as_deref())
    }

    /// When the exchange expires, on the caller's monotonic clock.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The mechanism the client chose.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Continues with the provider's answer: returns the challenge state and the
    /// AUTH 0x18 (server-first-message) to send.
    ///
    /// Unknown users, unusable records (wrong hash, outside the
    /// [`RecordPolicy`](crate::RecordPolicy)) and [`Lookup::Ignore`] get a mock challenge
    /// whose salt is keyed on the username, so they look like real users until the
    /// proof fails.
    pub fn continue_with<R: CryptoRng + ?Sized>(
        self,
        lookup: Lookup,
        rng: &mut R,
    ) -> (ServerChallenge, Reply) {
        let mut raw = [0u8; super::config::MAX_NONCE_LEN];
        let raw = raw.get_mut(..self.config.nonce_len).unwrap_or_default();
        rng.fill_bytes(raw);
        // Base64 of at most 96 bytes is 128 characters: encoded on the stack.
        let mut encoded = [0u8; 128];
        let len = STANDARD.encode_slice(raw, &mut encoded).unwrap_or(0);
        let nonce =
            core::str::from_utf8(encoded.get(..len).unwrap_or_default()).unwrap_or_default();
        self.continue_with_nonce(lookup, nonce)
    }

    pub(crate) fn continue_with_nonce(
        mut self,
        lookup: Lookup,
        server_nonce: &str,
    ) -> (ServerChallenge, Reply) {
        let hash = self.mechanism.hash();
        let (record, failure) = match lookup {
            Lookup::Found(record) if record.credentials.hash() != hash => {
                let found = record.credentials.hash();
                (
                    None,
                    Some(Error::CredentialsMismatch {
                        requested: hash,
                        found,
                    }),
                )
            }
            Lookup::Found(record) => match self.config.record_policy.check(&record.credentials) {
                Ok(()) => (Some(record), None),
                Err(reason) => (None, Some(Error::CredentialsUnavailable(reason))),
            },
            Lookup::NotFound => (None, Some(Error::UnknownUser)),
            Lookup::Ignore(reason) => (None, Some(Error::CredentialsUnavailable(reason))),
        };
        // Computed for real users too, so that an unknown user costs exactly what a known
        // one does: the only difference left is which salt and keys are used.
        let mock_salt = self.mock_salt();
        let (salt, iterations) = match &record {
            Some(r) => (r.credentials.salt(), r.credentials.iterations()),
            None => (
                mock_salt
                    .as_bytes()
                    .get(..DEFAULT_SALT_LEN)
                    .unwrap_or_default(),
                self.config.mock_iterations,
            ),
        };
        let server_first = self.write_server_first(server_nonce, salt, iterations);
        let nonce = Span::new(
            server_first.start + 2,
            self.client_nonce.len() + server_nonce.len(),
        );
        let reply = Reply {
            packet: PacketType::Auth,
            reason_code: ReasonCode::ContinueAuthentication,
            method: Some(self.mechanism),
            data: Some(
                self.transcript
                    .get(server_first)
                    .unwrap_or_default()
                    .to_vec(),
            ),
        };
        let challenge = ServerChallenge {
            pending: self,
            nonce,
            record,
            failure,
        };
        (challenge, reply)
    }

    /// Appends `,` ‖ server-first-message ‖ `,` to the transcript (RFC 5802 §7:
    /// `r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>`) and returns where
    /// the message is.
    fn write_server_first(
        &mut self,
        server_nonce: &str,
        salt: &[u8],
        iterations: u32,
    ) -> core::ops::Range<usize> {
        let t = &mut self.transcript;
        let salt_len = base64::encoded_len(salt.len(), true).unwrap_or(0);
        t.reserve_exact(
            2 + 2 + self.client_nonce.len() + server_nonce.len() + 3 + salt_len + 3 + 10,
        );
        t.push(b',');
        let start = t.len();
        t.extend_from_slice(b"r=");
        t.extend_from_within(self.client_nonce.range());
        t.extend_from_slice(server_nonce.as_bytes());
        t.extend_from_slice(b",s=");
        let at = t.len();
        t.resize(at + salt_len, 0);
        let written = t
            .get_mut(at..)
            .and_then(|out| STANDARD.encode_slice(salt, out).ok())
            .unwrap_or(0);
        t.truncate(at + written);
        t.extend_from_slice(b",i=");
        let mut digits = [0u8; 10];
        let mut n = iterations;
        let mut first = digits.len();
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
            first -= 1;
            if n == 0 {
                break;
            }
        }
        t.extend_from_slice(digits.get(first..).unwrap_or_default());
        let end = t.len();
        t.push(b',');
        start..end
    }

    /// Salt for a user that does not exist: HMAC(mock_key, tag ‖ hash ‖ 0 ‖ username),
    /// truncated by the caller to the length of generated salts.
    fn mock_salt(&self) -> Key {
        let hash = self.mechanism.hash();
        let key = match hash {
            HashAlgorithm::Sha256 => &self.config.mock_macs.0,
            HashAlgorithm::Sha512 => &self.config.mock_macs.1,
        };
        key.mac(&[
            b"mqtt-scram mock salt\0",
            hash.short_name().as_bytes(),
            b"\0",
            self.username.as_bytes(),
        ])
    }
}

/// The all-zero StoredKey and ServerKey of a mock user: no proof can verify against a
/// StoredKey of zero (that needs a SHA-2 preimage), and `finish` runs the same proof
/// computation on them as on real keys.
const MOCK_KEY: [u8; crypto::MAX_OUTPUT_LEN] = [0; crypto::MAX_OUTPUT_LEN];

/// State after the server-first-message was sent: waiting for the client-final-message.
pub struct ServerChallenge {
    pending: NeedCredentials,
    /// Where the combined nonce is in the transcript.
    nonce: Span,
    /// The provider's record, when it is usable; `None` for a mock challenge.
    record: Option<Arc<UserRecord>>,
    /// Why the exchange must fail whatever the proof (unknown user, provider failure, ...).
    failure: Option<Error>,
}

impl fmt::Debug for ServerChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerChallenge")
            .field("mechanism", &self.pending.mechanism)
            .field("username", &self.pending.username)
            .field("deadline", &self.pending.deadline)
            .finish_non_exhaustive()
    }
}

impl ServerChallenge {
    /// When the exchange expires, on the caller's monotonic clock; arm a timer for it.
    pub fn deadline(&self) -> Duration {
        self.pending.deadline
    }

    /// The mechanism in use.
    pub fn mechanism(&self) -> Mechanism {
        self.pending.mechanism
    }

    /// The username the client claimed (SASLprep'd).
    pub fn username(&self) -> &str {
        &self.pending.username
    }

    /// Finishes with the client's AUTH packet (reason code, method, data) at `now`.
    ///
    /// Fails after the deadline, and when the provider's record has expired at
    /// `now.unix_seconds()` ([`Error::CredentialsExpired`]) — after the same work as any
    /// other failure.
    pub fn finish(
        self,
        reason_code: u8,
        method: &str,
        data: Option<&[u8]>,
        now: Timestamp,
    ) -> Outcome {
        let verified = self.verify(reason_code, method, data, now);
        let ServerChallenge {
            pending,
            record,
            failure,
            ..
        } = self;
        let attributes = record.map(|r| Arc::clone(&r.attributes));
        match (verified, failure, attributes) {
            (Ok(reply), None, Some(attributes)) => Outcome::Accepted {
                reply,
                identity: Identity::new(pending.username, pending.mechanism, attributes)
                    .with_authzid(pending.authzid),
            },
            (Err(error), _, _) | (Ok(_), Some(error), _) => {
                Outcome::Rejected(pending.trigger.reject(Some(pending.mechanism), error))
            }
            (Ok(_), None, None) => Outcome::Rejected(
                pending
                    .trigger
                    .reject(Some(pending.mechanism), Error::UnknownUser),
            ),
        }
    }

    fn keys(&self) -> (&[u8], &[u8]) {
        let len = self.pending.mechanism.hash().output_len();
        match &self.record {
            Some(r) => (
                r.credentials.stored_key().as_bytes(),
                r.credentials.server_key().as_bytes(),
            ),
            None => {
                let zero = MOCK_KEY.get(..len).unwrap_or(&MOCK_KEY);
                (zero, zero)
            }
        }
    }

    fn attributes(&self) -> Option<&UserAttributes> {
        self.record.as_deref().map(|r| &*r.attributes)
    }

    /// Checks the client-final-message; on success returns the reply carrying `v=`.
    fn verify(
        &self,
        reason_code: u8,
        method: &str,
        data: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<Reply, Error> {
        let p = &self.pending;
        if method != p.mechanism.name() {
            return Err(Error::MethodChanged);
        }
        if reason_code != ReasonCode::ContinueAuthentication.to_u8() {
            return Err(Error::UnexpectedReasonCode {
                expected: ReasonCode::ContinueAuthentication,
                found: reason_code,
            });
        }
        if now.monotonic() > p.deadline {
            return Err(Error::HandshakeTimeout);
        }
        let hash = p.mechanism.hash();
        let data = data.ok_or(Error::MissingData)?;
        let last = ClientFinal::parse(data, hash.output_len(), p.config.max_message_len)?;
        let cbind_data = match (p.mechanism.is_plus(), &p.connection.channel_binding) {
            (true, Some(binding)) => binding.data(),
            _ => &[],
        };
        let (gs2_header, auth_prefix) = p
            .transcript
            .split_at_checked(p.gs2_len as usize)
            .unwrap_or_default();
        let expected_len = gs2_header.len() + cbind_data.len();
        let cb = last.channel_binding();
        let cb_ok = cb.len() == expected_len
            && cb.get(..gs2_header.len()) == Some(gs2_header)
            && crypto::ct_eq(cb.get(gs2_header.len()..).unwrap_or_default(), cbind_data);
        if !cb_ok {
            return Err(Error::ChannelBindingMismatch);
        }
        if p.transcript.get(self.nonce.range()) != Some(last.nonce().as_bytes()) {
            return Err(Error::NonceMismatch);
        }
        // AuthMessage = client-first-bare "," server-first "," client-final-without-proof;
        // the transcript after the gs2 header holds all of it but the last part.
        let auth_message: [&[u8]; 2] = [auth_prefix, last.without_proof().as_bytes()];
        let (stored_key, server_key) = self.keys();
        // Both signatures at once (interleaved compressions are cheaper than two in a
        // row); ServerSignature is computed on failures too, so they take as long.
        let (client_signature, server_signature) =
            crypto::hmac_pair(hash, stored_key, server_key, &auth_message);
        let client_key = crypto::xor(last.proof(), &client_signature);
        let proof_ok = crypto::stored_key(hash, &client_key).ct_eq_bytes(stored_key);
        let expired = self
            .attributes()
            .is_some_and(|a| a.is_expired_at(now.unix_seconds()));
        match (&self.failure, proof_ok, expired) {
            (Some(e), _, _) => return Err(e.clone()),
            (None, false, _) => return Err(Error::InvalidProof),
            (None, true, true) => return Err(Error::CredentialsExpired),
            (None, true, false) => {}
        }
        // server-final-message "v=" base64(ServerSignature), written in one allocation.
        let encoded_len = base64::encoded_len(server_signature.len(), true).unwrap_or(0);
        let mut data = Vec::with_capacity(2 + encoded_len);
        data.extend_from_slice(b"v=");
        data.resize(2 + encoded_len, 0);
        let written = data
            .get_mut(2..)
            .and_then(|out| STANDARD.encode_slice(server_signature.as_bytes(), out).ok())
            .unwrap_or(0);
        data.truncate(2 + written);
        let (packet, reason_code) = p.trigger.success();
        Ok(Reply {
            packet,
            reason_code,
            method: Some(p.mechanism),
            data: Some(data),
        })
    }
}
