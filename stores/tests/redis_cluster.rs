//! The Redis provider against a real three-master Redis Cluster on loopback
//! (`redis-server --cluster-enabled yes` ×3, joined with `redis-cli --cluster create`).
//! A missing Redis FAILS unless `MQTT_SCRAM_SKIP_MISSING_PEERS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "support/remote.rs"]
mod support;

use std::time::{Duration, Instant};

use mqtt_scram::provider::{IgnoreKind, Lookup};
use mqtt_scram::{HashAlgorithm, Mechanism};
use mqtt_scram_stores::redis::{RedisConfig, RedisMode, RedisProvider, RedisWriter};
use mqtt_scram_testkit::redis::Cluster;

use support::*;

fn config(cluster: &Cluster) -> RedisConfig {
    let config = RedisConfig::from_url(&cluster.url())
        .unwrap()
        .lookup_deadline(Duration::from_secs(3))
        .response_timeout(Duration::from_millis(800));
    assert_eq!(config.mode, RedisMode::Cluster);
    config
}

#[tokio::test]
async fn users_over_all_slots_are_found_and_a_node_restart_is_survived() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let users = users(300, HashAlgorithm::Sha256, LOW_ITERATIONS);
    let stored = stored(&users);
    let writer = RedisWriter::connect(&config(&cluster)).await.unwrap();
    writer.write_all(&stored, 64, |_| {}).await.unwrap();
    // The keys really are spread over the three masters.
    let per_node = cluster.keys_per_node();
    assert_eq!(per_node.iter().sum::<u64>(), 300, "{per_node:?}");
    assert!(per_node.iter().all(|n| *n > 30), "{per_node:?}");
    // Export scans every master.
    assert_eq!(writer.read_all().await.unwrap().len(), 300);

    let provider = RedisProvider::new(config(&cluster)).unwrap();
    let server = permissive_server();
    for (u, p, _) in &users {
        accepted(
            &authenticate(&server, &provider, Mechanism::ScramSha256, u, p).await,
            u,
        );
    }
    assert_eq!(
        lookup(&provider, "nobody", Mechanism::ScramSha256).await,
        Lookup::NotFound
    );

    // Restart one master (no persistence: rewrite its users afterwards). While it is down,
    // its users are ignored within the deadline and the others still answer.
    cluster.nodes[1].stop();
    let mut down = 0;
    let mut up = 0;
    for (u, _, _) in users.iter().take(30) {
        let started = Instant::now();
        match lookup(&provider, u, Mechanism::ScramSha256).await {
            Lookup::Found(_) => up += 1,
            Lookup::Ignore(reason) => {
                assert!(matches!(
                    reason.kind(),
                    IgnoreKind::Unavailable | IgnoreKind::Timeout
                ));
                assert!(
                    started.elapsed() < Duration::from_secs(4),
                    "{:?}",
                    started.elapsed()
                );
                down += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(down > 0 && up > 0, "down {down}, up {up}");
    cluster.nodes[1].start();
    cluster.wait_ok();
    let writer = RedisWriter::connect(&config(&cluster)).await.unwrap();
    writer.write_all(&stored, 64, |_| {}).await.unwrap();
    let mut all_found = false;
    for _ in 0..50 {
        let mut found = 0;
        for (u, _, _) in &users {
            if matches!(
                lookup(&provider, u, Mechanism::ScramSha256).await,
                Lookup::Found(_)
            ) {
                found += 1;
            }
        }
        if found == users.len() {
            all_found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(all_found, "not every user was found after the node restart");
    for (u, p, _) in users.iter().take(20) {
        accepted(
            &authenticate(&server, &provider, Mechanism::ScramSha256, u, p).await,
            u,
        );
    }
}

#[tokio::test]
async fn a_cluster_that_is_down_at_start_is_picked_up_later() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let users = users(10, HashAlgorithm::Sha512, LOW_ITERATIONS);
    let stored = stored(&users);
    for node in &mut cluster.nodes {
        node.stop();
    }
    let provider =
        RedisProvider::new(config(&cluster).lookup_deadline(Duration::from_secs(2))).unwrap();
    ignored_within(
        &provider,
        "user-0",
        Mechanism::ScramSha512,
        Duration::from_secs(3),
    )
    .await;
    for node in &mut cluster.nodes {
        node.start();
    }
    cluster.wait_ok();
    RedisWriter::connect(&config(&cluster))
        .await
        .unwrap()
        .write_all(&stored, 10, |_| {})
        .await
        .unwrap();
    let pause = Duration::from_millis(200);
    assert!(
        found_again(&provider, "user-3", Mechanism::ScramSha512, 50, pause).await,
        "the provider did not pick up the cluster"
    );
}
