//! [`Backend`]: everything the contracts decide with — the store (lookups bounded by the
//! lookup timeout), clear-password checks behind a fair work queue, superuser flags, ACLs
//! (EMQX rules from records, then the ACL file), and the SCRAM engine for enhanced auth.
//!
//! The interface each contract module codes against:
//!
//! - [`AppState`] (cheap to clone) carries the shared [`Backend`]; a contract's
//!   `routes(state, &config)` returns an [`axum::Router`] with its paths.
//! - [`Backend::lookup`]: the store's answer for a user and mechanism, bounded by
//!   `lookup_timeout` (timeout → [`Lookup::Ignore`]).
//! - [`Backend::check_password`]: [`PasswordVerdict`] for a clear password.
//! - [`Backend::superuser`] — [`SuperuserVerdict`].
//! - [`Backend::authorize`]: [`AclVerdict`] for an [`AclRequest`].
//! - [`Backend::scram`]: the engine, configured with the mock key, for `on_auth_m5`.
//! - [`Backend::mock_salt`]: the keyed salt the engine gives an unknown user.
//! - [`Backend::mock_shape`]: the salt length and iteration count an unknown user is
//!   shown — the store's most common (credential files) or the configured one
//!   (`mock_salt_len`, `mock_iterations`, `[mock_shape]`; remote stores).

mod mock;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{
    CredentialProvider, IgnoreReason, Lookup, LookupRequest, UserAttributes, UserRecord,
};
use mqtt_scram::{
    ConnectionInfo, HashAlgorithm, Mechanism, MockKey, RecordPolicy, ScramServer, ServerConfig,
};
use mqtt_scram_authenticator::admission::{Admission, AdmissionPolicy};
use mqtt_scram_authz::file::{FileAuthorizer, ParseOptions};
use mqtt_scram_authz::{Access, Client, Decision, Request, RuleSet};
use mqtt_scram_stores::config::Store;
use zeroize::Zeroizing;

use crate::config::ServiceConfig;
use crate::secret::SharedSecret;

/// The state every handler gets: the shared [`Backend`].
#[derive(Clone)]
pub struct AppState {
    /// The shared backend.
    pub backend: Arc<Backend>,
}

/// A clear-password check.
#[derive(Clone, Copy)]
pub struct PasswordRequest<'a> {
    /// The username as the client sent it.
    pub username: &'a str,
    /// The password bytes (must be UTF-8 to match; never logged).
    pub password: &'a [u8],
    /// The MQTT client's IP address (the unit of fair admission), when the broker passes it.
    pub client_ip: Option<IpAddr>,
}

/// The answer to a clear-password check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordVerdict {
    /// The password matches an unexpired record.
    Allow {
        /// The record's superuser flag.
        superuser: bool,
    },
    /// Wrong password, unknown user or expired record.
    Deny,
    /// The store could not decide (down, slow, record outside policy): the contract's
    /// "can't decide".
    Unavailable,
    /// Too much password work in progress (from this client or in total): 503 or the
    /// contract's "no opinion".
    Busy,
}

/// The answer to "is this user a superuser?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SuperuserVerdict {
    /// An unexpired record with the flag set.
    Yes,
    /// Unknown, expired, or the flag unset.
    No,
    /// The store could not decide.
    Unavailable,
}

/// An authorization question.
#[derive(Clone, Copy, Debug)]
pub struct AclRequest<'a> {
    /// The username (empty: anonymous).
    pub username: &'a str,
    /// The MQTT client id.
    pub client_id: &'a str,
    /// The MQTT client's address, when the broker passes it.
    pub client_ip: Option<IpAddr>,
    /// Publish, subscribe (or read).
    pub access: Access,
    /// Topic name (publish) or filter (subscribe).
    pub topic: &'a str,
    /// QoS of the publish or subscription (0 when the broker does not say).
    pub qos: u8,
    /// Retain flag of the publish.
    pub retain: bool,
}

/// The answer to an [`AclRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AclVerdict {
    /// A rule allows it.
    Allow,
    /// A rule denies it.
    Deny,
    /// No rule matched: the contract's "no opinion".
    NoMatch,
    /// The store could not decide (record rules unavailable).
    Unavailable,
}

/// Why the backend cannot be built (never a secret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The store configuration is wrong.
    #[error("store: {0}")]
    Store(String),
    /// The ACL file cannot be loaded.
    #[error("acl_file: {0}")]
    Acl(String),
    /// The mock key file cannot be read, or others may read it.
    #[error("{0}")]
    MockKey(String),
    /// The shared secret file cannot be read.
    #[error("auth.secret_file: {0}")]
    Secret(String),
    /// Another setting is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// What the contracts decide with; see the [module docs](self).
pub struct Backend {
    store: Store,
    acl: Option<FileAuthorizer>,
    acl_from_records: bool,
    lookup_timeout: Duration,
    policy: RecordPolicy,
    mock_connection: Arc<ConnectionInfo>,
    /// EMQX 5's hash and iteration count (`[emqx5]`), to warn when the records' differ.
    emqx5: Option<(HashAlgorithm, u32)>,
    admission: Arc<Admission>,
    max_wait: Duration,
    scram: ScramServer,
    secret: Option<SharedSecret>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("store", &self.store)
            .field("acl_file", &self.acl.as_ref().map(FileAuthorizer::path))
            .field("lookup_timeout", &self.lookup_timeout)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// Builds the backend from the configuration: the store (no connection yet), the ACL
    /// file, the mock key, the work queue.
    pub fn new(config: &ServiceConfig) -> Result<Self, BackendError> {
        let store = config
            .store
            .build()
            .map_err(|e| BackendError::Store(e.to_string()))?;
        let acl = match &config.acl_file {
            Some(path) => Some(
                FileAuthorizer::open(path, ParseOptions::default())
                    .map_err(|e| BackendError::Acl(e.to_string()))?,
            ),
            None => None,
        };
        let mock_key = match &config.mock_key_file {
            Some(path) => {
                MockKey::from_file(path).map_err(|e| BackendError::MockKey(e.to_string()))?
            }
            None => {
                tracing::warn!(
                    "no mock_key_file: using a random mock key; mock salts for unknown users change at every restart"
                );
                let mut key = Zeroizing::new([0u8; 32]);
                rand::fill(&mut key[..]);
                MockKey::new(*key)
            }
        };
        let work = &config.password_work;
        if work.mock_iterations.is_some() {
            tracing::warn!(
                "password_work.mock_iterations is deprecated; use the top-level mock_iterations"
            );
        }
        let policy = config.record_policy();
        let mut engine = ServerConfig::from_mock_key(mock_key).record_policy(policy.clone());
        for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            engine = engine.mock_shape(hash, config.mock_shape_for(hash));
        }
        let scram =
            ScramServer::new(engine).map_err(|e| BackendError::Invalid(format!("scram: {e}")))?;
        let mut admission = AdmissionPolicy::default();
        admission.max_handshakes = work.max_queued;
        admission.max_handshakes_per_address = work.max_per_client;
        admission.max_concurrent_work = work.max_concurrent;
        admission.max_work_wait = work.max_wait;
        let admission = Arc::new(Admission::new(admission).map_err(BackendError::Invalid)?);
        let secret = match &config.auth {
            Some(auth) => Some(SharedSecret::load(&auth.header, &auth.secret_file)?),
            None => None,
        };
        let backend = Self {
            store,
            acl,
            acl_from_records: config.acl_from_records,
            lookup_timeout: config.lookup_timeout,
            policy,
            mock_connection: Arc::new(ConnectionInfo::default()),
            emqx5: config.emqx5.as_ref().map(|c| (c.algorithm, c.iterations)),
            admission,
            max_wait: work.max_wait,
            scram,
            secret,
        };
        backend.warn_shapes();
        Ok(backend)
    }

    /// The store's answer for `username` and `mechanism`, bounded by the lookup timeout
    /// (a timeout is [`Lookup::Ignore`]).
    pub async fn lookup(&self, username: &str, mechanism: Mechanism) -> Lookup {
        let connection = ConnectionInfo::default();
        self.lookup_on(username, mechanism, &connection).await
    }

    /// [`lookup`](Self::lookup) with the connection's facts (client id, peer) for stores
    /// whose queries use them.
    pub async fn lookup_on(
        &self,
        username: &str,
        mechanism: Mechanism,
        connection: &ConnectionInfo,
    ) -> Lookup {
        let request = LookupRequest::new(mechanism, username, connection);
        let mut lookup = std::pin::pin!(self.store.lookup(&request));
        // In-memory stores answer on the first poll: no timer for them.
        if let Some(answer) = poll_once(lookup.as_mut()).await {
            return answer;
        }
        match tokio::time::timeout(self.lookup_timeout, lookup).await {
            Ok(lookup) => lookup,
            Err(_) => Lookup::Ignore(IgnoreReason::timeout("store lookup timed out")),
        }
    }

    /// The user's record of either hash: SHA-256 first, SHA-512 when there is none.
    async fn lookup_any(&self, username: &str) -> Lookup {
        match self.lookup(username, Mechanism::ScramSha256).await {
            Lookup::NotFound => self.lookup(username, Mechanism::ScramSha512).await,
            other => other,
        }
    }

    /// Checks a clear password against the user's SCRAM verifier: SASLprep as the engine
    /// does, PBKDF2 with the record's salt and count, StoredKey compared in constant time.
    /// Unknown users cost the same PBKDF2 (a mock record); expired records are refused; the
    /// work waits in a queue with fair per-client-IP admission.
    pub async fn check_password(&self, request: PasswordRequest<'_>) -> PasswordVerdict {
        let Ok(_ticket) = self.admission.begin(request.client_ip) else {
            tracing::debug!(client_ip = ?request.client_ip, "password check refused: too many in progress");
            return PasswordVerdict::Busy;
        };
        let record = match self.lookup_any(request.username).await {
            Lookup::Found(record) => Some(record),
            Lookup::NotFound => None,
            Lookup::Ignore(reason) => {
                tracing::warn!(username = request.username, reason = %reason.detail(), "store could not decide");
                return PasswordVerdict::Unavailable;
            }
        };
        if let Some(record) = &record
            && let Err(reason) = self.policy.check(&record.credentials)
        {
            tracing::warn!(username = request.username, reason = %reason.detail(), "record outside the password_work policy; not used");
            return PasswordVerdict::Unavailable;
        }
        let permit =
            match tokio::time::timeout(self.max_wait, self.admission.work(request.client_ip)).await
            {
                Ok(permit) => permit,
                Err(_) => return PasswordVerdict::Busy,
            };
        let password = Zeroizing::new(request.password.to_vec());
        let (hash, salt, iterations) = match &record {
            Some(r) => (r.credentials.hash(), None, r.credentials.iterations()),
            None => {
                let (hash, shape) = self.unknown_user_work();
                let salt = self
                    .mock_salt(hash, request.username)
                    .unwrap_or_else(|| vec![0u8; shape.salt_len()]);
                (hash, Some(salt), shape.iterations())
            }
        };
        let record_for_work = record.clone();
        let matched = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // Not UTF-8: it cannot match, but costs the same PBKDF2 (on the empty password).
            let (utf8, text) = match std::str::from_utf8(&password) {
                Ok(text) => (true, text),
                Err(_) => (false, ""),
            };
            match (&record_for_work, salt) {
                (Some(r), _) => {
                    let matched =
                        mqtt_scram_authz::fallback::plain::verify_against(&r.credentials, text);
                    utf8 && matched
                }
                (None, Some(salt)) => {
                    let _ = StoredCredentials::derive(hash, text, &salt, iterations);
                    false
                }
                (None, None) => false,
            }
        })
        .await
        .unwrap_or(false);
        match record {
            Some(r) if matched && !is_expired(&r.attributes) => PasswordVerdict::Allow {
                superuser: r.attributes.is_superuser,
            },
            _ => PasswordVerdict::Deny,
        }
    }

    /// The superuser flag of the user's record (unknown or expired: no).
    pub async fn superuser(&self, username: &str) -> SuperuserVerdict {
        match self.lookup_any(username).await {
            Lookup::Found(r) if r.attributes.is_superuser && !is_expired(&r.attributes) => {
                SuperuserVerdict::Yes
            }
            Lookup::Found(_) | Lookup::NotFound => SuperuserVerdict::No,
            Lookup::Ignore(reason) => {
                tracing::warn!(username, reason = %reason.detail(), "store could not decide");
                SuperuserVerdict::Unavailable
            }
        }
    }

    /// Authorizes: the EMQX rules of the user's record (with `acl_from_records`), then the
    /// ACL file; [`AclVerdict::NoMatch`] when no rule matched. Superusers get no bypass
    /// here: each broker asks for the superuser flag itself.
    pub async fn authorize(&self, request: AclRequest<'_>) -> AclVerdict {
        let mut client = if request.username.is_empty() {
            Client::anonymous(request.client_id)
        } else {
            Client::new(request.username, request.client_id)
        };
        client.peer = request.client_ip.map(|ip| SocketAddr::new(ip, 0));
        if self.acl_from_records && !request.username.is_empty() {
            match self.lookup_any(request.username).await {
                Lookup::Found(r) if !is_expired(&r.attributes) => {
                    client.rules = record_rules(&r);
                    client.client_attrs = r.attributes.client_attrs.clone();
                }
                Lookup::Found(_) | Lookup::NotFound => {}
                Lookup::Ignore(reason) => {
                    tracing::warn!(username = request.username, reason = %reason.detail(), "store could not decide");
                    return AclVerdict::Unavailable;
                }
            }
        }
        let question = Request::new(request.access, request.topic)
            .qos(request.qos)
            .retain(request.retain);
        let mut decision = match &client.rules {
            Some(rules) => rules.check(&client, question),
            None => Decision::NoMatch,
        };
        if decision == Decision::NoMatch
            && let Some(acl) = &self.acl
        {
            decision = acl.current().check(&client, question);
        }
        match decision {
            Decision::Allow(_) => AclVerdict::Allow,
            Decision::Deny(_) => AclVerdict::Deny,
            Decision::NoMatch => AclVerdict::NoMatch,
        }
    }

    /// The SCRAM engine (mock key, record policy and configured mock shapes), for enhanced
    /// authentication over webhooks; pass [`Backend::record_shape`] to
    /// [`NeedCredentials::set_mock_shape`](mqtt_scram::server::NeedCredentials::set_mock_shape).
    pub fn scram(&self) -> &ScramServer {
        &self.scram
    }

    /// The store (e.g. as the engine's credential provider).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The record policy (iteration and salt bounds) records must satisfy.
    pub fn policy(&self) -> &RecordPolicy {
        &self.policy
    }

    /// The shared-secret header, when configured.
    pub fn shared_secret(&self) -> Option<&SharedSecret> {
        self.secret.as_ref()
    }

    /// Re-reads the credential files, the ACL file and the shared secret (SIGHUP). A file
    /// that fails to load keeps its previous contents; each outcome is logged.
    pub fn reload(&self) {
        for result in self.store.reload() {
            match result {
                Ok(_) => tracing::info!("credential file reloaded"),
                Err(e) => {
                    tracing::warn!(error = %e, "credential file not reloaded; keeping the previous set")
                }
            }
        }
        if let Some(acl) = &self.acl {
            match acl.reload() {
                Ok(_) => tracing::info!(path = %acl.path().display(), "ACL file reloaded"),
                Err(e) => {
                    tracing::warn!(error = %e, "ACL file not reloaded; keeping the previous rules")
                }
            }
        }
        if let Some(secret) = &self.secret
            && let Err(e) = secret.reload()
        {
            tracing::warn!(error = %e, "shared secret not reloaded; keeping the previous one");
        }
        self.warn_shapes();
    }
}

/// The record's compiled EMQX rules, if it carries any.
pub fn record_rules(record: &UserRecord) -> Option<Arc<RuleSet>> {
    record
        .attributes
        .authz
        .as_ref()
        .and_then(|data| data.downcast_arc::<RuleSet>())
}

/// Polls `future` once: its output if it is ready, else `None` (the future keeps its
/// progress and can be awaited further).
async fn poll_once<F: std::future::Future + Unpin>(mut future: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

/// Whether the record's `expire_at` has passed. Reads the clock only for records that have
/// one (most have not, and a clock read is a visible share of a lookup's cost).
pub fn is_expired(attributes: &UserAttributes) -> bool {
    attributes.expire_at.is_some() && attributes.is_expired_at(now_unix())
}

/// Seconds since the Unix epoch (0 before it).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
