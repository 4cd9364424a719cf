//! Differential checks of the server's one-pass fast paths against the full parsers,
//! for the `fast_paths` fuzz target.
//!
//! Each function runs both forms on the same input and answers whether they agree:
//! `true` when the fast form declines (`None`, the server then parses in full) or
//! returns exactly what the full form returns; `false` when the fast form accepts
//! something the full form refuses, or returns different fields. Never panics.

use core::ptr;

use crate::message::{ClientFinal, ClientFirst};

/// Whether [`ClientFirst`]'s one-pass form (`parse_simple`, which `ScramServer::start`
/// tries first) agrees with [`ClientFirst::parse`] on `data` with the limit `max_len`.
///
/// ```
/// use mqtt_scram::internal::fast_paths::client_first_agrees;
/// assert!(client_first_agrees(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", 4096));
/// assert!(client_first_agrees(b"n,,n=user,r=a b", 4096)); // both refuse it
/// ```
pub fn client_first_agrees(data: &[u8], max_len: usize) -> bool {
    let Some(fast) = ClientFirst::parse_simple(data, max_len) else {
        return true;
    };
    match ClientFirst::parse(data, max_len) {
        // Same fields, and each at the same place in `data` (`ptr::eq` on slices compares
        // address and length): the server turns them into spans of the received message.
        Ok(full) => {
            fast == full
                && ptr::eq(fast.gs2().as_str(), full.gs2().as_str())
                && ptr::eq(fast.bare(), full.bare())
                && ptr::eq(fast.username_wire(), full.username_wire())
                && ptr::eq(fast.nonce(), full.nonce())
        }
        Err(_) => false,
    }
}

/// Whether [`ClientFinal`]'s one-pass form (`parse_expected`, which the server's
/// `finish` tries first) agrees with what the server otherwise does:
/// [`ClientFinal::parse`] with `proof_len` and `max_len`, then `c=` must be
/// `gs2_header` ‖ `binding_data` and the nonce must be `nonce`. On agreement both give
/// the same client-final-message-without-proof (same bytes, same place) and proof.
///
/// ```
/// use mqtt_scram::internal::fast_paths::client_final_agrees;
/// let m = b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
/// let nonce = b"fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j";
/// assert!(client_final_agrees(m, b"n,,", b"", nonce, 20, 4096));
/// assert!(client_final_agrees(m, b"y,,", b"", nonce, 20, 4096)); // both refuse it
/// ```
pub fn client_final_agrees(
    data: &[u8],
    gs2_header: &[u8],
    binding_data: &[u8],
    nonce: &[u8],
    proof_len: usize,
    max_len: usize,
) -> bool {
    let fast =
        ClientFinal::parse_expected(data, gs2_header, binding_data, nonce, proof_len, max_len);
    let Some((without_proof, proof)) = fast else {
        return true;
    };
    match ClientFinal::parse(data, proof_len, max_len) {
        Ok(full) => {
            full.channel_binding_is(gs2_header, binding_data)
                && full.nonce().as_bytes() == nonce
                && ptr::eq(full.without_proof().as_bytes(), without_proof)
                && full.proof() == &proof
        }
        Err(_) => false,
    }
}
