//! Fallbacks for clients without enhanced authentication: plain passwords against SCRAM
//! stored credentials, and JWT passwords (feature `jwt`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::UserRecord;
use mqtt_scram::{HashAlgorithm, Timestamp};
use mqtt_scram_authz::fallback::verify_plain_password;

const NOW: Timestamp = Timestamp::new(Duration::ZERO, 1_700_000_000);

#[test]
fn plain_password_against_scram_credentials() {
    // RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096.
    use base64::Engine as _;
    let b64 = |s| base64::engine::general_purpose::STANDARD.decode(s).unwrap();
    let creds = StoredCredentials::from_parts(
        HashAlgorithm::Sha256,
        &b64("W22ZaJ0SNY7soEsUEjb6gQ=="),
        4096,
        &b64("WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="),
        &b64("wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="),
    )
    .unwrap();
    let record = UserRecord::new(creds);
    assert!(verify_plain_password(&record, "pencil", NOW));
    for wrong in ["Pencil", "pencil ", "", "pencil\u{0}", "\u{0221}"] {
        assert!(!verify_plain_password(&record, wrong, NOW), "{wrong:?}");
    }
    // SASLprep applies as for SCRAM (RFC 4013: U+00A0 maps to a space).
    let creds = StoredCredentials::derive(HashAlgorithm::Sha512, "a b", b"salt", 4096).unwrap();
    let record = UserRecord::new(creds);
    assert!(verify_plain_password(&record, "a\u{00A0}b", NOW));
    assert!(verify_plain_password(&record, "a b", NOW));
    assert!(!verify_plain_password(&record, "ab", NOW));
}

#[test]
fn plain_password_refuses_an_expired_record() {
    let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"salt", 4096).unwrap();
    let at = NOW.unix_seconds();
    let record = UserRecord::new(creds).expire_at(Some(at));
    let before = Timestamp::new(Duration::ZERO, at - 1);
    assert!(verify_plain_password(&record, "pencil", before));
    assert!(
        !verify_plain_password(&record, "pencil", NOW),
        "expired at expire_at"
    );
    assert!(!verify_plain_password(
        &record,
        "pencil",
        Timestamp::new(Duration::ZERO, at + 3600)
    ));
}

#[cfg(feature = "jwt")]
mod jwt {
    use std::time::{SystemTime, UNIX_EPOCH};

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use mqtt_scram_authz::fallback::jwt::{JwtError, JwtVerifier};
    use mqtt_scram_authz::{Chain, ClientRules, Request};
    use serde_json::{Value, json};

    const SECRET: &[u8] = b"some_cool_secret";
    const RSA_PRIVATE: &[u8] = include_bytes!("fixtures/jwt/rs256-private.pem");
    const RSA_PUBLIC: &[u8] = include_bytes!("fixtures/jwt/rs256-public.pem");
    const EC_PRIVATE: &[u8] = include_bytes!("fixtures/jwt/es256-private.pem");
    const EC_PUBLIC: &[u8] = include_bytes!("fixtures/jwt/es256-public.pem");

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn hs256(claims: &Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    #[test]
    fn hs256_valid_and_rid_checked() {
        let v = JwtVerifier::hs256(SECRET);
        let token = hs256(&json!({"rid": "alice", "exp": now() + 600}));
        let claims = v.verify("alice", token.as_bytes()).unwrap();
        assert_eq!(claims.claims["rid"], "alice");
        assert!(claims.expire_at.is_some());
        assert!(claims.acl.is_empty());
        // Wrong rid, missing rid, non-string rid.
        assert!(matches!(
            v.verify("bob", token.as_bytes()),
            Err(JwtError::UsernameMismatch { .. })
        ));
        let no_rid = hs256(&json!({"sub": "alice"}));
        assert_eq!(
            v.verify("alice", no_rid.as_bytes()),
            Err(JwtError::MissingClaim("rid".into()))
        );
        let num_rid = hs256(&json!({"rid": 7}));
        assert!(matches!(
            v.verify("7", num_rid.as_bytes()),
            Err(JwtError::UsernameMismatch { .. })
        ));
        // Another claim name.
        let v2 = JwtVerifier::hs256(SECRET).username_claim("sub");
        let sub = hs256(&json!({"sub": "alice"}));
        assert!(v2.verify("alice", sub.as_bytes()).is_ok());
        // Wrong secret.
        let other = encode(
            &Header::new(Algorithm::HS256),
            &json!({"rid": "alice"}),
            &EncodingKey::from_secret(b"x"),
        )
        .unwrap();
        assert_eq!(
            v.verify("alice", other.as_bytes()),
            Err(JwtError::Signature)
        );
        // Garbage.
        assert!(matches!(
            v.verify("alice", b"not a jwt"),
            Err(JwtError::Malformed(_))
        ));
        assert!(v.verify("alice", &[0xff, 0xfe]).is_err());
    }

    /// RFC 7519 §4.1.4 (`exp`: "the current date/time MUST be before the expiration
    /// date/time") and §4.1.5 (`nbf`), with a leeway, on an injected clock: no sleeping.
    #[test]
    fn exp_and_nbf_on_an_injected_clock() {
        use std::sync::Arc;
        let clock = Arc::new(mqtt_scram::ManualClock::new(2_000_000_000));
        let v = JwtVerifier::hs256(SECRET).leeway(0).clock(clock.clone());
        let token =
            hs256(&json!({"rid": "alice", "nbf": 2_000_000_100_i64, "exp": 2_000_000_200_i64}));
        assert_eq!(
            v.verify("alice", token.as_bytes()),
            Err(JwtError::NotYetValid)
        );
        clock.advance(std::time::Duration::from_secs(100));
        assert!(v.verify("alice", token.as_bytes()).is_ok());
        clock.advance(std::time::Duration::from_secs(99));
        assert!(v.verify("alice", token.as_bytes()).is_ok());
        clock.advance(std::time::Duration::from_secs(1));
        assert_eq!(v.verify("alice", token.as_bytes()), Err(JwtError::Expired));
        let odd = hs256(&json!({"rid": "alice", "exp": "tomorrow"}));
        assert!(matches!(
            v.verify("alice", odd.as_bytes()),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn exp_and_nbf_with_leeway() {
        let v = JwtVerifier::hs256(SECRET).leeway(30);
        let expired = hs256(&json!({"rid": "alice", "exp": now() - 3600}));
        assert_eq!(
            v.verify("alice", expired.as_bytes()),
            Err(JwtError::Expired)
        );
        let just_expired = hs256(&json!({"rid": "alice", "exp": now() - 10}));
        assert!(
            v.verify("alice", just_expired.as_bytes()).is_ok(),
            "within leeway"
        );
        assert_eq!(
            JwtVerifier::hs256(SECRET)
                .leeway(0)
                .verify("alice", just_expired.as_bytes()),
            Err(JwtError::Expired)
        );
        let future = hs256(&json!({"rid": "alice", "nbf": now() + 3600}));
        assert_eq!(
            v.verify("alice", future.as_bytes()),
            Err(JwtError::NotYetValid)
        );
        let no_exp = hs256(&json!({"rid": "alice"}));
        assert!(v.verify("alice", no_exp.as_bytes()).is_ok());
        let strict = JwtVerifier::hs256(SECRET).require_exp(true);
        assert_eq!(
            strict.verify("alice", no_exp.as_bytes()),
            Err(JwtError::MissingClaim("exp".into()))
        );
    }

    #[test]
    fn wrong_algorithms_are_rejected() {
        let v = JwtVerifier::hs256(SECRET);
        // alg: none, unsigned (RFC 7519 §6).
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"rid":"alice"}"#);
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            let err = v.verify("alice", token.as_bytes()).unwrap_err();
            assert!(
                matches!(err, JwtError::Algorithm | JwtError::Malformed(_)),
                "{err:?}"
            );
        }
        // HS512 with the right secret is still not HS256.
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &json!({"rid": "alice"}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            v.verify("alice", hs512.as_bytes()),
            Err(JwtError::Algorithm)
        );
        // Algorithm confusion: an HS256 token "signed" with the RSA public key as secret.
        let rs = JwtVerifier::rs256_pem(RSA_PUBLIC).unwrap();
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &json!({"rid": "alice"}),
            &EncodingKey::from_secret(RSA_PUBLIC),
        )
        .unwrap();
        assert_eq!(
            rs.verify("alice", forged.as_bytes()),
            Err(JwtError::Algorithm)
        );
    }

    #[test]
    fn rs256_and_es256() {
        let claims = json!({"rid": "dev-1", "exp": now() + 60});
        let rs = encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
        )
        .unwrap();
        let es = encode(
            &Header::new(Algorithm::ES256),
            &claims,
            &EncodingKey::from_ec_pem(EC_PRIVATE).unwrap(),
        )
        .unwrap();
        let rsv = JwtVerifier::rs256_pem(RSA_PUBLIC).unwrap();
        let esv = JwtVerifier::es256_pem(EC_PUBLIC).unwrap();
        assert!(rsv.verify("dev-1", rs.as_bytes()).is_ok());
        assert!(esv.verify("dev-1", es.as_bytes()).is_ok());
        assert_eq!(rsv.verify("dev-1", es.as_bytes()), Err(JwtError::Algorithm));
        assert_eq!(esv.verify("dev-1", rs.as_bytes()), Err(JwtError::Algorithm));
        assert!(matches!(
            JwtVerifier::rs256_pem(b"nope"),
            Err(JwtError::Key(_))
        ));
        // Tampered payload.
        let mut parts: Vec<&str> = es.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(br#"{"rid":"admin","exp":9999999999}"#);
        parts[1] = &evil;
        assert_eq!(
            esv.verify("admin", parts.join(".").as_bytes()),
            Err(JwtError::Signature)
        );
    }

    #[test]
    fn acl_claim_feeds_the_authorizer() {
        let v = JwtVerifier::hs256(SECRET).acl_claim("acl");
        let token = hs256(&json!({
            "rid": "alice",
            "acl": [
                {"permission": "allow", "action": "publish", "topic": "up/${clientid}"},
                {"permission": "allow", "action": "subscribe", "topics": ["down/${username}/#"]}
            ]
        }));
        let claims = v.verify("alice", token.as_bytes()).unwrap();
        assert_eq!(claims.acl.len(), 2);
        let client = v.client("alice", "c9", token.as_bytes()).unwrap();
        let chain = Chain::new().with(ClientRules);
        assert!(
            chain
                .check(&client, Request::publish("up/c9", 0, false))
                .is_allowed()
        );
        assert!(
            !chain
                .check(&client, Request::publish("up/c8", 0, false))
                .is_allowed()
        );
        assert!(
            chain
                .check(&client, Request::subscribe("down/alice/+", 1))
                .is_allowed()
        );
        let bad = hs256(
            &json!({"rid": "alice", "acl": [{"permission": "allow", "action": "all", "topic": "a/#/b"}]}),
        );
        assert!(matches!(
            v.verify("alice", bad.as_bytes()),
            Err(JwtError::Acl(_))
        ));
        let not_list = hs256(&json!({"rid": "alice", "acl": "everything"}));
        assert!(matches!(
            v.verify("alice", not_list.as_bytes()),
            Err(JwtError::Acl(_))
        ));
    }
}
