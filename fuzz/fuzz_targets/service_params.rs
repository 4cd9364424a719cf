//! The auth service's request parameters (`mqtt_scram_service::params::Params::parse`, the
//! one parser of the EMQX 4, EMQX 5 and amqtt contracts) on an arbitrary query string,
//! content type and body.
//!
//! Input: `[0]` content type (low 3 bits: none, `application/json`, `application/json;
//! charset=utf-8`, `application/x-www-form-urlencoded`, `text/plain`,
//! `application/vnd.x+json`, `APPLICATION/JSON`, an invalid header value), `[1]` query
//! length, the query (bytes taken as they are when UTF-8), then the body.
//!
//! - never panics;
//! - a body read as JSON is accepted only if it is a JSON object with no array or object
//!   value, and then every string value is returned as it is, `null` as absent;
//! - a form body (or a query string) is always accepted, and its last value of each name
//!   wins over the query string's;
//! - `Debug` of the parameters is exactly the set of names (no value).
#![no_main]

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use mqtt_scram_service::params::Params;

const TYPES: [Option<&[u8]>; 8] = [
    None,
    Some(b"application/json"),
    Some(b"application/json; charset=utf-8"),
    Some(b"application/x-www-form-urlencoded"),
    Some(b"text/plain"),
    Some(b"application/vnd.x+json"),
    Some(b"APPLICATION/JSON"),
    Some(b"\xff\x01bad"),
];

fuzz_target!(|data: &[u8]| {
    let [selector, query_len, rest @ ..] = data else {
        return;
    };
    let (query, body) = rest.split_at(usize::from(*query_len).min(rest.len()));
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let content_type = TYPES[usize::from(selector & 7)];
    let mut headers = HeaderMap::new();
    if let Some(ct) = content_type
        && let Ok(value) = HeaderValue::from_bytes(ct)
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let query = (selector & 8 == 0).then_some(query);
    let parsed = Params::parse(
        query,
        headers.get(header::CONTENT_TYPE),
        Ok(Bytes::copy_from_slice(body)),
    );

    let trimmed = body.trim_ascii();
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let json = !trimmed.is_empty()
        && match declared.as_deref() {
            Some(ct) => ct == "application/json" || ct.ends_with("+json"),
            None => trimmed.first() == Some(&b'{'),
        };
    let Ok(params) = parsed else {
        assert!(json, "only a JSON body is refused");
        let scalar_object = serde_json::from_slice::<serde_json::Value>(trimmed)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .is_some_and(|m| m.values().all(|v| !v.is_array() && !v.is_object()));
        assert!(!scalar_object, "a JSON object of scalars is accepted");
        return;
    };
    let debug = format!("{params:?}");
    let mut names = std::collections::BTreeSet::new();
    if json {
        let value: serde_json::Value =
            serde_json::from_slice(trimmed).expect("an accepted JSON body parses");
        let object = value
            .as_object()
            .expect("an accepted JSON body is an object");
        for (name, value) in object {
            assert!(!value.is_array() && !value.is_object());
            if !value.is_null() {
                names.insert(name.clone());
            }
            match value {
                serde_json::Value::String(s) => assert_eq!(params.get(name), Some(s.as_str())),
                serde_json::Value::Null => {}
                other => assert_eq!(params.get(name), Some(other.to_string().as_str())),
            }
        }
    } else {
        let mut last = std::collections::BTreeMap::new();
        for (k, v) in form_urlencoded::parse(trimmed) {
            last.insert(k.into_owned(), v.into_owned());
        }
        for (name, value) in &last {
            assert_eq!(params.get(name), Some(value.as_str()));
        }
        names.extend(last.into_keys());
    }
    if let Some(query) = query {
        for (k, _) in form_urlencoded::parse(query.as_bytes()) {
            assert!(params.get(&k).is_some(), "query parameter {k:?} kept");
            names.insert(k.into_owned());
        }
    }
    assert_eq!(debug, format!("{names:?}"), "Debug shows the names only");
    assert_eq!(params.is_empty(), names.is_empty());
});
