//! Drives the client (user/pencil, fixed nonce, iteration window 1..=16) with
//! fuzz bytes as server-first and server-final.
//!
//! Input layout (see README.md):
//!
//! ```text
//! [0] flags  bit 0 SCRAM-SHA-512 (else SCRAM-SHA-256)
//!            bit 1 -PLUS with tls-exporter channel binding
//!            bit 2 channel binding available but a non-PLUS mechanism (gs2 flag y)
//!            bit 3 authzid "admin"
//!            bit 4 auto-signature: server-final = "v=" + the correct signature + the rest
//! [1..3] big-endian length of server-first, server-first, then server-final (the rest)
//! ```
//!
//! Never panics. When the client answers a server-first, its proof must be the
//! correct one for exactly these messages; it may accept a server-final only if
//! `v=` is the correct server signature, and with auto-signature and nothing
//! after it, it must accept.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use mqtt_scram::client::{ClientConfig, ClientOptions};
use mqtt_scram::internal::crypto;
use mqtt_scram::message::{ClientFinal, ServerFinal, ServerFinalOutcome, ServerFirst};
use mqtt_scram::{ChannelBinding, ChannelBindingType, Mechanism, internal};

const USERNAME: &str = "user";
const PASSWORD: &str = "pencil";
const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const CBIND_DATA: [u8; 32] = [0xCB; 32];
const WINDOW: std::ops::RangeInclusive<u32> = 1..=16;

fuzz_target!(|data: &[u8]| {
    let [flags, len_hi, len_lo, rest @ ..] = data else {
        return;
    };
    let flags = *flags;
    let first_len = usize::from(u16::from_be_bytes([*len_hi, *len_lo]));
    let Some((server_first_bytes, server_final_rest)) = rest.split_at_checked(first_len) else {
        return;
    };
    let sha512 = flags & 1 != 0;
    let plus = flags & 2 != 0;
    let binding_unused = flags & 4 != 0;
    let with_authzid = flags & 8 != 0;
    let auto_signature = flags & 0x10 != 0;

    let mut mechanism = if sha512 {
        Mechanism::ScramSha512
    } else {
        Mechanism::ScramSha256
    };
    if plus {
        mechanism = mechanism.with_plus();
    }
    let hash = mechanism.hash();
    let binding = ChannelBinding::new(ChannelBindingType::TlsExporter, CBIND_DATA);
    let options = ClientOptions::new()
        .authzid(with_authzid.then_some("admin"))
        .channel_binding((plus || binding_unused).then_some(&binding));
    let config = ClientConfig::new().iteration_window(WINDOW);
    let (state, client_first) = internal::client_start_with_nonce(
        &config,
        mechanism,
        USERNAME,
        PASSWORD,
        options,
        CLIENT_NONCE,
    )
    .expect("client start failed on fixed inputs");
    let gs2 = match (plus, binding_unused, with_authzid) {
        (true, _, false) => "p=tls-exporter,,",
        (true, _, true) => "p=tls-exporter,a=admin,",
        (false, true, false) => "y,,",
        (false, true, true) => "y,a=admin,",
        (false, false, false) => "n,,",
        (false, false, true) => "n,a=admin,",
    };
    let bare = format!("n={USERNAME},r={CLIENT_NONCE}");
    assert_eq!(client_first, format!("{gs2}{bare}").into_bytes());

    let Ok((state, client_final)) = state.on_server_first(server_first_bytes) else {
        return;
    };

    // The client answered: the server-first must have been acceptable.
    let first = ServerFirst::parse(server_first_bytes, usize::MAX)
        .expect("client accepted a malformed server-first");
    assert!(
        first.nonce().len() > CLIENT_NONCE.len() && first.nonce().starts_with(CLIENT_NONCE),
        "bad nonce accepted"
    );
    assert!(
        WINDOW.contains(&first.iterations()),
        "iteration count outside the window accepted"
    );

    let last = ClientFinal::parse(&client_final, hash.output_len(), usize::MAX)
        .expect("client wrote a bad client-final");
    assert_eq!(last.nonce(), first.nonce());
    assert_eq!(last.extensions().count(), 0);
    let mut cbind_input = gs2.as_bytes().to_vec();
    if plus {
        cbind_input.extend_from_slice(&CBIND_DATA);
    }
    assert_eq!(last.channel_binding(), cbind_input);
    assert!(last.channel_binding_is(gs2.as_bytes(), if plus { &CBIND_DATA } else { &[] }));

    let count = std::num::NonZeroU32::new(first.iterations()).expect("accepted a count of 0");
    let salted = crypto::hi(hash, PASSWORD.as_bytes(), first.salt(), count);
    let auth: [&[u8]; 5] = [
        bare.as_bytes(),
        b",",
        server_first_bytes,
        b",",
        last.without_proof().as_bytes(),
    ];
    let client_key = crypto::client_key(hash, &salted);
    let stored_key = crypto::stored_key(hash, &client_key);
    let expected_proof = crypto::xor(
        &client_key,
        &crypto::hmac(hash, stored_key.as_bytes(), &auth),
    );
    assert!(*last.proof() == expected_proof, "client sent a wrong proof");
    let server_key = crypto::server_key(hash, &salted);
    let signature = crypto::hmac(hash, server_key.as_bytes(), &auth);

    let server_final = if auto_signature {
        let mut m = format!("v={}", STANDARD.encode(signature.as_bytes())).into_bytes();
        m.extend_from_slice(server_final_rest);
        m
    } else {
        server_final_rest.to_vec()
    };
    match state.on_server_final(&server_final) {
        Ok(done) => {
            assert_eq!(done.mechanism(), mechanism);
            let parsed = ServerFinal::parse(&server_final, hash.output_len(), usize::MAX)
                .expect("client accepted a malformed server-final");
            match parsed.outcome() {
                ServerFinalOutcome::Verifier(v) => {
                    assert!(*v == signature, "client accepted a wrong signature")
                }
                ServerFinalOutcome::Error(e) => panic!("client accepted e={e}"),
            }
        }
        Err(error) => {
            assert!(
                !(auto_signature && server_final_rest.is_empty()),
                "client rejected the correct signature: {error}"
            );
        }
    }
});
