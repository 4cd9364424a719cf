//! An in-memory credential store.

use std::boxed::Box;
use std::collections::HashMap;
use std::hint;
use std::string::String;
use std::sync::{Arc, RwLock};

use super::{
    Lookup, LookupRequest, MockShape, RecordShapes, ShapeCensus, SyncCredentialProvider,
    UserAttributes, UserRecord,
};
use crate::mechanism::HashAlgorithm;

/// A thread-safe in-memory store of [`UserRecord`]s, keyed by username and hash.
///
/// Holds only derived credentials, never passwords. Records can be inserted,
/// replaced and removed while the broker runs. A lookup shares the stored record
/// (`Arc`) instead of copying it.
///
/// It keeps count of its records' shapes (salt length, iteration count): the most common
/// one per hash is its [`record_shape_sync`](SyncCredentialProvider::record_shape_sync),
/// which the mock challenge of an unknown user copies, and [`MemoryProvider::shapes`] says
/// how many records differ from it (for the caller to log).
///
/// ```
/// use mqtt_scram::{HashAlgorithm, credentials::StoredCredentials, provider::{MemoryProvider, UserRecord}};
/// let store = MemoryProvider::new();
/// let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"salt", 4096)?;
/// store.insert("user", UserRecord::new(creds));
/// assert_eq!(store.len(), 1);
/// # Ok::<(), mqtt_scram::credentials::CredentialsError>(())
/// ```
///
/// Memory: a SHA-256 user costs its shared record (one allocation holding the keys and
/// their precomputed HMAC states), its salt, its name (a `Box<str>`, no spare capacity)
/// and one table slot. Records whose attributes are all default share one
/// [`UserAttributes`] instead of one each.
#[derive(Debug, Default)]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub struct MemoryProvider {
    users: RwLock<Store>,
    /// Shared by every record stored with default attributes.
    default_attributes: Arc<UserAttributes>,
}

/// The records, the census of their shapes and its summary, changed together.
#[derive(Debug, Default)]
struct Store {
    users: Users,
    census: ShapeCensus,
    shapes: RecordShapes,
}

impl Store {
    fn replaced(&mut self, old: Option<&Arc<UserRecord>>, new: Option<&Arc<UserRecord>>) {
        if let Some(old) = old {
            self.census.remove(&old.credentials);
        }
        if let Some(new) = new {
            self.census.add(&new.credentials);
        }
        self.shapes = self.census.shapes();
    }
}

/// Records by username, one slot per hash (SHA-256, SHA-512): lookups borrow the name, no allocation.
type Users = HashMap<Box<str>, [Option<Arc<UserRecord>>; 2]>;

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
        self.insert_shared(username, Arc::new(self.compact(record)))
    }

    /// Inserts or replaces an already shared record; returns the old one.
    pub fn insert_shared(
        &self,
        username: &str,
        record: Arc<UserRecord>,
    ) -> Option<Arc<UserRecord>> {
        let index = slot(record.credentials.hash());
        let mut store = self.write();
        let slots = store.users.entry(username.into()).or_default();
        let old = slots.get_mut(index)?.replace(Arc::clone(&record));
        store.replaced(old.as_ref(), Some(&record));
        old
    }

    /// Removes every record of `username`; returns how many there were.
    pub fn remove(&self, username: &str) -> usize {
        // Taken out under the lock, dropped after it.
        let removed = {
            let mut store = self.write();
            let removed = store.users.remove(username);
            for old in removed.iter().flatten().flatten() {
                store.replaced(Some(old), None);
            }
            removed
        };
        removed.map_or(0, |slots| slots.iter().flatten().count())
    }

    /// Replaces the whole store at once (readers see the old or the new set, never a mix).
    ///
    /// The new set is built before the write lock is taken and the old one is dropped after
    /// it is released: lookups wait only for the swap, not for a million records to be freed.
    pub fn replace_all(&self, records: impl IntoIterator<Item = (String, UserRecord)>) {
        let records = records.into_iter();
        let mut map = Users::with_capacity(records.size_hint().0);
        for (name, record) in records {
            let index = slot(record.credentials.hash());
            let record = Arc::new(self.compact(record));
            if let Some(s) = map.entry(name.into_boxed_str()).or_default().get_mut(index) {
                *s = Some(record);
            }
        }
        map.shrink_to_fit();
        let mut census = ShapeCensus::new();
        for record in map.values().flatten().flatten() {
            census.add(&record.credentials);
        }
        let shapes = census.shapes();
        let new = Store {
            users: map,
            census,
            shapes,
        };
        let old = std::mem::replace(&mut *self.write(), new);
        drop(old);
    }

    /// The most common record shape per hash and how many records differ from it (see
    /// [`RecordShapes`]); follows every change.
    pub fn shapes(&self) -> RecordShapes {
        self.read().shapes
    }

    /// Shares the one default [`UserAttributes`] when the record's are all default.
    fn compact(&self, mut record: UserRecord) -> UserRecord {
        if !Arc::ptr_eq(&record.attributes, &self.default_attributes)
            && *record.attributes == *self.default_attributes
        {
            record.attributes = Arc::clone(&self.default_attributes);
        }
        record
    }

    /// The record for `username` and `hash`, shared.
    pub fn get(&self, username: &str, hash: HashAlgorithm) -> Option<Arc<UserRecord>> {
        self.read().users.get(username)?.get(slot(hash))?.clone()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.read()
            .users
            .values()
            .map(|slots| slots.iter().flatten().count())
            .sum()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        // A panic while holding the lock cannot leave a record half-written, so poison is ignored.
        self.users
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
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
        let store = self.read();
        let found = store
            .users
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

    /// The most common salt length and iteration count of the `hash` records.
    fn record_shape_sync(&self, hash: HashAlgorithm) -> Option<MockShape> {
        self.read().shapes.get(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::StoredCredentials;
    use crate::provider::AuthzData;
    use std::sync::{Mutex, mpsc};

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

    #[test]
    fn shapes_follow_inserts_removals_and_replacement() {
        let creds = |salt: &[u8], n| StoredCredentials::derive(HashAlgorithm::Sha256, "p", salt, n);
        let store = MemoryProvider::new();
        assert_eq!(store.record_shape_sync(HashAlgorithm::Sha256), None);
        store.insert("a", UserRecord::new(creds(&[1; 32], 10).unwrap()));
        store.insert("b", UserRecord::new(creds(&[1; 32], 10).unwrap()));
        store.insert("c", UserRecord::new(creds(&[1; 16], 20).unwrap()));
        assert_eq!(
            store.record_shape_sync(HashAlgorithm::Sha256),
            Some(MockShape::new(32, 10))
        );
        assert_eq!(store.shapes().differing(HashAlgorithm::Sha256), 1);
        store.remove("a");
        // 32 ×1, 16 ×1 → 32; 10 ×1, 20 ×1 → 20 (ties: the larger).
        store.insert("b", UserRecord::new(creds(&[1; 32], 20).unwrap()));
        assert_eq!(
            store.record_shape_sync(HashAlgorithm::Sha256),
            Some(MockShape::new(32, 20))
        );
        store.replace_all(std::vec![(
            "x".into(),
            UserRecord::new(creds(&[1; 8], 30).unwrap())
        )]);
        assert_eq!(
            store.record_shape_sync(HashAlgorithm::Sha256),
            Some(MockShape::new(8, 30))
        );
        assert_eq!(store.shapes().differing(HashAlgorithm::Sha256), 0);
    }

    /// Authorization data whose drop says it started, then waits for the test's go.
    struct SlowDrop {
        dropping: mpsc::Sender<()>,
        go: Mutex<mpsc::Receiver<()>>,
    }

    impl Drop for SlowDrop {
        fn drop(&mut self) {
            let _ = self.dropping.send(());
            let _ = self.go.lock().map(|go| go.recv());
        }
    }

    #[test]
    fn replace_all_drops_the_old_set_after_releasing_the_lock() {
        let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "a", b"s", 1).unwrap();
        let (dropping_tx, dropping) = mpsc::channel();
        let (go, go_rx) = mpsc::channel();
        let slow = AuthzData::new(SlowDrop {
            dropping: dropping_tx,
            go: Mutex::new(go_rx),
        });
        let store = Arc::new(MemoryProvider::new());
        store.insert("old", UserRecord::new(creds.clone()).authz(Some(slow)));
        let writer = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store.replace_all(std::vec![("new".into(), UserRecord::new(creds))]);
            })
        };
        // The old set is being dropped (its one record blocks in its drop until `go`):
        // the lock is free and readers already see the new set.
        dropping.recv().unwrap();
        assert!(
            store.users.try_read().is_ok(),
            "the write lock is held while the old set drops"
        );
        assert!(store.get("new", HashAlgorithm::Sha256).is_some());
        assert!(store.get("old", HashAlgorithm::Sha256).is_none());
        go.send(()).unwrap();
        writer.join().unwrap();
    }

    #[test]
    fn records_with_default_attributes_share_them() {
        let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "a", b"s", 1).unwrap();
        let store = MemoryProvider::new();
        store.insert("a", UserRecord::new(creds.clone()));
        store.replace_all(std::vec![
            ("b".into(), UserRecord::new(creds.clone())),
            ("c".into(), UserRecord::new(creds.clone())),
            ("d".into(), UserRecord::new(creds).superuser(true)),
        ]);
        let get = |name| store.get(name, HashAlgorithm::Sha256).unwrap();
        assert!(Arc::ptr_eq(&get("b").attributes, &get("c").attributes));
        assert!(!Arc::ptr_eq(&get("b").attributes, &get("d").attributes));
        assert!(get("d").attributes.is_superuser);
    }
}
