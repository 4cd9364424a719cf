//! A reply into named [`Cell`]s: `HGETALL`'s map, `HMGET`'s array, `GET`'s verifier.

use std::string::{String, ToString};
use std::vec::Vec;

use redis::Value;

use super::command::Reply;
use crate::remote::{Cell, Fields, is_known_field};

/// `Ok(None)` when the user does not exist (no key, an empty hash, all fields nil).
pub(crate) fn fields(reply: &Reply, value: Value) -> Result<Option<Fields>, String> {
    let mut fields = Fields::new();
    match reply {
        Reply::Verifier => match value {
            Value::Nil => return Ok(None),
            other => {
                fields.insert("verifier".into(), cell("verifier", other)?);
            }
        },
        Reply::Named(names) => {
            let Value::Array(values) = value else {
                return Err(std::format!(
                    "HMGET answered {}, not an array",
                    kind(&value)
                ));
            };
            if values.len() != names.len() {
                return Err(std::format!(
                    "HMGET answered {} values for {} fields",
                    values.len(),
                    names.len()
                ));
            }
            if values.iter().all(|v| matches!(v, Value::Nil)) {
                return Ok(None);
            }
            for (name, value) in names.iter().zip(values) {
                fields.insert(name.clone(), cell(name, value)?);
            }
        }
        Reply::Map => {
            let pairs: Vec<(Value, Value)> = match value {
                Value::Map(pairs) => pairs,
                Value::Array(flat) => {
                    if flat.len() % 2 != 0 {
                        return Err("HGETALL answered an odd number of values".into());
                    }
                    let mut pairs = Vec::with_capacity(flat.len() / 2);
                    let mut it = flat.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    pairs
                }
                Value::Nil => return Ok(None),
                other => return Err(std::format!("HGETALL answered {}, not a map", kind(&other))),
            };
            if pairs.is_empty() {
                return Ok(None);
            }
            for (key, value) in pairs {
                let Some(name) = text(&key) else {
                    return Err("a hash field name is not text".into());
                };
                // Other fields of the hash (e.g. a password hash for another mechanism)
                // are not ours to judge.
                if is_known_field(&name) {
                    let cell = cell(&name, value)?;
                    fields.insert(name, cell);
                }
            }
        }
    }
    Ok(Some(fields))
}

fn cell(name: &str, value: Value) -> Result<Cell, String> {
    match value {
        Value::Nil => Ok(Cell::Null),
        Value::Int(n) => Ok(Cell::Int(n)),
        Value::BulkString(bytes) => String::from_utf8(bytes)
            .map(Cell::text)
            .map_err(|_| std::format!("field {name} is not UTF-8 text")),
        Value::SimpleString(s) => Ok(Cell::text(s)),
        Value::Boolean(b) => Ok(Cell::Bool(b)),
        Value::ServerError(e) => Err(std::format!("field {name}: server error {}", e.code())),
        other => Err(std::format!(
            "field {name} is {}, not a string",
            kind(&other)
        )),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.to_string()),
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) | Value::SimpleString(_) | Value::VerbatimString { .. } => "a string",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Set(_) => "a set",
        Value::ServerError(_) => "an error",
        _ => "an unexpected type",
    }
}
