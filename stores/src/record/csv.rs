//! The CSV form of [`CredentialRecord`]s: a header row naming the columns (any order), then
//! one record per row.
//!
//! - Required columns: `username,mechanism,iterations,salt,stored_key,server_key` (salt and
//!   keys in standard base64, as in the JSON form).
//! - Optional columns: `is_superuser` (`true`/`false`/`1`/`0`, any case; empty = false),
//!   `client_attrs` (a JSON object of strings in one cell), `expire_at` (Unix seconds),
//!   `acl` (a JSON array of EMQX rules in one cell). An empty cell means "not set".
//! - RFC 4180 quoting: a cell with a comma, a quote or a line break is quoted (`"a,b"`,
//!   `""` for a quote); a quoted cell may span lines. Blank lines are ignored. A UTF-8 BOM
//!   is skipped. Cells other than `username` are trimmed.
//! - An unknown or repeated column is an error (a typo never drops data silently).
//!
//! [`write()`] writes every column in the order of [`COLUMNS`]. Errors name the line.
//!
//! ```
//! use mqtt_scram_stores::record::{CredentialRecord, csv};
//! let text = "username,mechanism,iterations,salt,stored_key,server_key,client_attrs,expire_at\n\
//!     user,SCRAM-SHA-256,4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,\
//!     wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=,\"{\"\"site\"\":\"\"berlin\"\"}\",1900000000\n";
//! let users = csv::read(text)?;
//! let (name, record) = &users[0];
//! assert_eq!(record.attributes.client_attrs["site"], "berlin");
//! assert_eq!(record.attributes.expire_at, Some(1_900_000_000));
//! let out = csv::write(&[CredentialRecord::new(name, record)])?;
//! assert_eq!(csv::read(&out)?, users);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use mqtt_scram::provider::UserRecord;

use super::{CredentialRecord, Position, RecordError, redact_values, validate};

/// Every column, in the order [`write()`] writes them.
pub const COLUMNS: [&str; 10] = [
    "username",
    "mechanism",
    "iterations",
    "salt",
    "stored_key",
    "server_key",
    "is_superuser",
    "client_attrs",
    "expire_at",
    "acl",
];

/// How many of [`COLUMNS`] (the first ones) every file must have.
pub const REQUIRED_COLUMNS: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Username,
    Mechanism,
    Iterations,
    Salt,
    StoredKey,
    ServerKey,
    IsSuperuser,
    ClientAttrs,
    ExpireAt,
    Acl,
}

const ALL: [Column; 10] = [
    Column::Username,
    Column::Mechanism,
    Column::Iterations,
    Column::Salt,
    Column::StoredKey,
    Column::ServerKey,
    Column::IsSuperuser,
    Column::ClientAttrs,
    Column::ExpireAt,
    Column::Acl,
];

impl Column {
    fn name(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Mechanism => "mechanism",
            Self::Iterations => "iterations",
            Self::Salt => "salt",
            Self::StoredKey => "stored_key",
            Self::ServerKey => "server_key",
            Self::IsSuperuser => "is_superuser",
            Self::ClientAttrs => "client_attrs",
            Self::ExpireAt => "expire_at",
            Self::Acl => "acl",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The cell of `record` for this column.
    fn value(self, record: &CredentialRecord) -> Result<String, RecordError> {
        let json = |r: Result<String, serde_json::Error>| {
            r.map_err(|e| RecordError::Encode {
                username: record.username.clone(),
                message: e.to_string(),
            })
        };
        Ok(match self {
            Self::Username => record.username.clone(),
            Self::Mechanism => record.mechanism.clone(),
            Self::Iterations => record.iterations.to_string(),
            Self::Salt => record.salt.clone(),
            Self::StoredKey => record.stored_key.clone(),
            Self::ServerKey => record.server_key.clone(),
            Self::IsSuperuser => record.is_superuser.to_string(),
            Self::ClientAttrs if record.client_attrs.is_empty() => String::new(),
            Self::ClientAttrs => json(serde_json::to_string(&record.client_attrs))?,
            Self::ExpireAt => record.expire_at.map(|e| e.to_string()).unwrap_or_default(),
            Self::Acl if record.acl.is_empty() => String::new(),
            Self::Acl => json(serde_json::to_string(&record.acl))?,
        })
    }
}

/// Reads the CSV form; every record is validated.
pub fn read(text: &str) -> Result<Vec<(String, UserRecord)>, RecordError> {
    validate(read_raw(text)?)
}

/// Reads the records without validating salt, keys and rules, with their lines. Cells are
/// checked for their type (number, boolean, JSON).
pub fn read_raw(text: &str) -> Result<Vec<(Position, CredentialRecord)>, RecordError> {
    let mut rows = Rows::new(text);
    let Some((header_line, header)) = rows.next_row()? else {
        return Ok(Vec::new());
    };
    let columns = parse_header(&header, header_line)?;
    let mut out = Vec::new();
    while let Some((line, row)) = rows.next_row()? {
        out.push((Position::Line(line), parse_row(&columns, &row, line)?));
    }
    Ok(out)
}

/// Writes a header with every column ([`COLUMNS`]) and one row per record.
pub fn write(records: &[CredentialRecord]) -> Result<String, RecordError> {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    out.push_str(&write_rows(&ALL, records)?);
    Ok(out)
}

/// `old` (a CSV file's text, possibly empty) with `record` added as a last row, in the
/// column order of the file's header (a new file gets every column). A record with a value
/// for a column the header lacks is refused rather than written without it.
pub(crate) fn append(old: &str, record: &CredentialRecord) -> Result<String, RecordError> {
    let mut rows = Rows::new(old);
    let Some((line, header)) = rows.next_row()? else {
        return write(std::slice::from_ref(record));
    };
    let columns = parse_header(&header, line)?;
    for column in ALL {
        if !columns.contains(&column) && !column.value(record)?.is_empty() {
            let default = matches!(column, Column::IsSuperuser) && !record.is_superuser;
            if !default {
                return Err(RecordError::Syntax {
                    at: Position::Line(line),
                    message: format!(
                        "the header has no {} column; {:?}'s {} would be lost",
                        column.name(),
                        record.username,
                        column.name()
                    ),
                });
            }
        }
    }
    let mut out = old.trim_end_matches(['\n', '\r']).to_string();
    out.push('\n');
    out.push_str(&write_rows(&columns, std::slice::from_ref(record))?);
    Ok(out)
}

/// The rows of `records` (no header), one csv writer for all of them.
fn write_rows(columns: &[Column], records: &[CredentialRecord]) -> Result<String, RecordError> {
    let mut writer = ::csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let mut cells = Vec::with_capacity(columns.len());
    for record in records {
        let encode = |message: String| RecordError::Encode {
            username: record.username.clone(),
            message,
        };
        cells.clear();
        for column in columns {
            cells.push(column.value(record)?);
        }
        writer
            .write_record(&cells)
            .map_err(|e| encode(e.to_string()))?;
    }
    let encode = |message: String| RecordError::Encode {
        username: String::new(),
        message,
    };
    let bytes = writer.into_inner().map_err(|e| encode(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| encode(e.to_string()))
}

/// The csv crate's records with correct line numbers (its own count skips blank lines and
/// line breaks inside quoted cells).
struct Rows<'a> {
    text: &'a str,
    reader: ::csv::Reader<&'a [u8]>,
    record: ::csv::StringRecord,
    counted_to: usize,
    newlines: usize,
}

impl<'a> Rows<'a> {
    fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        Self {
            text,
            reader,
            record: ::csv::StringRecord::new(),
            counted_to: 0,
            newlines: 0,
        }
    }

    /// The 1-based line where the record that the reader reports at `byte` starts.
    fn line_at(&mut self, byte: usize) -> usize {
        let rest = self.text.get(byte..).unwrap_or_default();
        let start = byte + (rest.len() - rest.trim_start_matches(['\r', '\n']).len());
        if let Some(between) = self.text.get(self.counted_to..start) {
            self.newlines += between.matches('\n').count();
            self.counted_to = start;
        }
        self.newlines + 1
    }

    /// The next row that is not blank, with its line.
    fn next_row(&mut self) -> Result<Option<(usize, Vec<String>)>, RecordError> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                Err(e) => {
                    let byte = e.position().map_or(0, |p| p.byte());
                    let line = self.line_at(usize::try_from(byte).unwrap_or(usize::MAX));
                    return Err(RecordError::Syntax {
                        at: Position::Line(line),
                        message: redact_values(&e.to_string()),
                    });
                }
            }
            let byte = self.record.position().map_or(0, |p| p.byte());
            let line = self.line_at(usize::try_from(byte).unwrap_or(usize::MAX));
            let record = &self.record;
            if record.len() == 1 && record.get(0).is_some_and(|c| c.trim().is_empty()) {
                continue;
            }
            return Ok(Some((line, record.iter().map(String::from).collect())));
        }
    }
}

fn parse_header(header: &[String], line: usize) -> Result<Vec<Column>, RecordError> {
    let bad = |message: String| RecordError::Syntax {
        at: Position::Line(line),
        message,
    };
    let mut columns = Vec::with_capacity(header.len());
    for name in header {
        let Some(column) = Column::from_name(name) else {
            let hint = if name.trim().eq_ignore_ascii_case("password") {
                " (this is a file of derived credentials; `mqtt-scram gen --from-csv` derives them from passwords)"
            } else {
                ""
            };
            return Err(bad(format!(
                "unknown column {name:?}{hint}; the columns are {}",
                COLUMNS.join(",")
            )));
        };
        if columns.contains(&column) {
            return Err(bad(format!("column {:?} appears twice", column.name())));
        }
        columns.push(column);
    }
    if let Some(missing) = ALL
        .iter()
        .take(REQUIRED_COLUMNS)
        .find(|c| !columns.contains(c))
    {
        return Err(bad(format!(
            "missing column {:?} (the header needs {})",
            missing.name(),
            COLUMNS
                .get(..REQUIRED_COLUMNS)
                .unwrap_or_default()
                .join(",")
        )));
    }
    Ok(columns)
}

fn parse_row(
    columns: &[Column],
    row: &[String],
    line: usize,
) -> Result<CredentialRecord, RecordError> {
    let at = Position::Line(line);
    if row.len() != columns.len() {
        return Err(RecordError::Syntax {
            at,
            message: format!(
                "{} fields; the header has {} columns",
                row.len(),
                columns.len()
            ),
        });
    }
    let mut record = CredentialRecord {
        username: String::new(),
        mechanism: String::new(),
        iterations: 0,
        salt: String::new(),
        stored_key: String::new(),
        server_key: String::new(),
        is_superuser: false,
        client_attrs: Default::default(),
        expire_at: None,
        acl: Vec::new(),
    };
    if let Some(name) = columns
        .iter()
        .position(|c| *c == Column::Username)
        .and_then(|i| row.get(i))
    {
        record.username.clone_from(name);
    }
    for (column, cell) in columns.iter().zip(row) {
        let value = cell.trim();
        let field = |message: String| RecordError::Field {
            at,
            username: record.username.clone(),
            field: column.name(),
            message,
        };
        match column {
            Column::Username => {}
            Column::Mechanism => record.mechanism = value.into(),
            Column::Iterations => {
                record.iterations = value
                    .parse()
                    .map_err(|_| field("not a whole number from 1 to 4294967295".into()))?;
            }
            Column::Salt => record.salt = value.into(),
            Column::StoredKey => record.stored_key = value.into(),
            Column::ServerKey => record.server_key = value.into(),
            Column::IsSuperuser => {
                record.is_superuser = match value.to_ascii_lowercase().as_str() {
                    "" | "false" | "0" => false,
                    "true" | "1" => true,
                    _ => return Err(field("expected true, false, 1 or 0".into())),
                };
            }
            Column::ClientAttrs if value.is_empty() => {}
            Column::ClientAttrs => {
                record.client_attrs = serde_json::from_str(value).map_err(|e| {
                    field(format!(
                        "expected a JSON object of strings: {}",
                        redact_values(&e.to_string())
                    ))
                })?;
            }
            Column::ExpireAt if value.is_empty() => {}
            Column::ExpireAt => {
                record.expire_at = Some(
                    value
                        .parse()
                        .map_err(|_| field("not a Unix time in seconds".into()))?,
                );
            }
            Column::Acl if value.is_empty() => {}
            Column::Acl => {
                record.acl = serde_json::from_str(value).map_err(|e| {
                    field(format!(
                        "expected a JSON array of rules: {}",
                        redact_values(&e.to_string())
                    ))
                })?;
            }
        }
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "username,mechanism,iterations,salt,stored_key,server_key";
    const ROW: &str = "SCRAM-SHA-256,4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

    fn err(text: &str) -> RecordError {
        read(text).unwrap_err()
    }

    #[test]
    fn every_field_round_trips() {
        let text = format!(
            "{HEAD},is_superuser,client_attrs,expire_at,acl\n\
             user,{ROW},TRUE,\"{{\"\"a\"\":\"\"b, c\"\"}}\",1900000000,\"[{{\"\"permission\"\":\"\"allow\"\",\"\"action\"\":\"\"publish\"\",\"\"topic\"\":\"\"t/${{username}}\"\"}}]\"\n\
             \"comma, user\",{ROW},,,,\n"
        );
        let users = read(&text).unwrap();
        assert_eq!(users.len(), 2);
        let (name, rec) = &users[0];
        assert_eq!(name, "user");
        assert!(rec.attributes.is_superuser);
        assert_eq!(rec.attributes.client_attrs["a"], "b, c");
        assert_eq!(rec.attributes.expire_at, Some(1_900_000_000));
        assert_eq!(crate::record::acl_rules(rec).len(), 1);
        assert_eq!(users[1].0, "comma, user");
        let records: Vec<_> = users
            .iter()
            .map(|(n, r)| CredentialRecord::new(n, r))
            .collect();
        let out = write(&records).unwrap();
        assert!(out.starts_with(&COLUMNS.join(",")));
        // (Compiled rules compare by identity: compare the records' wire form.)
        let again: Vec<_> = read(&out)
            .unwrap()
            .iter()
            .map(|(n, r)| CredentialRecord::new(n, r))
            .collect();
        assert_eq!(again, records);
        // Columns in any order, blank lines, CRLF, a BOM, a quoted cell over two lines.
        let shuffled = format!(
            "\u{feff}mechanism,iterations,salt,stored_key,server_key,username,client_attrs\r\n\r\n\
             {ROW},bob,\"{{\"\"k\"\":\r\n\"\"v\"\"}}\"\r\n"
        );
        let users = read(&shuffled).unwrap();
        assert_eq!(users[0].0, "bob");
        assert_eq!(users[0].1.attributes.client_attrs["k"], "v");
        assert!(read("").unwrap().is_empty());
        assert!(read(&format!("{HEAD}\n")).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                format!("{HEAD}\n\nuser,{ROW}\n\n\nbad,SCRAM-SHA-1,4096,a,b,c\n"),
                6,
                "unknown mechanism",
            ),
            (
                format!("{HEAD}\nu,{ROW}\nv,{ROW},extra\n"),
                3,
                "7 fields; the header has 6",
            ),
            (format!("{HEAD},colour\n"), 1, "unknown column \"colour\""),
            (format!("{HEAD},password\n"), 1, "gen --from-csv"),
            (format!("{HEAD},salt\n"), 1, "appears twice"),
            (
                "username,mechanism\nx,y\n".into(),
                1,
                "missing column \"iterations\"",
            ),
            (
                format!("{HEAD},is_superuser\n\"a\nb\",{ROW},maybe\n"),
                2,
                "is_superuser: expected true",
            ),
            (
                format!("{HEAD},expire_at\nu,{ROW},soon\n"),
                2,
                "expire_at: not a Unix time",
            ),
            (
                format!("{HEAD},client_attrs\nu,{ROW},[1]\n"),
                2,
                "client_attrs: expected a JSON object",
            ),
            (
                format!(
                    "{HEAD},acl\nu,{ROW},\"[{{\"\"permission\"\":\"\"allow\"\",\"\"action\"\":\"\"all\"\",\"\"topic\"\":\"\"a/#/b\"\"}}]\"\n"
                ),
                2,
                "a/#/b",
            ),
            (
                format!("{HEAD}\nu,{ROW}\nu,{ROW}\n"),
                3,
                "first is at line 2",
            ),
            (format!("{HEAD}\n,{ROW}\n"), 2, "empty username"),
            (
                format!(
                    "{HEAD}\nu,SCRAM-SHA-256,0,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n"
                ),
                2,
                "iteration",
            ),
        ];
        for (text, line, needle) in cases {
            let e = err(&text);
            assert_eq!(e.position(), Some(Position::Line(line)), "{text:?}: {e}");
            assert!(e.to_string().contains(needle), "{text:?}: {e}");
        }
        // Key material in a wrong cell is not repeated.
        for column in ["client_attrs", "is_superuser", "expire_at", "acl"] {
            let e = err(&format!(
                "{HEAD},{column}\nu,{ROW},\"\"\"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=\"\"\"\n"
            ));
            assert!(e.to_string().contains(column), "{e}");
            assert!(!e.to_string().contains("WG5d8oPm"), "{e}");
        }
    }

    #[test]
    fn append_keeps_the_header_and_refuses_lost_fields() {
        let users = read(&format!("{HEAD}\nuser,{ROW}\n")).unwrap();
        let mut record = CredentialRecord::new("bob", &users[0].1);
        let text = append(&format!("{HEAD}\nuser,{ROW}"), &record).unwrap();
        assert_eq!(read(&text).unwrap().len(), 2);
        assert_eq!(text.lines().next(), Some(HEAD));
        record.expire_at = Some(5);
        let e = append(&format!("{HEAD}\n"), &record).unwrap_err();
        assert!(e.to_string().contains("no expire_at column"), "{e}");
        let fresh = append("", &record).unwrap();
        assert_eq!(read(&fresh).unwrap()[0].1.attributes.expire_at, Some(5));
    }
}
