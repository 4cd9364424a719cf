//! The chain Mosquitto → service → PostgreSQL: the Mosquitto plugin's HTTP store
//! (`plugin_opt_store http://…`, EMQX 5 SCRAM contract) points at the service, the service
//! reads a real PostgreSQL filled by `mqtt-scram import`, and a real client
//! (`mqtt-scram probe`) logs in with SCRAM — and is refused with a wrong password or as an
//! unknown user.
//!
//! Needs PostgreSQL and Mosquitto (`scripts/test` installs them); without them the test
//! fails unless `MQTT_SCRAM_SKIP_MISSING_PEERS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use mqtt_scram_testkit::mosquitto::{Config, Mosquitto};
use mqtt_scram_testkit::postgres::Cluster;
use mqtt_scram_testkit::{TempDir, check, workspace_bin};

const DB_PASSWORD: &str = "chain-db-pw";

/// The Mosquitto plugin (cdylib), built in this test's profile.
fn plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "mqtt-scram-mosquitto", "--lib"]);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        cmd.arg("--release");
    }
    assert!(
        cmd.status().unwrap().success(),
        "building the plugin failed"
    );
    let path = profile_dir.join("libmqtt_scram_mosquitto.so");
    assert!(path.exists(), "{} is missing", path.display());
    path
}

fn probe(cli: &PathBuf, addr: std::net::SocketAddr, user: &str, password: &str) -> Output {
    Command::new(cli)
        .args([
            "probe",
            &addr.to_string(),
            "--user",
            user,
            "--password-env",
            "PROBE_PW",
        ])
        .env("PROBE_PW", password)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_to_service_to_postgres() {
    if !mqtt_scram_testkit::peer::require(mqtt_scram_testkit::mosquitto::available(), "Mosquitto") {
        return;
    }
    let Some(cluster) = Cluster::start() else {
        return;
    };
    cluster.set_password("postgres", DB_PASSWORD);
    let url = format!(
        "postgres://postgres:{DB_PASSWORD}@127.0.0.1:{}/postgres",
        cluster.port
    );
    let dir = TempDir::new("service-chain");
    let csv = dir.write("passwords.csv", "username,password\nalice,pencil\n");
    let cli = workspace_bin("mqtt-scram-cli", "mqtt-scram");
    let out = Command::new(&cli)
        .args(["import", "--to", &url, "--create-table"])
        .arg(&csv)
        .output()
        .unwrap();
    check(&out, "mqtt-scram import");

    let service = support::start(&format!("store = {url:?}\n[emqx5]\n")).await;

    let key = dir.write("mock.key", &format!("{}\n", "5a".repeat(32)));
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let plugin = tokio::task::spawn_blocking(plugin).await.unwrap();
    // A cache in front of the HTTP store, as the plugin's README recommends for remote
    // stores: a lookup slower than the broker's lookup budget finishes in the background and
    // the next attempt is answered from the cache.
    let store_config = dir.write(
        "store.json",
        &serde_json::json!({
            "kind": "cached",
            "inner": {
                "kind": "http",
                "url": format!("http://{}/emqx5/scram", service.addr),
                "method": "get",
                "body": {"username": "${username}"},
                "not_found_status": [404],
            }
        })
        .to_string(),
    );
    let config = Config::with_plugin(plugin)
        .option("store_config", store_config.display())
        .option("lookup_budget", "100ms")
        .option("mock_key_file", key.display());
    let broker = tokio::task::spawn_blocking(move || Mosquitto::start(&config))
        .await
        .unwrap();
    let Some(broker) = broker else {
        return;
    };
    let addr = broker.addr();

    // The first login of a user may miss the lookup budget (a new PostgreSQL connection in
    // a debug build); the cache answers the next one. A bounded number of tries, not a timer.
    let mut ok = None;
    for _ in 0..20 {
        let cli = cli.clone();
        let out = tokio::task::spawn_blocking(move || probe(&cli, addr, "alice", "pencil"))
            .await
            .unwrap();
        if out.status.success() {
            ok = Some(out);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        ok.is_some(),
        "SCRAM login through Mosquitto → service → PostgreSQL never succeeded:\n{}",
        broker.log()
    );
    let cli2 = cli.clone();
    let (wrong, unknown) = tokio::task::spawn_blocking(move || {
        (
            probe(&cli2, addr, "alice", "wrong"),
            probe(&cli2, addr, "mallory", "pencil"),
        )
    })
    .await
    .unwrap();
    let log = broker.log();
    assert_eq!(
        wrong.status.code(),
        Some(1),
        "wrong password: {}\n{log}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert_eq!(
        unknown.status.code(),
        Some(1),
        "unknown user: {}\n{log}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    service.stop().await;
}
