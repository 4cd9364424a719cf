//! A small MQTT 5 front doing what VerneMQ does for enhanced authentication with
//! `vmq_webhooks`, so real MQTT clients can log in through the auth service's `on_auth_m5`.
//!
//! Followed (VerneMQ, github.com/vernemq/vernemq):
//! - `apps/vmq_server/src/vmq_mqtt5_fsm.erl`: `check_enhanced_auth/2` (CONNECT with an
//!   Authentication Method calls `on_auth_m5` with the state's username — `undefined`
//!   before `auth_on_register`, so `null` —, the subscriber id and the CONNECT's
//!   properties; `continue_authentication` sends AUTH 0x18, `success` goes on to
//!   `check_connect` with the answer's method, data and reason string as CONNACK
//!   properties; an `{error, Reason}` without a reason-code map stops the connection without
//!   any packet), `pre_connect_auth/2` (the client's AUTH, same method, calls `on_auth_m5`
//!   again; an error ends in `terminate({error, _})`, which sends nothing), `check_user/3`
//!   and `auth_on_register/3` (`auth_on_register_m5` with the CONNECT's username and
//!   password even after enhanced auth; a `username` modifier replaces the username; an
//!   error or an exhausted plugin chain: CONNACK 0x86), `check_client_id/3`, and
//!   `connected/2` for AUTH (re-authentication: `on_auth_m5` with the session's username;
//!   success sends AUTH 0x00, continue AUTH 0x18, an error closes without a packet).
//! - `apps/vmq_webhooks/src/vmq_webhooks_plugin.erl`: `on_auth_m5/3` and
//!   `auth_on_register_m5/6` (argument names; `peer/1`, `subscriber_id/1`, `nullify/1`),
//!   `call_endpoint/4` (POST, `Content-Type: application/json`, `vernemq-hook: <hook>`),
//!   `encode_payload/3` and `encode_property/3` (`addr`/`port` renamed `peer_addr`/
//!   `peer_port`; `p_authentication_data` base64), `handle_response/3` (`result` `ok` with
//!   `modifiers`, `next`, `{"error": …}`; any status but 200 an error),
//!   `normalize_property/3` (`p_authentication_data` base64-decoded), and `all_till_ok/3`.
//! - `apps/vmq_plugin/src/vmq_plugin_helper.erl` `all_till_ok/2`: `next` from the only
//!   plugin exhausts the chain (`{error, plugin_chain_exhausted}`).
//!
//! Not modelled: authorization of SUBSCRIBE/PUBLISH (the front grants QoS 0 and echoes
//! publications to the same connection when it subscribed to that exact topic), sessions,
//! wills, mountpoints other than `""`.
//!
//! Every hook call and every packet the front sends is recorded in [`Front::log`].

pub mod packet;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use packet::{Packet, Props};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// What `vmq_webhooks_plugin` makes of a hook answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// `{ok, Modifiers}` (`{}` for a bare `ok`).
    Ok(Value),
    /// `next`.
    Next,
    /// `{error, Reason}`: a JSON error, or `{invalid_response_code, Code}`.
    Error(String),
}

/// One entry of the front's log.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A hook was called for `client_id` with `args` and answered `answer`.
    Hook {
        client_id: String,
        hook: String,
        args: Value,
        answer: Answer,
    },
    /// A packet (type, reason code) was sent to `client_id`.
    Sent {
        client_id: String,
        kind: u8,
        reason: u8,
    },
    /// The front closed the connection of `client_id` without a packet (VerneMQ's
    /// `terminate({error, _})` / `{stop, normal, []}`).
    Dropped { client_id: String, why: String },
}

/// The running front: an MQTT 5 listener on a free loopback port.
pub struct Front {
    /// The MQTT listener.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    webhook: String,
    http: reqwest::Client,
    log: Mutex<Vec<Event>>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Front {
    /// Listens on a free loopback port; hooks go to `webhook` (the service's VerneMQ URL).
    pub async fn start(webhook: String) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            webhook,
            http: reqwest::Client::new(),
            log: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let shared = Arc::clone(&accepting);
                tokio::spawn(async move { shared.connection(stream, peer).await });
            }
        });
        Self { addr, shared, task }
    }

    /// Everything recorded so far.
    pub fn log(&self) -> Vec<Event> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The log entries of one client id.
    pub fn log_of(&self, client_id: &str) -> Vec<Event> {
        self.log()
            .into_iter()
            .filter(|e| match e {
                Event::Hook { client_id: c, .. }
                | Event::Sent { client_id: c, .. }
                | Event::Dropped { client_id: c, .. } => c == client_id,
            })
            .collect()
    }
}

/// The connection state VerneMQ keeps that matters here.
struct Session {
    client_id: String,
    username: Option<String>,
    method: String,
    subscriptions: Vec<String>,
}

impl Shared {
    fn record(&self, event: Event) {
        self.log.lock().unwrap().push(event);
    }

    async fn send(&self, stream: &mut TcpStream, client_id: &str, bytes: Vec<u8>) -> bool {
        let kind = bytes.first().map_or(0, |b| b >> 4);
        // The body starts after the remaining length (1 to 4 bytes).
        let body = bytes
            .iter()
            .skip(1)
            .position(|b| b & 0x80 == 0)
            .map_or(bytes.len(), |i| i + 2);
        let reason = match kind {
            packet::CONNACK => bytes.get(body + 1).copied().unwrap_or(0),
            packet::AUTH => bytes.get(body).copied().unwrap_or(0),
            _ => 0,
        };
        self.record(Event::Sent {
            client_id: client_id.to_owned(),
            kind,
            reason,
        });
        stream.write_all(&bytes).await.is_ok()
    }

    fn drop_connection(&self, client_id: &str, why: impl Into<String>) {
        self.record(Event::Dropped {
            client_id: client_id.to_owned(),
            why: why.into(),
        });
    }

    /// `call_endpoint/4` + `handle_response/3` + `all_till_ok/3` for one endpoint.
    async fn hook(&self, client_id: &str, hook: &str, args: Value) -> Answer {
        let response = self
            .http
            .post(&self.webhook)
            .header("content-type", "application/json")
            .header("vernemq-hook", hook)
            .body(args.to_string())
            .send()
            .await;
        let answer = match response {
            Err(e) => Answer::Error(format!("request failed: {e}")),
            Ok(r) if r.status().as_u16() != 200 => {
                Answer::Error(format!("invalid_response_code {}", r.status().as_u16()))
            }
            Ok(r) => match serde_json::from_str::<Value>(&r.text().await.unwrap_or_default()) {
                Err(_) => Answer::Error("received_payload_not_json".into()),
                Ok(body) => match &body["result"] {
                    Value::String(s) if s == "ok" => {
                        Answer::Ok(body.get("modifiers").cloned().unwrap_or(json!({})))
                    }
                    Value::String(s) if s == "next" => Answer::Next,
                    Value::Object(e) => Answer::Error(
                        e.get("error")
                            .and_then(Value::as_str)
                            .unwrap_or("unknown_error")
                            .to_owned(),
                    ),
                    _ => Answer::Next,
                },
            },
        };
        self.record(Event::Hook {
            client_id: client_id.to_owned(),
            hook: hook.to_owned(),
            args,
            answer: answer.clone(),
        });
        answer
    }

    /// `on_auth_m5`: `Ok((reason code, properties for the packet))` for an `ok` whose
    /// method is the connection's (the only answers `vmq_mqtt5_fsm` matches), else `Err`.
    async fn on_auth(&self, session: &Session, props: &Props) -> Result<(u8, Props), String> {
        let args = json!({
            "username": session.username,
            "mountpoint": "",
            "client_id": session.client_id,
            "properties": packet::vmq_props(props),
        });
        let modifiers = match self.hook(&session.client_id, "on_auth_m5", args).await {
            Answer::Ok(modifiers) => modifiers,
            Answer::Next => return Err("plugin_chain_exhausted".into()),
            Answer::Error(e) => return Err(e),
        };
        let properties = &modifiers["properties"];
        if properties["p_authentication_method"].as_str() != Some(session.method.as_str()) {
            return Err("no clause matches the answer (method)".into());
        }
        let out = packet::from_vmq(properties)?;
        match modifiers["reason_code"].as_u64() {
            Some(0) => Ok((0x00, out)),
            Some(24) => Ok((0x18, out)),
            _ => Err("no clause matches the answer (reason code)".into()),
        }
    }

    async fn connection(self: Arc<Self>, mut stream: TcpStream, peer: SocketAddr) {
        let Ok(Some(Packet {
            kind: packet::CONNECT,
            body,
            ..
        })) = packet::read_packet(&mut stream).await
        else {
            return;
        };
        let Ok(connect) = packet::parse_connect(&body) else {
            return;
        };
        let mut session = Session {
            client_id: connect.client_id.clone(),
            username: None,
            method: String::new(),
            subscriptions: Vec::new(),
        };
        let mut out_props = Props::new();
        if let Some(method) = packet::method(&connect.props) {
            // check_enhanced_auth / pre_connect_auth
            session.method = method.to_owned();
            let mut props = connect.props.clone();
            loop {
                match self.on_auth(&session, &props).await {
                    Ok((0x00, answer)) => {
                        out_props = answer;
                        break;
                    }
                    Ok((_, answer)) => {
                        let auth = packet::auth(0x18, &answer);
                        if !self.send(&mut stream, &session.client_id, auth).await {
                            return;
                        }
                    }
                    Err(why) => return self.drop_connection(&session.client_id, why),
                }
                // pre_connect_auth: an AUTH with the same method and data; else the
                // connection ends.
                let next = match packet::read_packet(&mut stream).await {
                    Ok(Some(p)) if p.kind == packet::AUTH => packet::parse_auth(&p.body),
                    _ => return self.drop_connection(&session.client_id, "no AUTH"),
                };
                match next {
                    Ok((_, p))
                        if packet::method(&p) == Some(session.method.as_str())
                            && packet::data(&p).is_some() =>
                    {
                        props = p;
                    }
                    _ => return self.drop_connection(&session.client_id, "unexpected AUTH"),
                }
            }
        }
        // check_client_id: an empty client id gets a random one.
        if session.client_id.is_empty() {
            session.client_id = format!("front-{}", rand::random::<u64>());
            out_props.push((0x12, packet::Prop::Str(session.client_id.clone())));
        }
        // check_user → auth_on_register/3 (allow_anonymous off).
        let args = json!({
            "peer_addr": peer.ip().to_string(),
            "peer_port": peer.port(),
            "mountpoint": "",
            "client_id": session.client_id,
            "username": connect.username,
            "password": connect.password.as_ref().map(|p| String::from_utf8_lossy(p).into_owned()),
            "clean_start": connect.clean_start,
            "properties": packet::vmq_props(&connect.props),
        });
        match self
            .hook(&session.client_id, "auth_on_register_m5", args)
            .await
        {
            Answer::Ok(modifiers) => {
                session.username = modifiers
                    .get("username")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or(connect.username.clone());
            }
            Answer::Next | Answer::Error(_) => {
                // connack_terminate(?BAD_USERNAME_OR_PASSWORD)
                let connack = packet::connack(0x86, &Props::new());
                self.send(&mut stream, &session.client_id, connack).await;
                return;
            }
        }
        let connack = packet::connack(0x00, &out_props);
        if !self.send(&mut stream, &session.client_id, connack).await {
            return;
        }
        self.connected(stream, session).await;
    }

    async fn connected(&self, mut stream: TcpStream, mut session: Session) {
        let id = session.client_id.clone();
        loop {
            let Ok(Some(p)) = packet::read_packet(&mut stream).await else {
                return;
            };
            let reply = match p.kind {
                packet::PINGREQ => vec![packet::pingresp()],
                packet::DISCONNECT => return,
                packet::SUBSCRIBE => match packet::parse_subscribe(&p.body) {
                    Ok((packet_id, filters)) => {
                        let reply = packet::suback(packet_id, filters.len());
                        session.subscriptions.extend(filters);
                        vec![reply]
                    }
                    Err(e) => return self.drop_connection(&id, e),
                },
                packet::PUBLISH => match packet::parse_publish(p.flags, &p.body) {
                    Ok((topic, packet_id, payload)) => {
                        let mut out: Vec<Vec<u8>> =
                            packet_id.map(packet::puback).into_iter().collect();
                        if session.subscriptions.contains(&topic) {
                            out.push(packet::publish(&topic, &payload));
                        }
                        out
                    }
                    Err(e) => return self.drop_connection(&id, e),
                },
                packet::AUTH => {
                    // connected/2, #mqtt5_auth{}: the session's method, else terminate.
                    let props = match packet::parse_auth(&p.body) {
                        Ok((_, props))
                            if packet::method(&props) == Some(session.method.as_str()) =>
                        {
                            props
                        }
                        _ => return self.drop_connection(&id, "wrong_auth_method"),
                    };
                    match self.on_auth(&session, &props).await {
                        Ok((code, answer)) => vec![packet::auth(code, &answer)],
                        Err(why) => return self.drop_connection(&id, why),
                    }
                }
                _ => return self.drop_connection(&id, "unexpected packet"),
            };
            for bytes in reply {
                if !self.send(&mut stream, &id, bytes).await {
                    return;
                }
            }
        }
    }
}
