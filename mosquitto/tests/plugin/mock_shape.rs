//! Unknown users' challenges copy the credential file's records (issue 20 §5b): with
//! 32-byte salts and 10,000 iterations in the file and no mock setting, an unknown user's
//! server-first carries a 32-byte salt and `i=10000` (SHA-256 and SHA-512); the load logs
//! how many records differ; after SIGHUP with a file of another shape, unknown users follow.

use std::time::Duration;

use base64::Engine as _;
use mqtt_scram::provider::UserRecord;
use mqtt_scram::{HashAlgorithm, Mechanism, StoredCredentials};
use mqtt_scram_stores::record::CredentialRecord;
use mqtt_scram_testkit::mosquitto::Mosquitto;

use crate::harness::{PASSWORD, files, write_users};
use crate::wire::{self, AUTH, Conn};

fn shaped(user: &str, hash: HashAlgorithm, salt_len: usize, iterations: u32) -> serde_json::Value {
    let salt: Vec<u8> = (0..salt_len).map(|_| rand::random()).collect();
    let credentials = StoredCredentials::derive(hash, PASSWORD, &salt, iterations).unwrap();
    serde_json::to_value(CredentialRecord::new(user, &UserRecord::new(credentials))).unwrap()
}

/// A SHA-256 and a SHA-512 user of the shape.
fn users(salt_len: usize, iterations: u32) -> Vec<serde_json::Value> {
    vec![
        shaped("shaped256", HashAlgorithm::Sha256, salt_len, iterations),
        shaped("shaped512", HashAlgorithm::Sha512, salt_len, iterations),
    ]
}

/// The salt length and iteration count of the server-first-message `user` gets.
fn challenge_shape(broker: &Mosquitto, mechanism: Mechanism, user: &str) -> (usize, u32) {
    let mut conn = Conn::tcp(broker.addr()).unwrap();
    let first = format!("n,,n={user},r=shapeprobe0123456789");
    conn.send_connect(
        "shape-probe",
        Some(mechanism.name()),
        Some(first.as_bytes()),
        None,
    )
    .unwrap();
    let challenge = conn.read().unwrap();
    assert_eq!(
        (challenge.kind, challenge.reason),
        (AUTH, 0x18),
        "{challenge:?}"
    );
    let text = String::from_utf8(challenge.data.unwrap()).unwrap();
    let attr = |name: &str| {
        text.split(',')
            .find_map(|a| a.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text:?}"))
            .to_string()
    };
    let salt = base64::engine::general_purpose::STANDARD
        .decode(attr("s="))
        .unwrap();
    (salt.len(), attr("i=").parse().unwrap())
}

fn assert_unknown_users_get(broker: &Mosquitto, shape: (usize, u32)) {
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        for user in ["nobody", "mallory"] {
            assert_eq!(
                challenge_shape(broker, mechanism, user),
                shape,
                "{mechanism} {user}"
            );
        }
    }
}

#[test]
fn unknown_users_get_the_credential_files_shape_and_follow_a_reload() {
    // Two users of the common shape and one of another (named in the load's warning).
    let mut records = users(32, 10_000);
    records.push(shaped("odd", HashAlgorithm::Sha256, 16, 10_000));
    let (_dir, path, config) = files(&records);
    let Some(broker) = Mosquitto::start(&config) else {
        return;
    };
    assert!(
        broker.wait_for_log(
            "1 of 2 sha256 credential records differ from the most common shape (32-byte salt, 10000 iterations)",
            0,
            Duration::from_secs(10)
        ),
        "{}",
        broker.log()
    );
    assert_unknown_users_get(&broker, (32, 10_000));
    // A real user logs in (and was shown the same shape).
    let mut conn = Conn::tcp(broker.addr()).unwrap();
    let login = wire::scram_login(
        &mut conn,
        "shape-real",
        Mechanism::ScramSha512,
        "shaped512",
        PASSWORD,
        None,
    )
    .unwrap();
    assert_eq!(login.last.reason, 0);

    write_users(&path, &users(24, 20_000));
    let seen = broker.log().len();
    broker.reload();
    assert!(
        broker.wait_for_log(
            "reloaded 2 credential records",
            seen,
            Duration::from_secs(10)
        ),
        "{}",
        broker.log()
    );
    assert_unknown_users_get(&broker, (24, 20_000));
}
