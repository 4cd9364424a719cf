//! The client side: typed, consuming states from CONNECT to CONNACK, with
//! re-authentication that reuses the SaltedPassword.
//!
//! ```text
//! start ──▶ AwaitingServerFirst ──on_server_first──▶ AwaitingServerFinal ──on_server_final──▶ Authenticated
//!   ▲                                                                                            │
//!   └───────────────────────────────── reauthenticate ◀──────────────────────────────────────────┘
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::RangeInclusive;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::connection::ChannelBinding;
use crate::credentials::DEFAULT_ITERATIONS;
use crate::crypto::{self, Key};
use crate::error::{Detail, Error};
use crate::mechanism::Mechanism;
use crate::message::{
    CbindFlag, ClientFirst, DEFAULT_MAX_MESSAGE_LEN, MessageKind, Problem, ServerFinal,
    ServerFinalOutcome, ServerFirst, push_proof, write_client_final_without_proof,
};
use crate::saslprep::{Mode, saslprep};

/// Client settings.
///
/// ```
/// use mqtt_scram::client::ClientConfig;
/// let config = ClientConfig::new()
///     .iteration_window(4096..=100_000)   // refuse weaker or costlier servers before PBKDF2
///     .max_message_len(2048);
/// # let _ = config;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    iteration_window: RangeInclusive<u32>,
    nonce_len: usize,
    max_message_len: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientConfig {
    /// Defaults: iteration window 4096..=1,000,000, 24-byte nonces, 4 KiB message limit.
    pub fn new() -> Self {
        Self {
            iteration_window: DEFAULT_ITERATIONS..=1_000_000,
            nonce_len: 24,
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
        }
    }

    /// Iteration counts the client accepts. Checked before any PBKDF2 work, so a hostile
    /// server cannot make the client burn CPU (too high) or weaken the exchange (too low).
    ///
    /// The window must be non-empty and start at 1 or more: [`start`] refuses an exchange
    /// with [`ErrorKind::InvalidIterationWindow`](crate::ErrorKind::InvalidIterationWindow) otherwise; [`ClientConfig::try_iteration_window`]
    /// says so at once.
    pub fn iteration_window(mut self, window: RangeInclusive<u32>) -> Self {
        self.iteration_window = window;
        self
    }

    /// [`ClientConfig::iteration_window`], refusing an empty window or one starting at 0
    /// (as the serde form does).
    ///
    /// ```
    /// use mqtt_scram::{Error, ErrorKind, client::ClientConfig};
    /// let config = ClientConfig::new().try_iteration_window(4096..=600_000)?;
    /// # let _ = config;
    /// let err = ClientConfig::new().try_iteration_window(600_000..=4096).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidIterationWindow);
    /// assert_eq!(err.iteration_window(), Some(600_000..=4096));
    /// assert!(ClientConfig::new().try_iteration_window(0..=4096).is_err());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_iteration_window(self, window: RangeInclusive<u32>) -> Result<Self, Error> {
        check_window(&window)?;
        Ok(self.iteration_window(window))
    }

    /// Random bytes per client nonce (at least 18).
    pub fn nonce_len(mut self, bytes: usize) -> Self {
        self.nonce_len = bytes.clamp(crate::server::MIN_NONCE_LEN, 96);
        self
    }

    /// Largest SCRAM message accepted from the server, in bytes (default 4096).
    pub fn max_message_len(mut self, bytes: usize) -> Self {
        self.max_message_len = bytes;
        self
    }
}

/// Per-connection options for [`start_with`].
///
/// ```
/// use mqtt_scram::{ChannelBinding, ChannelBindingType, Mechanism};
/// use mqtt_scram::client::{self, ClientConfig, ClientOptions};
/// let binding = ChannelBinding::new(ChannelBindingType::TlsExporter, [0xCB; 32]);
/// let options = ClientOptions::new().authzid(Some("admin")).channel_binding(Some(&binding));
/// let (_, first) = client::start_with(
///     &ClientConfig::new(), Mechanism::ScramSha256Plus, "alice", "pencil", options, &mut rand::rng())?;
/// assert!(first.starts_with(b"p=tls-exporter,a=admin,n=alice,r="));
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct ClientOptions<'a> {
    /// Authorization identity to send (`a=`).
    pub authzid: Option<&'a str>,
    /// TLS channel binding of the connection. Required for `-PLUS` mechanisms; with a
    /// non-PLUS mechanism its presence makes the client send the `y` flag.
    pub channel_binding: Option<&'a ChannelBinding>,
}

impl<'a> ClientOptions<'a> {
    /// No authorization identity, no channel binding.
    pub const fn new() -> Self {
        Self {
            authzid: None,
            channel_binding: None,
        }
    }

    /// Sends this authorization identity (`a=`).
    pub const fn authzid(mut self, authzid: Option<&'a str>) -> Self {
        self.authzid = authzid;
        self
    }

    /// Uses the connection's TLS channel binding.
    pub const fn channel_binding(mut self, binding: Option<&'a ChannelBinding>) -> Self {
        self.channel_binding = binding;
        self
    }
}

/// Cached SaltedPassword for re-authentication.
#[derive(Clone)]
struct SaltedCache {
    salt: Vec<u8>,
    iterations: u32,
    salted: Key,
}

/// Everything a client keeps across an exchange (password prepared, zeroized on drop).
#[derive(Clone)]
struct Session {
    config: ClientConfig,
    mechanism: Mechanism,
    username: String,
    authzid: Option<String>,
    password: Zeroizing<String>,
    channel_binding: Option<ChannelBinding>,
    cache: Option<SaltedCache>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Waiting for the server-first-message (AUTH 0x18 from the server).
///
/// ```
/// use mqtt_scram::{Mechanism, client::{self, ClientConfig}};
/// let (state, connect_data) =
///     client::start(&ClientConfig::new(), Mechanism::ScramSha256, "alice", "pencil", &mut rand::rng())?;
/// assert!(connect_data.starts_with(b"n,,n=alice,r="));
/// // A server-first-message whose nonce does not extend ours is refused.
/// assert!(state.on_server_first(b"r=other,s=c2FsdA==,i=4096").is_err());
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Debug)]
pub struct AwaitingServerFirst {
    session: Session,
    gs2_header: String,
    client_first_bare: String,
    client_nonce: String,
}

/// Waiting for the server-final-message (CONNACK, or AUTH 0x00 after re-authentication).
///
/// ```
/// use mqtt_scram::{Mechanism, client::{self, ClientConfig}};
/// let config = ClientConfig::new().iteration_window(1..=16);   // a test server's low count
/// let (state, first) = client::start(&config, Mechanism::ScramSha256, "alice", "pencil", &mut rand::rng())?;
/// let nonce = std::str::from_utf8(&first)?.rsplit("r=").next().unwrap_or_default().to_owned();
/// let (state, _client_final) = state.on_server_first(format!("r={nonce}xyz,s=c2FsdA==,i=16").as_bytes())?;
/// // `e=` from the server ends the exchange with its error.
/// assert!(state.on_server_final(b"e=invalid-proof").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AwaitingServerFinal {
    session: Session,
    expected_signature: Key,
}

/// Authentication succeeded; can start a re-authentication.
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::{ConnectionInfo, HashAlgorithm, Mechanism, Outcome, ScramServer, ServerConfig, StartPacket, StoredCredentials, Timestamp};
/// use mqtt_scram::client::{self, ClientConfig};
/// use mqtt_scram::provider::Lookup;
/// let mut rng = rand::rng();
/// let server = ScramServer::new(ServerConfig::new([1; 32]))?;
/// let record = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl", 4096)?;
/// let conn = Arc::new(ConnectionInfo::new("c"));
/// let now = Timestamp::new(Default::default(), 0);
/// let (c, first) = client::start(&ClientConfig::new(), Mechanism::ScramSha256, "alice", "pencil", &mut rng)?;
/// let Ok(pending) = server.start(&conn, StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(&first) }, now) else { unreachable!() };
/// let (challenge, auth) = pending.continue_with(Lookup::found(mqtt_scram::provider::UserRecord::new(record)), &mut rng);
/// let (c, last) = c.on_server_first(auth.data.as_deref().unwrap_or_default())?;
/// let Outcome::Accepted { reply, .. } = challenge.finish(0x18, "SCRAM-SHA-256", Some(&last), now) else { unreachable!() };
/// let authenticated = c.on_server_final(reply.data.as_deref().unwrap_or_default())?;
/// assert_eq!(authenticated.mechanism(), Mechanism::ScramSha256);
/// // Later: AUTH 0x19 with a new client-first-message, no PBKDF2 if the salt is unchanged.
/// let (_state, auth_data) = authenticated.reauthenticate(&mut rng);
/// assert!(auth_data.starts_with(b"n,,n=alice,r="));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Authenticated {
    session: Session,
}

/// Starts an exchange: prepares username and password (SASLprep) and returns the state
/// and the client-first-message for CONNECT's Authentication Data.
pub fn start<R: CryptoRng + ?Sized>(
    config: &ClientConfig,
    mechanism: Mechanism,
    username: &str,
    password: &str,
    rng: &mut R,
) -> Result<(AwaitingServerFirst, Vec<u8>), Error> {
    start_with(
        config,
        mechanism,
        username,
        password,
        ClientOptions::default(),
        rng,
    )
}

/// [`start`] with an authorization identity and/or channel binding.
pub fn start_with<R: CryptoRng + ?Sized>(
    config: &ClientConfig,
    mechanism: Mechanism,
    username: &str,
    password: &str,
    options: ClientOptions<'_>,
    rng: &mut R,
) -> Result<(AwaitingServerFirst, Vec<u8>), Error> {
    let session = Session::new(config, mechanism, username, password, options)?;
    Ok(session.begin(&random_nonce(config.nonce_len, rng)))
}

#[cfg(feature = "dangerous-fixed-nonces")]
pub(crate) fn start_with_nonce(
    config: &ClientConfig,
    mechanism: Mechanism,
    username: &str,
    password: &str,
    options: ClientOptions<'_>,
    nonce: &str,
) -> Result<(AwaitingServerFirst, Vec<u8>), Error> {
    Ok(Session::new(config, mechanism, username, password, options)?.begin(nonce))
}

/// A window must be non-empty and start at 1 or more.
fn check_window(window: &RangeInclusive<u32>) -> Result<(), Error> {
    let (min, max) = (*window.start(), *window.end());
    if min == 0 || min > max {
        return Err(Detail::InvalidIterationWindow { min, max }.into());
    }
    Ok(())
}

fn random_nonce<R: CryptoRng + ?Sized>(len: usize, rng: &mut R) -> String {
    let mut raw = [0u8; 96];
    let raw = raw.get_mut(..len).unwrap_or_default();
    rng.fill_bytes(raw);
    crate::message::encode_nonce(raw)
}

impl Session {
    fn new(
        config: &ClientConfig,
        mechanism: Mechanism,
        username: &str,
        password: &str,
        options: ClientOptions<'_>,
    ) -> Result<Self, Error> {
        check_window(&config.iteration_window)?;
        let username = saslprep(username, Mode::Query).map_err(|source| Detail::Saslprep {
            what: "username",
            source,
        })?;
        if username.is_empty() {
            return Err(Detail::EmptyUsername.into());
        }
        let authzid = options
            .authzid
            .map(|a| saslprep(a, Mode::Query).map(|a| a.into_owned()))
            .transpose()
            .map_err(|source| Detail::Saslprep {
                what: "authzid",
                source,
            })?;
        let password = Zeroizing::new(
            saslprep(password, Mode::Stored)
                .map_err(|source| Detail::Saslprep {
                    what: "password",
                    source,
                })?
                .into_owned(),
        );
        if mechanism.is_plus() && options.channel_binding.is_none() {
            return Err(Detail::ChannelBindingNotSupported.into());
        }
        Ok(Self {
            config: config.clone(),
            mechanism,
            username: username.into_owned(),
            authzid,
            password,
            channel_binding: options.channel_binding.cloned(),
            cache: None,
        })
    }

    fn begin(self, nonce: &str) -> (AwaitingServerFirst, Vec<u8>) {
        let flag = match (&self.channel_binding, self.mechanism.is_plus()) {
            (Some(b), true) => CbindFlag::Used(b.kind().name()),
            (Some(_), false) => CbindFlag::SupportedNotUsed,
            (None, _) => CbindFlag::NotSupported,
        };
        let (message, bare_start) =
            ClientFirst::write(flag, self.authzid.as_deref(), &self.username, nonce);
        let state = AwaitingServerFirst {
            gs2_header: message.get(..bare_start).unwrap_or_default().into(),
            client_first_bare: message.get(bare_start..).unwrap_or_default().into(),
            client_nonce: nonce.into(),
            session: self,
        };
        (state, message.into_bytes())
    }
}

impl AwaitingServerFirst {
    /// Handles the server-first-message: checks the nonce and the iteration count, derives
    /// (or reuses) the SaltedPassword and returns the client-final-message for AUTH 0x18.
    pub fn on_server_first(self, data: &[u8]) -> Result<(AwaitingServerFinal, Vec<u8>), Error> {
        let mut session = self.session;
        let first = ServerFirst::parse(data, session.config.max_message_len)?;
        let nonce_ok = first.nonce().len() > self.client_nonce.len()
            && first.nonce().starts_with(&self.client_nonce);
        if !nonce_ok {
            return Err(Detail::NonceMismatch.into());
        }
        let window = &session.config.iteration_window;
        if !window.contains(&first.iterations()) {
            return Err(Detail::IterationCountOutOfRange {
                iterations: first.iterations(),
                min: *window.start(),
                max: *window.end(),
            }
            .into());
        }
        // The parser refuses `i=0`; the count is checked again here so that PBKDF2 can
        // never run with it.
        let count = core::num::NonZeroU32::new(first.iterations()).ok_or(Detail::Malformed {
            message: MessageKind::ServerFirst,
            problem: Problem::InvalidIterationCount,
        })?;
        let hash = session.mechanism.hash();
        let salted = match &session.cache {
            Some(c) if c.salt == first.salt() && c.iterations == first.iterations() => {
                c.salted.clone()
            }
            _ => crypto::hi(hash, session.password.as_bytes(), first.salt(), count),
        };
        let cbind_data = match (&session.channel_binding, session.mechanism.is_plus()) {
            (Some(b), true) => b.data(),
            _ => &[],
        };
        let mut message =
            write_client_final_without_proof(self.gs2_header.as_bytes(), cbind_data, first.nonce());
        let auth_message: [&[u8]; 5] = [
            self.client_first_bare.as_bytes(),
            b",",
            first.as_str().as_bytes(),
            b",",
            message.as_bytes(),
        ];
        let client_key = crypto::client_key(hash, &salted);
        let stored_key = crypto::stored_key(hash, &client_key);
        let client_signature = crypto::hmac(hash, stored_key.as_bytes(), &auth_message);
        let proof = crypto::xor(&client_key, &client_signature);
        let server_key = crypto::server_key(hash, &salted);
        let expected_signature = crypto::hmac(hash, server_key.as_bytes(), &auth_message);
        push_proof(&mut message, &proof);
        session.cache = Some(SaltedCache {
            salt: first.salt().to_vec(),
            iterations: first.iterations(),
            salted,
        });
        Ok((
            AwaitingServerFinal {
                session,
                expected_signature,
            },
            message.into_bytes(),
        ))
    }
}

impl AwaitingServerFinal {
    /// Handles the server-final-message: `v=` must equal the expected server signature
    /// (constant-time); `e=` is returned as [`ErrorKind::ServerError`](crate::ErrorKind::ServerError)
    /// ([`Error::received_server_error`] gives the value).
    pub fn on_server_final(self, data: &[u8]) -> Result<Authenticated, Error> {
        let last = ServerFinal::parse(
            data,
            self.session.mechanism.hash().output_len(),
            self.session.config.max_message_len,
        )?;
        match last.outcome() {
            ServerFinalOutcome::Error(e) => Err(Detail::ServerError(e.clone()).into()),
            ServerFinalOutcome::Verifier(v) if *v == self.expected_signature => Ok(Authenticated {
                session: self.session,
            }),
            ServerFinalOutcome::Verifier(_) => Err(Detail::InvalidServerSignature.into()),
        }
    }
}

impl Authenticated {
    /// The mechanism that authenticated (the Authentication Method for AUTH 0x19).
    pub fn mechanism(&self) -> Mechanism {
        self.session.mechanism
    }

    /// Starts a re-authentication (AUTH 0x19 with the returned client-first-message).
    /// The SaltedPassword is reused when the server sends the same salt and count.
    pub fn reauthenticate<R: CryptoRng + ?Sized>(
        self,
        rng: &mut R,
    ) -> (AwaitingServerFirst, Vec<u8>) {
        let nonce = random_nonce(self.session.config.nonce_len, rng);
        self.session.begin(&nonce)
    }

    #[cfg(feature = "dangerous-fixed-nonces")]
    pub(crate) fn reauthenticate_with_nonce(self, nonce: &str) -> (AwaitingServerFirst, Vec<u8>) {
        self.session.begin(nonce)
    }
}

/// `Deserialize` (feature `serde`), e.g. in TOML:
/// `iteration_window = [4096, 1000000]`, `nonce_len = 24`, `max_message_len = 4096`
/// (each optional; unknown keys are refused and errors name the key).
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use mqtt_scram::client::ClientConfig;
/// let config: ClientConfig = serde_json::from_str(r#"{"iteration_window": [4096, 600000]}"#).unwrap();
/// assert_eq!(config, ClientConfig::new().iteration_window(4096..=600_000));
/// assert!(serde_json::from_str::<ClientConfig>(r#"{"iterations": 1}"#).is_err());
/// # }
/// ```
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl<'de> serde::Deserialize<'de> for ClientConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Settings {
            iteration_window: Option<[u32; 2]>,
            nonce_len: Option<usize>,
            max_message_len: Option<usize>,
        }
        let settings = Settings::deserialize(deserializer)?;
        let mut config = ClientConfig::new();
        if let Some([lo, hi]) = settings.iteration_window {
            if lo == 0 || lo > hi {
                return Err(serde::de::Error::custom(alloc::format!(
                    "iteration_window: [{lo}, {hi}] must be a non-empty range starting at 1 or more"
                )));
            }
            config = config.iteration_window(lo..=hi);
        }
        if let Some(n) = settings.nonce_len {
            config = config.nonce_len(n);
        }
        if let Some(n) = settings.max_message_len {
            config = config.max_message_len(n);
        }
        Ok(config)
    }
}
