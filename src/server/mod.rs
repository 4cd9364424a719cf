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

pub use challenge::{NeedCredentials, ServerChallenge};
pub use config::{
    ConfigError, MAX_NONCE_LEN, MIN_MESSAGE_LEN, MIN_NONCE_LEN, RecordPolicy, ServerConfig,
};
pub use outcome::{Identity, Outcome, Rejection};

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use self::challenge::Span;
use self::outcome::Trigger;
use crate::connection::ConnectionInfo;
use crate::credentials::DEFAULT_SALT_LEN;
use crate::error::Error;
use crate::mechanism::Mechanism;
use crate::message::{CbindFlag, ClientFirst, MessageKind, Problem};
use crate::mqtt::ReasonCode;
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
#[derive(Clone, Debug)]
pub struct ScramServer {
    config: Arc<ServerConfig>,
}

/// The packet that starts an exchange.
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
    /// Checks the configuration ([`ServerConfig::validate`]) and wraps it.
    pub fn new(config: ServerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Starts an exchange from CONNECT or AUTH 0x19 at `now`; deadlines are on the
    /// monotonic clock of `now` (see [`Timestamp`]).
    pub fn start(
        &self,
        connection: &Arc<ConnectionInfo>,
        packet: StartPacket<'_>,
        now: Timestamp,
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
            gs2_len: u32::try_from(gs2.len()).unwrap_or(u32::MAX),
            client_nonce,
            deadline: now
                .monotonic()
                .saturating_add(self.config.handshake_timeout),
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
