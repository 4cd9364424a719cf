//! Replays every transcript in `tests/vectors/` and in `$MQTT_SCRAM_EXTRA_VECTORS`
//! (format and rules: `tests/vectors/README.md`), on the server and the client
//! side, comparing exact wire bytes. Each file names its own source.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::client::{ClientConfig, ClientOptions};
use mqtt_scram::internal;
use mqtt_scram::provider::{Lookup, UserRecord};
use mqtt_scram::saslprep::{Mode, saslprep};
use mqtt_scram::{
    ChannelBinding, ChannelBindingType, ConnectionInfo, Mechanism, Outcome, RecordPolicy,
    ScramServer, ServerConfig, StartPacket, StoredCredentials, Timestamp,
};
use serde_json::Value;

struct Transcript {
    path: PathBuf,
    v: Value,
}

impl Transcript {
    fn str(&self, key: &str) -> Option<&str> {
        self.v.get(key).and_then(Value::as_str)
    }
    fn req(&self, key: &str) -> Result<&str, String> {
        self.str(key)
            .ok_or_else(|| format!("missing string field {key:?}"))
    }
    fn u32(&self, key: &str) -> Option<u32> {
        self.v
            .get(key)
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap())
    }
    fn expect(&self) -> &str {
        self.str("expect").unwrap_or("success")
    }
    fn role(&self) -> &str {
        self.str("role").unwrap_or("both")
    }
    fn mechanism(&self) -> Result<Mechanism, String> {
        Mechanism::from_name(self.req("mechanism")?).ok_or("unknown mechanism".into())
    }
    fn channel_binding(&self) -> Result<Option<ChannelBinding>, String> {
        match self.v.get("channel_binding") {
            None | Some(Value::Null) => Ok(None),
            Some(cb) => {
                let kind = cb
                    .get("type")
                    .and_then(Value::as_str)
                    .and_then(ChannelBindingType::from_name);
                let data = cb
                    .get("data_hex")
                    .and_then(Value::as_str)
                    .and_then(|h| hex::decode(h).ok());
                match (kind, data) {
                    (Some(k), Some(d)) => Ok(Some(ChannelBinding::new(k, d))),
                    _ => Err("bad channel_binding".into()),
                }
            }
        }
    }
}

fn load(dir: &Path) -> Vec<Transcript> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read vector folder {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let v = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
            Transcript { path, v }
        })
        .collect()
}

const NOW: Timestamp = Timestamp::new(Duration::from_secs(1000), 1_700_000_000);

fn replay_server(t: &Transcript) -> Result<(), String> {
    let mechanism = t.mechanism()?;
    let hash = mechanism.hash();
    let password = t.str("password");
    let salt = base64_decode(t.req("salt_b64")?)?;
    let iterations = t.u32("iterations").ok_or("missing iterations")?;
    // Authorization policy is the broker's; transcripts test SCRAM, so any authzid is passed through.
    // Transcripts test SCRAM, not the record policy: low iteration counts are allowed here.
    let config = ServerConfig::new([7; 32])
        .allow_authzid(true)
        .record_policy(RecordPolicy::new(1..=u32::MAX, 1..=1024));
    let server = ScramServer::new(config).map_err(|e| e.to_string())?;
    let mut conn = ConnectionInfo::new("client-1");
    conn.channel_binding = t.channel_binding()?;
    let conn = Arc::new(conn);
    let client_first = t.req("client_first")?;
    let start = server.start(
        &conn,
        StartPacket::Connect {
            method: mechanism.name(),
            data: Some(client_first.as_bytes()),
        },
        NOW,
    );
    let pending = match (start, t.expect()) {
        (Err(_), "server-rejects-client-first") => return Ok(()),
        (Err(r), _) => return Err(format!("server rejected client_first: {}", r.error)),
        (Ok(_), "server-rejects-client-first") => return Err("server accepted client_first".into()),
        (Ok(p), _) => p,
    };
    let lookup = match password {
        Some(pw) => {
            let user = saslprep(t.req("username")?, Mode::Query).map_err(|e| e.to_string())?;
            if pending.request().username == user {
                let creds = StoredCredentials::derive(hash, pw, &salt, iterations)
                    .map_err(|e| e.to_string())?;
                Lookup::found(UserRecord::new(creds))
            } else {
                Lookup::NotFound
            }
        }
        None => Lookup::NotFound,
    };
    let (challenge, reply) = internal::continue_with_nonce(pending, lookup, t.req("server_nonce")?);
    let server_first = String::from_utf8(reply.data.clone().unwrap()).unwrap();
    match (password, t.str("server_first")) {
        (Some(_), Some(expected)) if server_first != expected => {
            return Err(format!(
                "server_first differs:\n  got      {server_first}\n  expected {expected}"
            ));
        }
        (None, _) => {
            // Unknown user: only the shape counts.
            let parsed = mqtt_scram::message::ServerFirst::parse(server_first.as_bytes(), 4096)
                .map_err(|e| format!("mock server_first malformed: {e}"))?;
            let expected_nonce = format!("{}{}", t.req("client_nonce")?, t.req("server_nonce")?);
            if parsed.nonce() != expected_nonce {
                return Err("mock server_first has the wrong nonce".into());
            }
        }
        _ => {}
    }
    let Some(client_final) = t.str("client_final") else {
        return Ok(());
    };
    if t.role() == "both" && !t.expect().starts_with("server-") && t.expect() != "success" {
        // The exchange stops on the client side; the server never sees a valid client_final.
        return Ok(());
    }
    match (
        challenge.finish(0x18, mechanism.name(), Some(client_final.as_bytes()), NOW),
        t.expect(),
    ) {
        (Outcome::Accepted { reply, identity }, "success") => {
            let got = String::from_utf8(reply.data.unwrap()).unwrap();
            let expected = t.req("server_final")?;
            if got != expected {
                return Err(format!(
                    "server_final differs:\n  got      {got}\n  expected {expected}"
                ));
            }
            if identity.mechanism != mechanism {
                return Err("identity has the wrong mechanism".into());
            }
            Ok(())
        }
        (Outcome::Accepted { .. }, other) => {
            Err(format!("server accepted client_final, expected {other}"))
        }
        (Outcome::Rejected(r), "server-rejects-client-final") => {
            if r.reply.reason_code.to_u8() != 0x87 {
                return Err(format!(
                    "rejection reason {:?}, expected 0x87",
                    r.reply.reason_code
                ));
            }
            Ok(())
        }
        (Outcome::Rejected(r), other) => Err(format!(
            "server rejected client_final ({}), expected {other}",
            r.error
        )),
    }
}

fn replay_client(t: &Transcript) -> Result<(), String> {
    let Some(password) = t.str("password") else {
        return Ok(());
    };
    let mechanism = t.mechanism()?;
    let min = t.u32("client_min_iterations").unwrap_or(4096);
    let max = t.u32("client_max_iterations").unwrap_or(1_000_000);
    let config = ClientConfig::new().iteration_window(min..=max);
    let binding = t.channel_binding()?;
    let options = ClientOptions::new()
        .authzid(t.str("authzid"))
        .channel_binding(binding.as_ref());
    let (state, first) = internal::client_start_with_nonce(
        &config,
        mechanism,
        t.req("username")?,
        password,
        options,
        t.req("client_nonce")?,
    )
    .map_err(|e| format!("client could not start: {e}"))?;
    let expected_first = t.req("client_first")?;
    if first != expected_first.as_bytes() {
        return Err(format!(
            "client_first differs:\n  got      {}\n  expected {expected_first}",
            String::from_utf8_lossy(&first)
        ));
    }
    let Some(server_first) = t.str("server_first") else {
        return Ok(());
    };
    let (state, last) = match (state.on_server_first(server_first.as_bytes()), t.expect()) {
        (Err(_), "client-rejects-server-first") => return Ok(()),
        (Err(e), _) => return Err(format!("client rejected server_first: {e}")),
        (Ok(_), "client-rejects-server-first") => return Err("client accepted server_first".into()),
        (Ok(x), _) => x,
    };
    let expected_final = t.req("client_final")?;
    if last != expected_final.as_bytes() {
        return Err(format!(
            "client_final differs:\n  got      {}\n  expected {expected_final}",
            String::from_utf8_lossy(&last)
        ));
    }
    let Some(server_final) = t.str("server_final") else {
        return Ok(());
    };
    let result = state.on_server_final(server_final.as_bytes());
    match (result, t.expect()) {
        (Ok(_), "success") => Ok(()),
        (Ok(_), other) => Err(format!("client accepted server_final, expected {other}")),
        (Err(_), "client-rejects-server-final" | "server-rejects-client-final") => Ok(()),
        (Err(e), other) => Err(format!(
            "client rejected server_final ({e}), expected {other}"
        )),
    }
}

fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| e.to_string())
}

fn replay_all(dir: &Path) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let transcripts = load(dir);
    for t in &transcripts {
        let name = format!(
            "{} ({})",
            t.path.display(),
            t.str("source").unwrap_or("no source")
        );
        if matches!(t.role(), "both" | "server") {
            if let Err(e) = replay_server(t) {
                failures.push(format!("{name} [server]: {e}"));
            }
        }
        if matches!(t.role(), "both" | "client") {
            if let Err(e) = replay_client(t) {
                failures.push(format!("{name} [client]: {e}"));
            }
        }
    }
    (transcripts.len(), failures)
}

#[test]
fn bundled_transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let (count, failures) = replay_all(&dir);
    assert!(count >= 2, "expected transcripts in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} of {count} transcripts failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn extra_transcripts_from_env() {
    let Some(dir) = std::env::var_os("MQTT_SCRAM_EXTRA_VECTORS") else {
        eprintln!("MQTT_SCRAM_EXTRA_VECTORS not set: no extra transcripts replayed");
        return;
    };
    let (count, failures) = replay_all(Path::new(&dir));
    eprintln!(
        "replayed {count} extra transcripts from {}",
        Path::new(&dir).display()
    );
    assert!(
        failures.is_empty(),
        "{} of {count} transcripts failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
