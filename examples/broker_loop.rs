//! The broker loop of the README, compiled: one SCRAM-SHA-256 exchange from CONNECT to
//! CONNACK against an in-memory store, with this crate's client on the other side.
//!
//! `cargo run --example broker_loop`. The README shows the part between the markers;
//! `tests/readme.rs` keeps the two identical.

use std::sync::Arc;

use mqtt_scram::prelude::*;

/// The network, as the broker sees it: here, this crate's client in the same process.
struct Peer {
    client: Option<client::AwaitingServerFirst>,
    client_final: Option<Vec<u8>>,
}

impl Peer {
    fn send(&mut self, reply: &Reply) {
        println!("server → {:?} {}", reply.packet, reply.reason_code);
        if let (Some(c), Some(data)) = (self.client.take(), reply.data.as_deref()) {
            if let Ok((_, last)) = c.on_server_first(data) {
                self.client_final = Some(last);
            }
        }
    }

    /// The peer's address (the socket's `peer_addr()` in a real broker).
    fn address(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([192, 0, 2, 7], 51_883))
    }

    /// The next AUTH packet: reason code, Authentication Method, Authentication Data.
    fn next_auth(&mut self) -> (u8, String, Option<Vec<u8>>) {
        (0x18, "SCRAM-SHA-256".into(), self.client_final.take())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = rand::rng();
    let (client, connect_data) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        "pencil",
        &mut rng,
    )?;
    let mut peer = Peer {
        client: Some(client),
        client_final: None,
    };

    // README:start
    // Once: a store, the server (keep the mock key secret and stable across restarts), a clock.
    let store = MemoryProvider::new();
    let credentials =
        StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)?;
    store.insert("alice", UserRecord::new(credentials));
    let server = ScramServer::new(ServerConfig::new([0x5a; 32]))?;
    let clock = SystemClock::new();

    // Per connection (always pass the peer address: the admission caps count per address).
    // CONNECT arrived with Authentication Method and Data:
    let conn = Arc::new(ConnectionInfo::new("client-1").with_peer(peer.address()));
    let connect = StartPacket::Connect {
        method: "SCRAM-SHA-256",
        data: Some(&connect_data),
    };
    let mut pending = match server.start(&conn, connect, clock.now()) {
        Ok(pending) => pending,
        Err(rejection) => {
            peer.send(&rejection.reply); // CONNACK 0x87 or 0x8C, then close
            return Ok(());
        }
    };
    let lookup = store.lookup_sync(&pending.request()); // async stores: `.lookup(..).await`
    // Unknown users' challenges copy the store's salt length and iteration count.
    pending.set_mock_shape(store.record_shape_sync(pending.mechanism().hash()));
    let (challenge, auth) = pending.continue_with(lookup, &mut rng);
    peer.send(&auth); // AUTH 0x18 with the server-first-message; arm a timer for challenge.deadline()

    // AUTH 0x18 arrived with the client-final-message:
    let (reason_code, method, data) = peer.next_auth();
    match challenge.finish(reason_code, &method, data.as_deref(), clock.now()) {
        Outcome::Accepted { reply, identity } => {
            peer.send(&reply); // CONNACK 0x00 with v=ServerSignature
            println!("authenticated as {}", identity.username);
        }
        Outcome::Rejected(rejection) => {
            peer.send(&rejection.reply); // CONNACK 0x87 with e=..., then close
            eprintln!("refused: {}", rejection.error); // for the operator only
        }
    }
    // README:end
    Ok(())
}
