//! Turning the options into the engine's configuration: the mock key, the mechanisms, the
//! record policy and the channel binding.

use std::path::Path;

use mqtt_scram::{
    ChannelBinding, ConfigError, Mechanism, MockKey, RecordPolicy, ScramServer, ServerConfig,
};

use crate::binding;
use crate::options::{OptionError, Options};

/// Reads the mock key with [`MockKey::from_file`]: 64 hex characters (surrounding
/// whitespace ignored) or 32 raw bytes; a file its group or others can read is refused.
pub(crate) fn mock_key(path: &Path) -> Result<MockKey, OptionError> {
    MockKey::from_file(path).map_err(|e| OptionError::Unusable {
        key: "mock_key_file",
        message: e.to_string(),
    })
}

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
    let config = ServerConfig::from_mock_key(mock_key(&options.mock_key_file)?)
        .mechanisms(&mechanisms)
        .mock_iterations(options.iterations)
        .mock_salt_len(options.mock_salt_len)
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
            ConfigError::MockSaltLen { .. } => "mock_salt_len",
            ConfigError::HandshakeTimeout => "handshake_timeout",
            ConfigError::MaxMessageLen(_) => "max_message_size",
            _ => "min_iterations",
        },
        message: e.to_string(),
    })
}
