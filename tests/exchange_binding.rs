//! Exchanges with channel binding (`-PLUS`, the `y` downgrade flag), authorization
//! identities, and the client's iteration window.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use mqtt_scram::client::{self, ClientConfig, ClientOptions};
use mqtt_scram::message::ServerFirst;
use mqtt_scram::{
    ChannelBinding, ChannelBindingType, ConnectionInfo, ErrorKind, Mechanism, Outcome, ServerConfig,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

use common::{World, plain_conn};

#[test]
fn channel_binding_plus_and_downgrade() {
    let mut w = World::new();
    let binding = ChannelBinding::new(ChannelBindingType::TlsExporter, [9u8; 32]);
    let tls = Arc::new(ConnectionInfo::new("c").with_channel_binding(binding.clone()));
    let options = ClientOptions::new().channel_binding(Some(&binding));
    for m in [Mechanism::ScramSha256Plus, Mechanism::ScramSha512Plus] {
        let (outcome, client) = w.connect(&tls, m, "user", "pencil", options);
        assert!(
            matches!(outcome, Outcome::Accepted { .. }),
            "{m}: {outcome:?}"
        );
        client.unwrap().unwrap();
    }
    // Client's binding data differs from the server's (e.g. a TLS-terminating MITM).
    let other = ChannelBinding::new(ChannelBindingType::TlsExporter, [8u8; 32]);
    let (outcome, _) = w.connect(
        &tls,
        Mechanism::ScramSha256Plus,
        "user",
        "pencil",
        ClientOptions::new().channel_binding(Some(&other)),
    );
    let Outcome::Rejected(r) = outcome else {
        panic!()
    };
    assert_eq!(r.error.kind(), ErrorKind::ChannelBindingMismatch);
    // Client supports binding but picks the non-PLUS mechanism: 'y' flag → downgrade.
    let (outcome, _) = w.connect(&tls, Mechanism::ScramSha256, "user", "pencil", options);
    let Outcome::Rejected(r) = outcome else {
        panic!()
    };
    assert_eq!(r.error.kind(), ErrorKind::ChannelBindingDowngrade);
    assert_eq!(
        r.reply.data.as_deref(),
        Some(&b"e=server-does-support-channel-binding"[..])
    );
    // -PLUS over plain TCP: the server cannot bind.
    let (outcome, _) = w.connect(
        &plain_conn(),
        Mechanism::ScramSha256Plus,
        "user",
        "pencil",
        options,
    );
    let Outcome::Rejected(r) = outcome else {
        panic!()
    };
    assert_eq!(r.error.kind(), ErrorKind::ChannelBindingNotSupported);
    // Wrong binding type.
    let sep = ChannelBinding::new(ChannelBindingType::TlsServerEndPoint, [9u8; 32]);
    let (outcome, _) = w.connect(
        &tls,
        Mechanism::ScramSha256Plus,
        "user",
        "pencil",
        ClientOptions::new().channel_binding(Some(&sep)),
    );
    let Outcome::Rejected(r) = outcome else {
        panic!()
    };
    assert_eq!(r.error.kind(), ErrorKind::UnsupportedChannelBindingType);
    // A server that offers no -PLUS mechanism accepts 'y'.
    let mut w2 =
        World::with_config(ServerConfig::new([1; 32]).mechanisms(&[Mechanism::ScramSha256]));
    let (outcome, _) = w2.connect(&tls, Mechanism::ScramSha256, "user", "pencil", options);
    assert!(matches!(outcome, Outcome::Accepted { .. }));
}

#[test]
fn authzid_policy() {
    let mut w = World::new();
    let opts = ClientOptions::new().authzid(Some("admin"));
    let (outcome, _) = w.connect(
        &plain_conn(),
        Mechanism::ScramSha256,
        "user",
        "pencil",
        opts,
    );
    let Outcome::Rejected(r) = outcome else {
        panic!()
    };
    assert_eq!(r.error.kind(), ErrorKind::AuthzidNotAllowed);
    let mut w = World::with_config(ServerConfig::new([1; 32]).allow_authzid(true));
    let (outcome, _) = w.connect(
        &plain_conn(),
        Mechanism::ScramSha256,
        "user",
        "pencil",
        opts,
    );
    let Outcome::Accepted { identity, .. } = outcome else {
        panic!()
    };
    assert_eq!(identity.authzid.as_deref(), Some("admin"));
}

#[test]
fn client_enforces_iteration_window_before_pbkdf2() {
    let mut rng = StdRng::seed_from_u64(9);
    let config = ClientConfig::new().iteration_window(4096..=10_000);
    for (i, ok) in [
        (4095, false),
        (4096, true),
        (10_000, true),
        (10_001, false),
        (u32::MAX, false),
    ] {
        let (c, first) =
            client::start(&config, Mechanism::ScramSha256, "user", "pencil", &mut rng).unwrap();
        let first = mqtt_scram::message::ClientFirst::parse(&first, 4096).unwrap();
        let server_first = ServerFirst::write(&format!("{}srv", first.nonce()), b"salt", i);
        let result = c.on_server_first(server_first.as_bytes());
        assert_eq!(result.is_ok(), ok, "{i}");
        if !ok {
            let error = result.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::IterationCountOutOfRange);
            assert_eq!(error.iteration_count(), Some(i));
        }
    }
}
