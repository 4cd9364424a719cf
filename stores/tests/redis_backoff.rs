//! A wrong Redis password does not open new connections for every login (issue 20 §8):
//! after a failed connect the provider backs off (bounded, up to 5 s) and answers
//! `Ignore` at once. Counted with the server's own `INFO stats`
//! `total_connections_received`, against a real `redis-server --requirepass`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use mqtt_scram::provider::{CredentialProvider, IgnoreKind, Lookup, LookupRequest};
use mqtt_scram::{ConnectionInfo, Mechanism};
use mqtt_scram_stores::redis::{RedisConfig, RedisProvider};
use mqtt_scram_testkit::redis::Single;

const RIGHT: &str = "the-right-redis-pw";

fn connections_received(redis: &Single) -> u64 {
    let info = redis
        .server
        .cli(&["--no-auth-warning", "-a", RIGHT, "INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_wrong_password_backs_off_instead_of_reconnecting_per_login() {
    let Some(redis) = Single::start_with(&["--requirepass", RIGHT]) else {
        return;
    };
    let url = format!("redis://:wrong-pw@127.0.0.1:{}", redis.server.port);
    let provider = RedisProvider::new(RedisConfig::from_url(&url).unwrap()).unwrap();
    let before = connections_received(&redis);
    let logins = 40;
    for i in 0..logins {
        let connection = ConnectionInfo::new(format!("client-{i}"));
        let request = LookupRequest::new(Mechanism::ScramSha256, "alice", &connection);
        match provider.lookup(&request).await {
            Lookup::Ignore(reason) => {
                assert_eq!(reason.kind(), IgnoreKind::Unavailable, "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
    // One connection is redis-cli's own (the second INFO).
    let opened = connections_received(&redis) - before - 1;
    // Without back-off every login opened two connections (80 here); with it, only the
    // first failure and the retries after each back-off (250 ms doubling to 5 s) connect.
    assert!(
        opened < logins / 2,
        "{opened} connections for {logins} logins with a wrong password"
    );
}
