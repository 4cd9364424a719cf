//! SCRAM's cryptographic functions (RFC 5802 §2.2, §3): `H`, `HMAC`, `Hi` and the key schedule.
//!
//! Every key, proof and signature is a [`Key`]: a fixed-capacity buffer that is
//! zeroized on drop, compared in constant time and never printed by `Debug`.

use core::fmt;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::mechanism::HashAlgorithm;

/// Largest hash output this crate handles (SHA-512).
pub const MAX_OUTPUT_LEN: usize = 64;

/// Secret key material of one hash output: SaltedPassword, ClientKey, StoredKey,
/// ServerKey, a proof or a signature.
///
/// Zeroized on drop; `Debug` prints only the length; `==` is constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key {
    bytes: [u8; MAX_OUTPUT_LEN],
    len: u8,
}

impl Key {
    /// Copies `bytes` into a key; `None` when longer than [`MAX_OUTPUT_LEN`].
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut key = Key { bytes: [0; MAX_OUTPUT_LEN], len: 0 };
        key.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        key.len = u8::try_from(bytes.len()).ok()?;
        Some(key)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the key is empty (never true for a key this crate derives).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Constant-time comparison with raw bytes (length is not secret).
    pub fn ct_eq_bytes(&self, other: &[u8]) -> bool {
        ct_eq(self.as_bytes(), other)
    }

    fn from_array(bytes: &[u8]) -> Self {
        // Hash outputs are at most MAX_OUTPUT_LEN long, so this never falls back.
        Self::from_slice(bytes).unwrap_or(Key { bytes: [0; MAX_OUTPUT_LEN], len: 0 })
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.as_bytes(), other.as_bytes())
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(<redacted {} bytes>)", self.len)
    }
}

/// Constant-time equality of two byte strings; different lengths are unequal
/// (lengths are public in SCRAM, so leaking them is fine).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `H(data)`.
pub fn h(hash: HashAlgorithm, data: &[u8]) -> Key {
    match hash {
        HashAlgorithm::Sha256 => Key::from_array(&Sha256::digest(data)),
        HashAlgorithm::Sha512 => Key::from_array(&Sha512::digest(data)),
    }
}

/// `HMAC(key, parts[0] || parts[1] || ...)`, without concatenating the parts.
pub fn hmac(hash: HashAlgorithm, key: &[u8], parts: &[&[u8]]) -> Key {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Key {
        let mut mac = <M as KeyInit>::new_from_slice(key).unwrap_or_else(|_| {
            // HMAC accepts keys of any length; this branch is unreachable.
            <M as KeyInit>::new(&Default::default())
        });
        for part in parts {
            mac.update(part);
        }
        Key::from_array(&mac.finalize().into_bytes())
    }
    match hash {
        HashAlgorithm::Sha256 => run::<hmac::Hmac<Sha256>>(key, parts),
        HashAlgorithm::Sha512 => run::<hmac::Hmac<Sha512>>(key, parts),
    }
}

/// `Hi(password, salt, i)` = PBKDF2-HMAC with one output block (RFC 5802 §2.2).
///
/// `iterations` of 0 is treated as 1; callers validate counts before calling.
pub fn hi(hash: HashAlgorithm, password: &[u8], salt: &[u8], iterations: u32) -> Key {
    fn run<M: Mac + KeyInit + Clone>(password: &[u8], salt: &[u8], iterations: u32) -> Key {
        let keyed = <M as KeyInit>::new_from_slice(password)
            .unwrap_or_else(|_| <M as KeyInit>::new(&Default::default()));
        let mut mac = keyed.clone();
        mac.update(salt);
        mac.update(&1u32.to_be_bytes());
        let mut u = mac.finalize().into_bytes();
        let mut acc = u.clone();
        for _ in 1..iterations {
            let mut mac = keyed.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes();
            for (a, b) in acc.iter_mut().zip(u.iter()) {
                *a ^= b;
            }
        }
        let key = Key::from_array(&acc);
        acc.zeroize();
        u.zeroize();
        key
    }
    match hash {
        HashAlgorithm::Sha256 => run::<hmac::Hmac<Sha256>>(password, salt, iterations),
        HashAlgorithm::Sha512 => run::<hmac::Hmac<Sha512>>(password, salt, iterations),
    }
}

/// `ClientKey := HMAC(SaltedPassword, "Client Key")`.
pub fn client_key(hash: HashAlgorithm, salted_password: &Key) -> Key {
    hmac(hash, salted_password.as_bytes(), &[b"Client Key"])
}

/// `ServerKey := HMAC(SaltedPassword, "Server Key")`.
pub fn server_key(hash: HashAlgorithm, salted_password: &Key) -> Key {
    hmac(hash, salted_password.as_bytes(), &[b"Server Key"])
}

/// `StoredKey := H(ClientKey)`.
pub fn stored_key(hash: HashAlgorithm, client_key: &Key) -> Key {
    h(hash, client_key.as_bytes())
}

/// Byte-wise XOR of two keys of the same length (a proof is `ClientKey XOR ClientSignature`).
/// The result has the length of the shorter input.
pub fn xor(a: &Key, b: &Key) -> Key {
    let mut out = Key { bytes: [0; MAX_OUTPUT_LEN], len: a.len.min(b.len) };
    for ((o, x), y) in out.bytes.iter_mut().zip(a.bytes.iter()).zip(b.bytes.iter()) {
        *o = x ^ y;
    }
    for o in out.bytes.iter_mut().skip(usize::from(out.len)) {
        *o = 0;
    }
    out
}
