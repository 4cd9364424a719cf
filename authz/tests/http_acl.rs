//! The HTTP ACL authorizer against real local HTTP servers: the EMQX v4 and amqtt presets,
//! each behaviour checked against the documentation (or source) it follows.
#![cfg(feature = "http")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mqtt_scram::ManualClock;
use mqtt_scram_authz::file::FileAcl;
use mqtt_scram_authz::http::{
    AccessCodes, HttpAclConfig, HttpAuthorizer, HttpMethod, ParamsMode, ResponseMode, TlsConfig,
};
use mqtt_scram_authz::{AsyncChain, Client, Decision, Request};

mod common;
use common::*;

#[path = "http_acl/server.rs"]
mod server;
use server::*;

// ---- EMQX v4 (docs.emqx.com/en/emqx/v4.4/advanced/acl-http.html, emqx_acl_http.erl) ----

/// "Authorization denied: The API returns status codes other than 200. Authorization
/// succeeded: API returns 200 status code. Authorization ignored: API returns 200 status
/// code with the message body of ignore."
#[tokio::test]
async fn emqx_v4_status_and_ignore_body() {
    let (base, log) = serve().await;
    let a = HttpAuthorizer::new(HttpAclConfig::emqx_v4(format!("{base}/mqtt/acl"))).unwrap();
    let c = Client::new("alice", "c1");
    assert_eq!(ask(&a, &c, P, "200/ignore").await, None, "200 + ignore");
    assert_eq!(ask(&a, &c, P, "200/empty").await, Some(true));
    assert_eq!(
        ask(&a, &c, P, "200/false").await,
        Some(true),
        "the body is not read"
    );
    for status in ["204", "401", "403", "404", "500", "503"] {
        assert_eq!(
            ask(&a, &c, P, &format!("{status}/empty")).await,
            Some(false),
            "{status}"
        );
    }
    // "ignore" lets the next authorizer decide.
    let chain = AsyncChain::new()
        .with(a)
        .with(FileAcl::parse("user alice\ntopic 200/ignore\n").unwrap());
    assert!(
        chain
            .authorize(&c, Request::new(P, "200/ignore"))
            .await
            .is_allowed()
    );
    assert!(log.calls() >= 9);
}

/// `etc/emqx_auth_http.conf`: `auth.http.acl_req.params =
/// access=%A,username=%u,clientid=%c,ipaddr=%a,topic=%t` as a form (content-type
/// `application/x-www-form-urlencoded`), "%A: 1 | 2, 1 = sub, 2 = pub", "%p: sockport of
/// server accepted".
#[tokio::test]
async fn emqx_v4_request_parameters_and_access_codes() {
    let (base, log) = serve().await;
    let a =
        HttpAuthorizer::new(HttpAclConfig::emqx_v4(format!("{base}/mqtt/acl?port=%p"))).unwrap();
    let mut c = Client::new("alice", "c1");
    c.peer = Some("127.0.0.9:50123".parse().unwrap());
    c.listener_port = Some(1883);
    ask(&a, &c, P, "200/empty").await;
    let seen = log.last();
    assert_eq!(seen.method, "POST");
    assert!(
        seen.content_type
            .starts_with("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.user_agent, None, "EMQX sends no user-agent");
    for (key, value) in [
        ("access", "2"),
        ("username", "alice"),
        ("clientid", "c1"),
        ("ipaddr", "127.0.0.9"),
        ("topic", "200/empty"),
        ("port", "1883"),
    ] {
        assert_eq!(
            seen.params.get(key).map(String::as_str),
            Some(value),
            "{key}: {seen:?}"
        );
    }
    ask(&a, &c, S, "200/empty").await;
    assert_eq!(
        log.last().params["access"],
        "1",
        "subscribe is 1 in EMQX v4"
    );
    // "When the request method is POST, the final format is determined by content-type":
    // every value a string (`bin_kw/1`), the access code included.
    let json = HttpAuthorizer::new(
        HttpAclConfig::emqx_v4(format!("{base}/mqtt/acl"))
            .header("content-type", "application/json"),
    )
    .unwrap();
    ask(&json, &c, P, "200/empty").await;
    let body: serde_json::Value = serde_json::from_slice(&log.last().body).unwrap();
    assert_eq!(body["access"], "2", "{body}");
    assert_eq!(body["clientid"], "c1");
    // GET puts the parameters in the query string.
    let get = HttpAuthorizer::new(
        HttpAclConfig::emqx_v4(format!("{base}/mqtt/acl")).method(HttpMethod::Get),
    )
    .unwrap();
    ask(&get, &c, S, "200/empty").await;
    let seen = log.last();
    assert_eq!(seen.method, "GET");
    assert!(seen.query.contains("access=1"), "{seen:?}");
    assert!(seen.body.is_empty());
}

/// `emqx_acl_http:check_acl/5`: a username starting with `$` is ignored, and a request
/// error is "ignore" (`{error, _} -> ok`), never a deny or an allow.
#[tokio::test]
async fn emqx_v4_dollar_usernames_and_failures_are_ignored() {
    let (base, log) = serve().await;
    let a = HttpAuthorizer::new(HttpAclConfig::emqx_v4(format!("{base}/mqtt/acl"))).unwrap();
    assert_eq!(
        ask(&a, &Client::new("$sys", "c"), P, "200/empty").await,
        None
    );
    assert_eq!(log.calls(), 0);
    let down =
        HttpAuthorizer::new(HttpAclConfig::emqx_v4(dead_url()).timeout(Duration::from_millis(300)))
            .unwrap();
    assert_eq!(
        ask(&down, &Client::new("u", "c"), P, "200/empty").await,
        None
    );
}

/// `emqx_auth_http:is_superuser/2`: `{ok, 200, _Body} -> true`; anything else false.
#[tokio::test]
async fn emqx_v4_superuser_request() {
    let (base, log) = serve().await;
    let a = HttpAuthorizer::new(
        HttpAclConfig::emqx_v4(format!("{base}/mqtt/acl"))
            .superuser_url(format!("{base}/mqtt/super")),
    )
    .unwrap();
    let d = a
        .check(&Client::new("root", "c1"), Request::new(P, "403/x"))
        .await;
    assert_eq!(d.label(), Some("superuser"));
    let seen = log.last();
    assert_eq!(seen.params["clientid"], "c1");
    assert!(!seen.params.contains_key("topic"));
    assert_eq!(
        ask(&a, &Client::new("bob", "c2"), P, "403/x").await,
        Some(false)
    );
}

// ---- amqtt (amqtt/contrib/http.py, docs/plugins/http.md) ----

/// `HttpConfig`: `request_method: RequestMethod = RequestMethod.GET`, `params_mode =
/// ParamsMode.JSON`, `user_agent: str = "amqtt"`; `_get_params`: JSON mode sends
/// `json=payload` whatever the method; `acc`: PUBLISH 2, SUBSCRIBE 4, RECEIVE 1.
#[tokio::test]
async fn amqtt_defaults_get_with_a_json_body() {
    let (base, log) = serve().await;
    let a = HttpAuthorizer::new(HttpAclConfig::amqtt(format!("{base}/acl"))).unwrap();
    let c = Client::new("alice", "c1");
    ask(&a, &c, P, "200/true").await;
    let seen = log.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.user_agent.as_deref(), Some("amqtt"));
    assert!(
        seen.content_type.starts_with("application/json"),
        "{seen:?}"
    );
    assert!(seen.query.is_empty());
    let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"username": "alice", "client_id": "c1", "topic": "200/true", "acc": 2})
    );
    for (access, code) in [(P, "2"), (S, "4"), (R, "1")] {
        ask(&a, &c, access, "200/true").await;
        assert_eq!(log.last().params["acc"], code, "{access:?}");
    }
    // `params_mode: form` with GET: the query string.
    let form = HttpAuthorizer::new(
        HttpAclConfig::amqtt(format!("{base}/acl")).params_mode(ParamsMode::Form),
    )
    .unwrap();
    ask(&form, &c, S, "200/true").await;
    assert!(log.last().query.contains("acc=4"));
}

/// json mode: "status code: 2xx; response: {'ok': True} (granted) or {'ok': False} (denied)
/// or {'error': ...} (noop)"; `_send_request`: `if not self._is_2xx(r): return False`;
/// `data = {k.lower(): v for k, v in data.items()}`.
#[tokio::test]
async fn amqtt_json_mode() {
    let (base, log) = serve().await;
    let a = HttpAuthorizer::new(HttpAclConfig::amqtt(format!("{base}/acl")).retries(
        3,
        Duration::from_millis(1),
        1.0,
    ))
    .unwrap();
    let c = Client::new("alice", "c1");
    assert_eq!(ask(&a, &c, P, "200/true").await, Some(true));
    assert_eq!(
        ask(&a, &c, P, "200/TRUE").await,
        Some(true),
        "keys are lowercased"
    );
    assert_eq!(ask(&a, &c, P, "200/false").await, Some(false));
    assert_eq!(ask(&a, &c, P, "200/noop").await, None);
    let before = log.calls();
    assert_eq!(
        ask(&a, &c, P, "503/true").await,
        Some(false),
        "non-2xx denies"
    );
    assert_eq!(log.calls(), before + 1, "a 5xx is an answer, not retried");
    assert_eq!(ask(&a, &c, P, "404/true").await, Some(false));
    assert_eq!(
        ask(&a, &c, P, "200/one").await,
        Some(false),
        "not a boolean"
    );
    assert_eq!(ask(&a, &c, P, "200/garbage").await, Some(false));
    // aiohttp's `response.json()` refuses a reply not labelled JSON: the operation fails.
    assert_eq!(ask(&a, &c, P, "200/plaintrue").await, Some(false));
    // A later authorizer cannot grant what the service denied with a 5xx.
    let chain = AsyncChain::new()
        .with(a)
        .with(FileAcl::parse("topic 503/true\n").unwrap());
    assert!(
        !chain
            .authorize(&c, Request::new(P, "503/true"))
            .await
            .is_allowed()
    );
}

/// text mode: `return self._is_2xx(r) and (await r.text()).lower() == "ok"`; "in text mode,
/// noop (no operation) is not supported".
#[tokio::test]
async fn amqtt_text_mode() {
    let (base, _log) = serve().await;
    let a = HttpAuthorizer::new(
        HttpAclConfig::amqtt(format!("{base}/acl")).response_mode(ResponseMode::Text),
    )
    .unwrap();
    let c = Client::new("alice", "c1");
    assert_eq!(ask(&a, &c, P, "200/ok").await, Some(true));
    assert_eq!(ask(&a, &c, P, "200/OK").await, Some(true));
    assert_eq!(ask(&a, &c, P, "200/oknl").await, Some(false), "not trimmed");
    assert_eq!(ask(&a, &c, P, "500/ok").await, Some(false));
    let chain = AsyncChain::new()
        .with(a)
        .with(FileAcl::parse("topic 503/empty\n").unwrap());
    assert!(
        !chain
            .authorize(&c, Request::new(P, "503/empty"))
            .await
            .is_allowed()
    );
}

/// status mode: "2xx (granted) or 4xx(denied) or 5xx (noop)".
#[tokio::test]
async fn amqtt_status_mode() {
    let (base, _log) = serve().await;
    let a = HttpAuthorizer::new(
        HttpAclConfig::amqtt(format!("{base}/acl")).response_mode(ResponseMode::Status),
    )
    .unwrap();
    let c = Client::new("alice", "c1");
    assert_eq!(ask(&a, &c, P, "204/empty").await, Some(true));
    assert_eq!(ask(&a, &c, P, "403/empty").await, Some(false));
    assert_eq!(ask(&a, &c, P, "503/empty").await, None);
}

/// A failed request never allows: amqtt raises (the operation fails), so deny; the
/// EMQX v4 preset says "ignore"; a chain with default deny turns that into a deny.
#[tokio::test]
async fn failures_never_allow() {
    let (base, _log) = serve().await;
    let c = Client::new("alice", "c1");
    let slow = HttpAuthorizer::new(
        HttpAclConfig::amqtt(format!("{base}/acl")).timeout(Duration::from_millis(200)),
    )
    .unwrap();
    assert_eq!(ask(&slow, &c, P, "slow/x").await, Some(false), "timeout");
    let refused =
        HttpAuthorizer::new(HttpAclConfig::amqtt(dead_url()).timeout(Duration::from_millis(200)))
            .unwrap();
    assert_eq!(ask(&refused, &c, P, "allow/x").await, Some(false));
    let lenient = HttpAuthorizer::new(
        HttpAclConfig::new(dead_url())
            .failure_denies(false)
            .timeout(Duration::from_millis(200)),
    )
    .unwrap();
    assert_eq!(ask(&lenient, &c, P, "allow/x").await, None);
    let chain = AsyncChain::new().with(lenient);
    assert_eq!(
        verdict(chain.authorize(&c, rq(P, "allow/x", 0, false)).await),
        Some(false)
    );
}

/// Every preset setting can be overridden one by one.
#[tokio::test]
async fn preset_settings_are_overridable() {
    let (base, log) = serve().await;
    let a = HttpAuthorizer::new(
        HttpAclConfig::amqtt(format!("{base}/acl"))
            .method(HttpMethod::Put)
            .params_mode(ParamsMode::Form)
            .access_codes(AccessCodes::EMQX_V4)
            .user_agent("broker/1")
            .param("extra", "${client_attrs.tenant}")
            .header("authorization", "Bearer t0k3n"),
    )
    .unwrap();
    let mut c = Client::new("alice", "c1");
    c.client_attrs.insert("tenant".into(), "acme".into());
    ask(&a, &c, S, "200/true").await;
    let seen = log.last();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.user_agent.as_deref(), Some("broker/1"));
    assert_eq!(seen.params["acc"], "1");
    assert_eq!(seen.params["extra"], "acme");
}

#[tokio::test]
async fn url_placeholders_superuser_and_cache_on_an_injected_clock() {
    let (base, log) = serve().await;
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let cfg = HttpAclConfig::new(format!("{base}/acl/${{clientid}}/%A/json?t=${{topic}}"))
        .superuser_url(format!("{base}/super"))
        .cache(Duration::from_secs(60), 100);
    let a = HttpAuthorizer::with_clock(cfg, clock.clone()).unwrap();
    let c = Client::new("alice", "c/1");
    assert!(a.check(&c, Request::new(P, "allow/x")).await.is_allowed());
    assert!(a.check(&c, Request::new(P, "allow/x")).await.is_allowed());
    assert!(!a.check(&c, Request::new(P, "deny/x")).await.is_allowed());
    assert!(!a.check(&c, Request::new(P, "deny/x")).await.is_allowed());
    assert_eq!(log.calls(), 2, "answers cached");
    assert_eq!(
        log.super_calls.load(Ordering::SeqCst),
        1,
        "superuser asked once"
    );
    clock.advance(Duration::from_secs(61));
    assert!(a.check(&c, Request::new(P, "allow/x")).await.is_allowed());
    assert_eq!(log.calls(), 3, "expired after the TTL, without sleeping");
    a.forget("c/1");
    assert!(a.check(&c, Request::new(P, "allow/x")).await.is_allowed());
    assert_eq!(log.calls(), 4);
    assert_eq!(log.super_calls.load(Ordering::SeqCst), 2);
    let d = a
        .check(&Client::new("root", "c2"), Request::new(P, "deny/x"))
        .await;
    assert_eq!(d.label(), Some("superuser"));
    assert_eq!(log.calls(), 4);
    // Placeholders cannot move the request to another host.
    assert!(HttpAuthorizer::new(HttpAclConfig::new("http://${username}.example/acl")).is_err());
    assert!(HttpAuthorizer::new(HttpAclConfig::new("http://h/${password}")).is_err());
    let _ = Decision::NoMatch;
}

#[tokio::test]
async fn tls_with_a_ca_file_and_client_certificate() {
    let c = Client::new("alice", "c1");
    let (base, seen, dir) = serve_tls(false).await;
    let ca_only = TlsConfig {
        ca_file: Some(dir.join("ca.pem")),
        ..TlsConfig::default()
    };
    let cfg = HttpAclConfig::new(format!("{base}/acl/${{action}}/json"))
        .tls(ca_only.clone())
        .timeout(Duration::from_secs(2));
    let a = HttpAuthorizer::new(cfg).unwrap();
    assert_eq!(
        verdict(a.check(&c, Request::new(P, "allow/x")).await),
        Some(true)
    );
    assert_eq!(
        verdict(a.check(&c, Request::new(P, "deny/x")).await),
        Some(false)
    );
    assert_eq!(seen.last().params["topic"], "deny/x");
    assert_eq!(seen.acl_calls.load(Ordering::SeqCst), 2);
    // Without the CA file the system roots do not know the server: no answer, no allow.
    let system_roots = HttpAuthorizer::new(
        HttpAclConfig::new(format!("{base}/acl/json")).timeout(Duration::from_secs(2)),
    )
    .unwrap();
    assert_eq!(
        verdict(system_roots.check(&c, Request::new(P, "allow/x")).await),
        None
    );
    assert_eq!(seen.acl_calls.load(Ordering::SeqCst), 2, "never reached");
    let _ = std::fs::remove_dir_all(&dir);

    // Mutual TLS: the server wants a certificate from its CA.
    let (base, seen, dir) = serve_tls(true).await;
    let ca_only = TlsConfig {
        ca_file: Some(dir.join("ca.pem")),
        ..TlsConfig::default()
    };
    let no_cert = HttpAuthorizer::new(
        HttpAclConfig::new(format!("{base}/acl/json"))
            .tls(ca_only.clone())
            .timeout(Duration::from_secs(2)),
    )
    .unwrap();
    assert_eq!(
        verdict(no_cert.check(&c, Request::new(P, "allow/x")).await),
        None
    );
    let with_cert = HttpAuthorizer::new(
        HttpAclConfig::new(format!("{base}/acl/json"))
            .tls(TlsConfig {
                cert_file: Some(dir.join("client.pem")),
                key_file: Some(dir.join("client.key")),
                ..ca_only
            })
            .timeout(Duration::from_secs(2)),
    )
    .unwrap();
    assert_eq!(
        verdict(with_cert.check(&c, Request::new(P, "allow/x")).await),
        Some(true)
    );
    assert_eq!(seen.acl_calls.load(Ordering::SeqCst), 1);
    // A missing CA file is a construction error, not a silent fallback.
    let missing = HttpAclConfig::new(format!("{base}/acl/json")).tls(TlsConfig {
        ca_file: Some(dir.join("nonexistent.pem")),
        ..TlsConfig::default()
    });
    assert!(HttpAuthorizer::new(missing).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
