//! The Prometheus endpoint carries the authenticator's metric names, and the broker shuts
//! down cleanly with the plugin's threads running.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use mqtt_scram::Mechanism;
use mqtt_scram_testkit::free_port;

use crate::harness::{Fixture, PASSWORD};
use crate::wire::{self, AUTH, Conn};

fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

fn value(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| l.contains("authenticator=\"mosquitto\""))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn metrics_use_the_shared_names_and_the_broker_exits_cleanly() {
    let port = free_port();
    let Some(f) = Fixture::start(|c, _| c.option("metrics_listen", format!("127.0.0.1:{port}")))
    else {
        return;
    };
    let addr = f.broker.addr();
    for password in [PASSWORD, "wrong"] {
        let mut conn = Conn::tcp(addr).unwrap();
        wire::scram_login(
            &mut conn,
            "m",
            Mechanism::ScramSha256,
            "alice",
            password,
            None,
        )
        .unwrap();
    }
    let mut abandoned = Conn::tcp(addr).unwrap();
    abandoned
        .send_connect(
            "gone",
            Some("SCRAM-SHA-256"),
            Some(b"n,,n=alice,r=abcdefghijklmnopqrstuvwx"),
            None,
        )
        .unwrap();
    assert_eq!(abandoned.read().unwrap().kind, AUTH);
    drop(abandoned);
    std::thread::sleep(Duration::from_millis(300));
    let metrics = scrape(port);
    let get = |name: &str, labels: &[&str]| value(&metrics, name, labels);
    assert_eq!(
        get("mqtt_scram_handshakes_started_total", &["kind=\"connect\""]),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        get(
            "mqtt_scram_handshakes_succeeded_total",
            &["mechanism=\"SCRAM-SHA-256\""]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        get(
            "mqtt_scram_handshakes_failed_total",
            &["reason=\"invalid_proof\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        get(
            "mqtt_scram_handshakes_failed_total",
            &["reason=\"abandoned\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        get("mqtt_scram_handshakes_in_progress", &[]),
        Some(0.0),
        "{metrics}"
    );
    assert!(
        metrics.contains("mqtt_scram_lookup_duration_seconds"),
        "{metrics}"
    );
    let (status, log) = f.broker.stop_with_status();
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{log}");
}
