//! Per-client state, keyed by the broker's `struct mosquitto *`.
//!
//! Mosquitto reuses a client structure's address once it has freed it, so an address alone
//! does not name a connection. The table keeps three rules:
//! - `MOSQ_EVT_DISCONNECT` (sent for every closed connection) removes the entry, so a reused
//!   address starts empty;
//! - a new CONNECT on an address replaces whatever was there (a stale entry can only be left
//!   by a missed disconnect, and a CONNECT always opens a new connection);
//! - every use checks the entry's client id against the broker's (the broker may have
//!   moved the address to another client), and each entry has a generation number, so a
//!   deadline armed for one handshake never expires the next one on the same address.
//!
//! How many handshakes may wait for the client-final-message, in all and per address, is the
//! authenticator's admission policy (`mqtt_scram_authenticator::admission`): each handshake
//! holds a [`HandshakeTicket`] that frees its place when the entry goes. A handshake past its
//! deadline (the policy's first-step deadline; checked on `MOSQ_EVT_TICK` and before every
//! new handshake) is dropped and leaves a small marker, so a late AUTH gets 0x87 rather than
//! "unknown method".

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::server::ServerChallenge;
use mqtt_scram::{ConnectionInfo, Identity};
use mqtt_scram_authenticator::admission::HandshakeTicket;
use mqtt_scram_authenticator::observe::HandshakeKind;
use mqtt_scram_authz::Client;

/// An authenticated client: who it is, as the authorizer sees it.
#[derive(Debug)]
pub(crate) struct Session {
    /// The identity the exchange (or the password fallback) established.
    pub identity: Identity,
    /// The authorizer's view, built once.
    pub client: Client,
    /// The broker's client id the session belongs to (set by [`Sessions::authenticated`]).
    client_id: Option<Box<str>>,
}

impl Session {
    /// The session of `identity`, authenticated on `connection`.
    pub(crate) fn new(identity: Identity, connection: &ConnectionInfo) -> Self {
        Self {
            client: Client::from_identity(&identity, connection),
            identity,
            client_id: None,
        }
    }
}

/// A handshake waiting for the client-final-message.
#[derive(Debug)]
pub(crate) struct Handshake {
    /// The engine's state, with the connection facts the exchange started with
    /// ([`ServerChallenge::connection`]) and when it started ([`ServerChallenge::started`]).
    pub challenge: ServerChallenge,
    /// On re-authentication: the session in force meanwhile (so `None` on CONNECT).
    pub previous: Option<Arc<Session>>,
    /// The handshake's place under the admission policy, freed on drop.
    pub ticket: HandshakeTicket,
}

impl Handshake {
    /// CONNECT or re-authentication, for metrics.
    pub(crate) fn kind(&self) -> HandshakeKind {
        match self.previous {
            Some(_) => HandshakeKind::Reauth,
            None => HandshakeKind::Connect,
        }
    }
}

/// A handshake in the table: with its deadline and whose it is.
#[derive(Debug)]
struct Waiting {
    handshake: Handshake,
    /// Its deadline in nanoseconds (see [`nanos`]).
    deadline: u64,
    /// The broker's client id when it is not the handshake's connection's
    /// ([`ConnectionInfo::client_id`]; the plugin builds it from the broker's, so this is
    /// `None`, not a second copy): 8 bytes.
    own_id: Option<Box<Option<Box<str>>>>,
}

impl Waiting {
    fn client_id(&self) -> Option<&str> {
        match &self.own_id {
            None => Some(&self.handshake.challenge.connection().client_id),
            Some(own) => own.as_deref(),
        }
    }
}

/// 24 bytes: everything larger is behind a pointer, so that the table's entries stay small.
#[derive(Debug)]
enum State {
    Handshake(Box<Waiting>),
    Authenticated {
        session: Arc<Session>,
        /// While the record has `expire_at` (Unix seconds), until the client is handed out
        /// by [`Sessions::expired_sessions`].
        expires: Option<u64>,
    },
    /// A handshake dropped at its deadline; the connection (of this client id) is still open.
    Expired(Option<Box<str>>),
}

#[derive(Debug)]
struct Entry {
    generation: u64,
    state: State,
}

impl Entry {
    /// The broker's client id the entry belongs to.
    fn client_id(&self) -> Option<&str> {
        match &self.state {
            State::Handshake(w) => w.client_id(),
            State::Authenticated { session, .. } => session.client_id.as_deref(),
            State::Expired(id) => id.as_deref(),
        }
    }
}

/// What the table holds for a client at the start of an exchange.
pub(crate) enum Current {
    /// Nothing (or something stale): a CONNECT.
    Nothing,
    /// An authenticated session: an AUTH 0x19 re-authentication.
    Session(Arc<Session>),
}

/// What the table holds for a client's AUTH 0x18.
// Returned once per AUTH, never stored: moving the handshake out of its box costs less
// than boxing it again.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Pending {
    /// Not a client of ours.
    None,
    /// Ours, but its deadline passed.
    Expired,
    /// The handshake to finish (removed from the table).
    Handshake(Handshake),
}

/// The table.
#[derive(Debug)]
pub(crate) struct Sessions {
    entries: HashMap<usize, Entry>,
    /// Waiting handshakes by deadline (nanoseconds, see [`nanos`]) and generation.
    deadlines: BTreeMap<(u64, u64), usize>,
    /// Authenticated sessions by `expire_at` (Unix seconds) and generation.
    expiries: BTreeMap<(u64, u64), usize>,
    next_generation: u64,
}

impl Sessions {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self {
            entries: HashMap::new(),
            deadlines: BTreeMap::new(),
            expiries: BTreeMap::new(),
            next_generation: 1,
        }
    }

    /// Handshakes in progress.
    pub(crate) fn handshakes(&self) -> usize {
        self.deadlines.len()
    }

    /// Entries of any kind.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The session for `key`, if the entry belongs to `client_id` and is authenticated (or
    /// re-authenticating, in which case the session in force is returned).
    pub(crate) fn session(&self, key: usize, client_id: Option<&str>) -> Option<Arc<Session>> {
        let entry = self.entries.get(&key)?;
        if entry.client_id() != client_id {
            return None;
        }
        match &entry.state {
            State::Authenticated { session, .. } => Some(Arc::clone(session)),
            State::Handshake(w) => w.handshake.previous.clone(),
            State::Expired(_) => None,
        }
    }

    /// At CONNECT or AUTH 0x19: the session to re-authenticate, if `key` holds one for
    /// `client_id` whose Mosquitto username is still `username`. Anything else on `key` is
    /// stale and is dropped.
    pub(crate) fn current(
        &mut self,
        key: usize,
        client_id: Option<&str>,
        username: Option<&str>,
    ) -> Current {
        if let Some(entry) = self.entries.get(&key) {
            if let (State::Authenticated { session, .. }, true) =
                (&entry.state, entry.client_id() == client_id)
            {
                if username == Some(session.identity.username.as_str()) {
                    return Current::Session(Arc::clone(session));
                }
            }
            self.remove(key);
        }
        Current::Nothing
    }

    /// Records a handshake for `key` (admitted: it holds its ticket), replacing what `key`
    /// held; `deadline` is when it is dropped if the client has not answered.
    pub(crate) fn begin(
        &mut self,
        key: usize,
        client_id: Option<&str>,
        deadline: Duration,
        handshake: Handshake,
    ) {
        self.remove_entry(key);
        let generation = self.next_generation;
        self.next_generation += 1;
        let deadline = nanos(deadline);
        self.deadlines.insert((deadline, generation), key);
        let own_id = match client_id {
            Some(id) if id == handshake.challenge.connection().client_id => None,
            other => Some(Box::new(other.map(Box::from))),
        };
        let waiting = Waiting {
            handshake,
            deadline,
            own_id,
        };
        self.entries.insert(
            key,
            Entry {
                generation,
                state: State::Handshake(Box::new(waiting)),
            },
        );
    }

    /// At AUTH 0x18: takes the handshake of `key` (if it is `client_id`'s).
    pub(crate) fn take(&mut self, key: usize, client_id: Option<&str>) -> Pending {
        let Some(entry) = self.entries.get(&key) else {
            return Pending::None;
        };
        if entry.client_id() != client_id {
            self.remove(key);
            return Pending::None;
        }
        match entry.state {
            // AUTH 0x18 reaches plugins only during an exchange: this client's
            // re-authentication passed its deadline.
            State::Authenticated { .. } => Pending::Expired,
            State::Expired(_) => {
                self.remove(key);
                Pending::Expired
            }
            State::Handshake(_) => match self.remove_entry(key).map(|e| e.state) {
                Some(State::Handshake(w)) => Pending::Handshake(w.handshake),
                _ => Pending::None,
            },
        }
    }

    /// Records an authenticated session for `key`.
    pub(crate) fn authenticated(
        &mut self,
        key: usize,
        client_id: Option<&str>,
        mut session: Session,
    ) {
        self.remove(key);
        let generation = self.next_generation;
        self.next_generation += 1;
        let expires = session.identity.expire_at();
        if let Some(at) = expires {
            self.expiries.insert((at, generation), key);
        }
        session.client_id = client_id.map(Into::into);
        self.entries.insert(
            key,
            Entry {
                generation,
                state: State::Authenticated {
                    session: Arc::new(session),
                    expires,
                },
            },
        );
    }

    /// Authenticated clients whose credentials expired at `now_unix` (`expire_at` passed),
    /// each handed out once: key and client id, to disconnect. Their entries stay (the
    /// ACL check refuses them meanwhile) until the disconnect removes them.
    pub(crate) fn expired_sessions(&mut self, now_unix: u64) -> Vec<(usize, Box<str>)> {
        let mut expired = Vec::new();
        while let Some((&(at, generation), &key)) = self.expiries.first_key_value() {
            if at > now_unix {
                break;
            }
            self.expiries.remove(&(at, generation));
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            if entry.generation != generation {
                continue;
            }
            if let State::Authenticated { session, expires } = &mut entry.state {
                *expires = None;
                if let Some(id) = &session.client_id {
                    expired.push((key, id.clone()));
                }
            }
        }
        expired
    }

    /// Forgets `key` (at disconnect, or when its entry is stale); returns the handshake it
    /// was in, if any (abandoned).
    pub(crate) fn remove(&mut self, key: usize) -> Option<Handshake> {
        match self.remove_entry(key)?.state {
            State::Handshake(w) => Some(w.handshake),
            _ => None,
        }
    }

    fn remove_entry(&mut self, key: usize) -> Option<Entry> {
        let mut entry = self.entries.remove(&key)?;
        self.release(&mut entry);
        Some(entry)
    }

    fn release(&mut self, entry: &mut Entry) {
        match &mut entry.state {
            State::Handshake(w) => {
                self.deadlines.remove(&(w.deadline, entry.generation));
            }
            State::Authenticated { expires, .. } => {
                if let Some(at) = expires.take() {
                    self.expiries.remove(&(at, entry.generation));
                }
            }
            State::Expired(_) => {}
        }
    }

    /// Drops every handshake whose deadline is before `now` (freeing its admission place);
    /// returns them, for metrics and notices.
    pub(crate) fn expire(&mut self, now: Duration) -> Vec<Handshake> {
        let mut expired = Vec::new();
        while let Some((&(deadline, generation), &key)) = self.deadlines.first_key_value() {
            if deadline >= nanos(now) {
                break;
            }
            self.deadlines.remove(&(deadline, generation));
            let Some(mut entry) = self.entries.remove(&key) else {
                continue;
            };
            if entry.generation == generation {
                if let State::Handshake(w) = &entry.state {
                    // Its deadline entry is already gone.
                    let id = w.client_id().map(Box::<str>::from);
                    let state = std::mem::replace(&mut entry.state, State::Expired(id));
                    if let State::Handshake(w) = state {
                        let h = w.handshake;
                        // A re-authentication past its deadline falls back to the session in
                        // force (the broker disconnects the client when it finally answers).
                        if let Some(previous) = &h.previous {
                            let expires = previous.identity.expire_at();
                            if let Some(at) = expires {
                                self.expiries.insert((at, entry.generation), key);
                            }
                            entry.state = State::Authenticated {
                                session: Arc::clone(previous),
                                expires,
                            };
                        }
                        expired.push(h);
                    }
                }
            }
            self.entries.insert(key, entry);
        }
        expired
    }
}

/// A monotonic time in nanoseconds (saturating: 584 years), 8 bytes where a `Duration`
/// takes 16: the table keeps one in every waiting handshake and its deadline index.
fn nanos(at: Duration) -> u64 {
    u64::try_from(at.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
