//! The VerneMQ contract, conformance: the requests `vmq_webhooks` sends (argument names and
//! shapes from `apps/vmq_webhooks/src/vmq_webhooks_plugin.erl` — `auth_on_register/5`,
//! `auth_on_register_m5/6`, `auth_on_subscribe(_m5)`, `auth_on_publish(_m5)`,
//! `encode_payload/3` — and the handler of its test suite,
//! `apps/vmq_webhooks/test/webhooks_handler.erl`), POSTed with the `vernemq-hook` header
//! as `call_endpoint/4` does, and our answers read with the rules of
//! `decode_endpoint_response/4`, `handle_response/3,4` and `parse_max_age/1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod amqtt_support;

use amqtt_support::{PASSWORD, Service};
use mqtt_scram_testkit::TempDir;
use serde_json::{Value, json};

/// What `vmq_webhooks_plugin` makes of an answer.
#[derive(Clone, Debug, PartialEq)]
enum Vmq {
    /// `ok` with the modifiers (or `topics`), and the cache time from `cache-control`.
    Ok(Value, Option<u64>),
    Next,
    /// `{error, Reason}` (a JSON error, or `{invalid_response_code, Code}`).
    Error(String),
}

/// `call_endpoint_sync` / `finalize_auth_endpoint_response`: only 200 is decoded;
/// `handle_response/3`: `result` ok / next / `{"error": …}`; `parse_headers`: max-age.
async fn call(service: &Service, hook: &str, args: Value) -> Vmq {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(service.url("/vernemq"))
        .header("content-type", "application/json")
        .header("vernemq-hook", hook)
        .body(args.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status != 200 {
        return Vmq::Error(format!("invalid_response_code {status}"));
    }
    let max_age = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once("max-age=").map(|(_, n)| n.to_owned()))
        .and_then(|n| {
            let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        });
    let body: Value =
        serde_json::from_str(&response.text().await.unwrap()).expect("received_payload_not_json");
    match &body["result"] {
        Value::String(s) if s == "ok" => {
            let mods = if hook == "auth_on_subscribe" {
                body.get("topics").cloned().unwrap_or(json!([]))
            } else {
                body.get("modifiers").cloned().unwrap_or(json!([]))
            };
            Vmq::Ok(mods, max_age)
        }
        Value::String(s) if s == "next" => Vmq::Next,
        Value::Object(e) => Vmq::Error(e.get("error").map_or("unknown_error".into(), |v| {
            v.as_str().unwrap_or("unknown_error").to_owned()
        })),
        other => panic!("handle_response has no clause for {other}"),
    }
}

/// `auth_on_register/5` (v3) arguments as `encode_payload/3` names them.
fn register(client_id: &str, username: Value, password: Value) -> Value {
    json!({"peer_addr": "127.0.0.1", "peer_port": 12345, "mountpoint": "",
           "client_id": client_id, "username": username, "password": password,
           "clean_session": true})
}

/// `auth_on_register_m5/6`: `clean_start` and `properties` instead of `clean_session`.
fn register_m5(client_id: &str, username: &str, password: &str) -> Value {
    json!({"peer_addr": "127.0.0.1", "peer_port": 12345, "mountpoint": "",
           "client_id": client_id, "username": username, "password": password,
           "clean_start": true, "properties": {}})
}

fn publish(username: &str, topic: &str) -> Value {
    json!({"username": username, "mountpoint": "", "client_id": "c1", "qos": 1,
           "topic": topic, "payload": "aGVsbG8=", "retain": false})
}

fn subscribe(username: &str, topics: &[&str]) -> Value {
    let topics: Vec<Value> = topics
        .iter()
        .map(|t| json!({"topic": t, "qos": 1}))
        .collect();
    json!({"username": username, "mountpoint": "", "client_id": "c1", "topics": topics})
}

/// `encode_payload(auth_on_subscribe_m5, …)`: each topic with its subscription options.
fn subscribe_m5(username: &str, topics: &[&str]) -> Value {
    let topics: Vec<Value> = topics
        .iter()
        .map(|t| {
            json!({"topic": t, "qos": 1, "no_local": false, "rap": false,
                        "retain_handling": "send_retain"})
        })
        .collect();
    json!({"username": username, "mountpoint": "", "client_id": "c1", "topics": topics,
           "properties": {}})
}

#[test]
fn register_subscribe_publish() {
    let Some(mut service) = Service::start("[vernemq]\ncache_max_age = 300") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = &service;
    rt.block_on(async {
        let ok = Vmq::Ok(json!([]), Some(300));
        let refused = Vmq::Error("not_allowed".into());
        // Passwords (v3 and m5): right, wrong, unknown user; no credentials: next.
        let right = register("c1", json!("alice"), json!(PASSWORD));
        assert_eq!(call(s, "auth_on_register", right).await, ok);
        let wrong = register("c1", json!("alice"), json!("wrong"));
        assert_eq!(call(s, "auth_on_register", wrong).await, refused);
        let unknown = register("c1", json!("mallory"), json!(PASSWORD));
        assert_eq!(call(s, "auth_on_register", unknown).await, refused);
        let anonymous = register("c1", Value::Null, Value::Null);
        assert_eq!(call(s, "auth_on_register", anonymous).await, Vmq::Next);
        let m5 = register_m5("c1", "alice", PASSWORD);
        assert_eq!(call(s, "auth_on_register_m5", m5).await, ok);
        let m5 = register_m5("c1", "alice", "nope");
        assert_eq!(call(s, "auth_on_register_m5", m5).await, refused);

        // Publish: the ACL file grants alice alice/#; no rule elsewhere: next.
        for hook in ["auth_on_publish", "auth_on_publish_m5"] {
            assert_eq!(call(s, hook, publish("alice", "alice/t")).await, ok);
            assert_eq!(call(s, hook, publish("alice", "other/t")).await, Vmq::Next);
        }

        // Subscribe v3: all allowed ok; mixed: `topics` with 128 for the refused one
        // (webhooks_handler.erl: `#{topic => <<"forbidden/topic">>, qos => 128}`).
        let all = subscribe("alice", &["alice/a", "alice/#"]);
        assert_eq!(call(s, "auth_on_subscribe", all).await, ok);
        let mixed = subscribe("alice", &["alice/a", "other/b"]);
        assert_eq!(
            call(s, "auth_on_subscribe", mixed).await,
            Vmq::Ok(
                json!([{"topic": "alice/a", "qos": 1}, {"topic": "other/b", "qos": 128}]),
                None
            )
        );
        let none = subscribe("alice", &["other/b"]);
        assert_eq!(call(s, "auth_on_subscribe", none).await, Vmq::Next);
        // Subscribe m5: `modifiers.topics`, 135 for the refused one, options kept for the
        // granted one (`normalize_sub_topics` needs them for QoS 0..2).
        let mixed = subscribe_m5("alice", &["alice/a", "other/b"]);
        assert_eq!(
            call(s, "auth_on_subscribe_m5", mixed).await,
            Vmq::Ok(
                json!({"topics": [
                    {"topic": "alice/a", "qos": 1, "no_local": false, "rap": false,
                     "retain_handling": "send_retain"},
                    {"topic": "other/b", "qos": 135}]}),
                None
            )
        );
        let all = subscribe_m5("alice", &["alice/x"]);
        assert_eq!(call(s, "auth_on_subscribe_m5", all).await, ok);
    });
    // The store down: never ok.
    service.redis.server.stop();
    let s = &service;
    rt.block_on(async {
        let right = register("c1", json!("alice"), json!(PASSWORD));
        assert_eq!(
            call(s, "auth_on_register", right).await,
            Vmq::Error("invalid_response_code 503".into())
        );
        assert_eq!(
            call(s, "auth_on_publish", publish("alice", "alice/t")).await,
            Vmq::Error("invalid_response_code 503".into())
        );
    });
}

#[test]
fn no_cache_header_by_default_and_bad_input() {
    let Some(service) = Service::start("[vernemq]") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let right = register("c1", json!("alice"), json!(PASSWORD));
        assert_eq!(
            call(&service, "auth_on_register", right).await,
            Vmq::Ok(json!([]), None)
        );
        // Hooks not served (on_auth_m5 included) are refused, never answered ok.
        for hook in ["on_auth_m5", "on_register", "nonsense"] {
            let answer = call(&service, hook, json!({"username": "alice"})).await;
            assert_eq!(
                answer,
                Vmq::Error("invalid_response_code 400".into()),
                "{hook}"
            );
        }
        let client = reqwest::Client::new();
        let send = |hook: Option<&str>, body: &'static str| {
            let mut request = client.post(service.url("/vernemq")).body(body);
            if let Some(hook) = hook {
                request = request.header("vernemq-hook", hook);
            }
            request.send()
        };
        for (hook, body, why) in [
            (None, "{}", "no hook header"),
            (Some("auth_on_register"), "{\"username\":", "malformed JSON"),
            (Some("auth_on_register"), "[]", "not an object"),
            (
                Some("auth_on_register"),
                "{\"username\":\"a\"}",
                "no password field",
            ),
            (
                Some("auth_on_publish"),
                "{\"username\":\"a\",\"client_id\":\"c\"}",
                "no topic",
            ),
            (
                Some("auth_on_subscribe"),
                "{\"username\":\"a\",\"client_id\":\"c\"}",
                "no topics",
            ),
            (
                Some("auth_on_subscribe"),
                "{\"username\":\"a\",\"client_id\":\"c\",\"topics\":[{\"topic\":\"t\",\"qos\":9}]}",
                "bad qos",
            ),
        ] {
            let r = send(hook, body).await.unwrap();
            assert_eq!(r.status().as_u16(), 400, "{why}");
        }
    });
}

/// An HS256 JWT made by Python's standard library (an independent implementation).
fn jwt(secret: &str, claims: &str) -> String {
    let script = "import base64,hmac,hashlib,sys\n\
        b=lambda d: base64.urlsafe_b64encode(d).rstrip(b'=').decode()\n\
        h=b(b'{\"alg\":\"HS256\",\"typ\":\"JWT\"}')+'.'+b(sys.argv[2].encode())\n\
        s=hmac.new(sys.argv[1].encode(), h.encode(), hashlib.sha256).digest()\n\
        print(h+'.'+b(s))";
    let out = std::process::Command::new("python3")
        .args(["-c", script, secret, claims])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn jwt_passwords_as_the_gojek_plugin() {
    let dir = TempDir::new("vernemq-jwt");
    let key = dir.write("jwt.key", "s3cret\n");
    let table = format!(
        "[vernemq]\n[vernemq.jwt]\nsecret_key_file = \"{}\"",
        key.display()
    );
    let Some(service) = Service::start(&table) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let good = jwt("s3cret", r#"{"rid":"device-7"}"#);
        let other_user = jwt("s3cret", r#"{"rid":"device-8"}"#);
        let other_key = jwt("not-it", r#"{"rid":"device-7"}"#);
        let ok = Vmq::Ok(json!([]), None);
        let refused = Vmq::Error("not_allowed".into());
        let reg = |password: &str| register("c1", json!("device-7"), json!(password));
        assert_eq!(call(&service, "auth_on_register", reg(&good)).await, ok);
        assert_eq!(
            call(&service, "auth_on_register", reg(&other_user)).await,
            refused
        );
        assert_eq!(
            call(&service, "auth_on_register", reg(&other_key)).await,
            refused
        );
        // A clear password still goes to the store.
        let clear = register("c1", json!("alice"), json!(PASSWORD));
        assert_eq!(call(&service, "auth_on_register", clear).await, ok);
    });
}

/// `on_auth_m5` arguments as `vmq_webhooks_plugin:on_auth_m5/3` sends them, the
/// Authentication Data base64 (`encode_property/3`).
fn on_auth(client_id: &str, data: &[u8]) -> Value {
    use base64::Engine as _;
    json!({"username": null, "mountpoint": "", "client_id": client_id,
           "properties": {"p_authentication_method": "SCRAM-SHA-256",
                          "p_authentication_data":
                              base64::engine::general_purpose::STANDARD.encode(data)}})
}

/// `normalize_property(?P_AUTHENTICATION_DATA, …)`: the data base64-decoded; and the
/// reason code and method `vmq_mqtt5_fsm` matches on.
fn auth_step(answer: Vmq) -> (u64, Vec<u8>) {
    use base64::Engine as _;
    let Vmq::Ok(mods, None) = answer else {
        panic!("on_auth_m5 refused: {answer:?}")
    };
    let props = &mods["properties"];
    assert_eq!(props["p_authentication_method"], "SCRAM-SHA-256");
    let data = base64::engine::general_purpose::STANDARD
        .decode(props["p_authentication_data"].as_str().unwrap())
        .unwrap();
    (mods["reason_code"].as_u64().unwrap(), data)
}

/// One SCRAM login (the engine's client) over on_auth_m5; `Err` when refused.
async fn scram_login(
    service: &Service,
    client_id: &str,
    user: &str,
    password: &str,
) -> Result<(), Vmq> {
    use mqtt_scram::Mechanism;
    use mqtt_scram::client::{self, ClientConfig};
    let mut rng = rand::rng();
    let (state, first) = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        user,
        password,
        &mut rng,
    )
    .unwrap();
    let (code, server_first) =
        auth_step(call(service, "on_auth_m5", on_auth(client_id, &first)).await);
    assert_eq!(code, 24, "CONTINUE_AUTHENTICATION");
    let (state, last) = state.on_server_first(&server_first).unwrap();
    match call(service, "on_auth_m5", on_auth(client_id, &last)).await {
        ok @ Vmq::Ok(..) => {
            let (code, server_final) = auth_step(ok);
            assert_eq!(code, 0, "SUCCESS");
            state.on_server_final(&server_final).unwrap();
            Ok(())
        }
        other => Err(other),
    }
}

#[test]
fn scram_over_on_auth_m5() {
    let Some(service) = Service::start("[vernemq]\nmax_handshakes = 100") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = &service;
    rt.block_on(async {
        // A flood of unfinished handshakes (three times what the table holds) first.
        for i in 0..300 {
            let (_, first) = mqtt_scram::client::start(
                &mqtt_scram::client::ClientConfig::new(),
                mqtt_scram::Mechanism::ScramSha256,
                "mallory",
                "x",
                &mut rand::rng(),
            )
            .unwrap();
            {
                let (code, _) =
                    auth_step(call(s, "on_auth_m5", on_auth(&format!("f{i}"), &first)).await);
                assert_eq!(code, 24);
            }
        }
        // alice still logs in; then auth_on_register_m5 without a password is allowed once,
        // for her (the username VerneMQ learns from the modifiers).
        scram_login(s, "c-alice", "alice", PASSWORD).await.unwrap();
        let register = json!({"peer_addr": "127.0.0.1", "peer_port": 1, "mountpoint": "",
            "client_id": "c-alice", "username": null, "password": null,
            "clean_start": true, "properties": {}});
        assert_eq!(
            call(s, "auth_on_register_m5", register.clone()).await,
            Vmq::Ok(json!({"username": "alice"}), None)
        );
        assert_eq!(call(s, "auth_on_register_m5", register).await, Vmq::Next);
        // Re-authentication (AUTH 0x19 in connected state): the same exchange.
        scram_login(s, "c-alice", "alice", PASSWORD).await.unwrap();
        // ... but not as another user on that connection.
        let refused = Vmq::Error("not_authorized".into());
        let (_, first) = mqtt_scram::client::start(
            &mqtt_scram::client::ClientConfig::new(),
            mqtt_scram::Mechanism::ScramSha256,
            "root",
            PASSWORD,
            &mut rand::rng(),
        )
        .unwrap();
        assert_eq!(
            call(s, "on_auth_m5", on_auth("c-alice", &first)).await,
            refused
        );
        // Wrong password, unknown user: the second call refuses.
        assert_eq!(
            scram_login(s, "c2", "alice", "wrong").await,
            Err(refused.clone())
        );
        assert_eq!(
            scram_login(s, "c3", "mallory", PASSWORD).await,
            Err(refused.clone())
        );
        // A client-final without a handshake, and garbage.
        assert_eq!(
            call(s, "on_auth_m5", on_auth("c4", b"c=biws,r=x,p=AAAA")).await,
            refused
        );
        assert_eq!(
            call(s, "on_auth_m5", on_auth("c5", b"\xff\x00")).await,
            refused
        );
    });
}
