//! The amqtt contract over plain HTTP, for what the real broker cannot show: the
//! `superuser_uri` path (amqtt 0.12.1 declares it but never calls it), the exact answers of
//! each `response_mode` read as `AuthHttpPlugin._send_request` reads them
//! (`amqtt/contrib/http.py`), the store-down answers of the ACL path, and bad input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod amqtt_support;

use amqtt_support::{PASSWORD, Service};
use reqwest::StatusCode;

/// A plain-HTTP client (reqwest needs a rustls provider even so).
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// What `AuthHttpPlugin._send_request` (amqtt/contrib/http.py) returns for an answer:
/// `Some(true)` allow, `Some(false)` deny, `None` no opinion.
fn plugin_reads(mode: &str, status: StatusCode, body: &str) -> Option<bool> {
    let is_2xx = status.is_success();
    match mode {
        // `return self._is_2xx(r) and (await r.text()).lower() == "ok"`
        "text" => Some(is_2xx && body.to_lowercase() == "ok"),
        // 2xx True, 4xx False, anything else None
        "status" if is_2xx => Some(true),
        "status" if status.is_client_error() => Some(false),
        "status" => None,
        // non-2xx False; else `data.get("ok")` with the keys lower-cased
        _ => {
            if !is_2xx {
                return Some(false);
            }
            let value: serde_json::Value = serde_json::from_str(body).unwrap();
            let map = value.as_object().unwrap();
            map.iter()
                .find(|(k, _)| k.to_lowercase() == "ok")
                .map(|(_, v)| v.as_bool().unwrap())
        }
    }
}

async fn ask(service: &Service, mode: &str, path: &str, json: serde_json::Value) -> Option<bool> {
    let response = client()
        .post(service.url(path))
        .json(&json)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    plugin_reads(mode, status, &body)
}

#[test]
fn every_mode_answers_as_the_plugin_reads_it() {
    for mode in ["status", "json", "text"] {
        let Some(mut service) = Service::start(&format!("[amqtt]\nresponse_mode = \"{mode}\""))
        else {
            return;
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        let s = &service;
        let user = |name: &str, password: &str| serde_json::json!({"username": name, "password": password, "client_id": "c1"});
        let acl = |name: &str, topic: &str, acc: u8| serde_json::json!({"username": name, "client_id": "c1", "topic": topic, "acc": acc});
        rt.block_on(async {
            assert_eq!(
                ask(s, mode, "/amqtt/user", user("alice", PASSWORD)).await,
                Some(true)
            );
            assert_eq!(
                ask(s, mode, "/amqtt/user", user("alice", "nope")).await,
                Some(false)
            );
            assert_eq!(
                ask(s, mode, "/amqtt/user", user("mallory", PASSWORD)).await,
                Some(false)
            );
            // `password: null` (a client without a password): refused.
            let no_password =
                serde_json::json!({"username": "alice", "password": null, "client_id": "c"});
            assert_eq!(ask(s, mode, "/amqtt/user", no_password).await, Some(false));
            // superuser_uri, with the user plugin's fields.
            assert_eq!(
                ask(s, mode, "/amqtt/superuser", user("root", "")).await,
                Some(true)
            );
            assert_eq!(
                ask(s, mode, "/amqtt/superuser", user("alice", "")).await,
                Some(false)
            );
            // acc 1 receive, 2 publish, 3 both, 4 subscribe.
            for acc in [1, 2, 3, 4] {
                assert_eq!(
                    ask(s, mode, "/amqtt/acl", acl("alice", "alice/t", acc)).await,
                    Some(true)
                );
                assert_eq!(
                    ask(s, mode, "/amqtt/acl", acl("root", "any/t", acc)).await,
                    Some(true)
                );
            }
            // No rule matched: the mode's no-opinion (text mode has none: refused).
            let no_rule = if mode == "text" { Some(false) } else { None };
            assert_eq!(
                ask(s, mode, "/amqtt/acl", acl("alice", "other/t", 2)).await,
                no_rule
            );
        });
        // The store down: never "ok"; the mode's no-opinion where it has one.
        service.redis.server.stop();
        let s = &service;
        rt.block_on(async {
            let down = if mode == "text" { Some(false) } else { None };
            assert_eq!(
                ask(s, mode, "/amqtt/user", user("alice", PASSWORD)).await,
                down
            );
            assert_eq!(
                ask(s, mode, "/amqtt/superuser", user("root", "")).await,
                down
            );
            assert_eq!(
                ask(s, mode, "/amqtt/acl", acl("alice", "alice/t", 4)).await,
                down
            );
        });
    }
}

#[test]
fn forms_and_methods() {
    let Some(service) = Service::start("[amqtt]\nresponse_mode = \"status\"") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = client();
        let fields = [
            ("username", "alice"),
            ("password", PASSWORD),
            ("client_id", "c"),
        ];
        // GET with the form in the query string (aiohttp `params=`).
        let r = client
            .get(service.url("/amqtt/user"))
            .query(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // PUT with an urlencoded body (aiohttp `FormData`).
        let r = client
            .put(service.url("/amqtt/user"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let acl = [
            ("username", "alice"),
            ("client_id", "c"),
            ("topic", "other/x"),
            ("acc", "4"),
        ];
        let r = client
            .post(service.url("/amqtt/acl"))
            .form(&acl)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_server_error(),
            "no rule: no opinion, got {}",
            r.status()
        );
        // DELETE is not a plugin method.
        let r = client
            .delete(service.url("/amqtt/user"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    });
}

#[test]
fn bad_input_is_a_clear_4xx() {
    let Some(service) = Service::start("[amqtt]") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = client();
        let post = |path: &str, body: Vec<u8>, content_type: &str| {
            client
                .post(service.url(path))
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        let json = "application/json";
        for (body, why) in [
            (&b"{\"username\":"[..], "malformed JSON"),
            (b"[1,2]", "not an object"),
            (b"{\"password\":\"x\"}", "no username"),
            (
                b"{\"username\":{\"a\":1},\"password\":\"x\"}",
                "nested value",
            ),
        ] {
            let r = post("/amqtt/user", body.to_vec(), json).await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{why}");
            assert!(
                !r.text().await.unwrap().trim().is_empty(),
                "{why}: a reason"
            );
        }
        let r = post(
            "/amqtt/acl",
            br#"{"username":"a","topic":"t","acc":7}"#.to_vec(),
            json,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "acc 7");
        let r = post("/amqtt/acl", br#"{"username":"a","acc":2}"#.to_vec(), json)
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no topic");
        let mut big = b"{\"username\":\"".to_vec();
        big.resize(70 * 1024, b'a');
        big.extend_from_slice(b"\"}");
        let r = post("/amqtt/user", big, json).await.unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let r = post("/amqtt/nope", b"{}".to_vec(), json).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // The service still answers.
        let r = post(
            "/amqtt/user",
            br#"{"username":"alice","password":"pencil"}"#.to_vec(),
            json,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    });
}
