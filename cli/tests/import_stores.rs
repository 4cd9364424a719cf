//! `mqtt-scram import` / `export` against real PostgreSQL and Redis servers started by the
//! tests: 1,000 users imported from passwords then every one authenticates through the
//! engine (SHA-256 and SHA-512), records imported and exported in every format, a bad row
//! stops everything before the first write, re-imports are idempotent.
//! Missing servers FAIL unless `MQTT_SCRAM_SKIP_MISSING_PEERS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "fixtures/cli/common.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mqtt_scram::provider::{CredentialProvider, Lookup, LookupRequest};
use mqtt_scram::{
    ConnectionInfo, Mechanism, Outcome, ReasonCode, RecordPolicy, ScramServer, ServerConfig,
    StartPacket, Timestamp,
};
use mqtt_scram_stores::postgres::{PostgresConfig, PostgresProvider};
use mqtt_scram_stores::redis::{RedisConfig, RedisProvider};
use mqtt_scram_testkit::postgres::Cluster;

const DB_PASSWORD: &str = "import-db-pw";

fn passwords_csv(dir: &TempDir, n: usize, prefix: &str) -> std::path::PathBuf {
    let mut csv = String::from("username,password,is_superuser\n");
    for i in 0..n {
        csv.push_str(&format!("{prefix}{i},pw-{prefix}{i},{}\n", i % 100 == 0));
    }
    dir.write(&format!("{prefix}users.csv"), &csv)
}

/// Client ↔ engine exchange with credentials from `provider`; whether it was accepted.
async fn logs_in<P: CredentialProvider>(
    server: &ScramServer,
    provider: &P,
    mechanism: Mechanism,
    username: &str,
    password: &str,
) -> Outcome {
    let mut rng = rand::rng();
    let client_config = mqtt_scram::client::ClientConfig::new().iteration_window(1..=1_000_000);
    let (client, first) =
        mqtt_scram::client::start(&client_config, mechanism, username, password, &mut rng).unwrap();
    let connection = Arc::new(ConnectionInfo::new("import-test"));
    let need = server
        .start(
            &connection,
            StartPacket::Connect {
                method: mechanism.name(),
                data: Some(&first),
            },
            Timestamp::new(Duration::ZERO, 1_800_000_000),
        )
        .unwrap();
    let lookup = provider.lookup(&need.request()).await;
    let (challenge, reply) = need.continue_with(lookup, &mut rng);
    assert_eq!(reply.reason_code, ReasonCode::ContinueAuthentication);
    let (client, last) = client
        .on_server_first(reply.data.as_deref().unwrap())
        .unwrap();
    let outcome = challenge.finish(
        0x18,
        mechanism.name(),
        Some(&last),
        Timestamp::new(Duration::from_secs(1), 1_800_000_000),
    );
    if let Outcome::Accepted { reply, .. } = &outcome {
        client
            .on_server_final(reply.data.as_deref().unwrap())
            .unwrap();
    }
    outcome
}

fn server() -> ScramServer {
    ScramServer::new(
        ServerConfig::new([3; 32]).record_policy(RecordPolicy::new(1..=1_000_000, 8..=64)),
    )
    .unwrap()
}

fn import(args: &[&str]) -> std::process::Output {
    let mut all = vec!["import"];
    all.extend(args);
    run_env(&all, "", &[("STORE_PW", DB_PASSWORD)])
}

fn export(args: &[&str]) -> std::process::Output {
    let mut all = vec!["export"];
    all.extend(args);
    run_env(&all, "", &[("STORE_PW", DB_PASSWORD)])
}

async fn found<P: CredentialProvider>(provider: &P, user: &str, mechanism: Mechanism) -> bool {
    let connection = ConnectionInfo::new("c");
    matches!(
        provider
            .lookup(&LookupRequest::new(mechanism, user, &connection))
            .await,
        Lookup::Found(_)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_1000_users_from_passwords_all_authenticate_then_export_in_every_format() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.set_password("postgres", DB_PASSWORD);
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let dir = TempDir::new("import-pg");
    let csv = passwords_csv(&dir, 1000, "u");
    let csv = csv.to_str().unwrap();
    // No table yet: refused with a hint, nothing written.
    let o = import(&[
        "--to",
        &url,
        "--store-password-env",
        "STORE_PW",
        "-i",
        "16",
        "--allow-weak",
        csv,
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("--create-table"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(DB_PASSWORD));
    let o = ok(&import(&[
        "--to",
        &url,
        "--store-password-env",
        "STORE_PW",
        "--create-table",
        "-m",
        "sha256",
        "-m",
        "sha512",
        "-i",
        "16",
        "--allow-weak",
        csv,
    ]));
    assert!(o.is_empty());
    assert_eq!(
        cluster
            .admin_sql("SELECT count(*) FROM mqtt_scram_users")
            .trim(),
        "2000"
    );
    // A few users at the RFC 7677 default count.
    let strong = passwords_csv(&dir, 3, "strong");
    ok(&import(&[
        "--to",
        &url,
        "--store-password-env",
        "STORE_PW",
        strong.to_str().unwrap(),
    ]));

    let provider = PostgresProvider::new(PostgresConfig::new(&url).password(DB_PASSWORD)).unwrap();
    let server = server();
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        for i in 0..1000 {
            let user = format!("u{i}");
            let outcome =
                logs_in(&server, &provider, mechanism, &user, &format!("pw-{user}")).await;
            let Outcome::Accepted { identity, .. } = outcome else {
                panic!("{user} {mechanism:?} rejected")
            };
            assert_eq!(identity.is_superuser(), i % 100 == 0);
        }
    }
    for i in 0..3 {
        let user = format!("strong{i}");
        assert!(matches!(
            logs_in(
                &server,
                &provider,
                Mechanism::ScramSha256,
                &user,
                &format!("pw-{user}")
            )
            .await,
            Outcome::Accepted { .. }
        ));
    }
    assert!(matches!(
        logs_in(&server, &provider, Mechanism::ScramSha256, "u1", "wrong").await,
        Outcome::Rejected(_)
    ));

    // Export in every format; each loads back (re-import is idempotent: counts unchanged).
    for (format, extra) in [
        ("json", vec![]),
        ("csv", vec![]),
        ("emqx", vec!["--batch", "lines"]),
    ] {
        let out = dir.join(&format!("export.{format}"));
        ok(&export(
            &[
                "--from",
                &url,
                "--store-password-env",
                "STORE_PW",
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
            ]
            .into_iter()
            .chain(extra.iter().copied())
            .collect::<Vec<_>>(),
        ));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("u999"), "{format}");
        if format != "emqx" {
            // emqx bodies carry no iteration count: a re-import would take 4096.
            ok(&import(&[
                "--to",
                &url,
                "--store-password-env",
                "STORE_PW",
                "--records",
                out.to_str().unwrap(),
            ]));
        }
    }
    assert_eq!(
        cluster
            .admin_sql("SELECT count(*) FROM mqtt_scram_users")
            .trim(),
        "2003"
    );
    // postgres verifiers: SHA-256 only, so SHA-512 records are refused.
    let o = export(&[
        "--from",
        &url,
        "--store-password-env",
        "STORE_PW",
        "--format",
        "postgres",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = ok(&export(&[
        "--from",
        &url,
        "--store-password-env",
        "STORE_PW",
        "--format",
        "postgres",
        "-m",
        "sha256",
        "--batch",
        "lines",
    ]));
    assert_eq!(o.lines().count(), 1003);
    assert!(o.contains("\"verifier\":\"SCRAM-SHA-256$16:"), "{o}");
    assert!(
        logs_in(&server, &provider, Mechanism::ScramSha256, "u7", "pw-u7")
            .await
            .is_accepted()
    );
}

trait Accepted {
    fn is_accepted(&self) -> bool;
}

impl Accepted for Outcome {
    fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted { .. })
    }
}

#[test]
fn a_bad_row_stops_the_import_before_anything_is_written() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.set_password("postgres", DB_PASSWORD);
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let dir = TempDir::new("import-bad");
    let mut csv = String::from("username,password\n");
    for i in 0..500 {
        csv.push_str(&format!("good{i},pw{i}\n"));
    }
    csv.push_str("bad,\n");
    let path = dir.write("bad.csv", &csv);
    let o = import(&[
        "--to",
        &url,
        "--store-password-env",
        "STORE_PW",
        "--create-table",
        "-i",
        "16",
        "--allow-weak",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("line 502"), "{}", stderr(&o));
    // Not even the table was created.
    assert_eq!(
        cluster
            .admin_sql("SELECT count(*) FROM pg_tables WHERE tablename = 'mqtt_scram_users'")
            .trim(),
        "0"
    );
    // Records: a bad one and a duplicate are named.
    let record = gen_user("r1", "pw", &["-i", "4096"]);
    let bad = dir.write(
        "bad.jsonl",
        &format!("{}\n{{\"username\":\"x\"}}\n", record.trim()),
    );
    let o = import(&[
        "--to",
        &url,
        "--store-password-env",
        "STORE_PW",
        "--create-table",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    let dup = dir.write(
        "dup.jsonl",
        &format!("{}\n{}\n", record.trim(), record.trim()),
    );
    let o = import(&[
        "--to",
        &url,
        "--store-password-env",
        "STORE_PW",
        "--create-table",
        dup.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("second"), "{}", stderr(&o));
    assert_eq!(
        cluster
            .admin_sql("SELECT count(*) FROM pg_tables WHERE tablename = 'mqtt_scram_users'")
            .trim(),
        "0"
    );
    // A store that is down: exit 4, the password is not echoed.
    let o = import(&[
        "--to",
        &format!("postgres://postgres:{DB_PASSWORD}@127.0.0.1:1/postgres"),
        "--records",
        dir.write("one.json", &record).to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(!stderr(&o).contains(DB_PASSWORD), "{}", stderr(&o));
}

#[test]
fn print_schema_is_accepted_by_postgres() {
    let schema = ok(&run(
        &["import", "--print-schema", "--table", "auth.users"],
        "",
    ));
    assert!(schema.contains("CREATE TABLE IF NOT EXISTS auth.users"));
    assert_eq!(
        code(&run(&["import", "--print-schema", "--table", "x;y"], "")),
        2
    );
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.admin_sql("CREATE SCHEMA auth");
    cluster.admin_sql(&schema);
    cluster.admin_sql(&schema); // idempotent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_import_idempotent_and_export_round_trip() {
    let Some(redis) = mqtt_scram_testkit::redis::Single::start() else {
        return;
    };
    let url = redis.server.url();
    let dir = TempDir::new("import-redis");
    let csv = passwords_csv(&dir, 200, "r");
    ok(&import(&[
        "--to",
        &url,
        "-m",
        "sha512",
        "-i",
        "16",
        "--allow-weak",
        csv.to_str().unwrap(),
    ]));
    ok(&import(&[
        "--to",
        &url,
        "-m",
        "sha512",
        "-i",
        "16",
        "--allow-weak",
        csv.to_str().unwrap(),
    ]));
    assert_eq!(redis.server.cli(&["DBSIZE"]).trim(), "200");
    // A changed password replaces the stored one.
    let changed = dir.write("changed.csv", "r5,new-password\n");
    ok(&import(&[
        "--to",
        &url,
        "-m",
        "sha512",
        "-i",
        "16",
        "--allow-weak",
        changed.to_str().unwrap(),
    ]));
    let provider = RedisProvider::new(RedisConfig::from_url(&url).unwrap()).unwrap();
    let server = server();
    assert!(
        logs_in(
            &server,
            &provider,
            Mechanism::ScramSha512,
            "r5",
            "new-password"
        )
        .await
        .is_accepted()
    );
    assert!(
        !logs_in(&server, &provider, Mechanism::ScramSha512, "r5", "pw-r5")
            .await
            .is_accepted()
    );
    assert!(
        logs_in(&server, &provider, Mechanism::ScramSha512, "r0", "pw-r0")
            .await
            .is_accepted()
    );
    // Export as CSV, import into a second prefix, every user is there.
    let out = dir.join("redis.csv");
    ok(&export(&[
        "--from",
        &url,
        "--format",
        "csv",
        "-o",
        out.to_str().unwrap(),
    ]));
    ok(&import(&[
        "--to",
        &url,
        "--key-prefix",
        "copy",
        out.to_str().unwrap(),
    ]));
    assert_eq!(redis.server.cli(&["DBSIZE"]).trim(), "400");
    let copy = RedisProvider::new(RedisConfig::from_url(&url).unwrap().key_prefix("copy")).unwrap();
    assert!(found(&copy, "r199", Mechanism::ScramSha512).await);
    assert!(
        logs_in(&server, &copy, Mechanism::ScramSha512, "r5", "new-password")
            .await
            .is_accepted()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_1000_users_from_passwords_all_authenticate() {
    let Some(cluster) = mqtt_scram_testkit::redis::Cluster::start() else {
        return;
    };
    let dir = TempDir::new("import-cluster");
    let csv = passwords_csv(&dir, 1000, "c");
    ok(&import(&[
        "--to",
        &cluster.url(),
        "-i",
        "16",
        "--allow-weak",
        csv.to_str().unwrap(),
    ]));
    let per_node = cluster.keys_per_node();
    assert!(per_node.iter().all(|n| *n > 200), "{per_node:?}");
    let provider = RedisProvider::new(RedisConfig::from_url(&cluster.url()).unwrap()).unwrap();
    let server = server();
    for i in 0..1000 {
        let user = format!("c{i}");
        assert!(
            logs_in(
                &server,
                &provider,
                Mechanism::ScramSha256,
                &user,
                &format!("pw-{user}")
            )
            .await
            .is_accepted(),
            "{user}"
        );
    }
    let out = ok(&export(&[
        "--from",
        &cluster.url(),
        "--format",
        "json",
        "--batch",
        "lines",
    ]));
    assert_eq!(out.lines().count(), 1000);
}
