//! Mock shape (issue 20 §5b): an unknown user's challenge, mock record and mock password
//! check copy the shape (salt length, iteration count) of the store's records — a
//! credential file's most common one — or, for a store that reports none (a remote store),
//! the configured `mock_salt_len` / `mock_iterations` / `[mock_shape]`. Real HTTP requests
//! against the service on a loopback port, as EMQX 5 and VerneMQ send them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use mqtt_scram::client::{self, ClientConfig};
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{MockShape, UserRecord};
use mqtt_scram::{HashAlgorithm, Mechanism};
use mqtt_scram_service::{Backend, ServiceConfig};
use mqtt_scram_stores::record::{CredentialRecord, Format, write_records};
use mqtt_scram_testkit::TempDir;
use serde_json::{Value, json};
use support::{Running, client, start, toml_path};

/// A record of `salt_len`-byte salt and `iterations` (keys that match no password: only
/// the shape matters here).
fn record(name: &str, hash: HashAlgorithm, salt_len: usize, iterations: u32) -> CredentialRecord {
    let salt: Vec<u8> = name.bytes().cycle().take(salt_len).collect();
    let key = vec![7u8; hash.output_len()];
    let credentials = StoredCredentials::from_parts(hash, &salt, iterations, &key, &key).unwrap();
    CredentialRecord::new(name, &UserRecord::new(credentials))
}

fn users_file(records: &[CredentialRecord]) -> String {
    write_records(records, Format::Json).unwrap()
}

/// The salt of the EMQX 5 answer for `user` (hex-decoded); panics unless 200.
async fn emqx5_salt(service: &Running, user: &str) -> Vec<u8> {
    let response = client()
        .get(service.url("/emqx5/scram"))
        .query(&[("username", user)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "emqx5 answer for {user}");
    let body: Value = response.json().await.unwrap();
    hex::decode(body["salt"].as_str().unwrap()).unwrap()
}

/// The salt and `i=` of the server-first-message `on_auth_m5` answers a client-first of
/// `user` with.
async fn vernemq_server_first(service: &Running, user: &str) -> (Vec<u8>, u32) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (_state, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        user,
        "whatever",
        &mut rand::rng(),
    )
    .unwrap();
    let args = json!({"username": null, "mountpoint": "", "client_id": format!("c-{user}"),
                      "properties": {"p_authentication_method": "SCRAM-SHA-256",
                                     "p_authentication_data": b64.encode(&first)}});
    let response = client()
        .post(service.url("/vernemq"))
        .header("content-type", "application/json")
        .header("vernemq-hook", "on_auth_m5")
        .body(args.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["result"], "ok", "{body}");
    assert_eq!(body["modifiers"]["reason_code"], 24, "{body}");
    let data = body["modifiers"]["properties"]["p_authentication_data"]
        .as_str()
        .unwrap();
    let server_first = String::from_utf8(b64.decode(data).unwrap()).unwrap();
    let attr = |name: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    (b64.decode(attr("s=")).unwrap(), attr("i=").parse().unwrap())
}

/// `auth_on_register` of a clear password: VerneMQ's `{"error": …}` string or `ok`.
async fn vernemq_register(service: &Running, user: &str, password: &str) -> String {
    let args = json!({"peer_addr": "127.0.0.1", "peer_port": 1, "mountpoint": "",
                      "client_id": "c1", "username": user, "password": password,
                      "clean_session": true});
    let response = client()
        .post(service.url("/vernemq"))
        .header("content-type", "application/json")
        .header("vernemq-hook", "auth_on_register")
        .body(args.to_string())
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    match &body["result"] {
        Value::String(s) => s.clone(),
        other => other["error"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn a_credential_files_shape_is_copied_and_followed_on_reload() {
    let dir = TempDir::new("service-mock-shape-file");
    let sha256 = HashAlgorithm::Sha256;
    let users = dir.write(
        "users.jsonl",
        &users_file(&[
            record("alice", sha256, 32, 10_000),
            record("bob", sha256, 32, 10_000),
            record("carol", sha256, 32, 10_000),
            // One record of another shape: the most common one is still copied.
            record("dave", sha256, 16, 4096),
        ]),
    );
    // No mock setting at all: the file's shape wins over the defaults (16 bytes, 4096).
    let toml = format!(
        "store = {}\n[emqx5]\niterations = 10000\n[vernemq]\n",
        toml_path(&users)
    );
    let service = start(&toml).await;
    let backend = &service.service_backend;
    assert_eq!(
        backend.record_shape(sha256),
        Some(MockShape::new(32, 10_000))
    );
    assert_eq!(backend.mock_shape(sha256), MockShape::new(32, 10_000));

    // EMQX 5: the unknown user's mock record has a 32-byte salt, as alice's has.
    assert_eq!(emqx5_salt(&service, "alice").await.len(), 32);
    assert_eq!(emqx5_salt(&service, "nobody").await.len(), 32);

    // VerneMQ on_auth_m5: the unknown user's server-first has a 32-byte salt and i=10000.
    let (salt, iterations) = vernemq_server_first(&service, "nobody").await;
    assert_eq!((salt.len(), iterations), (32, 10_000));
    let (salt, iterations) = vernemq_server_first(&service, "alice").await;
    assert_eq!((salt.len(), iterations), (32, 10_000));

    // Clear passwords: an unknown user's PBKDF2 is a SHA-256 one at the records' count.
    assert_eq!(
        backend.unknown_user_work(),
        (sha256, MockShape::new(32, 10_000))
    );
    assert_eq!(
        vernemq_register(&service, "nobody", "pencil").await,
        "not_allowed"
    );

    // A new set of another shape (SIGHUP): followed.
    std::fs::write(
        &users,
        users_file(&[
            record("alice", sha256, 48, 20_000),
            record("bob", sha256, 48, 20_000),
        ]),
    )
    .unwrap();
    backend.reload();
    assert_eq!(backend.mock_shape(sha256), MockShape::new(48, 20_000));
    assert_eq!(emqx5_salt(&service, "nobody").await.len(), 48);
    let (salt, iterations) = vernemq_server_first(&service, "nobody").await;
    assert_eq!((salt.len(), iterations), (48, 20_000));
    service.stop().await;
}

/// A remote store (the workspace's HTTP store, reading another instance of the service
/// over the EMQX 5 contract) reports no shape: the configured one is used.
#[tokio::test]
async fn a_store_without_a_shape_takes_the_configured_one() {
    let dir = TempDir::new("service-mock-shape-remote");
    let users = dir.write(
        "users.jsonl",
        &users_file(&[record("alice", HashAlgorithm::Sha256, 16, 4096)]),
    );
    let upstream = start(&format!(
        "store = {}\n[emqx5]\nmock = false\n",
        toml_path(&users)
    ))
    .await;
    let toml = format!(
        "mock_salt_len = 24\nmock_iterations = 8192\n\
         [store]\nkind = \"http\"\nmethod = \"get\"\nurl = {:?}\n\
         body = {{ username = \"${{username}}\" }}\nnot_found_status = [404]\n\
         [mock_shape.sha512]\nsalt_len = 40\n\
         [emqx5]\niterations = 8192\n[vernemq]\n",
        upstream.url("/emqx5/scram")
    );
    let service = start(&toml).await;
    let backend = &service.service_backend;
    assert_eq!(backend.record_shape(HashAlgorithm::Sha256), None);
    assert_eq!(
        backend.mock_shape(HashAlgorithm::Sha256),
        MockShape::new(24, 8192)
    );
    assert_eq!(
        backend.mock_shape(HashAlgorithm::Sha512),
        MockShape::new(40, 8192)
    );

    assert_eq!(emqx5_salt(&service, "nobody").await.len(), 24);
    let (salt, iterations) = vernemq_server_first(&service, "nobody").await;
    assert_eq!((salt.len(), iterations), (24, 8192));
    assert_eq!(
        backend.unknown_user_work(),
        (HashAlgorithm::Sha256, MockShape::new(24, 8192))
    );
    assert_eq!(
        vernemq_register(&service, "nobody", "pencil").await,
        "not_allowed"
    );
    service.stop().await;
    upstream.stop().await;
}

fn backend(dir: &TempDir, records: &[CredentialRecord], extra: &str) -> Backend {
    let users = dir.write("users.jsonl", &users_file(records));
    let toml = format!("store = {}\n{extra}[emqx4]\n", toml_path(&users));
    Backend::new(&ServiceConfig::from_toml(&toml).unwrap()).unwrap()
}

#[test]
fn the_unknown_users_password_work_is_a_real_records() {
    let dir = TempDir::new("service-mock-shape-work");
    // Only SHA-512 records: the PBKDF2 is a SHA-512 one of their shape.
    let sha512 = [
        record("a", HashAlgorithm::Sha512, 24, 5000),
        record("b", HashAlgorithm::Sha512, 24, 5000),
    ];
    assert_eq!(
        backend(&dir, &sha512, "").unknown_user_work(),
        (HashAlgorithm::Sha512, MockShape::new(24, 5000))
    );
    // No records: the configured shape, also under its deprecated name.
    assert_eq!(
        backend(&dir, &[], "").unknown_user_work(),
        (HashAlgorithm::Sha256, MockShape::new(16, 4096))
    );
    assert_eq!(
        backend(&dir, &[], "mock_salt_len = 32\nmock_iterations = 8192\n").unknown_user_work(),
        (HashAlgorithm::Sha256, MockShape::new(32, 8192))
    );
    assert_eq!(
        backend(&dir, &[], "[password_work]\nmock_iterations = 6000\n").unknown_user_work(),
        (HashAlgorithm::Sha256, MockShape::new(16, 6000))
    );
    // Records below the policy's iteration floor cannot be copied: the configured shape.
    let low = [record("a", HashAlgorithm::Sha256, 32, 1000)];
    let extra = "[password_work]\nmin_iterations = 2000\n";
    assert_eq!(
        backend(&dir, &low, extra).unknown_user_work(),
        (HashAlgorithm::Sha256, MockShape::new(16, 4096))
    );
}

#[test]
fn bad_mock_settings_are_named() {
    for (settings, needle) in [
        ("mock_salt_len = 4\n", "mock_salt_len: 4 bytes"),
        ("mock_salt_len = 65\n", "mock_salt_len: 65 bytes"),
        ("mock_iterations = 10\n", "mock_iterations: 10 is outside"),
        (
            "[password_work]\nmock_iterations = 10\n",
            "password_work.mock_iterations: 10",
        ),
        (
            "[password_work]\nmax_iterations = 5000\n[mock_shape.sha512]\niterations = 6000\n",
            "mock_shape.sha512.iterations: 6000",
        ),
        (
            "[mock_shape.sha256]\nsalt_len = 100\n",
            "mock_shape.sha256.salt_len: 100",
        ),
        (
            "mock_iterations = 8192\n[password_work]\nmock_iterations = 8192\n",
            "deprecated",
        ),
        ("[mock_shape.sha384]\nsalt_len = 16\n", "sha384"),
        ("[mock_shape.sha256]\nsalt = 16\n", "salt"),
    ] {
        let toml = format!("store = \"u.json\"\n{settings}[emqx5]\n");
        let e = ServiceConfig::from_toml(&toml).unwrap_err().to_string();
        assert!(e.contains(needle), "{settings:?}: {e}");
    }
    let config = ServiceConfig::from_toml(
        "store = \"u.json\"\nmock_iterations = 10000\n[mock_shape.sha256]\nsalt_len = 32\n[emqx5]\n",
    )
    .unwrap();
    assert_eq!(
        config.mock_shape_for(HashAlgorithm::Sha256),
        MockShape::new(32, 10_000)
    );
    assert_eq!(
        config.mock_shape_for(HashAlgorithm::Sha512),
        MockShape::new(16, 10_000)
    );
}
