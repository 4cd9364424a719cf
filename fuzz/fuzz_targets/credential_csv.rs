//! The credential file's CSV form (`mqtt_scram_stores::record::csv`) on arbitrary UTF-8.
//!
//! - never panics;
//! - an error names a line that exists in the input;
//! - accepted ⇒ no second record for a user and mechanism; writing the records again (every
//!   column, RFC 4180 quoting) and reading that back gives the same records, whatever the
//!   usernames (commas, quotes, line breaks, spaces), attributes and rules hold; the JSON
//!   form of the same records reads back the same too (one record format, two encodings);
//! - `read_records(_, Format::Csv)` is `csv::read`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_scram_stores::record::{CredentialRecord, Format, Position, csv, json, read_records};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let result = csv::read(text);
    assert_eq!(
        result.as_ref().map(Vec::len).map_err(ToString::to_string),
        read_records(text, Format::Csv)
            .as_ref()
            .map(Vec::len)
            .map_err(ToString::to_string)
    );
    let users = match result {
        Ok(users) => users,
        Err(e) => {
            let lines = text.split('\n').count();
            match e.position() {
                Some(Position::Line(n)) => assert!((1..=lines).contains(&n), "{e}: {lines} lines"),
                other => panic!("a CSV error without a line: {other:?}: {e}"),
            }
            return;
        }
    };
    let mut seen = std::collections::HashSet::new();
    for (name, record) in &users {
        assert!(!name.is_empty());
        assert!(seen.insert((name.clone(), record.credentials.hash())));
    }
    let records: Vec<CredentialRecord> = users
        .iter()
        .map(|(n, r)| CredentialRecord::new(n, r))
        .collect();
    let wire = |users: Vec<(String, mqtt_scram::provider::UserRecord)>| -> Vec<CredentialRecord> {
        users
            .iter()
            .map(|(n, r)| CredentialRecord::new(n, r))
            .collect()
    };
    let written = csv::write(&records).expect("records read back are encodable");
    assert_eq!(
        wire(csv::read(&written).expect("written CSV reads back")),
        records
    );
    let as_json = json::write_lines(&records).expect("encodable as JSON");
    assert_eq!(
        wire(json::read(&as_json).expect("written JSON reads back")),
        records
    );
});
