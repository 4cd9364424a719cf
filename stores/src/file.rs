//! A credential store backed by a file (features `std` + `serde`): the crate's JSON records
//! (as `mqtt-scram gen --format json` writes them) or CSV, validated record by record,
//! reloaded when the file changes, and appendable safely by several writers.
//!
//! CSV: a header row naming the columns, then one record per line. Required columns
//! `username,mechanism,iterations,salt,stored_key,server_key` (salt and keys in standard
//! base64, as in the JSON records); optional `is_superuser` (`true`/`false`/`1`/`0`) and
//! `expire_at` (Unix seconds). Fields may be quoted (`"a,b"`, `""` for a quote); a quoted
//! field cannot span lines. Blank lines are ignored.

use std::borrow::ToOwned;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use std::vec::Vec;

use mqtt_scram::HashAlgorithm;
use mqtt_scram::provider::{
    Lookup, LookupRequest, MemoryProvider, SyncCredentialProvider, UserRecord,
};
use mqtt_scram_authz::file::{Watcher, spawn_poller};

use crate::record::{CredentialRecord, RecordError, parse_records};

/// Which format a credential file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// The crate's JSON records: one object, an array, or JSON lines.
    Json,
    /// CSV with a header row.
    Csv,
}

impl FileFormat {
    /// `Csv` for a `.csv` extension (any case), `Json` otherwise.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Self::Csv,
            _ => Self::Json,
        }
    }
}

/// Why a credential file could not be loaded or written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileProviderError {
    /// Reading or writing failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// A JSON record is invalid.
    #[error("{path}: {source}")]
    Record {
        /// The file.
        path: String,
        /// The first bad record.
        source: RecordError,
    },
    /// A CSV line is invalid.
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: String,
        /// 1-based line number (1 is the header).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Two records for the same user and hash.
    #[error("{path}: more than one {mechanism} record for {username:?}")]
    Duplicate {
        /// The file.
        path: String,
        /// The user.
        username: String,
        /// The mechanism.
        mechanism: String,
    },
    /// A reload found no records where there were some (likely a truncated write).
    #[error("{path}: no records; keeping the {previous} loaded before")]
    Emptied {
        /// The file.
        path: String,
        /// How many records stay in force.
        previous: usize,
    },
    /// The lock file could not be taken in time.
    #[error(
        "{path}: could not take the lock (another writer, or a stale lock file to remove): {message}"
    )]
    Lock {
        /// The lock file.
        path: String,
        /// Why.
        message: String,
    },
}

#[derive(Debug, Default)]
struct State {
    seen: Option<u64>,
    generation: u64,
    last_error: Option<FileProviderError>,
}

/// Credentials loaded from a file; see the [module docs](self).
///
/// Reloading swaps the whole set at once (lookups see the old or the new file, never a mix);
/// a file that fails to load leaves the previous set in force and is reported.
#[derive(Debug)]
pub struct FileProvider {
    path: PathBuf,
    format: FileFormat,
    store: MemoryProvider,
    state: Mutex<State>,
}

impl FileProvider {
    /// Loads `path`, in the format its extension names.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FileProviderError> {
        let path = path.as_ref();
        Self::open_with(path, FileFormat::from_path(path))
    }

    /// Loads `path` in `format`. Every record must be valid.
    pub fn open_with(
        path: impl AsRef<Path>,
        format: FileFormat,
    ) -> Result<Self, FileProviderError> {
        let path = path.as_ref().to_path_buf();
        let bytes = read(&path)?;
        let records = parse_file(&path, &bytes, format)?;
        let store = MemoryProvider::new();
        store.replace_all(records);
        let state = State {
            seen: Some(hash(&bytes)),
            generation: 1,
            last_error: None,
        };
        Ok(Self {
            path,
            format,
            store,
            state: Mutex::new(state),
        })
    }

    /// Re-reads the file now; `Ok(true)` when a new set was installed.
    pub fn reload(&self) -> Result<bool, FileProviderError> {
        self.refresh(true)
    }

    /// Re-reads the file and reloads only if its content changed since the last read.
    pub fn poll(&self) -> Result<bool, FileProviderError> {
        self.refresh(false)
    }

    fn refresh(&self, force: bool) -> Result<bool, FileProviderError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = (|| {
            let bytes = read(&self.path)?;
            let h = hash(&bytes);
            if !force && state.seen == Some(h) {
                return Ok(false);
            }
            state.seen = Some(h);
            let records = parse_file(&self.path, &bytes, self.format)?;
            let previous = self.store.len();
            if records.is_empty() && previous > 0 {
                return Err(FileProviderError::Emptied {
                    path: display(&self.path),
                    previous,
                });
            }
            self.store.replace_all(records);
            Ok(true)
        })();
        match &outcome {
            Ok(true) => {
                state.generation += 1;
                state.last_error = None;
            }
            Ok(false) => {}
            Err(e) => state.last_error = Some(e.clone()),
        }
        outcome
    }

    /// Starts a thread that [`poll`](Self::poll)s every `interval` (zero disables) and passes
    /// each reload or failure to `report`. Stops when the [`Watcher`] is dropped.
    pub fn watch(
        self: &std::sync::Arc<Self>,
        interval: Duration,
        report: impl Fn(&Result<bool, FileProviderError>) + Send + 'static,
    ) -> Option<Watcher> {
        let this = std::sync::Arc::clone(self);
        spawn_poller("credential-file-watch", interval, move || {
            let result = this.poll();
            if !matches!(result, Ok(false)) {
                report(&result);
            }
        })
    }

    /// The record of `username` for `hash`.
    pub fn get(&self, username: &str, hash: HashAlgorithm) -> Option<std::sync::Arc<UserRecord>> {
        self.store.get(username, hash)
    }

    /// Number of records in force.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no records are loaded.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// How many sets have been installed (1 after opening).
    pub fn generation(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// Why the last reload failed, if it did.
    pub fn last_error(&self) -> Option<FileProviderError> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
            .clone()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SyncCredentialProvider for FileProvider {
    fn lookup_sync(&self, request: &LookupRequest<'_>) -> Lookup {
        self.store.lookup_sync(request)
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn io(path: &Path, e: impl ToString) -> FileProviderError {
    FileProviderError::Io {
        path: display(path),
        message: e.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, FileProviderError> {
    fs::read(path).map_err(|e| io(path, e))
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

fn parse_file(
    path: &Path,
    bytes: &[u8],
    format: FileFormat,
) -> Result<Vec<(String, UserRecord)>, FileProviderError> {
    let text = std::str::from_utf8(bytes).map_err(|e| io(path, std::format!("not UTF-8: {e}")))?;
    let records = match format {
        FileFormat::Json => parse_records(text).map_err(|source| FileProviderError::Record {
            path: display(path),
            source,
        })?,
        FileFormat::Csv => parse_csv(text).map_err(|(line, message)| FileProviderError::Csv {
            path: display(path),
            line,
            message,
        })?,
    };
    let mut seen = HashSet::new();
    for (username, record) in &records {
        let hash = record.credentials.hash();
        if !seen.insert((username.as_str(), hash)) {
            return Err(FileProviderError::Duplicate {
                path: display(path),
                username: username.clone(),
                mechanism: hash.mechanism().name().into(),
            });
        }
    }
    Ok(records)
}

const CSV_REQUIRED: [&str; 6] = [
    "username",
    "mechanism",
    "iterations",
    "salt",
    "stored_key",
    "server_key",
];
const CSV_OPTIONAL: [&str; 2] = ["is_superuser", "expire_at"];

/// Parses the CSV form; errors carry the 1-based line number.
pub fn parse_csv(text: &str) -> Result<Vec<(String, UserRecord)>, (usize, String)> {
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)));
    let Some((hline, header)) = lines.find(|(_, l)| !l.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let columns = csv_fields(header).map_err(|m| (hline, m))?;
    csv_header(&columns).map_err(|m| (hline, m))?;
    let mut out = Vec::new();
    for (line, text) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let fields = csv_fields(text).map_err(|m| (line, m))?;
        if fields.len() != columns.len() {
            return Err((
                line,
                std::format!("{} fields; the header has {}", fields.len(), columns.len()),
            ));
        }
        let get = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .and_then(|i| fields.get(i))
                .map(String::as_str)
        };
        let req = |name: &str| get(name).unwrap_or_default().to_string();
        let iterations = req("iterations")
            .parse()
            .map_err(|_| (line, "iterations is not a number".to_string()))?;
        let is_superuser = match get("is_superuser").unwrap_or("") {
            "" | "false" | "0" => false,
            "true" | "1" => true,
            other => {
                return Err((
                    line,
                    std::format!("is_superuser {other:?} is not true or false"),
                ));
            }
        };
        let expire_at = match get("expire_at").unwrap_or("") {
            "" => None,
            v => Some(
                v.parse()
                    .map_err(|_| (line, std::format!("expire_at {v:?} is not a number")))?,
            ),
        };
        let record = CredentialRecord {
            username: req("username"),
            mechanism: req("mechanism"),
            iterations,
            salt: req("salt"),
            stored_key: req("stored_key"),
            server_key: req("server_key"),
            is_superuser,
            client_attrs: Default::default(),
            expire_at,
            acl: Vec::new(),
        };
        out.push(
            record
                .into_user_record(line)
                .map_err(|e| (line, e.to_string()))?,
        );
    }
    Ok(out)
}

fn csv_header(columns: &[String]) -> Result<(), String> {
    for c in columns {
        if !CSV_REQUIRED.contains(&c.as_str()) && !CSV_OPTIONAL.contains(&c.as_str()) {
            return Err(std::format!("unknown column {c:?}"));
        }
    }
    for r in CSV_REQUIRED {
        if !columns.iter().any(|c| c == r) {
            return Err(std::format!("missing column {r:?}"));
        }
    }
    Ok(())
}

/// Splits one CSV line (RFC 4180 quoting, no line breaks inside fields).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("text after a closing quote".into()),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("quote inside an unquoted field".into()),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

fn csv_quote(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) || value != value.trim() {
        std::format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// How long [`append_record_locked`] waits for the lock.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

struct LockFile(PathBuf);

impl LockFile {
    fn acquire(path: &Path) -> Result<Self, FileProviderError> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock = PathBuf::from(name);
        let start = Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(Self(lock));
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::AlreadyExists
                        && start.elapsed() < LOCK_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => {
                    return Err(FileProviderError::Lock {
                        path: display(&lock),
                        message: e.to_string(),
                    });
                }
            }
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Adds `record` to the credential file at `path` (created if missing), safely against
/// concurrent writers: an exclusive lock file `<path>.lock` (waited for up to
/// [`LOCK_TIMEOUT`]), the existing file validated (a broken file is not appended to, and a
/// second record for the same user and mechanism is refused), the new content written to a
/// temporary file in the same directory, synced, and renamed over the original. Readers
/// (and a [`FileProvider`] polling the file) see the old or the new file, never a partial
/// one, and no concurrent append is lost.
///
/// The format follows the extension (`.csv` or JSON). A JSON array stays an array; JSON
/// lines or a single object gain a line. Existing text is kept as it is. A new file is
/// created with mode 0600 on Unix; an existing file keeps its permissions.
pub fn append_record_locked(
    path: impl AsRef<Path>,
    record: &CredentialRecord,
) -> Result<(), FileProviderError> {
    let path = path.as_ref();
    let format = FileFormat::from_path(path);
    let (username, user) =
        record
            .clone()
            .into_user_record(1)
            .map_err(|source| FileProviderError::Record {
                path: display(path),
                source,
            })?;
    let _lock = LockFile::acquire(path)?;
    let existing = match fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(path, e)),
    };
    let old = existing.as_deref().unwrap_or_default();
    let records = parse_file(path, old, format)?;
    if records
        .iter()
        .any(|(n, r)| *n == username && r.credentials.hash() == user.credentials.hash())
    {
        return Err(FileProviderError::Duplicate {
            path: display(path),
            username,
            mechanism: user.credentials.hash().mechanism().name().into(),
        });
    }
    let old = std::str::from_utf8(old).map_err(|e| io(path, e))?;
    let new = match format {
        FileFormat::Json => append_json(old, record).map_err(|e| io(path, e))?,
        FileFormat::Csv => append_csv(old, record),
    };
    write_replace(path, new.as_bytes(), existing.is_some())
}

fn append_json(old: &str, record: &CredentialRecord) -> Result<String, serde_json::Error> {
    let line = serde_json::to_string(record)?;
    let trimmed = old.trim_end();
    let Some(body) = trimmed
        .strip_suffix(']')
        .filter(|_| trimmed.trim_start().starts_with('['))
    else {
        let mut s = trimmed.to_string();
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&line);
        s.push('\n');
        return Ok(s);
    };
    let body = body.trim_end();
    let sep = if body.trim_start() == "[" { "" } else { "," };
    Ok(std::format!("{body}{sep}\n  {line}\n]\n"))
}

fn append_csv(old: &str, record: &CredentialRecord) -> String {
    let header_line = old
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .find(|l| !l.trim().is_empty());
    let (mut out, columns): (String, Vec<String>) =
        match header_line.and_then(|h| csv_fields(h).ok()) {
            Some(cols) => {
                let mut s = old.trim_end_matches(['\n', '\r']).to_string();
                s.push('\n');
                (s, cols)
            }
            None => {
                let cols: Vec<String> = CSV_REQUIRED
                    .iter()
                    .chain(CSV_OPTIONAL.iter())
                    .map(|c| c.to_string())
                    .collect();
                (std::format!("{}\n", cols.join(",")), cols)
            }
        };
    let value = |c: &str| match c {
        "username" => record.username.clone(),
        "mechanism" => record.mechanism.clone(),
        "iterations" => record.iterations.to_string(),
        "salt" => record.salt.clone(),
        "stored_key" => record.stored_key.clone(),
        "server_key" => record.server_key.clone(),
        "is_superuser" => record.is_superuser.to_string(),
        "expire_at" => record.expire_at.map(|e| e.to_string()).unwrap_or_default(),
        _ => String::new(),
    };
    let row: Vec<String> = columns.iter().map(|c| csv_quote(&value(c))).collect();
    out.push_str(&row.join(","));
    out.push('\n');
    out
}

fn write_replace(path: &Path, bytes: &[u8], existed: bool) -> Result<(), FileProviderError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(std::format!(".tmp.{}", std::process::id()));
    let tmp = dir.join(name);
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        if existed {
            if let Ok(meta) = fs::metadata(path) {
                fs::set_permissions(&tmp, meta.permissions()).map_err(|e| io(&tmp, e))?;
            }
        } else {
            restrict(&tmp)?;
        }
        f.write_all(bytes).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| io(path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    result
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<(), FileProviderError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|e| io(path, e))
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> Result<(), FileProviderError> {
    Ok(())
}
