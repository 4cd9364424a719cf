//! Stored credentials (RFC 5802 §3): what a server keeps instead of a password,
//! derived from a password and read or written in the EMQX hex and PostgreSQL
//! verifier forms.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use crate::crypto::Key;
use crate::crypto::{self, HmacKey};
use crate::mechanism::HashAlgorithm;
use crate::saslprep::{Mode, SaslprepError, saslprep};

/// Iteration count used when none is given (RFC 7677 §4 minimum for SCRAM-SHA-256).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// Salt length used when a salt is generated, in bytes.
pub const DEFAULT_SALT_LEN: usize = 16;

/// Why stored credentials could not be read.
///
/// ```
/// use mqtt_scram::{HashAlgorithm, StoredCredentials, credentials::CredentialsError};
/// let err = StoredCredentials::from_emqx_hex(HashAlgorithm::Sha256, "zz", "00", "00", 4096).unwrap_err();
/// assert_eq!(err, CredentialsError::InvalidHex { field: "salt" });
/// assert_eq!(err.to_string(), "salt is not valid hex");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// A field is not valid hex.
    #[error("{field} is not valid hex")]
    InvalidHex {
        /// Field name.
        field: &'static str,
    },
    /// A field is not valid base64.
    #[error("{field} is not valid base64")]
    InvalidBase64 {
        /// Field name.
        field: &'static str,
    },
    /// A key has the wrong length for the hash.
    #[error("{field} is {found} bytes; {hash} needs {expected}")]
    WrongLength {
        /// Field name.
        field: &'static str,
        /// Hash of the credentials.
        hash: HashAlgorithm,
        /// Required length.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// The salt is empty.
    #[error("salt is empty")]
    EmptySalt,
    /// The iteration count is zero or not a number.
    #[error("iteration count must be a positive 32-bit integer")]
    InvalidIterations,
    /// A PostgreSQL verifier does not have the shape `SCRAM-SHA-256$<i>:<salt>$<stored>:<server>`.
    #[error(
        "not a SCRAM verifier of the form SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>: {0}"
    )]
    MalformedVerifier(&'static str),
    /// The password failed SASLprep (RFC 4013), e.g. it holds a control character.
    #[error("password failed SASLprep: {0}")]
    Password(SaslprepError),
}

/// What a server stores for one user and one hash: salt, iteration count,
/// StoredKey and ServerKey. Never the password.
///
/// Built once when a record is loaded, it also keeps StoredKey's and ServerKey's HMAC
/// states (the compressions of `key ⊕ ipad` and `key ⊕ opad`), so an exchange skips the
/// four compressions of their key setup. Cloning copies them; share a record through an
/// `Arc` instead (see [`UserRecord`](crate::provider::UserRecord)).
///
/// `Debug` shows the hash, salt length and iteration count only; keys and HMAC states are
/// zeroized on drop.
///
/// ```
/// use mqtt_scram::{HashAlgorithm, StoredCredentials};
/// let credentials = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl", 4096)?;
/// assert!(credentials.verify_password("pencil")?);
/// let verifier = credentials.to_postgres();
/// assert!(verifier.starts_with("SCRAM-SHA-256$4096:"));
/// assert_eq!(StoredCredentials::from_postgres(&verifier)?, credentials);
/// assert!(!format!("{credentials:?}").contains(&credentials.to_emqx_hex().stored_key));
/// # Ok::<(), mqtt_scram::credentials::CredentialsError>(())
/// ```
#[derive(Clone)]
pub struct StoredCredentials {
    hash: HashAlgorithm,
    /// A boxed slice, not a `Vec`: no spare capacity, and 8 bytes less per record.
    salt: Box<[u8]>,
    iterations: NonZeroU32,
    stored_key: Key,
    server_key: Key,
    /// HMAC states of `stored_key` (ClientSignature) and `server_key` (ServerSignature).
    stored_mac: HmacKey,
    server_mac: HmacKey,
}

impl PartialEq for StoredCredentials {
    /// The HMAC states follow from the keys, so they are not compared again.
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && self.salt == other.salt
            && self.iterations == other.iterations
            && self.stored_key == other.stored_key
            && self.server_key == other.server_key
    }
}

impl Eq for StoredCredentials {}

impl fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("hash", &self.hash)
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .field("keys", &"<redacted>")
            .finish()
    }
}

/// The EMQX form of stored credentials: lowercase hex strings, as
/// [`StoredCredentials::to_emqx_hex`] writes them.
///
/// The key strings are zeroized on drop and `Debug` shows only the salt and the key
/// lengths. Borrow the fields (`&hex.stored_key`) or clone them; they cannot be moved out.
///
/// ```
/// use mqtt_scram::{HashAlgorithm, StoredCredentials};
/// let credentials = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl", 4096)?;
/// let hex = credentials.to_emqx_hex();
/// assert_eq!(hex.salt, "4e61436c2d4e61436c");
/// assert_eq!(hex.stored_key.len(), 64);
/// assert!(!format!("{hex:?}").contains(&hex.stored_key));
/// # Ok::<(), mqtt_scram::credentials::CredentialsError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmqxHex {
    /// Hex salt.
    pub salt: String,
    /// Hex StoredKey.
    pub stored_key: String,
    /// Hex ServerKey.
    pub server_key: String,
}

impl fmt::Debug for EmqxHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmqxHex")
            .field("salt", &self.salt)
            .field(
                "stored_key",
                &format_args!("<redacted {} hex digits>", self.stored_key.len()),
            )
            .field(
                "server_key",
                &format_args!("<redacted {} hex digits>", self.server_key.len()),
            )
            .finish()
    }
}

impl Drop for EmqxHex {
    fn drop(&mut self) {
        self.stored_key.zeroize();
        self.server_key.zeroize();
    }
}

impl ZeroizeOnDrop for EmqxHex {}

impl StoredCredentials {
    /// Every constructor ends here: precomputes the keys' HMAC states.
    fn assemble(
        hash: HashAlgorithm,
        salt: Box<[u8]>,
        iterations: NonZeroU32,
        stored_key: Key,
        server_key: Key,
    ) -> Self {
        Self {
            stored_mac: HmacKey::new(hash, stored_key.as_bytes()),
            server_mac: HmacKey::new(hash, server_key.as_bytes()),
            hash,
            salt,
            iterations,
            stored_key,
            server_key,
        }
    }

    /// Builds credentials from their parts, checking key lengths, salt and count.
    pub fn from_parts(
        hash: HashAlgorithm,
        salt: &[u8],
        iterations: u32,
        stored_key: &[u8],
        server_key: &[u8],
    ) -> Result<Self, CredentialsError> {
        let iterations = check_salt_and_count(salt, iterations)?;
        let key = |field, bytes: &[u8]| {
            Key::from_slice(bytes)
                .filter(|k| k.len() == hash.output_len())
                .ok_or(CredentialsError::WrongLength {
                    field,
                    hash,
                    expected: hash.output_len(),
                    found: bytes.len(),
                })
        };
        let stored_key = key("stored_key", stored_key)?;
        let server_key = key("server_key", server_key)?;
        Ok(Self::assemble(
            hash,
            salt.into(),
            iterations,
            stored_key,
            server_key,
        ))
    }

    /// The credentials of a user that does not exist: all-zero StoredKey and ServerKey
    /// (no proof verifies against a StoredKey of zero: that needs a SHA-2 preimage), a
    /// 16-byte zero salt and `iterations`. The server's mock record, built once.
    pub(crate) fn mock(hash: HashAlgorithm, iterations: NonZeroU32) -> Self {
        let (stored_key, server_key) = (Key::zero(hash), Key::zero(hash));
        Self::assemble(
            hash,
            alloc::vec![0; DEFAULT_SALT_LEN].into_boxed_slice(),
            iterations,
            stored_key,
            server_key,
        )
    }

    /// Derives credentials from a password (SASLprep'd as a stored string, RFC 5802 §2.2).
    ///
    /// Errors: an empty salt, 0 iterations, a password that fails SASLprep.
    pub fn derive(
        hash: HashAlgorithm,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, CredentialsError> {
        let count = check_salt_and_count(salt, iterations)?;
        let prepared = saslprep(password, Mode::Stored).map_err(CredentialsError::Password)?;
        let salted = crypto::hi(hash, prepared.as_bytes(), salt, count);
        if let alloc::borrow::Cow::Owned(mut s) = prepared {
            s.zeroize();
        }
        Self::from_salted_password(hash, &salted, salt, iterations)
    }

    /// Derives credentials with a fresh random salt of [`DEFAULT_SALT_LEN`] bytes.
    pub fn generate<R: CryptoRng + ?Sized>(
        hash: HashAlgorithm,
        password: &str,
        iterations: u32,
        rng: &mut R,
    ) -> Result<Self, CredentialsError> {
        let mut salt = [0u8; DEFAULT_SALT_LEN];
        rng.fill_bytes(&mut salt);
        Self::derive(hash, password, &salt, iterations)
    }

    /// Builds credentials from an already computed SaltedPassword.
    ///
    /// Errors: an empty salt or 0 iterations.
    pub fn from_salted_password(
        hash: HashAlgorithm,
        salted: &Key,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, CredentialsError> {
        let iterations = check_salt_and_count(salt, iterations)?;
        let client_key = crypto::client_key(hash, salted);
        Ok(Self::assemble(
            hash,
            salt.into(),
            iterations,
            crypto::stored_key(hash, &client_key),
            crypto::server_key(hash, salted),
        ))
    }

    /// Whether `password` produces these credentials. Both keys are compared in constant time.
    pub fn verify_password(&self, password: &str) -> Result<bool, CredentialsError> {
        let other = Self::derive(self.hash, password, &self.salt, self.iterations.get())?;
        let stored = self.stored_key.ct_eq_bytes(other.stored_key.as_bytes());
        let server = self.server_key.ct_eq_bytes(other.server_key.as_bytes());
        Ok(stored & server)
    }

    /// The hash these credentials belong to.
    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The iteration count (never 0).
    pub fn iterations(&self) -> u32 {
        self.iterations.get()
    }

    /// StoredKey = H(ClientKey).
    pub fn stored_key(&self) -> &Key {
        &self.stored_key
    }

    /// ServerKey = HMAC(SaltedPassword, "Server Key").
    pub fn server_key(&self) -> &Key {
        &self.server_key
    }

    /// StoredKey's precomputed HMAC states (for ClientSignature).
    pub(crate) fn stored_mac(&self) -> &HmacKey {
        &self.stored_mac
    }

    /// ServerKey's precomputed HMAC states (for ServerSignature).
    pub(crate) fn server_mac(&self) -> &HmacKey {
        &self.server_mac
    }

    /// Reads the EMQX form: hex salt, StoredKey and ServerKey (either case).
    pub fn from_emqx_hex(
        hash: HashAlgorithm,
        salt: &str,
        stored_key: &str,
        server_key: &str,
        iterations: u32,
    ) -> Result<Self, CredentialsError> {
        let decode = |field, s: &str| {
            hex::decode(s.trim()).map_err(|_| CredentialsError::InvalidHex { field })
        };
        Self::from_parts(
            hash,
            &decode("salt", salt)?,
            iterations,
            &decode("stored_key", stored_key)?,
            &decode("server_key", server_key)?,
        )
    }

    /// Writes the EMQX form (lowercase hex).
    pub fn to_emqx_hex(&self) -> EmqxHex {
        EmqxHex {
            salt: hex::encode(&self.salt),
            stored_key: hex::encode(self.stored_key.as_bytes()),
            server_key: hex::encode(self.server_key.as_bytes()),
        }
    }

    /// Writes the PostgreSQL verifier form:
    /// `SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>`
    /// (`SCRAM-SHA-512$...` for SHA-512).
    pub fn to_postgres(&self) -> String {
        alloc::format!(
            "{}${}:{}${}:{}",
            self.hash.mechanism().name(),
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(self.stored_key.as_bytes()),
            STANDARD.encode(self.server_key.as_bytes()),
        )
    }

    /// Reads the PostgreSQL verifier form written by [`StoredCredentials::to_postgres`].
    pub fn from_postgres(verifier: &str) -> Result<Self, CredentialsError> {
        use CredentialsError::MalformedVerifier as Bad;
        let mut parts = verifier.trim().split('$');
        let (Some(method), Some(iter_salt), Some(keys), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Bad("expected three '$'-separated parts"));
        };
        let hash = match method {
            "SCRAM-SHA-256" => HashAlgorithm::Sha256,
            "SCRAM-SHA-512" => HashAlgorithm::Sha512,
            _ => return Err(Bad("method must be SCRAM-SHA-256 or SCRAM-SHA-512")),
        };
        let (iterations, salt) = iter_salt
            .split_once(':')
            .ok_or(Bad("expected <iterations>:<salt>"))?;
        let (stored, server) = keys
            .split_once(':')
            .ok_or(Bad("expected <StoredKey>:<ServerKey>"))?;
        let iterations = parse_iterations(iterations)?;
        let b64 = |field, s: &str| {
            STANDARD
                .decode(s)
                .map_err(|_| CredentialsError::InvalidBase64 { field })
        };
        Self::from_parts(
            hash,
            &b64("salt", salt)?,
            iterations,
            &b64("stored_key", stored)?,
            &b64("server_key", server)?,
        )
    }
}

/// An empty salt or a count of 0 is refused; the count comes back as a `NonZeroU32`.
fn check_salt_and_count(salt: &[u8], iterations: u32) -> Result<NonZeroU32, CredentialsError> {
    if salt.is_empty() {
        return Err(CredentialsError::EmptySalt);
    }
    NonZeroU32::new(iterations).ok_or(CredentialsError::InvalidIterations)
}

/// Parses a positive decimal iteration count without sign, spaces or leading zeros.
pub(crate) fn parse_iterations(s: &str) -> Result<u32, CredentialsError> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CredentialsError::InvalidIterations);
    }
    s.parse().map_err(|_| CredentialsError::InvalidIterations)
}
