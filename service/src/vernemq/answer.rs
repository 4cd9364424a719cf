//! The webhook answers, shaped as `vmq_webhooks_plugin.erl` parses them
//! (`decode_endpoint_response`, `handle_response`, `parse_headers`): HTTP 200 with a JSON
//! body; `{"result": "ok"}` (with `modifiers`, or `topics` for `auth_on_subscribe`),
//! `{"result": "next"}`, `{"result": {"error": …}}`; any other status is an error VerneMQ
//! turns into a refusal. `cache-control: max-age=N` makes VerneMQ cache an `ok` answer of
//! the auth hooks for N seconds (`vmq_webhooks_cache`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// `{"result": "ok"}` with `extra` members (`modifiers`, `topics`), cached for `max_age`
/// seconds when set.
pub fn ok(extra: Option<(&str, Value)>, max_age: Option<u32>) -> Response {
    let mut body = json!({"result": "ok"});
    if let (Some((key, value)), Some(map)) = (extra, body.as_object_mut()) {
        map.insert(key.to_owned(), value);
    }
    let mut response = Json(body).into_response();
    if let Some(seconds) = max_age.filter(|s| *s > 0)
        && let Ok(value) = HeaderValue::from_str(&format!("max-age={seconds}"))
    {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// `{"result": "next"}`: this service has no opinion; VerneMQ asks its next plugin.
pub fn next() -> Response {
    Json(json!({"result": "next"})).into_response()
}

/// `{"result": {"error": reason}}`: VerneMQ refuses (`{error, Reason}`).
pub fn error(reason: &str) -> Response {
    Json(json!({"result": {"error": reason}})).into_response()
}

/// The store is down or slow, or password work is saturated: 503, which VerneMQ reads as
/// `{error, {invalid_response_code, 503}}` and so refuses — never `ok`, and not `next`,
/// which could let `allow_anonymous` or another plugin decide for a user we know.
pub fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n").into_response()
}
