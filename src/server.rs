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

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::acl::AclRule;
use crate::connection::ConnectionInfo;
use crate::credentials::{DEFAULT_ITERATIONS, DEFAULT_SALT_LEN};
use crate::crypto::{self, Key};
use crate::error::Error;
use crate::mechanism::Mechanism;
use crate::message::{
    CbindFlag, ClientFinal, ClientFirst, DEFAULT_MAX_MESSAGE_LEN, MessageKind, Problem,
    ServerFinal, ServerFirst,
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
    mock_key: Zeroizing<[u8; 32]>,
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
    pub fn new(mock_key: [u8; 32]) -> Self {
        Self {
            mechanisms: Mechanism::ALL.to_vec(),
            mock_iterations: DEFAULT_ITERATIONS,
            nonce_len: 24,
            mock_key: Zeroizing::new(mock_key),
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
                let data = method
                    .and(error.server_error())
                    .map(|e| e.to_message().into_bytes());
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
    gs2_header: String,
    client_first_bare: String,
    client_nonce_len: usize,
    deadline: Duration,
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
        Ok(NeedCredentials {
            config: Arc::clone(&self.config),
            connection: Arc::clone(connection),
            trigger,
            mechanism,
            username,
            authzid,
            gs2_header: first.gs2().as_str().into(),
            client_first_bare: first.bare().into(),
            client_nonce_len: first.nonce().len(),
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
        let nonce = crate::message::encode_nonce(raw);
        self.continue_with_nonce(lookup, &nonce)
    }

    pub(crate) fn continue_with_nonce(
        self,
        lookup: Lookup,
        server_nonce: &str,
    ) -> (ServerChallenge, Reply) {
        let hash = self.mechanism.hash();
        let (secrets, failure) = match lookup {
            Lookup::Found(record) if record.credentials.hash() == hash => {
                let c = record.credentials;
                let secrets = Secrets {
                    salt: c.salt().to_vec(),
                    iterations: c.iterations(),
                    stored_key: c.stored_key().clone(),
                    server_key: c.server_key().clone(),
                };
                let extras = Extras {
                    is_superuser: record.is_superuser,
                    client_attrs: record.client_attrs,
                    expire_at: record.expire_at,
                    acl: record.acl,
                };
                (secrets, Ok(extras))
            }
            Lookup::Found(record) => (
                self.mock_secrets(),
                Err(Error::CredentialsMismatch {
                    requested: hash,
                    found: record.credentials.hash(),
                }),
            ),
            Lookup::NotFound => (self.mock_secrets(), Err(Error::UnknownUser)),
            Lookup::Ignore(_) => (self.mock_secrets(), Err(Error::CredentialsUnavailable)),
        };
        let mut nonce = String::with_capacity(self.client_nonce_len + server_nonce.len());
        nonce.push_str(self.client_nonce());
        nonce.push_str(server_nonce);
        let server_first = ServerFirst::write(&nonce, &secrets.salt, secrets.iterations);
        let reply = Reply {
            packet: PacketType::Auth,
            reason_code: ReasonCode::ContinueAuthentication,
            method: Some(self.mechanism),
            data: Some(server_first.clone().into_bytes()),
        };
        let challenge = ServerChallenge {
            pending: self,
            secrets,
            failure,
            nonce,
            server_first,
        };
        (challenge, reply)
    }

    fn client_nonce(&self) -> &str {
        // client-first-message-bare is "n=<user>,r=<nonce>[,ext]": the nonce is after the first ",r=".
        let start = self.client_first_bare.find(",r=").map_or(0, |i| i + 3);
        self.client_first_bare
            .get(start..start + self.client_nonce_len)
            .unwrap_or_default()
    }

    /// Credentials for a user that does not exist: salt = HMAC(mock_key, hash ‖ 0 ‖ username),
    /// truncated to the length of generated salts. The keys are all-zero: no proof can
    /// verify against a StoredKey of zero (that needs a SHA-2 preimage), and `finish`
    /// runs the same proof computation on them as on real keys.
    fn mock_secrets(&self) -> Secrets {
        let hash = self.mechanism.hash();
        let salt = crypto::hmac(
            hash,
            self.config.mock_key.as_slice(),
            &[
                b"mqtt-scram mock salt\0",
                hash.short_name().as_bytes(),
                b"\0",
                self.username.as_bytes(),
            ],
        );
        let zero = [0u8; crypto::MAX_OUTPUT_LEN]
            .get(..hash.output_len())
            .and_then(Key::from_slice)
            .unwrap_or_else(|| salt.clone());
        Secrets {
            salt: salt
                .as_bytes()
                .get(..DEFAULT_SALT_LEN)
                .unwrap_or_default()
                .to_vec(),
            iterations: self.config.mock_iterations,
            stored_key: zero.clone(),
            server_key: zero,
        }
    }
}

struct Secrets {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Key,
    server_key: Key,
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
    secrets: Secrets,
    failure: Result<Extras, Error>,
    nonce: String,
    server_first: String,
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
        match self.verify(reason_code, method, data, now) {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Rejected(
                self.pending
                    .trigger
                    .reject(Some(self.pending.mechanism), error),
            ),
        }
    }

    fn verify(
        &self,
        reason_code: u8,
        method: &str,
        data: Option<&[u8]>,
        now: Duration,
    ) -> Result<Outcome, Error> {
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
        let expected_len = p.gs2_header.len() + cbind_data.len();
        let cb = last.channel_binding();
        let cb_ok = cb.len() == expected_len
            && cb.get(..p.gs2_header.len()) == Some(p.gs2_header.as_bytes())
            && crypto::ct_eq(cb.get(p.gs2_header.len()..).unwrap_or_default(), cbind_data);
        if !cb_ok {
            return Err(Error::ChannelBindingMismatch);
        }
        if last.nonce() != self.nonce {
            return Err(Error::NonceMismatch);
        }
        let auth_message: [&[u8]; 5] = [
            p.client_first_bare.as_bytes(),
            b",",
            self.server_first.as_bytes(),
            b",",
            last.without_proof().as_bytes(),
        ];
        let client_signature =
            crypto::hmac(hash, self.secrets.stored_key.as_bytes(), &auth_message);
        let client_key = crypto::xor(last.proof(), &client_signature);
        let proof_ok = crypto::stored_key(hash, &client_key) == self.secrets.stored_key;
        let extras = match (&self.failure, proof_ok) {
            (Err(e), _) => return Err(e.clone()),
            (Ok(_), false) => return Err(Error::InvalidProof),
            (Ok(extras), true) => extras,
        };
        let server_signature =
            crypto::hmac(hash, self.secrets.server_key.as_bytes(), &auth_message);
        let data = ServerFinal::write_verifier(&server_signature).into_bytes();
        let (packet, reason_code) = match p.trigger {
            Trigger::Connect => (PacketType::Connack, ReasonCode::Success),
            Trigger::Reauth => (PacketType::Auth, ReasonCode::Success),
        };
        let identity = Identity {
            username: p.username.clone(),
            authzid: p.authzid.clone(),
            mechanism: p.mechanism,
            is_superuser: extras.is_superuser,
            client_attrs: extras.client_attrs.clone(),
            expire_at: extras.expire_at,
            acl: extras.acl.clone(),
        };
        let reply = Reply {
            packet,
            reason_code,
            method: Some(p.mechanism),
            data: Some(data),
        };
        Ok(Outcome::Accepted { reply, identity })
    }
}
