//! Request parameters as the brokers send them: the query string, then a form or JSON body
//! (the body's values win). One parser for every contract; malformed input is a
//! [`Rejection`] (400), never a panic. Values are wiped on drop (passwords travel here).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use zeroize::Zeroizing;

use crate::router::Rejection;

/// Parameters by name. `Debug` shows the names only.
#[derive(Default)]
pub struct Params {
    values: BTreeMap<String, Zeroizing<String>>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Params {
    /// Reads the query string, then the body: JSON when the content type says so (or the
    /// body starts with `{` and no content type is given), form-encoded otherwise. A JSON
    /// body must be an object; strings, numbers and booleans are taken as text, `null` as
    /// absent, nested values refused.
    pub fn parse(
        query: Option<&str>,
        content_type: Option<&HeaderValue>,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Self, Rejection> {
        let body = body.map_err(|e| {
            let status = e.status();
            Rejection::new(
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                },
                format!("cannot read the body: {}", e.body_text()),
            )
        })?;
        let mut params = Self::default();
        if let Some(query) = query {
            params.add_form(query.as_bytes());
        }
        let body = body.trim_ascii();
        if body.is_empty() {
            return Ok(params);
        }
        let content_type = content_type.and_then(|v| v.to_str().ok()).map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let json = match content_type.as_deref() {
            Some(ct) => ct == "application/json" || ct.ends_with("+json"),
            None => body.first() == Some(&b'{'),
        };
        if json {
            params.add_json(body)?;
        } else {
            params.add_form(body);
        }
        Ok(params)
    }

    fn add_form(&mut self, text: &[u8]) {
        for (k, v) in form_urlencoded::parse(text) {
            self.values
                .insert(k.into_owned(), Zeroizing::new(v.into_owned()));
        }
    }

    fn add_json(&mut self, body: &[u8]) -> Result<(), Rejection> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Rejection::bad_request(format!("malformed JSON body: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(Rejection::bad_request("JSON body: expected an object"));
        };
        for (k, v) in map {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => continue,
                _ => {
                    return Err(Rejection::bad_request(format!(
                        "JSON body: {k:?} must be a string, number or boolean"
                    )));
                }
            };
            self.values.insert(k, Zeroizing::new(text));
        }
        Ok(())
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|v| v.as_str())
    }

    /// The value of `name`, or a 400 naming it.
    pub fn require(&self, name: &str) -> Result<&str, Rejection> {
        self.get(name)
            .ok_or_else(|| Rejection::bad_request(format!("missing parameter {name:?}")))
    }

    /// Whether there is no parameter.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Extracts the parameters of a request (query string, then body; see [`Params::parse`])
/// without copying its headers: only the content type and the query are read.
impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        let uri = request.uri().clone();
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        let body = Bytes::from_request(request, state).await;
        Self::parse(uri.query(), content_type.as_ref(), body)
    }
}
