//! The exchange's messages in one buffer ([`Transcript`]), and ranges of it ([`Span`]).
//!
//! `gs2-header ‖ client-first-message-bare`, and after `continue_with` also
//! `, ‖ server-first-message ‖ ,`: the bytes after the gs2 header are then the AuthMessage
//! up to the client-final-message-without-proof, so both signatures hash two slices.
//!
//! A typical transcript (RFC 7677 sizes: a 32-character client nonce, a 24-byte server
//! nonce, a 16-byte salt, a username of up to about 100 bytes) fits in the buffer's
//! inline part, so an exchange allocates nothing for it; longer ones move to the heap.

use alloc::vec::Vec;
use core::ops::Range;

use crate::message::{encode_into, encoded_len, push_base64};

/// Bytes kept inline. With a `u8` length every prefix of the array is in bounds.
const INLINE: usize = 255;

/// A range of the transcript in 8 bytes (messages are far below 4 GiB: MQTT packets
/// end at 256 MiB, and `start` rejects anything longer than `u32::MAX / 2`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    pub(super) fn new(start: usize, len: usize) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            start: clamp(start),
            len: clamp(len),
        }
    }

    pub(super) fn range(self) -> Range<usize> {
        let start = self.start as usize;
        start..start.saturating_add(self.len as usize)
    }

    pub(super) fn len(self) -> usize {
        self.len as usize
    }

    /// The span from the start of `self` to the end of `other`.
    pub(super) fn to(self, other: Span) -> Span {
        let end = other.range().end;
        Span::new(self.start as usize, end.saturating_sub(self.start as usize))
    }
}

/// An append-only byte buffer, inline while it fits. Every [`Span`] it hands out stays
/// valid: nothing is ever removed.
pub(super) struct Transcript {
    repr: Repr,
}

// The inline variant is the point: boxing it would be the allocation this type avoids.
#[allow(clippy::large_enum_variant)]
enum Repr {
    Inline { bytes: [u8; INLINE], len: u8 },
    Heap(Vec<u8>),
}

impl Transcript {
    /// A buffer for about `capacity` bytes (inline when they fit).
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let repr = if capacity <= INLINE {
            Repr::Inline {
                bytes: [0; INLINE],
                len: 0,
            }
        } else {
            Repr::Heap(Vec::with_capacity(capacity))
        };
        Self { repr }
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline { bytes, len } => bytes
                .split_at_checked(usize::from(*len))
                .map_or(bytes.as_slice(), |(used, _)| used),
            Repr::Heap(v) => v,
        }
    }

    pub(super) fn len(&self) -> usize {
        match &self.repr {
            Repr::Inline { len, .. } => usize::from(*len),
            Repr::Heap(v) => v.len(),
        }
    }

    /// The bytes of `span`; `None` only for a span this transcript did not hand out.
    pub(super) fn get(&self, span: Span) -> Option<&[u8]> {
        self.as_bytes().get(span.range())
    }

    /// Room for `additional` more bytes: moves to the heap (once, at the exact size)
    /// when the inline part cannot take them.
    pub(super) fn reserve(&mut self, additional: usize) {
        let needed = self.len().saturating_add(additional);
        match &mut self.repr {
            Repr::Inline { bytes, len } if needed > INLINE => {
                let mut heap = Vec::with_capacity(needed);
                heap.extend_from_slice(bytes.get(..usize::from(*len)).unwrap_or(bytes));
                self.repr = Repr::Heap(heap);
            }
            Repr::Inline { .. } => {}
            Repr::Heap(v) => v.reserve(additional),
        }
    }

    /// Appends `data`; returns where it went.
    pub(super) fn extend(&mut self, data: &[u8]) -> Span {
        self.reserve(data.len());
        let at = self.len();
        match &mut self.repr {
            Repr::Inline { bytes, len } => {
                // `reserve` made room: the range is in bounds and the new length fits in u8.
                if let (Some(dst), Ok(new_len)) = (
                    bytes.get_mut(at..at + data.len()),
                    u8::try_from(at + data.len()),
                ) {
                    dst.copy_from_slice(data);
                    *len = new_len;
                }
            }
            Repr::Heap(v) => v.extend_from_slice(data),
        }
        Span::new(at, self.len() - at)
    }

    /// Appends a copy of the bytes of `span` (earlier in the transcript).
    pub(super) fn extend_from_within(&mut self, span: Span) -> Span {
        let range = span.range();
        if range.end > self.len() {
            return Span::new(self.len(), 0);
        }
        self.reserve(range.len());
        let at = self.len();
        match &mut self.repr {
            Repr::Inline { bytes, len } => {
                let end = at + range.len();
                if let Ok(new_len) = u8::try_from(end) {
                    if end <= INLINE {
                        bytes.copy_within(range, at);
                        *len = new_len;
                    }
                }
            }
            Repr::Heap(v) => v.extend_from_within(range),
        }
        Span::new(at, self.len() - at)
    }

    /// Appends the padded base64 of `data`.
    pub(super) fn extend_base64(&mut self, data: &[u8]) -> Span {
        let n = encoded_len(data.len());
        self.reserve(n);
        let at = self.len();
        match &mut self.repr {
            Repr::Inline { bytes, len } => {
                // `reserve` made room, so the tail holds the whole encoding.
                let written = bytes
                    .get_mut(at..)
                    .map_or(0, |tail| encode_into(data, tail));
                *len = u8::try_from(at + written).unwrap_or(*len);
            }
            Repr::Heap(v) => push_base64(v, data),
        }
        Span::new(at, self.len() - at)
    }

    /// Appends `n` in decimal.
    pub(super) fn extend_decimal(&mut self, mut n: u32) -> Span {
        let mut digits = [0u8; 10];
        let mut first = digits.len();
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
            first -= 1;
            if n == 0 {
                break;
            }
        }
        let (_, used) = digits.split_at(first.min(digits.len() - 1));
        self.extend(used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_then_heap() {
        let mut t = Transcript::with_capacity(10);
        let a = t.extend(b"n,,n=user,r=abc");
        assert!(matches!(t.repr, Repr::Inline { .. }));
        let b = t.extend_from_within(Span::new(9, 6));
        assert_eq!(t.get(b), Some(&b",r=abc"[..]));
        let c = t.extend_base64(b"\x00\x01\x02\x03");
        assert_eq!(t.get(c), Some(&b"AAECAw=="[..]));
        let d = t.extend_decimal(4096);
        assert_eq!(t.get(d), Some(&b"4096"[..]));
        assert_eq!(t.get(Span::new(0, 0).to(d)).map(<[u8]>::len), Some(t.len()));
        let before = t.as_bytes().to_vec();
        let long = [b'x'; 300];
        let e = t.extend(&long);
        assert!(matches!(t.repr, Repr::Heap(_)));
        assert_eq!(t.get(e), Some(&long[..]));
        assert_eq!(&t.as_bytes()[..before.len()], &before[..]);
        assert_eq!(t.get(a), Some(&b"n,,n=user,r=abc"[..]));
        let f = t.extend_base64(&[0xff; 3]);
        assert_eq!(t.get(f), Some(&b"////"[..]));
        assert_eq!(t.extend_decimal(0).len(), 1);
        let max = t.extend_decimal(u32::MAX);
        assert_eq!(t.get(max), Some(&b"4294967295"[..]));
    }

    #[test]
    fn spill_in_the_middle_of_base64_and_within() {
        let mut t = Transcript::with_capacity(0);
        t.extend(&[b'a'; 250]);
        let s = t.extend_base64(b"abcdef");
        assert_eq!(t.get(s), Some(&b"YWJjZGVm"[..]));
        let mut t = Transcript::with_capacity(0);
        let head = t.extend(&[b'b'; 200]);
        let copy = t.extend_from_within(head);
        assert_eq!(t.get(copy), Some(&[b'b'; 200][..]));
        assert_eq!(t.extend_from_within(Span::new(10_000, 5)).len(), 0);
    }
}
