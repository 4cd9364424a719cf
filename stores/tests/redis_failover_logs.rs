//! The Redis store's log during a Cluster failure (issue 20 §8): a master of a real
//! three-master Redis Cluster (testkit) is killed while logins go on. The store's own
//! lines are summarised — one WARN line per interval with the count of failed lookups and
//! the last error kind, not one per login — and, once the node is back and the cluster
//! heals, one line says the store answers again. The redis crate's own `log` records
//! (WARN per node it fails to reach) are counted for the record: a library cannot silence
//! them; the binary's filter does (`RUST_LOG=info,redis=error`, the example broker's
//! default). A missing Redis FAILS unless `MQTT_SCRAM_SKIP_MISSING_PEERS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "support/logs.rs"]
mod logs;
#[path = "support/remote.rs"]
mod support;

use std::time::{Duration, Instant};

use mqtt_scram::provider::Lookup;
use mqtt_scram::{HashAlgorithm, Mechanism};
use mqtt_scram_stores::redis::{RedisConfig, RedisProvider, RedisWriter};
use mqtt_scram_testkit::redis::Cluster;

use support::*;

fn config(cluster: &Cluster) -> RedisConfig {
    RedisConfig::from_url(&cluster.url())
        .unwrap()
        .lookup_deadline(Duration::from_millis(1500))
        .response_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(500))
}

#[tokio::test]
async fn a_cluster_failure_is_summarised_not_logged_per_login() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let records = LogRecordsGuard::new();
    let users = users(60, HashAlgorithm::Sha256, LOW_ITERATIONS);
    let writer = RedisWriter::connect(&config(&cluster)).await.unwrap();
    writer.write_all(&stored(&users), 64, |_| {}).await.unwrap();
    drop(writer);

    let (logs, _guard) = logs::Logs::capture();
    let provider = RedisProvider::new(config(&cluster)).unwrap();
    for (user, _, _) in users.iter().take(3) {
        assert!(matches!(
            lookup(&provider, user, Mechanism::ScramSha256).await,
            Lookup::Found(_)
        ));
    }

    // A master dies: the lookups of its keys (and, once the cluster marks it failed, all
    // lookups) fail.
    cluster.nodes[1].stop();
    let started = Instant::now();
    let mut failed = 0;
    let logins = 3 * users.len();
    for i in 0..logins {
        let (user, _, _) = &users[i % users.len()];
        if let Lookup::Ignore(_) = lookup(&provider, user, Mechanism::ScramSha256).await {
            failed += 1;
        }
    }
    let elapsed = started.elapsed();
    let ours = logs.count("WARN", "redis provider");
    let crate_lines = records.count();
    eprintln!(
        "{logins} logins, {failed} failed in {elapsed:?}: {ours} WARN lines of the store, \
         {crate_lines} WARN/ERROR records of the redis crate"
    );
    assert!(failed > 0, "killing a master failed no lookup");
    // At most one line per 10 s interval (the first failure at once), whatever the logins.
    let bound = 1 + elapsed.as_secs() / 10;
    assert!(
        ours as u64 <= bound,
        "{ours} WARN lines for {failed} failed lookups in {elapsed:?}:\n{}",
        logs.text()
    );
    assert!(ours >= 1, "the first failure is logged:\n{}", logs.text());
    // Every failure is still there at DEBUG.
    assert!(logs.count("DEBUG", "redis provider: ignoring") + ours >= failed);

    // The node comes back; once the cluster is ok, lookups answer again.
    cluster.nodes[1].start();
    cluster.wait_ok();
    let mut found = false;
    for _ in 0..100 {
        if let Lookup::Found(_) = lookup(&provider, &users[0].0, Mechanism::ScramSha256).await {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found, "no answer after the node came back");
}

/// The redis crate's own WARN/ERROR `log` records from now on.
struct LogRecordsGuard {
    logger: &'static logs::LogRecords,
    before: usize,
}

impl LogRecordsGuard {
    fn new() -> Self {
        let logger = logs::LogRecords::install();
        Self {
            logger,
            before: logger.count("redis"),
        }
    }

    fn count(&self) -> usize {
        self.logger.count("redis") - self.before
    }
}
