//! Shared by the PostgreSQL and Redis provider tests: users to store, and a full SCRAM
//! exchange (crate client ↔ engine) whose credentials come from a provider.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqtt_scram::provider::{CredentialProvider, IgnoreKind, Lookup, LookupRequest, UserRecord};
use mqtt_scram::server::NeedCredentials;
use mqtt_scram::{
    ConnectionInfo, HashAlgorithm, Mechanism, Outcome, ReasonCode, RecordPolicy, ScramServer,
    ServerConfig, StartPacket, StoredCredentials, Timestamp,
};
use rand::SeedableRng;

/// Iteration count of most test users (a permissive policy accepts it; debug builds stay fast).
pub const LOW_ITERATIONS: u32 = 16;

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `n` users `user-<i>` with password `pw-<i>` and random 16-byte salts.
pub fn users(n: usize, hash: HashAlgorithm, iterations: u32) -> Vec<(String, String, UserRecord)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64 ^ u64::from(iterations));
    (0..n)
        .map(|i| {
            let username = format!("user-{i}");
            let password = format!("pw-{i}");
            let credentials =
                StoredCredentials::generate(hash, &password, iterations, &mut rng).unwrap();
            (username, password, UserRecord::new(credentials))
        })
        .collect()
}

pub fn connection() -> Arc<ConnectionInfo> {
    Arc::new(
        ConnectionInfo::new("client-7")
            .with_peer("127.0.0.1:40000".parse().unwrap())
            .with_cert_common_name("device-7"),
    )
}

pub async fn lookup<P: CredentialProvider>(
    provider: &P,
    username: &str,
    mechanism: Mechanism,
) -> Lookup {
    let connection = connection();
    provider
        .lookup(&LookupRequest::new(mechanism, username, &connection))
        .await
}

/// The Ignore's kind and detail, or a panic naming what came instead.
pub fn ignored(lookup: &Lookup) -> (IgnoreKind, String) {
    match lookup {
        Lookup::Ignore(reason) => (reason.kind(), reason.detail().to_owned()),
        other => panic!("expected Ignore, got {other:?}"),
    }
}

/// A server that accepts any iteration count from 1 (test users use few).
pub fn permissive_server() -> ScramServer {
    ScramServer::new(
        ServerConfig::new([9; 32]).record_policy(RecordPolicy::new(1..=1_000_000, 8..=64)),
    )
    .unwrap()
}

/// Client and engine run a whole exchange for `username`/`password` with `mechanism`; the
/// credentials come from `provider`. Returns the outcome.
pub async fn authenticate<P: CredentialProvider>(
    server: &ScramServer,
    provider: &P,
    mechanism: Mechanism,
    username: &str,
    password: &str,
) -> Outcome {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let connection = connection();
    let client_config = mqtt_scram::client::ClientConfig::new().iteration_window(1..=1_000_000);
    let (client, client_first) =
        mqtt_scram::client::start(&client_config, mechanism, username, password, &mut rng).unwrap();
    let start = StartPacket::Connect {
        method: mechanism.name(),
        data: Some(&client_first),
    };
    let now = now_unix();
    let need: NeedCredentials = server
        .start(&connection, start, Timestamp::new(Duration::ZERO, now))
        .unwrap();
    let lookup = provider.lookup(&need.request()).await;
    let (challenge, reply) = need.continue_with(lookup, &mut rng);
    assert_eq!(reply.reason_code, ReasonCode::ContinueAuthentication);
    let Ok((client, client_final)) = client.on_server_first(reply.data.as_deref().unwrap()) else {
        // A mock challenge may carry an iteration count the client refuses; finish anyway.
        return challenge.finish(
            0x18,
            mechanism.name(),
            Some(b"c=biws,r=x,p=eA=="),
            Timestamp::new(Duration::from_secs(1), now),
        );
    };
    let outcome = challenge.finish(
        0x18,
        mechanism.name(),
        Some(&client_final),
        Timestamp::new(Duration::from_secs(1), now),
    );
    if let Outcome::Accepted { reply, .. } = &outcome {
        client
            .on_server_final(reply.data.as_deref().unwrap())
            .unwrap();
    }
    outcome
}

/// Asserts that `outcome` accepted `username`.
pub fn accepted(outcome: &Outcome, username: &str) -> mqtt_scram::Identity {
    match outcome {
        Outcome::Accepted { identity, .. } => {
            assert_eq!(identity.username, username);
            identity.clone()
        }
        Outcome::Rejected(r) => panic!("{username} rejected: {:?}", r.error),
    }
}

/// Asserts that `outcome` rejected with 0x87 and returns the operator-side error text.
pub fn rejected(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Rejected(r) => {
            assert_eq!(r.reply.reason_code, ReasonCode::NotAuthorized);
            format!("{:?}", r.error)
        }
        Outcome::Accepted { identity, .. } => panic!("{} accepted", identity.username),
    }
}
