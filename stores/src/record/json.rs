//! The JSON form of [`CredentialRecord`]s: one object, an array of objects, or JSON lines
//! (one object per line; blank lines ignored). Field names are those of the record; an
//! unknown field is an error (a typo never drops data silently).
//!
//! Errors name the line (one object, JSON lines) or the place in the array, and the user.
//!
//! ```
//! use mqtt_scram_stores::record::json;
//! let users = json::read(r#"{"username":"user","mechanism":"SCRAM-SHA-256","iterations":4096,
//!     "salt":"W22ZaJ0SNY7soEsUEjb6gQ==",
//!     "stored_key":"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
//!     "server_key":"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="}"#)?;
//! assert!(users[0].1.credentials.verify_password("pencil")?);
//! let bad = json::read("{\"username\":\"a\"}\n{\"username\":").unwrap_err();
//! assert!(bad.to_string().starts_with("line 1: missing field"), "{bad}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use mqtt_scram::provider::UserRecord;
use serde_json::Value;

use super::{CredentialRecord, Position, RecordError, redact_values, validate};

/// Reads one object, an array of objects or JSON lines; every record is validated.
pub fn read(text: &str) -> Result<Vec<(String, UserRecord)>, RecordError> {
    validate(read_raw(text)?)
}

/// The JSON reader under its historical name: [`read`].
pub fn parse_records(text: &str) -> Result<Vec<(String, UserRecord)>, RecordError> {
    read(text)
}

/// Reads the records without validating them (shape only), with their positions.
pub fn read_raw(text: &str) -> Result<Vec<(Position, CredentialRecord)>, RecordError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('[') {
        let values: Vec<Value> = serde_json::from_str(text).map_err(|e| syntax(&e, 1))?;
        return values
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                let at = Position::Record(i + 1);
                serde_json::from_value(value)
                    .map(|r| (at, r))
                    .map_err(|e| RecordError::Syntax {
                        at,
                        message: redact_values(&e.to_string()),
                    })
            })
            .collect();
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<CredentialRecord>();
    let mut lines = LineCounter::default();
    let mut out = Vec::new();
    loop {
        let offset = stream.byte_offset();
        let start = lines.line_of_next_value(text, offset);
        match stream.next() {
            None => return Ok(out),
            Some(Ok(record)) => out.push((Position::Line(start), record)),
            Some(Err(e)) => return Err(syntax(&e, start)),
        }
    }
}

/// A serde_json error at its line (or at `fallback` when it has none), without the values
/// it quotes.
fn syntax(e: &serde_json::Error, fallback: usize) -> RecordError {
    let line = if e.line() > 0 { e.line() } else { fallback };
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = match message.strip_suffix(&suffix) {
        Some(m) => format!("{} (column {})", redact_values(m), e.column()),
        None => redact_values(&message),
    };
    RecordError::Syntax {
        at: Position::Line(line),
        message,
    }
}

/// Counts lines incrementally while the stream advances.
#[derive(Default)]
struct LineCounter {
    counted_to: usize,
    newlines: usize,
}

impl LineCounter {
    /// The 1-based line where the next value starts (after whitespace at `offset`).
    fn line_of_next_value(&mut self, text: &str, offset: usize) -> usize {
        let rest = text.get(offset..).unwrap_or_default();
        let start = offset + (rest.len() - rest.trim_start().len());
        if let Some(between) = text.get(self.counted_to..start) {
            self.newlines += between.matches('\n').count();
            self.counted_to = start;
        }
        self.newlines + 1
    }
}

/// One record as a single-line JSON object (no trailing newline).
pub fn write_object(record: &CredentialRecord) -> Result<String, RecordError> {
    serde_json::to_string(record).map_err(|e| RecordError::Encode {
        username: record.username.clone(),
        message: e.to_string(),
    })
}

/// JSON lines: one object per line, each followed by a newline.
pub fn write_lines(records: &[CredentialRecord]) -> Result<String, RecordError> {
    let mut out = String::new();
    for record in records {
        out.push_str(&write_object(record)?);
        out.push('\n');
    }
    Ok(out)
}

/// A JSON array, one object per line.
pub fn write_array(records: &[CredentialRecord]) -> Result<String, RecordError> {
    let items = records
        .iter()
        .map(write_object)
        .collect::<Result<Vec<_>, _>>()?;
    if items.is_empty() {
        return Ok("[]\n".into());
    }
    Ok(format!("[\n  {}\n]\n", items.join(",\n  ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::read_records;

    const RFC: &str = r#"{"username":"user","mechanism":"SCRAM-SHA-256","iterations":4096,"salt":"W22ZaJ0SNY7soEsUEjb6gQ==","stored_key":"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=","server_key":"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="}"#;

    #[test]
    fn round_trip_and_shapes() {
        let one = read(RFC).unwrap();
        assert_eq!(one.len(), 1);
        let (name, rec) = &one[0];
        assert_eq!(name, "user");
        assert!(rec.credentials.verify_password("pencil").unwrap());
        let back = write_object(&CredentialRecord::new(name, rec)).unwrap();
        assert_eq!(read(&back).unwrap(), one);
        let bob = RFC.replace("\"user\"", "\"bob\"");
        let array = format!("[{RFC},{bob}]");
        assert_eq!(read(&array).unwrap().len(), 2);
        let lines = format!("\u{feff}{RFC}\n\n{bob}\n");
        assert_eq!(read(&lines).unwrap().len(), 2);
        assert!(read("").unwrap().is_empty());
        assert!(read("[]").unwrap().is_empty());
        let records: Vec<_> = one
            .iter()
            .map(|(n, r)| CredentialRecord::new(n, r))
            .collect();
        assert_eq!(read(&write_array(&records).unwrap()).unwrap(), one);
        assert_eq!(read(&write_lines(&records).unwrap()).unwrap(), one);
        assert_eq!(write_array(&[]).unwrap(), "[]\n");
    }

    #[test]
    fn errors_name_the_record_and_hide_values() {
        let short = RFC.replace("WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=", "WG5d8oPm");
        let e = read(&format!(
            "{RFC}\n\n{}",
            short.replace("\"user\"", "\"eve\"")
        ))
        .unwrap_err();
        assert!(
            matches!(&e, RecordError::Credentials { at: Position::Line(3), username, .. } if username == "eve"),
            "{e:?}"
        );
        let mech = RFC.replace("SCRAM-SHA-256", "SCRAM-SHA-1");
        let e = read(&mech).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1 (\"user\"): unknown mechanism \"SCRAM-SHA-1\" (expected SCRAM-SHA-256 or SCRAM-SHA-512)"
        );
        let extra = RFC.replace("\"username\"", "\"password\":\"x\",\"username\"");
        let e = read(&extra).unwrap_err();
        assert!(e.to_string().contains("unknown field `password`"), "{e}");
        let e = read(&format!("{RFC}\n{{oops")).unwrap_err();
        assert_eq!(e.position(), Some(Position::Line(2)), "{e}");
        // A key in the wrong field is not repeated.
        let swapped = RFC.replace("4096", "\"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=\"");
        let e = read(&swapped).unwrap_err().to_string();
        assert!(!e.contains("WG5d8oPm") && e.contains("line 1"), "{e}");
        let e = read(&format!("[{RFC},{swapped}]")).unwrap_err();
        assert_eq!(e.position(), Some(Position::Record(2)));
        assert!(!e.to_string().contains("WG5d8oPm"), "{e}");
        let e = read(&format!("[{RFC},\n{RFC}]")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "record 2: a second SCRAM-SHA-256 record for \"user\" (the first is at record 1)"
        );
        let e = read_records("[1]", crate::record::Format::Json).unwrap_err();
        assert!(e.to_string().starts_with("record 1: invalid type"), "{e}");
    }
}
