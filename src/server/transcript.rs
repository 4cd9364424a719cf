//! The exchange's messages in one buffer ([`Transcript`]), and ranges of it ([`Span`]).
//!
//! `gs2-header ‖ client-first-message-bare`, and after `continue_with` also
//! `, ‖ server-first-message ‖ ,`: the bytes after the gs2 header are then the AuthMessage
//! up to the client-final-message-without-proof, so both signatures hash two slices.
//!
//! A typical transcript (RFC 7677 sizes: a 32-character client nonce, a 24-byte server
//! nonce, a 16-byte salt, a username of up to about 90 bytes) fits in the buffer's
//! inline part, so an exchange allocates nothing for it; longer ones move to the heap.

use alloc::vec::Vec;
use core::ops::Range;

/// Bytes kept inline: with the enum's tag and the `u8` length, 248 bytes in all (every
/// waiting handshake holds them). Enough for a 32-character client nonce, the default
/// server nonce and salt, and a username of up to ~95 bytes (~80 with `p=tls-exporter`).
const INLINE: usize = 246;

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
    /// A transcript that starts with `message`, with room for `more` bytes after it
    /// (inline when both fit).
    #[inline(always)]
    pub(super) fn starting_with(message: &[u8], more: usize) -> Self {
        let total = message.len().saturating_add(more);
        let repr = match u8::try_from(message.len()) {
            Ok(len) if total <= INLINE => {
                let mut bytes = [0; INLINE];
                if let Some(dst) = bytes.get_mut(..message.len()) {
                    dst.copy_from_slice(message);
                }
                Repr::Inline { bytes, len }
            }
            _ => {
                let mut heap = Vec::with_capacity(total);
                heap.extend_from_slice(message);
                Repr::Heap(heap)
            }
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

    /// Appends `n` bytes that `write` fills in one pass: it gets the transcript so far
    /// and the `n` new bytes (zeroed). Moves to the heap (once, at the exact size) when
    /// the inline part cannot take them. Returns where the new bytes are.
    pub(super) fn append_with(&mut self, n: usize, write: impl FnOnce(&[u8], &mut [u8])) -> Span {
        let at = self.len();
        let end = at.saturating_add(n);
        if let Repr::Inline { bytes, len } = &self.repr {
            if end > INLINE {
                let mut heap = Vec::with_capacity(end);
                heap.extend_from_slice(bytes.get(..usize::from(*len)).unwrap_or(bytes));
                self.repr = Repr::Heap(heap);
            }
        }
        let parts = match &mut self.repr {
            Repr::Inline { bytes, len } => {
                // `end` fits: checked above.
                *len = u8::try_from(end).unwrap_or(u8::MAX);
                bytes.split_at_mut_checked(at)
            }
            Repr::Heap(v) => {
                v.resize(end, 0);
                v.split_at_mut_checked(at)
            }
        };
        if let Some((head, tail)) = parts {
            if let Some(new) = tail.get_mut(..n) {
                write(head, new);
            }
        }
        Span::new(at, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(t: &mut Transcript, data: &[u8]) -> Span {
        t.append_with(data.len(), |_, new| new.copy_from_slice(data))
    }

    #[test]
    fn inline_then_heap() {
        let mut t = Transcript::starting_with(b"n,,n=user,r=abc", 10);
        assert!(matches!(t.repr, Repr::Inline { .. }));
        let a = Span::new(0, 15);
        let b = t.append_with(6, |head, new| new.copy_from_slice(&head[9..15]));
        assert_eq!(t.get(b), Some(&b",r=abc"[..]));
        let d = append(&mut t, b"4096");
        assert_eq!(t.get(d), Some(&b"4096"[..]));
        let before = t.as_bytes().to_vec();
        let long = [b'x'; 300];
        let e = append(&mut t, &long);
        assert!(matches!(t.repr, Repr::Heap(_)));
        assert_eq!(t.get(e), Some(&long[..]));
        assert_eq!(&t.as_bytes()[..before.len()], &before[..]);
        assert_eq!(t.get(a), Some(&b"n,,n=user,r=abc"[..]));
        let f = t.append_with(3, |head, new| new.copy_from_slice(&head[..3]));
        assert_eq!(t.get(f), Some(&b"n,,"[..]));
        assert_eq!(t.len(), before.len() + 303);
    }

    #[test]
    fn spill_in_the_middle_and_long_start() {
        let mut t = Transcript::starting_with(&[b'a'; 242], 0);
        assert!(matches!(t.repr, Repr::Inline { .. }));
        let s = append(&mut t, b"abcdef");
        assert!(matches!(t.repr, Repr::Heap(_)));
        assert_eq!(t.get(s), Some(&b"abcdef"[..]));
        assert_eq!(t.get(Span::new(0, 242)), Some(&[b'a'; 242][..]));
        let t = Transcript::starting_with(&[b'b'; 200], 100);
        assert!(matches!(t.repr, Repr::Heap(_)));
        assert_eq!(t.as_bytes(), &[b'b'; 200][..]);
        assert_eq!(t.get(Span::new(10_000, 5)), None);
        let t = Transcript::starting_with(&[b'c'; INLINE], 0);
        assert!(matches!(t.repr, Repr::Inline { .. }));
        assert_eq!(t.len(), INLINE);
        let t = Transcript::starting_with(&[b'c'; INLINE + 1], 0);
        assert!(matches!(t.repr, Repr::Heap(_)));
        assert_eq!(core::mem::size_of::<Transcript>(), 248);
    }
}
