//! `saslprep` on arbitrary UTF-8 in both modes.
//!
//! - never panics;
//! - the modes agree unless `Stored` reports an unassigned code point (so a string accepted as a
//!   stored string is accepted as a query, with the same output);
//! - a borrowed result equals the input;
//! - the output has no ASCII control character (RFC 3454 C.2.1) and no non-ASCII space (C.1.2, which maps to U+0020);
//! - idempotence: preparing an accepted output again gives it back unchanged.
//!   (Holds for RFC 4013: the output contains no mapped characters, since C.1.2 is prohibited and B.1 characters
//!   are removed, and NFKC is idempotent; the check is done on the same mode.)
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use mqtt_scram::saslprep::{Mode, SaslprepError, saslprep};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let query = saslprep(input, Mode::Query);
    let stored = saslprep(input, Mode::Stored);
    // The modes differ only in letting unassigned code points (table A.1) through.
    if !matches!(stored, Err(SaslprepError::Unassigned { .. })) {
        assert_eq!(
            query, stored,
            "modes disagree on a string without unassigned code points"
        );
    }
    for (mode, result) in [(Mode::Query, &query), (Mode::Stored, &stored)] {
        let Ok(out) = result else { continue };
        if let Cow::Borrowed(b) = out {
            assert_eq!(*b, input);
        }
        assert!(
            !out.chars().any(|c| c.is_ascii_control()),
            "control character in output"
        );
        assert!(
            !out.chars().any(|c| matches!(
                c,
                '\u{A0}' | '\u{1680}' | '\u{2000}'
                    ..='\u{200B}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
            )),
            "non-ASCII space in output"
        );
        let again = saslprep(out, mode);
        assert_eq!(
            again.as_deref(),
            Ok(&**out),
            "saslprep is not idempotent in {mode:?}"
        );
    }
});
