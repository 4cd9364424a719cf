//! `ClientFirst::parse` on arbitrary bytes. When it accepts, the message must
//! split exactly into gs2 header + bare part, and writing the parsed fields back
//! (plus the raw extensions) must give the input byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_scram::ErrorKind;
use mqtt_scram::message::{ClientFirst, unescape_saslname};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = ClientFirst::parse(data, usize::MAX) else {
        return;
    };
    let text = std::str::from_utf8(data).expect("accepted bytes that are not UTF-8");
    assert!(!text.contains('\0'), "accepted a NUL byte");

    let gs2 = m.gs2().as_str();
    assert_eq!(
        format!("{gs2}{}", m.bare()),
        text,
        "gs2 header + bare != input"
    );
    assert!(
        gs2.ends_with(','),
        "gs2 header {gs2:?} does not end with ','"
    );
    assert!(
        m.bare().starts_with("n="),
        "bare {:?} does not start with n=",
        m.bare()
    );

    let nonce = m.nonce();
    assert!(!nonce.is_empty());
    assert!(
        nonce
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) && b != b','),
        "nonce {nonce:?}"
    );
    assert!(!m.username().is_empty());
    if let Some(authzid) = &m.gs2().authzid {
        assert!(!authzid.is_empty());
    }

    let extensions = m.extensions();
    let raw_ext = extensions.as_str();
    let mut count = 0;
    for a in extensions {
        assert!(
            a.name.is_ascii_alphabetic() && !a.value.is_empty(),
            "extension {a:?}"
        );
        count += 1;
    }
    assert_eq!(
        count,
        if raw_ext.is_empty() {
            0
        } else {
            raw_ext.split(',').count()
        }
    );

    let (mut again, bare_start) = ClientFirst::write(
        m.gs2().cbind,
        m.gs2().authzid.as_deref(),
        m.username(),
        nonce,
    );
    assert_eq!(again.get(..bare_start), Some(gs2));
    if !raw_ext.is_empty() {
        again.push(',');
        again.push_str(raw_ext);
    }
    assert_eq!(
        again, text,
        "writing the parsed fields does not give the input back"
    );

    // The username on the wire is the escaped form of what was parsed.
    let wire_user = m
        .bare()
        .strip_prefix("n=")
        .and_then(|s| s.split(',').next())
        .unwrap_or_default();
    assert_eq!(unescape_saslname(wire_user).as_deref(), Some(m.username()));

    // The length limit is inclusive and checked first.
    assert_eq!(ClientFirst::parse(data, data.len()).as_ref(), Ok(&m));
    assert!(matches!(
        ClientFirst::parse(data, data.len() - 1),
        Err(e) if e.kind() == ErrorKind::TooLong
    ));
});
