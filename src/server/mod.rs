//! The server side: typed, consuming states from CONNECT (or AUTH 0x19) to CONNACK
//! (or AUTH 0x00), with the credential lookup as a state of its own.
//!
//! ```text
//! ScramServer::start ──▶ NeedCredentials ──continue_with(lookup)──▶ ServerChallenge ──finish──▶ Outcome
//!                         (caller looks up)                         (AUTH 0x18 sent)
//! ```
//! Each step consumes its state, so steps cannot be repeated or reordered.

mod challenge;
mod config;
mod outcome;
mod pending;
mod transcript;

pub use challenge::ServerChallenge;
pub use config::{
    ConfigError, MAX_NONCE_LEN, MIN_MESSAGE_LEN, MIN_NONCE_LEN, RecordPolicy, ServerConfig,
};
pub use outcome::{Identity, Outcome, Rejection};
pub use pending::NeedCredentials;

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;
use core::num::NonZeroU32;

use self::outcome::Trigger;
use self::pending::Username;
use self::transcript::{Span, Transcript};
use crate::connection::ConnectionInfo;
use crate::credentials::{DEFAULT_SALT_LEN, StoredCredentials};
use crate::error::{Detail, Error};
use crate::mechanism::{HashAlgorithm, Mechanism};
use crate::message::{CbindFlag, ClientFirst, MessageKind, Problem, encoded_len};
use crate::mqtt::ReasonCode;
use crate::provider::UserRecord;
use crate::saslprep::{Mode, saslprep};
use crate::time::Timestamp;

/// A SCRAM server: cheap to clone, shareable across connections and threads.
///
/// ```
/// use mqtt_scram::{ScramServer, ServerConfig};
/// let server = ScramServer::new(ServerConfig::new([0x5a; 32]))?;
/// assert_eq!(server.config().timeout().as_secs(), 30);
/// # Ok::<(), mqtt_scram::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ScramServer {
    shared: Arc<Shared>,
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramServer")
            .field("config", &self.shared.config)
            .finish()
    }
}

/// What every exchange of one server shares.
pub(super) struct Shared {
    pub(super) config: ServerConfig,
    /// The unknown user's record for SHA-256 and SHA-512: all-zero keys with their HMAC
    /// states, the mock iteration count. Every exchange that cannot use the provider's
    /// record (unknown user, provider failure, record of the wrong hash or outside the
    /// policy) takes a shared handle to it and drops it at the end, exactly as it would
    /// a provider's record, so both cost the same.
    pub(super) mock: [Arc<UserRecord>; 2],
}

impl Shared {
    pub(super) fn mock(&self, hash: HashAlgorithm) -> &Arc<UserRecord> {
        let [sha256, sha512] = &self.mock;
        match hash {
            HashAlgorithm::Sha256 => sha256,
            HashAlgorithm::Sha512 => sha512,
        }
    }
}

/// The packet that starts an exchange.
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::{ConnectionInfo, ErrorKind, Identity, Mechanism, ScramServer, ServerConfig, StartPacket, Timestamp};
/// let server = ScramServer::new(ServerConfig::new([1; 32]))?;
/// let current = Identity::new("alice", Mechanism::ScramSha256, Arc::default());
/// // AUTH 0x19 on an authenticated connection: the same user again.
/// let start = StartPacket::Reauthenticate {
///     reason_code: 0x19,
///     method: "SCRAM-SHA-256",
///     data: Some(b"n,,n=bob,r=abcdef"),
///     current: &current,
/// };
/// let rejection = server.start(&Arc::new(ConnectionInfo::new("c")), start, Timestamp::new(Default::default(), 0)).unwrap_err();
/// assert_eq!(rejection.error.kind(), ErrorKind::ReauthUserMismatch);
/// # Ok::<(), mqtt_scram::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
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

impl ScramServer {
    /// Checks the configuration ([`ServerConfig::validate`]), builds the unknown user's
    /// records, and wraps both.
    pub fn new(config: ServerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let policy = config.policy().iterations();
        let mock_record = |hash| {
            let iterations = config.mock_shape_for(hash).iterations();
            NonZeroU32::new(iterations)
                .map(|n| Arc::new(UserRecord::new(StoredCredentials::mock(hash, n))))
                .ok_or(ConfigError::MockIterations {
                    value: iterations,
                    min: *policy.start(),
                    max: *policy.end(),
                })
        };
        let mock = [
            mock_record(HashAlgorithm::Sha256)?,
            mock_record(HashAlgorithm::Sha512)?,
        ];
        Ok(Self {
            shared: Arc::new(Shared { config, mock }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Starts an exchange from CONNECT or AUTH 0x19 at `now`; deadlines are on the
    /// monotonic clock of `now` (see [`Timestamp`]).
    ///
    /// Allocates nothing for a typical client-first-message (the transcript is kept
    /// inline) unless the username changes under SASLprep or unescaping, or the client
    /// sends an authorization identity.
    #[inline]
    pub fn start(
        &self,
        connection: &Arc<ConnectionInfo>,
        packet: StartPacket<'_>,
        now: Timestamp,
    ) -> Result<NeedCredentials, Rejection> {
        let config = &self.shared.config;
        let (trigger, method, data, current) = match packet {
            StartPacket::Connect { method, data } => (Trigger::Connect, method, data, None),
            StartPacket::Reauthenticate {
                reason_code,
                method,
                data,
                current,
            } => {
                if reason_code != ReasonCode::ReAuthenticate.to_u8() {
                    let error = Detail::UnexpectedReasonCode {
                        expected: ReasonCode::ReAuthenticate,
                        found: reason_code,
                    }
                    .into();
                    return Err(Trigger::Reauth.reject(None, error));
                }
                (Trigger::Reauth, method, data, Some(current))
            }
        };
        let mechanism = Mechanism::from_name(method)
            .filter(|m| config.mechanisms.contains(m))
            .ok_or_else(|| trigger.reject(None, Detail::UnsupportedMechanism.into()))?;
        if let Some(current) = current {
            if current.mechanism != mechanism {
                return Err(trigger.reject(None, Detail::MethodChanged.into()));
            }
        }
        let fail = |error| trigger.reject(Some(mechanism), error);
        let invalid_username = || {
            fail(Error::from(Detail::Malformed {
                message: MessageKind::ClientFirst,
                problem: Problem::InvalidUsername,
            }))
        };
        let data = data.ok_or_else(|| fail(Detail::MissingData.into()))?;
        if data.len() > (u32::MAX / 2) as usize {
            return Err(fail(Error::from(Detail::TooLong {
                message: MessageKind::ClientFirst,
                len: data.len(),
                max: (u32::MAX / 2) as usize,
            })));
        }
        let first = match ClientFirst::parse_simple(data, config.max_message_len) {
            Some(first) => first,
            None => ClientFirst::parse(data, config.max_message_len).map_err(fail)?,
        };
        self.check_binding(&first, mechanism, connection)
            .map_err(fail)?;
        let username = saslprep(first.username(), Mode::Query)
            .ok()
            .filter(|u| !u.is_empty())
            .ok_or_else(invalid_username)?;
        let authzid = match first.gs2().authzid.as_deref() {
            None => None,
            Some(a) if a == username => None,
            Some(a) if config.allow_authzid => Some(Box::<str>::from(a)),
            Some(_) => return Err(fail(Detail::AuthzidNotAllowed.into())),
        };
        if let Some(current) = current {
            if current.username != username || current.authzid.as_deref() != authzid.as_deref() {
                return Err(fail(Detail::ReauthUserMismatch.into()));
            }
        }
        let (gs2, nonce) = (first.gs2().as_str(), first.nonce());
        // client-first-message-bare is "n=" ‖ wire username ‖ ",r=" ‖ nonce [‖ ",ext"],
        // and the message is gs2 header ‖ bare.
        let wire = first.username_wire();
        // Room for ",server-first," with a generated-length salt, so `continue_with`
        // usually writes it without growing the buffer.
        let mock_shape = config.mock_shape_for(mechanism.hash());
        let server_first_len = 2
            + nonce.len()
            + encoded_len(config.nonce_len)
            + 3
            + encoded_len(mock_shape.salt_len().max(DEFAULT_SALT_LEN))
            + 3
            + 10
            + 2;
        let transcript = Transcript::starting_with(data, server_first_len);
        let gs2 = Span::new(0, gs2.len());
        let wire_user = Span::new(gs2.len() + 2, wire.len());
        let nonce = Span::new(gs2.len() + 2 + wire.len() + 3, nonce.len());
        // The username is usually its wire form: then it is read from the transcript.
        // (`ptr::eq` on slices compares address and length: SASLprep returned the wire
        // text itself, so no byte comparison is needed.)
        let username = if core::ptr::eq(&*username, wire) || wire == username {
            Username::Wire(wire_user)
        } else {
            Username::Prepared(username.into())
        };
        Ok(NeedCredentials {
            shared: Arc::clone(&self.shared),
            connection: Arc::clone(connection),
            trigger,
            mechanism,
            username,
            authzid,
            transcript,
            gs2,
            nonce,
            mock_shape,
            deadline: now.monotonic().saturating_add(config.handshake_timeout),
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
                    .ok_or(Detail::ChannelBindingNotSupported)?;
                if binding.kind().name() != name {
                    return Err(Detail::UnsupportedChannelBindingType.into());
                }
                Ok(())
            }
            (CbindFlag::Used(_), false) | (_, true) => {
                Err(Detail::ChannelBindingMechanismMismatch.into())
            }
            (CbindFlag::SupportedNotUsed, false) => {
                if self.shared.config.offers_binding() && conn.channel_binding.is_some() {
                    Err(Detail::ChannelBindingDowngrade.into())
                } else {
                    Ok(())
                }
            }
            (CbindFlag::NotSupported, false) => Ok(()),
        }
    }
}
