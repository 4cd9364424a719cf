//! The world the exchange tests share: a server, a store with "user"/"pencil" for both
//! hashes, a seeded random source, and helpers that run the client and server steps.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::client::{self, ClientConfig, ClientOptions};
use mqtt_scram::provider::{Lookup, MemoryProvider, SyncCredentialProvider, UserRecord};
use mqtt_scram::server::{NeedCredentials, ServerChallenge};
use mqtt_scram::{
    ConnectionInfo, Error, HashAlgorithm, Mechanism, Outcome, PacketType, ReasonCode, ScramServer,
    ServerConfig, StartPacket, StoredCredentials, Timestamp,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

pub const T0: Timestamp = Timestamp::new(Duration::from_secs(100), 1_700_000_000);

pub struct World {
    pub server: ScramServer,
    pub store: MemoryProvider,
    pub rng: StdRng,
}

impl World {
    pub fn new() -> Self {
        Self::with_config(ServerConfig::new([42; 32]))
    }

    pub fn with_config(config: ServerConfig) -> Self {
        let store = MemoryProvider::new();
        for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            let creds =
                StoredCredentials::derive(hash, "pencil", b"0123456789abcdef", 4096).unwrap();
            let record = UserRecord::new(creds)
                .superuser(true)
                .client_attrs([("site".to_string(), "lab".to_string())].into());
            store.insert("user", record);
        }
        Self {
            server: ScramServer::new(config).unwrap(),
            store,
            rng: StdRng::seed_from_u64(7),
        }
    }

    pub fn lookup(&self, pending: &NeedCredentials) -> Lookup {
        self.store.lookup_sync(&pending.request())
    }

    /// Client start → CONNECT → lookup → AUTH 0x18 → client-final: everything up to the
    /// server's last step, for tests about that step.
    pub fn up_to_client_final(&mut self, conn: &Arc<ConnectionInfo>) -> (ServerChallenge, Vec<u8>) {
        let config = ClientConfig::new();
        let (c, first) = client::start(
            &config,
            Mechanism::ScramSha256,
            "user",
            "pencil",
            &mut self.rng,
        )
        .unwrap();
        let start = StartPacket::Connect {
            method: "SCRAM-SHA-256",
            data: Some(&first),
        };
        let pending = self.server.start(conn, start, T0).unwrap();
        let deadline = pending.deadline();
        let lookup = self.lookup(&pending);
        let (challenge, reply) = pending.continue_with(lookup, &mut self.rng);
        assert_eq!(challenge.deadline(), deadline);
        let (_, last) = c.on_server_first(reply.data.as_deref().unwrap()).unwrap();
        (challenge, last)
    }

    /// Runs a whole CONNECT exchange; returns the server's outcome and the client result.
    pub fn connect(
        &mut self,
        conn: &Arc<ConnectionInfo>,
        mechanism: Mechanism,
        user: &str,
        password: &str,
        options: ClientOptions<'_>,
    ) -> (Outcome, Option<Result<client::Authenticated, Error>>) {
        let (c, first) = client::start_with(
            &ClientConfig::new(),
            mechanism,
            user,
            password,
            options,
            &mut self.rng,
        )
        .unwrap();
        let pending = match self.server.start(
            conn,
            StartPacket::Connect {
                method: mechanism.name(),
                data: Some(&first),
            },
            T0,
        ) {
            Ok(p) => p,
            Err(r) => return (Outcome::Rejected(r), None),
        };
        let lookup = self.lookup(&pending);
        let (challenge, reply) = pending.continue_with(lookup, &mut self.rng);
        assert_eq!(
            (reply.packet, reply.reason_code, reply.method),
            (
                PacketType::Auth,
                ReasonCode::ContinueAuthentication,
                Some(mechanism)
            )
        );
        let (c, last) = c.on_server_first(reply.data.as_deref().unwrap()).unwrap();
        let outcome = challenge.finish(
            0x18,
            mechanism.name(),
            Some(&last),
            T0.advanced(Duration::from_secs(1)),
        );
        let client_result = match &outcome {
            Outcome::Accepted { reply, .. } => {
                Some(c.on_server_final(reply.data.as_deref().unwrap()))
            }
            Outcome::Rejected(r) => r.reply.data.as_deref().map(|d| c.on_server_final(d)),
        };
        (outcome, client_result)
    }
}

pub fn plain_conn() -> Arc<ConnectionInfo> {
    Arc::new(ConnectionInfo::new("client-1"))
}
