//! Turning the options into the engine's configuration: the mock key, the mechanisms, the
//! record policy and the channel binding.

use std::path::Path;

use mqtt_scram::{ChannelBinding, ConfigError, Mechanism, RecordPolicy, ScramServer, ServerConfig};

use crate::binding;
use crate::log::{self, Level};
use crate::options::{OptionError, Options};

/// Reads the mock key: 64 hex characters (surrounding whitespace ignored) or 32 raw bytes.
pub(crate) fn mock_key(path: &Path) -> Result<[u8; 32], OptionError> {
    let unusable = |message: String| OptionError::Unusable {
        key: "mock_key_file",
        message,
    };
    let bytes = std::fs::read(path)
        .map_err(|e| unusable(format!("cannot read {}: {e}", path.display())))?;
    warn_if_readable_by_others(path);
    let mut key = [0u8; 32];
    let trimmed = bytes.trim_ascii();
    if trimmed.len() == 64 && hex::decode_to_slice(trimmed, &mut key).is_ok() {
        return Ok(key);
    }
    if bytes.len() == 32 {
        key.copy_from_slice(&bytes);
        return Ok(key);
    }
    Err(unusable(format!(
        "{} must hold 64 hex characters or 32 raw bytes ({} bytes found)",
        path.display(),
        bytes.len()
    )))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            log::emit(
                Level::Warning,
                &format!(
                    "mqtt-scram: {} is readable by group or others; chmod 600 it",
                    path.display()
                ),
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// The listener certificate's `tls-server-end-point` binding, if configured.
pub(crate) fn channel_binding(options: &Options) -> Result<Option<ChannelBinding>, OptionError> {
    options
        .tls_cert_file
        .as_deref()
        .map(|path| {
            binding::tls_server_end_point(path).map_err(|e| OptionError::Unusable {
                key: "tls_cert_file",
                message: e.to_string(),
            })
        })
        .transpose()
}

/// The engine, configured from the options.
pub(crate) fn server(options: &Options, with_binding: bool) -> Result<ScramServer, OptionError> {
    let mechanisms = match &options.mechanisms {
        Some(list) => {
            if let Some(plus) = list.iter().find(|m| m.is_plus()).filter(|_| !with_binding) {
                return Err(OptionError::Unusable {
                    key: "mechanisms",
                    message: format!(
                        "{plus} needs plugin_opt_tls_cert_file (the listener's certificate, \
                         for the tls-server-end-point channel binding)"
                    ),
                });
            }
            list.clone()
        }
        None if with_binding => Mechanism::ALL.to_vec(),
        None => vec![Mechanism::ScramSha256, Mechanism::ScramSha512],
    };
    let config = ServerConfig::new(mock_key(&options.mock_key_file)?)
        .mechanisms(&mechanisms)
        .mock_iterations(options.iterations)
        .handshake_timeout(options.handshake_timeout)
        .max_message_len(options.max_message_size)
        .allow_authzid(options.allow_authzid)
        .record_policy(RecordPolicy::new(
            options.min_iterations..=options.max_iterations,
            RecordPolicy::default().salt_len().clone(),
        ));
    ScramServer::new(config).map_err(|e| OptionError::Unusable {
        key: match e {
            ConfigError::NoMechanisms => "mechanisms",
            ConfigError::MockIterations { .. } => "iterations",
            ConfigError::HandshakeTimeout => "handshake_timeout",
            ConfigError::MaxMessageLen(_) => "max_message_size",
            _ => "min_iterations",
        },
        message: e.to_string(),
    })
}
