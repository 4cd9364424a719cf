//! An in-memory credential store.

use std::collections::HashMap;
use std::hint;
use std::string::String;
use std::sync::{Arc, RwLock};

use super::{Lookup, LookupRequest, SyncCredentialProvider, UserRecord};
use crate::mechanism::HashAlgorithm;

/// A thread-safe in-memory store of [`UserRecord`]s, keyed by username and hash.
///
/// Holds only derived credentials, never passwords. Records can be inserted,
/// replaced and removed while the broker runs. A lookup shares the stored record
/// (`Arc`) instead of copying it.
///
/// ```
/// use mqtt_scram::{HashAlgorithm, credentials::StoredCredentials, provider::{MemoryProvider, UserRecord}};
/// let store = MemoryProvider::new();
/// let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"salt", 4096)?;
/// store.insert("user", UserRecord::new(creds));
/// assert_eq!(store.len(), 1);
/// # Ok::<(), mqtt_scram::credentials::CredentialsError>(())
/// ```
#[derive(Debug, Default)]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub struct MemoryProvider {
    users: RwLock<Users>,
}

/// Records by username, one slot per hash (SHA-256, SHA-512): lookups borrow the name, no allocation.
type Users = HashMap<String, [Option<Arc<UserRecord>>; 2]>;

fn slot(hash: HashAlgorithm) -> usize {
    match hash {
        HashAlgorithm::Sha256 => 0,
        HashAlgorithm::Sha512 => 1,
    }
}

impl MemoryProvider {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces the record for `username` and the record's hash; returns the old one.
    pub fn insert(&self, username: &str, record: UserRecord) -> Option<Arc<UserRecord>> {
        self.insert_shared(username, Arc::new(record))
    }

    /// Inserts or replaces an already shared record; returns the old one.
    pub fn insert_shared(
        &self,
        username: &str,
        record: Arc<UserRecord>,
    ) -> Option<Arc<UserRecord>> {
        let index = slot(record.credentials.hash());
        let mut users = self.write();
        let slots = users.entry(username.into()).or_default();
        slots.get_mut(index)?.replace(record)
    }

    /// Removes every record of `username`; returns how many there were.
    pub fn remove(&self, username: &str) -> usize {
        self.write()
            .remove(username)
            .map_or(0, |slots| slots.iter().flatten().count())
    }

    /// Replaces the whole store at once (readers see the old or the new set, never a mix).
    pub fn replace_all(&self, records: impl IntoIterator<Item = (String, UserRecord)>) {
        let mut map = Users::new();
        for (name, record) in records {
            let index = slot(record.credentials.hash());
            if let Some(s) = map.entry(name).or_default().get_mut(index) {
                *s = Some(Arc::new(record));
            }
        }
        *self.write() = map;
    }

    /// The record for `username` and `hash`, shared.
    pub fn get(&self, username: &str, hash: HashAlgorithm) -> Option<Arc<UserRecord>> {
        self.read().get(username)?.get(slot(hash))?.clone()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.read()
            .values()
            .map(|slots| slots.iter().flatten().count())
            .sum()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Users> {
        // A panic while holding the lock cannot leave a record half-written, so poison is ignored.
        self.users
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Users> {
        self.users
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SyncCredentialProvider for MemoryProvider {
    /// A hit shares the stored record (one reference-count increment, no copy). A miss
    /// does the same work as a hit, so that the time of a lookup does not tell whether a
    /// user exists: a hit compares the requested name with the stored one in full, a miss
    /// makes the same comparison; the reference count a hit takes is taken by the engine
    /// on a miss (on its mock record), and both are released when the exchange ends.
    fn lookup_sync(&self, request: &LookupRequest<'_>) -> Lookup {
        let users = self.read();
        let found = users
            .get(request.username)
            .and_then(|slots| slots.get(slot(request.mechanism.hash())))
            .and_then(Option::as_ref);
        match found {
            Some(record) => Lookup::Found(Arc::clone(record)),
            None => {
                let name = request.username.as_bytes();
                hint::black_box(hint::black_box(name) == hint::black_box(name));
                Lookup::NotFound
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::StoredCredentials;

    #[test]
    fn insert_replace_remove() {
        let store = MemoryProvider::new();
        let a = StoredCredentials::derive(HashAlgorithm::Sha256, "a", b"s", 1).unwrap();
        let b = StoredCredentials::derive(HashAlgorithm::Sha512, "b", b"s", 1).unwrap();
        assert!(store.insert("u", UserRecord::new(a.clone())).is_none());
        assert!(store.insert("u", UserRecord::new(b)).is_none());
        assert_eq!(store.len(), 2);
        assert!(store.insert("u", UserRecord::new(a.clone())).is_some());
        assert_eq!(
            store.get("u", HashAlgorithm::Sha256).unwrap().credentials,
            a
        );
        assert_eq!(store.remove("u"), 2);
        assert!(store.is_empty());
        store.replace_all(std::vec![("x".into(), UserRecord::new(a))]);
        assert_eq!(store.len(), 1);
        assert!(store.get("x", HashAlgorithm::Sha512).is_none());
    }
}
