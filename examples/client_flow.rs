//! The client side of the README, compiled: this crate's SCRAM client through CONNECT,
//! AUTH and CONNACK, then a re-authentication, against this crate's server in the same
//! process (standing in for the broker).
//!
//! `cargo run --example client_flow`. The README shows the part between the markers;
//! `tests/readme.rs` keeps the two identical.

use std::sync::Arc;

use mqtt_scram::prelude::*;
use mqtt_scram::server::{NeedCredentials, ServerChallenge};

/// A broker in the same process: answers CONNECT/AUTH 0x19 and AUTH 0x18 with the
/// Authentication Data of AUTH 0x18 and of CONNACK / AUTH 0x00.
struct Broker {
    server: ScramServer,
    store: MemoryProvider,
    clock: SystemClock,
    conn: Arc<ConnectionInfo>,
    challenge: Option<ServerChallenge>,
    identity: Option<Identity>,
}

impl Broker {
    fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let store = MemoryProvider::new();
        let credentials =
            StoredCredentials::derive(HashAlgorithm::Sha512, "pencil", b"NaCl-NaCl-NaCl!!", 4096)?;
        store.insert("alice", UserRecord::new(credentials));
        Ok(Self {
            server: ScramServer::new(ServerConfig::new([0x5a; 32]))?,
            store,
            clock: SystemClock::new(),
            conn: Arc::new(
                ConnectionInfo::new("client-1").with_peer(([192, 0, 2, 7], 51_883).into()),
            ),
            challenge: None,
            identity: None,
        })
    }

    /// CONNECT (or AUTH 0x19): returns the Authentication Data of AUTH 0x18.
    fn first(&mut self, data: &[u8]) -> Vec<u8> {
        let method = Mechanism::ScramSha512.name();
        let packet = match &self.identity {
            None => StartPacket::Connect {
                method,
                data: Some(data),
            },
            Some(current) => StartPacket::Reauthenticate {
                reason_code: 0x19,
                method,
                data: Some(data),
                current,
            },
        };
        let mut pending: NeedCredentials =
            match self.server.start(&self.conn, packet, self.clock.now()) {
                Ok(pending) => pending,
                Err(_) => return Vec::new(),
            };
        let lookup = self.store.lookup_sync(&pending.request());
        // Unknown users' challenges copy the store's salt length and iteration count.
        pending.set_mock_shape(self.store.record_shape_sync(pending.mechanism().hash()));
        let (challenge, auth) = pending.continue_with(lookup, &mut rand::rng());
        self.challenge = Some(challenge);
        auth.data.unwrap_or_default()
    }

    /// AUTH 0x18: returns the Authentication Data of CONNACK 0x00 / AUTH 0x00.
    fn last(&mut self, data: &[u8]) -> Vec<u8> {
        let Some(challenge) = self.challenge.take() else {
            return Vec::new();
        };
        let method = Mechanism::ScramSha512.name();
        match challenge.finish(0x18, method, Some(data), self.clock.now()) {
            Outcome::Accepted { reply, identity } => {
                self.identity = Some(identity);
                reply.data.unwrap_or_default()
            }
            Outcome::Rejected(rejection) => rejection.reply.data.unwrap_or_default(),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut broker = Broker::new()?;
    let mut rng = rand::rng();
    // README:start
    let config = ClientConfig::new().iteration_window(4096..=1_000_000);
    let (state, connect_data) =
        client::start(&config, Mechanism::ScramSha512, "alice", "pencil", &mut rng)?;
    // CONNECT with Authentication Method "SCRAM-SHA-512" and Authentication Data `connect_data`;
    // AUTH 0x18 comes back with the server-first-message:
    let server_first = broker.first(&connect_data);
    let (state, auth_data) = state.on_server_first(&server_first)?; // nonce and iteration window checked first
    // AUTH 0x18 with `auth_data`; CONNACK 0x00 comes back with the server-final-message:
    let server_final = broker.last(&auth_data);
    let authenticated = state.on_server_final(&server_final)?; // v= checked in constant time

    // Later, re-authentication (AUTH 0x19) reuses the SaltedPassword: no PBKDF2 this time.
    let (state, reauth_data) = authenticated.reauthenticate(&mut rng);
    let server_first = broker.first(&reauth_data);
    let (state, auth_data) = state.on_server_first(&server_first)?;
    let server_final = broker.last(&auth_data); // from AUTH 0x00
    state.on_server_final(&server_final)?;
    // README:end
    println!("alice authenticated and re-authenticated with SCRAM-SHA-512");
    Ok(())
}
