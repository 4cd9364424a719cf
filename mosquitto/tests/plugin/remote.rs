//! A remote store slower than the lookup budget: the broker's thread is not held; the login
//! fails like an unknown user, the lookup finishes in the background, and the `cached` store
//! answers the next attempt at once.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mqtt_scram::{HashAlgorithm, Mechanism, StoredCredentials};

use crate::harness::{Fixture, PASSWORD};
use crate::wire::{self, Conn};

/// An HTTP service (EMQX SCRAM contract) that answers alice's record after `delay`.
fn slow_service(delay: Duration) -> (u16, Arc<AtomicUsize>) {
    let salt = *b"slow-store-salt!";
    let creds = StoredCredentials::derive(HashAlgorithm::Sha256, PASSWORD, &salt, 4096).unwrap();
    let body = serde_json::json!({
        "result": "allow",
        "salt": hex::encode(salt),
        "stored_key": hex::encode(creds.stored_key().as_bytes()),
        "server_key": hex::encode(creds.server_key().as_bytes()),
        "iteration_count": 4096,
    })
    .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let body = body.clone();
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                std::thread::sleep(delay);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
                count.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (port, served)
}

fn login(f: &Fixture) -> u8 {
    let mut conn = Conn::tcp(f.broker.addr()).unwrap();
    wire::scram_login(
        &mut conn,
        "remote",
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap()
    .last
    .reason
}

#[test]
fn a_store_slower_than_the_budget_never_holds_the_broker_and_the_cache_serves_the_retry() {
    let (port, served) = slow_service(Duration::from_millis(300));
    let Some(f) = Fixture::start(|mut c, dir| {
        let store = dir.write(
            "store.json",
            &serde_json::json!({"kind": "cached", "ttl": "60s", "inner":
                {"kind": "http", "url": format!("http://127.0.0.1:{port}/scram"),
                 "request_timeout": "5s"}})
            .to_string(),
        );
        c.plugin_options.retain(|(k, _)| k != "store");
        c.option("store_config", store.display())
            .option("lookup_budget", "20ms")
    }) else {
        return;
    };
    assert_eq!(
        login(&f),
        0x87,
        "the first lookup cannot finish within 20 ms"
    );
    assert!(
        f.broker
            .log()
            .contains("no answer within plugin_opt_lookup_budget")
    );
    // Retries join the lookup in flight (single flight) until it fills the cache.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut reason = 0x87;
    while reason != 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        reason = login(&f);
    }
    assert_eq!(reason, 0, "the background lookup filled the cache");
    assert_eq!(
        served.load(Ordering::SeqCst),
        1,
        "one request to the store in all"
    );
    let (status, log) = f.broker.stop_with_status();
    let longest = log
        .lines()
        .find(|l| l.contains("longest callback"))
        .unwrap();
    eprintln!("{longest}");
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{log}");
}
