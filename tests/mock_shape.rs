//! The mock challenge's shape (issue 20 §5b): unknown users are shown the salt length and
//! iteration count of the store's records, or the configured ones; mock salts of every
//! allowed length are deterministic per (user, mechanism) and differ between users.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use base64::Engine as _;
use mqtt_scram::provider::{
    Lookup, MAX_MOCK_SALT_LEN, MIN_MOCK_SALT_LEN, MemoryProvider, MockShape,
    SyncCredentialProvider, UserRecord,
};
use mqtt_scram::{
    ConfigError, ConnectionInfo, HashAlgorithm, Mechanism, RecordPolicy, ScramServer, ServerConfig,
    StartPacket, StoredCredentials, Timestamp,
};
use proptest::prelude::*;

/// The server-first-message an unknown `user` gets: (salt bytes, iterations).
fn mock_first(
    server: &ScramServer,
    mechanism: Mechanism,
    user: &str,
    shape: Option<MockShape>,
) -> (Vec<u8>, u32) {
    let conn = Arc::new(ConnectionInfo::new("c"));
    let first = format!("n,,n={user},r=abcdefgh");
    let start = StartPacket::Connect {
        method: mechanism.name(),
        data: Some(first.as_bytes()),
    };
    let mut need = server
        .start(&conn, start, Timestamp::new(Default::default(), 0))
        .unwrap();
    need.set_mock_shape(shape);
    let (_, reply) = need.continue_with(Lookup::NotFound, &mut rand::rng());
    parse(&reply.data.unwrap())
}

fn parse(server_first: &[u8]) -> (Vec<u8>, u32) {
    let text = std::str::from_utf8(server_first).unwrap();
    let mut salt = None;
    let mut iterations = None;
    for attr in text.split(',') {
        if let Some(s) = attr.strip_prefix("s=") {
            salt = Some(base64::engine::general_purpose::STANDARD.decode(s).unwrap());
        }
        if let Some(i) = attr.strip_prefix("i=") {
            iterations = Some(i.parse().unwrap());
        }
    }
    (salt.unwrap(), iterations.unwrap())
}

fn server() -> ScramServer {
    ScramServer::new(ServerConfig::new([9; 32])).unwrap()
}

#[test]
fn defaults_and_configured_shapes_per_hash() {
    let (salt, i) = mock_first(&server(), Mechanism::ScramSha256, "nobody", None);
    assert_eq!((salt.len(), i), (16, 4096));
    let config = ServerConfig::new([9; 32])
        .mock_shape(HashAlgorithm::Sha512, MockShape::new(32, 10_000))
        .mock_salt_len(24);
    // `mock_salt_len` after `mock_shape` changes both hashes' salt length.
    let server = ScramServer::new(config).unwrap();
    let (salt, i) = mock_first(&server, Mechanism::ScramSha512, "nobody", None);
    assert_eq!((salt.len(), i), (24, 10_000));
    let (salt, i) = mock_first(&server, Mechanism::ScramSha256, "nobody", None);
    assert_eq!((salt.len(), i), (24, 4096));
}

#[test]
fn the_16_byte_salt_is_unchanged_and_longer_ones_extend_it() {
    let server = server();
    let (short, _) = mock_first(&server, Mechanism::ScramSha256, "nobody", None);
    let (long, _) = mock_first(
        &server,
        Mechanism::ScramSha256,
        "nobody",
        Some(MockShape::new(64, 4096)),
    );
    assert_eq!(&long[..16], &short[..]);
    // The four 16-byte blocks differ from one another.
    for (i, a) in long.chunks(16).enumerate() {
        for b in long.chunks(16).skip(i + 1) {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn a_provider_shape_outside_the_policy_is_not_used() {
    let server = server();
    for shape in [
        MockShape::new(7, 4096),
        MockShape::new(65, 4096),
        MockShape::new(32, 100),
        MockShape::new(32, 2_000_000),
    ] {
        let (salt, i) = mock_first(&server, Mechanism::ScramSha256, "nobody", Some(shape));
        assert_eq!((salt.len(), i), (16, 4096), "{shape:?}");
    }
}

#[test]
fn configured_shapes_are_validated_against_the_policy() {
    let base = || ServerConfig::new([9; 32]);
    let err = |c: ServerConfig| ScramServer::new(c).unwrap_err();
    assert!(matches!(
        err(base().mock_salt_len(7)),
        ConfigError::MockSaltLen {
            value: 7,
            min: 8,
            max: 64
        }
    ));
    assert!(matches!(
        err(base().mock_salt_len(65)),
        ConfigError::MockSaltLen { value: 65, .. }
    ));
    assert!(matches!(
        err(base().mock_shape(HashAlgorithm::Sha512, MockShape::new(16, 10))),
        ConfigError::MockIterations { value: 10, .. }
    ));
    // A policy without 16-byte salts needs a mock salt length inside it.
    let policy = RecordPolicy::new(4096..=1_000_000, 32..=48);
    assert!(
        err(base().record_policy(policy.clone()))
            .to_string()
            .starts_with("mock_salt_len: 16 bytes is outside 32..=48")
    );
    assert!(ScramServer::new(base().record_policy(policy).mock_salt_len(32)).is_ok());
}

#[test]
fn a_memory_store_shape_reaches_unknown_users_and_real_users_keep_theirs() {
    let store = MemoryProvider::new();
    for (name, hash) in [("a", HashAlgorithm::Sha256), ("b", HashAlgorithm::Sha512)] {
        let creds = StoredCredentials::derive(hash, "pw", &[7; 32], 10_000).unwrap();
        store.insert(name, UserRecord::new(creds));
    }
    let server = server();
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        let shape = store.record_shape_sync(mechanism.hash());
        assert_eq!(shape, Some(MockShape::new(32, 10_000)));
        let (salt, i) = mock_first(&server, mechanism, "nobody", shape);
        assert_eq!((salt.len(), i), (32, 10_000));
    }
}

#[cfg(feature = "serde")]
#[test]
fn serde_settings() {
    let config: ServerConfig = serde_json::from_str(&format!(
        r#"{{"mock_key": "{}", "mock_salt_len": 24, "mock_shape": {{"sha512": {{"iterations": 10000}}}}}}"#,
        "5a".repeat(32)
    ))
    .unwrap();
    assert_eq!(
        config.mock_shape_for(HashAlgorithm::Sha256),
        MockShape::new(24, 4096)
    );
    assert_eq!(
        config.mock_shape_for(HashAlgorithm::Sha512),
        MockShape::new(24, 10_000)
    );
    let err = serde_json::from_str::<ServerConfig>(&format!(
        r#"{{"mock_key": "{}", "mock_salt_len": 100}}"#,
        "5a".repeat(32)
    ))
    .unwrap_err();
    assert!(err.to_string().contains("mock_salt_len"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every allowed length: the same user gets the same salt every time, two users get
    /// different salts, and the two hashes differ.
    #[test]
    fn mock_salts_are_deterministic_and_differ_per_user(
        len in MIN_MOCK_SALT_LEN..=MAX_MOCK_SALT_LEN,
        a in "[a-z]{1,60}",
        b in "[a-z]{1,60}",
    ) {
        prop_assume!(a != b);
        let server = server();
        let shape = Some(MockShape::new(len, 4096));
        let first = mock_first(&server, Mechanism::ScramSha256, &a, shape).0;
        prop_assert_eq!(first.len(), len);
        prop_assert_eq!(&mock_first(&server, Mechanism::ScramSha256, &a, shape).0, &first);
        prop_assert_ne!(&mock_first(&server, Mechanism::ScramSha256, &b, shape).0, &first);
        prop_assert_ne!(&mock_first(&server, Mechanism::ScramSha512, &a, shape).0, &first);
        // A rebuilt server with the same key gives the same salt (stable across restarts).
        prop_assert_eq!(&mock_first(&self::server(), Mechanism::ScramSha256, &a, shape).0, &first);
    }
}
