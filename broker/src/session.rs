//! One connection from CONNECT to close: authentication through [`super::auth`], then
//! the authenticated session.
//!
//! The session does just enough to show a client working: PINGREQ, loopback
//! PUBLISH/SUBSCRIBE/UNSUBSCRIBE (a client receives its own messages on topics it
//! subscribed to, at QoS 0; it may publish at QoS 0 or 1), re-authentication (AUTH
//! 0x19), keep-alive, and the end of the session when the credentials' `expire_at`
//! passes (DISCONNECT 0xA0 Maximum connect time). No retained messages, shared
//! subscriptions, subscription identifiers, topic aliases, QoS 2 or Will delivery;
//! CONNACK says so and a client that uses them anyway is disconnected with the
//! matching reason code.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqtt_scram::{ChannelBinding, ConnectionInfo};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    Packet, PingResp, PubAck, PubAckReason, Publish, SubAck, Subscribe, SubscribeReasonCode,
    UnsubAck, UnsubAckReason, Unsubscribe,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tracing::{debug, info};

use mqtt_scram_authenticator::{Failure, Status, Step};

use super::auth::{self, Authenticated};
use super::listener::Shared;
use super::reply;
use super::wire::{AuthPacket, Frame, ReadError, Wire};

/// DISCONNECT reason codes the session uses (MQTT 5.0 §3.14.2.1).
mod code {
    pub const MALFORMED_PACKET: u8 = 0x81;
    pub const PROTOCOL_ERROR: u8 = 0x82;
    pub const SERVER_SHUTTING_DOWN: u8 = 0x8B;
    pub const KEEP_ALIVE_TIMEOUT: u8 = 0x8D;
    pub const TOPIC_NAME_INVALID: u8 = 0x90;
    pub const TOPIC_ALIAS_INVALID: u8 = 0x94;
    pub const RETAIN_NOT_SUPPORTED: u8 = 0x9A;
    pub const QOS_NOT_SUPPORTED: u8 = 0x9B;
    pub const MAXIMUM_CONNECT_TIME: u8 = 0xA0;
    pub const SUBSCRIPTION_IDS_NOT_SUPPORTED: u8 = 0xA1;
}

/// Serves one connection (already past TLS, if any) until it closes.
pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    listener: &str,
    binding: Option<ChannelBinding>,
    shared: Arc<Shared>,
) {
    let mut wire = Wire::new(
        stream,
        shared.limits.max_packet_size,
        shared.limits.write_timeout,
    );
    let (connect, login) =
        match tokio::time::timeout(shared.limits.connect_timeout, wire.read()).await {
            Ok(Ok(Frame::Mqtt(Packet::Connect(connect, _will, login)))) => (connect, login),
            Ok(Ok(_)) => {
                // MQTT-3.1.0-1: the first packet must be CONNECT; anything else closes.
                debug!(%peer, "first packet is not CONNECT; closing");
                return;
            }
            Ok(Err(e)) => {
                debug!(%peer, error = %e, "no valid CONNECT");
                if let Some(code) = e.reason_code() {
                    reply::send_connack(&mut wire, reply::connack_code_u8(code), None, None, None)
                        .await;
                }
                return;
            }
            Err(_) => {
                debug!(%peer, "no CONNECT within the connect timeout; closing");
                return;
            }
        };
    let mut info = ConnectionInfo::new(connect.client_id.clone())
        .with_peer(peer)
        .with_listener(format!("{listener}:default"));
    info.mqtt_username = login.as_ref().map(|l| l.username.clone());
    info.channel_binding = binding;
    let info = Arc::new(info);
    let Some(authenticated) =
        auth::on_connect(&mut wire, &shared, &connect, login, Arc::clone(&info)).await
    else {
        wire.shutdown().await;
        return;
    };
    let keep_alive = (connect.keep_alive > 0)
        .then(|| Duration::from_millis(u64::from(connect.keep_alive) * 1500));
    let mut session = Session {
        wire,
        shared,
        info,
        authenticated,
        keep_alive,
        subscriptions: Vec::new(),
    };
    session.run().await;
    session.wire.shutdown().await;
}

struct Session<S> {
    wire: Wire<S>,
    shared: Arc<Shared>,
    info: Arc<ConnectionInfo>,
    authenticated: Authenticated,
    keep_alive: Option<Duration>,
    subscriptions: Vec<String>,
}

#[allow(clippy::large_enum_variant)]
enum Event {
    Packet(Result<Frame, ReadError>),
    Idle,
    /// A plain-password session's `expire_at` passed.
    Expired,
    /// The authenticator's deadline passed (re-authentication unanswered, credentials expired).
    AuthTimeout(Step),
    Shutdown,
}

enum Flow {
    Continue,
    Close,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    async fn run(&mut self) {
        let mut shutdown = self.shared.shutdown.clone();
        if *shutdown.borrow_and_update() {
            self.disconnect(code::SERVER_SHUTTING_DOWN, "server shutting down")
                .await;
            return;
        }
        // One wait for the shutdown signal and one keep-alive timer for the whole session
        // (the timer's deadline moves forward each turn, which costs no timer-wheel lock),
        // instead of new ones for every packet.
        let mut stopping = pin!(shutdown.changed());
        let mut idle = pin!(tokio::time::sleep(self.keep_alive.unwrap_or_default()));
        loop {
            if let Some(keep_alive) = self.keep_alive {
                idle.as_mut().reset(Instant::now() + keep_alive);
            }
            // Plain sessions have no authenticator state: their expiry is timed here.
            let expiry = self
                .authenticated
                .auth
                .is_none()
                .then(|| {
                    self.authenticated
                        .identity
                        .expire_at()
                        .map(instant_from_unix)
                })
                .flatten();
            let wire = &mut self.wire;
            let auth = &mut self.authenticated.auth;
            let event = tokio::select! {
                packet = wire.read() => Event::Packet(packet),
                () = &mut idle, if self.keep_alive.is_some() => Event::Idle,
                () = at(expiry) => Event::Expired,
                step = auth_timeout(auth) => Event::AuthTimeout(step),
                _ = &mut stopping => Event::Shutdown,
            };
            let flow = match event {
                Event::Packet(Ok(packet)) => self.handle(packet).await,
                Event::Packet(Err(e)) => {
                    debug!(peer = ?self.info.peer, error = %e, "connection ends");
                    if let Some(code) = e.reason_code() {
                        let _ = self.wire.send_disconnect(code).await;
                    }
                    Flow::Close
                }
                Event::Idle => {
                    self.disconnect(code::KEEP_ALIVE_TIMEOUT, "keep-alive timeout")
                        .await
                }
                Event::Expired => {
                    self.shared.counters.expired.fetch_add(1, Ordering::Relaxed);
                    self.disconnect(
                        code::MAXIMUM_CONNECT_TIME,
                        "credentials expired (expire_at)",
                    )
                    .await
                }
                Event::AuthTimeout(step) => {
                    if let Status::Failed(Failure::CredentialsExpired) = step.status {
                        self.shared.counters.expired.fetch_add(1, Ordering::Relaxed);
                    }
                    let why = match &step.status {
                        Status::Failed(failure) => failure.to_string(),
                        _ => "authentication deadline".to_string(),
                    };
                    info!(peer = ?self.info.peer, username = %self.authenticated.identity.username, reason_code = step.reason_code, why, "disconnecting");
                    let _ = reply::send_step(&mut self.wire, &step, None).await;
                    Flow::Close
                }
                Event::Shutdown => {
                    self.disconnect(code::SERVER_SHUTTING_DOWN, "server shutting down")
                        .await
                }
            };
            if let Flow::Close = flow {
                return;
            }
        }
    }

    async fn disconnect(&mut self, reason_code: u8, why: &str) -> Flow {
        info!(peer = ?self.info.peer, username = %self.authenticated.identity.username, reason_code, why, "disconnecting");
        let _ = self.wire.send_disconnect(reason_code).await;
        Flow::Close
    }

    async fn send(&mut self, packet: Packet) -> Flow {
        match self.wire.send(&packet).await {
            Ok(()) => Flow::Continue,
            Err(e) => {
                debug!(peer = ?self.info.peer, error = %e, "write failed");
                Flow::Close
            }
        }
    }

    async fn handle(&mut self, frame: Frame) -> Flow {
        let packet = match frame {
            Frame::Auth(auth) => return self.auth(auth).await,
            Frame::Disconnect { reason_code } => {
                debug!(peer = ?self.info.peer, reason_code, "client disconnected");
                return Flow::Close;
            }
            Frame::Mqtt(packet) => packet,
        };
        match packet {
            Packet::PingReq(_) => self.send(Packet::PingResp(PingResp)).await,
            Packet::Publish(publish) => self.publish(publish).await,
            Packet::Subscribe(subscribe) => self.subscribe(subscribe).await,
            Packet::Unsubscribe(unsubscribe) => self.unsubscribe(unsubscribe).await,
            other => {
                let why = format!("unexpected {} from a client", reply::packet_name(&other));
                self.disconnect(code::PROTOCOL_ERROR, &why).await
            }
        }
    }

    async fn auth(&mut self, packet: AuthPacket) -> Flow {
        let Some(auth) = self.authenticated.auth.as_mut() else {
            return self
                .disconnect(
                    code::PROTOCOL_ERROR,
                    "AUTH on a connection without enhanced authentication",
                )
                .await;
        };
        let Some(step) = auth::on_session_auth(&mut self.wire, auth, &packet).await else {
            return Flow::Close;
        };
        match step.status {
            Status::Reauthenticated(identity) => {
                self.shared
                    .counters
                    .reauth_accepted
                    .fetch_add(1, Ordering::Relaxed);
                // Logged at info by the authenticator's handshake span already.
                debug!(peer = ?self.info.peer, username = %identity.username, "re-authenticated");
                self.authenticated.identity = identity;
                Flow::Continue
            }
            Status::Failed(failure) => {
                info!(peer = ?self.info.peer, username = %self.authenticated.identity.username, reason_code = step.reason_code, error = %failure, "re-authentication failed; disconnected");
                Flow::Close
            }
            _ => Flow::Continue,
        }
    }

    async fn publish(&mut self, publish: Publish) -> Flow {
        let Ok(topic) = std::str::from_utf8(&publish.topic) else {
            return self
                .disconnect(code::MALFORMED_PACKET, "topic is not UTF-8")
                .await;
        };
        let topic = topic.to_string();
        if publish
            .properties
            .as_ref()
            .is_some_and(|p| p.topic_alias.is_some())
        {
            return self
                .disconnect(code::TOPIC_ALIAS_INVALID, "topic aliases are not supported")
                .await;
        }
        if topic.is_empty() || topic.contains(['+', '#', '\0']) {
            return self
                .disconnect(code::TOPIC_NAME_INVALID, "invalid topic name")
                .await;
        }
        if publish.retain {
            return self
                .disconnect(
                    code::RETAIN_NOT_SUPPORTED,
                    "retained messages are not supported",
                )
                .await;
        }
        match publish.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                let ack = PubAck {
                    pkid: publish.pkid,
                    reason: PubAckReason::Success,
                    properties: None,
                };
                if let Flow::Close = self.send(Packet::PubAck(ack)).await {
                    return Flow::Close;
                }
            }
            QoS::ExactlyOnce => {
                return self
                    .disconnect(code::QOS_NOT_SUPPORTED, "QoS 2 is not supported")
                    .await;
            }
        }
        if !self
            .subscriptions
            .iter()
            .any(|filter| topic_matches(&topic, filter))
        {
            return Flow::Continue;
        }
        let properties = publish.properties.map(|mut p| {
            p.subscription_identifiers.clear();
            p
        });
        let echo = Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: publish.topic,
            pkid: 0,
            payload: publish.payload,
            properties,
        };
        self.send(Packet::Publish(echo)).await
    }

    async fn subscribe(&mut self, subscribe: Subscribe) -> Flow {
        if subscribe
            .properties
            .as_ref()
            .is_some_and(|p| p.id.is_some())
        {
            return self
                .disconnect(
                    code::SUBSCRIPTION_IDS_NOT_SUPPORTED,
                    "subscription identifiers are not supported",
                )
                .await;
        }
        let mut return_codes = Vec::with_capacity(subscribe.filters.len());
        for filter in subscribe.filters {
            let known = self.subscriptions.contains(&filter.path);
            let code = if !valid_filter(&filter.path) {
                SubscribeReasonCode::TopicFilterInvalid
            } else if filter.path.starts_with("$share/") {
                SubscribeReasonCode::SharedSubscriptionsNotSupported
            } else if !known && self.subscriptions.len() >= self.shared.limits.max_subscriptions {
                SubscribeReasonCode::QuotaExceeded
            } else {
                if !known {
                    self.subscriptions.push(filter.path);
                }
                SubscribeReasonCode::Success(QoS::AtMostOnce)
            };
            return_codes.push(code);
        }
        self.send(Packet::SubAck(SubAck {
            pkid: subscribe.pkid,
            return_codes,
            properties: None,
        }))
        .await
    }

    async fn unsubscribe(&mut self, unsubscribe: Unsubscribe) -> Flow {
        let reasons = unsubscribe
            .filters
            .iter()
            .map(|filter| {
                let before = self.subscriptions.len();
                self.subscriptions.retain(|f| f != filter);
                if self.subscriptions.len() < before {
                    UnsubAckReason::Success
                } else {
                    UnsubAckReason::NoSubscriptionExisted
                }
            })
            .collect();
        self.send(Packet::UnsubAck(UnsubAck {
            pkid: unsubscribe.pkid,
            reasons,
            properties: None,
        }))
        .await
    }
}

/// The authenticator's next timeout, or never (plain sessions).
async fn auth_timeout(auth: &mut Option<mqtt_scram_authenticator::ConnectionAuth>) -> Step {
    match auth {
        Some(auth) => auth.timeout().await,
        None => std::future::pending().await,
    }
}

/// Completes at `deadline`, or never.
async fn at(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A Unix time in seconds as a tokio instant (now, if it has passed).
fn instant_from_unix(unix_secs: u64) -> Instant {
    let at = UNIX_EPOCH + Duration::from_secs(unix_secs);
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    // Far-future expiries are capped so the timer arithmetic cannot overflow.
    Instant::now() + left.min(Duration::from_secs(100 * 365 * 24 * 3600))
}

/// MQTT 5.0 §4.7: `+` matches one level, a trailing `#` any number (including none);
/// wildcards at the start do not match topics beginning with `$`.
fn topic_matches(topic: &str, filter: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut levels = topic.split('/');
    for f in filter.split('/') {
        if f == "#" {
            return true;
        }
        match levels.next() {
            Some(level) if f == "+" || f == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

/// MQTT 5.0 §4.7.1: wildcards occupy whole levels; `#` only last.
fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let last = filter.split('/').count().saturating_sub(1);
    filter.split('/').enumerate().all(|(i, level)| match level {
        "#" => i == last,
        "+" => true,
        level => !level.contains(['+', '#']),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_filters_follow_mqtt_4_7() {
        assert!(topic_matches("a/b/c", "a/+/c"));
        assert!(topic_matches("a/b/c", "a/#"));
        assert!(topic_matches("a", "a/#"));
        assert!(topic_matches("a/b", "#"));
        assert!(!topic_matches("a/b/c", "a/+"));
        assert!(!topic_matches("a/b", "a/b/c"));
        assert!(!topic_matches("$SYS/x", "#"));
        assert!(!topic_matches("$SYS/x", "+/x"));
        assert!(topic_matches("$SYS/x", "$SYS/#"));
        assert!(topic_matches("é/x", "é/+"));
        assert!(valid_filter("a/+/#"));
        assert!(!valid_filter("a/#/b"));
        assert!(!valid_filter("a+"));
        assert!(!valid_filter(""));
    }
}
