//! Cross-checks of the block-level crypto in `mqtt_scram::internal::crypto` against the generic
//! RustCrypto implementations (`sha2`, `hmac`, `pbkdf2`) on random inputs, plus known-answer
//! tests with intermediate keys.
//!
//! Sources of the vectors:
//! - RFC 7677 §3 (SCRAM-SHA-256 example) and xdg-go/scram `testdata/good/sha-512-ascii.json`
//!   (SCRAM-SHA-512, i=10000), as collected with intermediate keys in the project file
//!   `tests/data/scram.json`;
//! - RFC 7914 §11 (PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, dkLen=64);
//! - RFC 4231 §4.2/§4.7 (HMAC-SHA-256/512 test cases 1 and 6);
//! - FIPS 180-4 examples ("abc").

// Test helpers outside #[test] functions may fail loudly.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use hmac::{KeyInit, Mac};
use mqtt_scram::HashAlgorithm;
use mqtt_scram::internal::crypto::{self, HmacKey, Key};
use proptest::prelude::*;
use sha2::{Digest, Sha256, Sha512};

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex vector")
}

fn ref_hmac(hash: HashAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <M as KeyInit>::new_from_slice(key).expect("any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match hash {
        HashAlgorithm::Sha256 => run::<hmac::Hmac<Sha256>>(key, parts),
        HashAlgorithm::Sha512 => run::<hmac::Hmac<Sha512>>(key, parts),
    }
}

fn ref_pbkdf2(hash: HashAlgorithm, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = vec![0u8; hash.output_len()];
    match hash {
        HashAlgorithm::Sha256 => {
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
        }
        HashAlgorithm::Sha512 => {
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out)
        }
    }
    out
}

fn ref_h(hash: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    match hash {
        HashAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
        HashAlgorithm::Sha512 => Sha512::digest(data).to_vec(),
    }
}

fn any_hash() -> impl Strategy<Value = HashAlgorithm> {
    prop_oneof![Just(HashAlgorithm::Sha256), Just(HashAlgorithm::Sha512)]
}

/// Byte strings whose lengths cluster around the block and padding boundaries
/// (55/56/64 for SHA-256, 111/112/128 for SHA-512) as well as anywhere up to 3 blocks.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    let boundary = prop_oneof![
        Just(0usize),
        Just(1),
        54usize..=57,
        63usize..=65,
        110usize..=113,
        127usize..=129,
        0usize..400,
    ];
    boundary.prop_flat_map(|len| proptest::collection::vec(any::<u8>(), len))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn h_matches_sha2(hash in any_hash(), data in bytes()) {
        prop_assert_eq!(crypto::h(hash, &data).as_bytes().to_vec(), ref_h(hash, &data));
    }

    #[test]
    fn hmac_matches_hmac_crate(
        hash in any_hash(),
        key in bytes(),
        parts in proptest::collection::vec(bytes(), 0..6),
    ) {
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let expected = ref_hmac(hash, &key, &parts);
        prop_assert_eq!(crypto::hmac(hash, &key, &parts).as_bytes().to_vec(), expected.clone());
        let precomputed = HmacKey::new(hash, &key);
        prop_assert_eq!(precomputed.hash(), hash);
        prop_assert_eq!(precomputed.mac(&parts).as_bytes().to_vec(), expected.clone());
        // Splitting the message differently never changes the MAC.
        let joined: Vec<u8> = parts.concat();
        prop_assert_eq!(precomputed.mac(&[&joined]).as_bytes().to_vec(), expected.clone());
    }

    #[test]
    fn hmac_pair_matches_hmac_crate(
        hash in any_hash(),
        key_a in bytes(),
        key_b in bytes(),
        parts in proptest::collection::vec(bytes(), 0..4),
    ) {
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let (a, b) = crypto::hmac_pair(hash, &key_a, &key_b, &parts);
        prop_assert_eq!(a.as_bytes().to_vec(), ref_hmac(hash, &key_a, &parts));
        prop_assert_eq!(b.as_bytes().to_vec(), ref_hmac(hash, &key_b, &parts));
    }

    #[test]
    fn hi_matches_pbkdf2_crate(
        hash in any_hash(),
        password in bytes(),
        salt in bytes(),
        iterations in 1u32..64,
    ) {
        let expected = ref_pbkdf2(hash, &password, &salt, iterations);
        prop_assert_eq!(crypto::hi(hash, &password, &salt, nonzero(iterations)).as_bytes().to_vec(), expected.clone());
        prop_assert_eq!(HmacKey::new(hash, &password).hi(&salt, nonzero(iterations)).as_bytes().to_vec(), expected.clone());
    }

    #[test]
    fn key_schedule_matches_generic(hash in any_hash(), salted in proptest::collection::vec(any::<u8>(), 64)) {
        let salted = Key::from_slice(salted.get(..hash.output_len()).expect("64 bytes")).expect("fits");
        let client_key = crypto::client_key(hash, &salted);
        prop_assert_eq!(client_key.as_bytes().to_vec(), ref_hmac(hash, salted.as_bytes(), &[b"Client Key"]));
        prop_assert_eq!(
            crypto::server_key(hash, &salted).as_bytes().to_vec(),
            ref_hmac(hash, salted.as_bytes(), &[b"Server Key"])
        );
        prop_assert_eq!(
            crypto::stored_key(hash, &client_key).as_bytes().to_vec(),
            ref_h(hash, client_key.as_bytes())
        );
    }
}

/// A count of 0 is refused wherever one is read; `hi` itself takes a `NonZeroU32`, so
/// PBKDF2 can never run with 0 (it used to run once, as if the count were 1).
#[test]
fn zero_iterations_is_an_error_everywhere() {
    use mqtt_scram::StoredCredentials;
    use mqtt_scram::credentials::CredentialsError;
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let key = vec![1u8; hash.output_len()];
        let salted = Key::from_slice(&key).expect("key");
        assert_eq!(
            StoredCredentials::derive(hash, "p", b"salt", 0),
            Err(CredentialsError::InvalidIterations)
        );
        assert_eq!(
            StoredCredentials::from_parts(hash, b"salt", 0, &key, &key),
            Err(CredentialsError::InvalidIterations)
        );
        assert_eq!(
            StoredCredentials::from_salted_password(hash, &salted, b"salt", 0),
            Err(CredentialsError::InvalidIterations)
        );
        assert_eq!(
            StoredCredentials::from_emqx_hex(hash, "73616c74", &hex_of(&key), &hex_of(&key), 0),
            Err(CredentialsError::InvalidIterations)
        );
    }
    let verifier = "SCRAM-SHA-256$0:c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_eq!(
        StoredCredentials::from_postgres(verifier),
        Err(CredentialsError::InvalidIterations)
    );
    assert!(
        mqtt_scram::message::ServerFirst::parse(b"r=abc,s=c2FsdA==,i=0", 4096).is_err(),
        "a server asking for 0 iterations is refused before PBKDF2"
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An iteration count that is not zero.
fn nonzero(iterations: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(iterations).expect("a positive count")
}

#[test]
fn hi_long_iteration_counts_match_pbkdf2_crate() {
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        for iterations in [4096, 4097, 10_000] {
            let expected = ref_pbkdf2(hash, b"pencil", b"salt of some length", iterations);
            assert_eq!(
                crypto::hi(hash, b"pencil", b"salt of some length", nonzero(iterations)).as_bytes(),
                expected
            );
        }
    }
}

/// FIPS 180-4 example "abc" (also the first test of every SHA-2 implementation).
#[test]
fn fips_180_4_abc() {
    assert_eq!(
        crypto::h(HashAlgorithm::Sha256, b"abc").as_bytes(),
        hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        crypto::h(HashAlgorithm::Sha512, b"abc").as_bytes(),
        hex(concat!(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a",
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        ))
    );
}

/// RFC 4231 §4.2 (test case 1) and §4.7 (test case 6: a 131-byte key, hashed first).
#[test]
fn rfc_4231() {
    let key1 = [0x0b; 20];
    assert_eq!(
        crypto::hmac(HashAlgorithm::Sha256, &key1, &[b"Hi There"]).as_bytes(),
        hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    );
    assert_eq!(
        crypto::hmac(HashAlgorithm::Sha512, &key1, &[b"Hi ", b"There"]).as_bytes(),
        hex(concat!(
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde",
            "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
        ))
    );
    let key6 = [0xaa; 131];
    let msg6: &[u8] = b"Test Using Larger Than Block-Size Key - Hash Key First";
    assert_eq!(
        crypto::hmac(HashAlgorithm::Sha256, &key6, &[msg6]).as_bytes(),
        hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    );
    assert_eq!(
        crypto::hmac(HashAlgorithm::Sha512, &key6, &[msg6]).as_bytes(),
        hex(concat!(
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352",
            "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"
        ))
    );
}

/// RFC 7914 §11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1, dkLen=64). `Hi` is the
/// first 32-byte output block; the second block is `pbkdf2` with INT(2), checked through
/// the reference crate so the whole vector is covered.
#[test]
fn rfc_7914_pbkdf2() {
    let dk = hex(concat!(
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc",
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
    ));
    let block1 = crypto::hi(HashAlgorithm::Sha256, b"passwd", b"salt", nonzero(1));
    assert_eq!(block1.as_bytes(), &dk[..32]);
    // T2 = U1 of block 2 = HMAC(P, S ‖ INT(2)) when c = 1.
    let block2 = crypto::hmac(
        HashAlgorithm::Sha256,
        b"passwd",
        &[b"salt", &2u32.to_be_bytes()],
    );
    assert_eq!(block2.as_bytes(), &dk[32..]);
    assert_eq!(
        ref_pbkdf2(HashAlgorithm::Sha256, b"passwd", b"salt", 1),
        &dk[..32]
    );
}

/// One SCRAM exchange with every intermediate key.
struct Exchange {
    name: &'static str,
    hash: HashAlgorithm,
    password: &'static str,
    salt_hex: &'static str,
    iterations: u32,
    auth_message: &'static str,
    salted_password_hex: &'static str,
    client_key_hex: &'static str,
    stored_key_hex: &'static str,
    server_key_hex: &'static str,
    client_signature_hex: &'static str,
    client_proof_hex: &'static str,
    server_signature_hex: &'static str,
}

/// Copied from `tests/data/scram.json` (see the sources at the top of this file), so
/// the test needs nothing outside the crate; `scram_json_matches` checks the
/// file itself when it is beside the crate.
const EXCHANGES: &[Exchange] = &[
    Exchange {
        name: "rfc7677-sha256 (RFC 7677 §3)",
        hash: HashAlgorithm::Sha256,
        password: "pencil",
        salt_hex: "5b6d99689d12358eeca04b141236fa81",
        iterations: 4096,
        auth_message: "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        salted_password_hex: "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d",
        client_key_hex: "a60fc923d67e8644a92d16b96eda5ef4656b0c725c484374be25535576996e8b",
        stored_key_hex: "586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6",
        server_key_hex: "c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5",
        client_signature_hex: "d27312467c28a40a8a7f05c73c0de33eb3cbfb4a83783b58144cf19ac6be1bdf",
        client_proof_hex: "747cdb65aa56224e2352137e52d7bdcad6a0f738df30782caa69a2cfb0277554",
        server_signature_hex: "eabae24d1062db75a9451ff0b6ea7e98c8546549ff741e672d3251b2397de46e",
    },
    Exchange {
        name: "sha512-i10000 (xdg-go/scram testdata/good/sha-512-ascii.json)",
        hash: HashAlgorithm::Sha512,
        password: "pencil",
        salt_hex: "5b6d99689d12358eeca04b141236fa81",
        iterations: 10000,
        auth_message: "n=user,r=/uAp+YhRXyuq+1zS3YWsUsZHpxLfGkcQ,r=/uAp+YhRXyuq+1zS3YWsUsZHpxLfGkcQ4FHzBxBhPzykjGStpoxdfs4Nyp1mtC9B,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000,c=biws,r=/uAp+YhRXyuq+1zS3YWsUsZHpxLfGkcQ4FHzBxBhPzykjGStpoxdfs4Nyp1mtC9B",
        salted_password_hex: "5d3074221719fd9af16d143d93949298034185960acc0f261a76a3cc4100c6a15f3bbed6bae596b44b79b5c4608f252ffb4baed0e0d8c0aad3c58d30bc829835",
        client_key_hex: "5c10a0800d93ed6df457a329b05de6442a079747ffaa2ab738ed6bdf0e6c077e02667341845c793821cd951a0847696ed6eebc2d38f5eb358708137856622c65",
        stored_key_hex: "a1310d29128cf1d0882b6f0187cc5032947f0e5dfd064931e53eef7e6d90190a52d03ef99ef0ef22a4c872c23eda94532135f14f839627aee2507e0c257cfdb0",
        server_key_hex: "227165c223010cafb81facbbfe536a441160bfc57b6eeff98d5c668c48c77db4f7e84d78b9398b6248f7d9b33ad02a391f9b2e7dd91f3617cb37c76f830ecb0f",
        client_signature_hex: "4f7bca36e19a22f95541440d67af78edb8850f21a15696d4f253f49296c4dc221bd029214dba720f3d9dcba8e66c9831e7ce26b2182473b8edecb18d185c54f8",
        client_proof_hex: "136b6ab6ec09cf94a116e724d7f29ea9928298665efcbc63cabe9f4d98a8db5c19b65a60c9e60b371c505eb2ee2bf15f31209a9f20d1988d6ae4a2f54e3e789d",
        server_signature_hex: "a8a3a42cd19db7456b9559282f79178e15a62384a311fab0f288178229336cf38c87a825a28f0cadba2afeaddccf4ffb848bdc43537d54be26ee28924d3ca895",
    },
];

fn check_exchange(e: &Exchange) {
    let hash = e.hash;
    let salted = crypto::hi(
        hash,
        e.password.as_bytes(),
        &hex(e.salt_hex),
        nonzero(e.iterations),
    );
    assert_eq!(
        salted.as_bytes(),
        hex(e.salted_password_hex),
        "{}: SaltedPassword",
        e.name
    );
    let client_key = crypto::client_key(hash, &salted);
    assert_eq!(
        client_key.as_bytes(),
        hex(e.client_key_hex),
        "{}: ClientKey",
        e.name
    );
    let stored_key = crypto::stored_key(hash, &client_key);
    assert_eq!(
        stored_key.as_bytes(),
        hex(e.stored_key_hex),
        "{}: StoredKey",
        e.name
    );
    let server_key = crypto::server_key(hash, &salted);
    assert_eq!(
        server_key.as_bytes(),
        hex(e.server_key_hex),
        "{}: ServerKey",
        e.name
    );
    let am = e.auth_message.as_bytes();
    let client_signature = crypto::hmac(hash, stored_key.as_bytes(), &[am]);
    assert_eq!(
        client_signature.as_bytes(),
        hex(e.client_signature_hex),
        "{}: ClientSignature",
        e.name
    );
    // The same MAC through a precomputed key and with the AuthMessage in its wire pieces.
    let split = am.len() / 3;
    let (a, b) = am.split_at(split);
    let via_key = HmacKey::new(hash, stored_key.as_bytes()).mac(&[a, b]);
    assert_eq!(
        via_key, client_signature,
        "{}: ClientSignature (HmacKey)",
        e.name
    );
    let proof = crypto::xor(&client_key, &client_signature);
    assert_eq!(
        proof.as_bytes(),
        hex(e.client_proof_hex),
        "{}: ClientProof",
        e.name
    );
    let server_signature = crypto::hmac(hash, server_key.as_bytes(), &[am]);
    let pair = crypto::hmac_pair(hash, stored_key.as_bytes(), server_key.as_bytes(), &[a, b]);
    assert_eq!(
        pair,
        (client_signature.clone(), server_signature.clone()),
        "{}: hmac_pair",
        e.name
    );
    assert_eq!(
        server_signature.as_bytes(),
        hex(e.server_signature_hex),
        "{}: ServerSignature",
        e.name
    );
    // What a server does: recover ClientKey from the proof and compare its hash.
    let recovered = crypto::xor(&proof, &client_signature);
    assert_eq!(
        crypto::stored_key(hash, &recovered),
        stored_key,
        "{}: recovered StoredKey",
        e.name
    );
}

#[test]
fn scram_exchanges_step_by_step() {
    for e in EXCHANGES {
        check_exchange(e);
    }
}

/// Every exchange in the crate's copy of the published vectors (`tests/data/scram.json`),
/// read from the file, so vectors added there are covered too.
#[test]
fn scram_json_matches() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scram.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("scram.json parses");
    let field = |v: &serde_json::Value, k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("{k} missing"))
            .to_owned()
    };
    let mut count = 0;
    for v in json["exchanges"].as_array().expect("exchanges") {
        let hash = match field(v, "mechanism").as_str() {
            "SCRAM-SHA-256" | "SCRAM-SHA-256-PLUS" => HashAlgorithm::Sha256,
            _ => HashAlgorithm::Sha512,
        };
        let leak = |k: &str| -> &'static str { Box::leak(field(v, k).into_boxed_str()) };
        let e = Exchange {
            name: leak("name"),
            hash,
            password: leak("password"),
            salt_hex: leak("salt_hex"),
            iterations: u32::try_from(v["iterations"].as_u64().expect("iterations")).expect("u32"),
            auth_message: leak("auth_message"),
            salted_password_hex: leak("salted_password_hex"),
            client_key_hex: leak("client_key_hex"),
            stored_key_hex: leak("stored_key_hex"),
            server_key_hex: leak("server_key_hex"),
            client_signature_hex: leak("client_signature_hex"),
            client_proof_hex: leak("client_proof_hex"),
            server_signature_hex: leak("server_signature_hex"),
        };
        check_exchange(&e);
        count += 1;
    }
    assert!(
        count >= 2,
        "expected at least the RFC 7677 and SHA-512 exchanges"
    );
    for v in json["pbkdf2"].as_array().expect("pbkdf2") {
        let hash = match field(v, "hash").as_str() {
            "sha256" => HashAlgorithm::Sha256,
            _ => HashAlgorithm::Sha512,
        };
        let dk = hex(&field(v, "dk_hex"));
        let iterations = u32::try_from(v["iterations"].as_u64().expect("iterations")).expect("u32");
        let out = crypto::hi(
            hash,
            field(v, "password").as_bytes(),
            field(v, "salt").as_bytes(),
            nonzero(iterations),
        );
        assert_eq!(
            out.as_bytes(),
            &dk[..hash.output_len()],
            "pbkdf2 vector from {}",
            field(v, "source")
        );
    }
}
