//! No secret in `Debug`, `Display` or errors (issue 13 §3, engine part): every public
//! configuration, state, record and error type of the engine is formatted with `{:?}`
//! (and `{}` where it has one) after a known secret was put in every field that can hold
//! one — password, mock key, StoredKey and ServerKey, SaltedPassword and ClientKey,
//! channel-binding data, proofs and signatures — and none may appear, in hex (either
//! case), base64 or as a byte list.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mqtt_scram::client::{self, ClientConfig, ClientOptions};
use mqtt_scram::credentials::{CredentialsError, Key};
use mqtt_scram::internal::crypto;
use mqtt_scram::message::{ClientFinal, ServerFinal};
use mqtt_scram::provider::{
    AuthzData, Cached, Chain, IgnoreReason, Lookup, MemoryProvider, SyncCredentialProvider,
    UserAttributes, UserRecord,
};
use mqtt_scram::saslprep::{Mode, saslprep};
use mqtt_scram::{
    ChannelBinding, ChannelBindingType, ConnectionInfo, HashAlgorithm, ManualClock, Mechanism,
    Outcome, ScramServer, ServerConfig, StartPacket, StoredCredentials, Timestamp,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

const PASSWORD: &str = "sup3r-s3cret-passw0rd";
const MOCK_KEY: [u8; 32] = *b"MOCK-KEY-0123456789abcdefghijklm";
const CBIND: [u8; 32] = *b"CHANNEL-BINDING-SECRET-012345678";
const T0: Timestamp = Timestamp::new(Duration::from_secs(1), 1_700_000_000);

/// Every way a secret could be spelled in formatted output.
struct Secrets(Vec<String>);

impl Secrets {
    fn new() -> Self {
        Self(vec![PASSWORD.into()])
    }

    fn bytes(&mut self, secret: &[u8]) {
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        self.0.push(hex[..16].to_string());
        self.0.push(hex[..16].to_uppercase());
        self.0.push(STANDARD.encode(secret)[..12].to_string());
        self.0.push(
            format!("{:?}", &secret[..6])
                .trim_end_matches(']')
                .to_string(),
        );
        if let Ok(text) = std::str::from_utf8(secret) {
            self.0.push(text[..12].to_string());
        }
    }

    fn check(&self, what: &str, text: &str) {
        for secret in &self.0 {
            assert!(
                !text.contains(secret.as_str()),
                "{what} shows a secret ({secret:?}): {text}"
            );
        }
    }
}

macro_rules! debug {
    ($secrets:expr, $($value:expr),+ $(,)?) => {
        $( $secrets.check(stringify!($value), &format!("{:?}", $value)); )+
    };
}

macro_rules! display {
    ($secrets:expr, $($value:expr),+ $(,)?) => {
        $(
            $secrets.check(stringify!($value), &format!("{:?}", $value));
            $secrets.check(stringify!($value), &format!("{}", $value));
        )+
    };
}

#[test]
fn no_public_engine_type_formats_a_secret() {
    let hash = HashAlgorithm::Sha256;
    let salt = b"some-salt-value!";
    let mut secrets = Secrets::new();
    let salted = crypto::hi(hash, PASSWORD.as_bytes(), salt, 4096.try_into().unwrap());
    let client_key = crypto::client_key(hash, &salted);
    let creds = StoredCredentials::derive(hash, PASSWORD, salt, 4096).unwrap();
    for secret in [
        salted.as_bytes(),
        client_key.as_bytes(),
        creds.stored_key().as_bytes(),
        creds.server_key().as_bytes(),
        &MOCK_KEY,
        &CBIND,
    ] {
        secrets.bytes(secret);
    }

    // Configuration and records.
    let config = ServerConfig::new(MOCK_KEY);
    debug!(secrets, config);
    let server = ScramServer::new(config).unwrap();
    debug!(secrets, server, server.config(), ClientConfig::new());
    let binding = ChannelBinding::new(ChannelBindingType::TlsExporter, CBIND);
    let conn = Arc::new(ConnectionInfo::new("client-1").with_channel_binding(binding.clone()));
    debug!(secrets, binding, conn);
    let options = ClientOptions::new().channel_binding(Some(&binding));
    debug!(secrets, options);
    let emqx = creds.to_emqx_hex();
    debug!(secrets, creds, emqx, creds.stored_key(), salted, client_key);
    let record = UserRecord::new(creds.clone())
        .superuser(true)
        .expire_at(Some(u64::MAX))
        .authz(Some(AuthzData::new(PASSWORD.to_string())));
    debug!(secrets, record, record.attributes, UserAttributes::new());
    let store = MemoryProvider::new();
    store.insert("alice", record.clone());
    debug!(secrets, store);
    let lookup = store.lookup_sync(&mqtt_scram::provider::LookupRequest::new(
        Mechanism::ScramSha256Plus,
        "alice",
        &conn,
    ));
    debug!(secrets, lookup);
    let cached = Cached::new(store).clock(ManualClock::new(0));
    debug!(secrets, cached, Chain::new().push(MemoryProvider::new()));

    // A whole exchange with channel binding, every state on the way.
    let mut rng = StdRng::seed_from_u64(1);
    let (c, first) = client::start_with(
        &ClientConfig::new(),
        Mechanism::ScramSha256Plus,
        "alice",
        PASSWORD,
        options,
        &mut rng,
    )
    .unwrap();
    debug!(secrets, c);
    let start = StartPacket::Connect {
        method: "SCRAM-SHA-256-PLUS",
        data: Some(&first),
    };
    debug!(secrets, start);
    let pending = server.start(&conn, start, T0).unwrap();
    debug!(secrets, pending, pending.request());
    let (challenge, reply) = pending.continue_with(Lookup::found(record.clone()), &mut rng);
    debug!(secrets, challenge, reply);
    let (c, last) = c.on_server_first(reply.data.as_deref().unwrap()).unwrap();
    debug!(secrets, c);
    let parsed = ClientFinal::parse(&last, 32, 4096).unwrap();
    secrets.bytes(parsed.proof().as_bytes());
    debug!(secrets, parsed, parsed.proof());
    let outcome = challenge.finish(0x18, "SCRAM-SHA-256-PLUS", Some(&last), T0);
    let Outcome::Accepted { reply, identity } = &outcome else {
        panic!("{outcome:?}")
    };
    let signature = ServerFinal::parse(reply.data.as_deref().unwrap(), 32, 4096).unwrap();
    debug!(secrets, outcome, identity, signature);
    let authenticated = c.on_server_final(reply.data.as_deref().unwrap()).unwrap();
    debug!(secrets, authenticated);

    // Every error the engine builds from secret input.
    let saslprep_error = saslprep("sup3r\u{7}s3cret-passw0rd", Mode::Stored).unwrap_err();
    display!(secrets, saslprep_error);
    let client_error = client::start(
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "alice",
        "sup3r-s3cret-passw0rd\u{0}",
        &mut rng,
    )
    .unwrap_err();
    display!(secrets, client_error);
    let hex_key = hex::encode(creds.stored_key().as_bytes());
    let b64_key = STANDARD.encode(creds.stored_key().as_bytes());
    let credential_errors: Vec<CredentialsError> = vec![
        StoredCredentials::from_emqx_hex(hash, "zz", &hex_key, &hex_key, 4096).unwrap_err(),
        StoredCredentials::from_emqx_hex(hash, "00", &hex_key[2..], &hex_key, 4096).unwrap_err(),
        StoredCredentials::from_emqx_hex(hash, "00", &hex_key, &format!("{hex_key}x"), 4096)
            .unwrap_err(),
        StoredCredentials::from_postgres(&format!("SCRAM-SHA-256$4096:c2FsdA==${b64_key}:x"))
            .unwrap_err(),
        StoredCredentials::from_postgres(&format!("SCRAM-SHA-256$4096:c2FsdA==${b64_key}"))
            .unwrap_err(),
        StoredCredentials::derive(hash, "sup3r-s3cret\u{7}", salt, 4096).unwrap_err(),
    ];
    for error in &credential_errors {
        display!(secrets, error);
    }
    let config_error = ScramServer::new(ServerConfig::new(MOCK_KEY).nonce_len(0)).unwrap_err();
    display!(secrets, config_error);
    let reason = IgnoreReason::unavailable("store down");
    display!(secrets, reason);
    // A provider failure: the rejection's error carries the provider's reason.
    let unavailable = {
        let (c, first) = client::start(
            &ClientConfig::new(),
            Mechanism::ScramSha256,
            "alice",
            PASSWORD,
            &mut rng,
        )
        .unwrap();
        let start = StartPacket::Connect {
            method: "SCRAM-SHA-256",
            data: Some(&first),
        };
        let pending = server.start(&conn, start, T0).unwrap();
        let (challenge, reply) = pending.continue_with(Lookup::Ignore(reason.clone()), &mut rng);
        let (_, last) = c.on_server_first(reply.data.as_deref().unwrap()).unwrap();
        challenge.finish(0x18, "SCRAM-SHA-256", Some(&last), T0)
    };
    let Outcome::Rejected(unavailable) = &unavailable else {
        panic!()
    };
    assert_eq!(unavailable.error.ignore_reason(), Some(&reason));
    display!(secrets, unavailable.error);
    // Rejections carry the error and the reply.
    let wrong = {
        let (c, first) = client::start(
            &ClientConfig::new(),
            Mechanism::ScramSha256,
            "alice",
            "wrong",
            &mut rng,
        )
        .unwrap();
        let start = StartPacket::Connect {
            method: "SCRAM-SHA-256",
            data: Some(&first),
        };
        let pending = server.start(&conn, start, T0).unwrap();
        let (challenge, reply) = pending.continue_with(Lookup::found(record), &mut rng);
        let (_, last) = c.on_server_first(reply.data.as_deref().unwrap()).unwrap();
        challenge.finish(0x18, "SCRAM-SHA-256", Some(&last), T0)
    };
    let Outcome::Rejected(rejection) = &wrong else {
        panic!()
    };
    debug!(secrets, wrong);
    display!(secrets, rejection.error);
    // A key type never shows its bytes.
    let key = Key::from_slice(&MOCK_KEY).unwrap();
    debug!(secrets, key);
}
