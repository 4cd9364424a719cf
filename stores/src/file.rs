//! A credential store backed by a file: the [record format](crate::record) in its JSON or
//! CSV form (as `mqtt-scram gen` writes them), validated record by record, reloaded when
//! the file changes, and appendable safely by several writers.
//!
//! Lookups go to an in-memory [`MemoryProvider`] holding the loaded set, so an unknown
//! user costs what the memory store's unknown user costs. A reload that fails (a syntax
//! error, a bad record, an emptied file) keeps the previous set in force and is reported
//! with the file and the line of the first bad record, never with key material.
//!
//! Unknown users' mock challenges copy the file's records: per hash, the most common salt
//! length and iteration count of the set in force
//! ([`record_shape_sync`](SyncCredentialProvider::record_shape_sync)), followed on every
//! reload. Each load logs a WARN naming how many records differ from that shape (those
//! users' challenges look unlike an unknown user's).
//!
//! ```
//! use mqtt_scram::HashAlgorithm;
//! use mqtt_scram_stores::FileProvider;
//! let path = std::env::temp_dir().join(format!("doc-users-{}.csv", std::process::id()));
//! std::fs::write(&path, "username,mechanism,iterations,salt,stored_key,server_key\n\
//!     user,SCRAM-SHA-256,4096,W22ZaJ0SNY7soEsUEjb6gQ==,\
//!     WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n")?;
//! let users = FileProvider::open(&path)?;
//! assert!(users.get("user", HashAlgorithm::Sha256).is_some());
//! std::fs::write(&path, "username,colour\n")?;
//! assert!(users.reload().is_err());                            // names the file and line 1
//! assert!(users.get("user", HashAlgorithm::Sha256).is_some()); // the old set stays
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::ToOwned;
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
    Lookup, LookupRequest, MemoryProvider, MockShape, RecordShapes, SyncCredentialProvider,
    UserRecord,
};
use mqtt_scram_authz::file::{Watcher, spawn_poller};

use crate::record::{self, CredentialRecord, Format, Position, RecordError};

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
    /// A record is invalid (or a second one for the same user and mechanism).
    #[error("{path}: {source}")]
    Record {
        /// The file.
        path: String,
        /// The first bad record, with its line.
        source: RecordError,
    },
    /// Appending: the file already has a record for this user and mechanism.
    #[error("{path}: already has a {mechanism} record for {username:?}")]
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
    format: Format,
    store: MemoryProvider,
    state: Mutex<State>,
}

impl FileProvider {
    /// Loads `path`, in the form its extension names (`.csv` is CSV, anything else JSON).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FileProviderError> {
        let path = path.as_ref();
        Self::open_with(path, Format::from_path(path))
    }

    /// Loads `path` in `format`. Every record must be valid.
    pub fn open_with(path: impl AsRef<Path>, format: Format) -> Result<Self, FileProviderError> {
        let path = path.as_ref().to_path_buf();
        let bytes = read(&path)?;
        let records = parse_file(&path, &bytes, format)?;
        let store = MemoryProvider::new();
        store.replace_all(records);
        warn_differing(&path, &store.shapes());
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
            warn_differing(&self.path, &self.store.shapes());
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

    /// Per hash, the most common record shape of the set in force and how many records
    /// differ from it.
    pub fn shapes(&self) -> RecordShapes {
        self.store.shapes()
    }
}

impl SyncCredentialProvider for FileProvider {
    fn lookup_sync(&self, request: &LookupRequest<'_>) -> Lookup {
        self.store.lookup_sync(request)
    }

    /// The most common salt length and iteration count of the file's `hash` records.
    fn record_shape_sync(&self, hash: HashAlgorithm) -> Option<MockShape> {
        self.store.record_shape_sync(hash)
    }
}

/// One WARN per hash whose records do not all have the shape unknown users are shown.
fn warn_differing(path: &Path, shapes: &RecordShapes) {
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let differing = shapes.differing(hash);
        if let (Some(shape), true) = (shapes.get(hash), differing > 0) {
            tracing::warn!(
                file = %path.display(),
                %hash,
                differing,
                records = shapes.records(hash),
                mock_salt_len = shape.salt_len(),
                mock_iterations = shape.iterations(),
                "{differing} credential record(s) differ from the most common shape, which \
                 unknown users are shown; their challenges look unlike an unknown user's \
                 (re-hash them to one salt length and iteration count)"
            );
        }
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
    format: Format,
) -> Result<Vec<(String, UserRecord)>, FileProviderError> {
    let text = std::str::from_utf8(bytes).map_err(|e| io(path, std::format!("not UTF-8: {e}")))?;
    record::read_records(text, format).map_err(|source| FileProviderError::Record {
        path: display(path),
        source,
    })
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
    let format = Format::from_path(path);
    let (username, user) = record
        .clone()
        .into_user_record(Position::Record(1))
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
        Format::Csv => record::csv::append(old, record),
        _ => append_json(old, record),
    }
    .map_err(|source| FileProviderError::Record {
        path: display(path),
        source,
    })?;
    write_replace(path, new.as_bytes(), existing.is_some())
}

fn append_json(old: &str, record: &CredentialRecord) -> Result<String, RecordError> {
    let line = record::json::write_object(record)?;
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
