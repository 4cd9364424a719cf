//! What an exchange ends with: [`Outcome`], the authenticated [`Identity`], or a
//! [`Rejection`] carrying the packet to send.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::Error;
use crate::mechanism::Mechanism;
use crate::message::ServerErrorValue;
use crate::mqtt::{PacketType, ReasonCode, Reply};
use crate::provider::{AuthzData, UserAttributes};

/// Who the client is, once authenticated.
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::{Identity, Mechanism, provider::UserAttributes};
/// let identity = Identity::new("alice", Mechanism::ScramSha256, Arc::new(UserAttributes::new()));
/// assert_eq!(identity.username, "alice");
/// assert!(!identity.is_superuser());
/// assert_eq!(identity.expire_at(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// SCRAM username (SASLprep'd, unescaped).
    pub username: String,
    /// Authorization identity, when the client sent one and the config allows it.
    pub authzid: Option<String>,
    /// Mechanism used.
    pub mechanism: Mechanism,
    /// What the provider said about the user, shared with its record.
    pub attributes: Arc<UserAttributes>,
}

impl Identity {
    /// An identity (the engine builds these; brokers build them for other ways of
    /// authenticating, and tests).
    pub fn new(
        username: impl Into<String>,
        mechanism: Mechanism,
        attributes: Arc<UserAttributes>,
    ) -> Self {
        Self {
            username: username.into(),
            authzid: None,
            mechanism,
            attributes,
        }
    }

    /// The same identity with an authorization identity.
    pub fn with_authzid(mut self, authzid: Option<String>) -> Self {
        self.authzid = authzid;
        self
    }

    /// From the provider: whether the user is a superuser.
    pub fn is_superuser(&self) -> bool {
        self.attributes.is_superuser
    }

    /// From the provider: Unix seconds at which the broker should end the session.
    pub fn expire_at(&self) -> Option<u64> {
        self.attributes.expire_at
    }

    /// From the provider: client attributes.
    pub fn client_attrs(&self) -> &BTreeMap<String, String> {
        &self.attributes.client_attrs
    }

    /// From the provider: authorization data for the broker's authorizer.
    pub fn authz(&self) -> Option<&AuthzData> {
        self.attributes.authz.as_ref()
    }
}

/// A failed step: what to send, and why (for logs).
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::{ConnectionInfo, ErrorKind, PacketType, ReasonCode, ScramServer, ServerConfig, StartPacket, Timestamp};
/// let server = ScramServer::new(ServerConfig::new([1; 32]))?;
/// let start = StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(b"garbage") };
/// let rejection = server.start(&Arc::new(ConnectionInfo::new("c")), start, Timestamp::new(Default::default(), 0)).unwrap_err();
/// assert_eq!((rejection.reply.packet, rejection.reply.reason_code), (PacketType::Connack, ReasonCode::NotAuthorized));
/// assert_eq!(rejection.error.kind(), ErrorKind::Malformed);
/// # Ok::<(), mqtt_scram::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// CONNACK (exchange from CONNECT) or DISCONNECT (re-authentication) with the reason code.
    pub reply: Reply,
    /// The cause, for the operator. Unknown users show as [`ErrorKind::UnknownUser`](crate::ErrorKind::UnknownUser), provider
    /// failures as [`ErrorKind::CredentialsUnavailable`](crate::ErrorKind::CredentialsUnavailable) with the provider's reason
    /// ([`Error::ignore_reason`]), but the
    /// reply is identical to a wrong password's.
    pub error: Error,
}

/// The end of an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
// The accepted variant is the common one; boxing it would add an allocation per login.
/// Error returned when a string is not a supported mechanism name.
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::{ConnectionInfo, ErrorKind, Outcome, ScramServer, ServerConfig, StartPacket, Timestamp};
/// use mqtt_scram::provider::Lookup;
/// let server = ScramServer::new(ServerConfig::new([1; 32]))?;
/// let now = Timestamp::new(Default::default(), 0);
/// let start = StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(b"n,,n=alice,r=abcdef") };
/// let pending = server.start(&Arc::new(ConnectionInfo::new("c")), start, now).expect("valid");
/// let (challenge, _) = pending.continue_with(Lookup::NotFound, &mut rand::rng());
/// // A client-final that does not continue the server's nonce.
/// let last = b"c=biws,r=abcdef,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
/// match challenge.finish(0x18, "SCRAM-SHA-256", Some(last), now) {
///     Outcome::Accepted { .. } => unreachable!(),
///     Outcome::Rejected(rejection) => assert_eq!(rejection.error.kind(), ErrorKind::NonceMismatch),
/// }
/// # Ok::<(), mqtt_scram::ConfigError>(())
/// ```
#[allow(clippy::large_enum_variant)]
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

/// Which packet started the exchange; decides the shape of every reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Trigger {
    Connect,
    Reauth,
}

impl Trigger {
    pub(super) fn reject(self, method: Option<Mechanism>, error: Error) -> Rejection {
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

    /// The rejection of an exchange that reached the proof check: 0x87 with
    /// `e=invalid-proof` (`e=other-error` for a record that expired), built without looking
    /// at which error it is, so that a wrong password, an unknown user and an unusable
    /// record take the same path.
    pub(super) fn reject_after_proof(
        self,
        method: Mechanism,
        error: Error,
        expired: bool,
    ) -> Rejection {
        let reply = match self {
            Trigger::Connect => {
                // `expired` is false for every failure but one a client that knows the
                // password can cause, so this branch tells a wrong password from an
                // unknown user no more than the reply does.
                let value = if expired {
                    ServerErrorValue::OtherError.as_static()
                } else {
                    ServerErrorValue::InvalidProof.as_static()
                };
                let mut data = Vec::with_capacity(2 + value.len());
                data.extend_from_slice(b"e=");
                data.extend_from_slice(value.as_bytes());
                Reply {
                    packet: PacketType::Connack,
                    reason_code: ReasonCode::NotAuthorized,
                    method: Some(method),
                    data: Some(data),
                }
            }
            Trigger::Reauth => Reply {
                packet: PacketType::Disconnect,
                reason_code: ReasonCode::NotAuthorized,
                method: None,
                data: None,
            },
        };
        Rejection { reply, error }
    }

    /// The packet and reason code of a success.
    pub(super) fn success(self) -> (PacketType, ReasonCode) {
        match self {
            Trigger::Connect => (PacketType::Connack, ReasonCode::Success),
            Trigger::Reauth => (PacketType::Auth, ReasonCode::Success),
        }
    }
}
