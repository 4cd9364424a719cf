//! The fields of an amqtt plugin request, wherever `params_mode` put them.
//!
//! `amqtt/contrib/http.py` (`AuthHttpPlugin._get_params`, amqtt 0.12.1): with `params_mode:
//! json` the fields are a JSON body (aiohttp's `json=`, also with GET); with `params_mode:
//! form` they are the query string for GET (`params=`) and an urlencoded body for POST and
//! PUT (`FormData`). JSON values are strings, `acc` a number, and `password` (or `username`)
//! `null` when the client sent none; form values are all strings, and aiohttp leaves out
//! nothing (a `None` becomes the text `None`, so forms are read as sent).

use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde_json::Value;
use zeroize::Zeroizing;

/// Why a request's fields could not be read (never holds a field's value).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamsError {
    /// The body is not a JSON object.
    #[error("the body is not a JSON object")]
    NotJsonObject,
    /// The body is not UTF-8 form data.
    #[error("the form body is not UTF-8")]
    BadForm,
    /// A content type other than JSON or an urlencoded form.
    #[error("unsupported content type (want application/json or application/x-www-form-urlencoded)")]
    ContentType,
    /// A field is missing (or JSON `null`).
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field has the wrong type (an object, an array, a boolean).
    #[error("field `{0}` must be a string or a number")]
    Type(String),
    /// A field appears twice.
    #[error("field `{0}` appears twice")]
    Duplicate(String),
}

/// A request's fields: names to text (numbers as their decimal text); `None` for JSON `null`.
#[derive(Default)]
pub struct Params {
    fields: HashMap<String, Option<Zeroizing<String>>>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the password is one of the values.
        f.debug_struct("Params")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Params {
    /// Reads the fields from the query string and the body (by its content type).
    pub fn parse(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<Self, ParamsError> {
        let mut params = Self::default();
        if let Some(query) = query {
            params.add_form(query.as_bytes())?;
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(params);
        }
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match content_type.as_str() {
            "application/json" => params.add_json(body)?,
            "application/x-www-form-urlencoded" => params.add_form(body)?,
            // aiohttp always names the type; a body without one is tried as JSON.
            "" if body.first() == Some(&b'{') => params.add_json(body)?,
            _ => return Err(ParamsError::ContentType),
        }
        Ok(params)
    }

    fn insert(&mut self, name: String, value: Option<Zeroizing<String>>) -> Result<(), ParamsError> {
        if self.fields.contains_key(&name) {
            return Err(ParamsError::Duplicate(name));
        }
        self.fields.insert(name, value);
        Ok(())
    }

    fn add_form(&mut self, text: &[u8]) -> Result<(), ParamsError> {
        if std::str::from_utf8(text).is_err() {
            return Err(ParamsError::BadForm);
        }
        for (name, value) in form_urlencoded::parse(text) {
            self.insert(name.into_owned(), Some(Zeroizing::new(value.into_owned())))?;
        }
        Ok(())
    }

    fn add_json(&mut self, body: &[u8]) -> Result<(), ParamsError> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Err(ParamsError::NotJsonObject);
        };
        for (name, value) in map {
            let text = match value {
                Value::String(s) => Some(Zeroizing::new(s)),
                Value::Number(n) => Some(Zeroizing::new(n.to_string())),
                Value::Null => None,
                _ => return Err(ParamsError::Type(name)),
            };
            self.insert(name, text)?;
        }
        Ok(())
    }

    /// A field that must be present (and not `null`).
    pub fn required(&self, name: &'static str) -> Result<&str, ParamsError> {
        self.optional(name).ok_or(ParamsError::Missing(name))
    }

    /// A field that may be missing or `null`.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(|v| v.as_ref())
            .map(|v| v.as_str())
    }

    /// Whether the field is there (even as `null`).
    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, content_type.parse().unwrap());
        h
    }

    #[test]
    fn json_form_and_query() {
        let p = Params::parse(
            None,
            &headers("application/json"),
            br#"{"username":"u","password":null,"acc":4}"#,
        )
        .unwrap();
        assert_eq!(p.required("username").unwrap(), "u");
        assert_eq!(p.optional("password"), None);
        assert!(p.has("password"));
        assert_eq!(p.required("acc").unwrap(), "4");
        let p = Params::parse(
            None,
            &headers("application/x-www-form-urlencoded"),
            b"username=a%2Fb&acc=2",
        )
        .unwrap();
        assert_eq!(p.required("username").unwrap(), "a/b");
        let p = Params::parse(Some("username=x&topic=t%2F1"), &HeaderMap::new(), b"").unwrap();
        assert_eq!(p.required("topic").unwrap(), "t/1");
        assert!(format!("{p:?}").contains("topic"));
    }

    #[test]
    fn bad_bodies_are_errors() {
        let json = headers("application/json");
        assert_eq!(
            Params::parse(None, &json, b"[1]").unwrap_err(),
            ParamsError::NotJsonObject
        );
        assert_eq!(
            Params::parse(None, &json, b"{\"a\":").unwrap_err(),
            ParamsError::NotJsonObject
        );
        assert!(matches!(
            Params::parse(None, &json, br#"{"a":{}}"#).unwrap_err(),
            ParamsError::Type(_)
        ));
        assert_eq!(
            Params::parse(None, &headers("text/plain"), b"x").unwrap_err(),
            ParamsError::ContentType
        );
        assert!(matches!(
            Params::parse(Some("a=1"), &headers("application/x-www-form-urlencoded"), b"a=2")
                .unwrap_err(),
            ParamsError::Duplicate(_)
        ));
        let p = Params::parse(None, &json, b"{}").unwrap();
        assert_eq!(p.required("username").unwrap_err(), ParamsError::Missing("username"));
    }
}
