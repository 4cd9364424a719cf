//! The JWT fallback's input handling (`mqtt_scram_authz::fallback::jwt::JwtVerifier`):
//! a password and username the client controls.
//!
//! Two halves, chosen by the first byte:
//! - arbitrary bytes as the password (forged, truncated, `alg: none`, bad base64): never
//!   panics, never verifies (the fuzzer does not know the key);
//! - arbitrary JSON claims *signed with the verifier's key*, so the claim handling behind
//!   the signature is reached (`exp`/`nbf` of any type against the injected clock, the
//!   username claim, the ACL claim): never panics, and an accepted token's username claim
//!   equals the username and its rules compile.
#![no_main]

use std::sync::Arc;

use jsonwebtoken::{EncodingKey, Header, encode};
use libfuzzer_sys::fuzz_target;
use mqtt_scram::ManualClock;
use mqtt_scram_authz::fallback::jwt::JwtVerifier;

const KEY: &[u8] = b"fuzzing-secret";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let verifier = JwtVerifier::hs256(KEY)
        .acl_claim("acl")
        .leeway(u64::from(mode >> 4))
        .require_exp(mode & 2 != 0)
        .clock(Arc::new(ManualClock::new(1_700_000_000)));
    let (username, password) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&b"alice"[..], rest),
    };
    let username = String::from_utf8_lossy(username);
    if mode & 1 == 0 {
        assert!(
            verifier.verify(&username, password).is_err(),
            "a token the fuzzer could not sign verified"
        );
        return;
    }
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(password) else {
        return;
    };
    let Ok(token) = encode(&Header::default(), &claims, &EncodingKey::from_secret(KEY)) else {
        return;
    };
    if let Ok(verified) = verifier.verify(&username, token.as_bytes()) {
        assert_eq!(
            verified.claims.get("rid").and_then(|v| v.as_str()),
            Some(username.as_ref())
        );
        assert!(mqtt_scram_authz::RuleSet::compile(&verified.acl).is_ok());
        let _ = verifier.client(&username, "c1", token.as_bytes());
    }
});
