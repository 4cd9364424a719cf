//! Server settings ([`ServerConfig`]), the policy every provider's record must meet
//! ([`RecordPolicy`]), and why a configuration is refused ([`ConfigError`]).

use alloc::vec::Vec;
use core::fmt;
use core::ops::RangeInclusive;
use core::time::Duration;

use crate::credentials::StoredCredentials;
use crate::crypto::SaltKey;
use crate::mechanism::{HashAlgorithm, Mechanism};
use crate::message::DEFAULT_MAX_MESSAGE_LEN;
use crate::mock_key::MockKey;
use crate::provider::shape::slot;
use crate::provider::{IgnoreKind, IgnoreReason, MAX_MOCK_SALT_LEN, MIN_MOCK_SALT_LEN, MockShape};

/// Smallest number of random bytes in a server nonce.
pub const MIN_NONCE_LEN: usize = 18;
/// Largest number of random bytes in a server nonce.
pub const MAX_NONCE_LEN: usize = 96;
/// Smallest accepted [`ServerConfig::max_message_len`]: room for a client-first-message
/// with a long username and a channel-binding client-final-message.
pub const MIN_MESSAGE_LEN: usize = 256;

/// What a provider's record must satisfy before the engine uses it (RFC 7677 §4 asks for
/// at least 4096 iterations). A record outside the policy is treated like
/// [`Lookup::Ignore`](crate::provider::Lookup::Ignore) with
/// [`IgnoreKind::OutsidePolicy`]: the client sees the mock challenge and 0x87, the
/// operator sees why. This keeps a weak or absurd record (1 iteration, 4 billion
/// iterations, a 30 kB salt) from ever reaching a client.
///
/// ```
/// use mqtt_scram::RecordPolicy;
/// let policy = RecordPolicy::default();
/// assert_eq!(policy.iterations(), &(4096..=1_000_000));
/// assert_eq!(policy.salt_len(), &(8..=64));
/// let lab = RecordPolicy::new(1..=1_000_000, 1..=64);   // e.g. replaying low-count test vectors
/// assert!(lab.allows_iterations(1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordPolicy {
    iterations: RangeInclusive<u32>,
    salt_len: RangeInclusive<usize>,
}

impl Default for RecordPolicy {
    /// 4096..=1,000,000 iterations (the client's default window), 8..=64 salt bytes.
    fn default() -> Self {
        Self {
            iterations: crate::credentials::DEFAULT_ITERATIONS..=1_000_000,
            salt_len: 8..=64,
        }
    }
}

impl RecordPolicy {
    /// A policy with these ranges.
    pub fn new(iterations: RangeInclusive<u32>, salt_len: RangeInclusive<usize>) -> Self {
        Self {
            iterations,
            salt_len,
        }
    }

    /// Allowed iteration counts.
    pub fn iterations(&self) -> &RangeInclusive<u32> {
        &self.iterations
    }

    /// Allowed salt lengths in bytes.
    pub fn salt_len(&self) -> &RangeInclusive<usize> {
        &self.salt_len
    }

    /// Whether `iterations` is allowed.
    pub fn allows_iterations(&self, iterations: u32) -> bool {
        self.iterations.contains(&iterations)
    }

    /// Checks a record's credentials; the error says which bound was crossed.
    pub fn check(&self, credentials: &StoredCredentials) -> Result<(), IgnoreReason> {
        let iterations = credentials.iterations();
        if !self.allows_iterations(iterations) {
            return Err(IgnoreReason::new(
                IgnoreKind::OutsidePolicy,
                alloc::format!(
                    "iteration count {iterations} is outside the policy {}..={}",
                    self.iterations.start(),
                    self.iterations.end()
                ),
            ));
        }
        let salt_len = credentials.salt().len();
        if !self.salt_len.contains(&salt_len) {
            return Err(IgnoreReason::new(
                IgnoreKind::OutsidePolicy,
                alloc::format!(
                    "salt of {salt_len} bytes is outside the policy {}..={}",
                    self.salt_len.start(),
                    self.salt_len.end()
                ),
            ));
        }
        Ok(())
    }
}

/// Why [`ScramServer::new`](super::ScramServer::new) refused a configuration. Each variant
/// names the setting.
///
/// ```
/// use mqtt_scram::{ConfigError, ScramServer, ServerConfig};
/// let err = ScramServer::new(ServerConfig::new([1; 32]).nonce_len(8)).unwrap_err();
/// assert_eq!(err, ConfigError::NonceLen(8));
/// assert!(err.to_string().starts_with("nonce_len:"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `mechanisms` is empty.
    #[error("mechanisms: at least one mechanism must be enabled")]
    NoMechanisms,
    /// `mock_iterations` is outside the record policy (or zero).
    #[error(
        "mock_iterations: {value} is outside the record policy's iteration range {min}..={max}; unknown users would stand out"
    )]
    MockIterations {
        /// The configured value.
        value: u32,
        /// Policy minimum.
        min: u32,
        /// Policy maximum.
        max: u32,
    },
    /// `mock_salt_len` is outside the record policy's salt range or
    /// [`MIN_MOCK_SALT_LEN`]..=[`MAX_MOCK_SALT_LEN`].
    #[error(
        "mock_salt_len: {value} bytes is outside {min}..={max} (the record policy's salt range, within 8..=64); unknown users would stand out"
    )]
    MockSaltLen {
        /// The configured value.
        value: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// `nonce_len` is outside [`MIN_NONCE_LEN`]..=[`MAX_NONCE_LEN`].
    #[error("nonce_len: {0} bytes is outside {MIN_NONCE_LEN}..={MAX_NONCE_LEN}")]
    NonceLen(usize),
    /// `handshake_timeout` is zero.
    #[error("handshake_timeout: must be longer than zero")]
    HandshakeTimeout,
    /// `max_message_len` is below [`MIN_MESSAGE_LEN`].
    #[error("max_message_len: {0} bytes is below the minimum of {MIN_MESSAGE_LEN}")]
    MaxMessageLen(usize),
    /// A record policy range is empty or starts at zero.
    #[error("record_policy: {0}")]
    RecordPolicy(&'static str),
}

/// Server settings, shared by every exchange through [`ScramServer`](super::ScramServer).
///
/// Setters never fail; [`ScramServer::new`](super::ScramServer::new) checks the whole
/// configuration once and names the setting that is wrong.
///
/// ```
/// use std::time::Duration;
/// use mqtt_scram::{Mechanism, ScramServer, ServerConfig};
/// let config = ServerConfig::new([7; 32])
///     .mechanisms(&[Mechanism::ScramSha256, Mechanism::ScramSha512])
///     .mock_iterations(4096)
///     .handshake_timeout(Duration::from_secs(10));
/// let server = ScramServer::new(config)?;
/// # let _ = server;
/// assert!(ScramServer::new(ServerConfig::new([7; 32]).mock_iterations(0)).is_err());
/// # Ok::<(), mqtt_scram::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ServerConfig {
    pub(super) mechanisms: Vec<Mechanism>,
    /// The mock challenge's shape per hash (SHA-256, SHA-512) when the provider reports none.
    pub(super) mock_shapes: [MockShape; 2],
    pub(super) nonce_len: usize,
    /// The mock key as a SHA-256 state, so a mock salt costs one compression (for
    /// either mechanism); zeroized on drop.
    pub(super) mock_salt_key: SaltKey,
    pub(super) handshake_timeout: Duration,
    pub(super) max_message_len: usize,
    pub(super) allow_authzid: bool,
    pub(super) record_policy: RecordPolicy,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("mechanisms", &self.mechanisms)
            .field("mock_shapes", &self.mock_shapes)
            .field("nonce_len", &self.nonce_len)
            .field("mock_key", &"<redacted>")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_message_len", &self.max_message_len)
            .field("allow_authzid", &self.allow_authzid)
            .field("record_policy", &self.record_policy)
            .finish()
    }
}

impl ServerConfig {
    /// Defaults: all four mechanisms, mock shape 16-byte salt and 4096 iterations, 24-byte nonces,
    /// 30 s handshake deadline, 4 KiB message limit, authzid only if equal to the username,
    /// [`RecordPolicy::default`].
    ///
    /// `mock_key` keys the fake salts given to unknown users. Keep it secret and
    /// **stable across restarts**: a fake salt that changes after a restart, while real
    /// salts do not, tells an attacker which users are fake.
    /// The bytes are wiped here; [`ServerConfig::from_mock_key`] takes a [`MockKey`]
    /// (e.g. read by `MockKey::from_file`).
    pub fn new(mock_key: [u8; 32]) -> Self {
        Self::from_mock_key(MockKey::new(mock_key))
    }

    /// [`ServerConfig::new`] with a [`MockKey`], e.g. one read by `MockKey::from_file`
    /// (feature `std`).
    ///
    /// ```
    /// use mqtt_scram::{MockKey, ServerConfig};
    /// let config = ServerConfig::from_mock_key(MockKey::new([7; 32]));
    /// # let _ = config;
    /// ```
    pub fn from_mock_key(mock_key: MockKey) -> Self {
        let mock_salt_key = SaltKey::new(mock_key.bytes());
        Self {
            mechanisms: Mechanism::ALL.to_vec(),
            mock_shapes: [MockShape::DEFAULT; 2],
            nonce_len: 24,
            mock_salt_key,
            handshake_timeout: Duration::from_secs(30),
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            allow_authzid: false,
            record_policy: RecordPolicy::default(),
        }
    }

    /// Replaces the mock key (see [`ServerConfig::new`]), e.g. one read from a file after
    /// the rest of the configuration (`MockKey::from_file`); the key is wiped here.
    ///
    /// ```
    /// let config = mqtt_scram::ServerConfig::new([0; 32]).mock_key([7; 32]);
    /// # let _ = config;
    /// ```
    pub fn mock_key(mut self, mock_key: impl Into<MockKey>) -> Self {
        self.mock_salt_key = SaltKey::new(mock_key.into().bytes());
        self
    }

    /// Mechanisms to accept, in any order. `-PLUS` ones only work on connections with
    /// channel binding; offering one makes the server reject the `y` downgrade flag there.
    pub fn mechanisms(mut self, mechanisms: &[Mechanism]) -> Self {
        self.mechanisms = mechanisms.to_vec();
        self
    }

    /// Iteration count shown to unknown users of both hashes; set it to what most real
    /// users have. Must lie within the [`RecordPolicy`]. A provider that holds its records
    /// (file, memory) reports their shape instead (see [`MockShape`]).
    pub fn mock_iterations(mut self, iterations: u32) -> Self {
        for shape in &mut self.mock_shapes {
            *shape = MockShape::new(shape.salt_len(), iterations);
        }
        self
    }

    /// Salt length (bytes) shown to unknown users of both hashes (default 16): what most
    /// real users have. Within the [`RecordPolicy`]'s salt range and
    /// [`MIN_MOCK_SALT_LEN`]..=[`MAX_MOCK_SALT_LEN`].
    pub fn mock_salt_len(mut self, salt_len: usize) -> Self {
        for shape in &mut self.mock_shapes {
            *shape = MockShape::new(salt_len, shape.iterations());
        }
        self
    }

    /// The shape of unknown users' challenges for `hash` when the provider reports none
    /// (remote stores): what most real users of that hash have.
    ///
    /// ```
    /// use mqtt_scram::{HashAlgorithm, ScramServer, ServerConfig, provider::MockShape};
    /// let config = ServerConfig::new([7; 32])
    ///     .mock_shape(HashAlgorithm::Sha512, MockShape::new(32, 10_000));
    /// assert_eq!(config.mock_shape_for(HashAlgorithm::Sha256), MockShape::new(16, 4096));
    /// assert!(ScramServer::new(config).is_ok());
    /// let bad = ServerConfig::new([7; 32]).mock_shape(HashAlgorithm::Sha256, MockShape::new(65, 4096));
    /// assert!(ScramServer::new(bad).unwrap_err().to_string().starts_with("mock_salt_len:"));
    /// ```
    pub fn mock_shape(mut self, hash: HashAlgorithm, shape: MockShape) -> Self {
        if let Some(slot) = self.mock_shapes.get_mut(slot(hash)) {
            *slot = shape;
        }
        self
    }

    /// The configured mock shape of `hash`.
    pub fn mock_shape_for(&self, hash: HashAlgorithm) -> MockShape {
        self.mock_shapes
            .get(slot(hash))
            .copied()
            .unwrap_or(MockShape::DEFAULT)
    }

    /// The shape an unknown user's `hash` challenge takes when the store reports
    /// `store_shape` (its most common one, or `None` for a remote store): that shape when
    /// [`check_mock_shape`](Self::check_mock_shape) allows it, else the configured one
    /// ([`mock_shape_for`](Self::mock_shape_for)).
    ///
    /// ```
    /// use mqtt_scram::provider::MockShape;
    /// use mqtt_scram::{HashAlgorithm, ServerConfig};
    /// let config = ServerConfig::new([1; 32]);
    /// let sha256 = HashAlgorithm::Sha256;
    /// assert_eq!(config.mock_shape_given(sha256, Some(MockShape::new(32, 10_000))), MockShape::new(32, 10_000));
    /// assert_eq!(config.mock_shape_given(sha256, Some(MockShape::new(1, 10_000))), MockShape::DEFAULT);
    /// assert_eq!(config.mock_shape_given(sha256, None), MockShape::DEFAULT);
    /// ```
    pub fn mock_shape_given(
        &self,
        hash: HashAlgorithm,
        store_shape: Option<MockShape>,
    ) -> MockShape {
        store_shape
            .filter(|shape| self.check_mock_shape(*shape).is_ok())
            .unwrap_or_else(|| self.mock_shape_for(hash))
    }

    /// Whether a mock challenge may take `shape`: the salt length within the record
    /// policy and [`MIN_MOCK_SALT_LEN`]..=[`MAX_MOCK_SALT_LEN`], the iteration count
    /// within the policy.
    pub fn check_mock_shape(&self, shape: MockShape) -> Result<(), ConfigError> {
        let policy = &self.record_policy;
        let min = (*policy.salt_len.start()).max(MIN_MOCK_SALT_LEN);
        let max = (*policy.salt_len.end()).min(MAX_MOCK_SALT_LEN);
        if !(min..=max).contains(&shape.salt_len()) {
            return Err(ConfigError::MockSaltLen {
                value: shape.salt_len(),
                min,
                max,
            });
        }
        if !policy.allows_iterations(shape.iterations()) || shape.iterations() == 0 {
            return Err(ConfigError::MockIterations {
                value: shape.iterations(),
                min: *policy.iterations.start(),
                max: *policy.iterations.end(),
            });
        }
        Ok(())
    }

    /// Random bytes per server nonce ([`MIN_NONCE_LEN`]..=[`MAX_NONCE_LEN`], default 24).
    pub fn nonce_len(mut self, bytes: usize) -> Self {
        self.nonce_len = bytes;
        self
    }

    /// Time from the first client message to the last one (default 30 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Largest SCRAM message accepted, in bytes (default 4096, at least [`MIN_MESSAGE_LEN`]).
    pub fn max_message_len(mut self, bytes: usize) -> Self {
        self.max_message_len = bytes;
        self
    }

    /// Whether a client may send an authorization identity (`a=`) other than its username.
    /// When allowed it is passed to [`Identity::authzid`](crate::Identity::authzid) for the
    /// broker to judge.
    pub fn allow_authzid(mut self, allow: bool) -> Self {
        self.allow_authzid = allow;
        self
    }

    /// What every provider's record must satisfy (default [`RecordPolicy::default`]).
    pub fn record_policy(mut self, policy: RecordPolicy) -> Self {
        self.record_policy = policy;
        self
    }

    /// The mechanisms offered.
    pub fn offered_mechanisms(&self) -> &[Mechanism] {
        &self.mechanisms
    }

    /// The handshake deadline.
    pub fn timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The record policy.
    pub fn policy(&self) -> &RecordPolicy {
        &self.record_policy
    }

    /// The largest SCRAM message accepted.
    pub fn message_limit(&self) -> usize {
        self.max_message_len
    }

    pub(super) fn offers_binding(&self) -> bool {
        self.mechanisms.iter().any(|m| m.is_plus())
    }

    /// Checks every setting; see [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.mechanisms.is_empty() {
            return Err(ConfigError::NoMechanisms);
        }
        let policy = &self.record_policy;
        if policy.iterations.is_empty() || *policy.iterations.start() == 0 {
            return Err(ConfigError::RecordPolicy(
                "the iteration range must be non-empty and start at 1 or more",
            ));
        }
        if policy.salt_len.is_empty() || *policy.salt_len.start() == 0 {
            return Err(ConfigError::RecordPolicy(
                "the salt length range must be non-empty and start at 1 or more",
            ));
        }
        for shape in self.mock_shapes {
            self.check_mock_shape(shape)?;
        }
        if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&self.nonce_len) {
            return Err(ConfigError::NonceLen(self.nonce_len));
        }
        if self.handshake_timeout.is_zero() {
            return Err(ConfigError::HandshakeTimeout);
        }
        if self.max_message_len < MIN_MESSAGE_LEN {
            return Err(ConfigError::MaxMessageLen(self.max_message_len));
        }
        Ok(())
    }
}

/// `Deserialize` (feature `serde`): the settings of [`ServerConfig`] by name, e.g. in TOML:
///
/// ```toml
/// mechanisms = ["SCRAM-SHA-256", "SCRAM-SHA-512"]   # default: all four
/// mock_key_file = "/etc/mqtt/mock.key"               # or mock_key = "<64 hex characters>"
/// mock_iterations = 4096                            # both hashes; default 4096
/// mock_salt_len = 16                                 # both hashes; default 16
/// mock_shape = { sha512 = { salt_len = 32, iterations = 10000 } }   # per hash
/// nonce_len = 24
/// handshake_timeout = "30s"                          # or a number of seconds
/// max_message_len = 4096
/// allow_authzid = false
/// record_policy = { iterations = [4096, 1000000], salt_len = [8, 64] }
/// ```
/// Exactly one of `mock_key` and `mock_key_file` (which needs the `std` feature) is required;
/// the file is read by [`MockKey::from_file`] (hex or 32 raw bytes, `chmod 600`).
/// Unknown keys are refused, and every error names its key; the key itself is never
/// printed (the hex text is zeroized after decoding).
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl<'de> serde::Deserialize<'de> for ServerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let settings = settings::Server::deserialize(deserializer)?;
        settings.build().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "serde")]
#[path = "settings.rs"]
mod settings;
