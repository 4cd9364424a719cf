//! The whole auth service (`mqtt_scram_service::Service::router`, every contract: EMQX 5,
//! EMQX 4, amqtt, VerneMQ webhooks with JWT passwords and `on_auth_m5`) on arbitrary HTTP
//! requests, answered in-process without a socket. The credential file holds `alice` /
//! `pencil` (SHA-256 and SHA-512, 1 iteration so password checks cost nothing) and the ACL
//! file a user and a pattern rule; unknown users get mock records (1 iteration).
//!
//! Input: `[0]` path (low 4 bits, see `PATHS`) and method (bits 4-5: GET, POST, PUT,
//! DELETE), `[1]` content type (low 3 bits, see `TYPES`) and `vernemq-hook` header (bits
//! 3-6, see `HOOKS`), `[2]` query length, the query (percent-encoded as needed, so any
//! bytes reach the query parser), then the body.
//!
//! - never panics (a panic in a handler would reach the fuzzer);
//! - the status is one the contracts document: 200, 400, 401, 403, 404, 405, 413, 415,
//!   501, 503 — never another 5xx;
//! - every 200 of the VerneMQ path is a JSON object with a `result`.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request, header};
use libfuzzer_sys::fuzz_target;
use mqtt_scram_service::{Service, ServiceConfig};
use tower::ServiceExt as _;

const PATHS: [&str; 10] = [
    "/emqx5/scram",
    "/emqx4/auth",
    "/emqx4/superuser",
    "/emqx4/acl",
    "/amqtt/user",
    "/amqtt/acl",
    "/amqtt/superuser",
    "/vernemq",
    "/vernemq/",
    "/nope",
];

const TYPES: [Option<&str>; 8] = [
    None,
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("text/plain"),
    Some("application/json; charset=utf-8"),
    Some("multipart/form-data; boundary=x"),
    Some("application/ld+json"),
    Some("application/octet-stream"),
];

const HOOKS: [Option<&str>; 10] = [
    None,
    Some("auth_on_register"),
    Some("auth_on_register_m5"),
    Some("auth_on_subscribe"),
    Some("auth_on_subscribe_m5"),
    Some("auth_on_publish"),
    Some("auth_on_publish_m5"),
    Some("on_auth_m5"),
    Some("on_deliver"),
    Some(""),
];

struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        use mqtt_scram::HashAlgorithm;
        use mqtt_scram::credentials::StoredCredentials;
        use mqtt_scram::provider::UserRecord;
        use mqtt_scram_stores::record::{CredentialRecord, Format, write_records};

        let dir =
            std::env::temp_dir().join(format!("mqtt-scram-fuzz-service-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let records: Vec<CredentialRecord> = [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
            .into_iter()
            .map(|hash| {
                let credentials = StoredCredentials::derive(hash, "pencil", b"fuzz-salt-012345", 1)
                    .expect("credentials");
                CredentialRecord::new("alice", &UserRecord::new(credentials))
            })
            .collect();
        let users = dir.join("users.jsonl");
        std::fs::write(
            &users,
            write_records(&records, Format::Json).expect("records"),
        )
        .expect("users");
        let acl = dir.join("acl");
        std::fs::write(
            &acl,
            "user alice\ntopic alice/#\npattern read sensors/%u/#\n",
        )
        .expect("acl");
        let key = dir.join("jwt.key");
        std::fs::write(&key, "fuzz-secret\n").expect("key");
        let toml = format!(
            "store = {users:?}\nacl_file = {acl:?}\nlookup_timeout = 2\nmock_iterations = 1\n\
             [password_work]\nmin_iterations = 1\nmax_wait = 1\n\
             [emqx5]\n[emqx4]\n[amqtt]\n[vernemq]\nmax_handshakes = 64\n\
             [vernemq.jwt]\nsecret_key_file = {key:?}\n"
        );
        let config = ServiceConfig::from_toml(&toml).expect("service.toml");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let service = {
            let _guard = runtime.enter();
            Service::new(&config).expect("service")
        };
        Fixture {
            router: service.router().clone(),
            runtime,
        }
    })
}

/// Every byte outside a safe set as `%XX`, so the URI always parses and the query parser
/// sees the fuzzer's bytes after decoding.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"&=-_.~+%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [route, kind, query_len, rest @ ..] = data else {
        return;
    };
    let (query, body) = rest.split_at(usize::from(*query_len).min(rest.len()));
    let path = PATHS[usize::from(route & 0x0F) % PATHS.len()];
    let method = [Method::GET, Method::POST, Method::PUT, Method::DELETE]
        [usize::from(route >> 4 & 3)]
    .clone();
    let mut uri = path.to_owned();
    if route & 0x40 != 0 {
        uri.push('?');
        uri.push_str(&percent_encode(query));
    }
    let mut request = Request::builder().method(method).uri(&uri);
    if let Some(ct) = TYPES[usize::from(kind & 7)] {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    if let Some(hook) = HOOKS[usize::from(kind >> 3 & 0x0F) % HOOKS.len()] {
        request = request.header("vernemq-hook", hook);
    }
    let request = request
        .body(Body::from(body.to_vec()))
        .expect("a request from a valid URI and headers");
    let f = fixture();
    let (status, answer) = f.runtime.block_on(async {
        let response = f.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("the answer is small");
        (status, bytes)
    });
    assert!(
        matches!(
            status,
            200 | 400 | 401 | 403 | 404 | 405 | 413 | 415 | 501 | 503
        ),
        "status {status} for {uri}"
    );
    if path == "/vernemq" && status == 200 {
        let value: serde_json::Value = serde_json::from_slice(&answer).expect("a JSON answer");
        assert!(value.get("result").is_some(), "{value}");
    }
});
