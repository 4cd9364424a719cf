//! Where the broker gets stored credentials: JSON records (the crate's record format, as
//! written by `mqtt-scram gen --format json`) held in a [`MemoryProvider`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mqtt_scram::provider::{
    CredentialProvider, IgnoreReason, Lookup, LookupRequest, MemoryProvider,
};
use mqtt_scram::record::parse_records;

/// The configured credential source.
#[derive(Clone)]
pub enum Provider {
    /// Records loaded from a JSON file (or built by a test).
    Memory(Arc<MemoryProvider>),
}

impl Provider {
    /// Loads a record file: one JSON record, an array, or JSON lines.
    pub fn from_record_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let records = parse_records(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let store = MemoryProvider::new();
        store.replace_all(records);
        Ok(Self::Memory(Arc::new(store)))
    }

    /// Looks a user up, giving up after `timeout` (a slow provider is one that could not decide).
    pub async fn lookup(&self, request: &LookupRequest<'_>, timeout: Duration) -> Lookup {
        let lookup = async {
            match self {
                Self::Memory(store) => store.lookup(request).await,
            }
        };
        match tokio::time::timeout(timeout, lookup).await {
            Ok(lookup) => lookup,
            Err(_) => Lookup::Ignore(IgnoreReason("credential lookup timed out".into())),
        }
    }

    /// A one-line description for the start-up log (no secrets).
    pub fn describe(&self) -> String {
        match self {
            Self::Memory(store) => format!("memory ({} records)", store.len()),
        }
    }
}
