//! Graceful end: a request in flight when the shutdown signal comes still gets its answer,
//! and the listener closes. The store behind the service is a local HTTP server (EMQX
//! contract) that answers only when the test lets it, so the request is surely in flight.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use tokio::sync::{Notify, Semaphore};

#[tokio::test]
async fn in_flight_requests_finish_after_the_shutdown_signal() {
    let arrived = Arc::new(Notify::new());
    let release = Arc::new(Semaphore::new(0));
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"drain-test-salt!", 4096)
            .unwrap();
    let body = serde_json::json!({
        "stored_key": hex::encode(creds.stored_key().as_bytes()),
        "server_key": hex::encode(creds.server_key().as_bytes()),
        "salt": hex::encode(creds.salt()),
    });
    let store = {
        let (arrived, release) = (Arc::clone(&arrived), Arc::clone(&release));
        let answer = move || {
            let (arrived, release, body) =
                (Arc::clone(&arrived), Arc::clone(&release), body.clone());
            async move {
                arrived.notify_one();
                release.acquire().await.unwrap().forget();
                axum::Json(body)
            }
        };
        Router::new().route("/user", get(answer.clone()).post(answer))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let store_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, store).await.unwrap() });

    let toml = format!(
        "store = \"http://{store_addr}/user?username=${{username}}\"\nlookup_timeout = \"60s\"\n[emqx5]\n"
    );
    let service = support::start(&toml).await;
    let url = service.url("/emqx5/scram?username=alice");
    let request = tokio::spawn(async move {
        let response = support::client().get(url).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    // The request is in flight, waiting for the store (the bound only guards against a hang).
    tokio::time::timeout(std::time::Duration::from_secs(60), arrived.notified())
        .await
        .expect("the request never reached the store");
    let addr = service.addr;
    let stopping = tokio::spawn(service.stop());
    release.add_permits(1);
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["salt"], hex::encode(b"drain-test-salt!"));
    stopping.await.unwrap();
    // The listener is closed.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
