//! Where the broker gets stored credentials: JSON records (the crate's record format, as
//! written by `mqtt-scram gen --format json`) held in a [`MemoryProvider`], or (feature
//! `http`) the HTTP provider behind the single-flight cache.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::HashAlgorithm;
use mqtt_scram::provider::{
    CredentialProvider, DynCredentialProvider, IgnoreReason, Lookup, LookupRequest, MemoryProvider,
};
use mqtt_scram_stores::record::parse_records;

/// The configured credential source.
#[derive(Clone)]
pub enum Provider {
    /// Records loaded from a JSON file (or built by a test).
    Memory(Arc<MemoryProvider>),
    /// The EMQX-style HTTP service, with answers cached.
    #[cfg(feature = "http")]
    Http(Arc<mqtt_scram::provider::Cached<mqtt_scram_stores::http::HttpProvider>>),
    /// Any provider (e.g. built from a store configuration), with a description for the log.
    Shared(Arc<dyn DynCredentialProvider>, String),
}

impl Provider {
    /// Loads a record file: one JSON record, an array, or JSON lines.
    pub fn from_record_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let records = parse_records(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let store = MemoryProvider::new();
        store.replace_all(records);
        // Unknown users are shown the most common shape of these records (the memory
        // store reports it); records of another shape look unlike an unknown user's.
        let shapes = store.shapes();
        for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            let differing = shapes.differing(hash);
            if let (Some(shape), true) = (shapes.get(hash), differing > 0) {
                tracing::warn!(
                    file = %path.display(),
                    %hash,
                    differing,
                    mock_salt_len = shape.salt_len(),
                    mock_iterations = shape.iterations(),
                    "{differing} credential record(s) differ from the most common shape, which unknown users are shown"
                );
            }
        }
        Ok(Self::Memory(Arc::new(store)))
    }

    /// Builds the HTTP provider from a JSON `HttpConfig` (`mqtt_scram_stores::http::HttpConfig`)
    /// file, behind a cache keeping found records for `ttl` and unknown users for `negative_ttl`.
    #[cfg(feature = "http")]
    pub fn from_http_config(
        path: &Path,
        ttl: Duration,
        negative_ttl: Duration,
    ) -> Result<Self, String> {
        use mqtt_scram::provider::Cached;
        use mqtt_scram_stores::http::{HttpConfig, HttpProvider};
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let config: HttpConfig =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let provider = HttpProvider::new(config).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self::Http(Arc::new(
            Cached::new(provider).ttl(ttl).negative_ttl(negative_ttl),
        )))
    }

    /// Looks a user up, giving up after `timeout` (a slow provider is one that could not decide).
    pub async fn lookup(&self, request: &LookupRequest<'_>, timeout: Duration) -> Lookup {
        let lookup = async {
            match self {
                Self::Memory(store) => store.lookup(request).await,
                #[cfg(feature = "http")]
                Self::Http(cached) => cached.lookup(request).await,
                Self::Shared(provider, _) => provider.lookup_dyn(request).await,
            }
        };
        match tokio::time::timeout(timeout, lookup).await {
            Ok(lookup) => lookup,
            Err(_) => Lookup::Ignore(IgnoreReason::timeout("credential lookup timed out")),
        }
    }

    /// A one-line description for the start-up log (no secrets).
    pub fn describe(&self) -> String {
        match self {
            Self::Memory(store) => format!("memory ({} records)", store.len()),
            #[cfg(feature = "http")]
            Self::Http(_) => "http (cached)".to_string(),
            Self::Shared(_, description) => description.clone(),
        }
    }

    /// The provider as the authenticator holds it.
    pub fn shared(&self) -> Arc<dyn DynCredentialProvider> {
        match self {
            Self::Memory(store) => Arc::clone(store) as Arc<dyn DynCredentialProvider>,
            #[cfg(feature = "http")]
            Self::Http(cached) => Arc::clone(cached) as Arc<dyn DynCredentialProvider>,
            Self::Shared(provider, _) => Arc::clone(provider),
        }
    }
}
