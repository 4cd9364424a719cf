//! [`FileAuthorizer`]: an ACL file that follows its changes on disk.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::acl::{FileAcl, ParseErrors, ParseOptions};
use crate::access::{Decision, Request};
use crate::authorizer::Authorizer;
use crate::client::Client;

/// Why a (re)load failed. The previous rules stay in force.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileAclError {
    /// The file could not be read.
    #[error("cannot read ACL file {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The file has bad lines.
    #[error("{path}: {errors}")]
    Parse {
        /// The file.
        path: String,
        /// Every bad line.
        errors: ParseErrors,
    },
}

#[derive(Debug, Default)]
struct State {
    /// Hash of the last content read (loaded or rejected).
    seen: Option<u64>,
    generation: u64,
    last_error: Option<FileAclError>,
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    options: ParseOptions,
    acl: RwLock<Arc<FileAcl>>,
    state: Mutex<State>,
}

/// An ACL file as an [`Authorizer`], reloaded on demand ([`reload`](Self::reload)) or by a
/// polling thread ([`watch`](Self::watch), default every 10 s as in `vmq_gojek_auth`).
///
/// Reloading swaps the whole rule set at once: a check sees the old or the new file, never a
/// mix. A file that cannot be read or parsed leaves the previous rules in force and is
/// reported ([`last_error`](Self::last_error), the watch callback).
///
/// Cloning is cheap and shares the rules.
///
/// ```no_run
/// use std::time::Duration;
/// use mqtt_scram_authz::file::{FileAuthorizer, ParseOptions};
/// use mqtt_scram_authz::{Chain, ClientRules};
/// let acl = FileAuthorizer::open("/etc/vernemq/vmq.acl", ParseOptions::default())?;
/// let _watcher = acl.watch(FileAuthorizer::DEFAULT_POLL_INTERVAL, |result| {
///     if let Err(e) = result {
///         eprintln!("ACL file not reloaded, previous rules stay: {e}");
///     }
/// });
/// let chain = Chain::new().with(ClientRules).with(acl.clone());
/// # let _ = (chain, Duration::ZERO);
/// # Ok::<(), mqtt_scram_authz::file::FileAclError>(())
/// ```
#[derive(Clone, Debug)]
pub struct FileAuthorizer {
    shared: Arc<Shared>,
}

impl FileAuthorizer {
    /// The polling interval `vmq_gojek_auth` uses by default (`acl_reload_interval = 10`).
    pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

    /// Loads `path`; fails if the first load fails (there is nothing to fall back on).
    pub fn open(path: impl AsRef<Path>, options: ParseOptions) -> Result<Self, FileAclError> {
        let path = path.as_ref().to_path_buf();
        let (acl, hash) = load(&path, &options)?;
        let state = State {
            seen: Some(hash),
            generation: 1,
            last_error: None,
        };
        let shared = Shared {
            path,
            options,
            acl: RwLock::new(Arc::new(acl)),
            state: Mutex::new(state),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// Re-reads the file now and swaps the rules in if it parses. `Ok(true)` when new rules
    /// were installed.
    pub fn reload(&self) -> Result<bool, FileAclError> {
        self.refresh(true)
    }

    /// Re-reads the file and reloads only if its content changed since the last read.
    /// `Ok(false)` when unchanged (a still-bad file is not reported again).
    pub fn poll(&self) -> Result<bool, FileAclError> {
        self.refresh(false)
    }

    fn refresh(&self, force: bool) -> Result<bool, FileAclError> {
        let s = &self.shared;
        let mut state = s.state.lock().unwrap_or_else(PoisonError::into_inner);
        let text = match std::fs::read(&s.path) {
            Ok(t) => t,
            Err(e) => {
                let err = FileAclError::Io {
                    path: s.path.display().to_string(),
                    message: e.to_string(),
                };
                state.last_error = Some(err.clone());
                return Err(err);
            }
        };
        let hash = hash(&text);
        if !force && state.seen == Some(hash) {
            return Ok(false);
        }
        state.seen = Some(hash);
        match parse(&s.path, &text, &s.options) {
            Ok(acl) => {
                *s.acl.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(acl);
                state.generation += 1;
                state.last_error = None;
                Ok(true)
            }
            Err(e) => {
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The rules in force.
    pub fn current(&self) -> Arc<FileAcl> {
        Arc::clone(
            &self
                .shared
                .acl
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// How many rule sets have been installed (1 after [`open`](Self::open)).
    pub fn generation(&self) -> u64 {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// Why the last reload failed, if it did (cleared by a successful one).
    pub fn last_error(&self) -> Option<FileAclError> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
            .clone()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Starts a thread that [`poll`](Self::poll)s every `interval` and passes each reload
    /// or failure to `report` (unchanged files are not reported). `None` when `interval` is
    /// zero (reloading disabled, as `acl_reload_interval = 0`). The thread stops when the
    /// returned [`Watcher`] is dropped.
    pub fn watch(
        &self,
        interval: Duration,
        report: impl Fn(&Result<bool, FileAclError>) + Send + 'static,
    ) -> Option<Watcher> {
        let this = self.clone();
        spawn_poller("acl-file-watch", interval, move || {
            let result = this.poll();
            if !matches!(result, Ok(false)) {
                report(&result);
            }
        })
    }
}

impl Authorizer for FileAuthorizer {
    fn check(&self, who: &Client, request: Request<'_>) -> Decision {
        let acl = self
            .shared
            .acl
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        acl.check(who, request)
    }
}

/// Runs `tick` every `interval` on a thread until the returned [`Watcher`] is dropped;
/// `None` when `interval` is zero or the thread cannot be started.
pub fn spawn_poller(
    name: &str,
    interval: Duration,
    mut tick: impl FnMut() + Send + 'static,
) -> Option<Watcher> {
    if interval.is_zero() {
        return None;
    }
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let signal = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let (lock, cvar) = &*signal;
            let mut stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                stopped = cvar
                    .wait_timeout(stopped, interval)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                if *stopped {
                    return;
                }
                drop(stopped);
                tick();
                stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
            }
        })
        .ok()?;
    Some(Watcher {
        stop,
        thread: Some(thread),
    })
}

/// Stops a polling thread ([`FileAuthorizer::watch`], `FileProvider::watch`) when dropped.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cvar.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

fn parse(path: &Path, bytes: &[u8], options: &ParseOptions) -> Result<FileAcl, FileAclError> {
    let display = || path.display().to_string();
    let text = std::str::from_utf8(bytes).map_err(|e| FileAclError::Io {
        path: display(),
        message: std::format!("not UTF-8: {e}"),
    })?;
    let acl = FileAcl::parse_with(text, options).map_err(|errors| FileAclError::Parse {
        path: display(),
        errors,
    })?;
    for warning in acl.warnings() {
        tracing::warn!(file = %path.display(), line = warning.line, "ACL file: {}", warning.message);
    }
    Ok(acl)
}

fn load(path: &Path, options: &ParseOptions) -> Result<(FileAcl, u64), FileAclError> {
    let bytes = std::fs::read(path).map_err(|e| FileAclError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok((parse(path, &bytes, options)?, hash(&bytes)))
}
