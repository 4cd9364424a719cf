//! Differential check of the server's one-pass fast paths against the full parsers:
//! `ClientFirst::parse_simple` against `ClientFirst::parse`, and
//! `ClientFinal::parse_expected` against `ClientFinal::parse` plus the server's
//! channel-binding and nonce checks (through `internal::fast_paths`). A fast path may
//! decline anything; whatever it accepts, the full form must accept with the same fields.
//!
//! Input layout:
//!
//! ```text
//! [0] flags  bits 0-1 proof length: 32, 64, 20 (SHA-1, RFC 5802's example), 48
//!            bits 2-3 max_len: 4096, the message's length, its length - 1, usize::MAX
//!            bit 4    client-final parameters given explicitly (else read off the message)
//!            bit 5    flip the last bit of the expected c= input (gs2 header ‖ binding data)
//! [1] gs2 header length: explicit, or where the decoded c= splits into header and data
//! [2] binding data length (explicit only)
//! [3] nonce length (explicit only)
//! explicit: gs2 header, binding data, nonce, then the message (the rest)
//! derived:  the message (from [4])
//! ```
//!
//! Read off the message: c= is the text after `c=` up to the first comma, decoded
//! leniently (trailing bits and padding ignored; raw bytes if that fails); the nonce
//! is what stands between that `,r=` and the proof field at the end, where the fast path
//! looks for them. So a well-formed message with canonical base64 reaches the fast path's
//! success, and a non-canonical or misplaced one reaches its edges.
//!
//! Every message is also checked as a client-first-message.
#![no_main]

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use libfuzzer_sys::fuzz_target;
use mqtt_scram::internal::fast_paths::{client_final_agrees, client_first_agrees};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// The expected parameters read off `message` (see the layout above).
fn derived(message: &[u8], split: usize, proof_len: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let value = message.strip_prefix(b"c=").unwrap_or(b"");
    let value = &value[..value.iter().position(|&b| b == b',').unwrap_or(value.len())];
    let input = LENIENT.decode(value).unwrap_or_else(|_| value.to_vec());
    let split = split.min(input.len());
    let (gs2, binding) = input.split_at(split);
    let nonce_start = 2 + encoded_len(input.len()) + 3;
    let nonce_end = message
        .len()
        .saturating_sub(3 + encoded_len(proof_len))
        .max(nonce_start);
    let nonce = message.get(nonce_start..nonce_end).unwrap_or(b"");
    (gs2.to_vec(), binding.to_vec(), nonce.to_vec())
}

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, a, b, c], rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let proof_len = [32, 64, 20, 48][usize::from(flags & 3)];
    let (mut gs2, mut binding, nonce, message) = if flags & 0x10 != 0 {
        let (a, b, c) = (usize::from(a), usize::from(b), usize::from(c));
        if rest.len() < a + b + c {
            return;
        }
        let (gs2, rest) = rest.split_at(a);
        let (binding, rest) = rest.split_at(b);
        let (nonce, message) = rest.split_at(c);
        (gs2.to_vec(), binding.to_vec(), nonce.to_vec(), message)
    } else {
        let (gs2, binding, nonce) = derived(rest, usize::from(a), proof_len);
        (gs2, binding, nonce, rest)
    };
    let max_len = match (flags >> 2) & 3 {
        0 => 4096,
        1 => message.len(),
        2 => message.len().saturating_sub(1),
        _ => usize::MAX,
    };
    if flags & 0x20 != 0 {
        match (binding.last_mut(), gs2.last_mut()) {
            (Some(last), _) | (None, Some(last)) => *last ^= 1,
            (None, None) => {}
        }
    }

    assert!(
        client_first_agrees(message, max_len),
        "ClientFirst::parse_simple disagrees with parse on {:?} (max_len {max_len})",
        String::from_utf8_lossy(message)
    );
    assert!(
        client_final_agrees(message, &gs2, &binding, &nonce, proof_len, max_len),
        "ClientFinal::parse_expected disagrees with parse on {:?} (gs2 {:?}, binding {:?}, \
         nonce {:?}, proof_len {proof_len}, max_len {max_len})",
        String::from_utf8_lossy(message),
        String::from_utf8_lossy(&gs2),
        binding,
        String::from_utf8_lossy(&nonce),
    );
});
