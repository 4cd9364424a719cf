//! A wrong PostgreSQL password does not open a new connection for every login (issue 20
//! §8): after a failed connect the provider backs off (250 ms doubling to 5 s) and answers
//! `Ignore` at once, as the Redis store does; once the server takes the password, lookups
//! answer again. Connection attempts are counted by a TCP proxy on loopback in front of a
//! real PostgreSQL (started by the test; a missing server FAILS unless
//! `MQTT_SCRAM_SKIP_MISSING_PEERS=1`). The provider's own WARN lines are counted too: one
//! per interval, not one per login.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "support/logs.rs"]
mod logs;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mqtt_scram::provider::{CredentialProvider, IgnoreKind, Lookup, LookupRequest};
use mqtt_scram::{ConnectionInfo, Mechanism};
use mqtt_scram_stores::postgres::{PostgresConfig, PostgresProvider, PostgresWriter};
use mqtt_scram_testkit::postgres::Cluster;
use tokio::net::{TcpListener, TcpStream};

const RIGHT: &str = "the-right-pg-pw";
const WRONG: &str = "a-wrong-pg-pw";

/// Forwards loopback connections to PostgreSQL and counts them.
struct CountingProxy {
    port: u16,
    accepted: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { port, accepted }
    }

    fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn lookup(provider: &PostgresProvider, i: usize) -> Lookup {
    let connection = ConnectionInfo::new(format!("client-{i}"));
    let request = LookupRequest::new(Mechanism::ScramSha256, "alice", &connection);
    provider.lookup(&request).await
}

#[tokio::test]
async fn a_wrong_password_backs_off_instead_of_connecting_per_login() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.set_password("postgres", RIGHT);
    let writer = PostgresWriter::connect(&PostgresConfig::new(cluster.url("postgres", RIGHT)))
        .await
        .unwrap();
    writer.create_schema().await.unwrap();
    drop(writer);

    let (logs, _guard) = logs::Logs::capture();
    let proxy = CountingProxy::start(cluster.port).await;
    let url = format!(
        "postgres://postgres:{WRONG}@127.0.0.1:{}/postgres",
        proxy.port
    );
    let provider = PostgresProvider::new(PostgresConfig::new(url)).unwrap();
    let started = Instant::now();
    let logins = 40;
    for i in 0..logins {
        match lookup(&provider, i).await {
            Lookup::Ignore(reason) => {
                assert_eq!(reason.kind(), IgnoreKind::Unavailable, "{reason}");
                assert!(!reason.to_string().contains(WRONG), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    let opened = proxy.accepted();
    let elapsed = started.elapsed();
    // Without back-off every login opened a connection (40 here); with it, only the first
    // failure and the retries after each back-off (250 ms doubling to 5 s) connect.
    assert!(
        opened < (logins / 4) as u64,
        "{opened} connections for {logins} logins with a wrong password"
    );
    // One WARN line per 10 s interval at most (the first failure at once), not per login.
    let warn_lines = logs.count("WARN", "postgres provider");
    let bound = 1 + elapsed.as_secs() / 10;
    assert!(
        warn_lines as u64 <= bound,
        "{warn_lines} WARN lines for {logins} failed logins in {elapsed:?}:\n{}",
        logs.text()
    );
    assert!(
        warn_lines >= 1,
        "the first failure is logged:\n{}",
        logs.text()
    );
    assert!(!logs.text().contains(WRONG));
    eprintln!(
        "{logins} logins with a wrong password: {opened} connection attempts, {warn_lines} WARN lines"
    );

    // The operator fixes the password on the server: the same provider answers again once
    // its back-off (at most 5 s) is over, and says so once.
    cluster.set_password("postgres", WRONG);
    let mut answered = false;
    for i in 0..100 {
        if lookup(&provider, i).await == Lookup::NotFound {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(answered, "no answer after the password was fixed");
}
