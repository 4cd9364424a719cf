//! The amqtt contract against the real broker: amqtt 0.12.1 from PyPI with its
//! `UserAuthHttpPlugin` and `TopicAuthHttpPlugin` (`amqtt/contrib/http.py`) pointed at the
//! service, driven by `mosquitto_pub`/`mosquitto_sub -V mqttv311`. One broker per
//! `params_mode` × `response_mode` (the request methods spread over them), several
//! scenarios each: right password, wrong password, unknown user, superuser, topics allowed
//! and denied for publish and subscribe, and the store down.
//!
//! What the broker does with the answers (`amqtt/broker.py`, 0.12.1): `_authenticate`
//! ignores `None` and refuses when no plugin answered a boolean; `_topic_filtering` needs
//! every plugin to answer true; a refused subscription gets 0x80 in the SUBACK; a refused
//! publish is dropped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod amqtt_support;

use amqtt_support::{
    PASSWORD, Service, Subscriber, assert_connects, assert_refused, clients_available,
    subscribe_granted,
};
use mqtt_scram_testkit::amqtt::{Amqtt, Config, Method, ParamsMode, ResponseMode};

fn scenarios(params: ParamsMode, response: ResponseMode, method: Method) {
    if !clients_available() {
        return;
    }
    let mode = match response {
        ResponseMode::Status => "status",
        ResponseMode::Json => "json",
        ResponseMode::Text => "text",
    };
    let Some(mut service) = Service::start(&format!("[amqtt]\nresponse_mode = \"{mode}\"")) else {
        return;
    };
    let Some(broker) = Amqtt::start(&Config::new(service.addr, params, response, method)) else {
        return;
    };
    let b = broker.addr();
    let log = || broker.log();

    // Passwords: right, wrong, unknown user (same wrong answer), superuser.
    assert_connects(b, "alice", PASSWORD, "alice/hello");
    assert_refused(b, "alice", "wrong");
    assert_refused(b, "mallory", PASSWORD);
    assert_connects(b, "root", PASSWORD, "anything/at/all");

    // Subscriptions: allowed (ACL file), denied (no rule), anything for the superuser.
    assert_eq!(
        subscribe_granted(b, "alice", PASSWORD, &["alice/+", "other/x"]),
        [0, 128],
        "{}",
        log()
    );
    assert_eq!(
        subscribe_granted(b, "root", PASSWORD, &["#"]),
        [0],
        "{}",
        log()
    );

    // Publishes: the denied one is dropped; the allowed one that follows it is the first
    // message the (superuser) subscriber gets.
    let watcher = Subscriber::start(b, "root", PASSWORD, "#");
    let denied = amqtt_support::publish(b, "alice", PASSWORD, "other/x", "denied");
    assert!(
        denied.status.success(),
        "a dropped publish is still acknowledged"
    );
    assert_connects(b, "alice", PASSWORD, "alice/allowed");
    assert_eq!(
        watcher.first_message().as_deref(),
        Some("alice/allowed hello"),
        "{}",
        log()
    );

    // The store down: nobody gets in ("can't decide" is never "ok").
    service.redis.server.stop();
    assert_refused(b, "alice", PASSWORD);
    assert_refused(b, "root", PASSWORD);
}

#[test]
fn json_params_status_answers_get() {
    scenarios(ParamsMode::Json, ResponseMode::Status, Method::Get);
}

#[test]
fn json_params_json_answers_post() {
    scenarios(ParamsMode::Json, ResponseMode::Json, Method::Post);
}

#[test]
fn json_params_text_answers_put() {
    scenarios(ParamsMode::Json, ResponseMode::Text, Method::Put);
}

#[test]
fn form_params_status_answers_put() {
    scenarios(ParamsMode::Form, ResponseMode::Status, Method::Put);
}

#[test]
fn form_params_json_answers_get() {
    scenarios(ParamsMode::Form, ResponseMode::Json, Method::Get);
}

#[test]
fn form_params_text_answers_post() {
    scenarios(ParamsMode::Form, ResponseMode::Text, Method::Post);
}
