//! The record formats the tool reads and writes, and their auto-detection.
//!
//! | format     | one record                                              | batch                          |
//! |------------|---------------------------------------------------------|--------------------------------|
//! | `emqx`     | EMQX SCRAM HTTP-service body: hex `stored_key`, `server_key`, `salt`, `is_superuser`, `client_attrs`, `expire_at`, `acl` | same objects plus `username`, JSON array or lines |
//! | `postgres` | `SCRAM-SHA-256$<i>:<salt>$<StoredKey>:<ServerKey>` (SHA-256 only: PostgreSQL knows no other) | `{"username","verifier"}` objects, JSON array or lines |
//! | `json`     | the record format of `mqtt_scram_stores::record` (JSON) | JSON array or lines            |
//! | `csv`      | the same record format as CSV: header + row, every column | header + rows                 |
//!
//! `json` and `csv` are read and written by `mqtt_scram_stores::record`, the codec the file
//! store (and `import`) use, so whatever `gen` writes loads there unchanged.

use std::collections::BTreeMap;

use clap::ValueEnum;
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::{DEFAULT_ITERATIONS, StoredCredentials};
use mqtt_scram::provider::UserRecord;
use mqtt_scram_authz::AclRule;
use mqtt_scram_stores::record::{self, CredentialRecord, acl_rules, with_acl_rules};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Failure;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// EMQX SCRAM HTTP-service response body (hex salt and keys; no iteration count).
    Emqx,
    /// PostgreSQL SCRAM verifier (`rolpassword`), SHA-256 or the SHA-512 analogue.
    Postgres,
    /// The crate's JSON record, loaded by the memory/file store (base64, with mechanism and iterations).
    Json,
    /// CSV with a header row, base64 salt and keys.
    Csv,
}

/// How a batch of JSON records is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Batch {
    /// One JSON array.
    #[default]
    Array,
    /// One JSON object per line (JSON lines).
    Lines,
}

/// One user's credentials, with the username when the source had one.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Username, if known.
    pub username: Option<String>,
    /// Credentials and extras.
    pub record: UserRecord,
}

/// Hints for formats that do not carry everything (EMQX bodies have no iteration count
/// or mechanism; PostgreSQL verifiers have no username).
#[derive(Clone, Debug, Default)]
pub struct Hints {
    /// Username for records without one.
    pub username: Option<String>,
    /// Iteration count for EMQX records (default 4096, EMQX's default).
    pub iterations: Option<u32>,
    /// Hash for EMQX records (default: from the key length).
    pub hash: Option<HashAlgorithm>,
}

#[derive(Serialize, Deserialize)]
struct EmqxBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    stored_key: String,
    server_key: String,
    salt: String,
    #[serde(default)]
    is_superuser: bool,
    #[serde(default)]
    client_attrs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expire_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    acl: Vec<AclRule>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostgresEntry {
    username: String,
    verifier: String,
}

fn username_of<'a>(entry: &'a Entry, format: &str) -> Result<&'a str, Failure> {
    entry
        .username
        .as_deref()
        .ok_or_else(|| Failure::usage(format!("the {format} format needs a username: pass --user")))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| Failure::usage(format!("cannot encode JSON: {e}")))
}

fn emqx_body(entry: &Entry, with_username: bool) -> EmqxBody {
    let hex = entry.record.credentials.to_emqx_hex();
    EmqxBody {
        username: entry.username.clone().filter(|_| with_username),
        stored_key: hex.stored_key.clone(),
        server_key: hex.server_key.clone(),
        salt: hex.salt.clone(),
        is_superuser: entry.record.attributes.is_superuser,
        client_attrs: entry.record.attributes.client_attrs.clone(),
        expire_at: entry.record.attributes.expire_at,
        acl: acl_rules(&entry.record),
    }
}

/// Renders entries. `batch` is `None` for a single record (exactly one entry expected),
/// which prints the bare form (a verifier line, one object, one CSV row after the header).
pub fn render(entries: &[Entry], format: Format, batch: Option<Batch>) -> Result<String, Failure> {
    if matches!(format, Format::Json | Format::Csv) {
        let records = entries
            .iter()
            .map(|e| {
                let name = username_of(
                    e,
                    if format == Format::Json {
                        "json"
                    } else {
                        "csv"
                    },
                )?;
                Ok(CredentialRecord::new(name, &e.record))
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        let text = match (format, batch) {
            (Format::Csv, _) => record::csv::write(&records),
            (_, Some(Batch::Array)) => record::json::write_array(&records),
            _ => record::json::write_lines(&records),
        };
        return text.map_err(Failure::usage);
    }
    let mut items = Vec::with_capacity(entries.len());
    for entry in entries {
        let item = match (format, batch) {
            (Format::Postgres, None) => entry.record.credentials.to_postgres(),
            (Format::Postgres, Some(_)) => to_json(&PostgresEntry {
                username: username_of(entry, "postgres batch")?.to_owned(),
                verifier: entry.record.credentials.to_postgres(),
            })?,
            _ => to_json(&emqx_body(entry, batch.is_some()))?,
        };
        items.push(item);
    }
    Ok(match batch {
        None | Some(Batch::Lines) => items.iter().map(|i| format!("{i}\n")).collect(),
        Some(Batch::Array) => format!("[\n  {}\n]\n", items.join(",\n  ")),
    })
}

/// What [`parse`] found: the entries and whether the input was a batch (array, several
/// lines or rows) rather than one bare record.
pub struct Parsed {
    /// Entries in input order.
    pub entries: Vec<Entry>,
    /// Whether the input was a batch.
    pub batch: bool,
}

/// Reads records in any supported format, detected from the text.
pub fn parse(text: &str, hints: &Hints) -> Result<Parsed, Failure> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(Failure::usage("no record found: the input is empty"));
    }
    let parsed = if trimmed.starts_with("SCRAM-") {
        parse_verifiers(trimmed, hints)?
    } else if trimmed.starts_with('{') || trimmed.starts_with('[') {
        parse_json(trimmed, hints)?
    } else if is_csv_header(trimmed) {
        let entries = records(record::csv::read(text).map_err(Failure::usage)?);
        Parsed {
            batch: entries.len() > 1,
            entries,
        }
    } else {
        return Err(Failure::usage(
            "unrecognised record format: expected a PostgreSQL verifier (SCRAM-SHA-...$...), JSON (emqx or json format) or CSV with a header naming a username column",
        ));
    };
    if parsed.entries.is_empty() {
        return Err(Failure::usage("no record found: the input has no records"));
    }
    Ok(parsed)
}

/// Whether the first line of `text` is a CSV header with a `username` column.
fn is_csv_header(text: &str) -> bool {
    text.lines().next().is_some_and(|header| {
        header
            .split(',')
            .any(|c| c.trim().trim_matches('"').eq_ignore_ascii_case("username"))
    })
}

fn records(users: Vec<(String, UserRecord)>) -> Vec<Entry> {
    users
        .into_iter()
        .map(|(username, record)| Entry {
            username: Some(username),
            record,
        })
        .collect()
}

fn parse_verifiers(text: &str, hints: &Hints) -> Result<Parsed, Failure> {
    let mut entries = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let credentials = StoredCredentials::from_postgres(line)
            .map_err(|e| Failure::usage(format!("line {}: {e}", i + 1)))?;
        entries.push(Entry {
            username: hints.username.clone(),
            record: UserRecord::new(credentials),
        });
    }
    Ok(Parsed {
        batch: entries.len() > 1,
        entries,
    })
}

fn parse_json(text: &str, hints: &Hints) -> Result<Parsed, Failure> {
    let (values, batch) = if text.starts_with('[') {
        let values: Vec<Value> = serde_json::from_str(text)
            .map_err(|e| Failure::usage(format!("invalid JSON array: {e}")))?;
        (values, true)
    } else {
        let mut values = Vec::new();
        for (i, value) in serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .enumerate()
        {
            values.push(
                value
                    .map_err(|e| Failure::usage(format!("record {}: invalid JSON: {e}", i + 1)))?,
            );
        }
        let batch = values.len() > 1;
        (values, batch)
    };
    // The crate's own records go through the store's codec as a whole.
    if values
        .first()
        .and_then(Value::as_object)
        .is_some_and(|o| o.contains_key("mechanism"))
    {
        let entries = records(record::json::read(text).map_err(Failure::usage)?);
        return Ok(Parsed { entries, batch });
    }
    let mut entries = Vec::with_capacity(values.len());
    for (i, value) in values.into_iter().enumerate() {
        let index = i + 1;
        let bad = |what: &dyn std::fmt::Display| Failure::usage(format!("record {index}: {what}"));
        let Value::Object(object) = &value else {
            return Err(bad(&"expected a JSON object"));
        };
        let entry = if object.contains_key("verifier") {
            let p: PostgresEntry = serde_json::from_value(value).map_err(|e| bad(&e))?;
            let credentials = StoredCredentials::from_postgres(&p.verifier).map_err(|e| bad(&e))?;
            Entry {
                username: Some(p.username),
                record: UserRecord::new(credentials),
            }
        } else if object.contains_key("stored_key") {
            let body: EmqxBody = serde_json::from_value(value).map_err(|e| bad(&e))?;
            emqx_entry(body, hints).map_err(|e| bad(&e.message))?
        } else {
            return Err(bad(
                &"not a known record: expected \"mechanism\" (json), \"stored_key\" (emqx) or \"verifier\" (postgres batch)",
            ));
        };
        entries.push(entry);
    }
    for entry in &mut entries {
        if entry.username.is_none() {
            entry.username.clone_from(&hints.username);
        }
    }
    Ok(Parsed { entries, batch })
}

fn emqx_entry(body: EmqxBody, hints: &Hints) -> Result<Entry, Failure> {
    let hash = match hints.hash {
        Some(h) => h,
        None => match body.stored_key.trim().len() {
            64 => HashAlgorithm::Sha256,
            128 => HashAlgorithm::Sha512,
            n => {
                return Err(Failure::usage(format!(
                    "stored_key is {n} hex digits; SHA-256 needs 64 and SHA-512 needs 128 (or pass --mechanism)"
                )));
            }
        },
    };
    let iterations = hints.iterations.unwrap_or(DEFAULT_ITERATIONS);
    let credentials = StoredCredentials::from_emqx_hex(
        hash,
        &body.salt,
        &body.stored_key,
        &body.server_key,
        iterations,
    )
    .map_err(Failure::usage)?;
    let record = UserRecord::new(credentials)
        .superuser(body.is_superuser)
        .client_attrs(body.client_attrs)
        .expire_at(body.expire_at);
    let record =
        with_acl_rules(record, &body.acl).map_err(|e| Failure::usage(format!("acl: {e}")))?;
    Ok(Entry {
        username: body.username,
        record,
    })
}

/// Where records are read from: `--record TEXT`, a file, or stdin (`-` or nothing).
#[derive(Debug, clap::Args)]
pub struct Input {
    /// File holding the record(s); `-` or nothing reads stdin.
    #[arg(value_name = "FILE", conflicts_with = "record")]
    pub file: Option<std::path::PathBuf>,

    /// The record itself, e.g. a PostgreSQL verifier or a JSON object.
    #[arg(long, value_name = "TEXT")]
    pub record: Option<String>,

    /// Username for records that carry none (PostgreSQL verifier, EMQX body); with
    /// several records, selects this user's.
    #[arg(long, short = 'u')]
    pub user: Option<String>,

    /// Iteration count of EMQX records, which do not carry it (EMQX's default: 4096).
    #[arg(long, short = 'i', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: Option<u32>,

    /// Hash of EMQX records (default: from the key length).
    #[arg(long, short = 'm', value_enum)]
    pub mechanism: Option<crate::Hash>,
}

impl Input {
    /// Whether the records come from stdin.
    pub fn uses_stdin(&self) -> bool {
        self.record.is_none()
            && self
                .file
                .as_deref()
                .is_none_or(|p| p == std::path::Path::new("-"))
    }

    /// Reads and parses the records.
    pub fn parse(&self) -> Result<Parsed, Failure> {
        let (text, source) = match (&self.record, &self.file) {
            (Some(text), _) => (text.clone(), "--record".to_owned()),
            (None, Some(path)) if path != std::path::Path::new("-") => (
                std::fs::read_to_string(path)
                    .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?,
                path.display().to_string(),
            ),
            (None, _) => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
                    .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
                (text, "stdin".to_owned())
            }
        };
        let hints = Hints {
            username: self.user.clone(),
            iterations: self.iterations,
            hash: self.mechanism.map(Into::into),
        };
        parse(&text, &hints).map_err(|f| Failure {
            message: format!("{source}: {}", f.message),
            ..f
        })
    }
}
