//! The per-connection object: [`ConnectionAuth`].

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::provider::{IgnoreReason, Lookup};
use mqtt_scram::server::ServerChallenge;
use mqtt_scram::{
    ConnectionInfo, Identity, Mechanism, Outcome, PacketType, RecordPolicy, Reply, StartPacket,
    Timestamp,
};

use crate::admission::{HandshakeTicket, Notice, Refusal};
use crate::authenticator::Shared;
use crate::observe::HandshakeKind;
use crate::runtime::within;
use crate::step::{Failure, Status, Step, WithoutMethod};
use crate::tracker::{Nanos, Tracker};

/// DISCONNECT reason code when the session's credentials expire (MQTT 5.0: 0xA0 Maximum
/// connect time).
pub const MAXIMUM_CONNECT_TIME: u8 = 0xA0;
/// Reason code for an AUTH that no exchange can take (0x82 Protocol Error).
pub const PROTOCOL_ERROR: u8 = 0x82;

/// The authentication state of one connection: feed it the CONNECT's and AUTH packets'
/// fields, send the [`Step`] it returns, and arm a timer for [`deadline`](Self::deadline)
/// (or `select!` on [`timeout`](Self::timeout)).
///
/// Dropping a call's future before it completes (e.g. the socket closed) ends the
/// authentication: the connection must close.
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::{ConnectionInfo, HashAlgorithm, PacketType, ServerConfig, StoredCredentials};
/// use mqtt_scram::client::{self, ClientConfig};
/// use mqtt_scram::provider::{MemoryProvider, UserRecord};
/// use mqtt_scram_authenticator::{Authenticator, Status};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryProvider::new();
/// store.insert("alice", UserRecord::new(StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)?));
/// let authenticator = Authenticator::builder(ServerConfig::new([0x5a; 32]), store).build()?;
/// let mut auth = authenticator.connection(Arc::new(ConnectionInfo::new("client-1")));
///
/// // CONNECT with Authentication Method and Data (a client-first-message):
/// let (client, first) = client::start(&ClientConfig::new(), mqtt_scram::Mechanism::ScramSha256, "alice", "pencil", &mut rand::rng())?;
/// let step = auth.on_connect("SCRAM-SHA-256", Some(&first)).await;
/// assert_eq!((step.packet, step.reason_code), (PacketType::Auth, 0x18));   // send AUTH 0x18
///
/// // AUTH 0x18 from the client (client-final-message):
/// let (client, last) = client.on_server_first(step.data.as_deref().unwrap_or_default())?;
/// let step = auth.on_auth(0x18, Some("SCRAM-SHA-256"), Some(&last)).await;
/// assert_eq!((step.packet, step.reason_code), (PacketType::Connack, 0x00)); // send CONNACK 0x00
/// assert!(matches!(&step.status, Status::Authenticated(identity) if identity.username == "alice"));
/// client.on_server_final(step.data.as_deref().unwrap_or_default())?;
/// # Ok(()) }
/// ```
pub struct ConnectionAuth {
    shared: Arc<Shared>,
    info: Arc<ConnectionInfo>,
    state: State,
}

// The waiting CONNECT's state inline: boxing it would cost an allocation per connection.
#[allow(clippy::large_enum_variant)]
enum State {
    New,
    Connecting(Pending),
    Authenticated {
        identity: Identity,
        /// When the credentials expire, on the clock's monotonic scale.
        expires: Option<Duration>,
        /// Boxed: re-authentications are rare, and the state of every connection is as
        /// large as its largest variant.
        reauth: Option<Box<Pending>>,
    },
    Closed,
}

/// A challenge sent, waiting for the client's answer.
struct Pending {
    challenge: ServerChallenge,
    client_deadline: Nanos,
    tracker: Tracker,
    _ticket: HandshakeTicket,
}

impl fmt::Debug for ConnectionAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::New => "new",
            State::Connecting(_) => "connecting",
            State::Authenticated { reauth: None, .. } => "authenticated",
            State::Authenticated {
                reauth: Some(_), ..
            } => "re-authenticating",
            State::Closed => "closed",
        };
        f.debug_struct("ConnectionAuth")
            .field("peer", &self.info.peer)
            .field("client_id", &self.info.client_id)
            .field("state", &state)
            .field("identity", &self.identity().map(|i| &i.username))
            .finish()
    }
}

fn packet_for(kind: HandshakeKind) -> PacketType {
    match kind {
        HandshakeKind::Connect => PacketType::Connack,
        HandshakeKind::Reauth => PacketType::Disconnect,
    }
}

/// Whether the engine will answer `lookup` with a challenge from the mock key (for the
/// metric only; the engine makes the decision).
fn is_mock(lookup: &Lookup, mechanism: Mechanism, policy: &RecordPolicy) -> bool {
    match lookup {
        Lookup::Found(record) => {
            record.credentials.hash() != mechanism.hash()
                || policy.check(&record.credentials).is_err()
        }
        Lookup::NotFound | Lookup::Ignore(_) => true,
    }
}

impl ConnectionAuth {
    pub(crate) fn new(shared: Arc<Shared>, info: Arc<ConnectionInfo>) -> Self {
        Self {
            shared,
            info,
            state: State::New,
        }
    }

    /// The connection this state belongs to.
    pub fn info(&self) -> &Arc<ConnectionInfo> {
        &self.info
    }

    /// The current identity, once authenticated (during a re-authentication, the old one).
    pub fn identity(&self) -> Option<&Identity> {
        match &self.state {
            State::Authenticated { identity, .. } => Some(identity),
            _ => None,
        }
    }

    /// Whether an exchange is waiting for the client's AUTH.
    pub fn in_progress(&self) -> bool {
        matches!(
            self.state,
            State::Connecting(_)
                | State::Authenticated {
                    reauth: Some(_),
                    ..
                }
        )
    }

    fn peer_ip(&self) -> Option<IpAddr> {
        self.info.peer.map(|peer| peer.ip())
    }

    /// A CONNECT arrived **without** an Authentication Method: not enhanced authentication.
    /// Returns what [`Builder::without_method`](crate::Builder::without_method) configured:
    /// CONNACK 0x87 (default) or 0x8C, which end the connection, or
    /// [`Status::PasswordPath`] (check the CONNECT's username/password your own way; the
    /// step's packet is CONNACK 0x87, so sending it by mistake still refuses). Either way
    /// this object takes no AUTH afterwards (re-authentication needs a SCRAM login).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mqtt_scram::{ConnectionInfo, PacketType, ServerConfig};
    /// use mqtt_scram::provider::MemoryProvider;
    /// use mqtt_scram_authenticator::{Authenticator, Status, WithoutMethod};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let authenticator = Authenticator::builder(ServerConfig::new([0x5a; 32]), MemoryProvider::new())
    ///     .without_method(WithoutMethod::PasswordPath)
    ///     .build()?;
    /// let info = ConnectionInfo::new("c1").with_peer(([192, 0, 2, 7], 51_883).into());
    /// let mut auth = authenticator.connection(Arc::new(info));
    /// let step = auth.on_connect_without_method();
    /// assert_eq!(step.status, Status::PasswordPath);              // your password check decides
    /// assert_eq!((step.packet, step.reason_code), (PacketType::Connack, 0x87)); // fail closed
    /// # Ok(()) }
    /// ```
    pub fn on_connect_without_method(&mut self) -> Step {
        if !matches!(self.state, State::New) {
            return self.out_of_sequence();
        }
        self.state = State::Closed;
        let answer = self.shared.without_method;
        let step = match answer {
            WithoutMethod::PasswordPath => Step {
                packet: PacketType::Connack,
                reason_code: answer.reason_code(),
                method: None,
                data: None,
                status: Status::PasswordPath,
            },
            _ => Step::failed(PacketType::Connack, answer.reason_code(), Failure::NoMethod),
        };
        #[cfg(feature = "tracing")]
        tracing::debug!(
            target: "mqtt_scram",
            client_id = %self.info.client_id,
            ?answer,
            "CONNECT without an Authentication Method"
        );
        step
    }

    /// CONNECT arrived with Authentication Method `method` and Authentication Data `data`.
    /// Returns AUTH 0x18 (continue), or a CONNACK that ends the connection (0x87, 0x8C, 0x89).
    /// (A CONNECT without an Authentication Method goes to
    /// [`on_connect_without_method`](Self::on_connect_without_method).)
    pub async fn on_connect(&mut self, method: &str, data: Option<&[u8]>) -> Step {
        if !matches!(self.state, State::New) {
            return self.out_of_sequence();
        }
        self.state = State::Closed;
        let packet = StartPacket::Connect { method, data };
        match self.begin(HandshakeKind::Connect, packet).await {
            Ok((pending, reply)) => {
                self.state = State::Connecting(pending);
                Step::from_reply(reply, Status::Continue)
            }
            Err(step) => step,
        }
    }

    /// AUTH arrived with `reason_code`, Authentication Method and Data: the client's answer
    /// during an exchange (0x18), or the start of a re-authentication (0x19) on an
    /// authenticated connection.
    pub async fn on_auth(
        &mut self,
        reason_code: u8,
        method: Option<&str>,
        data: Option<&[u8]>,
    ) -> Step {
        let method = method.unwrap_or_default();
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Connecting(pending) => {
                let step = self
                    .finish(pending, HandshakeKind::Connect, reason_code, method, data)
                    .await;
                if let Status::Authenticated(identity) = &step.status {
                    self.state = self.authenticated(identity.clone());
                }
                step
            }
            State::Authenticated {
                reauth: Some(pending),
                ..
            } => {
                let step = self
                    .finish(*pending, HandshakeKind::Reauth, reason_code, method, data)
                    .await;
                if let Status::Reauthenticated(identity) = &step.status {
                    self.state = self.authenticated(identity.clone());
                }
                step
            }
            State::Authenticated {
                identity,
                expires,
                reauth: None,
            } => {
                let packet = StartPacket::Reauthenticate {
                    reason_code,
                    method,
                    data,
                    current: &identity,
                };
                let begun = self.begin(HandshakeKind::Reauth, packet).await;
                match begun {
                    Ok((pending, reply)) => {
                        self.state = State::Authenticated {
                            identity,
                            expires,
                            reauth: Some(Box::new(pending)),
                        };
                        Step::from_reply(reply, Status::Continue)
                    }
                    Err(step) => step,
                }
            }
            State::New | State::Closed => self.out_of_sequence(),
        }
    }

    /// The next moment something must happen without a packet: the client's answer is due
    /// (the earlier of the first-step and exchange deadlines), or the session's credentials
    /// expire. On the authenticator's clock ([`Clock::now`](mqtt_scram::Clock::now)'s
    /// monotonic part). `None`: nothing is due.
    pub fn deadline(&self) -> Option<Duration> {
        match &self.state {
            State::Connecting(pending) => Some(pending.client_deadline.get()),
            State::Authenticated {
                expires, reauth, ..
            } => {
                let reauth = reauth.as_ref().map(|p| p.client_deadline.get());
                match (*expires, reauth) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            State::New | State::Closed => None,
        }
    }

    /// Checks the deadlines now: the step to send if one passed (CONNACK 0x87 or DISCONNECT
    /// 0x87 for a client that did not answer, DISCONNECT 0xA0 for expired credentials), which
    /// always closes the connection.
    pub fn on_timeout(&mut self) -> Option<Step> {
        let now = self.shared.clock.now();
        let due = self.deadline().is_some_and(|d| now.monotonic() >= d);
        if !due {
            return None;
        }
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Connecting(pending) => Some(self.stalled(pending, HandshakeKind::Connect, now)),
            State::Authenticated {
                expires, reauth, ..
            } => {
                if expires.is_some_and(|e| now.monotonic() >= e) {
                    drop(reauth);
                    let failure = Failure::CredentialsExpired;
                    Some(Step::failed(
                        PacketType::Disconnect,
                        MAXIMUM_CONNECT_TIME,
                        failure,
                    ))
                } else {
                    reauth.map(|pending| self.stalled(*pending, HandshakeKind::Reauth, now))
                }
            }
            other => {
                self.state = other;
                None
            }
        }
    }

    /// Waits until a deadline passes and returns the step to send (see
    /// [`on_timeout`](Self::on_timeout)); never completes while nothing is due. Cancel-safe:
    /// use it in a `select!` beside the socket read.
    pub async fn timeout(&mut self) -> Step {
        loop {
            let Some(deadline) = self.deadline() else {
                std::future::pending::<()>().await;
                continue;
            };
            let left = deadline.saturating_sub(self.shared.clock.monotonic());
            if !left.is_zero() {
                // Long waits (far expiries) are taken in steps a timer can always represent.
                let step = left.min(Duration::from_secs(24 * 3600));
                self.shared.runtime.sleep(step).await;
            }
            if let Some(step) = self.on_timeout() {
                return step;
            }
        }
    }

    fn authenticated(&self, identity: Identity) -> State {
        let expires = identity.expire_at().map(|at| {
            // Only records with an expiry need the clock.
            let now = self.shared.clock.now();
            let left = Duration::from_secs(at.saturating_sub(now.unix_seconds()));
            now.monotonic().saturating_add(left)
        });
        State::Authenticated {
            identity,
            expires,
            reauth: None,
        }
    }

    fn out_of_sequence(&mut self) -> Step {
        self.state = State::Closed;
        Step::failed(
            PacketType::Disconnect,
            PROTOCOL_ERROR,
            Failure::OutOfSequence,
        )
    }

    fn refuse(&self, kind: HandshakeKind, refusal: Refusal) -> Step {
        let now = self.shared.clock.monotonic();
        self.shared.metrics.refused(kind, refusal);
        self.notice(Notice::Refused(refusal), now);
        Step::refused(packet_for(kind), refusal)
    }

    fn notice(&self, notice: Notice, now: Duration) {
        let summary = self.shared.admission.notice(notice, self.peer_ip(), now);
        #[cfg(feature = "tracing")]
        if let Some(summary) = summary {
            tracing::warn!(target: "mqtt_scram", "{summary}");
        }
        #[cfg(not(feature = "tracing"))]
        let _ = summary;
    }

    /// Admission, the engine's first step, a work slot, the lookup (time-boxed), the challenge.
    async fn begin(
        &self,
        kind: HandshakeKind,
        packet: StartPacket<'_>,
    ) -> Result<(Pending, Reply), Step> {
        let shared = &self.shared;
        let ticket = shared
            .admission
            .begin(self.peer_ip())
            .map_err(|refusal| self.refuse(kind, refusal))?;
        #[cfg(feature = "tracing")]
        if shared.admission.take_unaddressed_warning() {
            tracing::warn!(
                target: "mqtt_scram",
                "a handshake without a peer address (ConnectionInfo::with_peer was not set): \
                 the per-address cap (max_handshakes_per_address) does not apply to such \
                 connections; pass each connection's address to enable it"
            );
        }
        let now = shared.clock.now();
        let tracker = Tracker::start(shared, kind, &self.info, now.monotonic());
        let mut need = match shared.server.start(&self.info, packet, now) {
            Ok(need) => need,
            Err(rejection) => {
                let failure = Failure::Rejected(rejection.error);
                tracker.failed(&failure);
                return Err(Step::from_reply(rejection.reply, Status::Failed(failure)));
            }
        };
        tracker.started(need.mechanism(), need.request().username);
        let wait = shared.admission.policy().max_work_wait;
        let Some(permit) =
            within(&shared.runtime, wait, shared.admission.work(self.peer_ip())).await
        else {
            let refusal = Refusal::WorkTimeout;
            tracker.failed(&Failure::Busy(refusal));
            self.notice(Notice::Refused(refusal), shared.clock.monotonic());
            return Err(Step::refused(packet_for(kind), refusal));
        };
        let asked = shared.clock.monotonic();
        let request = need.request();
        let lookup = within(
            &shared.runtime,
            shared.lookup_timeout,
            shared.provider.lookup_dyn(&request),
        )
        .await
        .unwrap_or_else(|| {
            Lookup::Ignore(IgnoreReason::timeout(format!(
                "no answer within the lookup budget of {:?}",
                shared.lookup_timeout
            )))
        });
        let answered = shared.clock.monotonic();
        let mock = is_mock(&lookup, need.mechanism(), shared.server.config().policy());
        tracker.lookup(answered.saturating_sub(asked), &lookup, mock);
        // Unknown users' challenges copy the store's records (salt length, iterations).
        need.set_mock_shape(shared.provider.record_shape_dyn(need.mechanism().hash()));
        let (challenge, reply) = shared.with_rng(|rng| need.continue_with(lookup, rng));
        drop(permit);
        let client_deadline = shared
            .admission
            .policy()
            .first_step_deadline(answered, challenge.deadline());
        let pending = Pending {
            challenge,
            client_deadline: Nanos::new(client_deadline),
            tracker,
            _ticket: ticket,
        };
        Ok((pending, reply))
    }

    /// The client's answer: a work slot, then the engine's last step.
    async fn finish(
        &self,
        pending: Pending,
        kind: HandshakeKind,
        reason_code: u8,
        method: &str,
        data: Option<&[u8]>,
    ) -> Step {
        let shared = &self.shared;
        let arrived = shared.clock.now();
        if arrived.monotonic() > pending.client_deadline.get() {
            return self.stalled(pending, kind, arrived);
        }
        let wait = shared.admission.policy().max_work_wait;
        let Some(permit) =
            within(&shared.runtime, wait, shared.admission.work(self.peer_ip())).await
        else {
            let refusal = Refusal::WorkTimeout;
            pending.tracker.failed(&Failure::Busy(refusal));
            self.notice(Notice::Refused(refusal), shared.clock.monotonic());
            return Step::refused(packet_for(kind), refusal);
        };
        // The client answered at `arrived`: time spent queueing here is not held against it.
        let outcome = pending.challenge.finish(reason_code, method, data, arrived);
        drop(permit);
        Self::conclude(pending.tracker, kind, outcome)
    }

    /// A client that did not answer in time: the engine's own rejection for a late answer
    /// (CONNACK 0x87 / DISCONNECT 0x87), without any proof work.
    fn stalled(&self, pending: Pending, kind: HandshakeKind, now: Timestamp) -> Step {
        self.notice(Notice::Stalled, now.monotonic());
        let challenge = pending.challenge;
        let method = challenge.mechanism().name();
        let late = Timestamp::new(
            challenge.deadline().saturating_add(Duration::from_nanos(1)),
            now.unix_seconds(),
        );
        let reason_code = mqtt_scram::ReasonCode::ContinueAuthentication.to_u8();
        let outcome = challenge.finish(reason_code, method, None, late);
        Self::conclude(pending.tracker, kind, outcome)
    }

    fn conclude(tracker: Tracker, kind: HandshakeKind, outcome: Outcome) -> Step {
        match outcome {
            Outcome::Accepted { reply, identity } => {
                tracker.succeeded(&identity);
                let status = match kind {
                    HandshakeKind::Connect => Status::Authenticated(identity),
                    HandshakeKind::Reauth => Status::Reauthenticated(identity),
                };
                Step::from_reply(reply, status)
            }
            Outcome::Rejected(rejection) => {
                let failure = Failure::Rejected(rejection.error);
                tracker.failed(&failure);
                Step::from_reply(rejection.reply, Status::Failed(failure))
            }
        }
    }
}

#[cfg(all(test, not(feature = "tracing")))]
mod tests {
    #[test]
    fn a_waiting_connection_is_small() {
        // Issue 22 §2: a waiting handshake's state (the engine's challenge, deadlines,
        // tracker, admission ticket) inline, a re-authentication's boxed.
        assert!(std::mem::size_of::<super::ConnectionAuth>() <= 448);
    }
}
