//! TLS.

use super::*;

use mqtt_scram_testkit::https::spawn_https;
use mqtt_scram_testkit::pki::{Pki, pki};

async fn serve_tls(
    pki: &Pki,
    respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> Server {
    let shared = shared(respond);
    let router = Router::new().fallback(handle).with_state(shared.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    spawn_https(listener, Arc::clone(&pki.server_config), router);
    Server { addr, shared }
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    let pki = pki(&["localhost"], false);
    let server = serve_tls(&pki, found("")).await;
    let url = format!("https://localhost:{}/auth", server.addr.port());
    let trusted = provider(HttpConfig::new(&url).tls(TlsConfig {
        ca_file: Some(pki.ca.clone()),
        ..TlsConfig::default()
    }));
    assert!(matches!(lookup(&trusted, "u").await, Lookup::Found(_)));
    assert_eq!(server.last().version, Version::HTTP_2, "ALPN picks h2");

    let system_roots = provider(HttpConfig::new(&url));
    assert!(
        is_ignore(&lookup(&system_roots, "u").await),
        "unknown CA is a TLS error"
    );

    let insecure = provider(HttpConfig::new(&url).tls(TlsConfig {
        dangerous_accept_invalid_certs: true,
        ..TlsConfig::default()
    }));
    assert!(matches!(lookup(&insecure, "u").await, Lookup::Found(_)));

    let wrong_name = provider(
        HttpConfig::new(format!("https://127.0.0.1:{}/auth", server.addr.port())).tls(TlsConfig {
            ca_file: Some(pki.ca.clone()),
            ..TlsConfig::default()
        }),
    );
    assert!(
        is_ignore(&lookup(&wrong_name, "u").await),
        "certificate is for localhost only"
    );
    let _ = std::fs::remove_dir_all(&pki.dir);
}

#[tokio::test]
async fn tls_sni_override() {
    let pki = pki(&["auth.internal.test"], false);
    let server = serve_tls(&pki, found("")).await;
    let p = provider(
        HttpConfig::new(format!("https://127.0.0.1:{}/auth", server.addr.port())).tls(TlsConfig {
            ca_file: Some(pki.ca.clone()),
            server_name: Some("auth.internal.test".into()),
            ..TlsConfig::default()
        }),
    );
    let answer = lookup(&p, "u").await;
    assert!(matches!(answer, Lookup::Found(_)), "{answer:?}");
    let _ = std::fs::remove_dir_all(&pki.dir);
}

#[tokio::test]
async fn mutual_tls() {
    let pki = pki(&["localhost"], true);
    let server = serve_tls(&pki, found("")).await;
    let url = format!("https://localhost:{}/auth", server.addr.port());
    let tls = TlsConfig {
        ca_file: Some(pki.ca.clone()),
        ..TlsConfig::default()
    };
    let anonymous = provider(HttpConfig::new(&url).tls(tls.clone()));
    assert!(is_ignore(&lookup(&anonymous, "u").await));
    assert_eq!(server.hits(), 0);
    let with_cert = provider(HttpConfig::new(&url).tls(TlsConfig {
        cert_file: Some(pki.dir.join("client.pem")),
        key_file: Some(pki.dir.join("client.key")),
        ..tls
    }));
    assert!(matches!(lookup(&with_cert, "u").await, Lookup::Found(_)));
    let _ = std::fs::remove_dir_all(&pki.dir);
}
