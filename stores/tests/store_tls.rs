//! TLS to the stores is verified unless the operator says otherwise (issue 20 §4), against
//! a real PostgreSQL (`ssl = on`) and a real Redis (`tls-port`) with the testkit's
//! throw-away PKI: a wrong host name, an unknown CA and an expired certificate are refused
//! with the store and the reason named; a server without TLS is never talked to in
//! plaintext when TLS is required; the `dangerous` settings work and WARN.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "support/remote.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqtt_scram::provider::{IgnoreKind, Lookup};
use mqtt_scram::{HashAlgorithm, Mechanism};
use mqtt_scram_stores::postgres::{PostgresConfig, PostgresProvider, PostgresWriter};
use mqtt_scram_stores::redis::{RedisConfig, RedisMode, RedisProvider, RedisWriter};
use mqtt_scram_stores::remote::TlsSettings;
use mqtt_scram_testkit::postgres::{Cluster, expired_tls_files, tls_files};
use mqtt_scram_testkit::redis::Single;

use support::*;

const PASSWORD: &str = "db-secret-pw";

/// The WARN (and higher) messages logged while `f` runs on this thread.
fn warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let subscriber = Warnings(Arc::clone(&seen));
    let out = tracing::subscriber::with_default(subscriber, f);
    let seen = seen.lock().unwrap().clone();
    (out, seen)
}

struct Warnings(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = String::new();
        event.record(&mut Message(&mut text));
        self.0.lock().unwrap().push(text);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A key=value connection string to the cluster on 127.0.0.1 under the host name `host`
/// (`hostaddr` does the connecting; `host` is what TLS checks and what decides loopback).
fn conninfo(cluster: &Cluster, host: &str, extra: &str) -> String {
    format!(
        "host={host} hostaddr=127.0.0.1 port={} user=postgres password={PASSWORD} dbname=postgres {extra}",
        cluster.port
    )
}

fn pg(url: String, tls: TlsSettings) -> Result<PostgresProvider, String> {
    PostgresProvider::new(
        PostgresConfig::new(url)
            .tls(tls)
            .lookup_deadline(Duration::from_secs(5)),
    )
    .map_err(|e| e.to_string())
}

/// The lookup is ignored as unavailable; returns the logged reason.
async fn refused(provider: &impl mqtt_scram::provider::CredentialProvider) -> String {
    let lookup = lookup(provider, "user-0", Mechanism::ScramSha256).await;
    let (kind, detail) = ignored(&lookup);
    assert_eq!(kind, IgnoreKind::Unavailable, "{detail}");
    detail
}

async fn found(provider: &impl mqtt_scram::provider::CredentialProvider) {
    let lookup = lookup(provider, "user-0", Mechanism::ScramSha256).await;
    assert!(matches!(lookup, Lookup::Found(_)), "{lookup:?}");
}

#[tokio::test]
async fn postgres_tls_is_verified_unless_dangerous() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.set_password("postgres", PASSWORD);
    // Loopback: plaintext by default, as before (and no WARN).
    let (local, warned) =
        warnings(|| pg(cluster.url("postgres", PASSWORD), TlsSettings::default()));
    assert!(warned.is_empty(), "{warned:?}");
    local.unwrap();
    let mut writer =
        PostgresWriter::connect(&PostgresConfig::new(cluster.url("postgres", PASSWORD)))
            .await
            .unwrap();
    writer.create_schema().await.unwrap();
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    writer.write_all(&stored(&users), 10, |_| {}).await.unwrap();

    // A host that is not loopback gets verified TLS by default: the server has no TLS yet,
    // so the lookup fails (pg_hba would let a plaintext login in: it did not happen).
    let remote = pg(conninfo(&cluster, "db.example", ""), TlsSettings::default()).unwrap();
    let detail = refused(&remote).await;
    assert!(detail.starts_with("postgres "), "{detail}");
    assert!(detail.contains("TLS"), "{detail}");
    // libpq's weaker modes need the `dangerous` setting named in the error.
    for (mode, setting) in [
        ("disable", "tls.dangerous_plaintext"),
        ("prefer", "tls.dangerous_plaintext"),
        ("require", "tls.dangerous_accept_invalid_certs"),
    ] {
        let url = conninfo(&cluster, "db.example", &format!("sslmode={mode}"));
        let e = pg(url, TlsSettings::default()).unwrap_err();
        assert!(
            e.starts_with("postgres.") && e.contains(setting) && !e.contains(PASSWORD),
            "{e}"
        );
    }
    // With it, plaintext works, and says so once at start-up.
    let (plain, warned) = warnings(|| {
        pg(
            conninfo(&cluster, "db.example", "sslmode=disable"),
            TlsSettings::default().dangerous_plaintext(true),
        )
    });
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("dangerous_plaintext"), "{warned:?}");
    found(&plain.unwrap()).await;

    let files = cluster.enable_tls(); // for 127.0.0.1 and localhost
    let trusted = || TlsSettings::default().ca_file(&files.ca);
    // Verified TLS by name (loopback asks for it with sslmode=verify-full).
    let url = format!(
        "postgres://postgres:{PASSWORD}@localhost:{}/postgres?sslmode=verify-full",
        cluster.port
    );
    found(&pg(url.clone(), trusted()).unwrap()).await;
    let ssl = cluster.admin_sql("SELECT count(*) FROM pg_stat_ssl WHERE ssl");
    assert!(ssl.trim().parse::<u32>().unwrap() >= 1, "{ssl}");
    // sslrootcert in the URL is the CA file too.
    let with_root = format!("{url}&sslrootcert={}", files.ca.display());
    found(&pg(with_root, TlsSettings::default()).unwrap()).await;

    // Wrong host name.
    let wrong_name = pg(conninfo(&cluster, "db.example", ""), trusted()).unwrap();
    let detail = refused(&wrong_name).await;
    assert!(
        detail.starts_with("postgres ") && detail.contains("not valid for name \"db.example\""),
        "{detail}"
    );
    // Unknown CA.
    let other_dir = mqtt_scram_testkit::TempDir::new("pg-other-ca");
    let other = tls_files(other_dir.path(), &["127.0.0.1", "localhost"]);
    let unknown_ca = pg(url.clone(), TlsSettings::default().ca_file(&other.ca)).unwrap();
    let detail = refused(&unknown_ca).await;
    assert!(detail.contains("invalid peer certificate"), "{detail}");
    // Accepted only with dangerous_accept_invalid_certs, with a WARN.
    let (any, warned) = warnings(|| {
        pg(
            conninfo(&cluster, "db.example", "sslmode=require"),
            TlsSettings::default().dangerous_accept_invalid_certs(true),
        )
    });
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("dangerous_accept_invalid_certs"),
        "{warned:?}"
    );
    found(&any.unwrap()).await;

    // Expired certificate (from the trusted CA's successor: a fresh PKI, expired).
    let expired_dir = mqtt_scram_testkit::TempDir::new("pg-expired");
    let expired = expired_tls_files(expired_dir.path(), &["127.0.0.1", "localhost"]);
    cluster.use_tls_files(&expired);
    let stale = pg(url, TlsSettings::default().ca_file(&expired.ca)).unwrap();
    let detail = refused(&stale).await;
    assert!(detail.contains("certificate expired"), "{detail}");
}

fn redis_config(url: &str, tls: TlsSettings) -> RedisConfig {
    RedisConfig::from_url(url)
        .unwrap()
        .tls(tls)
        .lookup_deadline(Duration::from_secs(3))
}

/// A Redis with a plain port and a TLS port serving `files`.
fn tls_redis(files: &mqtt_scram_testkit::postgres::TlsFiles) -> Option<(Single, u16)> {
    let tls_port = mqtt_scram_testkit::free_port();
    let port = tls_port.to_string();
    let redis = Single::start_with(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        files.server_cert.to_str().unwrap(),
        "--tls-key-file",
        files.server_key.to_str().unwrap(),
        "--tls-ca-cert-file",
        files.ca.to_str().unwrap(),
        "--tls-auth-clients",
        "no",
    ])?;
    Some((redis, tls_port))
}

#[tokio::test]
async fn redis_tls_is_verified_unless_dangerous() {
    if !mqtt_scram_testkit::redis::available() {
        return;
    }
    let dir = mqtt_scram_testkit::TempDir::new("redis-tls-policy");
    // A certificate for `localhost` only: 127.0.0.1 is then the wrong name.
    let files = tls_files(&dir.path().join("good"), &["localhost"]);
    let Some((redis, tls_port)) = tls_redis(&files) else {
        return;
    };
    let users = users(1, HashAlgorithm::Sha256, LOW_ITERATIONS);
    let writer = RedisWriter::connect(&redis_config(&redis.server.url(), TlsSettings::default()))
        .await
        .unwrap();
    writer.write_all(&stored(&users), 10, |_| {}).await.unwrap();
    let trusted = || TlsSettings::default().ca_file(&files.ca);

    let by_name = format!("rediss://localhost:{tls_port}");
    found(&RedisProvider::new(redis_config(&by_name, trusted())).unwrap()).await;
    // Wrong host name.
    let by_ip = format!("rediss://127.0.0.1:{tls_port}");
    let detail = refused(&RedisProvider::new(redis_config(&by_ip, trusted())).unwrap()).await;
    assert!(
        detail.starts_with("redis ") && detail.contains("not valid for name"),
        "{detail}"
    );
    // Unknown CA.
    let other = tls_files(&dir.path().join("other"), &["localhost"]);
    let untrusted = TlsSettings::default().ca_file(&other.ca);
    let detail = refused(&RedisProvider::new(redis_config(&by_name, untrusted)).unwrap()).await;
    // UnknownIssuer, or BadSignature when the other CA has the same name as the real one.
    assert!(detail.contains("invalid peer certificate"), "{detail}");
    // A server without TLS behind a rediss:// URL: an error (Redis waits for the rest of
    // what it takes for an inline command, so it is usually the deadline), never plaintext.
    let downgrade = format!("rediss://localhost:{}", redis.server.port);
    let config = redis_config(&downgrade, trusted()).lookup_deadline(Duration::from_secs(1));
    let lookup = lookup(
        &RedisProvider::new(config).unwrap(),
        "user-0",
        Mechanism::ScramSha256,
    )
    .await;
    let (kind, detail) = ignored(&lookup);
    assert!(
        matches!(kind, IgnoreKind::Unavailable | IgnoreKind::Timeout),
        "{detail}"
    );
    assert!(detail.starts_with("redis "), "{detail}");

    // The redis crate's #insecure only with the dangerous setting.
    let insecure = format!("{by_ip}/#insecure");
    let e = RedisProvider::new(redis_config(&insecure, trusted()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("redis.tls.dangerous_accept_invalid_certs"),
        "{e}"
    );
    let (any, warned) = warnings(|| {
        RedisProvider::new(redis_config(
            &by_ip,
            TlsSettings::default().dangerous_accept_invalid_certs(true),
        ))
    });
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("dangerous_accept_invalid_certs"),
        "{warned:?}"
    );
    found(&any.unwrap()).await;

    // Plaintext to a host that is not loopback only with dangerous_plaintext.
    let e = RedisProvider::new(RedisConfig::new(
        RedisMode::Single,
        ["redis://:pw-123@db.example:6379"],
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("redis.tls.dangerous_plaintext") && !e.contains("pw-123"),
        "{e}"
    );
    let (built, warned) = warnings(|| {
        RedisProvider::new(
            RedisConfig::new(
                RedisMode::Cluster,
                ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"],
            )
            .tls(TlsSettings::default().dangerous_plaintext(true)),
        )
    });
    assert!(built.is_ok());
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("dangerous_plaintext"), "{warned:?}");

    // Expired certificate.
    let expired = expired_tls_files(&dir.path().join("expired"), &["localhost"]);
    let Some((_stale_redis, stale_port)) = tls_redis(&expired) else {
        return;
    };
    let stale = format!("rediss://localhost:{stale_port}");
    let detail = refused(
        &RedisProvider::new(redis_config(
            &stale,
            TlsSettings::default().ca_file(&expired.ca),
        ))
        .unwrap(),
    )
    .await;
    assert!(detail.contains("certificate expired"), "{detail}");
}
