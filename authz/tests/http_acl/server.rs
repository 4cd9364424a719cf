//! The local HTTP server the HTTP ACL tests talk to: it records each request and answers
//! as the checked topic says.

use super::*;

/// One request as the server saw it.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub user_agent: Option<String>,
    pub body: Vec<u8>,
    pub params: HashMap<String, String>,
}

#[derive(Default)]
pub struct Log {
    pub acl_calls: AtomicUsize,
    pub super_calls: AtomicUsize,
    pub last: Mutex<Seen>,
}

impl Log {
    pub fn last(&self) -> Seen {
        self.last.lock().unwrap().clone()
    }
    pub fn calls(&self) -> usize {
        self.acl_calls.load(Ordering::SeqCst)
    }
}

/// The reply is chosen by the checked topic: `<status>/<body>/...` where body is one of
/// `empty`, `ignore`, `ok`, `oknl`, `true`, `TRUE`, `false`, `one`, `noop`, `garbage`,
/// `plaintrue` (`{"ok": true}` labelled `text/plain`);
/// `allow/...` and `deny/...` are `200 {"ok": true|false}`; `slow/...` waits 3 s.
pub async fn handle(State(log): State<Arc<Log>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 16).await.unwrap().to_vec();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type").unwrap_or_default();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let mut params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if content_type.starts_with("application/json") {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for (k, v) in v.as_object().unwrap() {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            params.insert(k.clone(), text);
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(form_urlencoded::parse(&body).into_owned());
    }
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query,
        content_type,
        user_agent: header("user-agent"),
        body,
        params: params.clone(),
    };
    *log.last.lock().unwrap() = seen.clone();
    if seen.path.ends_with("/super") {
        log.super_calls.fetch_add(1, Ordering::SeqCst);
        let yes = params.get("username").map(String::as_str) == Some("root");
        return if yes {
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                r#"{"ok":true}"#,
            )
                .into_response()
        } else {
            StatusCode::FORBIDDEN.into_response()
        };
    }
    log.acl_calls.fetch_add(1, Ordering::SeqCst);
    let topic = params.get("topic").cloned().unwrap_or_default();
    let mut levels = topic.split('/');
    let first = levels.next().unwrap_or_default();
    let kind = levels.next().unwrap_or_default();
    let (status, body) = match first {
        "allow" => (200, r#"{"ok": true}"#),
        "deny" => (200, r#"{"ok": false}"#),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            (200, r#"{"ok": true}"#)
        }
        status => (
            status.parse().unwrap_or(500),
            match kind {
                "ignore" => "ignore",
                "ok" => "ok",
                "OK" => "OK",
                "oknl" => "ok\n",
                "true" => r#"{"ok": true}"#,
                "TRUE" => r#"{"OK": true}"#,
                "false" => r#"{"ok": false}"#,
                "one" => r#"{"ok": 1}"#,
                "noop" => r#"{"error": "no opinion"}"#,
                "garbage" => "<html>",
                "plaintrue" => r#"{"ok": true}"#,
                _ => "",
            },
        ),
    };
    // JSON bodies are labelled as JSON, except `plaintrue` (JSON sent as text/plain).
    let content_type = if body.starts_with('{') && kind != "plaintrue" {
        "application/json"
    } else {
        "text/plain"
    };
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", content_type)],
        body.to_string(),
    )
        .into_response()
}

pub async fn serve() -> (String, Arc<Log>) {
    let log = Arc::new(Log::default());
    let router = Router::new().fallback(handle).with_state(Arc::clone(&log));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), log)
}

pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/acl", l.local_addr().unwrap())
}

pub async fn ask(
    a: &HttpAuthorizer,
    who: &Client,
    access: mqtt_scram_authz::Access,
    topic: &str,
) -> Option<bool> {
    verdict(a.check(who, Request::new(access, topic)).await)
}

/// Like [`serve`], over TLS with a certificate for `localhost` from a fresh CA (written
/// to `ca.pem`, with a client certificate `client.pem`/`client.key` from the same CA);
/// the server requires a client certificate when `mtls`.
pub async fn serve_tls(mtls: bool) -> (String, Arc<Log>, std::path::PathBuf) {
    let pki = mqtt_scram_testkit::pki::pki(&["localhost"], mtls);
    let dir = pki.dir;
    let seen = Arc::new(Log::default());
    let router = Router::new().fallback(handle).with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    mqtt_scram_testkit::https::spawn_https(listener, pki.server_config, router);
    (format!("https://localhost:{port}"), seen, dir)
}
