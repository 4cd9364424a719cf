//! The HTTP credential store's response parser (`mqtt_scram_stores::http::parse_body`,
//! the body of a 200 answer in EMQX's SCRAM REST contract) on arbitrary bytes.
//!
//! - never panics;
//! - `Found` only with credentials of the asked hash, non-zero iterations and the default
//!   iteration count when the body gives none;
//! - every refusal is `Ignore` with a non-empty reason that never repeats a key (the
//!   `stored_key`/`server_key` values of the body).
//!
//! The first byte picks the content type (JSON, form, JSON with parameters, none, other)
//! and the hash; the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_scram::HashAlgorithm;
use mqtt_scram::provider::Lookup;
use mqtt_scram_stores::http::parse_body;

const DEFAULT_ITERATIONS: u32 = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = match selector % 5 {
        0 => Some("application/json"),
        1 => Some("application/x-www-form-urlencoded"),
        2 => Some("Application/JSON; charset=utf-8"),
        3 => None,
        _ => Some("text/plain"),
    };
    let hash = if selector & 0x80 == 0 {
        HashAlgorithm::Sha256
    } else {
        HashAlgorithm::Sha512
    };
    match parse_body(content_type, body, hash, DEFAULT_ITERATIONS) {
        Lookup::Found(record) => {
            assert_eq!(record.credentials.hash(), hash);
            assert!(record.credentials.iterations() >= 1);
            assert!(content_type.is_some_and(|c| !c.starts_with("text/")));
        }
        Lookup::Ignore(reason) => {
            assert!(!reason.detail().is_empty());
            if let Ok(text) = std::str::from_utf8(body) {
                for key in ["stored_key", "server_key"] {
                    if let Some(value) = json_string(text, key) {
                        if value.len() >= 16 {
                            assert!(!reason.detail().contains(value), "{reason} repeats {key}");
                        }
                    }
                }
            }
        }
        Lookup::NotFound => {}
    }
});

/// The string value of `"key": "..."` in `text`, if it looks like one.
fn json_string<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let after = text.split_once(&format!("\"{key}\""))?.1;
    let after = after
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    after.split_once('"').map(|(value, _)| value)
}
