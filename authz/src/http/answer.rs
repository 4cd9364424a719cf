//! Reading the endpoint's answer ([`ResponseMode`]), exactly as the system each mode comes
//! from reads it.

use std::string::String;

use serde_json::Value;

use crate::access::Decision;

/// How the endpoint's answer is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseMode {
    /// EMQX v4 (`emqx_acl_http.erl`; "Authorization succeeded: API returns 200 status
    /// code; ignored: 200 with the message body of `ignore`; denied: status codes other
    /// than 200"): 200 with the body exactly `ignore` is no-match, any other 200 allows,
    /// every other status denies. A username starting with `$` is not asked about
    /// (no-match), as EMQX v4 skips them.
    EmqxV4,
    /// amqtt `response_mode: status`: 2xx allows, 4xx denies, anything else (5xx) is
    /// no-match ("noop").
    Status,
    /// amqtt `response_mode: json`: on 2xx, the body's `ok` key (in any case: amqtt
    /// lowercases the keys) — `true` allows, `false` denies, missing or `null` is no-match;
    /// any other status denies. The reply must be JSON by its content type, as aiohttp's
    /// `response.json()` demands (`application/json`, `application/…+json`); otherwise amqtt
    /// raises and the operation fails, here a deny.
    Json,
    /// amqtt `response_mode: text`: 2xx with the body `ok` in any case, not trimmed
    /// (`ok\n` denies), allows; everything else denies ("noop not supported").
    Text,
}

impl ResponseMode {
    /// Whether the body of a response with `status` is needed.
    pub(crate) fn reads_body(self, status: u16) -> bool {
        match self {
            Self::EmqxV4 => status == 200,
            Self::Status => false,
            Self::Json | Self::Text => (200..300).contains(&status),
        }
    }
}

/// What an answer means: the decision, and a warning where the crate deliberately reads it
/// otherwise than the original.
pub(crate) struct Answer {
    pub(crate) decision: Decision,
    pub(crate) warning: Option<String>,
}

impl From<Decision> for Answer {
    fn from(decision: Decision) -> Self {
        Self {
            decision,
            warning: None,
        }
    }
}

/// Reads an answer as `mode` says. `body` is empty when [`ResponseMode::reads_body`] is
/// false.
pub(crate) fn interpret(
    mode: ResponseMode,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Answer {
    let success = (200..300).contains(&status);
    if mode == ResponseMode::Json && success && !is_json_content_type(content_type) {
        return Answer {
            decision: Decision::Deny(None),
            warning: Some(
                "reply is not application/json (amqtt's response.json() fails the operation)"
                    .into(),
            ),
        };
    }
    match mode {
        ResponseMode::EmqxV4 if status == 200 && body == b"ignore" => Decision::NoMatch.into(),
        ResponseMode::EmqxV4 if status == 200 => Decision::Allow(None).into(),
        ResponseMode::EmqxV4 => Decision::Deny(None).into(),
        ResponseMode::Status if success => Decision::Allow(None).into(),
        ResponseMode::Status if (400..500).contains(&status) => Decision::Deny(None).into(),
        ResponseMode::Status => Decision::NoMatch.into(),
        ResponseMode::Json if success => json(body),
        ResponseMode::Text if success && text_is_ok(body) => Decision::Allow(None).into(),
        ResponseMode::Json | ResponseMode::Text => Decision::Deny(None).into(),
    }
}

/// aiohttp's check for `response.json()`: the content type, lowercased, starts with
/// `application/json` or `application/<word chars . + ->+json`.
fn is_json_content_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let value = value.trim().to_lowercase();
    let Some(rest) = value.strip_prefix("application/") else {
        return false;
    };
    if rest.starts_with("json") {
        return true;
    }
    let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '+' | '-');
    rest.char_indices().any(|(i, c)| {
        c == '+'
            && i > 0
            && rest
                .get(i + 1..)
                .is_some_and(|after| after.starts_with("json"))
            && rest.get(..i).is_some_and(|before| before.chars().all(word))
    })
}

fn text_is_ok(body: &[u8]) -> bool {
    body.eq_ignore_ascii_case(b"ok")
}

fn json(body: &[u8]) -> Answer {
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => object,
        Ok(_) | Err(_) => {
            return Answer {
                decision: Decision::Deny(None),
                warning: Some("reply is not a JSON object (amqtt fails the operation)".into()),
            };
        }
    };
    let ok = object
        .iter()
        .filter(|(key, _)| key.to_lowercase() == "ok")
        .map(|(_, value)| value)
        .next_back();
    match ok {
        None | Some(Value::Null) => Decision::NoMatch.into(),
        Some(Value::Bool(true)) => Decision::Allow(None).into(),
        Some(Value::Bool(false)) => Decision::Deny(None).into(),
        Some(other) => Answer {
            decision: Decision::Deny(None),
            warning: Some(std::format!(
                "\"ok\" is {}, not a boolean: denied (amqtt would apply Python truthiness)",
                kind(other)
            )),
        },
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether a superuser endpoint's answer says "superuser". EMQX v4 (`is_superuser/2`):
/// any 200; otherwise an allowing answer.
pub(crate) fn is_superuser(
    mode: ResponseMode,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> bool {
    match mode {
        ResponseMode::EmqxV4 => status == 200,
        _ => interpret(mode, status, content_type, body)
            .decision
            .is_allowed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(mode: ResponseMode, status: u16, body: &str) -> Decision {
        interpret(mode, status, Some("application/json"), body.as_bytes()).decision
    }

    #[test]
    fn emqx_v4() {
        use ResponseMode::EmqxV4;
        assert_eq!(decide(EmqxV4, 200, "ignore"), Decision::NoMatch);
        assert_eq!(decide(EmqxV4, 200, "ignore\n"), Decision::Allow(None));
        assert_eq!(decide(EmqxV4, 200, ""), Decision::Allow(None));
        for status in [204, 302, 401, 403, 500, 503] {
            assert_eq!(decide(EmqxV4, status, ""), Decision::Deny(None), "{status}");
        }
        assert!(is_superuser(EmqxV4, 200, None, b"ignore"));
        assert!(!is_superuser(EmqxV4, 204, None, b""));
    }

    #[test]
    fn amqtt_modes() {
        use ResponseMode::{Json, Status, Text};
        assert_eq!(decide(Status, 204, ""), Decision::Allow(None));
        assert_eq!(decide(Status, 403, ""), Decision::Deny(None));
        assert_eq!(decide(Status, 503, ""), Decision::NoMatch);
        assert_eq!(decide(Json, 200, r#"{"OK": true}"#), Decision::Allow(None));
        assert_eq!(decide(Json, 200, r#"{"Ok": false}"#), Decision::Deny(None));
        assert_eq!(decide(Json, 200, r#"{"error": "x"}"#), Decision::NoMatch);
        assert_eq!(decide(Json, 200, r#"{"ok": null}"#), Decision::NoMatch);
        assert_eq!(decide(Json, 500, r#"{"ok": true}"#), Decision::Deny(None));
        assert_eq!(decide(Json, 404, ""), Decision::Deny(None));
        assert!(
            interpret(Json, 200, Some("application/json"), br#"{"ok": 1}"#)
                .warning
                .is_some()
        );
        // aiohttp: `^application/(?:[\w.+-]+?\+)?json`.
        let ok = br#"{"ok": true}"#;
        for (content_type, allowed) in [
            (Some("application/json; charset=utf-8"), true),
            (Some("Application/JSON"), true),
            (Some("application/vnd.acl+json"), true),
            (Some("text/plain"), false),
            (Some("application/xml"), false),
            (Some("application/+json"), false),
            (None, false),
        ] {
            assert_eq!(
                interpret(Json, 200, content_type, ok).decision.is_allowed(),
                allowed,
                "{content_type:?}"
            );
        }
        assert_eq!(decide(Json, 200, "nope"), Decision::Deny(None));
        assert_eq!(decide(Text, 200, "OK"), Decision::Allow(None));
        assert_eq!(decide(Text, 200, "ok\n"), Decision::Deny(None));
        assert_eq!(decide(Text, 200, " ok"), Decision::Deny(None));
        assert_eq!(decide(Text, 500, "ok"), Decision::Deny(None));
        assert_eq!(decide(Text, 503, ""), Decision::Deny(None));
    }
}
