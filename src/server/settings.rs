//! `Deserialize` of [`ServerConfig`](super::ServerConfig): the settings by name.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use serde::Deserialize;
use zeroize::Zeroize as _;

use super::{RecordPolicy, ServerConfig};
use crate::mechanism::{HashAlgorithm, Mechanism};
use crate::mock_key::MockKey;
use crate::provider::MockShape;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Server {
    mechanisms: Option<Vec<String>>,
    mock_key: Option<String>,
    mock_key_file: Option<String>,
    mock_iterations: Option<u32>,
    mock_salt_len: Option<usize>,
    mock_shape: Option<Shapes>,
    nonce_len: Option<usize>,
    #[serde(
        default,
        deserialize_with = "crate::config_duration::seconds::option::deserialize"
    )]
    handshake_timeout: Option<Duration>,
    max_message_len: Option<usize>,
    allow_authzid: Option<bool>,
    record_policy: Option<Policy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Shapes {
    sha256: Option<Shape>,
    sha512: Option<Shape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Shape {
    salt_len: Option<usize>,
    iterations: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Policy {
    iterations: Option<[u32; 2]>,
    salt_len: Option<[usize; 2]>,
}

impl Server {
    pub(super) fn build(mut self) -> Result<ServerConfig, String> {
        let key = self.mock_key()?;
        let mut config = ServerConfig::from_mock_key(key);
        if let Some(names) = &self.mechanisms {
            let mechanisms = names
                .iter()
                .map(|name| {
                    Mechanism::from_name(name.trim()).ok_or_else(|| {
                        format!("mechanisms: unknown mechanism {name:?} (SCRAM-SHA-256, SCRAM-SHA-512, SCRAM-SHA-256-PLUS, SCRAM-SHA-512-PLUS)")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            config = config.mechanisms(&mechanisms);
        }
        if let Some(n) = self.mock_iterations {
            config = config.mock_iterations(n);
        }
        if let Some(n) = self.mock_salt_len {
            config = config.mock_salt_len(n);
        }
        if let Some(shapes) = self.mock_shape.take() {
            for (hash, shape) in [
                (HashAlgorithm::Sha256, shapes.sha256),
                (HashAlgorithm::Sha512, shapes.sha512),
            ] {
                if let Some(shape) = shape {
                    let base = config.mock_shape_for(hash);
                    let shape = MockShape::new(
                        shape.salt_len.unwrap_or(base.salt_len()),
                        shape.iterations.unwrap_or(base.iterations()),
                    );
                    config = config.mock_shape(hash, shape);
                }
            }
        }
        if let Some(n) = self.nonce_len {
            config = config.nonce_len(n);
        }
        if let Some(timeout) = self.handshake_timeout {
            config = config.handshake_timeout(timeout);
        }
        if let Some(n) = self.max_message_len {
            config = config.max_message_len(n);
        }
        if let Some(allow) = self.allow_authzid {
            config = config.allow_authzid(allow);
        }
        if let Some(policy) = self.record_policy {
            let default = RecordPolicy::default();
            let [lo, hi] = policy
                .iterations
                .unwrap_or([*default.iterations().start(), *default.iterations().end()]);
            let [salt_lo, salt_hi] = policy
                .salt_len
                .unwrap_or([*default.salt_len().start(), *default.salt_len().end()]);
            config = config.record_policy(RecordPolicy::new(lo..=hi, salt_lo..=salt_hi));
        }
        // The validation errors name the setting (`mock_iterations: ...`).
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    fn mock_key(&mut self) -> Result<MockKey, String> {
        match (self.mock_key.take(), self.mock_key_file.take()) {
            (Some(mut hex), None) => {
                let mut key = [0u8; 32];
                let decoded = hex::decode_to_slice(hex.trim(), &mut key);
                hex.zeroize();
                decoded
                    .map_err(|_| String::from("mock_key: must be 64 hex characters (32 bytes)"))?;
                Ok(MockKey::new(key))
            }
            (None, Some(path)) => read_key_file(&path),
            (Some(mut hex), Some(_)) => {
                hex.zeroize();
                Err("mock_key and mock_key_file: give one, not both".into())
            }
            (None, None) => Err("mock_key_file (or mock_key): the 32-byte mock key is required; keep it secret and stable across restarts".into()),
        }
    }
}

/// [`MockKey::from_file`]: hex or raw bytes, refused when group- or world-readable.
#[cfg(feature = "std")]
fn read_key_file(path: &str) -> Result<MockKey, String> {
    MockKey::from_file(path).map_err(|e| format!("mock_key_file: {e}"))
}

#[cfg(not(feature = "std"))]
fn read_key_file(_path: &str) -> Result<MockKey, String> {
    Err("mock_key_file: reading files needs the `std` feature; use mock_key".into())
}
