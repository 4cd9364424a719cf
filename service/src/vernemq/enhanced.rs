//! `on_auth_m5`: the SCRAM exchange over webhooks, run by the engine ([`ScramServer`]).
//!
//! VerneMQ (`vmq_mqtt5_fsm.erl`) calls `on_auth_m5` with the CONNECT's (or AUTH's)
//! Authentication Method and Data (`p_authentication_method`, `p_authentication_data`
//! base64, `encode_property/3`) and reads `{"result":"ok","modifiers":{"reason_code":24 or
//! 0,"properties":{"p_authentication_method":…,"p_authentication_data":base64}}}`; 24
//! sends AUTH 0x18, 0 finishes (CONNACK, or AUTH 0x00 on re-authentication); an error
//! refuses the client. The webhook carries no reason code, so the message itself tells the
//! steps apart: a client-final-message starts with `c=`, anything else starts an exchange.
//!
//! An unknown user's server-first-message carries a keyed mock salt of the length, and the
//! `i=` count, of the store's most common record (credential files), or the configured
//! `mock_salt_len` / `mock_iterations` / `[mock_shape]` (remote stores); see
//! [`Backend::mock_shape`].
//!
//! Handshakes wait between the two calls keyed by mountpoint and client id, at most
//! `max_handshakes` of them (default [`MAX_PENDING`], about 0.5 KiB each), expired at the
//! engine's deadline; when
//! full, the oldest is dropped, so a flood of unfinished handshakes cannot refuse others.
//! A finished login is remembered (bounded the same way, for the handshake timeout) so the
//! `auth_on_register_m5` VerneMQ sends next is allowed for that identity without a password;
//! a re-authentication must name the same user.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mqtt_scram::{Clock, ConnectionInfo, Outcome, ScramServer, StartPacket, SystemClock};

use mqtt_scram::server::ServerChallenge;

use crate::backend::Backend;

/// Default for the most handshakes waiting for their client-final-message
/// (`[vernemq] max_handshakes`).
pub const MAX_PENDING: usize = 10_000;
/// Longest mountpoint + client id accepted as a key.
pub const MAX_KEY_LEN: usize = 512;

type Key = (String, String);

/// The answer to one `on_auth_m5` call.
#[derive(Debug)]
pub enum Step {
    /// AUTH 0x18 with the server-first-message.
    Continue { method: String, data: Vec<u8> },
    /// Done (0x00) with the server-final-message.
    Success { method: String, data: Vec<u8> },
    /// Refused; the reason is for the log (never a secret).
    Refused(String),
}

struct Table<V> {
    map: HashMap<Key, (V, Duration)>,
    order: VecDeque<Key>,
    cap: usize,
}

impl<V> Table<V> {
    fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    fn insert(&mut self, key: Key, value: V, deadline: Duration, now: Duration) {
        if self.map.len() >= self.cap {
            self.map.retain(|_, (_, d)| *d > now);
            self.order.retain(|k| self.map.contains_key(k));
        }
        while self.map.len() >= self.cap {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.map.remove(&oldest);
                }
                None => break,
            }
        }
        if self.map.insert(key.clone(), (value, deadline)).is_none() {
            self.order.push_back(key);
        }
    }

    fn take(&mut self, key: &Key, now: Duration) -> Option<V> {
        let (value, deadline) = self.map.remove(key)?;
        self.order.retain(|k| k != key);
        (deadline > now).then_some(value)
    }
}

/// Handshake state shared by the webhook calls.
pub struct Enhanced {
    clock: SystemClock,
    pending: Mutex<Table<ServerChallenge>>,
    finished: Mutex<Table<String>>,
    identities: Mutex<Table<String>>,
}

impl Enhanced {
    /// At most `max_handshakes` unfinished handshakes (and as many remembered logins).
    pub fn new(max_handshakes: usize) -> Self {
        Self {
            clock: SystemClock::new(),
            pending: Mutex::new(Table::new(max_handshakes)),
            finished: Mutex::new(Table::new(max_handshakes)),
            identities: Mutex::new(Table::new(max_handshakes)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Enhanced {
    /// One `on_auth_m5` call.
    pub async fn step(
        &self,
        backend: &Backend,
        mountpoint: &str,
        client_id: &str,
        method: &str,
        data: &[u8],
    ) -> Step {
        if mountpoint.len() + client_id.len() > MAX_KEY_LEN {
            return Step::Refused("mountpoint and client id too long".into());
        }
        let key = (mountpoint.to_owned(), client_id.to_owned());
        let now = self.clock.now();
        if data.starts_with(b"c=") {
            let Some(challenge) = lock(&self.pending).take(&key, now.monotonic()) else {
                return Step::Refused("no handshake in progress (or it expired)".into());
            };
            return match challenge.finish(0x18, method, Some(data), now) {
                Outcome::Accepted { reply, identity } => {
                    let ttl = backend.scram().config().timeout();
                    let deadline = now.monotonic().saturating_add(ttl);
                    lock(&self.finished).insert(
                        key.clone(),
                        identity.username.clone(),
                        deadline,
                        now.monotonic(),
                    );
                    // Re-authentications must name this user (kept for a day at most).
                    let day = now.monotonic().saturating_add(Duration::from_secs(86_400));
                    lock(&self.identities).insert(key, identity.username, day, now.monotonic());
                    Step::Success {
                        method: method.to_owned(),
                        data: reply.data.unwrap_or_default(),
                    }
                }
                Outcome::Rejected(rejection) => Step::Refused(rejection.error.to_string()),
            };
        }
        let scram: &ScramServer = backend.scram();
        let connection = Arc::new(ConnectionInfo::new(client_id));
        let start = StartPacket::Connect {
            method,
            data: Some(data),
        };
        let mut pending = match scram.start(&connection, start, now) {
            Ok(pending) => pending,
            Err(rejection) => return Step::Refused(rejection.error.to_string()),
        };
        let username = pending.request().username.to_owned();
        let known = lock(&self.identities)
            .map
            .get(&key)
            .map(|(name, _)| name.clone());
        if let Some(known) = known
            && known != username
        {
            return Step::Refused("re-authentication names another user".into());
        }
        let lookup = backend.lookup(&username, pending.mechanism()).await;
        // Unknown users' challenges copy the store's records (salt length, iterations).
        pending.set_mock_shape(backend.record_shape(pending.mechanism().hash()));
        let (challenge, reply) = pending.continue_with(lookup, &mut rand::rng());
        let deadline = challenge.deadline();
        lock(&self.pending).insert(key, challenge, deadline, now.monotonic());
        Step::Continue {
            method: method.to_owned(),
            data: reply.data.unwrap_or_default(),
        }
    }

    /// Whether `client_id` has just finished a login as `username` (`None`: any name); the
    /// allowance is used up. Returns the identity.
    pub fn take_finished(&self, mountpoint: &str, client_id: &str) -> Option<String> {
        let key = (mountpoint.to_owned(), client_id.to_owned());
        lock(&self.finished).take(&key, self.clock.monotonic())
    }
}

/// The modifiers of an `ok` answer for `step`, or `None` for a refusal.
pub fn modifiers(step: &Step) -> Option<serde_json::Value> {
    let (code, method, data) = match step {
        Step::Continue { method, data } => (24, method, data),
        Step::Success { method, data } => (0, method, data),
        Step::Refused(_) => return None,
    };
    Some(serde_json::json!({
        "reason_code": code,
        "properties": {
            "p_authentication_method": method,
            "p_authentication_data": STANDARD.encode(data),
        }
    }))
}
