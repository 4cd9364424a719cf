//! The secret that keys the mock salts given to unknown users ([`MockKey`]), and loading
//! it from a file ([`MockKey::from_file`], feature `std`).

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// The 32-byte secret that keys unknown users' mock salts (see
/// [`ServerConfig::new`](crate::ServerConfig::new)). Keep it secret and **stable across
/// restarts**: a mock salt that changes after a restart, while real salts do not, tells an
/// attacker which users are fake.
///
/// The bytes are zeroized on drop and never printed: `Debug` shows `MockKey(<redacted>)`.
///
/// ```
/// use mqtt_scram::{MockKey, ServerConfig};
/// let key = MockKey::new([0x5a; 32]);
/// assert_eq!(format!("{key:?}"), "MockKey(<redacted>)");
/// let config = ServerConfig::from_mock_key(key);   // or ServerConfig::new([0x5a; 32])
/// # let _ = config;
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MockKey([u8; 32]);

impl MockKey {
    /// A key from its 32 bytes; `bytes` is wiped here.
    pub fn new(mut bytes: [u8; 32]) -> Self {
        let key = Self(bytes);
        bytes.zeroize();
        key
    }

    /// The key's bytes (for the engine's key schedule; do not print or log them).
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for MockKey {
    fn from(bytes: [u8; 32]) -> Self {
        Self::new(bytes)
    }
}

impl fmt::Debug for MockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MockKey(<redacted>)")
    }
}

#[cfg(feature = "std")]
mod file {
    use std::fs::File;
    use std::io::{self, Read as _};
    use std::path::{Path, PathBuf};
    use std::vec::Vec;

    use zeroize::Zeroizing;

    use super::MockKey;

    /// Largest file [`MockKey::from_file`] reads (64 hex characters plus generous
    /// whitespace); anything longer is refused without reading it.
    const MAX_FILE_LEN: usize = 1024;

    /// Why [`MockKey::from_file`] refused a file. Every message names the file and what to
    /// do; none contains any of the file's bytes.
    ///
    /// ```
    /// let err = mqtt_scram::MockKey::from_file("/nonexistent/mock.key").unwrap_err();
    /// assert!(err.to_string().contains("/nonexistent/mock.key"));
    /// ```
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum MockKeyError {
        /// The file could not be opened or read.
        #[error("mock key file {}: cannot read it: {source}", path.display())]
        Read {
            /// The file.
            path: PathBuf,
            /// Why.
            source: io::Error,
        },
        /// The file is readable or writable by its group or by others.
        #[error(
            "mock key file {path}: its mode {mode:03o} gives access to group or others; the mock key must be private: chmod 600 {path}",
            path = path.display()
        )]
        Permissions {
            /// The file.
            path: PathBuf,
            /// Its permission bits.
            mode: u32,
        },
        /// The file holds neither 64 hex characters nor exactly 32 bytes.
        #[error(
            "mock key file {}: must hold 64 hex characters (surrounding whitespace allowed) or exactly 32 raw bytes; found {len} bytes of something else (create one with `head -c 32 /dev/urandom | xxd -p -c 64 > mock.key && chmod 600 mock.key`)",
            path.display()
        )]
        Format {
            /// The file.
            path: PathBuf,
            /// Its length in bytes.
            len: u64,
        },
    }

    impl MockKey {
        /// Reads a mock key from `path`: 64 hex characters (surrounding whitespace
        /// allowed) or exactly 32 raw bytes. On unix, a file whose mode gives group or
        /// others any access (`mode & 0o077 != 0`) is refused: `chmod 600` it. Errors name
        /// the file, never its contents; the bytes read are zeroized.
        ///
        /// ```
        /// # #[cfg(unix)] {
        /// use std::os::unix::fs::PermissionsExt as _;
        /// use mqtt_scram::{MockKey, ServerConfig};
        /// let path = std::env::temp_dir().join(format!("mock-key-doc-{}", std::process::id()));
        /// std::fs::write(&path, format!("{}\n", "5a".repeat(32)))?;
        ///
        /// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        /// let err = MockKey::from_file(&path).unwrap_err();
        /// assert!(err.to_string().contains("chmod 600"));
        ///
        /// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        /// let config = ServerConfig::from_mock_key(MockKey::from_file(&path)?);
        /// # let _ = config;
        /// # std::fs::remove_file(&path)?;
        /// # }
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn from_file(path: impl AsRef<Path>) -> Result<Self, MockKeyError> {
            let path = path.as_ref();
            let read = |source| MockKeyError::Read {
                path: path.to_path_buf(),
                source,
            };
            let mut file = File::open(path).map_err(read)?;
            let meta = file.metadata().map_err(read)?;
            check_private(path, &meta)?;
            let len = meta.len();
            let format = |len| MockKeyError::Format {
                path: path.to_path_buf(),
                len,
            };
            if len > MAX_FILE_LEN as u64 {
                return Err(format(len));
            }
            // Room for one more byte than announced, so the buffer never reallocates
            // (a reallocation would leave an unwiped copy behind).
            let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_FILE_LEN + 1));
            (&mut file)
                .take(MAX_FILE_LEN as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(read)?;
            let mut key = Zeroizing::new([0u8; 32]);
            let trimmed = bytes.trim_ascii();
            if trimmed.len() == 64 && hex::decode_to_slice(trimmed, key.as_mut_slice()).is_ok() {
                return Ok(MockKey::new(*key));
            }
            if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
                return Ok(MockKey::new(raw));
            }
            Err(format(bytes.len() as u64))
        }
    }

    #[cfg(unix)]
    fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), MockKeyError> {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(MockKeyError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn check_private(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), MockKeyError> {
        Ok(())
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use file::MockKeyError;
