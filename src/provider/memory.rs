//! An in-memory credential store.

use std::collections::HashMap;
use std::string::String;
use std::sync::RwLock;
use std::vec::Vec;

use super::{Lookup, LookupRequest, SyncCredentialProvider, UserRecord};
use crate::mechanism::HashAlgorithm;

/// A thread-safe in-memory store of [`UserRecord`]s, keyed by username and hash.
///
/// Holds only derived credentials, never passwords. Records can be inserted,
/// replaced and removed while the broker runs.
///
/// ```
/// use mqtt_scram::{HashAlgorithm, credentials::StoredCredentials, provider::{MemoryProvider, UserRecord}};
/// let store = MemoryProvider::new();
/// let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"salt", 4096)?;
/// store.insert("user", UserRecord::new(creds));
/// assert_eq!(store.len(), 1);
/// # Ok::<(), mqtt_scram::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryProvider {
    users: RwLock<HashMap<(String, HashAlgorithm), UserRecord>>,
}

impl MemoryProvider {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces the record for `username` and the record's hash; returns the old one.
    pub fn insert(&self, username: &str, record: UserRecord) -> Option<UserRecord> {
        let key = (username.into(), record.credentials.hash());
        self.write().insert(key, record)
    }

    /// Removes every record of `username`; returns how many there were.
    pub fn remove(&self, username: &str) -> usize {
        let mut users = self.write();
        let before = users.len();
        users.retain(|(name, _), _| name != username);
        before - users.len()
    }

    /// Replaces the whole store at once (readers see the old or the new set, never a mix).
    pub fn replace_all(&self, records: Vec<(String, UserRecord)>) {
        let map = records.into_iter().map(|(name, r)| ((name, r.credentials.hash()), r)).collect();
        *self.write() = map;
    }

    /// The record for `username` and `hash`, cloned.
    pub fn get(&self, username: &str, hash: HashAlgorithm) -> Option<UserRecord> {
        self.read().get(&(username.into(), hash)).cloned()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(String, HashAlgorithm), UserRecord>> {
        // A panic while holding the lock cannot leave a record half-written, so poison is ignored.
        self.users.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<(String, HashAlgorithm), UserRecord>> {
        self.users.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SyncCredentialProvider for MemoryProvider {
    fn lookup_sync(&self, request: &LookupRequest<'_>) -> Lookup {
        match self.get(request.username, request.mechanism.hash()) {
            Some(record) => Lookup::Found(record),
            None => Lookup::NotFound,
        }
    }
}
