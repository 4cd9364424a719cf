//! EMQX 5 "REST API-based SCRAM" conformance: the requests EMQX sends and EMQX's reading of
//! our answers.
//!
//! Followed: EMQX `apps/emqx_auth_http/src/emqx_authn_scram_restapi.erl` (`retrieve/3`:
//! only `{ok, 200, Headers, Body}` is used; `handle_response/2`: the body is parsed by its
//! content type and must hold `stored_key`, `server_key`, `salt`, each decoded with
//! `binary:decode_hex`), `apps/emqx_auth_http/src/emqx_authn_http.erl`
//! (`extract_auth_data/2`: `is_superuser`, `expire_at` in seconds and not in the past,
//! `acl` rules), `apps/emqx_utils/src/emqx_utils_scram.erl` (EMQX takes `iteration_count`
//! and `algorithm` from its own configuration) and the request its test suite
//! `apps/emqx_auth_http/test/emqx_authn_scram_restapi_SUITE.erl` configures
//! (`method = get`, `body = {username = "${username}"}`, so `GET /user?username=…`, plus
//! an `X-Test-Header`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::Lookup;
use mqtt_scram::{ConnectionInfo, HashAlgorithm, StartPacket, Timestamp};
use mqtt_scram_authz::{AclRule, Action, Permission};
use mqtt_scram_testkit::TempDir;
use serde_json::Value;
use support::{User, start, toml_path, users_file};

/// What EMQX makes of our answer: `Some(credentials)` when it would continue the exchange
/// (with its own iteration count and algorithm), `None` when it refuses at once.
fn emqx_reads(
    status: u16,
    content_type: Option<&str>,
    body: &str,
    algorithm: HashAlgorithm,
    iteration_count: u32,
) -> Option<(StoredCredentials, Value)> {
    if status != 200 {
        return None; // {ok, _StatusCode, _Headers, _Body} -> {error, bad_response}
    }
    // safely_parse_body/2: only application/json (or form) bodies.
    if !content_type?.starts_with("application/json") {
        return None;
    }
    let json: Value = serde_json::from_str(body).ok()?;
    let hex = |key: &str| hex::decode(json.get(key)?.as_str()?).ok();
    let credentials = StoredCredentials::from_parts(
        algorithm,
        &hex("salt")?,
        iteration_count,
        &hex("stored_key")?,
        &hex("server_key")?,
    )
    .ok()?;
    Some((credentials, json))
}

async fn fetch(request: reqwest::RequestBuilder) -> (u16, Option<String>, String) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, content_type, response.text().await.unwrap())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Setup {
    _dir: TempDir,
    service: support::Running,
}

async fn setup(extra: &str) -> Setup {
    let dir = TempDir::new("service-emqx5");
    let mut admin = User::new("admin", "secret");
    admin.superuser = true;
    admin.expire_at = Some(now() + 3600);
    admin.acl = vec![AclRule::new(
        Permission::Allow,
        Action::Publish,
        ["admin/#"],
    )];
    let mut old = User::new("old", "pencil");
    old.expire_at = Some(now() - 10);
    let mut slow = User::new("slow", "pencil");
    slow.iterations = 10_000;
    let mut wide = User::new("wide", "pencil");
    wide.hash = HashAlgorithm::Sha512;
    let users = dir.write(
        "users.jsonl",
        &users_file(&[User::new("alice", "pencil"), admin, old, slow, wide]),
    );
    let mock_key = dir.write("mock.key", &"ab".repeat(32));
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&mock_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let toml = format!(
        "store = {}\nmock_key_file = {}\n[emqx5]\n{extra}\n",
        toml_path(&users),
        toml_path(&mock_key)
    );
    Setup {
        service: start(&toml).await,
        _dir: dir,
    }
}

/// The test suite's request: `GET ?username=…` with a custom header.
#[tokio::test]
async fn get_with_the_username_in_the_query_string_serves_the_record() {
    let s = setup("").await;
    let client = support::client();
    let (status, ct, body) = fetch(
        client
            .get(s.service.url("/emqx5/scram"))
            .query(&[("username", "alice")])
            .header("X-Test-Header", "Test Value"),
    )
    .await;
    let (credentials, json) =
        emqx_reads(status, ct.as_deref(), &body, HashAlgorithm::Sha256, 4096).expect(&body);
    assert!(credentials.verify_password("pencil").unwrap());
    assert!(!credentials.verify_password("pencil2").unwrap());
    assert_eq!(json["is_superuser"], false);
    assert!(json.get("acl").is_none() && json.get("expire_at").is_none());
}

/// `method = post` with the default JSON content type, and a form-encoded body.
#[tokio::test]
async fn post_json_and_form_bodies() {
    let s = setup("").await;
    let client = support::client();
    let (status, ct, body) = fetch(
        client
            .post(s.service.url("/emqx5/scram"))
            .json(&serde_json::json!({"username": "admin"})),
    )
    .await;
    let (credentials, json) =
        emqx_reads(status, ct.as_deref(), &body, HashAlgorithm::Sha256, 4096).expect(&body);
    assert!(credentials.verify_password("secret").unwrap());
    assert_eq!(json["is_superuser"], true);
    // extract_auth_data/2: expire_at is integer seconds, in the future, not milliseconds.
    let expire_at = json["expire_at"].as_u64().unwrap();
    assert!(expire_at > now() && expire_at < now() * 1000 / 2);
    // emqx_authz_rule_raw: permission, action, topics.
    assert_eq!(json["acl"][0]["permission"], "allow");
    assert_eq!(json["acl"][0]["action"], "publish");
    assert_eq!(json["acl"][0]["topics"][0], "admin/#");

    let (status, ct, body) = fetch(
        client
            .post(s.service.url("/emqx5/scram"))
            .form(&[("username", "alice")]),
    )
    .await;
    let (credentials, _) =
        emqx_reads(status, ct.as_deref(), &body, HashAlgorithm::Sha256, 4096).expect(&body);
    assert!(credentials.verify_password("pencil").unwrap());
}

/// Unknown users, expired records and records with another count or hash get a keyed
/// mock record of the same shape: EMQX challenges and fails at the proof.
#[tokio::test]
async fn unknown_expired_and_mismatched_records_get_the_mock() {
    let s = setup("").await;
    let client = support::client();
    let get = |user: &'static str| {
        client
            .get(s.service.url("/emqx5/scram"))
            .query(&[("username", user)])
    };
    let (_, _, known) = fetch(get("alice")).await;
    let known: Value = serde_json::from_str(&known).unwrap();
    let mut salts = Vec::new();
    for user in ["nobody", "old", "slow", "wide"] {
        let (status, ct, body) = fetch(get(user)).await;
        let (credentials, json) =
            emqx_reads(status, ct.as_deref(), &body, HashAlgorithm::Sha256, 4096)
                .unwrap_or_else(|| panic!("{user}: {body}"));
        assert!(!credentials.verify_password("pencil").unwrap(), "{user}");
        // The same shape as a real record.
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&json), keys(&known), "{user}");
        assert_eq!(
            json["salt"].as_str().unwrap().len(),
            known["salt"].as_str().unwrap().len()
        );
        // Stable: the same mock again.
        let (_, _, again) = fetch(get(user)).await;
        assert_eq!(again, body, "{user}");
        salts.push(json["salt"].as_str().unwrap().to_string());
    }
    salts.dedup();
    assert_eq!(salts.len(), 4, "each user its own mock salt");

    // The mock salt is the one the engine gives the same unknown user with the same key.
    let engine = s.service.service_backend.scram();
    let connection = Arc::new(ConnectionInfo::default());
    let pending = engine
        .start(
            &connection,
            StartPacket::Connect {
                method: "SCRAM-SHA-256",
                data: Some(b"n,,n=nobody,r=abcdefghijklmnop"),
            },
            Timestamp::new(Duration::ZERO, now()),
        )
        .unwrap();
    let (_, reply) = pending.continue_with(Lookup::NotFound, &mut rand::rng());
    let server_first = String::from_utf8(reply.data.unwrap()).unwrap();
    let engine_salt = server_first
        .split(',')
        .find_map(|a| a.strip_prefix("s="))
        .unwrap();
    use base64::Engine as _;
    let engine_salt = base64::engine::general_purpose::STANDARD
        .decode(engine_salt)
        .unwrap();
    assert_eq!(hex::encode(engine_salt), salts[0]);
}

/// `mock = false`: unknown users are 404, which EMQX turns into an immediate refusal.
#[tokio::test]
async fn without_mock_unknown_users_are_not_found() {
    let s = setup("mock = false").await;
    let (status, _, _) = fetch(
        support::client()
            .get(s.service.url("/emqx5/scram"))
            .query(&[("username", "nobody")]),
    )
    .await;
    assert_eq!(status, 404);
}

/// `iterations`/`algorithm` name EMQX's configuration: a SHA-512 authenticator is served
/// the SHA-512 record.
#[tokio::test]
async fn the_configured_algorithm_and_count_select_the_records() {
    let s = setup("algorithm = \"sha512\"\niterations = 4096").await;
    let (status, ct, body) = fetch(
        support::client()
            .get(s.service.url("/emqx5/scram"))
            .query(&[("username", "wide")]),
    )
    .await;
    let (credentials, _) =
        emqx_reads(status, ct.as_deref(), &body, HashAlgorithm::Sha512, 4096).expect(&body);
    assert!(credentials.verify_password("pencil").unwrap());
}

/// Bad input: a clear 4xx each, never a 200.
#[tokio::test]
async fn bad_requests_are_refused() {
    let s = setup("").await;
    let client = support::client();
    let url = s.service.url("/emqx5/scram");
    let cases = [
        (client.get(&url), 400),
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .body("{\"username\":"),
            400,
        ),
        (
            client
                .post(&url)
                .json(&serde_json::json!({"username": ["alice"]})),
            400,
        ),
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .body(format!("{{\"username\":\"{}\"}}", "a".repeat(70 * 1024))),
            413,
        ),
        (client.get(s.service.url("/emqx5/other")), 404),
        (client.delete(&url), 405),
    ];
    for (request, expected) in cases {
        let (status, _, body) = fetch(request).await;
        assert_eq!(status, expected, "{body}");
    }
}

/// The store down: 503, which EMQX reads as an error (no login), never a record.
#[tokio::test]
async fn store_down_is_503() {
    let port = mqtt_scram_testkit::free_port();
    let toml = format!(
        "store = \"http://127.0.0.1:{port}/user?u=${{username}}\"\nlookup_timeout = \"2s\"\n[emqx5]\n"
    );
    let s = start(&toml).await;
    let (status, ct, body) = fetch(
        support::client()
            .get(s.url("/emqx5/scram"))
            .query(&[("username", "alice")]),
    )
    .await;
    assert_eq!(status, 503);
    assert!(emqx_reads(status, ct.as_deref(), &body, HashAlgorithm::Sha256, 4096).is_none());
}

/// With `[auth]`, a request without the shared secret header is 401.
#[tokio::test]
async fn the_shared_secret_header_is_required() {
    let dir = TempDir::new("service-emqx5-secret");
    let users = dir.write("users.jsonl", &users_file(&[User::new("alice", "pencil")]));
    let secret = dir.write("secret", "s3cr3t-value\n");
    let toml = format!(
        "store = {}\n[auth]\nheader = \"x-auth-secret\"\nsecret_file = {}\n[emqx5]\n",
        toml_path(&users),
        toml_path(&secret)
    );
    let s = start(&toml).await;
    let client = support::client();
    let url = s.url("/emqx5/scram?username=alice");
    assert_eq!(fetch(client.get(&url)).await.0, 401);
    assert_eq!(
        fetch(client.get(&url).header("x-auth-secret", "wrong"))
            .await
            .0,
        401
    );
    assert_eq!(
        fetch(client.get(&url).header("x-auth-secret", "s3cr3t-value"))
            .await
            .0,
        200
    );
}

/// `[tls]`: the service answers over HTTPS with the configured certificate.
#[tokio::test]
async fn tls_listener_serves_https() {
    let dir = TempDir::new("service-emqx5-tls");
    let users = dir.write("users.jsonl", &users_file(&[User::new("alice", "pencil")]));
    let files = mqtt_scram_testkit::postgres::tls_files(&dir.join("tls"), &["127.0.0.1"]);
    let toml = format!(
        "store = {}\n[tls]\ncert = {}\nkey = {}\n[emqx5]\n",
        toml_path(&users),
        toml_path(&files.server_cert),
        toml_path(&files.server_key)
    );
    let s = start(&toml).await;
    let _ = support::client();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&files.ca).unwrap()).unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let (status, ct, body) = fetch(
        https
            .get(format!("https://{}/emqx5/scram", s.addr))
            .query(&[("username", "alice")]),
    )
    .await;
    let (credentials, _) =
        emqx_reads(status, ct.as_deref(), &body, HashAlgorithm::Sha256, 4096).expect(&body);
    assert!(credentials.verify_password("pencil").unwrap());
    // Plain HTTP on the TLS port gets no answer.
    assert!(
        support::client()
            .get(s.url("/emqx5/scram?username=alice"))
            .send()
            .await
            .is_err()
    );
}
