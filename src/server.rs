//! The server side: typed, consuming states from CONNECT (or AUTH 0x19) to CONNACK
//! (or AUTH 0x00), with the credential lookup as a state of its own.
//!
//! ```text
//! ScramServer::start ──▶ NeedCredentials ──continue_with(lookup)──▶ ServerChallenge ──finish──▶ Outcome
//!                         (caller looks up)                         (AUTH 0x18 sent)
//! ```
//! Each step consumes its state, so steps cannot be repeated or reordered.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::CryptoRng;
use zeroize::Zeroize as _;

use crate::acl::AclRule;
use crate::connection::ConnectionInfo;
use crate::credentials::{DEFAULT_ITERATIONS, DEFAULT_SALT_LEN};
use crate::crypto::{self, HmacKey, Key};
use crate::error::Error;
use crate::mechanism::{HashAlgorithm, Mechanism};
use crate::message::{
    CbindFlag, ClientFinal, ClientFirst, DEFAULT_MAX_MESSAGE_LEN, MessageKind, Problem,
};
use crate::mqtt::{PacketType, ReasonCode, Reply};
use crate::provider::{Lookup, LookupRequest};
use crate::saslprep::{Mode, saslprep};

/// Smallest number of random bytes in a server nonce.
pub const MIN_NONCE_LEN: usize = 18;

/// Server settings, shared by every exchange through [`ScramServer`].
#[derive(Clone)]
pub struct ServerConfig {
    mechanisms: Vec<Mechanism>,
    mock_iterations: u32,
    nonce_len: usize,
    /// The mock key as HMAC states (SHA-256, SHA-512), so a mock salt costs two
    /// compressions; zeroized on drop.
    mock_macs: (HmacKey, HmacKey),
    handshake_timeout: Duration,
    max_message_len: usize,
    allow_authzid: bool,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("mechanisms", &self.mechanisms)
            .field("mock_iterations", &self.mock_iterations)
            .field("nonce_len", &self.nonce_len)
            .field("mock_key", &"<redacted>")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_message_len", &self.max_message_len)
            .field("allow_authzid", &self.allow_authzid)
            .finish()
    }
}

impl ServerConfig {
    /// Defaults: all four mechanisms, mock iteration count 4096, 24-byte nonces,
    /// 30 s handshake deadline, 4 KiB message limit, authzid only if equal to the username.
    ///
    /// `mock_key` keys the fake salts given to unknown users. Keep it secret and
    /// **stable across restarts**: a fake salt that changes after a restart, while real
    /// salts do not, tells an attacker which users are fake.
    pub fn new(mut mock_key: [u8; 32]) -> Self {
        let mock_macs = (
            HmacKey::new(HashAlgorithm::Sha256, &mock_key),
            HmacKey::new(HashAlgorithm::Sha512, &mock_key),
        );
        mock_key.zeroize();
        Self {
            mechanisms: Mechanism::ALL.to_vec(),
            mock_iterations: DEFAULT_ITERATIONS,
            nonce_len: 24,
            mock_macs,
            handshake_timeout: Duration::from_secs(30),
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            allow_authzid: false,
        }
    }

    /// Mechanisms to accept, in any order. `-PLUS` ones only work on connections with
    /// channel binding; offering one makes the server reject the `y` downgrade flag there.
    pub fn mechanisms(mut self, mechanisms: &[Mechanism]) -> Self {
        self.mechanisms = mechanisms.to_vec();
        self
    }

    /// Iteration count shown to unknown users; set it to what most real users have.
    pub fn mock_iterations(mut self, iterations: u32) -> Self {
        self.mock_iterations = iterations.max(1);
        self
    }

    /// Random bytes per server nonce (at least [`MIN_NONCE_LEN`]; smaller values are raised).
    pub fn nonce_len(mut self, bytes: usize) -> Self {
        self.nonce_len = bytes.clamp(MIN_NONCE_LEN, 96);
        self
    }

    /// Time from the first client message to the last one (default 30 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Largest SCRAM message accepted, in bytes (default 4096).
    pub fn max_message_len(mut self, bytes: usize) -> Self {
        self.max_message_len = bytes;
        self
    }

    /// Whether a client may send an authorization identity (`a=`) other than its username.
    /// When allowed it is passed to [`Identity::authzid`] for the broker to judge.
    pub fn allow_authzid(mut self, allow: bool) -> Self {
        self.allow_authzid = allow;
        self
    }

    fn offers_binding(&self) -> bool {
        self.mechanisms.iter().any(|m| m.is_plus())
    }
}

/// A SCRAM server: cheap to clone, shareable across connections and threads.
#[derive(Clone, Debug)]
pub struct ScramServer {
    config: Arc<ServerConfig>,
}

/// The packet that starts an exchange.
#[derive(Clone, Copy, Debug)]
pub enum StartPacket<'a> {
    /// CONNECT with Authentication Method and Authentication Data.
    Connect {
        /// Authentication Method property.
        method: &'a str,
        /// Authentication Data property (client-first-message).
        data: Option<&'a [u8]>,
    },
    /// AUTH from the client on an authenticated connection (must carry reason 0x19).
    Reauthenticate {
        /// The AUTH packet's reason code.
        reason_code: u8,
        /// Authentication Method property (must be the connection's).
        method: &'a str,
        /// Authentication Data property (client-first-message).
        data: Option<&'a [u8]>,
        /// The connection's current identity.
        current: &'a Identity,
    },
}

/// Who the client is, once authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// SCRAM username.
    pub username: String,
    /// Authorization identity, when the client sent one and the config allows it.
    pub authzid: Option<String>,
    /// Mechanism used.
    pub mechanism: Mechanism,
    /// From the provider.
    pub is_superuser: bool,
    /// From the provider.
    pub client_attrs: BTreeMap<String, String>,
    /// From the provider: Unix seconds after which the broker should end the session.
    pub expire_at: Option<u64>,
    /// From the provider.
    pub acl: Vec<AclRule>,
}

/// A failed step: what to send, and why (for logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// CONNACK (exchange from CONNECT) or DISCONNECT (re-authentication) with the reason code.
    pub reply: Reply,
    /// The cause. Unknown users show as [`Error::UnknownUser`] here, but the reply is
    /// identical to a wrong password's.
    pub error: Error,
}

/// The end of an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send `reply` (CONNACK 0x00 or AUTH 0x00 with `v=`); the client is `identity`.
    Accepted {
        /// Packet to send.
        reply: Reply,
        /// Who authenticated.
        identity: Identity,
    },
    /// Send the rejection's reply (CONNACK or DISCONNECT with 0x87, 0x8C or 0x82) and close
    /// the connection, as MQTT 5.0 §4.12 requires after a failed (re-)authentication.
    Rejected(Rejection),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Connect,
    Reauth,
}

impl Trigger {
    fn reject(self, method: Option<Mechanism>, error: Error) -> Rejection {
        let reason_code = error.reason_code();
        let reply = match self {
            Trigger::Connect => {
                let method = method.filter(|_| reason_code != ReasonCode::BadAuthenticationMethod);
                // `e=<value>` in one allocation (as `ServerErrorValue::to_message`).
                let data = method.and(error.server_error()).map(|e| {
                    let value = e.as_str().as_bytes();
                    let mut data = Vec::with_capacity(2 + value.len());
                    data.extend_from_slice(b"e=");
                    data.extend_from_slice(value);
                    data
                });
                Reply {
                    packet: PacketType::Connack,
                    reason_code,
                    method,
                    data,
                }
            }
            Trigger::Reauth => Reply {
                packet: PacketType::Disconnect,
                reason_code,
                method: None,
                data: None,
            },
        };
        Rejection { reply, error }
    }
}

/// State after the client's first message: the caller must look up credentials for
/// [`NeedCredentials::request`] and pass the answer to [`NeedCredentials::continue_with`].
pub struct NeedCredentials {
    config: Arc<ServerConfig>,
    connection: Arc<ConnectionInfo>,
    trigger: Trigger,
    mechanism: Mechanism,
    username: String,
    authzid: Option<String>,
    /// The exchange's messages in one buffer: gs2-header ‖ client-first-message-bare, and
    /// after `continue_with` also `,` ‖ server-first-message ‖ `,`; the bytes from the
    /// end of the gs2 header on are then the AuthMessage up to client-final-without-proof.
    transcript: Vec<u8>,
    /// Length of the gs2 header at the start of `transcript`.
    gs2_len: u32,
    /// Where the client nonce is in `transcript`.
    client_nonce: Span,
    deadline: Duration,
}

/// A range of the transcript in 8 bytes (messages are far below 4 GiB: MQTT packets
/// end at 256 MiB, and `start` rejects anything longer than `u32::MAX / 2`).
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn new(start: usize, len: usize) -> Self {
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

    fn len(self) -> usize {
        self.len as usize
    }
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

impl ScramServer {
    /// Wraps a configuration.
    pub fn new(config: ServerConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Starts an exchange from CONNECT or AUTH 0x19. `now` is the time on any monotonic
    /// clock the caller chooses (e.g. `epoch.elapsed()`); deadlines are on the same clock.
    pub fn start(
        &self,
        connection: &Arc<ConnectionInfo>,
        packet: StartPacket<'_>,
        now: Duration,
    ) -> Result<NeedCredentials, Rejection> {
        let (trigger, method, data, current) = match packet {
            StartPacket::Connect { method, data } => (Trigger::Connect, method, data, None),
            StartPacket::Reauthenticate {
                reason_code,
                method,
                data,
                current,
            } => {
                if reason_code != ReasonCode::ReAuthenticate.to_u8() {
                    let error = Error::UnexpectedReasonCode {
                        expected: ReasonCode::ReAuthenticate,
                        found: reason_code,
                    };
                    return Err(Trigger::Reauth.reject(None, error));
                }
                (Trigger::Reauth, method, data, Some(current))
            }
        };
        let mechanism = Mechanism::from_name(method)
            .filter(|m| self.config.mechanisms.contains(m))
            .ok_or_else(|| trigger.reject(None, Error::UnsupportedMechanism))?;
        if let Some(current) = current {
            if current.mechanism != mechanism {
                return Err(trigger.reject(None, Error::MethodChanged));
            }
        }
        let fail = |error| trigger.reject(Some(mechanism), error);
        let data = data.ok_or_else(|| fail(Error::MissingData))?;
        let first = ClientFirst::parse(data, self.config.max_message_len).map_err(fail)?;
        self.check_binding(&first, mechanism, connection)
            .map_err(fail)?;
        let username = saslprep(first.username(), Mode::Query)
            .ok()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                fail(Error::Malformed {
                    message: MessageKind::ClientFirst,
                    problem: Problem::InvalidUsername,
                })
            })?
            .into_owned();
        let authzid = match first.gs2().authzid.as_deref() {
            None => None,
            Some(a) if a == username => None,
            Some(a) if self.config.allow_authzid => Some(String::from(a)),
            Some(_) => return Err(fail(Error::AuthzidNotAllowed)),
        };
        if let Some(current) = current {
            if current.username != username || current.authzid != authzid {
                return Err(fail(Error::ReauthUserMismatch));
            }
        }
        if data.len() > (u32::MAX / 2) as usize {
            return Err(fail(Error::TooLong {
                message: MessageKind::ClientFirst,
                len: data.len(),
                max: (u32::MAX / 2) as usize,
            }));
        }
        let (gs2, bare, nonce) = (first.gs2().as_str(), first.bare(), first.nonce());
        // Room for ",server-first," with a generated-length salt, so `continue_with`
        // usually writes it without growing the buffer.
        let server_first_len = 2
            + nonce.len()
            + base64::encoded_len(self.config.nonce_len, true).unwrap_or(0)
            + 3
            + base64::encoded_len(DEFAULT_SALT_LEN, true).unwrap_or(0)
            + 3
            + 10;
        let mut transcript = Vec::with_capacity(gs2.len() + bare.len() + server_first_len + 2);
        transcript.extend_from_slice(gs2.as_bytes());
        transcript.extend_from_slice(bare.as_bytes());
        // client-first-message-bare is "n=<user>,r=<nonce>[,ext]": the nonce is after the first ",r=".
        let at = bare.find(",r=").map_or(0, |i| i + 3);
        let client_nonce = Span::new(gs2.len() + at, nonce.len());
        Ok(NeedCredentials {
            config: Arc::clone(&self.config),
            connection: Arc::clone(connection),
            trigger,
            mechanism,
            username,
            authzid,
            transcript,
            gs2_len: Span::new(0, gs2.len()).len,
            client_nonce,
            deadline: now.saturating_add(self.config.handshake_timeout),
        })
    }

    /// RFC 5802 §6: the gs2 flag must fit the mechanism and the connection.
    fn check_binding(
        &self,
        first: &ClientFirst<'_>,
        mechanism: Mechanism,
        conn: &ConnectionInfo,
    ) -> Result<(), Error> {
        match (first.gs2().cbind, mechanism.is_plus()) {
            (CbindFlag::Used(name), true) => {
                let binding = conn
                    .channel_binding
                    .as_ref()
                    .ok_or(Error::ChannelBindingNotSupported)?;
                if binding.kind().name() != name {
                    return Err(Error::UnsupportedChannelBindingType);
                }
                Ok(())
            }
            (CbindFlag::Used(_), false) | (_, true) => Err(Error::ChannelBindingMechanismMismatch),
            (CbindFlag::SupportedNotUsed, false) => {
                if self.config.offers_binding() && conn.channel_binding.is_some() {
                    Err(Error::ChannelBindingDowngrade)
                } else {
                    Ok(())
                }
            }
            (CbindFlag::NotSupported, false) => Ok(()),
        }
    }
}

impl NeedCredentials {
    /// What to look up.
    pub fn request(&self) -> LookupRequest<'_> {
        LookupRequest {
            mechanism: self.mechanism,
            username: &self.username,
            authzid: self.authzid.as_deref(),
            connection: &self.connection,
        }
    }

    /// When the exchange expires, on the caller's clock.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Continues with the provider's answer: returns the challenge state and the
    /// AUTH 0x18 (server-first-message) to send.
    ///
    /// Unknown users, unusable records and [`Lookup::Ignore`] get a mock challenge
    /// whose salt is keyed on the username, so they look like real users until the
    /// proof fails.
    pub fn continue_with<R: CryptoRng + ?Sized>(
        self,
        lookup: Lookup,
        rng: &mut R,
    ) -> (ServerChallenge, Reply) {
        let mut raw = [0u8; 96];
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
        let (credentials, failure) = match lookup {
            Lookup::Found(record) if record.credentials.hash() == hash => {
                let extras = Extras {
                    is_superuser: record.is_superuser,
                    client_attrs: record.client_attrs,
                    expire_at: record.expire_at,
                    acl: record.acl,
                };
                (Some(record.credentials), Ok(extras))
            }
            Lookup::Found(record) => (
                None,
                Err(Error::CredentialsMismatch {
                    requested: hash,
                    found: record.credentials.hash(),
                }),
            ),
            Lookup::NotFound => (None, Err(Error::UnknownUser)),
            Lookup::Ignore(_) => (None, Err(Error::CredentialsUnavailable)),
        };
        // Computed for real users too, so that an unknown user costs exactly what a known
        // one does: the only difference left is which salt and keys are used.
        let mock_salt = self.mock_salt();
        let (salt, iterations, stored_key, server_key) = match &credentials {
            Some(c) => (
                c.salt(),
                c.iterations(),
                c.stored_key().clone(),
                c.server_key().clone(),
            ),
            None => {
                let salt = mock_salt
                    .as_bytes()
                    .get(..DEFAULT_SALT_LEN)
                    .unwrap_or_default();
                let zero = mock_key(hash);
                (salt, self.config.mock_iterations, zero.clone(), zero)
            }
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
            stored_key,
            server_key,
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
    /// truncated by the caller to the length of generated salts. The keys are all-zero:
    /// no proof can verify against a StoredKey of zero (that needs a SHA-2 preimage),
    /// and `finish` runs the same proof computation on them as on real keys.
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

/// The all-zero StoredKey and ServerKey of a mock user.
fn mock_key(hash: HashAlgorithm) -> Key {
    [0u8; crypto::MAX_OUTPUT_LEN]
        .get(..hash.output_len())
        .and_then(Key::from_slice)
        .unwrap_or_else(|| crypto::h(hash, b""))
}

struct Extras {
    is_superuser: bool,
    client_attrs: BTreeMap<String, String>,
    expire_at: Option<u64>,
    acl: Vec<AclRule>,
}

/// State after the server-first-message was sent: waiting for the client-final-message.
pub struct ServerChallenge {
    pending: NeedCredentials,
    /// Where the combined nonce is in the transcript.
    nonce: Span,
    stored_key: Key,
    server_key: Key,
    failure: Result<Extras, Error>,
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
    /// When the exchange expires, on the caller's clock; arm a timer for it.
    pub fn deadline(&self) -> Duration {
        self.pending.deadline
    }

    /// The mechanism in use.
    pub fn mechanism(&self) -> Mechanism {
        self.pending.mechanism
    }

    /// Finishes with the client's AUTH packet (reason code, method, data).
    pub fn finish(
        self,
        reason_code: u8,
        method: &str,
        data: Option<&[u8]>,
        now: Duration,
    ) -> Outcome {
        let verified = self.verify(reason_code, method, data, now);
        let ServerChallenge {
            pending, failure, ..
        } = self;
        match (verified, failure) {
            (Ok(reply), Ok(extras)) => Outcome::Accepted {
                reply,
                identity: Identity {
                    username: pending.username,
                    authzid: pending.authzid,
                    mechanism: pending.mechanism,
                    is_superuser: extras.is_superuser,
                    client_attrs: extras.client_attrs,
                    expire_at: extras.expire_at,
                    acl: extras.acl,
                },
            },
            (Err(error), _) | (Ok(_), Err(error)) => {
                Outcome::Rejected(pending.trigger.reject(Some(pending.mechanism), error))
            }
        }
    }

    /// Checks the client-final-message; on success returns the reply carrying `v=`.
    fn verify(
        &self,
        reason_code: u8,
        method: &str,
        data: Option<&[u8]>,
        now: Duration,
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
        if now > p.deadline {
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
        // Both signatures at once (interleaved compressions are cheaper than two in a
        // row); ServerSignature is computed on failures too, so they take as long.
        let (client_signature, server_signature) = crypto::hmac_pair(
            hash,
            self.stored_key.as_bytes(),
            self.server_key.as_bytes(),
            &auth_message,
        );
        let client_key = crypto::xor(last.proof(), &client_signature);
        let proof_ok = crypto::stored_key(hash, &client_key) == self.stored_key;
        match (&self.failure, proof_ok) {
            (Err(e), _) => return Err(e.clone()),
            (Ok(_), false) => return Err(Error::InvalidProof),
            (Ok(_), true) => {}
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
        let (packet, reason_code) = match p.trigger {
            Trigger::Connect => (PacketType::Connack, ReasonCode::Success),
            Trigger::Reauth => (PacketType::Auth, ReasonCode::Success),
        };
        Ok(Reply {
            packet,
            reason_code,
            method: Some(p.mechanism),
            data: Some(data),
        })
    }
}
