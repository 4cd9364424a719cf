//! Credential providers: where the server's [`NeedCredentials`](crate::server::NeedCredentials)
//! state gets a user's stored credentials.
//!
//! The engine never calls a provider itself; the broker (or the async authenticator) does,
//! between [`ScramServer::start`](crate::server::ScramServer::start) and
//! [`NeedCredentials::continue_with`](crate::server::NeedCredentials::continue_with).
//!
//! This module holds the interface and the stores that need no I/O: `MemoryProvider`,
//! [`Chain`] and `Cached`. Stores with I/O (files, HTTP, PostgreSQL, Redis) live in the
//! `mqtt-scram-stores` package.
//!
//! # Writing a provider
//! ```
//! use std::sync::Arc;
//! use mqtt_scram::provider::{IgnoreReason, Lookup, LookupRequest, SyncCredentialProvider, UserRecord};
//!
//! /// Users whose names start with "svc-" come from somewhere else.
//! struct ServiceAccounts(Arc<UserRecord>);
//!
//! impl SyncCredentialProvider for ServiceAccounts {
//!     fn lookup_sync(&self, request: &LookupRequest<'_>) -> Lookup {
//!         if !request.username.starts_with("svc-") {
//!             return Lookup::Ignore(IgnoreReason::new(
//!                 mqtt_scram::provider::IgnoreKind::NotApplicable, "not a service account"));
//!         }
//!         if self.0.credentials.hash() != request.mechanism.hash() {
//!             return Lookup::NotFound;
//!         }
//!         Lookup::Found(Arc::clone(&self.0))      // no copy of the keys
//!     }
//! }
//! ```
//! An async provider implements [`CredentialProvider`] instead; it must not panic, and
//! every failure (down, timeout, garbage) is a [`Lookup::Ignore`] with a reason.

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod cache;
mod chain;
mod ignore;
#[cfg(feature = "std")]
mod memory;
mod record;
pub(crate) mod shape;

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use cache::Cached;
pub use chain::{BoxLookup, Chain, DynCredentialProvider, OnNotFound};
pub use ignore::{IgnoreKind, IgnoreReason};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use memory::MemoryProvider;
pub use record::{AuthzData, UserAttributes, UserRecord};
pub use shape::{MAX_MOCK_SALT_LEN, MIN_MOCK_SALT_LEN, MockShape, RecordShapes, ShapeCensus};

use alloc::sync::Arc;
use core::future::Future;

use crate::connection::ConnectionInfo;
use crate::mechanism::{HashAlgorithm, Mechanism};

/// Everything a provider may need to find a user's credentials (and to fill templates).
///
/// ```
/// use mqtt_scram::{ConnectionInfo, Mechanism, provider::LookupRequest};
/// let conn = ConnectionInfo::new("sensor-17");
/// let request = LookupRequest::new(Mechanism::ScramSha256, "alice", &conn).with_authzid(Some("admin"));
/// assert_eq!((request.username, request.authzid), ("alice", Some("admin")));
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct LookupRequest<'a> {
    /// Mechanism the client asked for.
    pub mechanism: Mechanism,
    /// SCRAM username (`n=`, unescaped, SASLprep'd).
    pub username: &'a str,
    /// Authorization identity (`a=`), if the client sent one.
    pub authzid: Option<&'a str>,
    /// The connection: client id, MQTT username, peer, listener, certificate names.
    pub connection: &'a ConnectionInfo,
}

impl<'a> LookupRequest<'a> {
    /// A request for `username` with `mechanism` on `connection` (no authzid). The engine
    /// builds these; tools and tests that call a provider directly use this.
    pub fn new(mechanism: Mechanism, username: &'a str, connection: &'a ConnectionInfo) -> Self {
        Self {
            mechanism,
            username,
            authzid: None,
            connection,
        }
    }

    /// The same request with an authorization identity.
    pub fn with_authzid(mut self, authzid: Option<&'a str>) -> Self {
        self.authzid = authzid;
        self
    }
}

/// A provider's answer.
///
/// ```
/// use mqtt_scram::{HashAlgorithm, StoredCredentials};
/// use mqtt_scram::provider::{IgnoreReason, Lookup, UserRecord};
/// let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl", 4096)?;
/// let found = Lookup::found(UserRecord::new(creds));
/// let down = Lookup::Ignore(IgnoreReason::unavailable("db-1 refused the connection"));
/// assert!(matches!(found, Lookup::Found(_)) && matches!(down, Lookup::Ignore(_)));
/// # Ok::<(), mqtt_scram::credentials::CredentialsError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The user exists. The record is shared, not copied; an expired record is a final
    /// "no" (the engine refuses it, and a [`Chain`] does not ask further providers).
    Found(Arc<UserRecord>),
    /// The user does not exist. The engine answers with a mock challenge.
    NotFound,
    /// The provider could not decide (down, timeout, garbage, record outside policy).
    /// The engine treats it like an unknown user towards the client and reports the
    /// reason locally.
    Ignore(IgnoreReason),
}

impl Lookup {
    /// [`Lookup::Found`] for a record not yet shared.
    pub fn found(record: UserRecord) -> Self {
        Self::Found(Arc::new(record))
    }
}

/// An (async) source of stored credentials.
///
/// ```
/// use mqtt_scram::provider::{CredentialProvider, Lookup, LookupRequest};
/// /// A store behind an async client (here: nobody is ever found).
/// struct Remote;
/// impl CredentialProvider for Remote {
///     async fn lookup(&self, _request: &LookupRequest<'_>) -> Lookup {
///         // e.g. `match tokio::time::timeout(d, db.query(..)).await { .. }`
///         Lookup::NotFound
///     }
/// }
/// ```
pub trait CredentialProvider: Send + Sync {
    /// Looks up one user. Must not panic; failures are [`Lookup::Ignore`].
    fn lookup(&self, request: &LookupRequest<'_>) -> impl Future<Output = Lookup> + Send;

    /// The most common shape (salt length, iteration count) of the `hash` records this
    /// provider holds, for unknown users' mock challenges (see [`MockShape`]); `None`
    /// (the default) when it does not know, e.g. a remote store: then the server's
    /// configured shape is used. Must answer at once, without I/O.
    fn record_shape(&self, hash: HashAlgorithm) -> Option<MockShape> {
        let _ = hash;
        None
    }
}

/// A synchronous source of stored credentials; every one is also a [`CredentialProvider`].
///
/// ```
/// use mqtt_scram::{ConnectionInfo, Mechanism};
/// use mqtt_scram::provider::{Lookup, LookupRequest, SyncCredentialProvider};
/// struct Nobody;
/// impl SyncCredentialProvider for Nobody {
///     fn lookup_sync(&self, _: &LookupRequest<'_>) -> Lookup {
///         Lookup::NotFound
///     }
/// }
/// let conn = ConnectionInfo::new("c");
/// assert_eq!(Nobody.lookup_sync(&LookupRequest::new(Mechanism::ScramSha256, "x", &conn)), Lookup::NotFound);
/// ```
pub trait SyncCredentialProvider: Send + Sync {
    /// Looks up one user without blocking on I/O.
    fn lookup_sync(&self, request: &LookupRequest<'_>) -> Lookup;

    /// [`CredentialProvider::record_shape`] of a synchronous provider (default `None`).
    fn record_shape_sync(&self, hash: HashAlgorithm) -> Option<MockShape> {
        let _ = hash;
        None
    }
}

impl<T: SyncCredentialProvider> CredentialProvider for T {
    fn lookup(&self, request: &LookupRequest<'_>) -> impl Future<Output = Lookup> + Send {
        core::future::ready(self.lookup_sync(request))
    }

    fn record_shape(&self, hash: HashAlgorithm) -> Option<MockShape> {
        self.record_shape_sync(hash)
    }
}
