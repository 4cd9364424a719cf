//! Stored credentials against published vectors (`tests/data/scram.json`, a copy of
//! the published vectors; each entry names its source): RFC 7677 §3 and
//! xdg-go/scram keys, rust-postgres verifiers, and malformed inputs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use mqtt_scram::credentials::CredentialsError;
use mqtt_scram::internal::crypto;
use mqtt_scram::{HashAlgorithm, Mechanism, StoredCredentials};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/scram.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

#[test]
fn exchange_keys_step_by_step() {
    for x in vectors()["exchanges"].as_array().unwrap() {
        let name = s(x, "name");
        let hash = Mechanism::from_name(s(x, "mechanism")).unwrap().hash();
        let salt = hex::decode(s(x, "salt_hex")).unwrap();
        let i = u32::try_from(x["iterations"].as_u64().unwrap()).unwrap();
        let count = std::num::NonZeroU32::new(i).unwrap();
        let salted = crypto::hi(hash, s(x, "password").as_bytes(), &salt, count);
        assert_eq!(
            hex::encode(salted.as_bytes()),
            s(x, "salted_password_hex"),
            "{name}"
        );
        let client_key = crypto::client_key(hash, &salted);
        assert_eq!(
            hex::encode(client_key.as_bytes()),
            s(x, "client_key_hex"),
            "{name}"
        );
        let stored = crypto::stored_key(hash, &client_key);
        assert_eq!(
            hex::encode(stored.as_bytes()),
            s(x, "stored_key_hex"),
            "{name}"
        );
        let server = crypto::server_key(hash, &salted);
        assert_eq!(
            hex::encode(server.as_bytes()),
            s(x, "server_key_hex"),
            "{name}"
        );
        let auth = s(x, "auth_message").as_bytes();
        let sig = crypto::hmac(hash, stored.as_bytes(), &[auth]);
        assert_eq!(
            hex::encode(sig.as_bytes()),
            s(x, "client_signature_hex"),
            "{name}"
        );
        let proof = crypto::xor(&client_key, &sig);
        assert_eq!(
            hex::encode(proof.as_bytes()),
            s(x, "client_proof_hex"),
            "{name}"
        );
        let server_sig = crypto::hmac(hash, server.as_bytes(), &[auth]);
        assert_eq!(
            hex::encode(server_sig.as_bytes()),
            s(x, "server_signature_hex"),
            "{name}"
        );
        // Split into parts, the HMAC must not change.
        let (a, b) = auth.split_at(auth.len() / 3);
        assert_eq!(
            crypto::hmac(hash, server.as_bytes(), &[a, b]),
            server_sig,
            "{name}"
        );

        let creds = StoredCredentials::derive(hash, s(x, "password"), &salt, i).unwrap();
        assert_eq!(
            hex::encode(creds.stored_key().as_bytes()),
            s(x, "stored_key_hex")
        );
        assert!(creds.verify_password(s(x, "password")).unwrap());
        assert!(!creds.verify_password("pencil ").unwrap());
        let emqx = creds.to_emqx_hex();
        assert_eq!(emqx.stored_key, s(x, "stored_key_hex"));
        assert_eq!(emqx.salt, s(x, "salt_hex"));
    }
}

#[test]
fn postgres_verifiers() {
    for v in vectors()["postgres_verifiers"].as_array().unwrap() {
        let source = s(v, "source");
        let creds = StoredCredentials::from_postgres(s(v, "verifier")).unwrap();
        assert_eq!(creds.hash(), HashAlgorithm::Sha256, "{source}");
        assert!(creds.verify_password(s(v, "password")).unwrap(), "{source}");
        assert_eq!(creds.to_postgres(), s(v, "verifier"), "{source}");
        let salt = hex::decode(s(v, "salt_hex")).unwrap();
        let derived =
            StoredCredentials::derive(HashAlgorithm::Sha256, s(v, "password"), &salt, 4096)
                .unwrap();
        assert_eq!(derived.to_postgres(), s(v, "verifier"), "{source}");
    }
}

#[test]
fn pbkdf2_kat() {
    for v in vectors()["pbkdf2"].as_array().unwrap() {
        // Hi() is one PBKDF2 block: compare the first hash-length bytes of dk.
        let hash = match s(v, "hash") {
            "sha256" => HashAlgorithm::Sha256,
            _ => HashAlgorithm::Sha512,
        };
        let i = u32::try_from(v["iterations"].as_u64().unwrap()).unwrap();
        let out = crypto::hi(
            hash,
            s(v, "password").as_bytes(),
            s(v, "salt").as_bytes(),
            std::num::NonZeroU32::new(i).unwrap(),
        );
        assert_eq!(
            hex::encode(out.as_bytes()),
            s(v, "dk_hex")[..hash.output_len() * 2],
            "{}",
            s(v, "source")
        );
    }
}

#[test]
fn sha512_verifier_shape() {
    let creds =
        StoredCredentials::derive(HashAlgorithm::Sha512, "pencil", b"saltsaltsaltsalt", 4096)
            .unwrap();
    let pg = creds.to_postgres();
    assert!(pg.starts_with("SCRAM-SHA-512$4096:"));
    assert_eq!(StoredCredentials::from_postgres(&pg).unwrap(), creds);
}

#[test]
fn malformed_forms_are_clear_errors() {
    let good = "SCRAM-SHA-256$4096:AQIDBAUGBwgJCgsMDQ4PEA==$8rrDg00OqaiWXJ7p+sCgHEIaBSHY89ZJl3mfIsf32oY=:05L1f+yZbiN8O0AnO40Og85NNRhvzTS57naKRWCcsIA=";
    assert!(StoredCredentials::from_postgres(good).is_ok());
    let cases = [
        (good.replace("SCRAM-SHA-256", "SCRAM-SHA-1"), "method"),
        (good.replace("$4096:", "$0:"), "iterations"),
        (good.replace("$4096:", "$04096:"), "iterations"),
        (good.replace("$4096:", "$-1:"), "iterations"),
        (good.replace("$4096:", "$99999999999:"), "iterations"),
        (good.replace("AQIDBAUGBwgJCgsMDQ4PEA==", ""), "empty salt"),
        (good.replace("AQIDBAUGBwgJCgsMDQ4PEA==", "AQID!"), "base64"),
        (good.replace("=:05L1", "=:05L1f"), "base64"),
        (
            good.replace("8rrDg00OqaiWXJ7p+sCgHEIaBSHY89ZJl3mfIsf32oY=", "8rrDg00O"),
            "length",
        ),
        (good.replacen('$', ":", 1), "shape"),
        (format!("{good}$extra"), "shape"),
        (String::new(), "empty"),
    ];
    for (bad, what) in cases {
        let err = StoredCredentials::from_postgres(&bad).unwrap_err();
        assert!(!err.to_string().is_empty(), "{what}");
    }
    let err = StoredCredentials::from_postgres(
        &good.replace("8rrDg00OqaiWXJ7p+sCgHEIaBSHY89ZJl3mfIsf32oY=", "8rrDg00O"),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            CredentialsError::WrongLength {
                field: "stored_key",
                expected: 32,
                found: 6,
                ..
            }
        ),
        "{err:?}"
    );

    let k32 = "00".repeat(32);
    assert!(
        StoredCredentials::from_emqx_hex(HashAlgorithm::Sha256, "ab", &k32, &k32, 4096).is_ok()
    );
    assert!(
        StoredCredentials::from_emqx_hex(
            HashAlgorithm::Sha256,
            "AB",
            &k32.to_uppercase(),
            &k32,
            4096
        )
        .is_ok()
    );
    assert!(matches!(
        StoredCredentials::from_emqx_hex(HashAlgorithm::Sha512, "ab", &k32, &k32, 4096),
        Err(CredentialsError::WrongLength {
            expected: 64,
            found: 32,
            ..
        })
    ));
    assert!(matches!(
        StoredCredentials::from_emqx_hex(HashAlgorithm::Sha256, "xz", &k32, &k32, 4096),
        Err(CredentialsError::InvalidHex { field: "salt" })
    ));
    assert!(matches!(
        StoredCredentials::from_emqx_hex(HashAlgorithm::Sha256, "", &k32, &k32, 4096),
        Err(CredentialsError::EmptySalt)
    ));
    assert!(matches!(
        StoredCredentials::from_emqx_hex(HashAlgorithm::Sha256, "ab", &k32, &k32, 0),
        Err(CredentialsError::InvalidIterations)
    ));
}
