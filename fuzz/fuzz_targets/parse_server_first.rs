//! `ServerFirst::parse` on arbitrary bytes. When it accepts, `as_str` is the
//! input, and writing nonce, salt and iteration count back (plus the raw
//! extensions) gives the input byte for byte (so base64 is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_scram::ErrorKind;
use mqtt_scram::message::ServerFirst;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = ServerFirst::parse(data, usize::MAX) else {
        return;
    };
    let text = std::str::from_utf8(data).expect("accepted bytes that are not UTF-8");
    assert_eq!(m.as_str(), text);
    assert!(m.iterations() >= 1);
    assert!(!m.salt().is_empty());
    let nonce = m.nonce();
    assert!(!nonce.is_empty());
    assert!(
        nonce
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) && b != b','),
        "nonce {nonce:?}"
    );

    let extensions = m.extensions();
    let raw_ext = extensions.as_str();
    for a in extensions {
        assert!(
            a.name.is_ascii_alphabetic() && !a.value.is_empty(),
            "extension {a:?}"
        );
    }
    let mut again = ServerFirst::write(nonce, m.salt(), m.iterations());
    if !raw_ext.is_empty() {
        again.push(',');
        again.push_str(raw_ext);
    }
    assert_eq!(
        again, text,
        "writing the parsed fields does not give the input back"
    );

    assert_eq!(ServerFirst::parse(data, data.len()).as_ref(), Ok(&m));
    assert!(matches!(
        ServerFirst::parse(data, data.len() - 1),
        Err(e) if e.kind() == ErrorKind::TooLong
    ));
});
