//! The PostgreSQL provider against a real PostgreSQL server started by the test (Debian's
//! `postgresql`; a missing server FAILS unless `MQTT_SCRAM_SKIP_MISSING_PEERS=1`).
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

use mqtt_scram::provider::{Cached, Chain, IgnoreKind, Lookup, UserRecord};
use mqtt_scram::{HashAlgorithm, Mechanism};
use mqtt_scram_authz::AclRule;
use mqtt_scram_stores::config::StoreConfig;
use mqtt_scram_stores::postgres::{PostgresConfig, PostgresProvider, PostgresWriter};
use mqtt_scram_stores::remote::{Encoding, TlsSettings};
use mqtt_scram_testkit::postgres::Cluster;

use support::*;

const PASSWORD: &str = "db-secret-pw";

fn start() -> Option<Cluster> {
    let cluster = Cluster::start()?;
    cluster.set_password("postgres", PASSWORD);
    Some(cluster)
}

fn config(cluster: &Cluster) -> PostgresConfig {
    PostgresConfig::new(cluster.url("postgres", PASSWORD)).lookup_deadline(Duration::from_secs(5))
}

async fn write(cluster: &Cluster, users: &[(String, UserRecord)]) {
    let mut writer = PostgresWriter::connect(&config(cluster)).await.unwrap();
    writer.create_schema().await.unwrap();
    writer.write_all(users, 100, |_| {}).await.unwrap();
}

#[tokio::test]
async fn default_schema_users_authenticate_with_both_hashes() {
    let Some(cluster) = start() else { return };
    let sha256 = users(40, HashAlgorithm::Sha256, LOW_ITERATIONS);
    let mut sha512 = users(40, HashAlgorithm::Sha512, LOW_ITERATIONS);
    // A few at the RFC 7677 default, and the same names under SHA-512 with other passwords.
    let strong = users(3, HashAlgorithm::Sha256, 4096);
    for (name, password, _) in &mut sha512 {
        *password = format!("{password}-512");
        let _ = name;
    }
    let sha512: Vec<_> = sha512
        .into_iter()
        .map(|(u, p, _)| {
            let c = mqtt_scram::StoredCredentials::derive(
                HashAlgorithm::Sha512,
                &p,
                b"salt-of-512",
                LOW_ITERATIONS,
            )
            .unwrap();
            (u, p, UserRecord::new(c))
        })
        .collect();
    let strong: Vec<_> = strong
        .into_iter()
        .map(|(u, p, r)| (format!("strong-{u}"), p, r))
        .collect();
    let mut all = stored(&sha256);
    all.extend(stored(&sha512));
    all.extend(stored(&strong));
    write(&cluster, &all).await;

    let provider = PostgresProvider::new(config(&cluster)).unwrap();
    let server = permissive_server();
    for (mechanism, set) in [
        (Mechanism::ScramSha256, &sha256),
        (Mechanism::ScramSha512, &sha512),
        (Mechanism::ScramSha256, &strong),
    ] {
        all_accepted_and_a_wrong_password_rejected(&server, &provider, mechanism, set).await;
    }
    // The SHA-256 password does not open the SHA-512 record.
    rejected(&authenticate(&server, &provider, Mechanism::ScramSha512, "user-0", "pw-0").await);
    assert_eq!(
        lookup(&provider, "nobody", Mechanism::ScramSha256).await,
        Lookup::NotFound
    );
    // -PLUS variants use the same records.
    assert!(matches!(
        lookup(&provider, "user-1", Mechanism::ScramSha256Plus).await,
        Lookup::Found(_)
    ));
    // The writer reads back what it wrote.
    let writer = PostgresWriter::connect(&config(&cluster)).await.unwrap();
    assert_eq!(writer.read_all().await.unwrap().len(), all.len());
}

#[tokio::test]
async fn attributes_expiry_and_acl_reach_the_identity() {
    let Some(cluster) = start() else { return };
    let (name, password, record) = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS).remove(0);
    let rules: Vec<AclRule> = mqtt_scram_authz::parse_rules(&serde_json::json!([
        {"permission": "allow", "action": "publish", "topic": "devices/${clientid}/#"},
        {"permission": "deny", "action": "all", "topic": "#"}
    ]))
    .unwrap();
    let attributes = Attributes {
        client_attr: ("site", "lab"),
        expire_at: now_unix() + 3600,
        rules: &rules,
    };
    let full = attributes.on(record.clone());
    let expired = record.clone().expire_at(Some(now_unix() - 10));
    write(
        &cluster,
        &[(name.clone(), full), ("expired".into(), expired)],
    )
    .await;
    let provider = PostgresProvider::new(config(&cluster)).unwrap();
    let server = permissive_server();
    attributes.assert_carried_by(&accepted(
        &authenticate(&server, &provider, Mechanism::ScramSha256, &name, &password).await,
        &name,
    ));
    // An expired record is Found (a final "no"): the engine refuses it.
    expired_is_found_and_refused(&server, &provider, ("expired", &password)).await;
}

#[tokio::test]
async fn user_written_query_and_verifier_query() {
    let Some(cluster) = start() else { return };
    let alice = mqtt_scram::StoredCredentials::derive(
        HashAlgorithm::Sha256,
        "alice-pw",
        b"alice-salt",
        4096,
    )
    .unwrap();
    let hex = alice.to_emqx_hex();
    cluster.admin_sql(&format!(
        "CREATE TABLE mqtt_user (name text PRIMARY KEY, salt_hex text, stored_hex text, server_hex text,
           rounds bigint, admin int, client text, cn text, peer inet);
         INSERT INTO mqtt_user VALUES ('alice', '{}', '{}', '{}', 4096, 1, 'client-7', 'device-7', '127.0.0.1');
         CREATE TABLE verifiers (rolname text PRIMARY KEY, rolpassword text);
         INSERT INTO verifiers VALUES ('bob', '{}');",
        hex.salt,
        hex.stored_key,
        hex.server_key,
        mqtt_scram::StoredCredentials::derive(HashAlgorithm::Sha256, "bob-pw", b"bob-salty", 4096)
            .unwrap()
            .to_postgres()
    ));
    // EMQX-style columns under other names, hex text, all placeholders as bind parameters.
    let query = "SELECT salt_hex AS salt, stored_hex AS stored_key, server_hex AS server_key,
        rounds AS iterations, admin AS is_superuser FROM mqtt_user
        WHERE name = ${username} AND client = ${clientid} AND cn = ${cert_common_name}
          AND peer = ${peerhost}::inet AND ${mechanism} = 'SCRAM-SHA-256'";
    let provider =
        PostgresProvider::new(config(&cluster).query(query).encoding(Encoding::Hex)).unwrap();
    assert!(provider.sql().contains("$1::text"), "{}", provider.sql());
    let server = permissive_server();
    let identity = accepted(
        &authenticate(
            &server,
            &provider,
            Mechanism::ScramSha256,
            "alice",
            "alice-pw",
        )
        .await,
        "alice",
    );
    assert!(identity.is_superuser());
    assert_eq!(
        lookup(&provider, "alice", Mechanism::ScramSha512).await,
        Lookup::NotFound
    );

    // A table of PostgreSQL verifiers (like pg_authid.rolpassword).
    let verifiers = PostgresProvider::new(
        config(&cluster)
            .query("SELECT rolpassword AS verifier FROM verifiers WHERE rolname = ${username}"),
    )
    .unwrap();
    accepted(
        &authenticate(&server, &verifiers, Mechanism::ScramSha256, "bob", "bob-pw").await,
        "bob",
    );
    // A SHA-256 verifier has nothing for SHA-512.
    assert_eq!(
        lookup(&verifiers, "bob", Mechanism::ScramSha512).await,
        Lookup::NotFound
    );
    // PostgreSQL's own role table works the same way.
    cluster.admin_sql(&format!(
        "CREATE ROLE carol LOGIN PASSWORD '{}'",
        mqtt_scram::StoredCredentials::derive(
            HashAlgorithm::Sha256,
            "carol-pw",
            b"carol-salt",
            4096
        )
        .unwrap()
        .to_postgres()
    ));
    let roles = PostgresProvider::new(
        config(&cluster)
            .query("SELECT rolpassword AS verifier FROM pg_authid WHERE rolname = ${username}"),
    )
    .unwrap();
    accepted(
        &authenticate(&server, &roles, Mechanism::ScramSha256, "carol", "carol-pw").await,
        "carol",
    );
}

#[tokio::test]
async fn garbage_rows_are_ignored_with_a_reason() {
    let Some(cluster) = start() else { return };
    let c =
        mqtt_scram::StoredCredentials::derive(HashAlgorithm::Sha256, "pw", b"garbage-salt", 4096)
            .unwrap();
    let hex = c.to_emqx_hex();
    cluster.admin_sql(&format!(
        "CREATE TABLE t (name text, salt text, stored_key text, server_key text, iterations int,
            is_superuser text, client_attrs text, acl text, extra int);
         INSERT INTO t VALUES ('two', '{s}', '{k}', '{v}', 4096, NULL, NULL, NULL, 0),
                              ('two', '{s}', '{k}', '{v}', 4096, NULL, NULL, NULL, 0),
                              ('nulls', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0),
                              ('short', '{s}', 'abcd', '{v}', 4096, NULL, NULL, NULL, 0),
                              ('notkey', '{s}', 'zz-not-hex-zz', '{v}', 4096, NULL, NULL, NULL, 0),
                              ('zero', '{s}', '{k}', '{v}', 0, NULL, NULL, NULL, 0),
                              ('super', '{s}', '{k}', '{v}', 4096, 'maybe', NULL, NULL, 0),
                              ('attrs', '{s}', '{k}', '{v}', 4096, NULL, '[1,2]', NULL, 0),
                              ('acl', '{s}', '{k}', '{v}', 4096, NULL, NULL, '[{{\"permission\":\"allow\"}}]', 0),
                              ('good', '{s}', '{k}', '{v}', 4096, 'true', '{{\"a\":\"b\"}}', NULL, 0);",
        s = hex.salt,
        k = hex.stored_key,
        v = hex.server_key
    ));
    let select = "SELECT salt, stored_key, server_key, iterations, is_superuser, client_attrs, acl FROM t WHERE name = ${username}";
    let provider =
        PostgresProvider::new(config(&cluster).query(select).encoding(Encoding::Hex)).unwrap();
    assert!(matches!(
        lookup(&provider, "good", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    for (user, expect) in [
        ("two", "more than one row"),
        ("nulls", "iterations"),
        ("short", "stored_key"),
        ("notkey", "stored_key is not valid hex"),
        ("zero", "iterations"),
        ("super", "is_superuser"),
        ("attrs", "client_attrs"),
        ("acl", "acl"),
    ] {
        let (kind, detail) = ignored(&lookup(&provider, user, Mechanism::ScramSha256).await);
        assert_eq!(kind, IgnoreKind::InvalidRecord, "{user}: {detail}");
        assert!(detail.contains(expect), "{user}: {detail}");
    }
    // Wrong column types and unknown columns.
    for (query, expect) in [
        (
            "SELECT 1.5::float8 AS iterations, salt, stored_key, server_key FROM t WHERE name = ${username}",
            "type",
        ),
        (
            "SELECT extra, salt FROM t WHERE name = ${username}",
            "unknown column",
        ),
        (
            "SELECT true AS salt, stored_key, server_key, iterations FROM t WHERE name = ${username}",
            "salt",
        ),
        (
            "SELECT 42 AS verifier FROM t WHERE name = ${username}",
            "verifier",
        ),
        (
            "SELECT 'SCRAM-SHA-256$garbage' AS verifier FROM t WHERE name = ${username}",
            "verifier",
        ),
    ] {
        let p =
            PostgresProvider::new(config(&cluster).query(query).encoding(Encoding::Hex)).unwrap();
        let (kind, detail) = ignored(&lookup(&p, "good", Mechanism::ScramSha256).await);
        assert_eq!(kind, IgnoreKind::InvalidRecord, "{query}: {detail}");
        assert!(detail.contains(expect), "{query}: {detail}");
    }
    // A query the server rejects is Unavailable, with the server's message.
    let broken = PostgresProvider::new(
        config(&cluster).query("SELECT nope FROM t WHERE name = ${username}"),
    )
    .unwrap();
    let (kind, detail) = ignored(&lookup(&broken, "good", Mechanism::ScramSha256).await);
    assert_eq!(kind, IgnoreKind::Unavailable);
    assert!(detail.contains("nope"), "{detail}");
    assert!(!detail.contains(PASSWORD), "{detail}");
}

#[tokio::test]
async fn injection_attempts_find_nothing_and_drop_nothing() {
    let Some(cluster) = start() else { return };
    let users = users(2, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&cluster, &stored(&users)).await;
    cluster.admin_sql("CREATE TABLE users (name text)");
    let provider = PostgresProvider::new(config(&cluster)).unwrap();
    let query = PostgresProvider::new(
        config(&cluster).query("SELECT salt, stored_key, server_key, iterations FROM mqtt_scram_users WHERE username = ${username} AND mechanism = 'SCRAM-SHA-256'"),
    )
    .unwrap();
    for evil in [
        "x'; DROP TABLE users; --",
        "x'; DROP TABLE mqtt_scram_users; --",
        "user-0' OR '1'='1",
        "$1",
        "${username}",
        "user-0\0",
    ] {
        for p in [&provider, &query] {
            let answer = lookup(p, evil, Mechanism::ScramSha256).await;
            assert!(
                matches!(answer, Lookup::NotFound | Lookup::Ignore(_)),
                "{evil:?}: {answer:?}"
            );
        }
    }
    assert_eq!(cluster.admin_sql("SELECT count(*) FROM users").trim(), "0");
    assert_eq!(
        cluster
            .admin_sql("SELECT count(*) FROM mqtt_scram_users")
            .trim(),
        "2"
    );
    assert!(matches!(
        lookup(&provider, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
}

#[tokio::test]
async fn a_stopped_server_is_ignored_then_recovered_without_a_new_provider() {
    let Some(cluster) = start() else { return };
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&cluster, &stored(&users)).await;
    let deadline = Duration::from_secs(2);
    let provider = PostgresProvider::new(config(&cluster).lookup_deadline(deadline)).unwrap();
    assert!(matches!(
        lookup(&provider, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    cluster.stop();
    for _ in 0..3 {
        let bound = deadline + Duration::from_secs(1);
        let detail = ignored_within(&provider, "user-0", Mechanism::ScramSha256, bound).await;
        assert!(!detail.contains(PASSWORD), "{detail}");
    }
    cluster.restart();
    let pause = Duration::from_millis(100);
    assert!(
        found_again(&provider, "user-0", Mechanism::ScramSha256, 50, pause).await,
        "lookups did not recover after the restart"
    );
}

#[tokio::test]
async fn slow_queries_hit_the_statement_timeout_or_the_deadline() {
    let Some(cluster) = start() else { return };
    let slow = "SELECT salt, stored_key, server_key, iterations FROM mqtt_scram_users, pg_sleep(5) WHERE username = ${username}";
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&cluster, &stored(&users)).await;
    // The server cancels the statement.
    // (A generous deadline: opening a connection on a loaded machine, SCRAM included, must
    // not be what times out here; the statement is cancelled after 200 ms, not after 5 s.)
    let by_server = PostgresProvider::new(
        config(&cluster)
            .query(slow)
            .statement_timeout(Duration::from_millis(200))
            .lookup_deadline(Duration::from_secs(20)),
    )
    .unwrap();
    let (kind, detail) = ignored(&lookup(&by_server, "user-0", Mechanism::ScramSha256).await);
    assert_eq!(kind, IgnoreKind::Timeout, "{detail}");
    assert!(detail.contains("statement timeout"), "{detail}");
    // The provider's own deadline.
    let by_deadline = PostgresProvider::new(
        config(&cluster)
            .query(slow)
            .statement_timeout(Duration::from_secs(30))
            .lookup_deadline(Duration::from_millis(300)),
    )
    .unwrap();
    let started = Instant::now();
    let (kind, detail) = ignored(&lookup(&by_deadline, "user-0", Mechanism::ScramSha256).await);
    assert_eq!(kind, IgnoreKind::Timeout, "{detail}");
    assert!(detail.contains("deadline"), "{detail}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn cached_single_flight_1000_concurrent_lookups_cost_one_query() {
    let Some(cluster) = start() else { return };
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&cluster, &stored(&users)).await;
    // The query counts its own executions (and is slow enough for the lookups to overlap).
    cluster.admin_sql(
        "CREATE TABLE lookups (n int); INSERT INTO lookups VALUES (0);
         CREATE FUNCTION counted(name text) RETURNS SETOF mqtt_scram_users LANGUAGE plpgsql AS $$
         BEGIN
           UPDATE lookups SET n = n + 1;
           PERFORM pg_sleep(0.2);
           RETURN QUERY SELECT * FROM mqtt_scram_users WHERE username = name;
         END $$;",
    );
    let provider = Arc::new(Cached::new(
        PostgresProvider::new(config(&cluster).query(
            "SELECT salt, stored_key, server_key, iterations FROM counted(${username}) WHERE mechanism = ${mechanism}",
        ))
        .unwrap(),
    ));
    found_by_concurrent_lookups(provider, 1000).await;
    assert_eq!(cluster.admin_sql("SELECT n FROM lookups").trim(), "1");
}

#[tokio::test]
async fn failover_to_the_next_host_and_chain_with_a_file() {
    let Some(cluster) = start() else { return };
    let users = users(2, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&cluster, &stored(&users)).await;
    let dead = mqtt_scram_testkit::free_port();
    let url = format!(
        "host=127.0.0.1,127.0.0.1 port={dead},{} user=postgres dbname=postgres connect_timeout=2",
        cluster.port
    );
    let provider =
        PostgresProvider::new(PostgresConfig::new(url.clone()).password(PASSWORD)).unwrap();
    assert!(matches!(
        lookup(&provider, "user-1", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));

    // The same through StoreConfig: a cached chain of a local file and PostgreSQL.
    let dir = mqtt_scram_testkit::TempDir::new("pg-chain");
    let local = mqtt_scram::StoredCredentials::derive(
        HashAlgorithm::Sha256,
        "local-pw",
        b"local-salt",
        4096,
    )
    .unwrap();
    let file = dir.write(
        "local.json",
        &serde_json::to_string(&mqtt_scram_stores::record::CredentialRecord::new(
            "local",
            &UserRecord::new(local),
        ))
        .unwrap(),
    );
    let config: StoreConfig = serde_json::from_value(serde_json::json!({
        "kind": "cached", "ttl": "30s",
        "inner": {"kind": "chain", "on_not_found": "continue", "stores": [
            {"kind": "file", "path": file},
            {"kind": "postgres", "url": url, "password": PASSWORD, "lookup_deadline": "5s"}
        ]}
    }))
    .unwrap();
    let store = config.build().unwrap();
    assert!(matches!(
        lookup(&store, "local", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    assert!(matches!(
        lookup(&store, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    assert_eq!(
        lookup(&store, "nobody", Mechanism::ScramSha256).await,
        Lookup::NotFound
    );
    // A plain Chain composes the provider too.
    let chain = Chain::new().push(provider);
    assert!(matches!(
        lookup(&chain, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    // A bare URL works as a credential source.
    let bare = StoreConfig::from_url(&cluster.url("postgres", PASSWORD))
        .unwrap()
        .build()
        .unwrap();
    assert!(matches!(
        lookup(&bare, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
}

#[tokio::test]
async fn tls_with_a_ca_file() {
    let Some(cluster) = start() else { return };
    let tls = cluster.enable_tls();
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    write(&cluster, &stored(&users)).await;
    let url = format!("{}?sslmode=require", cluster.url("postgres", PASSWORD));
    let provider = PostgresProvider::new(
        PostgresConfig::new(url.clone()).tls(TlsSettings::default().ca_file(&tls.ca)),
    )
    .unwrap();
    assert!(matches!(
        lookup(&provider, "user-0", Mechanism::ScramSha256).await,
        Lookup::Found(_)
    ));
    let ssl = cluster.admin_sql("SELECT count(*) FROM pg_stat_ssl WHERE ssl");
    assert!(ssl.trim().parse::<u32>().unwrap() >= 1, "{ssl}");
    // A server certificate from another CA is refused (and the lookup ignored).
    let other = mqtt_scram_testkit::postgres::tls_files(
        &std::env::temp_dir().join(format!("pg-other-ca-{}", std::process::id())),
        &["x"],
    );
    let untrusted = PostgresProvider::new(
        PostgresConfig::new(url).tls(TlsSettings::default().ca_file(&other.ca)),
    )
    .unwrap();
    let (kind, detail) = ignored(&lookup(&untrusted, "user-0", Mechanism::ScramSha256).await);
    assert_eq!(kind, IgnoreKind::Unavailable, "{detail}");
    let _ = std::fs::remove_dir_all(other.ca.parent().unwrap());
}

#[test]
fn configuration_errors_name_the_setting_and_hide_the_password() {
    let bad = |config: PostgresConfig| PostgresProvider::new(config).unwrap_err().to_string();
    let base = || PostgresConfig::new("postgres://app:hunter2@db/mqtt");
    assert!(bad(base().pool_size(0)).contains("pool_size"));
    assert!(bad(base().table("users; DROP")).contains("table"));
    assert!(bad(base().query("SELECT 1 WHERE ${nope}")).contains("${nope}"));
    assert!(bad(base().statement_timeout(Duration::ZERO)).contains("statement_timeout"));
    let e = bad(PostgresConfig::new(
        "postgres://app:hunter2@db:notaport/mqtt",
    ));
    assert!(e.contains("url") && !e.contains("hunter2"), "{e}");
    let e = bad(base().tls(TlsSettings::default().ca_file("/nonexistent/ca.pem")));
    assert!(e.contains("ca_file"), "{e}");
    let provider = PostgresProvider::new(base()).unwrap();
    let debug = format!("{provider:?} {:?}", base().password("pw2"));
    assert!(
        !debug.contains("hunter2") && !debug.contains("pw2"),
        "{debug}"
    );
    let e = serde_json::from_str::<StoreConfig>(
        r#"{"kind": "postgres", "url": "postgres://a@b/c", "pool": 3}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("pool"), "{e}");
    assert!(matches!(
        StoreConfig::from_url("postgres://a@b/c").unwrap(),
        StoreConfig::Postgres(_)
    ));
}

#[test]
fn outside_a_tokio_runtime_is_ignore_not_a_panic() {
    let provider = PostgresProvider::new(PostgresConfig::new("postgres://a@127.0.0.1/c")).unwrap();
    let answer =
        futures_util::FutureExt::now_or_never(lookup(&provider, "x", Mechanism::ScramSha256));
    assert!(matches!(answer, Some(Lookup::Ignore(_))), "{answer:?}");
}
