//! Where credentials come from, under the rule that a lookup never holds the broker's
//! network thread for more than `lookup_budget` (default 5 ms).
//!
//! Any store of `mqtt-scram-stores` can be configured (`plugin_opt_store` with a URL or a
//! path, or `plugin_opt_store_config` with a JSON [`StoreConfig`]). A lookup is first polled
//! once on the broker's thread: in-memory stores (credential files) and cache hits answer
//! there and then. Anything else (a PostgreSQL, Redis or HTTP round trip) moves to a
//! background Tokio runtime, and the broker's thread waits for it at most the budget; past
//! that the login fails like an unknown user (the engine's mock challenge, then 0x87), the
//! operator sees why in the log, and the lookup finishes in the background, so with a
//! `cached` store in front the client's next attempt is answered from the cache.
//!
//! `MOSQ_EVT_RELOAD` (SIGHUP) re-reads the credential files in a background thread and
//! empties the caches; a file that cannot be read or parsed keeps the previous set.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use mqtt_scram::provider::{
    CredentialProvider as _, IgnoreKind, IgnoreReason, Lookup, LookupRequest, MockShape,
};
use mqtt_scram::{ConnectionInfo, HashAlgorithm};
use mqtt_scram_stores::FileProvider;
use mqtt_scram_stores::config::{Store, StoreConfig};

use crate::log::{self, Level};
use crate::options::{OptionError, Options};
use crate::threads;

/// Background lookups allowed at once; past this a slow store is answered `Overloaded`.
const MAX_IN_FLIGHT: usize = 1024;

/// The configured store and the runtime its remote lookups run on.
pub(crate) struct Credentials {
    store: Store,
    runtime: Option<tokio::runtime::Runtime>,
    budget: Duration,
    in_flight: Arc<AtomicUsize>,
    /// Reload threads (SIGHUP), joined at cleanup.
    reloads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("store", &self.store)
            .field("remote", &self.runtime.is_some())
            .field("budget", &self.budget)
            .finish()
    }
}

/// What a lookup needs, owned, so it can finish on another thread.
pub(crate) struct Request {
    pub mechanism: mqtt_scram::Mechanism,
    pub username: String,
    pub authzid: Option<String>,
    pub connection: Arc<ConnectionInfo>,
}

impl Request {
    /// An owned copy of `request` on `connection`.
    pub(crate) fn from_lookup(
        request: &LookupRequest<'_>,
        connection: &Arc<ConnectionInfo>,
    ) -> Self {
        Self {
            mechanism: request.mechanism,
            username: request.username.to_owned(),
            authzid: request.authzid.map(str::to_owned),
            connection: Arc::clone(connection),
        }
    }
}

impl Credentials {
    /// Builds the store the options name (no remote connection is opened yet).
    pub(crate) fn open(options: &Options) -> Result<Self, OptionError> {
        let (key, config) = match (&options.store, &options.store_config) {
            (Some(url), None) => (
                "store",
                StoreConfig::from_url(url).map_err(|e| OptionError::Unusable {
                    key: "store",
                    message: e.to_string(),
                })?,
            ),
            (None, Some(path)) => ("store_config", read_config(path)?),
            (Some(_), Some(_)) => {
                return Err(OptionError::Unusable {
                    key: "store_config",
                    message: "give plugin_opt_store or plugin_opt_store_config, not both".into(),
                });
            }
            (None, None) => {
                return Err(OptionError::Missing(
                    "store",
                    "a credential file path or a store URL (postgres://, redis://, https://), \
                     or plugin_opt_store_config with a JSON store configuration",
                ));
            }
        };
        let store = config.build().map_err(|e| OptionError::Unusable {
            key,
            message: e.to_string(),
        })?;
        let runtime = if is_remote(&config) {
            if !is_cached(&config) {
                log::emit(
                    Level::Warning,
                    "mqtt-scram: a remote credential store without a `cached` store in front: \
                     every login waits for a round trip (at most plugin_opt_lookup_budget)",
                );
            }
            Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("mqtt-scram-lookups")
                    .enable_all()
                    .build()
                    .map_err(|e| OptionError::Unusable {
                        key,
                        message: format!("cannot start the lookup runtime: {e}"),
                    })?,
            )
        } else {
            None
        };
        let records: usize = store.files().iter().map(|f| f.len()).sum();
        log::emit(
            Level::Notice,
            &format!(
                "mqtt-scram: credential store ready ({} file(s), {records} records{})",
                store.files().len(),
                if runtime.is_some() {
                    ", remote lookups"
                } else {
                    ""
                }
            ),
        );
        for file in store.files() {
            warn_differing(file);
        }
        Ok(Self {
            store,
            runtime,
            budget: options.lookup_budget,
            in_flight: Arc::new(AtomicUsize::new(0)),
            reloads: Mutex::new(Vec::new()),
        })
    }

    /// The most common shape of the credential files' `hash` records (in-memory, no I/O),
    /// for unknown users' mock challenges; `None` for remote stores (the configured
    /// `iterations` and `mock_salt_len` apply).
    pub(crate) fn record_shape(&self, hash: HashAlgorithm) -> Option<MockShape> {
        self.store.record_shape(hash)
    }

    /// Looks a user up, holding the calling thread at most the budget.
    pub(crate) fn lookup(&self, request: Request) -> Lookup {
        let provider = self.store.provider();
        let mut future: Pin<Box<dyn Future<Output = Lookup> + Send>> = Box::pin(async move {
            let lookup =
                LookupRequest::new(request.mechanism, &request.username, &request.connection)
                    .with_authzid(request.authzid.as_deref());
            provider.lookup_dyn(&lookup).await
        });
        let _context = self.runtime.as_ref().map(|r| r.enter());
        if let Poll::Ready(lookup) = future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            return lookup;
        }
        let Some(runtime) = &self.runtime else {
            // An in-memory store that did not answer at once: never expected.
            return Lookup::Ignore(IgnoreReason::unavailable(
                "the store did not answer at once",
            ));
        };
        if self.in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
            return Lookup::Ignore(IgnoreReason::new(
                IgnoreKind::Overloaded,
                format!("{MAX_IN_FLIGHT} lookups already waiting for the store"),
            ));
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let in_flight = Arc::clone(&self.in_flight);
        in_flight.fetch_add(1, Ordering::Relaxed);
        runtime.spawn(async move {
            let lookup = future.await;
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(lookup);
        });
        match rx.recv_timeout(self.budget) {
            Ok(lookup) => lookup,
            Err(_) => Lookup::Ignore(IgnoreReason::timeout(format!(
                "no answer within plugin_opt_lookup_budget ({:?}); the lookup goes on in the \
                 background (a cached store answers the next attempt)",
                self.budget
            ))),
        }
    }

    /// Re-reads the credential files in the background (SIGHUP) and empties the caches;
    /// a bad file keeps its previous set.
    pub(crate) fn reload(&self) {
        let store = self.store.clone();
        let spawned = std::thread::Builder::new()
            .name("mqtt-scram-reload".into())
            .spawn(move || {
                let results = store.reload();
                for (file, result) in store.files().iter().zip(results) {
                    let reloaded = result.is_ok();
                    report_reload(file.path(), result.map(|_| ()), file.len());
                    if reloaded {
                        warn_differing(file);
                    }
                }
            });
        match spawned {
            Ok(handle) => {
                let mut reloads = self.reloads.lock().unwrap_or_else(PoisonError::into_inner);
                // Finished reloads need no join at cleanup.
                reloads.retain(|h| !h.is_finished());
                reloads.push(handle);
            }
            Err(e) => log::emit(
                Level::Error,
                &format!("mqtt-scram: cannot start the reload thread: {e}"),
            ),
        }
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        // A reload in progress finishes (its result is logged) if it can within the bound.
        let reloads = std::mem::take(
            self.reloads
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        threads::join_within("credential reload", reloads, threads::JOIN_LIMIT);
        // Lookups still waiting for a store are abandoned; the worker threads are stopped
        // (bounded) before the broker unloads the plugin.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

fn read_config(path: &Path) -> Result<StoreConfig, OptionError> {
    let unusable = |message: String| OptionError::Unusable {
        key: "store_config",
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| unusable(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| unusable(format!("{}: {e}", path.display())))
}

/// Whether any store in the configuration does network I/O.
fn is_remote(config: &StoreConfig) -> bool {
    match config {
        StoreConfig::File(_) => false,
        StoreConfig::Cached(c) => is_remote(&c.inner),
        StoreConfig::Chain(c) => c.stores.iter().any(is_remote),
        _ => true,
    }
}

/// Whether every remote store sits behind a cache.
fn is_cached(config: &StoreConfig) -> bool {
    match config {
        StoreConfig::File(_) | StoreConfig::Cached(_) => true,
        StoreConfig::Chain(c) => c.stores.iter().all(is_cached),
        _ => false,
    }
}

/// A warning per hash whose records do not all have the shape unknown users are shown.
fn warn_differing(file: &FileProvider) {
    let shapes = file.shapes();
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
        let differing = shapes.differing(hash);
        if let (Some(shape), true) = (shapes.get(hash), differing > 0) {
            log::emit(
                Level::Warning,
                &format!(
                    "mqtt-scram: {}: {differing} of {} {hash} credential records differ from \
                     the most common shape ({}-byte salt, {} iterations), which unknown users \
                     are shown; their challenges look unlike an unknown user's",
                    file.path().display(),
                    shapes.records(hash),
                    shape.salt_len(),
                    shape.iterations()
                ),
            );
        }
    }
}

fn report_reload(path: &Path, outcome: Result<(), impl std::fmt::Display>, len: usize) {
    match outcome {
        Ok(()) => log::emit(
            Level::Notice,
            &format!(
                "mqtt-scram: reloaded {len} credential records from {}",
                path.display()
            ),
        ),
        Err(e) => log::emit(
            Level::Error,
            &format!(
                "mqtt-scram: credential reload failed, keeping the previous {len} records: {e}"
            ),
        ),
    }
}
