//! The users: one SCRAM-SHA-256 verifier (password [`PASSWORD`], 4096 iterations, EMQX's
//! default) derived once and stored under every name `user-<i>`, so that 1M records cost no
//! PBKDF2 to make; written as a JSON-lines file or into Redis (one node or a Cluster) with
//! the workspace's `RedisWriter`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mqtt_scram::provider::UserRecord;
use mqtt_scram::{HashAlgorithm, StoredCredentials};
use mqtt_scram_stores::record::CredentialRecord;
use mqtt_scram_stores::redis::{RedisConfig, RedisWriter};

/// Every user's password.
pub const PASSWORD: &str = "pencil";
/// Every user's iteration count (EMQX 5's default `iteration_count`).
pub const ITERATIONS: u32 = 4096;
const SALT: &[u8; 16] = b"mqtt-scram-bench";

/// `user-<i>`.
pub fn user_name(i: usize) -> String {
    format!("user-{i}")
}

/// The `n`-th operation's user among `users` (a multiplicative hash: spread over the whole
/// set, not a hot key).
pub fn pick(n: u64, users: usize) -> usize {
    ((n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 17) % users as u64) as usize
}

/// The one verifier (PBKDF2 once).
pub fn credentials() -> StoredCredentials {
    StoredCredentials::derive(HashAlgorithm::Sha256, PASSWORD, SALT, ITERATIONS).unwrap()
}

/// Writes `users` records as JSON lines to `dir/users-<users>.json`.
pub fn write_file(dir: &Path, users: usize) -> PathBuf {
    let started = Instant::now();
    let record = CredentialRecord::new("user-0", &UserRecord::new(credentials()));
    let line = serde_json::to_string(&record).unwrap();
    // `{"username":"user-0",…}`: the name is replaced per user.
    let (head, tail) = line.split_once("user-0").unwrap();
    let mut text = String::with_capacity(users * (line.len() + 8));
    for i in 0..users {
        text.push_str(head);
        text.push_str(&user_name(i));
        text.push_str(tail);
        text.push('\n');
    }
    let path = dir.join(format!("users-{users}.json"));
    std::fs::write(&path, text).unwrap();
    eprintln!(
        "wrote {users} users to {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    path
}

/// Writes `users` records to the Redis at `url` (`redis://…` or `redis+cluster://…`).
pub fn fill_redis(runtime: &tokio::runtime::Runtime, url: &str, users: usize) {
    let started = Instant::now();
    let record = UserRecord::new(credentials());
    runtime.block_on(async {
        let config = RedisConfig::from_url(url).unwrap();
        let writer = RedisWriter::connect(&config).await.unwrap();
        const CHUNK: usize = 50_000;
        for start in (0..users).step_by(CHUNK) {
            let chunk: Vec<(String, UserRecord)> = (start..users.min(start + CHUNK))
                .map(|i| (user_name(i), record.clone()))
                .collect();
            writer.write_all(&chunk, 5_000, |_| {}).await.unwrap();
        }
    });
    eprintln!(
        "wrote {users} users to {url} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
