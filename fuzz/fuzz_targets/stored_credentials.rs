//! The stored-credential readers on arbitrary input: the PostgreSQL verifier
//! (`StoredCredentials::from_postgres`) and the EMQX hex form
//! (`StoredCredentials::from_emqx_hex`).
//!
//! Input layout (see README.md):
//!
//! ```text
//! [0] flags  bit 0: EMQX hex (else a PostgreSQL verifier)
//!            bit 1: SHA-512 (EMQX only; a verifier names its method)
//! PostgreSQL: [1..] the verifier text (UTF-8)
//! EMQX:       [1..5] iteration count (u32, big-endian), then salt, StoredKey and ServerKey
//!             as text separated by '\n'
//! ```
//!
//! Never panics. Accepted ⇒ the keys have the hash's length, the salt is non-empty, the
//! count is at least 1, writing the credentials back gives the (trimmed) input byte for byte
//! (lowercase for hex), reading that again gives equal credentials, and no `Debug` form
//! shows a key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_scram::{HashAlgorithm, RecordPolicy, StoredCredentials};

fn check(credentials: &StoredCredentials) {
    let hash = credentials.hash();
    assert_eq!(credentials.stored_key().len(), hash.output_len());
    assert_eq!(credentials.server_key().len(), hash.output_len());
    assert!(!credentials.salt().is_empty());
    assert!(credentials.iterations() >= 1);
    // The policy check reads a record of any shape without panicking.
    let _ = RecordPolicy::default().check(credentials);
    let emqx = credentials.to_emqx_hex();
    let debug = format!("{credentials:?} {emqx:?}");
    for secret in [&emqx.stored_key, &emqx.server_key] {
        assert!(
            !debug.contains(secret.as_str()),
            "Debug shows a key: {debug}"
        );
    }
    let again = StoredCredentials::from_emqx_hex(
        hash,
        &emqx.salt,
        &emqx.stored_key,
        &emqx.server_key,
        credentials.iterations(),
    )
    .expect("the EMQX form written does not read back");
    assert_eq!(&again, credentials);
    let verifier = credentials.to_postgres();
    let again = StoredCredentials::from_postgres(&verifier)
        .expect("the PostgreSQL verifier written does not read back");
    assert_eq!(&again, credentials);
}

fuzz_target!(|data: &[u8]| {
    let [flags, rest @ ..] = data else {
        return;
    };
    if flags & 1 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let Ok(credentials) = StoredCredentials::from_postgres(text) else {
            return;
        };
        check(&credentials);
        assert_eq!(
            credentials.to_postgres(),
            text.trim(),
            "the verifier read is not written back byte for byte"
        );
        return;
    }
    let hash = if flags & 2 == 0 {
        HashAlgorithm::Sha256
    } else {
        HashAlgorithm::Sha512
    };
    let [a, b, c, d, fields @ ..] = rest else {
        return;
    };
    let iterations = u32::from_be_bytes([*a, *b, *c, *d]);
    let Ok(fields) = std::str::from_utf8(fields) else {
        return;
    };
    let mut parts = fields.splitn(3, '\n');
    let (Some(salt), Some(stored), Some(server)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let Ok(credentials) = StoredCredentials::from_emqx_hex(hash, salt, stored, server, iterations)
    else {
        return;
    };
    assert_eq!(credentials.hash(), hash);
    assert_eq!(credentials.iterations(), iterations);
    check(&credentials);
    let emqx = credentials.to_emqx_hex();
    assert_eq!(emqx.salt, salt.trim().to_ascii_lowercase());
    assert_eq!(emqx.stored_key, stored.trim().to_ascii_lowercase());
    assert_eq!(emqx.server_key, server.trim().to_ascii_lowercase());
});
