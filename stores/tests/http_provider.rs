//! HttpProvider, Chain and Cached against real HTTP servers on 127.0.0.1:0 (axum / hyper).
//! Every request the provider sends is captured as the server received it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{Cached, Chain, CredentialProvider, Lookup, LookupRequest, OnNotFound};
use mqtt_scram::server::NeedCredentials;
use mqtt_scram::{
    ConnectionInfo, HashAlgorithm, Mechanism, Outcome, ReasonCode, ScramServer, ServerConfig,
    StartPacket, Timestamp,
};
use mqtt_scram_authz::RuleSet;
use mqtt_scram_authz::{Action, Permission};
use mqtt_scram_stores::http::{
    HttpConfig, HttpConfigError, HttpMethod, HttpProvider, HttpVersion, ParamsMode, TlsConfig,
};
use tokio::net::TcpListener;

// ---------------------------------------------------------------- test server

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    version: Version,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn query_pairs(&self) -> BTreeMap<String, String> {
        form_urlencoded(self.query.as_deref().unwrap_or_default().as_bytes())
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

fn form_urlencoded(bytes: &[u8]) -> BTreeMap<String, String> {
    url_decode_pairs(std::str::from_utf8(bytes).unwrap())
}

/// `application/x-www-form-urlencoded` decoding, written out so the test does not
/// share a decoder with the code under test.
fn url_decode_pairs(text: &str) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    out.push(
                        u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16)
                            .unwrap(),
                    );
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    url_decode_pairs(&format!("x={}", s.replace('+', "%2B")))["x"].clone()
}

type Respond = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

enum Reply {
    Now(Response),
    After(Duration, Response),
}

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    hits: Arc<AtomicUsize>,
    respond: Respond,
}

struct Server {
    addr: SocketAddr,
    shared: Shared,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }
    fn last(&self) -> Seen {
        self.shared
            .seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("no request seen")
    }
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let seen = Seen {
        method: parts.method.to_string(),
        version: parts.version,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(String::from),
        headers: parts.headers,
        body,
    };
    let n = shared.hits.fetch_add(1, Ordering::SeqCst);
    shared.seen.lock().unwrap().push(seen.clone());
    match (shared.respond)(&seen, n) {
        Reply::Now(response) => response,
        Reply::After(delay, response) => {
            tokio::time::sleep(delay).await;
            response
        }
    }
}

fn shared(respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Shared {
    Shared {
        seen: Arc::default(),
        hits: Arc::default(),
        respond: Arc::new(respond),
    }
}

async fn serve(respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Server {
    let shared = shared(respond);
    let router = Router::new().fallback(handle).with_state(shared.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server { addr, shared }
}

fn json(status: StatusCode, body: impl Into<String>) -> Reply {
    Reply::Now(
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.into(),
        )
            .into_response(),
    )
}

fn creds(hash: HashAlgorithm) -> StoredCredentials {
    StoredCredentials::derive(hash, "pencil", b"QSXCR+Q6sek8bf92", 4096).unwrap()
}

fn record_json(hash: HashAlgorithm, extra: &str) -> String {
    let hex = creds(hash).to_emqx_hex();
    format!(
        r#"{{"stored_key":"{}","server_key":"{}","salt":"{}"{extra}}}"#,
        hex.stored_key, hex.server_key, hex.salt
    )
}

fn found(extra: &'static str) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    move |_, _| json(StatusCode::OK, record_json(HashAlgorithm::Sha256, extra))
}

fn connection() -> ConnectionInfo {
    let mut c = ConnectionInfo::new("client 1&2")
        .with_peer("192.0.2.7:50123".parse().unwrap())
        .with_listener("tcp:default");
    c.cert_common_name = Some("cn-1".into());
    c.client_attrs.insert("tenant".into(), "acme".into());
    c
}

async fn lookup_as<P: CredentialProvider>(
    provider: &P,
    username: &str,
    mechanism: Mechanism,
) -> Lookup {
    let connection = connection();
    let request = LookupRequest::new(mechanism, username, &connection);
    provider.lookup(&request).await
}

async fn lookup<P: CredentialProvider>(provider: &P, username: &str) -> Lookup {
    lookup_as(provider, username, Mechanism::ScramSha256).await
}

fn provider(config: HttpConfig) -> HttpProvider {
    HttpProvider::new(config).unwrap()
}

fn is_ignore(lookup: &Lookup) -> bool {
    matches!(lookup, Lookup::Ignore(_))
}

const ODD_NAMES: [&str; 4] = ["a&b=c", "with space+plus", "ünï/cødé?#", "100%"];

// ---------------------------------------------------------------- requests

#[tokio::test]
async fn get_puts_templates_in_path_and_query_with_correct_encoding() {
    let server = serve(found("")).await;
    let p = provider(
        HttpConfig::new(server.url("/auth/${username}/x?client=${clientid}&legacy=%u"))
            .method(HttpMethod::Get)
            .param("user", "${username}")
            .param("peer", "${peerhost}:${peerport}")
            .param("mech", "${mechanism}"),
    );
    for name in ODD_NAMES {
        assert!(matches!(lookup(&p, name).await, Lookup::Found(_)));
        let seen = server.last();
        assert_eq!(seen.method, "GET");
        assert!(seen.body.is_empty());
        let segment = seen
            .path
            .strip_prefix("/auth/")
            .unwrap()
            .strip_suffix("/x")
            .unwrap();
        assert_eq!(percent_decode(segment), name, "path {}", seen.path);
        let q = seen.query_pairs();
        assert_eq!(q["client"], "client 1&2");
        assert_eq!(q["legacy"], name);
        assert_eq!(q["user"], name);
        assert_eq!(q["peer"], "192.0.2.7:50123");
        assert_eq!(q["mech"], "SCRAM-SHA-256");
    }
}

#[tokio::test]
async fn post_sends_a_json_body() {
    let server = serve(found("")).await;
    let p = provider(
        HttpConfig::new(server.url("/auth"))
            .param("username", "${username}")
            .param("clientid", "%c")
            .param("tenant", "${client_attrs.tenant}")
            .param("cn", "%C"),
    );
    for name in ODD_NAMES {
        assert!(matches!(lookup(&p, name).await, Lookup::Found(_)));
        let seen = server.last();
        assert_eq!(seen.method, "POST");
        assert_eq!(seen.header("content-type"), "application/json");
        let body: BTreeMap<String, String> = serde_json::from_slice(&seen.body).unwrap();
        assert_eq!(body["username"], name);
        assert_eq!(body["clientid"], "client 1&2");
        assert_eq!(body["tenant"], "acme");
        assert_eq!(body["cn"], "cn-1");
    }
}

#[tokio::test]
async fn form_bodies_by_params_mode_or_content_type() {
    let server = serve(found("")).await;
    let by_mode = provider(
        HttpConfig::new(server.url("/a"))
            .params_mode(ParamsMode::Form)
            .param("u", "${username}"),
    );
    let by_header = provider(
        HttpConfig::new(server.url("/a"))
            .method(HttpMethod::Put)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .param("u", "${username}"),
    );
    for (p, method) in [(&by_mode, "POST"), (&by_header, "PUT")] {
        for name in ODD_NAMES {
            assert!(matches!(lookup(p, name).await, Lookup::Found(_)));
            let seen = server.last();
            assert_eq!(seen.method, method);
            assert!(
                seen.header("content-type")
                    .starts_with("application/x-www-form-urlencoded")
            );
            assert_eq!(form_urlencoded(&seen.body)["u"], name);
        }
    }
}

#[tokio::test]
async fn headers_defaults_templates_and_crlf_rejection() {
    let server = serve(found("")).await;
    let p = provider(
        HttpConfig::new(server.url("/a"))
            .header("x-user", "${username}")
            .header("x-listener", "${listener}/%r")
            .header("authorization", "Bearer s3cret")
            .user_agent("amqtt-compatible/1.0"),
    );
    assert!(matches!(lookup(&p, "ünï").await, Lookup::Found(_)));
    let seen = server.last();
    assert_eq!(seen.headers["x-user"].as_bytes(), "ünï".as_bytes());
    assert_eq!(seen.header("x-listener"), "tcp:default/mqtt");
    assert_eq!(seen.header("authorization"), "Bearer s3cret");
    assert_eq!(seen.header("accept"), "application/json");
    assert_eq!(seen.header("cache-control"), "no-cache");
    assert_eq!(seen.header("user-agent"), "amqtt-compatible/1.0");

    let default_agent = provider(HttpConfig::new(server.url("/a")));
    lookup(&default_agent, "u").await;
    assert_eq!(
        server.last().header("user-agent"),
        format!("mqtt-scram/{}", env!("CARGO_PKG_VERSION"))
    );

    let before = server.hits();
    for evil in ["bob\r\nx-admin: 1", "bob\nx", "bob\rx", "bob\0x"] {
        let answer = lookup(&p, evil).await;
        let Lookup::Ignore(reason) = answer else {
            panic!("{evil:?} gave {answer:?}")
        };
        assert!(reason.detail().contains("CR, LF or NUL"), "{reason:?}");
    }
    assert_eq!(server.hits(), before, "no request may be sent");
}

#[tokio::test]
async fn http2_prior_knowledge() {
    let server = serve(found("")).await;
    let p = provider(HttpConfig::new(server.url("/a")).http_version(HttpVersion::Http2));
    assert!(matches!(lookup(&p, "u").await, Lookup::Found(_)));
    assert_eq!(server.last().version, Version::HTTP_2);
    let p1 = provider(HttpConfig::new(server.url("/a")).http_version(HttpVersion::Http1));
    assert!(matches!(lookup(&p1, "u").await, Lookup::Found(_)));
    assert_eq!(server.last().version, Version::HTTP_11);
}

// ---------------------------------------------------------------- responses

#[tokio::test]
async fn full_record_with_every_optional_field() {
    let future = 4_000_000_000u64;
    let extra = format!(
        r##","iteration_count":4096,"is_superuser":"true","expire_at":{future},
        "client_attrs":{{"tenant":"t1","zone-2":"z","bad key":"x","_x":"y"}},
        "acl":[{{"permission":"allow","action":"publish","topic":"t/${{username}}","qos":[0,1],"retain":"all"}},
               {{"permission":"deny","action":"sub","topics":["#"]}}]"##
    );
    let hex = creds(HashAlgorithm::Sha256).to_emqx_hex();
    let body = format!(
        r#"{{"stored_key":"{}","server_key":"{}","salt":"{}"{extra}}}"#,
        hex.stored_key.to_uppercase(),
        hex.server_key.to_uppercase(),
        hex.salt.to_uppercase()
    );
    let server = serve(move |_, _| json(StatusCode::OK, body.clone())).await;
    let Lookup::Found(record) = lookup(&provider(HttpConfig::new(server.url("/"))), "u").await
    else {
        panic!()
    };
    assert_eq!(
        record.credentials,
        creds(HashAlgorithm::Sha256),
        "upper-case hex decodes"
    );
    assert!(record.attributes.is_superuser);
    assert_eq!(record.attributes.expire_at, Some(future));
    assert_eq!(
        record.attributes.client_attrs.len(),
        2,
        "{:?}",
        record.attributes.client_attrs
    );
    assert_eq!(record.attributes.client_attrs["zone-2"], "z");
    let acl = mqtt_scram_stores::record::acl_rules(&record);
    assert_eq!(acl.len(), 2);
    assert_eq!(
        (acl[0].permission, acl[0].action),
        (Permission::Allow, Action::Publish)
    );
    assert_eq!(acl[0].qos, Some(vec![0, 1]));
    assert_eq!(acl[0].retain, None);
    assert_eq!(
        (acl[1].permission, acl[1].action),
        (Permission::Deny, Action::Subscribe)
    );
}

#[tokio::test]
async fn iteration_count_defaults_from_config_and_superuser_forms() {
    let server = serve(|seen, _| {
        let extra = match seen.path.as_str() {
            "/one" => r#","is_superuser":1"#,
            "/zero" => r#","is_superuser":0"#,
            "/bool" => r#","is_superuser":true"#,
            _ => "",
        };
        json(StatusCode::OK, record_json(HashAlgorithm::Sha256, extra))
    })
    .await;
    let p = provider(HttpConfig::new(server.url("/none")).default_iterations(4096));
    let Lookup::Found(r) = lookup(&p, "u").await else {
        panic!()
    };
    assert_eq!(
        (r.credentials.iterations(), r.attributes.is_superuser),
        (4096, false)
    );
    for (path, superuser) in [("/one", true), ("/zero", false), ("/bool", true)] {
        let Lookup::Found(r) = lookup(&provider(HttpConfig::new(server.url(path))), "u").await
        else {
            panic!()
        };
        assert_eq!(r.attributes.is_superuser, superuser, "{path}");
    }
}

#[tokio::test]
async fn sha512_records_and_length_mismatch() {
    let server = serve(|seen, _| {
        let hash = if seen.path == "/512" {
            HashAlgorithm::Sha512
        } else {
            HashAlgorithm::Sha256
        };
        json(StatusCode::OK, record_json(hash, ""))
    })
    .await;
    let p512 = provider(HttpConfig::new(server.url("/512")));
    let Lookup::Found(r) = lookup_as(&p512, "u", Mechanism::ScramSha512).await else {
        panic!()
    };
    assert_eq!(r.credentials.hash(), HashAlgorithm::Sha512);
    let p256 = provider(HttpConfig::new(server.url("/256")));
    assert!(
        is_ignore(&lookup_as(&p256, "u", Mechanism::ScramSha512).await),
        "32-byte keys for SHA-512"
    );
    assert!(
        is_ignore(&lookup_as(&p512, "u", Mechanism::ScramSha256).await),
        "64-byte keys for SHA-256"
    );
}

#[tokio::test]
async fn form_encoded_response_body() {
    let server = serve(|_, _| {
        let hex = creds(HashAlgorithm::Sha256).to_emqx_hex();
        let body = format!(
            "stored_key={}&server_key={}&salt={}&is_superuser=true",
            hex.stored_key, hex.server_key, hex.salt
        );
        Reply::Now(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
                body,
            )
                .into_response(),
        )
    })
    .await;
    let Lookup::Found(r) = lookup(&provider(HttpConfig::new(server.url("/"))), "u").await else {
        panic!()
    };
    assert!(r.attributes.is_superuser);
}

#[tokio::test]
async fn every_bad_answer_is_ignore() {
    type Make = Box<dyn Fn() -> Response + Send + Sync>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "ignore",
            Box::new(|| (StatusCode::OK, "ignore").into_response()),
        ),
        (
            "ignore-json",
            Box::new(|| {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "ignore\n",
                )
                    .into_response()
            }),
        ),
        (
            "result-ignore",
            Box::new(|| json_response(r#"{"result":"ignore"}"#)),
        ),
        ("garbage", Box::new(|| json_response("{\"stored_key\": ]]"))),
        ("not-object", Box::new(|| json_response("[]"))),
        (
            "text",
            Box::new(|| {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/plain")],
                    record_json(HashAlgorithm::Sha256, ""),
                )
                    .into_response()
            }),
        ),
        (
            "no-content-type",
            Box::new(|| {
                (
                    StatusCode::OK,
                    Body::from(record_json(HashAlgorithm::Sha256, "")),
                )
                    .into_response()
            }),
        ),
        (
            "bad-hex",
            Box::new(|| {
                json_response(&record_json(HashAlgorithm::Sha256, "").replacen(
                    "\"salt\":\"",
                    "\"salt\":\"zz",
                    1,
                ))
            }),
        ),
        (
            "missing",
            Box::new(|| json_response(r#"{"salt":"00","stored_key":"00"}"#)),
        ),
        (
            "short-key",
            Box::new(|| json_response(r#"{"salt":"00","stored_key":"0011","server_key":"0011"}"#)),
        ),
        (
            "expired",
            Box::new(|| {
                json_response(&record_json(
                    HashAlgorithm::Sha256,
                    r#","expire_at":1000000000"#,
                ))
            }),
        ),
        (
            "millis",
            Box::new(|| {
                json_response(&record_json(
                    HashAlgorithm::Sha256,
                    r#","expire_at":4000000000000"#,
                ))
            }),
        ),
        (
            "bad-acl",
            Box::new(|| {
                json_response(&record_json(
                    HashAlgorithm::Sha256,
                    r#","acl":[{"permission":"allow","action":"x","topic":"t"}]"#,
                ))
            }),
        ),
        (
            "bad-superuser",
            Box::new(|| {
                json_response(&record_json(
                    HashAlgorithm::Sha256,
                    r#","is_superuser":"maybe""#,
                ))
            }),
        ),
        (
            "201",
            Box::new(|| {
                (
                    StatusCode::CREATED,
                    [(header::CONTENT_TYPE, "application/json")],
                    record_json(HashAlgorithm::Sha256, ""),
                )
                    .into_response()
            }),
        ),
        (
            "302",
            Box::new(|| (StatusCode::FOUND, [(header::LOCATION, "/elsewhere")]).into_response()),
        ),
        ("400", Box::new(|| StatusCode::BAD_REQUEST.into_response())),
        ("401", Box::new(|| StatusCode::UNAUTHORIZED.into_response())),
        ("404", Box::new(|| StatusCode::NOT_FOUND.into_response())),
        (
            "500",
            Box::new(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        ),
        (
            "503",
            Box::new(|| StatusCode::SERVICE_UNAVAILABLE.into_response()),
        ),
    ];
    let cases: Arc<BTreeMap<&'static str, _>> = Arc::new(cases.into_iter().collect());
    let responders = Arc::clone(&cases);
    let server =
        serve(move |seen, _| Reply::Now(responders[seen.path.trim_start_matches('/')]())).await;
    for name in cases.keys() {
        let answer = lookup(
            &provider(HttpConfig::new(server.url(&format!("/{name}")))),
            "u",
        )
        .await;
        assert!(is_ignore(&answer), "{name}: {answer:?}");
    }
}

fn json_response(body: &str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[tokio::test]
async fn configured_status_means_not_found_and_deny_too() {
    let server = serve(|seen, _| match seen.path.as_str() {
        "/deny" => json(StatusCode::OK, r#"{"result":"deny"}"#),
        _ => Reply::Now(StatusCode::NOT_FOUND.into_response()),
    })
    .await;
    let p = provider(HttpConfig::new(server.url("/missing")).not_found_status(404));
    assert_eq!(lookup(&p, "u").await, Lookup::NotFound);
    assert_eq!(
        lookup(&provider(HttpConfig::new(server.url("/deny"))), "u").await,
        Lookup::NotFound
    );
}

#[tokio::test]
async fn oversize_bodies_by_length_and_by_stream() {
    let big = "x".repeat(70 * 1024);
    let server = serve(move |seen, _| {
        if seen.path == "/chunked" {
            let chunks: Vec<Result<Bytes, std::io::Error>> = (0..200)
                .map(|_| Ok(Bytes::from(vec![b' '; 1024])))
                .collect();
            let body = Body::from_stream(futures_util::stream::iter(chunks));
            Reply::Now(
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response(),
            )
        } else {
            json(StatusCode::OK, format!(r#"{{"pad":"{big}"}}"#))
        }
    })
    .await;
    for path in ["/length", "/chunked"] {
        let Lookup::Ignore(reason) =
            lookup(&provider(HttpConfig::new(server.url(path))), "u").await
        else {
            panic!()
        };
        assert!(
            reason.detail().contains("larger than 65536"),
            "{path}: {reason:?}"
        );
    }
    let small_cap = provider(HttpConfig::new(server.url("/length")).max_body_size(256 * 1024));
    assert!(
        is_ignore(&lookup(&small_cap, "u").await),
        "within the cap, but not a record"
    );
}

// ---------------------------------------------------------------- transport failures

#[tokio::test]
async fn slow_service_times_out() {
    let server =
        serve(|_, _| Reply::After(Duration::from_secs(3), StatusCode::OK.into_response())).await;
    let p = provider(HttpConfig::new(server.url("/")).request_timeout(Duration::from_millis(200)));
    let start = Instant::now();
    assert!(is_ignore(&lookup(&p, "u").await));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn connection_reset_and_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            #[allow(deprecated)] // zero linger does not block: it resets the connection
            stream.set_linger(Some(Duration::ZERO)).unwrap();
            drop(stream);
        }
    });
    let reset = lookup(&provider(HttpConfig::new(format!("http://{addr}/"))), "u").await;
    assert!(is_ignore(&reset), "{reset:?}");

    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = lookup(&provider(HttpConfig::new(format!("http://{closed}/"))), "u").await;
    assert!(is_ignore(&refused), "{refused:?}");
}

#[tokio::test]
async fn retries_on_5xx_and_timeouts_only_counted_by_the_server() {
    let server = serve(|seen, n| match seen.path.as_str() {
        "/always-500" => Reply::Now(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        "/always-404" => Reply::Now(StatusCode::NOT_FOUND.into_response()),
        "/slow-then-ok" if n == 0 => {
            Reply::After(Duration::from_secs(2), StatusCode::OK.into_response())
        }
        _ => json(StatusCode::OK, record_json(HashAlgorithm::Sha256, "")),
    })
    .await;
    let config =
        |path: &str| HttpConfig::new(server.url(path)).retries(2, Duration::from_millis(20), 2.0);

    let before = server.hits();
    assert!(is_ignore(
        &lookup(&provider(config("/always-500")), "u").await
    ));
    assert_eq!(server.hits() - before, 3, "1 try + 2 retries");

    let before = server.hits();
    assert!(is_ignore(
        &lookup(&provider(config("/always-404")), "u").await
    ));
    assert_eq!(server.hits() - before, 1, "4xx is not retried");

    let slow = provider(config("/slow-then-ok").request_timeout(Duration::from_millis(300)));
    let Lookup::Found(_) = lookup(&slow, "u").await else {
        panic!("retry after a timeout should succeed")
    };

    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let bounded = provider(
        HttpConfig::new(format!("http://{closed}/"))
            .retries(1000, Duration::from_millis(50), 1.0)
            .lookup_deadline(Duration::from_millis(300)),
    );
    let start = Instant::now();
    let Lookup::Ignore(reason) = lookup(&bounded, "u").await else {
        panic!()
    };
    assert!(reason.detail().contains("deadline"), "{reason:?}");
    assert!(start.elapsed() < Duration::from_secs(1));
}

// ---------------------------------------------------------------- TLS

use mqtt_scram_testkit::pki::{Pki, pki};

async fn serve_tls(
    pki: &Pki,
    respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> Server {
    let shared = shared(respond);
    let router = Router::new().fallback(handle).with_state(shared.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&pki.server_config));
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
    Server { addr, shared }
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    let pki = pki(&["localhost"], false);
    let server = serve_tls(&pki, found("")).await;
    let url = format!("https://localhost:{}/auth", server.addr.port());
    let trusted = provider(HttpConfig::new(&url).tls(TlsConfig {
        ca_file: Some(pki.ca.clone()),
        ..TlsConfig::default()
    }));
    assert!(matches!(lookup(&trusted, "u").await, Lookup::Found(_)));
    assert_eq!(server.last().version, Version::HTTP_2, "ALPN picks h2");

    let system_roots = provider(HttpConfig::new(&url));
    assert!(
        is_ignore(&lookup(&system_roots, "u").await),
        "unknown CA is a TLS error"
    );

    let insecure = provider(HttpConfig::new(&url).tls(TlsConfig {
        danger_accept_invalid_certs: true,
        ..TlsConfig::default()
    }));
    assert!(matches!(lookup(&insecure, "u").await, Lookup::Found(_)));

    let wrong_name = provider(
        HttpConfig::new(format!("https://127.0.0.1:{}/auth", server.addr.port())).tls(TlsConfig {
            ca_file: Some(pki.ca.clone()),
            ..TlsConfig::default()
        }),
    );
    assert!(
        is_ignore(&lookup(&wrong_name, "u").await),
        "certificate is for localhost only"
    );
    let _ = std::fs::remove_dir_all(&pki.dir);
}

#[tokio::test]
async fn tls_sni_override() {
    let pki = pki(&["auth.internal.test"], false);
    let server = serve_tls(&pki, found("")).await;
    let p = provider(
        HttpConfig::new(format!("https://127.0.0.1:{}/auth", server.addr.port())).tls(TlsConfig {
            ca_file: Some(pki.ca.clone()),
            server_name: Some("auth.internal.test".into()),
            ..TlsConfig::default()
        }),
    );
    let answer = lookup(&p, "u").await;
    assert!(matches!(answer, Lookup::Found(_)), "{answer:?}");
    let _ = std::fs::remove_dir_all(&pki.dir);
}

#[tokio::test]
async fn mutual_tls() {
    let pki = pki(&["localhost"], true);
    let server = serve_tls(&pki, found("")).await;
    let url = format!("https://localhost:{}/auth", server.addr.port());
    let tls = TlsConfig {
        ca_file: Some(pki.ca.clone()),
        ..TlsConfig::default()
    };
    let anonymous = provider(HttpConfig::new(&url).tls(tls.clone()));
    assert!(is_ignore(&lookup(&anonymous, "u").await));
    assert_eq!(server.hits(), 0);
    let with_cert = provider(HttpConfig::new(&url).tls(TlsConfig {
        cert_file: Some(pki.dir.join("client.pem")),
        key_file: Some(pki.dir.join("client.key")),
        ..tls
    }));
    assert!(matches!(lookup(&with_cert, "u").await, Lookup::Found(_)));
    let _ = std::fs::remove_dir_all(&pki.dir);
}

// ---------------------------------------------------------------- configuration

#[test]
fn configuration_errors_at_construction() {
    let err = |config: HttpConfig| HttpProvider::new(config).unwrap_err();
    assert!(matches!(
        err(HttpConfig::new("ftp://x/")),
        HttpConfigError::InvalidUrl { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("not a url")),
        HttpConfigError::InvalidUrl { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://${username}.evil/")),
        HttpConfigError::InvalidUrl { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/${nope}")),
        HttpConfigError::InvalidTemplate { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").param("x", "%z")),
        HttpConfigError::InvalidTemplate { .. }
    ));
    let password = err(HttpConfig::new("http://h/").param("password", "${password}"));
    assert!(
        password
            .to_string()
            .contains("SCRAM never gives the password"),
        "{password}"
    );
    assert!(matches!(
        err(HttpConfig::new("http://h/").header("x", "%P")),
        HttpConfigError::PasswordPlaceholder { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").header("bad name", "v")),
        HttpConfigError::InvalidHeader { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").header("x", "a\nb")),
        HttpConfigError::InvalidHeader { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").not_found_status(200)),
        HttpConfigError::InvalidSetting { .. }
    ));
    assert!(matches!(
        err(HttpConfig::new("http://h/").request_timeout(Duration::ZERO)),
        HttpConfigError::InvalidSetting { .. }
    ));
    let missing_ca = TlsConfig {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..TlsConfig::default()
    };
    assert!(matches!(
        err(HttpConfig::new("https://h/").tls(missing_ca)),
        HttpConfigError::Tls(_)
    ));
    let half_mtls = TlsConfig {
        cert_file: Some("/x.pem".into()),
        ..TlsConfig::default()
    };
    assert!(matches!(
        err(HttpConfig::new("https://h/").tls(half_mtls)),
        HttpConfigError::Tls(_)
    ));
}

#[test]
fn configuration_loads_from_json() {
    let config: HttpConfig = serde_json::from_str(
        r#"{"method": "GET", "url": "http://127.0.0.1:1/auth?u=%u", "headers": {"x-c": "${clientid}"},
            "body": {"m": "${mechanism}"}, "params_mode": "form", "not_found_status": [404],
            "connect_timeout": "1s", "request_timeout": 1500, "pool_size": 2, "http_version": "http1",
            "retry_times": 3, "retry_interval": "100ms", "retry_backoff": 2.0, "user_agent": "x/1",
            "tls": {"enable_sni": false}}"#,
    )
    .unwrap();
    assert_eq!(config.method, HttpMethod::Get);
    assert_eq!(config.connect_timeout, Duration::from_secs(1));
    assert_eq!(config.request_timeout, Duration::from_millis(1500));
    assert_eq!(config.retry_interval, Duration::from_millis(100));
    assert!(!config.tls.enable_sni);
    let round_trip: HttpConfig =
        serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
    assert_eq!(round_trip, config);
    HttpProvider::new(config).unwrap();
    assert!(serde_json::from_str::<HttpConfig>(r#"{"url": "http://h/", "typo": 1}"#).is_err());
    assert!(
        serde_json::from_str::<HttpConfig>(
            r#"{"url": "http://h/", "request_timeout": "5 parsecs"}"#
        )
        .is_err()
    );
}

// ---------------------------------------------------------------- Cached and Chain

#[tokio::test]
async fn single_flight_100_concurrent_lookups_one_request() {
    let server = serve(|_, _| {
        Reply::After(
            Duration::from_millis(200),
            json_response(&record_json(HashAlgorithm::Sha256, "")),
        )
    })
    .await;
    let cached = Arc::new(Cached::new(provider(HttpConfig::new(server.url("/")))));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let cached = Arc::clone(&cached);
        tasks.spawn(async move { lookup(&*cached, "alice").await });
    }
    while let Some(answer) = tasks.join_next().await {
        assert!(matches!(answer.unwrap(), Lookup::Found(_)));
    }
    assert_eq!(server.hits(), 1);
    lookup(&*cached, "alice").await;
    assert_eq!(server.hits(), 1, "now a cache hit");
}

#[tokio::test]
async fn single_flight_survives_a_cancelled_leader() {
    let server = serve(|_, _| {
        Reply::After(
            Duration::from_millis(150),
            json_response(&record_json(HashAlgorithm::Sha256, "")),
        )
    })
    .await;
    let cached = Arc::new(Cached::new(provider(HttpConfig::new(server.url("/")))));
    let leader = {
        let cached = Arc::clone(&cached);
        tokio::spawn(async move { lookup(&*cached, "bob").await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let follower = {
        let cached = Arc::clone(&cached);
        tokio::spawn(async move { lookup(&*cached, "bob").await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    leader.abort();
    let answer = tokio::time::timeout(Duration::from_secs(2), follower)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(answer, Lookup::Found(_)));
}

#[tokio::test]
async fn cache_ttl_negative_ttl_invalidate_and_no_ignore() {
    let server = serve(|seen, _| match seen.query_pairs()["u"].as_str() {
        "ghost" => Reply::Now(StatusCode::NOT_FOUND.into_response()),
        "flaky" => Reply::Now(StatusCode::SERVICE_UNAVAILABLE.into_response()),
        "soon" => json(
            StatusCode::OK,
            record_json(
                HashAlgorithm::Sha256,
                &format!(r#","expire_at":{}"#, now_unix() + 2),
            ),
        ),
        _ => json(StatusCode::OK, record_json(HashAlgorithm::Sha256, "")),
    })
    .await;
    let http = provider(
        HttpConfig::new(server.url("/"))
            .method(HttpMethod::Get)
            .param("u", "${username}")
            .not_found_status(404),
    );
    let cached = Cached::new(http)
        .ttl(Duration::from_millis(1500))
        .negative_ttl(Duration::from_millis(600));

    let hits = || server.hits();
    lookup(&cached, "alice").await;
    lookup(&cached, "alice").await;
    assert_eq!(hits(), 1);
    lookup_as(&cached, "alice", Mechanism::ScramSha512).await;
    assert_eq!(hits(), 2, "keyed by mechanism too");
    cached.invalidate("alice");
    lookup(&cached, "alice").await;
    assert_eq!(hits(), 3);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    lookup(&cached, "alice").await;
    assert_eq!(hits(), 4, "expired after the ttl");

    assert_eq!(lookup(&cached, "ghost").await, Lookup::NotFound);
    assert_eq!(lookup(&cached, "ghost").await, Lookup::NotFound);
    assert_eq!(hits(), 5);
    tokio::time::sleep(Duration::from_millis(700)).await;
    lookup(&cached, "ghost").await;
    assert_eq!(hits(), 6, "negative ttl is shorter");

    assert!(is_ignore(&lookup(&cached, "flaky").await));
    assert!(is_ignore(&lookup(&cached, "flaky").await));
    assert_eq!(hits(), 8, "Ignore is never cached");

    cached.clear();
    assert!(cached.is_empty());
    let long = Cached::new(provider(
        HttpConfig::new(server.url("/"))
            .method(HttpMethod::Get)
            .param("u", "${username}"),
    ))
    .ttl(Duration::from_secs(60));
    lookup(&long, "soon").await;
    let before = hits();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    lookup(&long, "soon").await;
    assert!(hits() > before, "never cached past expire_at");
}

#[tokio::test]
async fn cache_capacity_evicts() {
    let server = serve(found("")).await;
    let cached = Cached::new(provider(HttpConfig::new(server.url("/")))).capacity(16);
    for i in 0..100 {
        lookup(&cached, &format!("user{i}")).await;
    }
    assert!(cached.len() <= 16, "{}", cached.len());
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn chain_order_and_not_found_policy() {
    let server = serve(|seen, _| match seen.path.as_str() {
        "/down" => Reply::Now(StatusCode::SERVICE_UNAVAILABLE.into_response()),
        "/missing" => Reply::Now(StatusCode::NOT_FOUND.into_response()),
        "/superuser" => json(
            StatusCode::OK,
            record_json(HashAlgorithm::Sha256, r#","is_superuser":true"#),
        ),
        _ => json(StatusCode::OK, record_json(HashAlgorithm::Sha256, "")),
    })
    .await;
    let http = |path: &str| provider(HttpConfig::new(server.url(path)).not_found_status(404));

    let chain = Chain::new()
        .push(http("/down"))
        .push(http("/superuser"))
        .push(http("/plain"));
    let Lookup::Found(r) = lookup(&chain, "u").await else {
        panic!()
    };
    assert!(
        r.attributes.is_superuser,
        "Ignore moves on; the first Found wins"
    );
    let paths: Vec<String> = server
        .shared
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(paths, ["/down", "/superuser"]);

    let stop = Chain::new().push(http("/missing")).push(http("/plain"));
    assert_eq!(lookup(&stop, "u").await, Lookup::NotFound);
    let go_on = Chain::new()
        .push(http("/missing"))
        .push(http("/plain"))
        .on_not_found(OnNotFound::Continue);
    assert!(matches!(lookup(&go_on, "u").await, Lookup::Found(_)));
    let all_down = Chain::new().push(http("/down")).push(http("/down"));
    let Lookup::Ignore(reason) = lookup(&all_down, "u").await else {
        panic!()
    };
    assert!(
        reason.detail().starts_with("every provider ignored"),
        "{reason:?}"
    );
    let down_then_missing = Chain::new().push(http("/down")).push(http("/missing"));
    assert_eq!(lookup(&down_then_missing, "u").await, Lookup::NotFound);
    assert_eq!(lookup(&Chain::new(), "u").await, Lookup::NotFound);

    let nested = Chain::new()
        .push(Cached::new(Chain::new().push(http("/down"))))
        .push(Cached::new(http("/plain")));
    assert!(matches!(lookup(&nested, "u").await, Lookup::Found(_)));
}

// ---------------------------------------------------------------- end to end

struct Exchange {
    outcome: Outcome,
}

/// Runs client and server state machines; credentials come from `provider`.
async fn handshake<P: CredentialProvider>(
    provider: &P,
    username: &str,
    password: &str,
) -> Exchange {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let server = ScramServer::new(ServerConfig::new([9; 32])).unwrap();
    let connection = Arc::new(ConnectionInfo::new("e2e-client"));
    let (client, client_first) = mqtt_scram::client::start(
        &mqtt_scram::client::ClientConfig::new(),
        Mechanism::ScramSha256,
        username,
        password,
        &mut rng,
    )
    .unwrap();
    let start = StartPacket::Connect {
        method: "SCRAM-SHA-256",
        data: Some(&client_first),
    };
    let need: NeedCredentials = server
        .start(
            &connection,
            start,
            Timestamp::new(Duration::ZERO, 1_700_000_000),
        )
        .unwrap();
    let lookup = provider.lookup(&need.request()).await;
    let (challenge, reply) = need.continue_with(lookup, &mut rng);
    assert_eq!(reply.reason_code, ReasonCode::ContinueAuthentication);
    let (client, client_final) = client
        .on_server_first(reply.data.as_deref().unwrap())
        .unwrap();
    let outcome = challenge.finish(
        0x18,
        "SCRAM-SHA-256",
        Some(&client_final),
        Timestamp::new(Duration::from_secs(1), 1_700_000_000),
    );
    if let Outcome::Accepted { reply, .. } = &outcome {
        client
            .on_server_final(reply.data.as_deref().unwrap())
            .unwrap();
    }
    Exchange { outcome }
}

#[tokio::test]
async fn end_to_end_credentials_over_http() {
    let server = serve(|seen, _| {
        if seen.query_pairs()["u"] == "user" {
            json(
                StatusCode::OK,
                record_json(
                    HashAlgorithm::Sha256,
                    r##","is_superuser":true,"client_attrs":{"role":"ops"},"acl":[{"permission":"allow","action":"all","topic":"#"}]"##,
                ),
            )
        } else {
            Reply::Now(StatusCode::NOT_FOUND.into_response())
        }
    })
    .await;
    let p = provider(
        HttpConfig::new(server.url("/scram"))
            .method(HttpMethod::Get)
            .param("u", "${username}")
            .not_found_status(404),
    );
    let Exchange {
        outcome: Outcome::Accepted { reply, identity },
    } = handshake(&p, "user", "pencil").await
    else {
        panic!()
    };
    assert_eq!(reply.reason_code, ReasonCode::Success);
    assert_eq!(identity.username, "user");
    assert!(identity.is_superuser());
    assert_eq!(identity.client_attrs()["role"], "ops");
    let rules = identity
        .authz()
        .and_then(|d| d.downcast_ref::<RuleSet>())
        .unwrap();
    assert_eq!(rules.len(), 1);

    let Outcome::Rejected(wrong) = handshake(&p, "user", "wrong").await.outcome else {
        panic!()
    };
    assert_eq!(wrong.reply.reason_code, ReasonCode::NotAuthorized);
}

#[tokio::test]
async fn end_to_end_service_down_looks_like_unknown_user() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let down = provider(HttpConfig::new(format!("http://{closed}/scram")));
    let Outcome::Rejected(when_down) = handshake(&down, "user", "pencil").await.outcome else {
        panic!()
    };

    let server = serve(|_, _| Reply::Now(StatusCode::NOT_FOUND.into_response())).await;
    let unknown = provider(HttpConfig::new(server.url("/scram")).not_found_status(404));
    let Outcome::Rejected(when_unknown) = handshake(&unknown, "user", "pencil").await.outcome
    else {
        panic!()
    };

    assert_eq!(when_down.reply.reason_code, ReasonCode::NotAuthorized);
    assert_eq!(
        when_down.reply, when_unknown.reply,
        "same packet, same e= message"
    );
    assert_ne!(
        when_down.error, when_unknown.error,
        "but the local reason differs"
    );
}

#[test]
fn outside_a_tokio_runtime_is_ignore_not_a_panic() {
    use futures_util::FutureExt as _;
    let p = provider(HttpConfig::new("http://127.0.0.1:9/"));
    let connection = connection();
    let request = LookupRequest::new(Mechanism::ScramSha256, "u", &connection);
    let answer = p.lookup(&request).now_or_never().expect("answers at once");
    assert!(is_ignore(&answer), "{answer:?}");
}

#[tokio::test]
async fn dot_segment_usernames_are_not_sent() {
    let server = serve(found("")).await;
    let p =
        provider(HttpConfig::new(server.url("/auth/${username}/scram")).method(HttpMethod::Get));
    for name in [".", ".."] {
        let Lookup::Ignore(reason) = lookup(&p, name).await else {
            panic!("{name}")
        };
        assert!(reason.detail().contains("dot path segment"), "{reason:?}");
    }
    assert_eq!(server.hits(), 0);
    assert!(matches!(lookup(&p, "...").await, Lookup::Found(_)));
    assert_eq!(server.last().path, "/auth/.../scram");
}
