//! Drives `ScramServer` through start → continue_with (fixed server nonce) → finish.
//!
//! Input layout (see README.md):
//!
//! ```text
//! [0] flags    bits 0-1 method (SCRAM-SHA-256, -512, -256-PLUS, -512-PLUS)
//!              bits 2-3 lookup (0 NotFound, 1 Found, 2 Found with the other hash, 3 Ignore)
//!              bit 4 auto-proof: the client-final field is client-final-without-proof and
//!                    the target appends the correct proof for user/pencil
//!              bit 5 the connection has tls-exporter channel binding
//!              bit 6 allow_authzid
//!              bit 7 start with AUTH 0x19 (re-authentication of "user")
//! [1] variant  bits 0-1 finish method (0 same, 1 other hash, 2 "", 3 "SCRAM-SHA-1")
//!              bit 2 finish after the deadline
//!              bit 3 finish without data
//!              bit 4 start without data
//!              bit 5 server offers only the non-PLUS mechanisms
//!              bit 6 re-authentication's current identity is "other"
//!              bit 7 ignore the client-final bytes: use the canonical client-final-without-proof
//!                    (with auto-proof: every client-first the server accepts must then succeed)
//! [2] finish reason code
//! [3..5] big-endian length of client-first, client-first, then client-final (the rest)
//! ```
//!
//! Never panics; accepts only if the proof is the one user/pencil would send
//! for exactly these messages, and then sends the right server signature.
//! With auto-proof and a canonical client-final on the happy path it must accept.
#![no_main]

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use mqtt_scram::internal::crypto::{self, Key};
use mqtt_scram::message::{
    ClientFinal, ClientFirst, ServerErrorValue, ServerFinal, ServerFinalOutcome, ServerFirst,
};
use mqtt_scram::provider::{IgnoreKind, IgnoreReason, Lookup, UserAttributes, UserRecord};
use mqtt_scram::saslprep::{Mode, saslprep};
use mqtt_scram::server::{NeedCredentials, StartPacket};
use mqtt_scram::{
    ChannelBinding, ChannelBindingType, ConnectionInfo, ErrorKind, HashAlgorithm, Identity,
    Mechanism, Outcome, PacketType, ReasonCode, ScramServer, ServerConfig, StoredCredentials,
    Timestamp, internal,
};

const USERNAME: &str = "user";
const PASSWORD: &str = "pencil";
const MOCK_ITERATIONS: u32 = 4096;
const CBIND_DATA: [u8; 32] = [0xCB; 32];
const MAX_LEN: usize = 4096;

/// One user per hash, with the salt, iteration count and server nonce of the
/// published vectors (RFC 7677 §3; xdg-go/scram sha-512), so the vectors' own
/// messages are valid seeds. Derived once; the server itself never runs PBKDF2.
struct Fixture {
    salted: Key,
    credentials: StoredCredentials,
    /// The record a provider hands out: shared, never copied per exchange.
    record: Arc<UserRecord>,
    server_nonce: &'static str,
}

fn fixture(hash: HashAlgorithm, iterations: u32, server_nonce: &'static str) -> Fixture {
    let salt = STANDARD
        .decode("W22ZaJ0SNY7soEsUEjb6gQ==")
        .unwrap_or_default();
    let count = std::num::NonZeroU32::new(iterations).expect("a positive count");
    let salted = crypto::hi(hash, PASSWORD.as_bytes(), &salt, count);
    let credentials = StoredCredentials::from_salted_password(hash, &salted, &salt, iterations)
        .expect("valid fixture credentials");
    let record = Arc::new(UserRecord::new(credentials.clone()));
    Fixture {
        salted,
        credentials,
        record,
        server_nonce,
    }
}

static SHA256: LazyLock<Fixture> = LazyLock::new(|| {
    fixture(
        HashAlgorithm::Sha256,
        4096,
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    )
});
static SHA512: LazyLock<Fixture> = LazyLock::new(|| {
    fixture(
        HashAlgorithm::Sha512,
        10000,
        "4FHzBxBhPzykjGStpoxdfs4Nyp1mtC9B",
    )
});

fn fixture_for(hash: HashAlgorithm) -> &'static Fixture {
    match hash {
        HashAlgorithm::Sha256 => &SHA256,
        HashAlgorithm::Sha512 => &SHA512,
    }
}

const METHODS: [&str; 4] = [
    "SCRAM-SHA-256",
    "SCRAM-SHA-512",
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-512-PLUS",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LookupKind {
    NotFound,
    Found,
    FoundOtherHash,
    Ignore,
}

fn other_hash(hash: HashAlgorithm) -> HashAlgorithm {
    match hash {
        HashAlgorithm::Sha256 => HashAlgorithm::Sha512,
        HashAlgorithm::Sha512 => HashAlgorithm::Sha256,
    }
}

/// client-final-without-proof + ",p=" + the proof user/pencil computes over `auth_message`.
fn client_proof(hash: HashAlgorithm, auth_message: &[&[u8]]) -> Key {
    let f = fixture_for(hash);
    let client_key = crypto::client_key(hash, &f.salted);
    let signature = crypto::hmac(hash, f.credentials.stored_key().as_bytes(), auth_message);
    crypto::xor(&client_key, &signature)
}

fuzz_target!(|data: &[u8]| {
    let [flags, variant, reason, len_hi, len_lo, rest @ ..] = data else {
        return;
    };
    let (flags, variant, reason) = (*flags, *variant, *reason);
    let first_len = usize::from(u16::from_be_bytes([*len_hi, *len_lo]));
    let Some((client_first, client_final)) = rest.split_at_checked(first_len) else {
        return;
    };

    let method = METHODS[usize::from(flags & 3)];
    let lookup_kind = [
        LookupKind::NotFound,
        LookupKind::Found,
        LookupKind::FoundOtherHash,
        LookupKind::Ignore,
    ][usize::from((flags >> 2) & 3)];
    let auto_proof = flags & 0x10 != 0;
    let has_binding = flags & 0x20 != 0;
    let allow_authzid = flags & 0x40 != 0;
    let reauth = flags & 0x80 != 0;
    let finish_method_kind = variant & 3;
    let late = variant & 0x04 != 0;
    let finish_without_data = variant & 0x08 != 0;
    let start_without_data = variant & 0x10 != 0;
    let plain_only = variant & 0x20 != 0;
    let current_is_other = variant & 0x40 != 0;
    let canonical_final = variant & 0x80 != 0;

    let mut connection = ConnectionInfo::new("fuzz");
    if has_binding {
        connection = connection.with_channel_binding(ChannelBinding::new(
            ChannelBindingType::TlsExporter,
            CBIND_DATA,
        ));
    }
    let connection = Arc::new(connection);
    let mut config = ServerConfig::new([0x42; 32])
        .mock_iterations(MOCK_ITERATIONS)
        .allow_authzid(allow_authzid);
    if plain_only {
        config = config.mechanisms(&[Mechanism::ScramSha256, Mechanism::ScramSha512]);
    }
    let offers_plus = !plain_only;
    let server = ScramServer::new(config).expect("the fuzz configuration is valid");

    let mechanism = Mechanism::from_name(method).unwrap_or(Mechanism::ScramSha256);
    let current = Identity::new(
        if current_is_other { "other" } else { USERNAME },
        mechanism,
        Arc::new(UserAttributes::new()),
    );
    let start_data = (!start_without_data).then_some(client_first);
    let packet = if reauth {
        StartPacket::Reauthenticate {
            reason_code: 0x19,
            method,
            data: start_data,
            current: &current,
        }
    } else {
        StartPacket::Connect {
            method,
            data: start_data,
        }
    };
    let now = Timestamp::new(Duration::from_secs(1_000), 1_700_000_000);
    let pending: NeedCredentials = match server.start(&connection, packet, now) {
        Ok(pending) => pending,
        Err(rejection) => {
            let reply = &rejection.reply;
            assert_eq!(reply.reason_code, rejection.error.reason_code());
            assert_eq!(
                reply.packet,
                if reauth {
                    PacketType::Disconnect
                } else {
                    PacketType::Connack
                }
            );
            check_error_data(reply.data.as_deref());
            return;
        }
    };

    // start accepted: the message parses, and the mechanism fits the connection.
    let hash = mechanism.hash();
    let first =
        ClientFirst::parse(client_first, MAX_LEN).expect("start accepted a malformed client-first");
    assert!(!start_without_data);
    if mechanism.is_plus() {
        assert!(has_binding && !plain_only);
    }
    assert!(
        !(matches!(
            first.gs2().cbind,
            mqtt_scram::message::CbindFlag::SupportedNotUsed
        ) && has_binding
            && offers_plus),
        "downgrade accepted"
    );
    let username = saslprep(first.username(), Mode::Query)
        .expect("start accepted a username failing SASLprep");
    assert_eq!(pending.request().username, username);
    assert_eq!(pending.request().mechanism, mechanism);
    assert_eq!(
        pending.deadline(),
        now.monotonic() + Duration::from_secs(30)
    );

    let fixture = fixture_for(hash);
    let lookup = match lookup_kind {
        LookupKind::NotFound => Lookup::NotFound,
        LookupKind::Found => Lookup::Found(Arc::clone(&fixture.record)),
        LookupKind::FoundOtherHash => {
            Lookup::Found(Arc::clone(&fixture_for(other_hash(hash)).record))
        }
        LookupKind::Ignore => Lookup::Ignore(IgnoreReason::new(IgnoreKind::Unavailable, "fuzz")),
    };
    let (challenge, reply) = internal::continue_with_nonce(pending, lookup, fixture.server_nonce);
    assert_eq!(reply.packet, PacketType::Auth);
    assert_eq!(reply.reason_code, ReasonCode::ContinueAuthentication);
    assert_eq!(reply.method, Some(mechanism));
    let server_first_bytes = reply.data.clone().expect("AUTH 0x18 without server-first");
    let server_first = ServerFirst::parse(&server_first_bytes, usize::MAX)
        .expect("server wrote a bad server-first");
    assert_eq!(
        server_first.nonce(),
        format!("{}{}", first.nonce(), fixture.server_nonce)
    );
    if lookup_kind == LookupKind::Found {
        assert_eq!(server_first.salt(), fixture.credentials.salt());
        assert_eq!(server_first.iterations(), fixture.credentials.iterations());
    } else {
        assert_eq!(server_first.iterations(), MOCK_ITERATIONS);
        assert_eq!(server_first.salt().len(), 16);
    }

    // Everything a correct client on the happy path would send.
    let mut cbind_input = first.gs2().as_str().as_bytes().to_vec();
    if mechanism.is_plus() {
        cbind_input.extend_from_slice(&CBIND_DATA);
    }
    let canonical_without_proof = format!(
        "c={},r={}",
        STANDARD.encode(&cbind_input),
        server_first.nonce()
    )
    .into_bytes();
    // client-final: the fuzz bytes, or the canonical one; the proof filled in by the target when asked.
    let raw_final = if canonical_final {
        &canonical_without_proof[..]
    } else {
        client_final
    };
    let client_final = raw_final;
    let owned_final;
    let client_final = if auto_proof {
        let auth: [&[u8]; 5] = [
            first.bare().as_bytes(),
            b",",
            &server_first_bytes,
            b",",
            client_final,
        ];
        let proof = client_proof(hash, &auth);
        let mut m = client_final.to_vec();
        m.extend_from_slice(b",p=");
        m.extend_from_slice(STANDARD.encode(proof.as_bytes()).as_bytes());
        owned_final = m;
        &owned_final[..]
    } else {
        client_final
    };

    let finish_method = match finish_method_kind {
        0 => method,
        1 => other_hash(hash).mechanism().name(),
        2 => "",
        _ => "SCRAM-SHA-1",
    };
    let finish_now = if late {
        now.advanced(Duration::from_secs(31))
    } else {
        now.advanced(Duration::from_secs(30))
    };
    let finish_data = (!finish_without_data).then_some(client_final);

    let happy_path = auto_proof
        && lookup_kind == LookupKind::Found
        && reason == 0x18
        && finish_method == method
        && !late
        && !finish_without_data
        && raw_final == &canonical_without_proof[..];

    match challenge.finish(reason, finish_method, finish_data, finish_now) {
        Outcome::Accepted { reply, identity } => {
            assert_eq!(
                lookup_kind,
                LookupKind::Found,
                "accepted without the user's credentials"
            );
            assert_eq!(reason, 0x18);
            assert_eq!(finish_method, method);
            assert!(!late, "accepted after the deadline");
            let last = ClientFinal::parse(client_final, hash.output_len(), MAX_LEN)
                .expect("accepted a malformed client-final");
            assert_eq!(last.nonce(), server_first.nonce(), "accepted a wrong nonce");
            assert_eq!(
                last.channel_binding(),
                cbind_input,
                "accepted a wrong channel binding"
            );
            let auth: [&[u8]; 5] = [
                first.bare().as_bytes(),
                b",",
                &server_first_bytes,
                b",",
                last.without_proof().as_bytes(),
            ];
            assert!(
                *last.proof() == client_proof(hash, &auth),
                "accepted a wrong proof"
            );
            let server_key = crypto::server_key(hash, &fixture.salted);
            let signature = crypto::hmac(hash, server_key.as_bytes(), &auth);
            assert_eq!(
                reply.data,
                Some(ServerFinal::write_verifier(&signature).into_bytes())
            );
            assert_eq!(reply.reason_code, ReasonCode::Success);
            assert_eq!(
                reply.packet,
                if reauth {
                    PacketType::Auth
                } else {
                    PacketType::Connack
                }
            );
            assert_eq!(reply.method, Some(mechanism));
            assert_eq!(identity.username, username);
            assert_eq!(identity.mechanism, mechanism);
        }
        Outcome::Rejected(rejection) => {
            let reply = &rejection.reply;
            assert!(
                !happy_path,
                "rejected a correct exchange: {:?}",
                rejection.error
            );
            assert_eq!(reply.reason_code, rejection.error.reason_code());
            assert_eq!(
                reply.packet,
                if reauth {
                    PacketType::Disconnect
                } else {
                    PacketType::Connack
                }
            );
            check_error_data(reply.data.as_deref());
            // Unknown users and unusable records look exactly like a wrong password.
            if matches!(
                rejection.error.kind(),
                ErrorKind::UnknownUser
                    | ErrorKind::CredentialsUnavailable
                    | ErrorKind::CredentialsMismatch
            ) {
                assert_eq!(reply.reason_code, ReasonCode::NotAuthorized);
                if !reauth {
                    assert_eq!(reply.data.as_deref(), Some(&b"e=invalid-proof"[..]));
                }
            }
        }
    }
});

/// A rejection's data, when present, is a server-final-message carrying `e=`.
fn check_error_data(data: Option<&[u8]>) {
    let Some(data) = data else { return };
    let parsed =
        ServerFinal::parse(data, 32, MAX_LEN).expect("rejection data is not a server-final");
    assert!(
        matches!(parsed.outcome(), ServerFinalOutcome::Error(e) if !matches!(e, ServerErrorValue::Extension(_)))
    );
}
