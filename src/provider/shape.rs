//! The shape of stored records — salt length and iteration count — which the mock
//! challenge of an unknown user must copy ([`MockShape`]), and how a store finds the most
//! common one among its records ([`ShapeCensus`], [`RecordShapes`]).
//!
//! A mock challenge with a 16-byte salt and `i=4096`, in front of a store whose users have
//! 32-byte salts and 10,000 iterations, tells at a glance who exists. A store that holds
//! its records (a file, memory) reports the shape of what it holds through
//! [`SyncCredentialProvider::record_shape_sync`](super::SyncCredentialProvider::record_shape_sync)
//! (or [`CredentialProvider::record_shape`](super::CredentialProvider::record_shape)); the
//! code that looks users up passes it to
//! [`NeedCredentials::set_mock_shape`](crate::server::NeedCredentials::set_mock_shape). A
//! remote store reports nothing, and the server's configured shape
//! ([`ServerConfig::mock_shape`](crate::ServerConfig::mock_shape)) is used.

use alloc::collections::BTreeMap;

use crate::credentials::{DEFAULT_ITERATIONS, DEFAULT_SALT_LEN, StoredCredentials};
use crate::mechanism::HashAlgorithm;

/// Shortest mock salt, in bytes.
pub const MIN_MOCK_SALT_LEN: usize = 8;
/// Longest mock salt, in bytes.
pub const MAX_MOCK_SALT_LEN: usize = 64;

/// The salt length and iteration count a mock challenge shows (`s=` decodes to
/// `salt_len` bytes, `i=` is `iterations`).
///
/// ```
/// use mqtt_scram::provider::MockShape;
/// let shape = MockShape::new(32, 10_000);
/// assert_eq!((shape.salt_len(), shape.iterations()), (32, 10_000));
/// assert_eq!(MockShape::default(), MockShape::new(16, 4096));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MockShape {
    /// Salt length in bytes (clamped to `u32::MAX`: 8 bytes in all, kept in every
    /// handshake's state).
    salt_len: u32,
    iterations: u32,
}

impl Default for MockShape {
    /// 16-byte salts and 4096 iterations (what `mqtt-scram gen` writes by default).
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl MockShape {
    /// 16-byte salts and 4096 iterations.
    pub const DEFAULT: Self = Self {
        salt_len: DEFAULT_SALT_LEN as u32,
        iterations: DEFAULT_ITERATIONS,
    };

    /// A shape; the server checks it against its [`RecordPolicy`](crate::RecordPolicy)
    /// and [`MIN_MOCK_SALT_LEN`]..=[`MAX_MOCK_SALT_LEN`].
    pub const fn new(salt_len: usize, iterations: u32) -> Self {
        // Lengths past `u32::MAX` (refused anyway: the limit is 64) stay refused.
        let salt_len = if salt_len > u32::MAX as usize {
            u32::MAX
        } else {
            salt_len as u32
        };
        Self {
            salt_len,
            iterations,
        }
    }

    /// The shape of a record's credentials.
    pub fn of(credentials: &StoredCredentials) -> Self {
        Self::new(credentials.salt().len(), credentials.iterations())
    }

    /// Salt length in bytes.
    pub const fn salt_len(&self) -> usize {
        self.salt_len as usize
    }

    /// Iteration count.
    pub const fn iterations(&self) -> u32 {
        self.iterations
    }
}

pub(crate) const fn slot(hash: HashAlgorithm) -> usize {
    match hash {
        HashAlgorithm::Sha256 => 0,
        HashAlgorithm::Sha512 => 1,
    }
}

/// Counts the shapes of a store's records, per hash, as they are added and removed;
/// [`ShapeCensus::shapes`] gives the most common salt length and iteration count.
///
/// ```
/// use mqtt_scram::{HashAlgorithm, StoredCredentials};
/// use mqtt_scram::provider::{MockShape, ShapeCensus};
/// let mut census = ShapeCensus::new();
/// for (salt, iterations) in [(&[1u8; 32][..], 10_000), (&[2; 32], 10_000), (&[3; 16], 4096)] {
///     census.add(&StoredCredentials::derive(HashAlgorithm::Sha256, "pw", salt, iterations)?);
/// }
/// let shapes = census.shapes();
/// assert_eq!(shapes.get(HashAlgorithm::Sha256), Some(MockShape::new(32, 10_000)));
/// assert_eq!(shapes.differing(HashAlgorithm::Sha256), 1);
/// assert_eq!(shapes.get(HashAlgorithm::Sha512), None);
/// # Ok::<(), mqtt_scram::credentials::CredentialsError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShapeCensus {
    /// Per hash: records by (salt length, iterations).
    counts: [BTreeMap<(usize, u32), usize>; 2],
}

impl ShapeCensus {
    /// No records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one more record.
    pub fn add(&mut self, credentials: &StoredCredentials) {
        let shape = MockShape::of(credentials);
        if let Some(counts) = self.counts.get_mut(slot(credentials.hash())) {
            *counts
                .entry((shape.salt_len(), shape.iterations))
                .or_default() += 1;
        }
    }

    /// Counts one record less (one that was added).
    pub fn remove(&mut self, credentials: &StoredCredentials) {
        let shape = MockShape::of(credentials);
        let key = (shape.salt_len(), shape.iterations);
        if let Some(counts) = self.counts.get_mut(slot(credentials.hash())) {
            if let Some(n) = counts.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&key);
                }
            }
        }
    }

    /// Per hash, the most common salt length and the most common iteration count (each
    /// on its own; ties go to the larger), and how many records differ from that shape.
    pub fn shapes(&self) -> RecordShapes {
        let [sha256, sha512] = &self.counts;
        RecordShapes {
            per_hash: [summarize(sha256), summarize(sha512)],
        }
    }
}

fn summarize(counts: &BTreeMap<(usize, u32), usize>) -> Option<HashShape> {
    let mut salts: BTreeMap<usize, usize> = BTreeMap::new();
    let mut iterations: BTreeMap<u32, usize> = BTreeMap::new();
    let mut records = 0usize;
    for (&(salt_len, count), &n) in counts {
        *salts.entry(salt_len).or_default() += n;
        *iterations.entry(count).or_default() += n;
        records += n;
    }
    // `max_by_key` keeps the last of equal maxima: iterating in ascending order, that is
    // the larger value.
    let (&salt_len, _) = salts.iter().max_by_key(|&(_, n)| *n)?;
    let (&count, _) = iterations.iter().max_by_key(|&(_, n)| *n)?;
    let matching = counts.get(&(salt_len, count)).copied().unwrap_or(0);
    Some(HashShape {
        shape: MockShape::new(salt_len, count),
        records,
        differing: records.saturating_sub(matching),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HashShape {
    shape: MockShape,
    records: usize,
    differing: usize,
}

/// What a [`ShapeCensus`] found: per hash, the most common shape, the number of records
/// and how many of them differ from that shape (a store logs it when it loads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordShapes {
    per_hash: [Option<HashShape>; 2],
}

impl RecordShapes {
    fn at(&self, hash: HashAlgorithm) -> Option<&HashShape> {
        self.per_hash.get(slot(hash))?.as_ref()
    }

    /// The most common shape of the `hash` records; `None` without such records.
    pub fn get(&self, hash: HashAlgorithm) -> Option<MockShape> {
        self.at(hash).map(|h| h.shape)
    }

    /// Number of `hash` records.
    pub fn records(&self, hash: HashAlgorithm) -> usize {
        self.at(hash).map_or(0, |h| h.records)
    }

    /// Number of `hash` records whose salt length or iteration count differs from
    /// [`RecordShapes::get`]: to these users' challenges, an unknown user's looks different.
    pub fn differing(&self, hash: HashAlgorithm) -> usize {
        self.at(hash).map_or(0, |h| h.differing)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn creds(hash: HashAlgorithm, salt_len: usize, iterations: u32) -> StoredCredentials {
        StoredCredentials::from_parts(
            hash,
            &alloc::vec![1u8; salt_len],
            iterations,
            &alloc::vec![2u8; hash.output_len()],
            &alloc::vec![3u8; hash.output_len()],
        )
        .unwrap()
    }

    #[test]
    fn most_common_each_ties_to_the_larger_and_removal() {
        let mut census = ShapeCensus::new();
        let a = creds(HashAlgorithm::Sha512, 16, 4096);
        let b = creds(HashAlgorithm::Sha512, 32, 10_000);
        census.add(&a);
        census.add(&b);
        let shapes = census.shapes();
        assert_eq!(
            shapes.get(HashAlgorithm::Sha512),
            Some(MockShape::new(32, 10_000))
        );
        assert_eq!(shapes.records(HashAlgorithm::Sha512), 2);
        assert_eq!(shapes.differing(HashAlgorithm::Sha512), 1);
        assert_eq!(shapes.get(HashAlgorithm::Sha256), None);
        census.add(&a);
        census.add(&creds(HashAlgorithm::Sha512, 32, 4096));
        // Salt lengths: 16 ×2, 32 ×2 → 32; counts: 4096 ×3 → 4096.
        let shapes = census.shapes();
        assert_eq!(
            shapes.get(HashAlgorithm::Sha512),
            Some(MockShape::new(32, 4096))
        );
        assert_eq!(shapes.differing(HashAlgorithm::Sha512), 3);
        census.remove(&b);
        census.remove(&a);
        census.remove(&a);
        assert_eq!(
            census.shapes().get(HashAlgorithm::Sha512),
            Some(MockShape::new(32, 4096))
        );
        assert_eq!(census.shapes().differing(HashAlgorithm::Sha512), 0);
    }
}
