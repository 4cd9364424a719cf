//! The HTTP provider, `mqtt-scram gen` and `probe`, and the command line.

use super::*;
use mqtt_scram_testkit::probe::{self as testkit_probe, comparable};
use mqtt_scram_testkit::process;

// ---------------------------------------------------------------------------------------
// The HTTP provider (feature `http`) behind the cache, as `--http-config` wires it
// ---------------------------------------------------------------------------------------

/// A one-route HTTP/1.1 service speaking the EMQX SCRAM contract: `alice` gets her record
/// (hex), anyone else `{"result":"deny"}`. Counts requests.
#[cfg(feature = "http")]
async fn emqx_like_service(alice: UserRecord) -> (SocketAddr, std::sync::Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = std::sync::Arc::new(AtomicU32::new(0));
    let counter = std::sync::Arc::clone(&hits);
    let hex = alice.credentials.to_emqx_hex();
    let found = format!(
        r#"{{"result":"allow","salt":"{}","stored_key":"{}","server_key":"{}","iteration_count":4096,"is_superuser":true}}"#,
        hex.salt, hex.stored_key, hex.server_key
    );
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = std::sync::Arc::clone(&counter);
            let found = found.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < end + 4 + len {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Value = serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap();
                    buf.drain(..end + 4 + len);
                    counter.fetch_add(1, Ordering::SeqCst);
                    let answer = if body["username"] == "alice" {
                        found.clone()
                    } else {
                        r#"{"result":"deny"}"#.into()
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if socket.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, hits)
}

#[cfg(feature = "http")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_provider_behind_the_cache() {
    use mqtt_scram_stores::http::HttpConfig;

    let (service, hits) = emqx_like_service(record(HashAlgorithm::Sha256, PASSWORD, 4096)).await;
    let dir = scratch_dir("http");
    let config = HttpConfig::new(format!("http://{service}/scram"))
        .param("username", "${username}")
        .param("mechanism", "${mechanism}");
    let config_file = dir.join("http.json");
    std::fs::write(&config_file, serde_json::to_string(&config).unwrap()).unwrap();
    let provider = Provider::from_http_config(
        &config_file,
        Duration::from_secs(60),
        Duration::from_secs(60),
    )
    .unwrap();
    let h = Harness::start(Options {
        provider: Some(provider),
        ..Options::default()
    })
    .await;
    let config = ClientConfig::new();
    for _ in 0..2 {
        let mut conn = Conn::open(h.tcp()).await;
        alice_logs_in(&mut conn, &config, Mechanism::ScramSha256).await;
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the second login is served from the cache"
    );
    for _ in 0..2 {
        let mut conn = Conn::open(h.tcp()).await;
        let failed = scram_login(&mut conn, &config, Mechanism::ScramSha256, "mallory", "x").await;
        assert_eq!(
            failed.expect_err("unknown user"),
            (0x87, Some("e=invalid-proof".into()))
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "negative answers are cached too"
    );
    let mut conn = Conn::open(h.tcp()).await;
    let failed = scram_login(&mut conn, &config, Mechanism::ScramSha256, "alice", "wrong").await;
    assert_eq!(failed.expect_err("wrong password").0, 0x87);
    drop(conn);
    h.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// 4. `mqtt-scram probe` (feature `cli`) against the broker
// ---------------------------------------------------------------------------------------

/// `mqtt-scram probe --json` against the in-process broker (blocking, off the runtime's
/// worker); returns (exit code, report).
fn probe(target: SocketAddr, password: &str, extra: &[&str]) -> (i32, Value) {
    tokio::task::block_in_place(|| testkit_probe::run(&target.to_string(), password, extra))
}

/// What `mqtt-scram gen --format json` writes is what `--credentials` reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_from_mqtt_scram_gen_load_into_the_broker() {
    let mut lines = String::new();
    for hash in ["sha256", "sha512"] {
        let mut command = std::process::Command::new(mqtt_scram_bin());
        command.args([
            "gen",
            "--user",
            "carol",
            "-m",
            hash,
            "--password-stdin",
            "--format",
            "json",
        ]);
        let stdin = format!("{PASSWORD}\n");
        let out = tokio::task::block_in_place(|| {
            process::output_within(
                &mut command,
                Some(stdin.as_bytes()),
                Duration::from_secs(60),
            )
        });
        mqtt_scram_testkit::check(&out, "mqtt-scram gen");
        lines.push_str(&String::from_utf8(out.stdout).unwrap());
        lines.push('\n');
    }
    let dir = scratch_dir("gen");
    let file = dir.join("carol.json");
    std::fs::write(&file, lines).unwrap();
    let provider = Provider::from_record_file(&file).unwrap();
    let h = Harness::start(Options {
        provider: Some(provider),
        ..Options::default()
    })
    .await;
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let mut conn = Conn::open(h.tcp()).await;
        scram_login(
            &mut conn,
            &ClientConfig::new(),
            mechanism,
            "carol",
            PASSWORD,
        )
        .await
        .unwrap();
    }
    h.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_scram_probe_against_the_broker() {
    let h = Harness::start(Options::default()).await;
    let (code, report) = probe(h.tcp(), PASSWORD, &["-u", "alice", "--reauth"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["result"], "accepted");
    assert_eq!(report["connack"]["reason_code"], 0);
    assert_eq!(report["server_signature_verified"], true);
    assert_eq!(report["reauthenticated"], true);
    assert_eq!(report["reauth_server_signature_verified"], true);

    let (code, report) = probe(h.tcp(), PASSWORD, &["-u", "alice", "-m", "sha512"]);
    assert_eq!(
        (code, &report["mechanism"]),
        (0, &Value::from("SCRAM-SHA-512")),
        "{report}"
    );

    // Wrong password and unknown user: the same visible result, step by step.
    let (wrong_code, wrong) = probe(h.tcp(), "not-the-password", &["-u", "alice"]);
    // (same name length, so even the CONNECT size matches)
    let (unknown_code, unknown) = probe(h.tcp(), PASSWORD, &["-u", "bobby"]);
    assert_eq!((wrong_code, unknown_code), (1, 1));
    assert_eq!(wrong["result"], "rejected");
    assert_eq!(wrong["connack"]["reason_code"], 0x87);
    assert_eq!(comparable(wrong), comparable(unknown));

    // Over TLS, trusting the generated certificate (-PLUS: the next test).
    let cert = h.cert_file.to_str().unwrap().to_string();
    let tls_args = [
        "-u",
        "alice",
        "--tls",
        "--ca",
        &cert,
        "--server-name",
        "localhost",
    ];
    let (code, report) = probe(h.tls(), PASSWORD, &tls_args);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["server_signature_verified"], true);
    let stats = h.finish().await;
    assert_eq!(
        (stats.auth_accepted, stats.auth_rejected),
        (3, 2),
        "{stats:?}"
    );
}

/// `probe --tls --plus`: SCRAM-SHA-256/512-PLUS with the `tls-exporter` channel binding
/// (RFC 9266) the broker computes on its side of the TLS 1.3 connection; the re-authentication
/// is bound to the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_scram_probe_plus_against_the_broker_tls() {
    let h = Harness::start(Options::default()).await;
    let cert = h.cert_file.to_str().unwrap().to_string();
    let tls_args = [
        "-u",
        "alice",
        "--tls",
        "--plus",
        "--ca",
        &cert,
        "--server-name",
        "localhost",
        "--reauth",
    ];
    let (code, report) = probe(h.tls(), PASSWORD, &tls_args);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["result"], "accepted");
    assert_eq!(report["mechanism"], "SCRAM-SHA-256-PLUS");
    assert_eq!(report["channel_binding"], "tls-exporter");
    assert_eq!(report["tls_version"], "TLSv1_3");
    assert_eq!(report["server_signature_verified"], true);
    assert_eq!(report["reauthenticated"], true);
    assert_eq!(report["reauth_server_signature_verified"], true);

    let mut args = tls_args.to_vec();
    args.extend(["-m", "sha512"]);
    let (code, report) = probe(h.tls(), PASSWORD, &args);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["mechanism"], "SCRAM-SHA-512-PLUS");
    assert_eq!(report["channel_binding"], "tls-exporter");
    assert_eq!(report["reauth_server_signature_verified"], true);

    // A wrong password is still a rejection (not a binding failure).
    let (code, report) = probe(h.tls(), "not-the-password", &tls_args);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["connack"]["reason_code"], 0x87);
    let stats = h.finish().await;
    assert_eq!(
        (
            stats.auth_accepted,
            stats.auth_rejected,
            stats.reauth_accepted
        ),
        (2, 1, 2),
        "{stats:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The command line (examples/broker/config.rs) and TLS from PEM files
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_options_and_pem_files_start_a_working_broker() {
    use broker::config::Args;
    use clap::Parser;

    let dir = scratch_dir("cli");
    let users = dir.join("users.json");
    let mut lines = String::new();
    for (name, rec) in default_users() {
        lines.push_str(&serde_json::to_string(&CredentialRecord::new(&name, &rec)).unwrap());
        lines.push('\n');
    }
    std::fs::write(&users, lines).unwrap();
    let key_file = dir.join("mock.key");
    std::fs::write(&key_file, "11".repeat(32)).unwrap();
    {
        // The broker refuses a mock key file others can read (MockKey::from_file).
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_pem, generated.cert.pem()).unwrap();
    std::fs::write(&key_pem, generated.signing_key.serialize_pem()).unwrap();
    let path = |p: &PathBuf| p.to_str().unwrap().to_string();

    let args = Args::try_parse_from([
        "broker",
        "--credentials",
        &path(&users),
        "--tcp",
        "127.0.0.1:0",
        "--tls",
        "127.0.0.1:0",
        "--tls-cert",
        &path(&cert_pem),
        "--tls-key",
        &path(&key_pem),
        "--mock-key-file",
        &path(&key_file),
        "--mechanisms",
        "SCRAM-SHA-512,SCRAM-SHA-512-PLUS",
        "--max-handshakes",
        "7",
    ])
    .unwrap();
    let (settings, _) = args.into_settings().unwrap();
    assert_eq!(settings.admission.max_handshakes, 7);
    let broker = Broker::start(settings).await.unwrap();
    let config = ClientConfig::new();
    let mut conn = Conn::open(broker.tcp_addr().unwrap()).await;
    alice_logs_in(&mut conn, &config, Mechanism::ScramSha512).await;
    drop(conn);
    // Only the configured mechanisms are offered.
    let mut conn = Conn::open(broker.tcp_addr().unwrap()).await;
    let refused = scram_login(
        &mut conn,
        &config,
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
    )
    .await;
    assert_eq!(refused.expect_err("not offered").0, 0x8C);
    drop(conn);
    // TLS from the PEM files, with -PLUS.
    let (mut conn, binding) = Conn::open_tls(broker.tls_addr().unwrap(), &cert_pem, false).await;
    let options = client::ClientOptions::new().channel_binding(Some(&binding));
    scram_login_with(
        &mut conn,
        &config,
        Mechanism::ScramSha512Plus,
        "alice",
        PASSWORD,
        options,
    )
    .await
    .unwrap();
    drop(conn);
    assert!(broker.wait_idle(Duration::from_secs(10)).await);
    assert_eq!(
        broker
            .shutdown(Duration::from_secs(5))
            .await
            .handshakes_in_flight,
        0
    );

    // The same broker from one configuration file (TOML), as the README shows it.
    let config_file = dir.join("broker.toml");
    std::fs::write(
        &config_file,
        format!(
            r#"
name = "from-file"
credentials = "{users}"

[listeners]
tcp = "127.0.0.1:0"
metrics = "127.0.0.1:0"

[scram]
mechanisms = ["SCRAM-SHA-256"]
mock_key_file = "{key}"
handshake_timeout = "20s"

[admission]
max_handshakes_per_address = 8
first_step_timeout = "5s"

[limits]
lookup_timeout = "2s"
"#,
            users = path(&users),
            key = path(&key_file),
        ),
    )
    .unwrap();
    let args = Args::try_parse_from(["broker", "--config", &path(&config_file)]).unwrap();
    let (settings, _) = args.into_settings().unwrap();
    assert_eq!(settings.admission.max_handshakes_per_address, 8);
    assert_eq!(settings.limits.provider_timeout, Duration::from_secs(2));
    assert_eq!(settings.scram.timeout(), Duration::from_secs(20));
    // Command-line options override the file's `[scram]` and `[limits]` one by one (even
    // when they give the default value), and a mock key file keeps the rest of `[scram]`.
    let limits_file = dir.join("limits.toml");
    std::fs::write(
        &limits_file,
        std::fs::read_to_string(&config_file).unwrap()
            + "max_connections = 5\nmax_packet_size = 1024\n",
    )
    .unwrap();
    let overridden = Args::try_parse_from([
        "broker",
        "--config",
        &path(&limits_file),
        "--mechanisms",
        "SCRAM-SHA-512",
        "--handshake-timeout",
        "7",
        "--max-connections",
        "10000",
        "--max-packet-size",
        "65536",
    ])
    .unwrap();
    let (o, _) = overridden.into_settings().unwrap();
    assert_eq!(o.scram.offered_mechanisms(), [Mechanism::ScramSha512]);
    assert_eq!(o.scram.timeout(), Duration::from_secs(7));
    assert_eq!(o.limits.max_connections, 10_000);
    assert_eq!(o.limits.max_packet_size, 65_536);
    assert_eq!(o.admission.max_handshakes_per_address, 8);
    let from_file = Args::try_parse_from(["broker", "--config", &path(&limits_file)]).unwrap();
    let (f, _) = from_file.into_settings().unwrap();
    assert_eq!(f.limits.max_connections, 5);
    assert_eq!(f.limits.max_packet_size, 1024);
    assert_eq!(f.scram.offered_mechanisms(), [Mechanism::ScramSha256]);
    let with_key = Args::try_parse_from([
        "broker",
        "--config",
        &path(&config_file),
        "--mock-key-file",
        &path(&key_file),
    ])
    .unwrap();
    let (k, _) = with_key.into_settings().unwrap();
    assert_eq!(k.scram.offered_mechanisms(), [Mechanism::ScramSha256]);
    assert_eq!(k.scram.timeout(), Duration::from_secs(20));
    let broker = Broker::start(settings).await.unwrap();
    assert!(broker.metrics_addr().is_some());
    let mut conn = Conn::open(broker.tcp_addr().unwrap()).await;
    alice_logs_in(&mut conn, &config, Mechanism::ScramSha256).await;
    drop(conn);
    assert!(broker.wait_idle(Duration::from_secs(10)).await);
    broker.shutdown(Duration::from_secs(5)).await;
    // Any store of mqtt-scram-stores through `[store]` (here the file store).
    std::fs::write(
        &config_file,
        format!(
            "[listeners]\ntcp = \"127.0.0.1:0\"\n[scram]\nmock_key_file = \"{}\"\n[store]\nkind = \"file\"\npath = \"{}\"\n",
            path(&key_file),
            path(&users)
        ),
    )
    .unwrap();
    let args = Args::try_parse_from(["broker", "--config", &path(&config_file)]).unwrap();
    let (settings, _) = args.into_settings().unwrap();
    let broker = Broker::start(settings).await.unwrap();
    let mut conn = Conn::open(broker.tcp_addr().unwrap()).await;
    alice_logs_in(&mut conn, &config, Mechanism::ScramSha512).await;
    drop(conn);
    assert!(broker.wait_idle(Duration::from_secs(10)).await);
    broker.shutdown(Duration::from_secs(5)).await;
    // A misspelt key is refused, naming it.
    std::fs::write(
        &config_file,
        "[admission]
max_handshake = 1
",
    )
    .unwrap();
    let args = Args::try_parse_from(["broker", "--config", &path(&config_file)]).unwrap();
    let error = args.into_settings().err().unwrap();
    assert!(error.contains("max_handshake"), "{error}");

    // Refusals: no credential source, a bad mock key, TLS without a certificate.
    let no_source = Args::try_parse_from(["broker", "--tcp", "127.0.0.1:0"]).unwrap();
    assert!(no_source.into_settings().is_err());
    std::fs::write(&key_file, "not hex").unwrap();
    let bad_key = Args::try_parse_from([
        "broker",
        "--credentials",
        &path(&users),
        "--mock-key-file",
        &path(&key_file),
    ]);
    assert!(bad_key.unwrap().into_settings().is_err());
    let no_cert = Args::try_parse_from([
        "broker",
        "--credentials",
        &path(&users),
        "--tls",
        "127.0.0.1:0",
    ]);
    assert!(no_cert.unwrap().into_settings().is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `mqtt-scram` tool of the workspace's `mqtt-scram-cli` package.
fn mqtt_scram_bin() -> std::path::PathBuf {
    mqtt_scram_testkit::workspace_bin("mqtt-scram-cli", "mqtt-scram")
}
