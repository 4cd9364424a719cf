//! Answers in the `response_mode` amqtt's plugins are configured with, shaped exactly as
//! `amqtt/contrib/http.py` (`AuthHttpPlugin._send_request`, amqtt 0.12.1) reads them:
//!
//! | mode | allow | deny | no opinion (`None`) |
//! |---|---|---|---|
//! | `status` | 2xx | 4xx | any other status (5xx) |
//! | `json` | 2xx `{"ok": true}` | 2xx `{"ok": false}` (or non-2xx) | 2xx without an `ok` key |
//! | `text` | 2xx body `ok` (case-insensitive) | anything else | — (not supported: deny) |
//!
//! The broker (`Broker._authenticate`) ignores plugins answering `None` and refuses a client
//! when no plugin answered a boolean; topic checks (`Broker._topic_filtering`) treat `None`
//! as a refusal.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// `response_mode`: the answer format amqtt's plugins are configured with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ResponseMode {
    /// The status code decides: 2xx allow, 4xx deny, 5xx no opinion.
    Status,
    /// `{"ok": true|false}`; without `ok`, no opinion (amqtt's default mode).
    #[default]
    Json,
    /// The body `ok` allows, anything else denies.
    Text,
}

/// What the service decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Refused.
    Deny,
    /// No rule matched: amqtt should decide by its other plugins.
    NoOpinion,
    /// The service cannot decide now (store down or slow, PBKDF2 work saturated).
    Unavailable,
}

impl Decision {
    /// The HTTP answer in `mode`.
    pub fn answer(self, mode: ResponseMode) -> Response {
        match (mode, self) {
            (ResponseMode::Status, Self::Allow) => (StatusCode::OK, "ok").into_response(),
            (ResponseMode::Status, Self::Deny) => {
                (StatusCode::FORBIDDEN, "not authorized").into_response()
            }
            (ResponseMode::Status, Self::NoOpinion) => {
                // amqtt's documented "noop" is any 5xx; 501: this service has no rule for it.
                (StatusCode::NOT_IMPLEMENTED, "no opinion").into_response()
            }
            (ResponseMode::Status | ResponseMode::Text, Self::Unavailable) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response()
            }
            (ResponseMode::Json, Self::Allow) => Json(json!({"ok": true})).into_response(),
            (ResponseMode::Json, Self::Deny) => {
                Json(json!({"ok": false, "error": "not authorized"})).into_response()
            }
            (ResponseMode::Json, Self::NoOpinion) => {
                Json(json!({"error": "no rule matched"})).into_response()
            }
            (ResponseMode::Json, Self::Unavailable) => {
                Json(json!({"error": "unavailable"})).into_response()
            }
            (ResponseMode::Text, Self::Allow) => (StatusCode::OK, "ok").into_response(),
            (ResponseMode::Text, Self::Deny | Self::NoOpinion) => {
                (StatusCode::OK, "error").into_response()
            }
        }
    }
}
