//! The middle of an exchange: [`NeedCredentials`], waiting for the provider's answer, and
//! the server-first-message written from it.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use rand_core::CryptoRng;

use super::Shared;
use super::challenge::ServerChallenge;
use super::config::{MAX_NONCE_LEN, RecordPolicy};
use super::outcome::Trigger;
use super::transcript::{Span, Transcript};
use crate::connection::ConnectionInfo;
use crate::credentials::DEFAULT_SALT_LEN;
use crate::error::Error;
use crate::mechanism::{HashAlgorithm, Mechanism};
use crate::message::encoded_len;
use crate::mqtt::{PacketType, ReasonCode, Reply};
use crate::provider::{Lookup, LookupRequest, UserRecord};

/// The SASLprep'd username: usually exactly its wire form, read from the transcript.
pub(super) enum Username {
    /// Equal to the bytes of this span (`n=` of client-first-message-bare).
    Wire(Span),
    /// Changed by unescaping (`=2C`, `=3D`) or SASLprep.
    Prepared(String),
}

/// State after the client's first message: the caller must look up credentials for
/// [`NeedCredentials::request`] and pass the answer to [`NeedCredentials::continue_with`].
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::{ConnectionInfo, ScramServer, ServerConfig, StartPacket, Timestamp};
/// use mqtt_scram::provider::Lookup;
/// let server = ScramServer::new(ServerConfig::new([1; 32]))?;
/// let conn = Arc::new(ConnectionInfo::new("client-1"));
/// let start = StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(b"n,,n=alice,r=abcdefgh") };
/// let pending = server.start(&conn, start, Timestamp::new(Default::default(), 0)).expect("valid");
/// assert_eq!(pending.request().username, "alice");
/// let (challenge, auth) = pending.continue_with(Lookup::NotFound, &mut rand::rng());
/// assert!(auth.data.expect("server-first").starts_with(b"r=abcdefgh"));
/// assert_eq!(challenge.username(), "alice");
/// # Ok::<(), mqtt_scram::ConfigError>(())
/// ```
pub struct NeedCredentials {
    pub(super) shared: Arc<Shared>,
    pub(super) connection: Arc<ConnectionInfo>,
    pub(super) trigger: Trigger,
    pub(super) mechanism: Mechanism,
    pub(super) username: Username,
    pub(super) authzid: Option<String>,
    /// gs2-header ‖ client-first-message-bare, and after `continue_with` also
    /// `,` ‖ server-first-message ‖ `,`.
    pub(super) transcript: Transcript,
    /// The gs2 header at the start of the transcript.
    pub(super) gs2: Span,
    /// Where the client nonce is in the transcript.
    pub(super) client_nonce: Span,
    pub(super) deadline: Duration,
}

impl fmt::Debug for NeedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeedCredentials")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl NeedCredentials {
    /// What to look up.
    pub fn request(&self) -> LookupRequest<'_> {
        LookupRequest::new(self.mechanism, self.username(), &self.connection)
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

    /// The username (SASLprep'd); `None` only if a span were out of the transcript, which
    /// `start` rules out.
    pub(super) fn prepared_username(&self) -> Option<&str> {
        match &self.username {
            Username::Wire(span) => self
                .transcript
                .get(*span)
                .and_then(|b| core::str::from_utf8(b).ok()),
            Username::Prepared(name) => Some(name),
        }
    }

    /// The username (SASLprep'd). Never empty after a successful `start`; the empty
    /// fallback is unreachable, and `finish` refuses to authenticate without a username.
    pub(super) fn username(&self) -> &str {
        self.prepared_username().unwrap_or_default()
    }

    /// Continues with the provider's answer: returns the challenge state and the
    /// AUTH 0x18 (server-first-message) to send.
    ///
    /// Unknown users, unusable records (wrong hash, outside the
    /// [`RecordPolicy`](crate::RecordPolicy)) and [`Lookup::Ignore`] get a mock challenge
    /// whose salt is keyed on the username, so they look like real users until the
    /// proof fails — and cost what they do.
    pub fn continue_with<R: CryptoRng + ?Sized>(
        self,
        lookup: Lookup,
        rng: &mut R,
    ) -> (ServerChallenge, Reply) {
        let mut raw = [0u8; MAX_NONCE_LEN];
        // The configured length is validated (18..=96); were it not, all 96 bytes are
        // used, never an empty nonce.
        let len = self.shared.config.nonce_len;
        let raw = match raw.split_at_mut_checked(len) {
            Some((used, _)) => used,
            None => &mut raw,
        };
        rng.fill_bytes(raw);
        self.challenge(lookup, |t| t.extend_base64(raw))
    }

    pub(crate) fn continue_with_nonce(
        self,
        lookup: Lookup,
        server_nonce: &str,
    ) -> (ServerChallenge, Reply) {
        self.challenge(lookup, |t| t.extend(server_nonce.as_bytes()))
    }

    fn challenge(
        mut self,
        lookup: Lookup,
        write_nonce: impl FnOnce(&mut Transcript) -> Span,
    ) -> (ServerChallenge, Reply) {
        let hash = self.mechanism.hash();
        let mock = self.shared.mock(hash);
        // An unknown user takes a handle to the mock record where a known one gets the
        // provider's: one reference-count increment each, one decrement when the
        // exchange ends.
        let (record, failure) = match lookup {
            Lookup::Found(record) => (record, None),
            Lookup::NotFound => (Arc::clone(mock), Some(Error::UnknownUser)),
            Lookup::Ignore(reason) => (
                Arc::clone(mock),
                Some(Error::CredentialsUnavailable(reason)),
            ),
        };
        // From here on a known and an unknown user run the same instructions: no branch
        // depends on which it is (they would be mispredicted for the rarer kind, which
        // shows in the time), only the data selected differs.
        let is_mock = failure.is_some();
        // Checked for every record, the mock's included (it always passes).
        let checked = usable(&record, hash, &self.shared.config.record_policy);
        let (failure, swap) = match checked {
            Ok(()) => (failure, false),
            // A provider's record the engine cannot use is swapped for the mock (rare: a
            // misconfigured store).
            Err(error) => (Some(failure.unwrap_or(error)), !is_mock),
        };
        let record = if swap { Arc::clone(mock) } else { record };
        let use_mock = failure.is_some();
        // The mock salt is computed for real users too: an unknown user costs exactly what
        // a known one does; what differs is only which salt and keys are used.
        let mock_salt = self.mock_salt();
        let candidates: [&[u8]; 2] = [record.credentials.salt(), &mock_salt];
        let salt = candidates
            .get(usize::from(use_mock))
            .copied()
            .unwrap_or(&mock_salt);
        let iterations = record.credentials.iterations();
        let (server_first, nonce) = self.write_server_first(write_nonce, salt, iterations);
        let reply = Reply {
            packet: PacketType::Auth,
            reason_code: ReasonCode::ContinueAuthentication,
            method: Some(self.mechanism),
            data: self.transcript.get(server_first).map(<[u8]>::to_vec),
        };
        (ServerChallenge::new(self, nonce, record, failure), reply)
    }

    /// Appends `,` ‖ server-first-message ‖ `,` to the transcript (RFC 5802 §7:
    /// `r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>`); returns where the
    /// message and the combined nonce are.
    fn write_server_first(
        &mut self,
        write_nonce: impl FnOnce(&mut Transcript) -> Span,
        salt: &[u8],
        iterations: u32,
    ) -> (Span, Span) {
        let t = &mut self.transcript;
        t.reserve(
            2 + 2
                + self.client_nonce.len()
                + encoded_len(MAX_NONCE_LEN)
                + 3
                + encoded_len(salt.len())
                + 3
                + 10,
        );
        t.extend(b",");
        let start = t.extend(b"r=");
        let client_nonce = t.extend_from_within(self.client_nonce);
        let server_nonce = write_nonce(t);
        t.extend(b",s=");
        t.extend_base64(salt);
        t.extend(b",i=");
        let end = t.extend_decimal(iterations);
        t.extend(b",");
        (start.to(end), client_nonce.to(server_nonce))
    }

    /// Salt for a user that does not exist: the first 16 bytes of
    /// SHA-256(mock key ‖ tag ‖ 0… ‖ hash name ‖ 0 ‖ username), one compression.
    fn mock_salt(&self) -> [u8; DEFAULT_SALT_LEN] {
        self.shared.config.mock_salt_key.salt(&[
            self.mechanism.hash().short_name().as_bytes(),
            b"\0",
            self.username().as_bytes(),
        ])
    }
}

/// Whether the engine may use `record` for an exchange of `hash`: the right hash, and
/// within the [`RecordPolicy`].
fn usable(record: &UserRecord, hash: HashAlgorithm, policy: &RecordPolicy) -> Result<(), Error> {
    let found = record.credentials.hash();
    if found != hash {
        return Err(Error::CredentialsMismatch {
            requested: hash,
            found,
        });
    }
    policy
        .check(&record.credentials)
        .map_err(Error::CredentialsUnavailable)
}
