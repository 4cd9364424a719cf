//! SASLprep against RFC 4013's examples, the `stringprep` crate and invariants.

extern crate std;

use super::*;
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use proptest::prelude::*;

fn ok(s: &str) -> Result<Cow<'static, str>, SaslprepError> {
    Ok(Cow::Owned(s.into()))
}

#[test]
fn rfc4013_section3_examples() {
    assert_eq!(saslprep("I\u{00AD}X", Mode::Stored), ok("IX"));
    assert_eq!(saslprep("user", Mode::Stored), ok("user"));
    assert_eq!(saslprep("USER", Mode::Stored), ok("USER"));
    assert_eq!(saslprep("\u{00AA}", Mode::Stored), ok("a"));
    assert_eq!(saslprep("\u{2168}", Mode::Stored), ok("IX"));
    assert!(matches!(
        saslprep("\u{0007}", Mode::Stored),
        Err(SaslprepError::Prohibited { position: 0, table }) if table.starts_with("C.2.1 ")
    ));
    assert_eq!(
        saslprep("\u{0627}\u{0031}", Mode::Stored),
        Err(SaslprepError::Bidi)
    );
}

#[test]
fn mapping() {
    assert_eq!(saslprep("a\u{00A0}b", Mode::Stored), ok("a b"));
    assert_eq!(saslprep("\u{3000}", Mode::Stored), ok(" "));
    // U+200B is in both C.1.2 and B.1; like PostgreSQL, libidn and the
    // `stringprep` crate we map it to SPACE (see the module docs).
    assert_eq!(saslprep("a\u{200B}b", Mode::Stored), ok("a b"));
    assert_eq!(saslprep("a\u{FEFF}b\u{FE0F}", Mode::Stored), ok("ab"));
    assert_eq!(saslprep("\u{00AD}", Mode::Stored), ok(""));
    assert_eq!(saslprep("cafe\u{0301}", Mode::Stored), ok("caf\u{00E9}"));
}

#[test]
fn unchanged_input_is_borrowed() {
    for s in [
        "",
        "user",
        "p@ss w0rd~",
        "caf\u{00E9}",
        "\u{0627}\u{0628}",
        "\u{4E00}",
    ] {
        assert!(
            matches!(saslprep(s, Mode::Stored), Ok(Cow::Borrowed(b)) if b == s),
            "{s:?}"
        );
    }
    assert!(matches!(
        saslprep("I\u{00AD}X", Mode::Query),
        Ok(Cow::Owned(_))
    ));
}

#[test]
fn prohibited() {
    let table = |s: &str| match saslprep(s, Mode::Query) {
        Err(SaslprepError::Prohibited { table, .. }) => table.split(' ').next(),
        _ => None,
    };
    assert_eq!(table("\u{0000}"), Some("C.2.1"));
    assert_eq!(table("\u{007F}"), Some("C.2.1"));
    assert_eq!(table("\u{0085}"), Some("C.2.2"));
    assert_eq!(table("\u{E000}"), Some("C.3"));
    assert_eq!(table("\u{FFFF}"), Some("C.4"));
    assert_eq!(table("\u{FFFD}"), Some("C.6"));
    assert_eq!(table("\u{2FF0}"), Some("C.7"));
    assert_eq!(table("\u{200E}"), Some("C.8"));
    assert_eq!(table("\u{E0001}"), Some("C.9"));
    // Positions count characters of the mapped and normalized string.
    let at = |s: &str| match saslprep(s, Mode::Query) {
        Err(SaslprepError::Prohibited { position, .. }) => Some(position),
        _ => None,
    };
    assert_eq!(at("ab\u{0007}"), Some(2));
    assert_eq!(at("\u{2168}\u{0007}"), Some(2));
    assert_eq!(at("\u{00AD}\u{00E9}\u{0007}"), Some(1));
}

#[test]
fn unassigned_depends_on_mode() {
    // U+0221 was assigned in Unicode 4.0, after 3.2.
    assert_eq!(
        saslprep("\u{0221}", Mode::Query),
        Ok(Cow::Borrowed("\u{0221}"))
    );
    assert_eq!(
        saslprep("a\u{0221}", Mode::Stored),
        Err(SaslprepError::Unassigned { position: 1 })
    );
}

#[test]
fn bidi() {
    assert!(saslprep("\u{0627}\u{0628}", Mode::Stored).is_ok());
    assert!(saslprep("\u{0627}1\u{0628}", Mode::Stored).is_ok());
    assert!(saslprep("\u{05D0}", Mode::Stored).is_ok());
    assert_eq!(
        saslprep("\u{0627}a\u{0628}", Mode::Stored),
        Err(SaslprepError::Bidi)
    );
    assert_eq!(
        saslprep("1\u{0627}", Mode::Stored),
        Err(SaslprepError::Bidi)
    );
    assert_eq!(
        saslprep("\u{05D0}\u{00E9}\u{05D0}", Mode::Query),
        Err(SaslprepError::Bidi)
    );
}

#[test]
fn errors_do_not_reveal_the_input() {
    let inputs = [
        "p\u{00E4}ss\u{0007}w\u{00F6}rd",
        "\u{0627}secret",
        "s\u{E000}cret",
        "x\u{0221}",
    ];
    for input in inputs {
        let err = saslprep(input, Mode::Stored).unwrap_err();
        assert_leaks_nothing(input, &err);
    }
}

fn assert_leaks_nothing(input: &str, err: &SaslprepError) {
    for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
        // No character but printable ASCII, and no code point notation.
        assert!(
            text.chars().all(|c| matches!(c, ' '..='~' | '\n')),
            "{text}"
        );
        for notation in ["U+", "\\u", "0x", "0X"] {
            assert!(!text.contains(notation), "{text}");
        }
        if input.chars().count() > 1 {
            assert!(!text.contains(input));
        }
    }
}

#[test]
fn tables_are_sorted_disjoint_ranges() {
    let all = [tables::A_1, tables::B_1, tables::D_1, tables::D_2];
    for table in all.iter().chain(PROHIBITED.iter().map(|(t, _)| t)) {
        assert!(!table.is_empty());
        assert!(
            table
                .iter()
                .all(|&(first, last)| first <= last && last <= 0x10_FFFF)
        );
        assert!(table.windows(2).all(|w| w[0].1 < w[1].0));
    }
    assert_eq!(tables::C_5, &[(0xD800, 0xDFFF)]);
}

/// Tables A.1, B.1 and C.* match the `stringprep` crate's, which are
/// written out from RFC 3454 independently.
#[test]
fn tables_match_stringprep_crate() {
    use stringprep::tables as sp;
    type Predicate = fn(char) -> bool;
    let pairs: [(Table, Predicate); 11] = [
        (tables::A_1, sp::unassigned_code_point),
        (tables::B_1, sp::commonly_mapped_to_nothing),
        (tables::C_1_2, sp::non_ascii_space_character),
        (tables::C_2_1, sp::ascii_control_character),
        (tables::C_2_2, sp::non_ascii_control_character),
        (tables::C_3, sp::private_use),
        (tables::C_4, sp::non_character_code_point),
        (tables::C_6, sp::inappropriate_for_plain_text),
        (tables::C_7, sp::inappropriate_for_canonical_representation),
        (tables::C_8, sp::change_display_properties_or_deprecated),
        (tables::C_9, sp::tagging_character),
    ];
    for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
        for (i, (ours, theirs)) in pairs.iter().enumerate() {
            assert_eq!(
                in_table(ours, c),
                theirs(c),
                "table #{i}, U+{:04X}",
                u32::from(c)
            );
        }
    }
}

/// Code points assigned in Unicode 3.2 whose LCat membership (table D.2)
/// differs between Unicode 3.2 and the current Unicode of `unicode-bidi`,
/// which the `stringprep` crate uses for its bidi check, among those
/// that can appear in a prepared string.
const BIDI_L_CHANGED: Table = &[
    (0x0CBF, 0x0CBF), // KANNADA VOWEL SIGN I: NSM in 3.2, now L
    (0x0CC6, 0x0CC6), // KANNADA VOWEL SIGN E: NSM in 3.2, now L
    (0x1734, 0x1734), // HANUNOO SIGN PAMUDPOD: NSM in 3.2, now L
    (0x17B4, 0x17B5), // KHMER VOWEL INHERENT AQ, AA: L in 3.2, now NSM
    (0x1885, 0x1886), // MONGOLIAN LETTER ALI GALI BALUDA, THREE BALUDA: L, now NSM
    (0x2132, 0x2132), // TURNED CAPITAL F: ON in 3.2, now L
    (0x2800, 0x28FF), // BRAILLE PATTERNS: ON in 3.2, now L
    (0x302E, 0x302F), // HANGUL TONE MARKS: NSM in 3.2, now L
];

fn bidi_tables_differ(c: char) -> bool {
    in_table(tables::D_1, c) != stringprep::tables::bidi_r_or_al(c)
        || in_table(tables::D_2, c) != stringprep::tables::bidi_l(c)
}

#[test]
fn bidi_differences_from_stringprep_crate_are_documented() {
    for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
        let can_be_output = !in_table(tables::A_1, c)
            && !PROHIBITED.iter().any(|(t, _)| in_table(t, c))
            && core::iter::once(c).nfkc().eq(core::iter::once(c));
        if can_be_output && bidi_tables_differ(c) {
            assert!(in_table(BIDI_L_CHANGED, c), "U+{:04X}", u32::from(c));
            assert_eq!(
                in_table(tables::D_1, c),
                stringprep::tables::bidi_r_or_al(c)
            );
        }
    }
    // RFC 3454 (Unicode 3.2) accepts Braille between Hebrew letters;
    // the `stringprep` crate, reading Braille as L, rejects it.
    assert!(saslprep("\u{05D0}\u{2800}\u{05D0}", Mode::Stored).is_ok());
    assert!(stringprep::saslprep("\u{05D0}\u{2800}\u{05D0}").is_err());
}

/// Compares [`Mode::Stored`], which like `stringprep::saslprep` rejects
/// unassigned code points, with the `stringprep` crate. The only
/// tolerated disagreement is a bidi verdict on a string containing a
/// code point whose table D.1/D.2 membership changed after Unicode 3.2.
fn assert_agrees_with_stringprep(s: &str) {
    let ours = saslprep(s, Mode::Stored);
    let theirs = stringprep::saslprep(s);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{s:?}"),
        (Err(_), Err(_)) => {}
        (Err(SaslprepError::Bidi), Ok(_)) | (Ok(_), Err(_)) => {
            let bidi = ours.is_err()
                || theirs.is_err_and(|e| e.to_string() == "prohibited bidirectional text");
            let changed = map_and_normalize(s).chars().any(bidi_tables_differ);
            assert!(bidi && changed, "{s:?}: ours {ours:?}");
        }
        (Err(e), Ok(_)) => panic!("{s:?}: ours {e:?}, stringprep Ok"),
    }
}

/// [`Mode::Query`] differs from [`Mode::Stored`] only by letting
/// unassigned code points through.
fn assert_modes_consistent(s: &str) {
    let stored = saslprep(s, Mode::Stored);
    let query = saslprep(s, Mode::Query);
    if let Err(SaslprepError::Unassigned { .. }) = stored {
        if let Ok(q) = &query {
            assert!(q.chars().any(|c| in_table(tables::A_1, c)), "{s:?}");
        }
    } else {
        assert_eq!(query, stored, "{s:?}");
    }
    // A prepared string is a fixed point.
    for out in [stored, query].into_iter().flatten() {
        assert_eq!(saslprep(&out, Mode::Query), Ok(Cow::Borrowed(&*out)));
    }
}

fn assert_errors_leak_nothing(s: &str) {
    for mode in [Mode::Query, Mode::Stored] {
        if let Err(err) = saslprep(s, mode) {
            assert_leaks_nothing(s, &err);
        }
    }
}

/// Every code point in `planes`, alone and in two bidi contexts.
fn check_every_code_point(planes: core::ops::RangeInclusive<u32>) {
    let mut buf = String::new();
    let code_points = planes.start() << 16..=(planes.end() << 16 | 0xFFFF);
    for c in code_points.filter_map(char::from_u32) {
        let alone = c.encode_utf8(&mut [0; 4]).to_string();
        assert_agrees_with_stringprep(&alone);
        if c >= '\u{30000}' && in_table(tables::A_1, c) {
            // Unassigned code points from plane 3 on (most of them):
            // the cheap form of `assert_modes_consistent`.
            assert_eq!(saslprep(&alone, Mode::Query), Ok(Cow::Borrowed(&*alone)));
        } else {
            assert_modes_consistent(&alone);
        }
        // Bidi contexts, for the characters that may appear at all
        // (which are assigned, so both modes agree on them).
        if saslprep(&alone, Mode::Stored).is_ok() {
            for (prefix, suffix) in [("\u{05D0}", "\u{05D0}"), ("", "a")] {
                buf.clear();
                buf.extend([prefix, &alone, suffix]);
                assert_agrees_with_stringprep(&buf);
            }
        }
    }
}

// Split by planes so that the test harness runs them in parallel.
#[test]
fn every_code_point_of_plane_0() {
    check_every_code_point(0..=0);
}

#[test]
fn every_code_point_of_plane_1() {
    check_every_code_point(1..=1);
}

#[test]
fn every_code_point_of_plane_2() {
    check_every_code_point(2..=2);
}

#[test]
fn every_code_point_of_planes_3_to_9() {
    check_every_code_point(3..=9);
}

#[test]
fn every_code_point_of_planes_10_to_16() {
    check_every_code_point(10..=16);
}

/// Characters near the edges of every table, and a few hand-picked ones.
fn interesting_chars() -> Vec<char> {
    let all = [
        tables::A_1,
        tables::B_1,
        tables::D_1,
        tables::D_2,
        BIDI_L_CHANGED,
    ];
    let edges = all
        .iter()
        .chain(PROHIBITED.iter().map(|(t, _)| t))
        .flat_map(|t| t.iter())
        .flat_map(|&(first, last)| [first.saturating_sub(1), first, last, last + 1]);
    let picked = [
        0x20, 0x41, 0x31, 0x0301, 0x0627, 0x05D0, 0x2168, 0xFDFA, 0xFB1D, 0xAC00,
    ];
    edges.chain(picked).filter_map(char::from_u32).collect()
}

fn interesting_string() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        3 => proptest::char::range(' ', '~'),
        2 => proptest::char::range('\u{80}', '\u{24F}'),
        2 => proptest::char::range('\u{0590}', '\u{06FF}'),
        1 => proptest::char::range('\u{FB1D}', '\u{FEFF}'),
        1 => proptest::char::range('\u{3000}', '\u{33FF}'),
        1 => proptest::char::range('\u{1D400}', '\u{1D7FF}'),
        3 => proptest::sample::select(interesting_chars()),
        1 => any::<char>(),
    ];
    proptest::collection::vec(c, 0..8).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_strings_agree_with_stringprep(s in any::<String>()) {
        assert_agrees_with_stringprep(&s);
        assert_modes_consistent(&s);
        assert_errors_leak_nothing(&s);
    }

    #[test]
    fn interesting_strings_agree_with_stringprep(s in interesting_string()) {
        assert_agrees_with_stringprep(&s);
        assert_modes_consistent(&s);
        assert_errors_leak_nothing(&s);
    }
}
