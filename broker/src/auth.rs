//! The authentication front: drives the `mqtt-scram-authenticator` over MQTT 5 packets (one
//! integration path: every decision comes from the authenticator and the engine under it)
//! and, only with `--allow-plain`, checks CONNECT passwords against the same stored
//! credentials.
//!
//! ```text
//! CONNECT (method, client-first) ─▶ on_connect ─▶ AUTH 0x18 (server-first) | CONNACK 0x89/0x8C/0x87
//! AUTH 0x18 (client-final)       ─▶ on_auth    ─▶ CONNACK 0x00 (v=) | CONNACK 0x87 (e=)
//! (no answer by the deadline)    ─▶ timeout    ─▶ CONNACK 0x87
//! AUTH 0x19 (client-first)       ─▶ same, ending in AUTH 0x00 (v=) | DISCONNECT 0x87   (session.rs)
//! ```

use std::sync::Arc;
use std::sync::atomic::Ordering;

use mqtt_scram::provider::{DynCredentialProvider as _, Lookup, LookupRequest};
use mqtt_scram::saslprep::{Mode, saslprep};
use mqtt_scram::{ConnectionInfo, Identity, Mechanism, StoredCredentials};
use mqtt_scram_authenticator::{ConnectionAuth, Status, Step};
use rumqttc::v5::mqttbytes::v5::{Connect, ConnectReturnCode, Login};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use super::listener::Shared;
use super::reply::{connack_code_u8, packet_name, send_connack, send_step, server_properties};
use super::wire::{Frame, ReadError, Wire};

/// Who the connection is, once CONNACK 0x00 has been sent.
#[derive(Debug)]
pub struct Authenticated {
    /// Identity from the SCRAM exchange (or, for plain logins, built from the record).
    pub identity: Identity,
    /// The authenticator's state for enhanced authentication (re-authentication, expiry);
    /// `None` for plain logins, which cannot re-authenticate.
    pub auth: Option<ConnectionAuth>,
}

/// Authenticates a CONNECT. Sends the AUTH challenge and the CONNACK (success or
/// failure) itself; `None` means the connection must close. Every outcome is counted:
/// accepted, or rejected (0x87, 0x8C, 0x82, 0x89 busy alike).
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
    let result = match method {
        Some(method) => scram_connect(wire, shared, &method, data.as_deref(), info).await,
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
    info: Arc<ConnectionInfo>,
) -> Option<Authenticated> {
    let mut auth = shared.authenticator.connection(Arc::clone(&info));
    let mut step = auth.on_connect(method, data).await;
    loop {
        let success = matches!(step.status, Status::Authenticated(_))
            .then(|| server_properties(shared, &info));
        if !send_step(wire, &step, success).await {
            return None;
        }
        match step.status {
            Status::Authenticated(identity) => {
                // The authenticator's handshake span already logs this at info (peer, client
                // id, mechanism, username, outcome): the broker's own line is for debugging.
                debug!(peer = ?info.peer, username = %identity.username, mechanism = %identity.mechanism.name(), client_id = %info.client_id, "authenticated");
                return Some(Authenticated {
                    identity,
                    auth: Some(auth),
                });
            }
            Status::Failed(failure) => {
                // The authenticator logs each handshake (and summarises refusals); this line
                // is the broker's own record of the connection ending.
                debug!(peer = ?info.peer, reason = failure.label(), error = %failure, code = step.reason_code, "CONNECT refused");
                return None;
            }
            _ => {}
        }
        step = tokio::select! {
            timed_out = auth.timeout() => timed_out,
            frame = wire.read() => match next_auth(wire, frame, &info).await {
                Some(auth_packet) => {
                    auth.on_auth(auth_packet.reason_code, auth_packet.method.as_deref(), auth_packet.data.as_deref()).await
                }
                None => return None,
            },
        };
    }
}

/// The client's AUTH during a CONNECT exchange; anything else ends the connection (with
/// CONNACK 0x82 or the framing error's code).
async fn next_auth<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<S>,
    frame: Result<Frame, ReadError>,
    info: &ConnectionInfo,
) -> Option<super::wire::AuthPacket> {
    match frame {
        Ok(Frame::Auth(auth)) => Some(auth),
        Ok(Frame::Disconnect { .. }) | Err(ReadError::Closed) => {
            debug!(peer = ?info.peer, "client left during the handshake");
            None
        }
        Ok(Frame::Mqtt(other)) => {
            debug!(peer = ?info.peer, packet = packet_name(&other), "packet other than AUTH during the handshake");
            send_connack(wire, ConnectReturnCode::ProtocolError, None, None, None).await;
            None
        }
        Err(e) => {
            debug!(peer = ?info.peer, error = %e, "bad packet during the handshake");
            if let Some(code) = e.reason_code() {
                send_connack(wire, connack_code_u8(code), None, None, None).await;
            }
            None
        }
    }
}

/// Handles an AUTH packet on an authenticated connection (re-authentication). Sends what
/// the authenticator asks; returns the step so the session can update its identity, or
/// `None` if the socket failed.
pub async fn on_session_auth<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<S>,
    auth: &mut ConnectionAuth,
    packet: &super::wire::AuthPacket,
) -> Option<Step> {
    let step = auth
        .on_auth(
            packet.reason_code,
            packet.method.as_deref(),
            packet.data.as_deref(),
        )
        .await;
    send_step(wire, &step, None).await.then_some(step)
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
    // An unknown user's PBKDF2 runs at the count real users have (the store's shape).
    let mock_shape = shared
        .provider
        .shared()
        .record_shape_dyn(Mechanism::ScramSha256.hash())
        .unwrap_or_default();
    let check = tokio::task::spawn_blocking(move || {
        let ok = match &found {
            Some((_, record)) => record
                .credentials
                .verify_password(&password)
                .unwrap_or(false),
            None => {
                let salt = vec![0u8; mock_shape.salt_len()];
                let _ = StoredCredentials::derive(
                    Mechanism::ScramSha256.hash(),
                    &password,
                    &salt,
                    mock_shape.iterations(),
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
                auth: None,
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

fn expired(expire_at: Option<u64>) -> bool {
    expire_at.is_some_and(|at| super::unix_now() >= at)
}
