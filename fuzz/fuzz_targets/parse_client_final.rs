//! `ClientFinal::parse` on arbitrary bytes, for SHA-256 and SHA-512 proof
//! lengths. When it accepts: the proof has the hash's length, the message is
//! `without_proof + ",p=" + base64(proof)`, and `without_proof` is
//! `"c=" + base64(cbind-input) + ",r=" + nonce` plus the raw extensions.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use mqtt_scram::ErrorKind;
use mqtt_scram::message::{ClientFinal, write_client_final_without_proof};

fuzz_target!(|data: &[u8]| {
    for proof_len in [32, 64] {
        let Ok(m) = ClientFinal::parse(data, proof_len, usize::MAX) else {
            continue;
        };
        let text = std::str::from_utf8(data).expect("accepted bytes that are not UTF-8");
        assert_eq!(m.proof().len(), proof_len);
        assert_eq!(
            format!(
                "{},p={}",
                m.without_proof(),
                STANDARD.encode(m.proof().as_bytes())
            ),
            text,
            "without_proof + p= != input"
        );
        let nonce = m.nonce();
        assert!(!nonce.is_empty());
        assert!(
            nonce
                .bytes()
                .all(|b| (0x21..=0x7E).contains(&b) && b != b','),
            "nonce {nonce:?}"
        );
        let cbind = m.channel_binding();
        assert!(!cbind.is_empty());
        // The allocation-free comparison the server uses agrees with decoding, for every
        // split of the bytes and for a changed byte.
        for split in [0, 1, cbind.len() / 2, cbind.len()] {
            let (a, b) = cbind.split_at(split);
            assert!(m.channel_binding_is(a, b));
        }
        let mut changed = cbind.clone();
        if let Some(last) = changed.last_mut() {
            *last ^= 1;
        }
        assert!(!m.channel_binding_is(&changed, b""));
        assert!(!m.channel_binding_is(&cbind[1..], b""));

        let extensions = m.extensions();
        let raw_ext = extensions.as_str();
        for a in extensions {
            assert!(
                a.name.is_ascii_alphabetic() && !a.value.is_empty(),
                "extension {a:?}"
            );
        }
        let mut again = write_client_final_without_proof(&cbind, b"", nonce);
        if !raw_ext.is_empty() {
            again.push(',');
            again.push_str(raw_ext);
        }
        assert_eq!(
            again,
            m.without_proof(),
            "writing the parsed fields does not give the input back"
        );

        assert_eq!(
            ClientFinal::parse(data, proof_len, data.len()).as_ref(),
            Ok(&m)
        );
        assert!(matches!(
            ClientFinal::parse(data, proof_len, data.len() - 1),
            Err(e) if e.kind() == ErrorKind::TooLong
        ));
        // A proof decodes to exactly one length, so the other hash must refuse it.
        let other = if proof_len == 32 { 64 } else { 32 };
        assert!(ClientFinal::parse(data, other, usize::MAX).is_err());
    }
});
