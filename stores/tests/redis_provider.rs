//! The Redis provider against real `redis-server` processes started by the test: one node
//! (plain, ACL user, TLS) and a Sentinel. A missing Redis FAILS unless
//! `MQTT_SCRAM_SKIP_MISSING_PEERS=1`. The three-master Cluster is in `redis_cluster.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "support/remote.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_scram::provider::{Cached, IgnoreKind, Lookup, UserRecord};
use mqtt_scram::{HashAlgorithm, Mechanism, StoredCredentials};
use mqtt_scram_stores::config::StoreConfig;
use mqtt_scram_stores::redis::{RedisConfig, RedisMode, RedisProvider, RedisWriter};
use mqtt_scram_stores::remote::{Encoding, TlsSettings};
use mqtt_scram_testkit::redis::{Sentinel, Single};

use support::*;

fn config(url: &str) -> RedisConfig {
    RedisConfig::from_url(url)
        .unwrap()
        .lookup_deadline(Duration::from_secs(3))
}

async fn write(config: &RedisConfig, users: &[(String, UserRecord)]) {
    let writer = RedisWriter::connect(config).await.unwrap();
    writer.write_all(users, 50, |_| {}).await.unwrap();
}

#[tokio::test]
async fn default_layout_users_authenticate_with_both_hashes() {
    let Some(redis) = Single::start() else { return };
    let config = config(&redis.server.url());
    let sha256 = users(30, HashAlgorithm::Sha256, LOW_ITERATIONS);
    let sha512 = users(30, HashAlgorithm::Sha512, LOW_ITERATIONS);
    let strong = users(2, HashAlgorithm::Sha256, 4096);
    let strong: Vec<_> = strong
        .into_iter()
        .map(|(u, p, r)| (format!("strong-{u}"), p, r))
        .collect();
    for set in [&sha256, &sha512, &strong] {
        write(&config, &stored(set)).await;
    }
    // The documented layout: base64 fields in a hash per user and mechanism.
    let salt = redis
        .server
        .cli(&["HGET", "mqtt_scram:SCRAM-SHA-256:user-0", "salt"]);
    assert_eq!(
        salt.trim(),
        mqtt_scram_stores::remote::Encoding::Base64.encode(sha256[0].2.credentials.salt())
    );
    let provider = RedisProvider::new(config.clone()).unwrap();
    let server = permissive_server();
    for (mechanism, set) in [
        (Mechanism::ScramSha256, &sha256),
        (Mechanism::ScramSha512, &sha512),
        (Mechanism::ScramSha256, &strong),
    ] {
        all_accepted_and_a_wrong_password_rejected(&server, &provider, mechanism, set).await;
    }
    assert_eq!(
        lookup(&provider, "nobody", Mechanism::ScramSha256).await,
        Lookup::NotFound
    );
    let writer = RedisWriter::connect(&config).await.unwrap();
    assert_eq!(writer.read_all().await.unwrap().len(), 62);
}

#[tokio::test]
async fn attributes_expiry_acl_and_idempotent_rewrites() {
    let Some(redis) = Single::start() else { return };
    let config = config(&redis.server.url());
    let (name, password, record) = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS).remove(0);
    let rules = mqtt_scram_authz::parse_rules(&serde_json::json!([
        {"permission": "allow", "action": "subscribe", "topic": "news/#"}
    ]))
    .unwrap();
    let attributes = Attributes {
        client_attr: ("tenant", "t1"),
        expire_at: now_unix() + 3600,
        rules: &rules,
    };
    let full = attributes.on(record.clone());
    write(
        &config,
        &[
            (name.clone(), full.clone()),
            ("expired".into(), record.clone().expire_at(Some(1))),
        ],
    )
    .await;
    let provider = RedisProvider::new(config.clone()).unwrap();
    let server = permissive_server();
    attributes.assert_carried_by(&accepted(
        &authenticate(&server, &provider, Mechanism::ScramSha256, &name, &password).await,
        &name,
    ));
    expired_is_found_and_refused(&server, &provider, ("expired", &password)).await;

    // Writing again is idempotent, and fields the user no longer has are removed.
    write(&config, &[(name.clone(), full)]).await;
    write(&config, &[(name.clone(), record)]).await;
    let fields = redis
        .server
        .cli(&["HKEYS", "mqtt_scram:SCRAM-SHA-256:user-0"]);
    assert!(
        !fields.contains("acl")
            && !fields.contains("expire_at")
            && !fields.contains("client_attrs"),
        "{fields}"
    );
    let Lookup::Found(plain) = lookup(&provider, &name, Mechanism::ScramSha256).await else {
        panic!()
    };
    assert!(!plain.attributes.is_superuser && plain.attributes.authz.is_none());
}

#[tokio::test]
async fn user_written_commands_hmget_hgetall_get() {
    let Some(redis) = Single::start() else { return };
    let c =
        StoredCredentials::derive(HashAlgorithm::Sha256, "emqx-pw", b"emqx-salt", 4096).unwrap();
    let hex = c.to_emqx_hex();
    redis.server.cli(&[
        "HSET",
        "mqtt_user:alice",
        "salt",
        &hex.salt,
        "stored_key",
        &hex.stored_key,
        "server_key",
        &hex.server_key,
        "is_superuser",
        "1",
        "password_hash",
        "ignored",
    ]);
    let server = permissive_server();
    // EMQX's HMGET form; the iteration count is not stored, so select it from a field
    // that holds it (here a constant field added for the test).
    redis
        .server
        .cli(&["HSET", "mqtt_user:alice", "iteration_count", "4096"]);
    let hmget = RedisProvider::new(
        config(&redis.server.url())
            .command("HMGET mqtt_user:${username} salt stored_key server_key iteration_count is_superuser")
            .encoding(Encoding::Hex),
    )
    .unwrap();
    let identity = accepted(
        &authenticate(&server, &hmget, Mechanism::ScramSha256, "alice", "emqx-pw").await,
        "alice",
    );
    assert!(identity.is_superuser());
    assert_eq!(
        lookup(&hmget, "bob", Mechanism::ScramSha256).await,
        Lookup::NotFound
    );
    let hgetall = RedisProvider::new(
        config(&redis.server.url())
            .command("HGETALL mqtt_user:${username}")
            .encoding(Encoding::Hex),
    )
    .unwrap();
    accepted(
        &authenticate(
            &server,
            &hgetall,
            Mechanism::ScramSha256,
            "alice",
            "emqx-pw",
        )
        .await,
        "alice",
    );
    // GET of a PostgreSQL-style verifier, keyed by client id and username.
    let verifier =
        StoredCredentials::derive(HashAlgorithm::Sha512, "v-pw", b"verifier-salt", 4096).unwrap();
    redis
        .server
        .cli(&["SET", "scram:client-7:carol", &verifier.to_postgres()]);
    let get = RedisProvider::new(
        config(&redis.server.url()).command("GET scram:${clientid}:${username}"),
    )
    .unwrap();
    accepted(
        &authenticate(&server, &get, Mechanism::ScramSha512, "carol", "v-pw").await,
        "carol",
    );
    assert_eq!(
        lookup(&get, "carol", Mechanism::ScramSha256).await,
        Lookup::NotFound
    );
}

#[tokio::test]
async fn garbage_is_ignored_and_injection_finds_nothing() {
    let Some(redis) = Single::start() else { return };
    let config = config(&redis.server.url());
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&config, &stored(&users)).await;
    let k = |u: &str| format!("mqtt_scram:SCRAM-SHA-256:{u}");
    redis.server.cli(&["SET", &k("string"), "not a hash"]);
    redis
        .server
        .cli(&["HSET", &k("partial"), "salt", "c2FsdHNhbHQ="]);
    redis.server.cli(&[
        "HSET",
        &k("badb64"),
        "salt",
        "%%%",
        "stored_key",
        "x",
        "server_key",
        "y",
        "iterations",
        "4096",
    ]);
    redis.server.cli(&[
        "HSET",
        &k("baditer"),
        "salt",
        "c2FsdHNhbHQ=",
        "stored_key",
        "x",
        "server_key",
        "y",
        "iterations",
        "lots",
    ]);
    redis
        .server
        .cli(&["HSET", &k("badacl"), "acl", "{not json"]);
    let provider = RedisProvider::new(config.clone()).unwrap();
    for (user, expect) in [
        ("string", "WRONGTYPE"),
        ("partial", "iterations"),
        ("badb64", "salt"),
        ("baditer", "iterations"),
        ("badacl", ""),
    ] {
        let (kind, detail) = ignored(&lookup(&provider, user, Mechanism::ScramSha256).await);
        assert_eq!(kind, IgnoreKind::InvalidRecord, "{user}: {detail}");
        assert!(detail.contains(expect), "{user}: {detail}");
    }
    redis.server.cli(&["SET", "canary", "alive"]);
    for evil in [
        "x'; DROP TABLE users; --",
        "*",
        "user-0\r\nFLUSHALL\r\n",
        "user-0 FLUSHALL",
        "${username}",
    ] {
        assert_eq!(
            lookup(&provider, evil, Mechanism::ScramSha256).await,
            Lookup::NotFound,
            "{evil:?}"
        );
    }
    assert_eq!(redis.server.cli(&["GET", "canary"]).trim(), "alive");
    assert!(matches!(
        lookup(&provider, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
}

#[tokio::test]
async fn stop_and_freeze_are_ignored_within_the_deadline_then_recovered() {
    let Some(mut redis) = Single::start() else {
        return;
    };
    let deadline = Duration::from_millis(1500);
    let config = config(&redis.server.url())
        .lookup_deadline(deadline)
        .response_timeout(Duration::from_millis(500));
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&config, &stored(&users)).await;
    let provider = RedisProvider::new(config).unwrap();
    assert!(matches!(
        lookup(&provider, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    // Killed: refused connections.
    redis.server.stop();
    for _ in 0..3 {
        let bound = deadline + Duration::from_millis(500);
        ignored_within(&provider, "user-0", Mechanism::ScramSha256, bound).await;
    }
    redis.server.start();
    write(
        &RedisConfig::from_url(&redis.server.url()).unwrap(),
        &stored(&users),
    )
    .await; // no persistence
    recover(&provider).await;
    // Frozen: the connection stays open, nothing answers.
    redis.server.freeze();
    let started = Instant::now();
    let (kind, detail) = ignored(&lookup(&provider, "user-0", Mechanism::ScramSha256).await);
    assert_eq!(kind, IgnoreKind::Timeout, "{detail}");
    assert!(
        started.elapsed() < deadline + Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    redis.server.thaw();
    recover(&provider).await;
}

async fn recover(provider: &RedisProvider) {
    let pause = Duration::from_millis(100);
    assert!(
        found_again(provider, "user-0", Mechanism::ScramSha256, 100, pause).await,
        "lookups did not recover"
    );
}

#[tokio::test]
async fn acl_user_authentication_and_secrets_stay_hidden() {
    let Some(redis) = Single::start() else { return };
    redis.server.cli(&[
        "ACL",
        "SETUSER",
        "mqtt",
        "on",
        ">s3cret-pw",
        "~mqtt_scram:*",
        "+hgetall",
        "+hset",
        "+hdel",
        "+scan",
        "+ping",
        "+hello",
        "+client",
    ]);
    redis
        .server
        .cli(&["CONFIG", "SET", "requirepass", "admin-pw"]);
    let url = format!("redis://mqtt:s3cret-pw@127.0.0.1:{}", redis.server.port);
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&config(&url), &stored(&users)).await;
    let provider = RedisProvider::new(config(&url)).unwrap();
    assert!(matches!(
        lookup(&provider, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    // The password may also come from the configuration instead of the URL.
    let split = config(&redis.server.url()).credentials(Some("mqtt"), Some("s3cret-pw"));
    assert!(matches!(
        lookup(
            &RedisProvider::new(split).unwrap(),
            "user-0",
            Mechanism::ScramSha256
        )
        .await,
        Lookup::Found(_)
    ));
    // A wrong password is Unavailable with a reason that does not echo it.
    let wrong = RedisProvider::new(config(&format!(
        "redis://mqtt:guess-pw@127.0.0.1:{}",
        redis.server.port
    )))
    .unwrap();
    let (kind, detail) = ignored(&lookup(&wrong, "user-0", Mechanism::ScramSha256).await);
    assert_eq!(kind, IgnoreKind::Unavailable);
    assert!(!detail.contains("guess-pw"), "{detail}");
    let debug = format!("{provider:?} {:?}", config(&url));
    assert!(!debug.contains("s3cret-pw"), "{debug}");
}

#[tokio::test]
async fn tls_with_a_ca_file() {
    if !mqtt_scram_testkit::redis::available() {
        return;
    }
    let dir = mqtt_scram_testkit::TempDir::new("redis-tls");
    let files = mqtt_scram_testkit::postgres::tls_files(dir.path(), &["127.0.0.1", "localhost"]);
    let tls_port = mqtt_scram_testkit::free_port();
    let tls_port_s = tls_port.to_string();
    let Some(redis) = Single::start_with(&[
        "--tls-port",
        &tls_port_s,
        "--tls-cert-file",
        files.server_cert.to_str().unwrap(),
        "--tls-key-file",
        files.server_key.to_str().unwrap(),
        "--tls-ca-cert-file",
        files.ca.to_str().unwrap(),
        "--tls-auth-clients",
        "optional",
    ]) else {
        return;
    };
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&config(&redis.server.url()), &stored(&users)).await;
    let url = format!("rediss://127.0.0.1:{tls_port}");
    let trusted = config(&url).tls(TlsSettings::default().ca_file(&files.ca));
    let provider = RedisProvider::new(trusted.clone()).unwrap();
    assert!(matches!(
        lookup(&provider, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    // Mutual TLS.
    let mtls = RedisProvider::new(
        trusted.tls(
            TlsSettings::default()
                .ca_file(&files.ca)
                .client_identity(&files.client_cert, &files.client_key),
        ),
    )
    .unwrap();
    assert!(matches!(
        lookup(&mtls, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    // Another CA: refused.
    let other = mqtt_scram_testkit::postgres::tls_files(&dir.join("other"), &["x"]);
    let untrusted =
        RedisProvider::new(config(&url).tls(TlsSettings::default().ca_file(&other.ca))).unwrap();
    let (kind, _) = ignored(&lookup(&untrusted, "user-0", Mechanism::ScramSha256).await);
    assert_eq!(kind, IgnoreKind::Unavailable);
}

#[tokio::test]
async fn sentinel_finds_the_master() {
    let Some(sentinel) = Sentinel::start() else {
        return;
    };
    let config = config(&sentinel.url());
    assert_eq!(config.mode, RedisMode::Sentinel);
    let users = users(3, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&config, &stored(&users)).await;
    assert_eq!(sentinel.master.cli(&["DBSIZE"]).trim(), "3");
    let provider = RedisProvider::new(config.clone()).unwrap();
    let server = permissive_server();
    for (u, p, _) in &users {
        accepted(
            &authenticate(&server, &provider, Mechanism::ScramSha256, u, p).await,
            u,
        );
    }
    // Through StoreConfig from the URL, too.
    let store = StoreConfig::from_url(&sentinel.url())
        .unwrap()
        .build()
        .unwrap();
    assert!(matches!(
        lookup(&store, "user-2", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
}

#[tokio::test]
async fn cached_single_flight_1000_concurrent_lookups_cost_one_command() {
    let Some(redis) = Single::start() else { return };
    let config = config(&redis.server.url());
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&config, &stored(&users)).await;
    let before = redis.server.command_calls("hgetall");
    let provider = Arc::new(Cached::new(RedisProvider::new(config).unwrap()));
    found_by_concurrent_lookups(provider, 1000).await;
    assert_eq!(redis.server.command_calls("hgetall") - before, 1);
}

#[test]
fn configuration_errors_name_the_setting() {
    let bad = |c: RedisConfig| RedisProvider::new(c).unwrap_err().to_string();
    assert!(bad(RedisConfig::new(RedisMode::Single, ["http://x"])).contains("servers"));
    assert!(
        bad(RedisConfig::new(
            RedisMode::Single,
            ["redis://a", "redis://b"]
        ))
        .contains("servers")
    );
    assert!(bad(RedisConfig::new(RedisMode::Sentinel, ["redis://a"])).contains("sentinel_master"));
    assert!(
        bad(RedisConfig::new(RedisMode::Single, ["redis://a"]).command("DEL ${username}"))
            .contains("command")
    );
    assert!(
        bad(RedisConfig::new(RedisMode::Single, ["redis://a"])
            .command("HMGET k:${username} password_hash"))
        .contains("password_hash")
    );
    assert!(
        bad(RedisConfig::new(RedisMode::Single, ["rediss://a"])
            .tls(TlsSettings::default().ca_file("/nonexistent.pem")))
        .contains("ca_file")
    );
    assert!(RedisConfig::from_url("redis+sentinel://a:1").is_err());
    assert!(RedisConfig::from_url("redis+cluster://a:1/3").is_err());
    let e = serde_json::from_str::<StoreConfig>(
        r#"{"kind": "redis", "url": "redis://a", "mode": "cluster", "timeout": 3}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("timeout"), "{e}");
    let cluster = RedisConfig::from_url("rediss+cluster://u:pw@a:1,b:2").unwrap();
    assert_eq!(cluster.servers, ["rediss://u:pw@a:1", "rediss://u:pw@b:2"]);
    assert!(!format!("{cluster:?}").contains("pw@"), "{cluster:?}");
}

#[tokio::test]
async fn sentinel_fail_over_to_the_promoted_replica() {
    let Some(mut sentinel) = Sentinel::start_with_replica() else {
        return;
    };
    let config = config(&sentinel.url())
        .lookup_deadline(Duration::from_secs(2))
        .response_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(500));
    let users = users(2, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&config, &stored(&users)).await;
    let replica_port = sentinel.replica.as_ref().unwrap().port;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sentinel.replica.as_ref().unwrap().cli(&["DBSIZE"]).trim() != "2" {
        assert!(Instant::now() < deadline, "not replicated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let provider = RedisProvider::new(config).unwrap();
    assert!(matches!(
        lookup(&provider, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    sentinel.master.stop();
    // Until the sentinel promotes the replica, lookups are ignored within the deadline;
    // then they are answered by the new master, with the same provider.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let started = Instant::now();
        match lookup(&provider, "user-1", Mechanism::ScramSha256).await {
            Lookup::Found(_) => break,
            Lookup::Ignore(_) => {
                assert!(
                    started.elapsed() < Duration::from_secs(3),
                    "{:?}",
                    started.elapsed()
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(Instant::now() < deadline, "no fail-over within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sentinel.current_master_port(), Some(replica_port));
}
