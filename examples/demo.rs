//! An end-to-end SCRAM exchange between the crate's client and server, in memory,
//! printing each MQTT 5 step: CONNECT → AUTH 0x18 → AUTH 0x18 → CONNACK, a
//! re-authentication (AUTH 0x19 → … → AUTH 0x00), a wrong password and an unknown user.
//!
//! `cargo run --example demo`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::provider::{MemoryProvider, SyncCredentialProvider, UserRecord};
use mqtt_scram::{
    Clock, ConnectionInfo, HashAlgorithm, Identity, Mechanism, Outcome, Reply, ScramServer,
    ServerConfig, StartPacket, StoredCredentials, SystemClock,
};

fn show(direction: &str, packet: &str, data: Option<&[u8]>) {
    let data = data.map(String::from_utf8_lossy).unwrap_or_default();
    println!("{direction} {packet:<28} {data}");
}

fn reply_name(reply: &Reply) -> String {
    format!(
        "{} {}",
        format!("{:?}", reply.packet).to_uppercase(),
        reply.reason_code
    )
}

fn exchange(
    server: &ScramServer,
    store: &MemoryProvider,
    conn: &Arc<ConnectionInfo>,
    user: &str,
    password: &str,
    current: Option<(client::Authenticated, &Identity)>,
) -> Option<(client::Authenticated, Identity)> {
    let clock = SystemClock::new();
    let mut rng = rand::rng();
    let mechanism = Mechanism::ScramSha256;
    let (state, first, start) = match current {
        None => {
            let (state, first) =
                client::start(&ClientConfig::new(), mechanism, user, password, &mut rng).unwrap();
            show("client →", "CONNECT SCRAM-SHA-256", Some(&first));
            (state, first, None)
        }
        Some((authenticated, identity)) => {
            let (state, first) = authenticated.reauthenticate(&mut rng);
            show("client →", "AUTH 0x19 SCRAM-SHA-256", Some(&first));
            (state, first, Some(identity))
        }
    };
    let packet = match start {
        None => StartPacket::Connect {
            method: mechanism.name(),
            data: Some(&first),
        },
        Some(current) => StartPacket::Reauthenticate {
            reason_code: 0x19,
            method: mechanism.name(),
            data: Some(&first),
            current,
        },
    };
    let mut pending = match server.start(conn, packet, clock.now()) {
        Ok(p) => p,
        Err(r) => {
            show("server →", &reply_name(&r.reply), r.reply.data.as_deref());
            return None;
        }
    };
    let lookup = store.lookup_sync(&pending.request());
    // Unknown users' challenges copy the store's salt length and iteration count.
    pending.set_mock_shape(store.record_shape_sync(pending.mechanism().hash()));
    let (challenge, auth) = pending.continue_with(lookup, &mut rng);
    show("server →", &reply_name(&auth), auth.data.as_deref());
    let (state, last) = state
        .on_server_first(auth.data.as_deref().unwrap())
        .unwrap();
    show("client →", "AUTH 0x18 Continue auth.", Some(&last));
    match challenge.finish(0x18, mechanism.name(), Some(&last), clock.now()) {
        Outcome::Accepted { reply, identity } => {
            show("server →", &reply_name(&reply), reply.data.as_deref());
            let authenticated = state
                .on_server_final(reply.data.as_deref().unwrap())
                .unwrap();
            println!(
                "         client verified the server signature; identity: {}",
                identity.username
            );
            Some((authenticated, identity))
        }
        Outcome::Rejected(r) => {
            show("server →", &reply_name(&r.reply), r.reply.data.as_deref());
            println!("         server log: {}", r.error);
            None
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = MemoryProvider::new();
    let creds =
        StoredCredentials::generate(HashAlgorithm::Sha256, "pencil", 4096, &mut rand::rng())?;
    store.insert("alice", UserRecord::new(creds));
    let server = ScramServer::new(ServerConfig::new(rand::random()))?;
    let conn =
        Arc::new(ConnectionInfo::new("demo-client").with_peer(([127, 0, 0, 1], 50_000).into()));

    println!("# alice connects");
    let (authenticated, identity) =
        exchange(&server, &store, &conn, "alice", "pencil", None).unwrap();
    println!("\n# alice re-authenticates");
    exchange(
        &server,
        &store,
        &conn,
        "alice",
        "pencil",
        Some((authenticated, &identity)),
    )
    .unwrap();
    println!("\n# wrong password");
    exchange(&server, &store, &conn, "alice", "pencil?", None);
    println!("\n# unknown user (same answer as a wrong password)");
    exchange(&server, &store, &conn, "mallory", "pencil", None);
    Ok(())
}
