//! The plugin's behaviour, one method per broker event, in safe Rust: the FFI module reads
//! the event, calls one of these, and writes the answer back.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mqtt_scram::provider::Lookup;
use mqtt_scram::{
    ChannelBinding, Clock, ConnectionInfo, Mechanism, Outcome, ReasonCode, ScramServer,
    StartPacket, SystemClock,
};
use mqtt_scram_authenticator::admission::{Admission, AdmissionPolicy, Notice};
use mqtt_scram_authenticator::observe::{HandshakeKind, Metrics, error_label};

pub(crate) use crate::acl::AclAccess;
use crate::acl::Authz;
use crate::credentials::{Credentials, Request};
use crate::log::{self, HeldLock, Level, RateLimit};
use crate::options::{OptionError, Options};
use crate::sessions::{Current, Handshake, Pending, Session, Sessions};
use crate::setup;
use crate::stats::Stats;

mod periodic;

/// The broker events the plugin can register for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    ExtAuthStart,
    ExtAuthContinue,
    BasicAuth,
    AclCheck,
    Reload,
    Tick,
    Disconnect,
}

/// What the broker says about the client of a callback.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientFacts<'a> {
    /// The `struct mosquitto *` as a number: the table's key.
    pub key: usize,
    /// Client identifier (assigned by the broker if the client sent none).
    pub id: Option<&'a str>,
    /// Remote IP address.
    pub address: Option<&'a str>,
    /// Mosquitto username (CONNECT's User Name, or what a plugin set).
    pub username: Option<&'a str>,
}

/// How an authentication step ends, for the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthCode {
    /// `MOSQ_ERR_SUCCESS`: CONNACK 0x00 (or AUTH 0x00 after re-authentication).
    Success,
    /// `MOSQ_ERR_AUTH_CONTINUE`: AUTH 0x18.
    Continue,
    /// `MOSQ_ERR_AUTH`: CONNACK 0x87.
    Denied,
    /// `MOSQ_ERR_PLUGIN_DEFER`: not ours; other plugins may take it (0x8C if none does).
    Defer,
}

/// An authentication step's answer: code, Authentication Data, username to set.
#[derive(Debug)]
pub(crate) struct AuthAnswer {
    pub code: AuthCode,
    pub data: Option<Vec<u8>>,
    pub username: Option<String>,
}

impl AuthAnswer {
    fn bare(code: AuthCode) -> Self {
        Self {
            code,
            data: None,
            username: None,
        }
    }
}

/// An allow/deny/defer answer (password fallback, ACL checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    Deny,
    Defer,
}

/// Mutable state, touched on the broker's thread only (the mutex is never contended).
pub(crate) struct Inner {
    pub(crate) sessions: Sessions,
    binding: Option<ChannelBinding>,
    pub(crate) rejected: RateLimit,
    stats: Stats,
    last_report: Instant,
    next_housekeeping: Instant,
    /// Clients to disconnect (credentials expired), carried out after the lock is released.
    kicks: Vec<(usize, Box<str>)>,
}

/// A locked [`Inner`]; the lock is released before the held-lock mark goes.
pub(crate) struct Locked<'a> {
    guard: MutexGuard<'a, Inner>,
    _held: HeldLock,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

/// One plugin instance (one per `plugin` line; per listener with `per_listener_settings`).
pub(crate) struct Plugin {
    pub(crate) options: Options,
    raw_options: Vec<(String, String)>,
    pub(crate) server: ScramServer,
    pub(crate) credentials: Credentials,
    authz: Option<Authz>,
    pub(crate) admission: Arc<Admission>,
    pub(crate) metrics: Metrics,
    pub(crate) clock: SystemClock,
    inner: Mutex<Inner>,
    #[cfg(feature = "metrics")]
    _endpoint: Option<crate::metrics::Endpoint>,
}

impl Plugin {
    /// Checks every option and opens the stores; the error names the bad option.
    pub(crate) fn new(raw: &[(String, String)]) -> Result<Self, OptionError> {
        let options = Options::parse(raw)?;
        let binding = setup::channel_binding(&options)?;
        let server = setup::server(&options, binding.is_some())?;
        let credentials = Credentials::open(&options)?;
        let authz = Authz::new(&options)?;
        if options.basic_auth {
            log::emit(
                Level::Warning,
                "mqtt-scram: plugin_opt_basic_auth is on: CONNECT passwords cross the network \
                 and cost the broker a PBKDF2 run each; offer it on TLS listeners only",
            );
        }
        let mechanisms = server
            .config()
            .offered_mechanisms()
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ");
        log::emit(
            Level::Notice,
            &format!(
                "mqtt-scram: enhanced authentication with {mechanisms}{}",
                if authz.is_some() {
                    "; authorization on"
                } else {
                    ""
                }
            ),
        );
        let mut policy = AdmissionPolicy::default();
        policy.max_handshakes = options.max_handshakes;
        policy.max_handshakes_per_address = options.max_handshakes_per_address;
        policy.first_step_timeout = options.first_step_timeout;
        let admission = Admission::new(policy).map_err(|message| OptionError::Unusable {
            key: "max_handshakes",
            message,
        })?;
        #[cfg(feature = "metrics")]
        let endpoint = options
            .metrics_listen
            .map(crate::metrics::Endpoint::start)
            .transpose()
            .map_err(|message| OptionError::Unusable {
                key: "metrics_listen",
                message,
            })?;
        #[cfg(not(feature = "metrics"))]
        if options.metrics_listen.is_some() {
            return Err(OptionError::Unusable {
                key: "metrics_listen",
                message: "this plugin was built without the `metrics` feature".into(),
            });
        }
        let inner = Inner {
            sessions: Sessions::new(),
            binding,
            rejected: RateLimit::new("rejected logins", 20, Duration::from_secs(10)),
            stats: Stats::default(),
            last_report: Instant::now(),
            next_housekeeping: Instant::now(),
            kicks: Vec::new(),
        };
        Ok(Self {
            raw_options: raw.to_vec(),
            server,
            credentials,
            authz,
            admission: Arc::new(admission),
            metrics: Metrics::new("mosquitto"),
            clock: SystemClock::new(),
            inner: Mutex::new(inner),
            #[cfg(feature = "metrics")]
            _endpoint: endpoint,
            options,
        })
    }

    /// Whether this instance may serve its listener(s): the `tls-server-end-point` binding
    /// names one TLS listener's certificate, so it is offered only by a per-listener
    /// instance (`per_listener_settings true`, `tls_cert_file` in the TLS listener's block).
    /// A global instance serves every listener, plain ones included, where `-PLUS` would
    /// bind to a certificate the client never saw over a channel anyone can relay.
    pub(crate) fn check_listener_scope(&self, per_listener: bool) -> Result<(), String> {
        if self.options.tls_cert_file.is_some() && !per_listener {
            return Err(
                "plugin_opt_tls_cert_file: the channel binding (-PLUS) is offered only \
                 on TLS listeners, and a global plugin serves every listener: set \
                 per_listener_settings true and give plugin_opt_tls_cert_file in the TLS \
                 listener's own plugin block (its certfile)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The events to register for.
    pub(crate) fn events(&self) -> Vec<Event> {
        let mut events = vec![
            Event::ExtAuthStart,
            Event::ExtAuthContinue,
            Event::Reload,
            Event::Tick,
            Event::Disconnect,
        ];
        if self.options.basic_auth {
            events.push(Event::BasicAuth);
        }
        if self.authz.is_some() {
            events.push(Event::AclCheck);
        }
        events
    }

    /// The per-client state. While the guard lives, nothing may call into the broker (see
    /// [`crate::log`]): the guard marks the lock as held, and log lines wait in the queue.
    pub(crate) fn lock(&self) -> Locked<'_> {
        let held = HeldLock::new();
        Locked {
            guard: self.inner.lock().unwrap_or_else(PoisonError::into_inner),
            _held: held,
        }
    }

    pub(crate) fn connection(&self, client: &ClientFacts<'_>, inner: &Inner) -> ConnectionInfo {
        let mut connection = ConnectionInfo::new(client.id.unwrap_or_default())
            .with_listener("mosquitto")
            .with_protocol("mqtt");
        if let Some(username) = client.username {
            connection = connection.with_mqtt_username(username);
        }
        if let Some(ip) = client.address.and_then(|a| a.parse::<IpAddr>().ok()) {
            connection = connection.with_peer(SocketAddr::new(ip, 0));
        }
        if let Some(binding) = &inner.binding {
            connection = connection.with_channel_binding(binding.clone());
        }
        connection
    }

    /// `MOSQ_EVT_EXT_AUTH_START`: CONNECT, or AUTH 0x19 on an authenticated connection.
    pub(crate) fn on_auth_start(
        &self,
        client: &ClientFacts<'_>,
        method: Option<&str>,
        data: Option<&[u8]>,
    ) -> AuthAnswer {
        let Some(method) = method else {
            return AuthAnswer::bare(AuthCode::Defer);
        };
        let offered = Mechanism::from_name(method)
            .is_some_and(|m| self.server.config().offered_mechanisms().contains(&m));
        if !offered {
            // Not ours: another plugin may serve it; Mosquitto answers 0x8C if none does.
            return AuthAnswer::bare(AuthCode::Defer);
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        let inner = &mut *inner;
        self.expire(inner, now.monotonic());
        let current = inner
            .sessions
            .current(client.key, client.id, client.username);
        let kind = match current {
            Current::Session(_) => HandshakeKind::Reauth,
            Current::Nothing => HandshakeKind::Connect,
        };
        let peer = client.address.and_then(|a| a.parse::<IpAddr>().ok());
        let ticket = match self.admission.begin(peer) {
            Ok(ticket) => ticket,
            Err(refusal) => {
                // Mosquitto can only answer 0x87 here (MOSQ_ERR_AUTH), not 0x89.
                self.metrics.refused(kind, refusal);
                self.notice(Notice::Refused(refusal), peer, now.monotonic());
                return AuthAnswer::bare(AuthCode::Denied);
            }
        };
        // The broker's thread does one step at a time: a work slot is always free, taken so
        // that the policy's accounting matches the async authenticator's.
        let _work = self.admission.try_work();
        self.metrics.handshake_started(kind);
        let connection = Arc::new(self.connection(client, inner));
        let (packet, previous) = match &current {
            Current::Session(session) => (
                StartPacket::Reauthenticate {
                    reason_code: ReasonCode::ReAuthenticate.to_u8(),
                    method,
                    data,
                    current: &session.identity,
                },
                Some(Arc::clone(session)),
            ),
            Current::Nothing => (StartPacket::Connect { method, data }, None),
        };
        let mut need = match self.server.start(&connection, packet, now) {
            Ok(need) => need,
            Err(rejection) => {
                self.metrics
                    .handshake_failed(kind, error_label(&rejection.error), Duration::ZERO);
                reject_log(&mut inner.rejected, client, &rejection.error);
                return AuthAnswer::bare(AuthCode::Denied);
            }
        };
        let asked = Instant::now();
        let lookup = self
            .credentials
            .lookup(Request::from_lookup(&need.request(), &connection));
        let ignored = match &lookup {
            Lookup::Ignore(reason) => Some(reason.kind()),
            _ => None,
        };
        self.metrics.lookup_finished(asked.elapsed(), ignored);
        if !matches!(lookup, Lookup::Found(_)) {
            self.metrics.mock_challenge(kind);
        }
        // Unknown users' challenges copy the store's records (salt length, iterations).
        need.set_mock_shape(self.credentials.record_shape(need.mechanism().hash()));
        let (challenge, reply) = need.continue_with(lookup, &mut rand::rng());
        let deadline = self
            .admission
            .policy()
            .first_step_deadline(self.clock.monotonic(), challenge.deadline());
        let handshake = Handshake {
            challenge,
            previous,
            ticket,
        };
        inner
            .sessions
            .begin(client.key, client.id, deadline, handshake);
        AuthAnswer {
            code: AuthCode::Continue,
            data: reply.data,
            username: None,
        }
    }

    /// Counts a refusal or stall; logs the policy's summary when one is due.
    pub(crate) fn notice(&self, notice: Notice, peer: Option<IpAddr>, now: Duration) {
        if let Some(summary) = self.admission.notice(notice, peer, now) {
            log::emit(Level::Warning, &format!("mqtt-scram: {summary}"));
        }
    }

    /// `MOSQ_EVT_EXT_AUTH_CONTINUE`: AUTH 0x18 with the client-final-message.
    pub(crate) fn on_auth_continue(
        &self,
        client: &ClientFacts<'_>,
        data: Option<&[u8]>,
    ) -> AuthAnswer {
        let now = self.clock.now();
        let mut inner = self.lock();
        let inner = &mut *inner;
        let handshake = match inner.sessions.take(client.key, client.id) {
            Pending::None => return AuthAnswer::bare(AuthCode::Defer),
            Pending::Expired => {
                inner.rejected.emit(Level::Notice, Instant::now(), || {
                    format!(
                        "mqtt-scram: client {} answered after the handshake deadline; rejected",
                        client.id.unwrap_or("?")
                    )
                });
                return AuthAnswer::bare(AuthCode::Denied);
            }
            Pending::Handshake(h) => h,
        };
        let kind = handshake.kind();
        let Handshake {
            challenge, ticket, ..
        } = handshake;
        let started = challenge.started();
        let connection = Arc::clone(challenge.connection());
        let _work = self.admission.try_work();
        let took = now.monotonic().saturating_sub(started);
        let mechanism = challenge.mechanism();
        let method = mechanism.name();
        match challenge.finish(
            ReasonCode::ContinueAuthentication.to_u8(),
            method,
            data,
            now,
        ) {
            Outcome::Accepted { reply, identity } => {
                drop(ticket);
                self.metrics.handshake_succeeded(kind, mechanism, took);
                let username = identity.username.clone();
                let session = Session::new(identity, &connection);
                inner.sessions.authenticated(client.key, client.id, session);
                AuthAnswer {
                    code: AuthCode::Success,
                    data: reply.data,
                    username: Some(username),
                }
            }
            Outcome::Rejected(rejection) => {
                self.metrics
                    .handshake_failed(kind, error_label(&rejection.error), took);
                reject_log(&mut inner.rejected, client, &rejection.error);
                AuthAnswer::bare(AuthCode::Denied)
            }
        }
    }

    /// `MOSQ_EVT_ACL_CHECK` (only with authorization on): decides for clients this plugin
    /// authenticated, defers for the others.
    pub(crate) fn on_acl_check(
        &self,
        client: &ClientFacts<'_>,
        access: AclAccess,
        topic: Option<&str>,
        qos: u8,
        retain: bool,
    ) -> Verdict {
        let Some(authz) = &self.authz else {
            return Verdict::Defer;
        };
        let session = self.lock().sessions.session(client.key, client.id);
        let Some(session) = session else {
            return Verdict::Defer;
        };
        if client.username != Some(session.identity.username.as_str()) {
            // Another plugin changed the username: this is no longer our client.
            return Verdict::Defer;
        }
        let now_unix = self.clock.now().unix_seconds();
        if session
            .identity
            .expire_at()
            .is_some_and(|at| at <= now_unix)
        {
            // Credentials expired while connected: nothing more until the disconnect.
            return Verdict::Deny;
        }
        let Some(topic) = topic else {
            return Verdict::Deny;
        };
        if authz.allows(&session, access, topic, qos, retain) {
            Verdict::Allow
        } else {
            Verdict::Deny
        }
    }

    /// `MOSQ_EVT_DISCONNECT`: forgets the client.
    pub(crate) fn on_disconnect(&self, key: usize) {
        let abandoned = self.lock().sessions.remove(key);
        if let Some(h) = abandoned {
            let took = self.clock.monotonic().saturating_sub(h.challenge.started());
            self.metrics.handshake_failed(h.kind(), "abandoned", took);
        }
    }

    /// `MOSQ_EVT_RELOAD` (SIGHUP): re-reads the credential store, the ACL file and the
    /// certificate. Other option changes need a restart.
    pub(crate) fn on_reload(&self, options: Option<&[(String, String)]>) {
        if options.is_some_and(|o| o != self.raw_options.as_slice()) {
            log::emit(
                Level::Warning,
                "mqtt-scram: plugin_opt_* changes take effect at the next restart; \
                 reloading the credential store, ACL file and certificate only",
            );
        }
        self.credentials.reload();
        if let Some(authz) = &self.authz {
            authz.reload();
        }
        if self.options.tls_cert_file.is_some() {
            match setup::channel_binding(&self.options) {
                Ok(binding) => self.lock().binding = binding,
                Err(e) => log::emit(
                    Level::Error,
                    &format!("mqtt-scram: keeping the previous channel binding: {e}"),
                ),
            }
        }
    }
}

/// Logs why a login failed (for the operator; the client saw 0x87), rate-limited.
fn reject_log(limit: &mut RateLimit, client: &ClientFacts<'_>, error: &mqtt_scram::Error) {
    limit.emit(Level::Notice, Instant::now(), || {
        format!(
            "mqtt-scram: login of client {} from {} rejected: {error}",
            client.id.unwrap_or("?"),
            client.address.unwrap_or("?")
        )
    });
}
