//! `-PLUS` over Mosquitto's TLS listener with the `tls-server-end-point` binding computed
//! from the listener's certificate (plugin_opt_tls_cert_file), checked by the crate's client
//! over rustls; `probe --plus` (tls-exporter only) is refused cleanly.

use std::net::SocketAddr;
use std::sync::Arc;

use mqtt_scram::{ChannelBinding, ChannelBindingType, Mechanism};
use mqtt_scram_testkit::TempDir;
use mqtt_scram_testkit::mosquitto::TlsListener;
use mqtt_scram_testkit::probe;
use rustls::pki_types::ServerName;
use sha2::Digest as _;

use crate::harness::{Fixture, PASSWORD};
use crate::wire::{self, CONNACK, Conn};

struct Certs {
    ca_pem: String,
    server_der: Vec<u8>,
    ca_der: Vec<u8>,
    listener: TlsListener,
}

/// A CA and a `localhost` server certificate (ECDSA P-256, signed with SHA-256).
fn certs(dir: &TempDir) -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Certs {
        ca_pem: ca.pem(),
        server_der: cert.der().to_vec(),
        ca_der: ca.der().to_vec(),
        listener: TlsListener {
            cert_file: dir.write("server.pem", &cert.pem()),
            key_file: dir.write("server.key", &key.serialize_pem()),
        },
    }
}

fn tls(addr: SocketAddr, ca_der: &[u8]) -> Conn {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_der.to_vec().into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let session = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    Conn::over(Box::new(rustls::StreamOwned::new(session, tcp)))
}

fn end_point(der: &[u8]) -> ChannelBinding {
    ChannelBinding::new(
        ChannelBindingType::TlsServerEndPoint,
        sha2::Sha256::digest(der).to_vec(),
    )
}

#[test]
fn plus_with_tls_server_end_point_over_the_tls_listener() {
    let dir = TempDir::new("mosquitto-plus");
    let certs = certs(&dir);
    let cert_file = certs.listener.cert_file.clone();
    let Some(f) = Fixture::start(|c, _| {
        c.per_listener_settings()
            .tls(certs.listener.clone())
            .tls_option("tls_cert_file", cert_file.display())
    }) else {
        return;
    };
    let addr = f.broker.tls_addr().unwrap();
    // The plain listener's instance has no certificate: no -PLUS there (0x8C), SCRAM works.
    let mut plain = Conn::tcp(f.broker.addr()).unwrap();
    plain
        .send_connect(
            "plain-plus",
            Some("SCRAM-SHA-256-PLUS"),
            Some(b"p=tls-server-end-point,,n=alice,r=abcdefghijklmnop"),
            None,
        )
        .unwrap();
    let reply = plain.read().unwrap();
    assert_eq!((reply.kind, reply.reason), (CONNACK, 0x8C), "{reply:?}");
    let mut plain = Conn::tcp(f.broker.addr()).unwrap();
    let login = wire::scram_login(
        &mut plain,
        "plain-n",
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(login.last.reason, 0, "{login:?}");
    let binding = end_point(&certs.server_der);
    for mechanism in [Mechanism::ScramSha256Plus, Mechanism::ScramSha512Plus] {
        let mut conn = tls(addr, &certs.ca_der);
        let login = wire::scram_login(
            &mut conn,
            "plus",
            mechanism,
            "alice",
            PASSWORD,
            Some(&binding),
        )
        .unwrap();
        assert_eq!(
            (login.last.kind, login.last.reason),
            (CONNACK, 0),
            "{mechanism}: {login:?}"
        );
        assert!(login.authenticated.is_some(), "v= verified");
    }
    // Bound to another certificate: refused.
    let wrong = end_point(&certs.ca_der);
    let mut conn = tls(addr, &certs.ca_der);
    let login = wire::scram_login(
        &mut conn,
        "plus",
        Mechanism::ScramSha256Plus,
        "alice",
        PASSWORD,
        Some(&wrong),
    )
    .unwrap();
    assert_eq!(login.last.reason, 0x87, "{login:?}");
    // A client that could bind but says "y" (thinks the server cannot): a downgrade.
    let mut conn = tls(addr, &certs.ca_der);
    let login = wire::scram_login(
        &mut conn,
        "y",
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        Some(&binding),
    )
    .unwrap();
    assert_eq!(login.last.reason, 0x87, "{login:?}");
    // Without channel binding ("n"), plain SCRAM still works over TLS.
    let mut conn = tls(addr, &certs.ca_der);
    let login = wire::scram_login(
        &mut conn,
        "n",
        Mechanism::ScramSha256,
        "alice",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(login.last.reason, 0, "{login:?}");

    // probe --plus binds with tls-exporter (RFC 9266), which Mosquitto cannot provide to
    // plugins: refused with 0x87; probe without --plus logs in over TLS.
    let ca = dir.write("ca.pem", &certs.ca_pem);
    let ca = ca.to_str().unwrap();
    let target = addr.to_string();
    let args = [
        "-u",
        "alice",
        "--tls",
        "--ca",
        ca,
        "--server-name",
        "localhost",
    ];
    let (code, report) = probe::run(&target, PASSWORD, &[&args[..], &["--plus"]].concat());
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["connack"]["reason_code"], 0x87, "{report}");
    let (code, report) = probe::run(&target, PASSWORD, &args);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn a_global_plugin_with_a_certificate_refuses_to_start() {
    // One instance for the plain and the TLS listener: -PLUS would be offered on the plain
    // one too.
    let dir = TempDir::new("mosquitto-plus-global");
    let certs = certs(&dir);
    let (_files, _users, config) = crate::harness::files(&crate::harness::default_users());
    let config = config
        .tls(certs.listener.clone())
        .option("tls_cert_file", certs.listener.cert_file.display());
    if !mqtt_scram_testkit::mosquitto::available() {
        return;
    }
    let error = match mqtt_scram_testkit::mosquitto::Mosquitto::try_start(&config) {
        Ok(broker) => panic!("started:\n{}", broker.stop()),
        Err(e) => e,
    };
    assert!(
        error
            .log
            .contains("refusing to start: plugin_opt_tls_cert_file"),
        "{}",
        error.log
    );
    assert!(
        error.log.contains("per_listener_settings true"),
        "{}",
        error.log
    );
}
