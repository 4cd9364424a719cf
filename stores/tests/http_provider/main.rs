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
use mqtt_scram::provider::{
    Cached, Chain, CredentialProvider, IgnoreKind, Lookup, LookupRequest, OnNotFound,
};
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

/// The kind of an `Ignore` answer.
fn ignore_kind(lookup: &Lookup) -> Option<IgnoreKind> {
    match lookup {
        Lookup::Ignore(reason) => Some(reason.kind()),
        _ => None,
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

const ODD_NAMES: [&str; 4] = ["a&b=c", "with space+plus", "ünï/cødé?#", "100%"];

mod cache_and_chain;
mod configuration;
mod end_to_end;
mod requests;
mod responses;
mod secrets;
mod tls;
mod transport;
