//! The probe's report: steps printed as they happen (text) or gathered into one JSON object.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::{Status, emit};

/// How the probe ended, and its exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    Rejected,
    ProtocolError,
    ConnectionError,
}

impl Verdict {
    pub fn status(self) -> Status {
        match self {
            Verdict::Accepted => Status::Ok,
            Verdict::Rejected => Status::NoMatch,
            Verdict::ProtocolError => Status::Protocol,
            Verdict::ConnectionError => Status::Connection,
        }
    }
}

/// Collects the steps; prints each at once in text mode.
pub struct Report {
    pub json: bool,
    pub start: Instant,
    pub steps: Vec<Value>,
    pub fields: serde_json::Map<String, Value>,
    pub timings: serde_json::Map<String, Value>,
}

impl Report {
    pub fn step(&mut self, name: &str, text: String, detail: Value) {
        let at_ms = ms(self.start.elapsed());
        if !self.json {
            let _ = emit(&format!("{text}\n"));
        }
        let mut step = json!({ "step": name, "at_ms": at_ms });
        if let (Value::Object(s), Value::Object(d)) = (&mut step, detail) {
            s.extend(d);
        }
        self.steps.push(step);
    }

    pub fn set(&mut self, key: &str, value: Value) {
        self.fields.insert(key.into(), value);
    }

    pub fn time(&mut self, key: &str, d: Duration) {
        self.timings.insert(key.into(), json!(ms(d)));
    }
}

pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}
