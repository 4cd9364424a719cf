//! Test and fuzzing seams. Not part of the stable API; do not use in production.
//!
//! Fixed nonces make transcripts reproducible; with them, an exchange is only as
//! secure as the nonce you choose. The fixed-nonce functions exist only with the
//! non-default feature `dangerous-fixed-nonces`.

#[doc(hidden)]
pub mod fast_paths;

#[cfg(feature = "dangerous-fixed-nonces")]
#[cfg_attr(docsrs, doc(cfg(feature = "dangerous-fixed-nonces")))]
pub use fixed_nonces::{
    client_reauthenticate_with_nonce, client_start_with_nonce, continue_with_nonce,
};

/// Exchanges with a caller-chosen nonce (feature `dangerous-fixed-nonces`).
#[cfg(feature = "dangerous-fixed-nonces")]
mod fixed_nonces {
    use alloc::vec::Vec;

    use crate::client::{Authenticated, AwaitingServerFirst, ClientConfig, ClientOptions};
    use crate::error::Error;
    use crate::mechanism::Mechanism;
    use crate::mqtt::Reply;
    use crate::provider::Lookup;
    use crate::server::{NeedCredentials, ServerChallenge};

    /// [`NeedCredentials::continue_with`] with a fixed server nonce part instead of random bytes.
    /// **Dangerous** (feature `dangerous-fixed-nonces`): for test vectors, benches and fuzzing.
    pub fn continue_with_nonce(
        pending: NeedCredentials,
        lookup: Lookup,
        server_nonce: &str,
    ) -> (ServerChallenge, Reply) {
        pending.continue_with_nonce(lookup, server_nonce)
    }

    /// [`crate::client::start_with`] with a fixed client nonce.
    /// **Dangerous** (feature `dangerous-fixed-nonces`): for test vectors, benches and fuzzing.
    pub fn client_start_with_nonce(
        config: &ClientConfig,
        mechanism: Mechanism,
        username: &str,
        password: &str,
        options: ClientOptions<'_>,
        nonce: &str,
    ) -> Result<(AwaitingServerFirst, Vec<u8>), Error> {
        crate::client::start_with_nonce(config, mechanism, username, password, options, nonce)
    }

    /// [`Authenticated::reauthenticate`] with a fixed client nonce.
    /// **Dangerous** (feature `dangerous-fixed-nonces`): for test vectors, benches and fuzzing.
    pub fn client_reauthenticate_with_nonce(
        state: Authenticated,
        nonce: &str,
    ) -> (AwaitingServerFirst, Vec<u8>) {
        state.reauthenticate_with_nonce(nonce)
    }
}

/// The block-level SHA-2 primitives, for benches and property tests.
pub mod crypto {
    pub use crate::crypto::{
        HmacKey, Key, MAX_OUTPUT_LEN, client_key, ct_eq, h, hi, hmac, hmac_pair, mac_pair,
        server_key, stored_key, xor,
    };
}

/// The engine's strict base64 (RFC 5802 §7: standard alphabet, canonical padding; over the
/// `base64` crate), as the server uses it, for `benches/base64.rs`.
#[doc(hidden)]
pub mod base64 {
    use crate::crypto::Key;
    use crate::message::MessageKind;
    use crate::message::base64 as ours;

    /// Characters of the padded encoding of `len` bytes.
    pub const fn encoded_len(len: usize) -> usize {
        ours::encoded_len(len)
    }

    /// Encodes `data` into the start of `out` (sized with [`encoded_len`]); returns the
    /// characters written.
    pub fn encode_into(data: &[u8], out: &mut [u8]) -> usize {
        ours::encode_into(data, out)
    }

    /// Whether `encoded` is the padded base64 of `a ‖ b` (how the server checks `c=`).
    pub fn matches(encoded: &[u8], a: &[u8], b: &[u8]) -> bool {
        ours::base64_matches(encoded, a, b)
    }

    /// Strictly decodes a proof that must be `len` bytes (how the server reads `p=`).
    pub fn decode_key(text: &[u8], len: usize) -> Option<Key> {
        ours::decode_key(text, 'p', len, MessageKind::ClientFinal).ok()
    }
}
