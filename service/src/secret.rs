//! The optional shared secret every request carries in a header (`[auth]`): read from a
//! file, re-read on SIGHUP, compared in constant time, never logged.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use axum::http::{HeaderMap, HeaderName};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::backend::BackendError;

/// The header name and the secret. `Debug` shows the header name only.
pub struct SharedSecret {
    header: HeaderName,
    path: PathBuf,
    secret: RwLock<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSecret")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl SharedSecret {
    /// Reads the secret for `header` from `path` (surrounding whitespace trimmed; an empty
    /// secret is refused).
    pub fn load(header: &str, path: &Path) -> Result<Self, BackendError> {
        let header = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| BackendError::Secret(format!("{header:?} is not a header name")))?;
        let secret = read(path)?;
        Ok(Self {
            header,
            path: path.to_path_buf(),
            secret: RwLock::new(secret),
        })
    }

    /// The header name.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// Re-reads the file; on error the previous secret stays.
    pub fn reload(&self) -> Result<(), BackendError> {
        let secret = read(&self.path)?;
        *self
            .secret
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = secret;
        Ok(())
    }

    /// Whether `headers` carry the secret (exactly one value, equal in constant time).
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(&self.header).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return false;
        };
        let secret = self
            .secret
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bool::from(value.as_bytes().ct_eq(secret.as_slice()))
    }
}

fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, BackendError> {
    let raw = Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| BackendError::Secret(format!("cannot read {}: {e}", path.display())))?,
    );
    let trimmed = raw.trim_ascii();
    if trimmed.is_empty() {
        return Err(BackendError::Secret(format!("{} is empty", path.display())));
    }
    Ok(Zeroizing::new(trimmed.to_vec()))
}
