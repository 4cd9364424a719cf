//! The authentication front: runs the crate's SCRAM server state machine over MQTT 5
//! packets, keeps the table of handshakes in progress, and (only with `--allow-plain`)
//! checks CONNECT passwords against the same stored credentials.
//!
//! ```text
//! CONNECT (method, client-first) ─▶ start ─▶ lookup ─▶ AUTH 0x18 (server-first)
//! AUTH 0x18 (client-final)       ─▶ finish ─▶ CONNACK 0x00 (v=) | CONNACK 0x87 (e=)
//! AUTH 0x19 (client-first)       ─▶ same, ending in AUTH 0x00 (v=) | DISCONNECT 0x87
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mqtt_scram::credentials::{DEFAULT_ITERATIONS, DEFAULT_SALT_LEN};
use mqtt_scram::provider::{Lookup, LookupRequest};
use mqtt_scram::saslprep::{Mode, saslprep};
use mqtt_scram::server::ServerChallenge;
use mqtt_scram::{
    ConnectionInfo, Identity, Mechanism, Outcome, ReasonCode, StartPacket, StoredCredentials,
};
use rumqttc::v5::mqttbytes::v5::{Connect, ConnectReturnCode, Login};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use super::listener::Shared;
use super::reply::{connack_code_u8, packet_name, send_connack, send_reply, server_properties};
use super::wire::{AuthPacket, Frame, ReadError, Wire};

/// Handshakes in progress (CONNECT exchanges and re-authentications), bounded by a
/// semaphore. Entries leave the table when their [`HandshakeSlot`] drops, whatever
/// ends the handshake (success, rejection, timeout, closed socket, task abort).
pub struct Handshakes {
    table: Mutex<HashMap<u64, HandshakeEntry>>,
    slots: Arc<Semaphore>,
    next_id: AtomicU64,
    peak: AtomicUsize,
}

/// One row of the handshake table.
#[derive(Clone, Debug)]
pub struct HandshakeEntry {
    /// Remote address.
    pub peer: Option<SocketAddr>,
    /// `connect` or `reauth`.
    pub kind: &'static str,
    /// When it started, on the engine clock.
    pub started: Duration,
}

/// A place in the handshake table; dropping it frees the place.
pub struct HandshakeSlot {
    shared: Arc<Shared>,
    id: u64,
    _permit: OwnedSemaphorePermit,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.shared.handshakes.lock().remove(&self.id);
    }
}

impl Handshakes {
    /// A table with room for `max` concurrent handshakes.
    pub fn new(max: usize) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(max.max(1))),
            next_id: AtomicU64::new(1),
            peak: AtomicUsize::new(0),
        }
    }

    /// Number of handshakes in progress.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// The most rows the table has had at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// The rows of the table, oldest first.
    pub fn snapshot(&self) -> Vec<HandshakeEntry> {
        let mut rows: Vec<_> = self.lock().values().cloned().collect();
        rows.sort_by_key(|row| row.started);
        rows
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, HandshakeEntry>> {
        // Entries are plain data; a panic elsewhere cannot leave one half-written.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(
        shared: &Arc<Shared>,
        permit: OwnedSemaphorePermit,
        peer: Option<SocketAddr>,
        kind: &'static str,
    ) -> HandshakeSlot {
        let id = shared.handshakes.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = HandshakeEntry {
            peer,
            kind,
            started: super::now(),
        };
        let rows = {
            let mut table = shared.handshakes.lock();
            table.insert(id, entry);
            table.len()
        };
        shared.handshakes.peak.fetch_max(rows, Ordering::Relaxed);
        HandshakeSlot {
            shared: Arc::clone(shared),
            id,
            _permit: permit,
        }
    }

    /// Waits up to `wait` for a place (CONNECT: a queue in front of the limit).
    pub async fn enter(
        shared: &Arc<Shared>,
        peer: Option<SocketAddr>,
        kind: &'static str,
        wait: Duration,
    ) -> Option<HandshakeSlot> {
        let slots = Arc::clone(&shared.handshakes.slots);
        let permit = tokio::time::timeout(wait, slots.acquire_owned())
            .await
            .ok()?
            .ok()?;
        Some(Self::insert(shared, permit, peer, kind))
    }

    /// Takes a place if one is free (re-authentication: the session must not stall).
    pub fn try_enter(
        shared: &Arc<Shared>,
        peer: Option<SocketAddr>,
        kind: &'static str,
    ) -> Option<HandshakeSlot> {
        let permit = Arc::clone(&shared.handshakes.slots)
            .try_acquire_owned()
            .ok()?;
        Some(Self::insert(shared, permit, peer, kind))
    }
}

/// Who the connection is, once CONNACK 0x00 has been sent.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Identity from the SCRAM exchange (or, for plain logins, built from the record).
    pub identity: Identity,
    /// Whether the client used enhanced authentication (and so may re-authenticate).
    pub enhanced: bool,
}

/// Authenticates a CONNECT. Sends the AUTH challenge and the CONNACK (success or
/// failure) itself; `None` means the connection must close.
pub async fn on_connect<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<S>,
    shared: &Arc<Shared>,
    connect: &Connect,
    login: Option<Login>,
    info: Arc<ConnectionInfo>,
) -> Option<Authenticated> {
    let props = connect.properties.as_ref();
    let method = props.and_then(|p| p.authentication_method.clone());
    let data = props.and_then(|p| p.authentication_data.clone());
    let Some(_slot) = Handshakes::enter(
        shared,
        info.peer,
        "connect",
        shared.limits.handshake_queue_wait,
    )
    .await
    else {
        warn!(peer = ?info.peer, "handshake table full; answering Server busy");
        send_connack(wire, ConnectReturnCode::ServerBusy, None, None, None).await;
        return None;
    };
    let result = match method {
        Some(method) => scram_connect(wire, shared, &method, data.as_deref(), &info).await,
        None if data.is_some() => {
            // MQTT 5.0 §3.1.2.11.10: Authentication Data without a method is a Protocol Error.
            warn!(peer = ?info.peer, "authentication data without authentication method");
            send_connack(wire, ConnectReturnCode::ProtocolError, None, None, None).await;
            None
        }
        None if shared.allow_plain => plain_connect(wire, shared, login, &info).await,
        None => {
            info!(peer = ?info.peer, client_id = %info.client_id, "no authentication method and --allow-plain is off: 0x87");
            send_connack(wire, ConnectReturnCode::NotAuthorized, None, None, None).await;
            None
        }
    };
    let counter = if result.is_some() {
        &shared.counters.auth_accepted
    } else {
        &shared.counters.auth_rejected
    };
    counter.fetch_add(1, Ordering::Relaxed);
    result
}

async fn scram_connect<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<S>,
    shared: &Arc<Shared>,
    method: &str,
    data: Option<&[u8]>,
    info: &Arc<ConnectionInfo>,
) -> Option<Authenticated> {
    let need = match shared.scram.start(
        info,
        StartPacket::Connect { method, data },
        super::timestamp(),
    ) {
        Ok(need) => need,
        Err(rejection) => {
            info!(peer = ?info.peer, method, error = %rejection.error, code = %rejection.reply.reason_code, "CONNECT rejected");
            send_reply(wire, &rejection.reply, None).await;
            return None;
        }
    };
    let username = need.request().username.to_string();
    let lookup = shared
        .provider
        .lookup(&need.request(), shared.limits.provider_timeout)
        .await;
    log_lookup(&username, &lookup);
    let (challenge, reply) = need.continue_with(lookup, &mut rand::rng());
    if !send_reply(wire, &reply, None).await {
        return None;
    }
    let deadline = challenge.deadline();
    let mechanism = challenge.mechanism();
    let auth = match tokio::time::timeout(deadline.saturating_sub(super::now()), wire.read()).await
    {
        Err(_) => {
            warn!(peer = ?info.peer, %username, "handshake deadline passed; dropping the client");
            send_connack(
                wire,
                ConnectReturnCode::NotAuthorized,
                Some(mechanism),
                None,
                None,
            )
            .await;
            return None;
        }
        Ok(Ok(Frame::Auth(auth))) => auth,
        Ok(Ok(Frame::Disconnect { .. })) | Ok(Err(ReadError::Closed)) => {
            debug!(peer = ?info.peer, %username, "client left during the handshake");
            return None;
        }
        Ok(Ok(Frame::Mqtt(other))) => {
            warn!(peer = ?info.peer, %username, packet = packet_name(&other), "packet other than AUTH during the handshake");
            send_connack(wire, ConnectReturnCode::ProtocolError, None, None, None).await;
            return None;
        }
        Ok(Err(e)) => {
            warn!(peer = ?info.peer, %username, error = %e, "bad packet during the handshake");
            if let Some(code) = e.reason_code() {
                send_connack(wire, connack_code_u8(code), None, None, None).await;
            }
            return None;
        }
    };
    let (code, method, data) = auth_fields(&auth);
    match challenge.finish(code, method, data, super::timestamp()) {
        Outcome::Accepted { reply, identity } => {
            if expired(identity.expire_at()) {
                info!(peer = ?info.peer, %username, "credentials already expired (expire_at); 0x87");
                send_connack(
                    wire,
                    ConnectReturnCode::NotAuthorized,
                    Some(identity.mechanism),
                    None,
                    None,
                )
                .await;
                return None;
            }
            let props = server_properties(shared, info);
            if !send_reply(wire, &reply, Some(props)).await {
                return None;
            }
            info!(peer = ?info.peer, %username, mechanism = %identity.mechanism.name(), client_id = %info.client_id, "authenticated");
            Some(Authenticated {
                identity,
                enhanced: true,
            })
        }
        Outcome::Rejected(rejection) => {
            // `error` says locally whether the user was unknown; the reply does not.
            info!(peer = ?info.peer, %username, error = %rejection.error, code = %rejection.reply.reason_code, "authentication failed");
            send_reply(wire, &rejection.reply, None).await;
            None
        }
    }
}

/// `--allow-plain`: checks the CONNECT User Name and Password against the stored SCRAM
/// credentials (PBKDF2 on the server, on a blocking thread). See the broker's docs for the
/// risks. Unknown users cost the same PBKDF2 work as known ones and get the same 0x86.
async fn plain_connect<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<S>,
    shared: &Arc<Shared>,
    login: Option<Login>,
    info: &Arc<ConnectionInfo>,
) -> Option<Authenticated> {
    let Some(login) = login else {
        info!(peer = ?info.peer, "no authentication method and no password: 0x87");
        send_connack(wire, ConnectReturnCode::NotAuthorized, None, None, None).await;
        return None;
    };
    let password = Zeroizing::new(login.password);
    let username = match saslprep(&login.username, Mode::Query) {
        Ok(name) if !name.is_empty() => name.into_owned(),
        _ => {
            send_connack(
                wire,
                ConnectReturnCode::BadUserNamePassword,
                None,
                None,
                None,
            )
            .await;
            return None;
        }
    };
    let mut found = None;
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let request = LookupRequest::new(mechanism, &username, info);
        if let Lookup::Found(record) = shared
            .provider
            .lookup(&request, shared.limits.provider_timeout)
            .await
        {
            found = Some((mechanism, record));
            break;
        }
    }
    let check = tokio::task::spawn_blocking(move || {
        let ok = match &found {
            Some((_, record)) => record
                .credentials
                .verify_password(&password)
                .unwrap_or(false),
            None => {
                let salt = [0u8; DEFAULT_SALT_LEN];
                let _ = StoredCredentials::derive(
                    Mechanism::ScramSha256.hash(),
                    &password,
                    &salt,
                    DEFAULT_ITERATIONS,
                );
                false
            }
        };
        (ok, found)
    });
    let (ok, found) = check.await.unwrap_or((false, None));
    match (ok, found) {
        (true, Some((mechanism, record))) if !expired(record.attributes.expire_at) => {
            let identity = Identity::new(
                username.clone(),
                mechanism,
                std::sync::Arc::clone(&record.attributes),
            );
            let props = server_properties(shared, info);
            send_connack(wire, ConnectReturnCode::Success, None, None, Some(props)).await;
            warn!(peer = ?info.peer, %username, "authenticated with a plain password (--allow-plain)");
            Some(Authenticated {
                identity,
                enhanced: false,
            })
        }
        _ => {
            info!(peer = ?info.peer, %username, "plain password rejected: 0x86");
            send_connack(
                wire,
                ConnectReturnCode::BadUserNamePassword,
                None,
                None,
                None,
            )
            .await;
            None
        }
    }
}

/// A re-authentication in progress on an authenticated connection.
pub struct Reauth {
    /// The engine state waiting for the client-final-message.
    pub challenge: ServerChallenge,
    /// Its place in the handshake table.
    pub slot: HandshakeSlot,
}

/// Handles AUTH 0x19: starts a re-authentication and sends AUTH 0x18. On failure the
/// DISCONNECT has been sent and `None` means close.
pub async fn reauth_start<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<S>,
    shared: &Arc<Shared>,
    auth: &AuthPacket,
    current: &Identity,
    info: &Arc<ConnectionInfo>,
) -> Option<Reauth> {
    let Some(slot) = Handshakes::try_enter(shared, info.peer, "reauth") else {
        warn!(peer = ?info.peer, "handshake table full during re-authentication; Server busy");
        let _ = wire.send_disconnect(ReasonCode::ServerBusy.to_u8()).await;
        return None;
    };
    let (reason_code, method, data) = auth_fields(auth);
    let packet = StartPacket::Reauthenticate {
        reason_code,
        method,
        data,
        current,
    };
    let need = match shared.scram.start(info, packet, super::timestamp()) {
        Ok(need) => need,
        Err(rejection) => {
            info!(peer = ?info.peer, error = %rejection.error, code = %rejection.reply.reason_code, "re-authentication rejected");
            send_reply(wire, &rejection.reply, None).await;
            return None;
        }
    };
    let lookup = shared
        .provider
        .lookup(&need.request(), shared.limits.provider_timeout)
        .await;
    log_lookup(&current.username, &lookup);
    let (challenge, reply) = need.continue_with(lookup, &mut rand::rng());
    if !send_reply(wire, &reply, None).await {
        return None;
    }
    Some(Reauth { challenge, slot })
}

/// Handles the AUTH 0x18 that ends a re-authentication: sends AUTH 0x00 and returns the
/// new identity, or sends DISCONNECT and returns `None`.
pub async fn reauth_finish<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<S>,
    shared: &Arc<Shared>,
    reauth: Reauth,
    auth: &AuthPacket,
    info: &Arc<ConnectionInfo>,
) -> Option<Identity> {
    let (code, method, data) = auth_fields(auth);
    let outcome = reauth
        .challenge
        .finish(code, method, data, super::timestamp());
    drop(reauth.slot);
    match outcome {
        Outcome::Accepted { identity, .. } if expired(identity.expire_at()) => {
            info!(peer = ?info.peer, username = %identity.username, "re-authenticated with expired credentials; 0x87");
            let _ = wire
                .send_disconnect(ReasonCode::NotAuthorized.to_u8())
                .await;
            None
        }
        Outcome::Accepted { reply, identity } => {
            shared
                .counters
                .reauth_accepted
                .fetch_add(1, Ordering::Relaxed);
            info!(peer = ?info.peer, username = %identity.username, "re-authenticated");
            send_reply(wire, &reply, None).await.then_some(identity)
        }
        Outcome::Rejected(rejection) => {
            info!(peer = ?info.peer, error = %rejection.error, code = %rejection.reply.reason_code, "re-authentication failed");
            send_reply(wire, &rejection.reply, None).await;
            None
        }
    }
}

/// Whether an `expire_at` (Unix seconds) has passed.
pub fn expired(expire_at: Option<u64>) -> bool {
    expire_at.is_some_and(|at| super::unix_now() >= at)
}

fn log_lookup(username: &str, lookup: &Lookup) {
    match lookup {
        Lookup::Found(_) => debug!(%username, "credentials found"),
        Lookup::NotFound => info!(%username, "unknown user (answered like a wrong password)"),
        Lookup::Ignore(reason) => {
            warn!(%username, %reason, "credential provider could not decide")
        }
    }
}

/// Reason code, method and data of an AUTH packet, as the engine takes them
/// (a missing method is "", which no mechanism is called, so the engine answers 0x8C).
fn auth_fields(auth: &AuthPacket) -> (u8, &str, Option<&[u8]>) {
    (
        auth.reason_code,
        auth.method.as_deref().unwrap_or(""),
        auth.data.as_deref(),
    )
}
