//! The plugin never calls into the broker while it holds its own lock. With `log_dest topic`
//! Mosquitto publishes every log line at once, and delivering it to a subscriber runs the
//! plugin's ACL check on the same thread: a line logged under the plugin's lock used to
//! deadlock the broker at the first refused login.

use std::time::{Duration, Instant};

use mqtt_scram::Mechanism;

use crate::harness::{Fixture, PASSWORD};
use crate::wire::{self, CONNACK, Conn, PUBLISH};

/// Reads PUBLISH packets until one's payload contains `needle`; bounded by `limit` (every
/// read is bounded by the connection's 10 s read timeout, so a hung broker fails the test).
fn wait_for_publish(conn: &mut Conn, needle: &str, limit: Duration) -> Result<String, String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let packet = conn
            .read()
            .map_err(|e| format!("no more packets ({e}); seen: {seen:#?}"))?;
        if packet.kind != PUBLISH {
            continue;
        }
        let text = String::from_utf8_lossy(&packet.payload).into_owned();
        if text.contains(needle) {
            return Ok(text);
        }
        seen.push(text);
    }
    Err(format!("{needle:?} not published; seen: {seen:#?}"))
}

#[test]
fn a_refused_login_with_log_dest_topic_and_acl_subscribers_does_not_hang_the_broker() {
    let Some(f) = Fixture::start(|c, dir| {
        let acl = dir.write("acl", "user alice\ntopic alice/#\n");
        c.line("log_dest topic")
            .option("acl_file", acl.display())
            .option("basic_auth", true)
    }) else {
        return;
    };
    let addr = f.broker.addr();
    // A password-fallback client (root: a superuser, so the ACL check allows) listening to
    // the broker's notices.
    let mut listener = Conn::tcp(addr).unwrap();
    listener
        .send_connect(
            "log-listener",
            None,
            None,
            Some(("root", PASSWORD.as_bytes())),
        )
        .unwrap();
    let connack = listener.read().unwrap();
    assert_eq!((connack.kind, connack.reason), (CONNACK, 0), "{connack:?}");
    let suback = listener.subscribe("$SYS/broker/log/N", 0).unwrap();
    assert_eq!(suback.payload, [0], "{suback:?}");

    // One SCRAM login with a wrong password: the plugin logs the refusal.
    let mut wrong = Conn::tcp(addr).unwrap();
    let refused = wire::scram_login(
        &mut wrong,
        "wrong-password",
        Mechanism::ScramSha256,
        "alice",
        "not-the-password",
        None,
    )
    .unwrap_or_else(|e| panic!("the broker stopped answering: {e}\n{}", f.broker.log()));
    assert_eq!(
        (refused.last.kind, refused.last.reason),
        (CONNACK, 0x87),
        "{refused:?}\n{}",
        f.broker.log()
    );

    // The subscriber gets the line, through the plugin's own ACL check ...
    let line = wait_for_publish(
        &mut listener,
        "login of client wrong-password",
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", f.broker.log()));
    assert!(line.contains("rejected"), "{line}");

    // ... and everyone else is still served.
    let mut other = Conn::tcp(addr).unwrap();
    let ok = wire::scram_login(
        &mut other,
        "still-served",
        Mechanism::ScramSha512,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!((ok.last.kind, ok.last.reason), (CONNACK, 0), "{ok:?}");
    let (status, log) = f.broker.stop_with_status();
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{log}");
}
