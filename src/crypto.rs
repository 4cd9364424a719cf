//! SCRAM's cryptographic functions (RFC 5802 §2.2, §3): `H`, `HMAC`, `Hi` and the key schedule.
//!
//! Every key, proof and signature is a [`Key`]: a fixed-capacity buffer that is
//! zeroized on drop, compared in constant time and never printed by `Debug`.

use core::fmt;
use core::num::NonZeroU32;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::mechanism::HashAlgorithm;

mod engine;

/// Largest hash output this crate handles (SHA-512).
pub const MAX_OUTPUT_LEN: usize = 64;

/// Secret key material of one hash output: SaltedPassword, ClientKey, StoredKey,
/// ServerKey, a proof or a signature.
///
/// Never empty (1 to [`MAX_OUTPUT_LEN`] bytes): an empty key cannot be built, so two keys
/// can never compare equal by both being empty. Zeroized on drop; `Debug` prints only the
/// length; `==` is constant time.
///
/// ```
/// use mqtt_scram::credentials::Key;
/// let key = Key::from_slice(&[7; 32]).expect("1 to 64 bytes");
/// assert_eq!(key.len(), 32);
/// assert_eq!(format!("{key:?}"), "Key(<redacted 32 bytes>)");
/// assert!(Key::from_slice(&[]).is_none());
/// ```
#[derive(Clone)]
pub struct Key {
    /// Bytes past `len` are always zero (every constructor writes them so), which lets
    /// `Drop` wipe only the used prefix: volatile writes go one byte at a time, and a
    /// SHA-256 exchange drops about ten keys.
    bytes: [u8; MAX_OUTPUT_LEN],
    /// 1..=MAX_OUTPUT_LEN.
    len: u8,
}

impl Drop for Key {
    fn drop(&mut self) {
        // `len` is at most the array's size, so the prefix always exists.
        let used = usize::from(self.len).min(MAX_OUTPUT_LEN);
        if let Some(used) = self.bytes.get_mut(..used) {
            used.zeroize();
        }
    }
}

impl ZeroizeOnDrop for Key {}

impl Key {
    /// Copies `bytes` into a key; `None` when empty or longer than [`MAX_OUTPUT_LEN`].
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let len = u8::try_from(bytes.len()).ok().filter(|&n| n > 0)?;
        let mut key = Key {
            bytes: [0; MAX_OUTPUT_LEN],
            len,
        };
        key.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(key)
    }

    /// The key bytes (never empty).
    pub fn as_bytes(&self) -> &[u8] {
        // `len` never exceeds the array (every constructor checks it); were it to, the
        // whole array would be used, never an empty key.
        self.bytes
            .split_at_checked(usize::from(self.len))
            .map_or(self.bytes.as_slice(), |(used, _)| used)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always `false`: a key has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Constant-time comparison with raw bytes (length is not secret); an empty slice
    /// never matches.
    pub fn ct_eq_bytes(&self, other: &[u8]) -> bool {
        ct_eq(self.as_bytes(), other)
    }

    /// A key of `len` bytes (1..=[`MAX_OUTPUT_LEN`]) that `fill` writes into a zeroed
    /// buffer of [`MAX_OUTPUT_LEN`] bytes, writing nothing past `len`; `fill` answers
    /// whether it produced exactly `len` bytes. `Ok(None)` when it did not (the buffer is
    /// wiped whole then).
    pub(crate) fn fill<E>(
        len: usize,
        fill: impl FnOnce(&mut [u8; MAX_OUTPUT_LEN]) -> Result<bool, E>,
    ) -> Result<Option<Self>, E> {
        let mut key = Key {
            bytes: [0; MAX_OUTPUT_LEN],
            // Until the key is complete, dropping it wipes the whole buffer.
            len: MAX_OUTPUT_LEN as u8,
        };
        let ok = fill(&mut key.bytes)?;
        match u8::try_from(len) {
            Ok(n) if ok && n > 0 && len <= MAX_OUTPUT_LEN => {
                key.len = n;
                Ok(Some(key))
            }
            _ => Ok(None),
        }
    }

    /// A key of `hash`'s output length whose bytes are all zero (the mock user's keys).
    pub(crate) fn zero(hash: HashAlgorithm) -> Self {
        Key {
            bytes: [0; MAX_OUTPUT_LEN],
            len: hash.output_len() as u8,
        }
    }

    fn from_output<const N: usize>(mut output: [u8; N]) -> Self {
        let mut key = Key {
            bytes: [0; MAX_OUTPUT_LEN],
            len: N as u8,
        };
        for (dst, src) in key.bytes.iter_mut().zip(output.iter()) {
            *dst = *src;
        }
        output.as_mut_slice().zeroize();
        key
    }

    fn from_state256(state: &engine::sha256::State) -> Self {
        let mut key = Key {
            bytes: [0; MAX_OUTPUT_LEN],
            len: engine::sha256::OUT as u8,
        };
        engine::sha256::store(state, &mut key.bytes);
        key
    }

    fn from_state512(state: &engine::sha512::State) -> Self {
        let mut key = Key {
            bytes: [0; MAX_OUTPUT_LEN],
            len: engine::sha512::OUT as u8,
        };
        engine::sha512::store(state, &mut key.bytes);
        key
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
/// (lengths are public in SCRAM, so leaking them is fine), and so are two empty strings:
/// nothing this crate compares may be empty, so an empty input is a bug that must fail.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    // OR of the XORs, eight bytes at a time, with no data-dependent branch; `subtle`
    // judges the final word (its slice `ct_eq` puts an optimisation barrier on every
    // byte, which costs more than the rest of a proof check).
    let mut diff = 0u64;
    let (mut xs, mut ys) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut xs).zip(&mut ys) {
        let mut wx = [0u8; 8];
        let mut wy = [0u8; 8];
        wx.copy_from_slice(x);
        wy.copy_from_slice(y);
        diff |= u64::from_ne_bytes(wx) ^ u64::from_ne_bytes(wy);
    }
    for (x, y) in xs.remainder().iter().zip(ys.remainder()) {
        diff |= u64::from(x ^ y);
    }
    bool::from(diff.ct_eq(&0))
}

/// `H(data)`.
pub fn h(hash: HashAlgorithm, data: &[u8]) -> Key {
    match hash {
        HashAlgorithm::Sha256 => Key::from_state256(&engine::sha256::digest(&[data])),
        HashAlgorithm::Sha512 => Key::from_state512(&engine::sha512::digest(&[data])),
    }
}

/// `HMAC(key, parts[0] || parts[1] || ...)`, without concatenating the parts.
///
/// To MAC several messages with one key, build an [`HmacKey`] once instead: it saves
/// the two compressions of the key setup per call.
pub fn hmac(hash: HashAlgorithm, key: &[u8], parts: &[&[u8]]) -> Key {
    // The engine's states directly: an `HmacKey` would box SHA-512's.
    match hash {
        HashAlgorithm::Sha256 => Key::from_state256(&engine::sha256::Pads::new(key).mac(parts)),
        HashAlgorithm::Sha512 => Key::from_state512(&engine::sha512::Pads::new(key).mac(parts)),
    }
}

/// `(HMAC(key_a, m), HMAC(key_b, m))` for one message `m = parts[0] || parts[1] || ...`,
/// computed together: the two computations' compressions are interleaved, and as they
/// do not depend on each other the CPU overlaps them (with SHA-NI about 25 ns per block
/// each instead of 40). A SCRAM server uses it for ClientSignature and ServerSignature.
pub fn hmac_pair(hash: HashAlgorithm, key_a: &[u8], key_b: &[u8], parts: &[&[u8]]) -> (Key, Key) {
    match hash {
        HashAlgorithm::Sha256 => {
            use engine::sha256::Pads;
            let [a, b] = Pads::new_many([key_a, key_b]);
            let [a, b] = Pads::macs([&a, &b], parts);
            (Key::from_state256(&a), Key::from_state256(&b))
        }
        HashAlgorithm::Sha512 => {
            use engine::sha512::Pads;
            let [a, b] = Pads::new_many([key_a, key_b]);
            let [a, b] = Pads::macs([&a, &b], parts);
            (Key::from_state512(&a), Key::from_state512(&b))
        }
    }
}

/// `(HMAC(a, m), HMAC(b, m))` for one message `m = parts[0] || parts[1] || ...` and two
/// precomputed keys, their compressions interleaved as in [`hmac_pair`]: with both keys'
/// states known, a SCRAM server's two signatures over an AuthMessage of 119 to 182 bytes
/// cost four compressions each. Keys of different hashes are MACed one after the other.
pub fn mac_pair(a: &HmacKey, b: &HmacKey, parts: &[&[u8]]) -> (Key, Key) {
    match (&a.pads, &b.pads) {
        (Pads::Sha256(a), Pads::Sha256(b)) => {
            let [a, b] = engine::sha256::Pads::macs([a, b], parts);
            (Key::from_state256(&a), Key::from_state256(&b))
        }
        (Pads::Sha512(a), Pads::Sha512(b)) => {
            let [a, b] = engine::sha512::Pads::macs([&**a, &**b], parts);
            (Key::from_state512(&a), Key::from_state512(&b))
        }
        _ => (a.mac(parts), b.mac(parts)),
    }
}

/// A hash output that is public (a signature the server sends, a mock salt): copied
/// freely and not wiped.
#[derive(Clone, Copy)]
pub(crate) struct PublicDigest {
    bytes: [u8; MAX_OUTPUT_LEN],
    len: u8,
}

impl PublicDigest {
    fn new<const N: usize>(output: [u8; N]) -> Self {
        let mut bytes = [0u8; MAX_OUTPUT_LEN];
        for (dst, src) in bytes.iter_mut().zip(output) {
            *dst = src;
        }
        Self {
            bytes,
            len: N as u8,
        }
    }

    /// The digest bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes
            .split_at_checked(usize::from(self.len))
            .map_or(self.bytes.as_slice(), |(used, _)| used)
    }
}

/// The server's whole proof check (RFC 5802 §3) from the record's precomputed key
/// states: whether `H(proof ⊕ HMAC(StoredKey, m))` is `stored_key`, in constant time,
/// and `ServerSignature = HMAC(ServerKey, m)` for `m = parts[0] ‖ parts[1] ‖ …`. The two
/// HMACs' compressions are interleaved; the secret intermediates are wiped. Keys of
/// different hashes (which the server never pairs) verify nothing.
pub(crate) fn verify_proof(
    stored: &HmacKey,
    server: &HmacKey,
    stored_key: &Key,
    proof: &Key,
    parts: &[&[u8]],
) -> (bool, PublicDigest) {
    match (&stored.pads, &server.pads) {
        (Pads::Sha256(a), Pads::Sha256(b)) => {
            let (ok, signature) = engine::sha256::Pads::verify_proof(
                a,
                b,
                stored_key.as_bytes(),
                proof.as_bytes(),
                parts,
            );
            (ok, PublicDigest::new(signature))
        }
        (Pads::Sha512(a), Pads::Sha512(b)) => {
            let (ok, signature) = engine::sha512::Pads::verify_proof(
                a,
                b,
                stored_key.as_bytes(),
                proof.as_bytes(),
                parts,
            );
            (ok, PublicDigest::new(signature))
        }
        _ => (false, PublicDigest::new([0u8; 0])),
    }
}

/// The key of the unknown users' salts: a secret-prefix pseudo-random function on
/// SHA-256, `SHA-256(key ‖ tag ‖ 0… ‖ message)` with the first block (the 32-byte key
/// and a domain tag, padded to 64 bytes) compressed once here. A salt then costs one
/// compression for a message of up to 55 bytes, whatever the mechanism's hash. Only its
/// first [`MOCK_SALT_LEN`] bytes are used: truncated, the output cannot be extended, and
/// a username cannot contain the NUL bytes of SHA-256 padding anyway.
///
/// The state is zeroized on drop; `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct SaltKey {
    state: engine::sha256::State,
}

/// Bytes of a mock salt.
pub(crate) const MOCK_SALT_LEN: usize = 16;

impl SaltKey {
    /// Compresses `key ‖ "mqtt-scram mock salt\0" ‖ 0…` (one block).
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        const TAG: &[u8] = b"mqtt-scram mock salt\0";
        let mut block = [0u8; engine::sha256::BLOCK];
        for (dst, src) in block.iter_mut().zip(key.iter().chain(TAG)) {
            *dst = *src;
        }
        let mut state = engine::sha256::IV;
        engine::sha256::compress(&mut state, &block);
        block.as_mut_slice().zeroize();
        Self { state }
    }

    /// The salt of `message = parts[0] ‖ parts[1] ‖ …`.
    pub(crate) fn salt(&self, parts: &[&[u8]]) -> [u8; MOCK_SALT_LEN] {
        use engine::sha256::{BLOCK, OUT};
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut state = self.state;
        if total + 9 <= BLOCK {
            // The usual case (a username of up to 47 bytes): one block, built in place.
            let mut block = [0u8; BLOCK];
            let mut bytes = block.iter_mut();
            // The message first: when it runs out, `zip` takes no byte from `bytes`.
            for (src, dst) in parts.iter().flat_map(|p| p.iter()).zip(&mut bytes) {
                *dst = *src;
            }
            if let Some(marker) = bytes.next() {
                *marker = 0x80;
            }
            let bits = ((BLOCK + total) as u64 * 8).to_be_bytes();
            for (dst, src) in block.iter_mut().rev().zip(bits.iter().rev()) {
                *dst = *src;
            }
            engine::sha256::compress(&mut state, &block);
        } else {
            let mut s = engine::sha256::Stream::resume([state], BLOCK as u64);
            for part in parts {
                s.update(part);
            }
            [state] = s.finish();
        }
        let mut digest = [0u8; OUT];
        engine::sha256::store(&state, &mut digest);
        state.as_mut_slice().zeroize();
        let mut salt = [0u8; MOCK_SALT_LEN];
        for (dst, src) in salt.iter_mut().zip(digest) {
            *dst = src;
        }
        salt
    }
}

impl Drop for SaltKey {
    fn drop(&mut self) {
        self.state.as_mut_slice().zeroize();
    }
}

impl fmt::Debug for SaltKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SaltKey(<redacted>)")
    }
}

/// An HMAC key reduced to its keyed inner and outer hash states (RFC 2104), so each
/// MAC skips the key setup: an HMAC of a message shorter than a block minus 9 (SHA-256)
/// or 17 (SHA-512) bytes then costs exactly two compressions.
///
/// Zeroized on drop; `Debug` prints only the hash.
///
/// A SHA-256 key's states are held inline (72 bytes); a SHA-512 key's 128 bytes of states
/// are boxed, so that every stored SHA-256 record does not carry SHA-512's size.
#[derive(Clone)]
pub struct HmacKey {
    pads: Pads,
}

#[derive(Clone)]
enum Pads {
    Sha256(engine::sha256::Pads),
    Sha512(alloc::boxed::Box<engine::sha512::Pads>),
}

impl HmacKey {
    /// Precomputes the keyed states for `key` (any length).
    pub fn new(hash: HashAlgorithm, key: &[u8]) -> Self {
        let pads = match hash {
            HashAlgorithm::Sha256 => Pads::Sha256(engine::sha256::Pads::new(key)),
            HashAlgorithm::Sha512 => {
                Pads::Sha512(alloc::boxed::Box::new(engine::sha512::Pads::new(key)))
            }
        };
        Self { pads }
    }

    /// The hash this key is for.
    pub fn hash(&self) -> HashAlgorithm {
        match self.pads {
            Pads::Sha256(_) => HashAlgorithm::Sha256,
            Pads::Sha512(_) => HashAlgorithm::Sha512,
        }
    }

    /// `HMAC(key, parts[0] || parts[1] || ...)`, without concatenating the parts.
    pub fn mac(&self, parts: &[&[u8]]) -> Key {
        match &self.pads {
            Pads::Sha256(p) => Key::from_state256(&p.mac(parts)),
            Pads::Sha512(p) => Key::from_state512(&p.mac(parts)),
        }
    }

    /// PBKDF2 with this key as the password, first output block: `Hi(key, salt, i)`.
    /// `iterations` is a [`NonZeroU32`]: a count of 0 is refused where it is read.
    pub fn hi(&self, salt: &[u8], iterations: NonZeroU32) -> Key {
        match &self.pads {
            Pads::Sha256(p) => Key::from_output(p.pbkdf2(salt, iterations)),
            Pads::Sha512(p) => Key::from_output(p.pbkdf2(salt, iterations)),
        }
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HmacKey({}, <redacted>)", self.hash())
    }
}

/// `Hi(password, salt, i)` = PBKDF2-HMAC with one output block (RFC 5802 §2.2).
///
/// Each iteration after the first costs exactly two compressions.
pub fn hi(hash: HashAlgorithm, password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Key {
    match hash {
        HashAlgorithm::Sha256 => {
            Key::from_output(engine::sha256::Pads::new(password).pbkdf2(salt, iterations))
        }
        HashAlgorithm::Sha512 => {
            Key::from_output(engine::sha512::Pads::new(password).pbkdf2(salt, iterations))
        }
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
/// The result has the length of the shorter input (never empty: neither input is).
pub fn xor(a: &Key, b: &Key) -> Key {
    let mut out = Key {
        bytes: [0; MAX_OUTPUT_LEN],
        len: a.len.min(b.len),
    };
    // Bytes past each key's length are zero, so past the shorter one the XOR is the
    // longer key's tail: cut it off to keep the zero-padding invariant.
    for ((o, x), y) in out.bytes.iter_mut().zip(a.bytes.iter()).zip(b.bytes.iter()) {
        *o = x ^ y;
    }
    for o in out.bytes.iter_mut().skip(usize::from(out.len)) {
        *o = 0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use sha2::Digest as _;

    /// The one-block fast path and the streaming path both compute
    /// `SHA-256(key ‖ tag ‖ 0… ‖ message)`, split into parts any way.
    #[test]
    fn mock_salt_is_the_keyed_sha256() {
        let key = [0x42u8; 32];
        let salt_key = SaltKey::new(&key);
        let mut first = [0u8; 64];
        first[..32].copy_from_slice(&key);
        first[32..32 + 21].copy_from_slice(b"mqtt-scram mock salt\0");
        let message: Vec<u8> = (0..200u8).collect();
        for len in 0..message.len() {
            let m = &message[..len];
            let expected = sha2::Sha256::new()
                .chain_update(first)
                .chain_update(m)
                .finalize();
            let (a, b) = m.split_at(len / 3);
            assert_eq!(salt_key.salt(&[m])[..], expected[..MOCK_SALT_LEN], "{len}");
            assert_eq!(
                salt_key.salt(&[a, b])[..],
                expected[..MOCK_SALT_LEN],
                "{len}"
            );
        }
    }

    #[test]
    fn verify_proof_accepts_only_the_right_proof() {
        for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            let salted = h(hash, b"salted password");
            let client = client_key(hash, &salted);
            let stored = stored_key(hash, &client);
            let server = server_key(hash, &salted);
            let (stored_mac, server_mac) = (
                HmacKey::new(hash, stored.as_bytes()),
                HmacKey::new(hash, server.as_bytes()),
            );
            let message: [&[u8]; 2] = [
                b"n=user,r=abc,r=abcdef,s=c2FsdA==,i=4096,",
                b"c=biws,r=abcdef",
            ];
            let signature = hmac(hash, stored.as_bytes(), &message);
            let proof = xor(&client, &signature);
            let (ok, server_signature) =
                verify_proof(&stored_mac, &server_mac, &stored, &proof, &message);
            assert!(ok);
            assert_eq!(
                server_signature.as_bytes(),
                hmac(hash, server.as_bytes(), &message).as_bytes()
            );
            let mut wrong = proof.as_bytes().to_vec();
            wrong[0] ^= 1;
            let wrong = Key::from_slice(&wrong).unwrap();
            assert!(!verify_proof(&stored_mac, &server_mac, &stored, &wrong, &message).0);
            let short = Key::from_slice(&proof.as_bytes()[1..]).unwrap();
            assert!(!verify_proof(&stored_mac, &server_mac, &stored, &short, &message).0);
            let other = match hash {
                HashAlgorithm::Sha256 => HashAlgorithm::Sha512,
                HashAlgorithm::Sha512 => HashAlgorithm::Sha256,
            };
            let mismatched = HmacKey::new(other, server.as_bytes());
            assert!(!verify_proof(&stored_mac, &mismatched, &stored, &proof, &message).0);
        }
    }
}
