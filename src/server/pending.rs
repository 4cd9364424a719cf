//! The middle of an exchange: [`NeedCredentials`], waiting for the provider's answer, and
//! the server-first-message written from it.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use rand_core::CryptoRng;

use super::Shared;
use super::challenge::{ServerChallenge, Verdict};
use super::config::{MAX_NONCE_LEN, RecordPolicy};
use super::outcome::Trigger;
use super::transcript::{Span, Transcript};
use crate::connection::ConnectionInfo;
use crate::error::{Detail, Error};
use crate::mechanism::{HashAlgorithm, Mechanism};
use crate::message::{encode_into, encoded_len};
use crate::mqtt::{PacketType, ReasonCode, Reply};
use crate::provider::{Lookup, LookupRequest, MAX_MOCK_SALT_LEN, MockShape, UserRecord};

/// The SASLprep'd username: usually exactly its wire form, read from the transcript.
pub(super) enum Username {
    /// Equal to the bytes of this span (`n=` of client-first-message-bare).
    Wire(Span),
    /// Changed by unescaping (`=2C`, `=3D`) or SASLprep.
    Prepared(Box<str>),
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
    pub(super) authzid: Option<Box<str>>,
    /// gs2-header ‖ client-first-message-bare, and after `continue_with` also
    /// `,` ‖ server-first-message ‖ `,`.
    pub(super) transcript: Transcript,
    /// The gs2 header at the start of the transcript.
    pub(super) gs2: Span,
    /// Where the client nonce is in the transcript; in a [`ServerChallenge`], where the
    /// combined nonce (client ‖ server) is.
    pub(super) nonce: Span,
    /// The shape of the mock challenge: the provider's (see `set_mock_shape`) or the
    /// configured one.
    pub(super) mock_shape: MockShape,
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

    /// Sets the shape (salt length, iteration count) the mock challenge takes if this
    /// user gets one: pass the provider's
    /// [`record_shape`](crate::provider::CredentialProvider::record_shape) for
    /// [`NeedCredentials::mechanism`]'s hash, whatever the lookup's answer, before
    /// [`continue_with`](Self::continue_with), so unknown users look like the store's
    /// real ones. `None`, or a shape the configuration refuses
    /// ([`ServerConfig::check_mock_shape`](crate::ServerConfig::check_mock_shape)), leaves
    /// the configured shape ([`ServerConfig::mock_shape`](crate::ServerConfig::mock_shape)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mqtt_scram::{ConnectionInfo, ScramServer, ServerConfig, StartPacket, Timestamp};
    /// use mqtt_scram::provider::{Lookup, MockShape};
    /// let server = ScramServer::new(ServerConfig::new([1; 32]))?;
    /// let conn = Arc::new(ConnectionInfo::new("client-1"));
    /// let start = StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(b"n,,n=nobody,r=abcdefgh") };
    /// let mut pending = server.start(&conn, start, Timestamp::new(Default::default(), 0)).expect("valid");
    /// pending.set_mock_shape(Some(MockShape::new(32, 10_000)));
    /// let (_challenge, auth) = pending.continue_with(Lookup::NotFound, &mut rand::rng());
    /// let first = String::from_utf8(auth.data.expect("server-first")).expect("text");
    /// assert!(first.ends_with(",i=10000"));
    /// # Ok::<(), mqtt_scram::ConfigError>(())
    /// ```
    pub fn set_mock_shape(&mut self, shape: Option<MockShape>) {
        self.mock_shape = self
            .shared
            .config
            .mock_shape_given(self.mechanism.hash(), shape);
    }

    /// The shape the mock challenge takes if this user gets one.
    pub fn mock_shape(&self) -> MockShape {
        self.mock_shape
    }

    /// Continues with the provider's answer: returns the challenge state and the
    /// AUTH 0x18 (server-first-message) to send.
    ///
    /// Unknown users, unusable records (wrong hash, outside the
    /// [`RecordPolicy`](crate::RecordPolicy)) and [`Lookup::Ignore`] get a mock challenge
    /// whose salt is keyed on the username, so they look like real users until the
    /// proof fails — and cost what they do.
    pub fn continue_with<R: CryptoRng + ?Sized>(
        mut self,
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
        // The challenge is assembled here and in `continue_with_nonce` rather than in a
        // shared helper that takes `self`: that helper costs an extra move of the whole
        // state (measured: ~40 % slower exchanges).
        let (nonce, record, verdict, reply) = self.challenge(lookup, ServerNonce::Random(raw));
        self.nonce = nonce;
        let challenge = ServerChallenge {
            pending: self,
            record,
            verdict,
        };
        (challenge, reply)
    }

    #[cfg(feature = "dangerous-fixed-nonces")]
    pub(crate) fn continue_with_nonce(
        mut self,
        lookup: Lookup,
        server_nonce: &str,
    ) -> (ServerChallenge, Reply) {
        let (nonce, record, verdict, reply) =
            self.challenge(lookup, ServerNonce::Fixed(server_nonce.as_bytes()));
        self.nonce = nonce;
        let challenge = ServerChallenge {
            pending: self,
            record,
            verdict,
        };
        (challenge, reply)
    }

    /// Everything `continue_with` does but moving the state into the challenge: the
    /// record to use, why the exchange must fail whatever the proof, the server-first
    /// written to the transcript and the reply carrying it; returns where the combined
    /// nonce is, the record, the failure and the reply.
    #[inline]
    fn challenge(
        &mut self,
        lookup: Lookup,
        server_nonce: ServerNonce<'_>,
    ) -> (Span, Arc<UserRecord>, Verdict, Reply) {
        let hash = self.mechanism.hash();
        let mock = self.shared.mock(hash);
        // An unknown user takes a handle to the mock record where a known one gets the
        // provider's: one reference-count increment each, one decrement when the
        // exchange ends.
        // Everything that depends on which it is is decided in this one match: the record,
        // the error a failed proof reports (a known user's is `InvalidProof`), and whether
        // the record is the provider's. (`finish` then needs no branch on it.)
        let (record, mut verdict) = match lookup {
            Lookup::Found(record) => (record, Verdict::Provider),
            Lookup::NotFound => (Arc::clone(mock), Verdict::UnknownUser),
            Lookup::Ignore(reason) => (
                Arc::clone(mock),
                Verdict::Unusable(Box::new(Detail::CredentialsUnavailable(reason).into())),
            ),
        };
        let from_provider = verdict.is_provider();
        // From here on a known and an unknown user run the same instructions: no branch
        // depends on which it is (they would be mispredicted for the rarer kind, which
        // shows in the time), only the data selected differs.
        // Checked for every record, the mock's included (it always passes).
        let checked = usable(&record, hash, &self.shared.config.record_policy);
        let mut swap = false;
        if let Err(error) = checked {
            // A provider's record the engine cannot use is swapped for the mock (rare: a
            // misconfigured store).
            if from_provider {
                verdict = Verdict::Unusable(Box::new(error));
                swap = true;
            }
        }
        let from_provider = from_provider & !swap;
        let record = if swap { Arc::clone(mock) } else { record };
        let use_mock = !from_provider;
        // The mock salt is computed for real users too: an unknown user costs exactly what
        // a known one does; what differs is only which salt and keys are used.
        let mut mock_salt = [0u8; MAX_MOCK_SALT_LEN];
        let mock_salt = self.mock_salt(&mut mock_salt);
        let candidates: [&[u8]; 2] = [record.credentials.salt(), mock_salt];
        let salt = candidates
            .get(usize::from(use_mock))
            .copied()
            .unwrap_or(mock_salt);
        let counts = [
            record.credentials.iterations(),
            self.mock_shape.iterations(),
        ];
        let iterations = counts
            .get(usize::from(use_mock))
            .copied()
            .unwrap_or(self.mock_shape.iterations());
        let (server_first, nonce) = self.write_server_first(server_nonce, salt, iterations);
        let reply = Reply {
            packet: PacketType::Auth,
            reason_code: ReasonCode::ContinueAuthentication,
            method: Some(self.mechanism),
            data: self.transcript.get(server_first).map(<[u8]>::to_vec),
        };
        (nonce, record, verdict, reply)
    }

    /// Appends `,` ‖ server-first-message ‖ `,` to the transcript in one pass (RFC 5802
    /// §7: `r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>`); returns where
    /// the message and the combined nonce are.
    fn write_server_first(
        &mut self,
        server_nonce: ServerNonce<'_>,
        salt: &[u8],
        iterations: u32,
    ) -> (Span, Span) {
        let mut digits = [0u8; 10];
        let iterations = decimal(iterations, &mut digits);
        let client_nonce = self.nonce;
        let nonce_len = client_nonce.len() + server_nonce.len();
        let len = 3 + nonce_len + 3 + encoded_len(salt.len()) + 3 + iterations.len() + 1;
        let written = self.transcript.append_with(len, |earlier, out| {
            let mut out = Writer { out, at: 0 };
            out.put(b",r=");
            out.put(earlier.get(client_nonce.range()).unwrap_or_default());
            match server_nonce {
                ServerNonce::Random(raw) => out.put_base64(raw),
                ServerNonce::Fixed(nonce) => out.put(nonce),
            }
            out.put(b",s=");
            out.put_base64(salt);
            out.put(b",i=");
            out.put(iterations);
            out.put(b",");
        });
        let start = written.range().start;
        (
            Span::new(start + 1, len - 2),
            Span::new(start + 3, nonce_len),
        )
    }

    /// The username's bytes (SASLprep'd).
    fn username_bytes(&self) -> &[u8] {
        match &self.username {
            Username::Wire(span) => self.transcript.get(*span).unwrap_or_default(),
            Username::Prepared(name) => name.as_bytes(),
        }
    }

    /// Salt for a user that does not exist, of the mock shape's length (8..=64 bytes):
    /// block `i` (16 bytes) is the first 16 bytes of
    /// SHA-256(mock key ‖ tag ‖ 0… ‖ hash name ‖ byte `i` ‖ username), one compression
    /// each; the first block is the 16-byte salt of earlier versions. Deterministic per
    /// (username, hash); a username cannot contain the control bytes 0..=3 (SASLprep), so
    /// the blocks' messages never collide.
    fn mock_salt<'b>(&self, out: &'b mut [u8; MAX_MOCK_SALT_LEN]) -> &'b [u8] {
        let len = self.mock_shape.salt_len().min(MAX_MOCK_SALT_LEN);
        let key = &self.shared.config.mock_salt_key;
        let hash_name = self.mechanism.hash().short_name().as_bytes();
        let username = self.username_bytes();
        for (i, chunk) in (0u8..).zip(out.chunks_mut(MOCK_BLOCK)) {
            if usize::from(i) * MOCK_BLOCK >= len {
                break;
            }
            let block = key.salt(&[hash_name, &[i], username]);
            for (dst, src) in chunk.iter_mut().zip(block) {
                *dst = src;
            }
        }
        out.get(..len).unwrap_or_default()
    }
}

/// Bytes of one block of a mock salt (what one keyed SHA-256 gives).
const MOCK_BLOCK: usize = 16;

/// The server's part of the nonce: random bytes (written in base64) or, for tests and
/// fuzzing, a fixed string.
#[derive(Clone, Copy)]
enum ServerNonce<'a> {
    Random(&'a [u8]),
    #[cfg_attr(not(feature = "dangerous-fixed-nonces"), allow(dead_code))]
    Fixed(&'a [u8]),
}

impl ServerNonce<'_> {
    /// Characters it takes in the nonce.
    fn len(self) -> usize {
        match self {
            Self::Random(raw) => encoded_len(raw.len()),
            Self::Fixed(nonce) => nonce.len(),
        }
    }
}

/// Fills a buffer front to back; writes past its end are dropped (callers size it exactly).
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }

    #[inline(always)]
    fn put_base64(&mut self, data: &[u8]) {
        let written = self
            .out
            .get_mut(self.at..)
            .map_or(0, |tail| encode_into(data, tail));
        self.at += written;
    }
}

/// `n` in decimal, written into the end of `digits`.
fn decimal(mut n: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut first = digits.len();
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
        first -= 1;
        if n == 0 {
            break;
        }
    }
    digits.get(first..).unwrap_or_default()
}

/// Whether the engine may use `record` for an exchange of `hash`: the right hash, and
/// within the [`RecordPolicy`].
fn usable(record: &UserRecord, hash: HashAlgorithm, policy: &RecordPolicy) -> Result<(), Error> {
    let found = record.credentials.hash();
    if found != hash {
        return Err(Detail::CredentialsMismatch {
            requested: hash,
            found,
        }
        .into());
    }
    policy
        .check(&record.credentials)
        .map_err(|reason| Error::from(Detail::CredentialsUnavailable(reason)))
}
