//! Deriving many users at once: the `username,password[,is_superuser]` CSV that
//! `gen --from-csv` (and `import`) read, and PBKDF2 on all cores with a progress bar.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mqtt_scram::HashAlgorithm;
use mqtt_scram::credentials::StoredCredentials;
use mqtt_scram::provider::UserRecord;
use mqtt_scram::saslprep::{Mode, saslprep};
use rayon::prelude::*;
use zeroize::Zeroizing;

use crate::Failure;
use crate::formats::Entry;

/// One user to derive: username, password (zeroized on drop), superuser flag, and the line
/// it came from (0 for a user from the command line).
///
/// The file's bytes and every password are held in zeroizing buffers. The `csv` reader's own
/// record buffer (one reused `ByteRecord`) is not wiped: it keeps the last row read.
pub struct Row {
    /// 1-based line in the CSV file; 0 when not from a file.
    pub line: usize,
    /// Username after SASLprep (query mode).
    pub username: String,
    /// The password.
    pub password: Zeroizing<String>,
    /// Superuser flag.
    pub is_superuser: bool,
}

/// How every user of a batch is derived.
pub struct Derivation {
    /// SCRAM hash.
    pub hash: HashAlgorithm,
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// A fixed salt (reproducible output); `None` draws 16 random bytes per user.
    pub salt: Option<Vec<u8>>,
    /// Client attributes given to every user.
    pub attrs: BTreeMap<String, String>,
}

impl Derivation {
    /// Derives one user's credentials; errors name the row's line.
    pub fn derive(&self, row: &Row) -> Result<Entry, Failure> {
        let credentials = match &self.salt {
            Some(salt) => {
                StoredCredentials::derive(self.hash, &row.password, salt, self.iterations)
            }
            None => StoredCredentials::generate(
                self.hash,
                &row.password,
                self.iterations,
                &mut rand::rng(),
            ),
        };
        let credentials = credentials.map_err(|e| {
            if row.line == 0 {
                Failure::usage(e)
            } else {
                Failure::usage(format!("line {}: {e}", row.line))
            }
        })?;
        let record = UserRecord::new(credentials)
            .superuser(row.is_superuser)
            .client_attrs(self.attrs.clone());
        Ok(Entry {
            username: Some(row.username.clone()),
            record,
        })
    }

    /// Derives every row on `threads` worker threads (default: all cores), in input order,
    /// with a progress bar on stderr when `progress` is set and stderr is a terminal. An
    /// error names `source` (the file) and the row's line.
    pub fn derive_all(
        &self,
        source: &str,
        rows: &[Row],
        threads: Option<u16>,
        progress: bool,
    ) -> Result<(Vec<Entry>, Duration), Failure> {
        let mut pool = rayon::ThreadPoolBuilder::new();
        if let Some(n) = threads {
            pool = pool.num_threads(usize::from(n));
        }
        let pool = pool
            .build()
            .map_err(|e| Failure::usage(format!("cannot start worker threads: {e}")))?;
        let bar = if progress && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(
                Some(rows.len() as u64),
                ProgressDrawTarget::stderr(),
            );
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} users {per_sec} eta {eta}")
            {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        let began = Instant::now();
        let result = pool.install(|| {
            rows.par_iter()
                .map(|row| {
                    let entry = self.derive(row);
                    bar.inc(1);
                    entry
                })
                .collect::<Result<Vec<_>, _>>()
        });
        bar.finish_and_clear();
        let entries = result.map_err(|f| Failure {
            message: format!("{source}: {}", f.message),
            ..f
        })?;
        Ok((entries, began.elapsed()))
    }
}

fn read_input(path: &Path) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut bytes = Zeroizing::new(Vec::new());
    let name = path.display();
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
    } else {
        let mut file = std::fs::File::open(path)
            .map_err(|e| Failure::usage(format!("cannot open {name}: {e}")))?;
        file.read_to_end(&mut bytes)
            .map_err(|e| Failure::usage(format!("cannot read {name}: {e}")))?;
    }
    Ok(bytes)
}

/// How errors name the CSV file: its path, or `stdin` for `-`.
pub fn source_name(path: &Path) -> String {
    if path == Path::new("-") {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    }
}

/// The 1-based line where a record the csv reader reports at `byte` starts. (The reader's
/// own line count skips blank lines and line breaks inside quoted cells.)
#[cfg(test)]
fn line_at(bytes: &[u8], byte: u64) -> usize {
    Lines::new(bytes).line_at(byte)
}

/// `line_at` for positions that only grow: each byte is counted once, so numbering a
/// file's rows costs O(size), not O(rows × size) (100,000 rows: milliseconds, not minutes).
struct Lines<'a> {
    bytes: &'a [u8],
    /// Newlines before `counted`.
    newlines: usize,
    counted: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            newlines: 0,
            counted: 0,
        }
    }

    fn line_at(&mut self, byte: u64) -> usize {
        let byte = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        if byte < self.counted {
            self.newlines = 0;
            self.counted = 0;
        }
        let (before, after) = self.bytes.split_at(byte);
        self.newlines += before
            .get(self.counted..)
            .unwrap_or_default()
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.counted = byte;
        let blank = after
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .filter(|b| **b == b'\n')
            .count();
        self.newlines + blank + 1
    }
}

/// Reads `username,password[,is_superuser]` rows from `path` (`-` = stdin). The first row
/// is a header when it reads `username,password...`. Every problem names the file and line;
/// nothing is derived before the whole file is read and checked.
pub fn read_rows(path: &Path, default_superuser: bool) -> Result<Vec<Row>, Failure> {
    let bytes = read_input(path)?;
    let name = source_name(path);
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut lines = Lines::new(bytes);
    let mut rows: Vec<Row> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut first = true;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = lines.line_at(e.position().map_or(0, csv::Position::byte));
                return Err(Failure::usage(format!("{name}: line {line}: {e}")));
            }
        }
        let line = lines.line_at(record.position().map_or(0, csv::Position::byte));
        let bad =
            |what: &dyn std::fmt::Display| Failure::usage(format!("{name}: line {line}: {what}"));
        let field = |i: usize| -> Result<&str, Failure> {
            std::str::from_utf8(record.get(i).unwrap_or_default())
                .map_err(|_| bad(&"not valid UTF-8"))
        };
        if std::mem::take(&mut first)
            && field(0)?.trim().eq_ignore_ascii_case("username")
            && field(1)?.trim().eq_ignore_ascii_case("password")
        {
            continue;
        }
        if record.len() == 1
            && record
                .get(0)
                .is_some_and(|f| f.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        if !(2..=3).contains(&record.len()) {
            return Err(bad(&format!(
                "expected username,password[,is_superuser], found {} fields",
                record.len()
            )));
        }
        let username = prepare_username(field(0)?).map_err(|e| bad(&e))?;
        let password = Zeroizing::new(field(1)?.to_owned());
        if password.is_empty() {
            return Err(bad(&format!("empty password for {username:?}")));
        }
        let is_superuser = match field(2)?.trim().to_ascii_lowercase().as_str() {
            "" if record.len() == 2 => default_superuser,
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" | "" => false,
            _ => return Err(bad(&"is_superuser must be true or false")),
        };
        if let Some(earlier) = seen.insert(username.clone(), line) {
            return Err(bad(&format!(
                "duplicate username {username:?} (first on line {earlier})"
            )));
        }
        rows.push(Row {
            line,
            username,
            password,
            is_superuser,
        });
    }
    if rows.is_empty() {
        return Err(Failure::usage(format!("{name}: no users in the CSV file")));
    }
    Ok(rows)
}

/// The username as the server will look it up: SASLprep'd as a query (RFC 5802 §5.1).
pub fn prepare_username(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("empty username".into());
    }
    match saslprep(raw, Mode::Query) {
        Ok(u) if u.is_empty() => Err(format!("username {raw:?} is empty after SASLprep")),
        Ok(u) => Ok(u.into_owned()),
        Err(e) => Err(format!("username {raw:?} failed SASLprep: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn lines_count_blank_lines_and_quoted_breaks() {
        let text = b"a,b\n\n\"c\nd\",e\r\n\r\nf,g\n";
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&text[..]);
        let lines: Vec<usize> = reader
            .byte_records()
            .map(|r| line_at(text, r.unwrap().position().unwrap().byte()))
            .collect();
        assert_eq!(lines, [1, 3, 6]);
    }
}
