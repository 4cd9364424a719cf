//! The mock side of [`Backend`]: the shape (salt length, iteration count) unknown users
//! are shown — the store's most common one (credential files) or the configured one
//! (remote stores) — their keyed salts and mock records, and the start/SIGHUP warnings
//! about shapes that cannot be copied.

use std::time::Duration;

use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::{CredentialProvider as _, Lookup, MockShape};
use mqtt_scram::{HashAlgorithm, StartPacket, Timestamp};
use sha2::Digest as _;
use zeroize::Zeroizing;

use super::{Backend, now_unix};

impl Backend {
    /// The most common salt length and iteration count of the store's `hash` records
    /// (credential files, in memory, no I/O); `None` for remote stores.
    pub fn record_shape(&self, hash: HashAlgorithm) -> Option<MockShape> {
        self.store.record_shape(hash)
    }

    /// The salt length and iteration count an unknown user's `hash` challenge takes: the
    /// store's [`record_shape`](Self::record_shape) when the record policy allows it, else
    /// the configured one (`mock_salt_len`, `mock_iterations`, `[mock_shape]`) — what
    /// [`NeedCredentials::set_mock_shape`](mqtt_scram::server::NeedCredentials::set_mock_shape)
    /// settles on.
    pub fn mock_shape(&self, hash: HashAlgorithm) -> MockShape {
        self.scram
            .config()
            .mock_shape_given(hash, self.record_shape(hash))
    }

    /// The hash and shape of the PBKDF2 a clear-password check runs for an unknown user:
    /// those of a real record — SHA-256 when the store holds SHA-256 records or reports no
    /// shape (remote stores: the configured SHA-256 shape), SHA-512 when it holds only
    /// SHA-512 records.
    pub fn unknown_user_work(&self) -> (HashAlgorithm, MockShape) {
        let hash = match (
            self.record_shape(HashAlgorithm::Sha256),
            self.record_shape(HashAlgorithm::Sha512),
        ) {
            (None, Some(_)) => HashAlgorithm::Sha512,
            _ => HashAlgorithm::Sha256,
        };
        (hash, self.mock_shape(hash))
    }

    /// The salt the engine gives unknown user `username` for `hash` (keyed by the mock
    /// key, of [`mock_shape`](Self::mock_shape)'s length), taken from the engine itself so
    /// both always agree. A name the engine refuses
    /// (SASLprep, length) gets the salt of a stand-in name derived from its SHA-256.
    pub fn mock_salt(&self, hash: HashAlgorithm, username: &str) -> Option<Vec<u8>> {
        self.engine_mock_salt(hash, username).or_else(|| {
            let digest = sha2::Sha256::digest(username.as_bytes());
            let stand_in = format!("mqtt-scram-service:{}", hex::encode(digest));
            self.engine_mock_salt(hash, &stand_in)
        })
    }

    fn engine_mock_salt(&self, hash: HashAlgorithm, username: &str) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let escaped = username.replace('=', "=3D").replace(',', "=2C");
        let client_first = format!("n,,n={escaped},r=mqtt-scram-service-mock-salt");
        let mut pending = self
            .scram
            .start(
                &self.mock_connection,
                StartPacket::Connect {
                    method: hash.mechanism().name(),
                    data: Some(client_first.as_bytes()),
                },
                Timestamp::new(Duration::ZERO, now_unix()),
            )
            .ok()?;
        pending.set_mock_shape(self.record_shape(hash));
        let (_, reply) = pending.continue_with(Lookup::NotFound, &mut rand::rng());
        let server_first = String::from_utf8(reply.data?).ok()?;
        let salt = server_first.split(',').find_map(|a| a.strip_prefix("s="))?;
        base64::engine::general_purpose::STANDARD.decode(salt).ok()
    }

    /// Keyed mock credentials for an unknown user: the engine's mock salt (of the store's
    /// salt length, see [`mock_shape`](Self::mock_shape)), `iterations`, and
    /// keys derived from the mock key (they never match a proof, and look like any others).
    pub fn mock_credentials(
        &self,
        hash: HashAlgorithm,
        username: &str,
        iterations: u32,
    ) -> Option<StoredCredentials> {
        let salt = self.mock_salt(hash, username)?;
        // Keys that look like any others; derived from the keyed salt, so stable. They never
        // reach a client (EMQX sends a server signature only after a valid proof).
        let key = |label: &[u8]| -> Zeroizing<Vec<u8>> {
            let mut out = Zeroizing::new(Vec::with_capacity(hash.output_len() + 32));
            let mut counter = 0u8;
            while out.len() < hash.output_len() {
                let mut d = sha2::Sha256::new();
                d.update(&salt);
                d.update(label);
                d.update([counter]);
                d.update(username.as_bytes());
                out.extend_from_slice(&d.finalize());
                counter = counter.wrapping_add(1);
            }
            out.truncate(hash.output_len());
            out
        };
        let stored = key(b"mqtt-scram-service mock stored key\0");
        let server = key(b"mqtt-scram-service mock server key\0");
        StoredCredentials::from_parts(hash, &salt, iterations, &stored, &server).ok()
    }

    /// Warns (at start and SIGHUP) about credential-file shapes unknown users cannot copy:
    /// one outside the record policy (the configured shape is shown instead), and one whose
    /// count is not EMQX 5's (`[emqx5] iterations`: those users are answered as unknown).
    /// Records differing from each other are reported by the file store itself.
    pub(super) fn warn_shapes(&self) {
        let config = self.scram.config();
        for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            let Some(shape) = self.record_shape(hash) else {
                continue;
            };
            if let Err(e) = config.check_mock_shape(shape) {
                let configured = config.mock_shape_for(hash);
                tracing::warn!(
                    %hash,
                    record_salt_len = shape.salt_len(),
                    record_iterations = shape.iterations(),
                    mock_salt_len = configured.salt_len(),
                    mock_iterations = configured.iterations(),
                    "the credential records' most common shape cannot be shown to unknown users ({e}); the configured shape is, and differs from theirs"
                );
            }
            if let Some((emqx_hash, emqx_iterations)) = self.emqx5
                && emqx_hash == hash
                && emqx_iterations != shape.iterations()
            {
                tracing::warn!(
                    %hash,
                    record_iterations = shape.iterations(),
                    emqx_iterations,
                    "emqx5: most credential records have another iteration count than [emqx5] iterations; EMQX 5 answers those users as unknown"
                );
            }
        }
    }
}
