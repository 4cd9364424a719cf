//! Unknown users' challenges copy the credential file's records (issue 20 §5b): with
//! 32-byte salts and 10,000 iterations in the file and no mock setting, an unknown user's
//! server-first carries a 32-byte salt and `i=10000`, for SHA-256 and SHA-512, and follows
//! the file when it is rewritten and reloaded.

use super::*;
use base64::Engine as _;
use mqtt_scram_stores::config::StoreConfig;

/// A SHA-256 and a SHA-512 user whose records have `salt_len`-byte salts and `iterations`.
fn write_shaped_records(path: &Path, salt_len: usize, iterations: u32) {
    let mut lines = String::new();
    for (name, hash) in [
        ("shaped256", HashAlgorithm::Sha256),
        ("shaped512", HashAlgorithm::Sha512),
    ] {
        let salt: Vec<u8> = (0..salt_len).map(|_| rand::random()).collect();
        let creds = StoredCredentials::derive(hash, PASSWORD, &salt, iterations).unwrap();
        let record = UserRecord::new(creds);
        lines.push_str(&serde_json::to_string(&CredentialRecord::new(name, &record)).unwrap());
        lines.push('\n');
    }
    std::fs::write(path, lines).unwrap();
}

/// The salt length and iteration count of the server-first-message `user` gets.
async fn challenge_shape(addr: SocketAddr, mechanism: Mechanism, user: &str) -> (usize, u32) {
    let mut conn = Conn::open(addr).await;
    let first = format!("n,,n={user},r=shapeprobe0123456789");
    conn.send(connect_packet(
        "shape-probe",
        Some(mechanism.name()),
        Some(first.into_bytes()),
        None,
    ))
    .await;
    let data = match conn.recv().await {
        Some(Frame::Auth(auth)) if auth.reason_code == 0x18 => auth.data.unwrap(),
        other => panic!("expected AUTH 0x18, got {other:?}"),
    };
    let text = String::from_utf8(data).unwrap();
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

async fn assert_unknown_users_get(addr: SocketAddr, shape: (usize, u32)) {
    for mechanism in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
        for user in ["nobody", "mallory"] {
            assert_eq!(
                challenge_shape(addr, mechanism, user).await,
                shape,
                "{mechanism} {user}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_get_the_record_files_shape() {
    let dir = scratch_dir("mock-shape");
    let path = dir.join("users.json");
    write_shaped_records(&path, 32, 10_000);
    // The broker's `--credentials` form: records loaded into memory.
    let h = Harness::start(Options {
        provider: Some(Provider::from_record_file(&path).unwrap()),
        ..Options::default()
    })
    .await;
    assert_unknown_users_get(h.tcp(), (32, 10_000)).await;
    // A real user shows the same shape, and logs in.
    assert_eq!(
        challenge_shape(h.tcp(), Mechanism::ScramSha512, "shaped512").await,
        (32, 10_000)
    );
    let mut conn = Conn::open(h.tcp()).await;
    scram_login(
        &mut conn,
        &ClientConfig::new(),
        Mechanism::ScramSha256,
        "shaped256",
        PASSWORD,
    )
    .await
    .unwrap();
    drop(conn);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_follow_a_reloaded_credential_file() {
    let dir = scratch_dir("mock-shape-reload");
    let path = dir.join("users.json");
    write_shaped_records(&path, 32, 10_000);
    // A file store, as `--store <path>` builds it.
    let store = StoreConfig::from_url(path.to_str().unwrap())
        .unwrap()
        .build()
        .unwrap();
    let h = Harness::start(Options {
        provider: Some(Provider::Shared(store.provider(), "file".into())),
        ..Options::default()
    })
    .await;
    assert_unknown_users_get(h.tcp(), (32, 10_000)).await;
    write_shaped_records(&path, 24, 20_000);
    assert_eq!(store.reload(), vec![Ok(true)]);
    assert_unknown_users_get(h.tcp(), (24, 20_000)).await;
    h.finish().await;
}
