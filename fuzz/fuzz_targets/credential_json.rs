//! The credential file's JSON form (`mqtt_scram_stores::record::json`) on arbitrary UTF-8.
//!
//! - never panics;
//! - an error names a position inside the input (a line that exists, or a record);
//! - accepted ⇒ no second record for a user and mechanism; writing the records again (as
//!   JSON lines and as an array) and reading that back gives the same records (nothing is
//!   lost or changed on the way, whatever the usernames, attributes and rules hold);
//! - `read_records(_, Format::Json)` is `json::read`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_scram_stores::record::{CredentialRecord, Format, Position, json, read_records};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let result = json::read(text);
    assert_eq!(
        result.as_ref().map(Vec::len).map_err(ToString::to_string),
        read_records(text, Format::Json)
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
                Some(Position::Record(n)) => assert!(n >= 1, "{e}"),
                None => panic!("a reading error without a position: {e}"),
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
    for written in [json::write_lines(&records), json::write_array(&records)] {
        let written = written.expect("records read back are encodable");
        let again: Vec<CredentialRecord> = json::read(&written)
            .expect("written records read back")
            .iter()
            .map(|(n, r)| CredentialRecord::new(n, r))
            .collect();
        assert_eq!(again, records);
    }
});
