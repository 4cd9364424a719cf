//! RFC 4013 SASLprep: the stringprep (RFC 3454) profile that SCRAM
//! (RFC 5802 §2.2) applies to user names and passwords.
//!
//! [`saslprep`] runs the four steps of RFC 4013 §2:
//!
//! 1. **Map**: non-ASCII space characters (table C.1.2) become U+0020 SPACE,
//!    and the "commonly mapped to nothing" characters (table B.1) are removed.
//!    U+200B ZERO WIDTH SPACE is in both tables (Unicode 3.2 classified it as
//!    a space separator); like PostgreSQL, GNU libidn and the `stringprep`
//!    crate it is mapped to SPACE, the first mapping RFC 4013 §2.1 lists, so
//!    that SCRAM credentials derived here match those implementations.
//! 2. **Normalize** with Unicode NFKC.
//! 3. **Prohibit** the characters of tables C.1.2, C.2.1, C.2.2, C.3, C.4,
//!    C.5, C.6, C.7, C.8 and C.9.
//! 4. **Check bidi** (RFC 3454 §6): a string containing a RandALCat
//!    character (table D.1) must not contain an LCat character (table D.2),
//!    and must begin and end with a RandALCat character.
//!
//! Unassigned code points (table A.1) are rejected in [`Mode::Stored`] and
//! let through in [`Mode::Query`] (RFC 3454 §7).
//!
//! The tables are those of RFC 3454 (Unicode 3.2), generated into
//! `src/saslprep/tables.rs` by `tools/gen_saslprep_tables.py`. NFKC, however,
//! comes from the `unicode-normalization` crate, which implements the
//! current Unicode version rather than the Unicode 3.2 that RFC 4013 names.
//! For code points assigned in Unicode 3.2 the results agree, by Unicode's
//! normalization stability policy; strings with code points unassigned in
//! 3.2 are rejected in [`Mode::Stored`] anyway (in [`Mode::Query`] they are
//! normalized by the newer rules, e.g. U+03F9 becomes U+03A3).
//!
//! The bidi tables D.1 and D.2 are likewise those of Unicode 3.2, as the RFC
//! requires. Implementations that take bidi classes from a newer Unicode
//! (such as the `stringprep` crate) differ on a few hundred code points whose
//! class changed since, e.g. the Braille patterns U+2800..U+28FF (not LCat
//! in 3.2, LCat now) and U+17B4, U+17B5 (LCat in 3.2, not now).
//!
//! Inputs are often passwords, so no error (neither its `Display` nor its
//! `Debug` form) carries any character of the input: only a position and the
//! name of an RFC 3454 table.

use alloc::borrow::Cow;
use alloc::string::String;
use core::cmp::Ordering;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
use zeroize::Zeroize;

mod tables;

/// How strictly unassigned code points (RFC 3454 table A.1) are treated.
///
/// ```
/// use mqtt_scram::saslprep::{Mode, saslprep};
/// // U+0221 was unassigned in Unicode 3.2: accepted when comparing, refused when storing.
/// assert!(saslprep("\u{221}", Mode::Query).is_ok());
/// assert!(saslprep("\u{221}", Mode::Stored).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// "Queries" (RFC 3454 §7): unassigned code points are allowed. Use for
    /// strings that are only compared, such as a password being checked.
    Query,
    /// "Stored strings" (RFC 3454 §7): unassigned code points are an error.
    /// Use for strings that are stored, such as a password being set.
    Stored,
}

/// Why a string failed SASLprep.
///
/// No variant holds any character of the input, and neither does the
/// `Display` or `Debug` output.
///
/// ```
/// use mqtt_scram::saslprep::{Mode, SaslprepError, saslprep};
/// let err = saslprep("pass\u{7}word", Mode::Stored).unwrap_err();
/// assert!(matches!(err, SaslprepError::Prohibited { position: 4, .. }));
/// assert!(!err.to_string().contains("pass"));   // never the input
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslprepError {
    /// A prohibited character (RFC 4013 §2.3) was found.
    #[error("prohibited character at position {position} (RFC 3454 table {table})")]
    Prohibited {
        /// Index, in characters, in the mapped and normalized string.
        position: usize,
        /// The RFC 3454 table that prohibits the character, e.g.
        /// `"C.2.1 (ASCII control characters)"`.
        table: &'static str,
    },
    /// A code point unassigned in Unicode 3.2 (RFC 3454 table A.1) was
    /// found in [`Mode::Stored`].
    #[error("unassigned code point at position {position} (RFC 3454 table A.1)")]
    Unassigned {
        /// Index, in characters, in the mapped and normalized string.
        position: usize,
    },
    /// The string violates the bidirectional text rules of RFC 3454 §6.
    #[error("invalid bidirectional text (RFC 3454 section 6)")]
    Bidi,
}

/// A table of `tables.rs`: sorted, non-overlapping, inclusive ranges.
type Table = &'static [(u32, u32)];

/// The prohibited-output tables of RFC 4013 §2.3, in RFC order.
const PROHIBITED: &[(Table, &str)] = &[
    (tables::C_1_2, "C.1.2 (non-ASCII space characters)"),
    (tables::C_2_1, "C.2.1 (ASCII control characters)"),
    (tables::C_2_2, "C.2.2 (non-ASCII control characters)"),
    (tables::C_3, "C.3 (private use)"),
    (tables::C_4, "C.4 (non-character code points)"),
    (tables::C_5, "C.5 (surrogate codes)"),
    (tables::C_6, "C.6 (inappropriate for plain text)"),
    (
        tables::C_7,
        "C.7 (inappropriate for canonical representation)",
    ),
    (tables::C_8, "C.8 (change display properties or deprecated)"),
    (tables::C_9, "C.9 (tagging characters)"),
];

/// Prepares `input` with SASLprep (RFC 4013).
///
/// Returns [`Cow::Borrowed`] when the prepared string equals `input`; a
/// string of printable ASCII characters and spaces takes that path without
/// allocating. An empty result is not an error: callers decide.
///
/// When a new string is built it is allocated once at its exact length, and
/// it is zeroized before being dropped on the error path.
///
/// # Errors
///
/// [`SaslprepError`] if the prepared string contains a prohibited
/// character, violates the bidi rules, or (in [`Mode::Stored`]) contains a
/// code point unassigned in Unicode 3.2.
pub fn saslprep(input: &str, mode: Mode) -> Result<Cow<'_, str>, SaslprepError> {
    if input.bytes().all(|b| matches!(b, 0x20..=0x7E)) {
        return Ok(Cow::Borrowed(input));
    }
    if !input.chars().any(is_mapped) && is_nfkc_quick(input.chars()) == IsNormalized::Yes {
        check(input, mode)?;
        return Ok(Cow::Borrowed(input));
    }

    let mut prepared = map_and_normalize(input);
    if let Err(err) = check(&prepared, mode) {
        prepared.zeroize();
        return Err(err);
    }
    if prepared == input {
        prepared.zeroize();
        return Ok(Cow::Borrowed(input));
    }
    Ok(Cow::Owned(prepared))
}

/// Whether the mapping step (RFC 4013 §2.1) changes `c`.
fn is_mapped(c: char) -> bool {
    !c.is_ascii() && (in_table(tables::C_1_2, c) || in_table(tables::B_1, c))
}

/// The mapping step (RFC 4013 §2.1) for one character.
fn map_char(c: char) -> Option<char> {
    if c.is_ascii() {
        Some(c)
    } else if in_table(tables::C_1_2, c) {
        Some(' ')
    } else if in_table(tables::B_1, c) {
        None
    } else {
        Some(c)
    }
}

/// Steps 1 and 2: map, then normalize with NFKC. The output is measured
/// first so that it is allocated once, leaving no stray copies behind.
fn map_and_normalize(input: &str) -> String {
    let normalized = || input.chars().filter_map(map_char).nfkc();
    let len = normalized().map(char::len_utf8).sum();
    let mut out = String::with_capacity(len);
    out.extend(normalized());
    out
}

/// Steps 3 and 4, and the unassigned code point check, on the mapped and
/// normalized string.
fn check(s: &str, mode: Mode) -> Result<(), SaslprepError> {
    let mut has_rand_al = false;
    let mut has_l = false;
    for (position, c) in s.chars().enumerate() {
        if matches!(c, ' '..='~') {
            has_l |= c.is_ascii_alphabetic();
            continue;
        }
        if let Some(&(_, table)) = PROHIBITED.iter().find(|(t, _)| in_table(t, c)) {
            return Err(SaslprepError::Prohibited { position, table });
        }
        if mode == Mode::Stored && in_table(tables::A_1, c) {
            return Err(SaslprepError::Unassigned { position });
        }
        has_rand_al |= is_rand_al(c);
        has_l |= in_table(tables::D_2, c);
    }
    if has_rand_al
        && (has_l
            || !s.chars().next().is_some_and(is_rand_al)
            || !s.chars().next_back().is_some_and(is_rand_al))
    {
        return Err(SaslprepError::Bidi);
    }
    Ok(())
}

/// RFC 3454 table D.1: bidirectional category "R" or "AL".
fn is_rand_al(c: char) -> bool {
    in_table(tables::D_1, c)
}

/// Whether `c` lies in one of the sorted, inclusive ranges of `table`.
fn in_table(table: Table, c: char) -> bool {
    let cp = u32::from(c);
    table
        .binary_search_by(|&(first, last)| {
            if last < cp {
                Ordering::Less
            } else if first > cp {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests;
