//! What the broker does next: [`Step`] (the packet to send) and its [`Status`].

use std::fmt;

use mqtt_scram::provider::IgnoreReason;
use mqtt_scram::{Error, Identity, Mechanism, PacketType, Reply};

use crate::admission::Refusal;

/// What [`ConnectionAuth::on_connect_without_method`](crate::ConnectionAuth::on_connect_without_method)
/// answers to a CONNECT without an Authentication Method (set with
/// [`Builder::without_method`](crate::Builder::without_method)).
///
/// ```
/// use mqtt_scram_authenticator::WithoutMethod;
/// assert_eq!(WithoutMethod::default(), WithoutMethod::NotAuthorized);
/// assert_eq!(WithoutMethod::BadAuthenticationMethod.reason_code(), 0x8C);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WithoutMethod {
    /// CONNACK 0x87 Not authorized (the default: this listener requires SCRAM).
    #[default]
    NotAuthorized,
    /// CONNACK 0x8C Bad authentication method.
    BadAuthenticationMethod,
    /// Hand the CONNECT to the broker's own username/password check: the step's status is
    /// [`Status::PasswordPath`] (its packet is CONNACK 0x87, so sending it still refuses).
    PasswordPath,
}

impl WithoutMethod {
    /// The CONNACK reason code of the step (0x87 for `PasswordPath`, which fails closed).
    pub fn reason_code(self) -> u8 {
        match self {
            Self::NotAuthorized | Self::PasswordPath => 0x87,
            Self::BadAuthenticationMethod => 0x8C,
        }
    }
}

/// The packet to send, and what it means for the connection.
///
/// Every step of one exchange carries the client's Authentication Method
/// ([MQTT-4.12.0-5]), except DISCONNECT and refusals before the exchange began.
///
/// ```
/// use mqtt_scram::PacketType;
/// use mqtt_scram_authenticator::{Failure, Status, Step};
/// use mqtt_scram_authenticator::admission::Refusal;
/// let step = Step::refused(PacketType::Connack, Refusal::PerAddress);
/// assert_eq!((step.packet, step.reason_code), (PacketType::Connack, 0x89));
/// assert!(step.closes());
/// assert!(matches!(step.status, Status::Failed(Failure::Busy(Refusal::PerAddress))));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// CONNACK, AUTH or DISCONNECT.
    pub packet: PacketType,
    /// Its reason code (0x00, 0x18, 0x87, 0x89, 0x8C, 0x82, 0xA0, ...).
    pub reason_code: u8,
    /// Authentication Method property, when the packet carries one.
    pub method: Option<Mechanism>,
    /// Authentication Data property (a SCRAM message), when there is one.
    pub data: Option<Vec<u8>>,
    /// What happens to the connection once the packet is sent.
    pub status: Status,
}

impl Step {
    /// A step that sends what the engine asked for.
    pub fn from_reply(reply: Reply, status: Status) -> Self {
        Self {
            packet: reply.packet,
            reason_code: reply.reason_code.to_u8(),
            method: reply.method,
            data: reply.data,
            status,
        }
    }

    /// A refusal by the admission policy: `packet` (CONNACK on CONNECT, DISCONNECT during a
    /// session) with 0x89 Server busy.
    pub fn refused(packet: PacketType, refusal: Refusal) -> Self {
        Self::failed(packet, refusal.reason_code(), Failure::Busy(refusal))
    }

    /// A failure with no authentication properties.
    pub fn failed(packet: PacketType, reason_code: u8, failure: Failure) -> Self {
        Self {
            packet,
            reason_code,
            method: None,
            data: None,
            status: Status::Failed(failure),
        }
    }

    /// Whether the broker must close the connection after sending the packet.
    pub fn closes(&self) -> bool {
        matches!(self.status, Status::Failed(_))
    }

    /// The identity, when this step authenticates (or re-authenticates) the client.
    pub fn identity(&self) -> Option<&Identity> {
        match &self.status {
            Status::Authenticated(identity) | Status::Reauthenticated(identity) => Some(identity),
            Status::Continue | Status::Failed(_) | Status::PasswordPath => None,
        }
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SCRAM messages hold no secret in the clear, but signatures are not worth logging.
        f.debug_struct("Step")
            .field("packet", &self.packet)
            .field("reason_code", &format_args!("0x{:02X}", self.reason_code))
            .field("method", &self.method)
            .field("data_len", &self.data.as_ref().map(Vec::len))
            .field("status", &self.status)
            .finish()
    }
}

/// What a [`Step`] means for the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Send the packet (AUTH 0x18) and wait for the client's AUTH.
    Continue,
    /// Send the packet (CONNACK 0x00): the client is authenticated as this identity.
    Authenticated(Identity),
    /// Send the packet (AUTH 0x00): the re-authentication succeeded; this identity replaces
    /// the previous one (its attributes, ACL and `expire_at` may have changed).
    Reauthenticated(Identity),
    /// Send the packet, then close the connection (MQTT 5.0 §4.12: a failed authentication or
    /// re-authentication ends the connection).
    Failed(Failure),
    /// A CONNECT without an Authentication Method, with
    /// [`WithoutMethod::PasswordPath`](crate::WithoutMethod::PasswordPath) configured: this is
    /// not enhanced authentication. Check the CONNECT's username and password your own way
    /// (e.g. `mqtt_scram_authz::fallback`) and send your own CONNACK. The step carries
    /// CONNACK 0x87, so sending it by mistake still refuses the client (fail closed).
    PasswordPath,
}

/// Why a connection is refused or ended: for the operator (logs, metrics). The client sees
/// only the packet, so an unknown user, a provider that is down and a wrong password all look
/// the same (0x87 `e=invalid-proof`).
///
/// ```
/// # use std::sync::Arc;
/// # use mqtt_scram::client::{self, ClientConfig};
/// # use mqtt_scram::{ConnectionInfo, Mechanism, Outcome, ScramServer, ServerConfig, StartPacket, Timestamp};
/// use mqtt_scram::provider::{IgnoreKind, IgnoreReason, Lookup};
/// use mqtt_scram_authenticator::Failure;
/// # let (client, first) = client::start(&ClientConfig::new(), Mechanism::ScramSha256, "alice", "pencil", &mut rand::rng())?;
/// # let server = ScramServer::new(ServerConfig::new([1; 32]))?;
/// # let now = Timestamp::new(Default::default(), 0);
/// # let start = StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(&first) };
/// # let pending = server.start(&Arc::new(ConnectionInfo::new("c")), start, now).expect("valid");
/// // The store did not answer: the engine runs the exchange on and rejects it.
/// let lookup = Lookup::Ignore(IgnoreReason::timeout("db-1 did not answer in 2s"));
/// let (challenge, reply) = pending.continue_with(lookup, &mut rand::rng());
/// # let (_, last) = client.on_server_first(reply.data.as_deref().unwrap_or_default())?;
/// let Outcome::Rejected(rejection) = challenge.finish(0x18, "SCRAM-SHA-256", Some(&last), now) else {
///     unreachable!()
/// };
/// let failure = Failure::Rejected(rejection.error);
/// assert_eq!(failure.ignore_reason().map(|r| r.kind()), Some(IgnoreKind::Timeout));
/// assert_eq!(failure.label(), "credentials_unavailable");
/// assert_eq!(failure.to_string(), "credentials unavailable (timeout: db-1 did not answer in 2s)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The engine rejected the exchange; an error of kind
    /// [`ErrorKind::CredentialsUnavailable`](mqtt_scram::ErrorKind::CredentialsUnavailable)
    /// carries the provider's [`IgnoreReason`] ([`Error::ignore_reason`]).
    Rejected(Error),
    /// The admission policy refused the handshake (0x89).
    Busy(Refusal),
    /// The session's credentials expired (`expire_at`): DISCONNECT 0xA0 Maximum connect time.
    CredentialsExpired,
    /// An AUTH packet arrived when no exchange could take it (before CONNECT, after the
    /// connection failed): 0x82 Protocol Error.
    OutOfSequence,
    /// A CONNECT without an Authentication Method, refused as
    /// [`WithoutMethod`](crate::WithoutMethod) says (0x87 or 0x8C).
    NoMethod,
}

impl Failure {
    /// The provider's reason, when the provider could not decide.
    pub fn ignore_reason(&self) -> Option<&IgnoreReason> {
        match self {
            Self::Rejected(error) => error.ignore_reason(),
            _ => None,
        }
    }

    /// A short stable name for metrics (the `reason` label): see
    /// [`observe::error_label`](crate::observe::error_label) for engine errors, the
    /// refusal's [`label`](Refusal::label) for refusals, `credentials_expired`,
    /// `out_of_sequence`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Rejected(error) => crate::observe::error_label(error),
            Self::Busy(refusal) => refusal.label(),
            Self::CredentialsExpired => "credentials_expired",
            Self::OutOfSequence => "out_of_sequence",
            Self::NoMethod => "no_method",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(error) => fmt::Display::fmt(error, f),
            Self::Busy(refusal) => write!(f, "server busy: {refusal}"),
            Self::CredentialsExpired => f.write_str("credentials expired (expire_at)"),
            Self::OutOfSequence => f.write_str("AUTH packet out of sequence"),
            Self::NoMethod => f.write_str(
                "CONNECT without an Authentication Method on a listener that requires SCRAM",
            ),
        }
    }
}

impl std::error::Error for Failure {}
