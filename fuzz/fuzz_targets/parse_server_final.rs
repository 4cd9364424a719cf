//! `ServerFinal::parse` on arbitrary bytes, for SHA-256 and SHA-512 signature
//! lengths. When it accepts: `v=` has the hash's length, and writing the
//! verifier or the `e=` value back (plus the raw extensions) gives the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_scram::ErrorKind;
use mqtt_scram::message::{ServerFinal, ServerFinalOutcome};

fuzz_target!(|data: &[u8]| {
    for signature_len in [32, 64] {
        let Ok(m) = ServerFinal::parse(data, signature_len, usize::MAX) else {
            continue;
        };
        let text = std::str::from_utf8(data).expect("accepted bytes that are not UTF-8");
        let mut again = match m.outcome() {
            ServerFinalOutcome::Verifier(v) => {
                assert_eq!(v.len(), signature_len);
                ServerFinal::write_verifier(v)
            }
            ServerFinalOutcome::Error(e) => {
                assert!(!e.as_str().is_empty());
                assert!(!e.as_str().contains(','));
                e.to_message()
            }
        };
        let extensions = m.extensions();
        let raw_ext = extensions.as_str();
        for a in extensions {
            assert!(
                a.name.is_ascii_alphabetic() && !a.value.is_empty(),
                "extension {a:?}"
            );
        }
        if !raw_ext.is_empty() {
            again.push(',');
            again.push_str(raw_ext);
        }
        assert_eq!(
            again, text,
            "writing the parsed fields does not give the input back"
        );

        assert_eq!(
            ServerFinal::parse(data, signature_len, data.len()).as_ref(),
            Ok(&m)
        );
        assert!(matches!(
            ServerFinal::parse(data, signature_len, data.len() - 1),
            Err(e) if e.kind() == ErrorKind::TooLong
        ));
    }
});
