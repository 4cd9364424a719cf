//! Credential providers: where the server's [`NeedCredentials`](crate::server::NeedCredentials)
//! state gets a user's stored credentials.
//!
//! The engine never calls a provider itself; the broker does, between
//! [`ScramServer::start`](crate::server::ScramServer::start) and
//! [`NeedCredentials::continue_with`](crate::server::NeedCredentials::continue_with).

#[cfg(feature = "std")]
mod memory;

#[cfg(feature = "std")]
pub use memory::MemoryProvider;

#[cfg(feature = "std")]
pub mod cache;
mod chain;
#[cfg(feature = "serde")]
pub mod file;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "serde")]
pub use file::{FileProvider, append_record_locked};

#[cfg(feature = "std")]
pub use cache::Cached;
pub use chain::{BoxLookup, Chain, DynCredentialProvider, OnNotFound};
#[cfg(feature = "http")]
pub use http::{HttpConfig, HttpProvider};

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;

use crate::acl::AclRule;
use crate::connection::ConnectionInfo;
use crate::credentials::StoredCredentials;
use crate::mechanism::Mechanism;

/// Everything a provider may need to find a user's credentials (and to fill templates).
#[derive(Clone, Copy, Debug)]
pub struct LookupRequest<'a> {
    /// Mechanism the client asked for.
    pub mechanism: Mechanism,
    /// SCRAM username (`n=`, unescaped).
    pub username: &'a str,
    /// Authorization identity (`a=`), if the client sent one.
    pub authzid: Option<&'a str>,
    /// The connection: client id, MQTT username, peer, listener, certificate names.
    pub connection: &'a ConnectionInfo,
}

/// A user's record as a provider returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// Stored credentials for the hash of the requested mechanism.
    pub credentials: StoredCredentials,
    /// Superuser flag, passed through to the identity.
    pub is_superuser: bool,
    /// Client attributes, passed through to the identity.
    pub client_attrs: BTreeMap<String, String>,
    /// When the credentials stop being valid (Unix seconds).
    pub expire_at: Option<u64>,
    /// Authorization rules, passed through to the identity.
    pub acl: Vec<AclRule>,
}

impl UserRecord {
    /// A record with only credentials.
    pub fn new(credentials: StoredCredentials) -> Self {
        Self {
            credentials,
            is_superuser: false,
            client_attrs: BTreeMap::new(),
            expire_at: None,
            acl: Vec::new(),
        }
    }
}

/// Why a provider could not decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoreReason(pub String);

/// A provider's answer.
// Moved once per handshake; boxing the record would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The user exists.
    Found(UserRecord),
    /// The user does not exist. The engine answers with a mock challenge.
    NotFound,
    /// The provider could not decide (down, timeout, garbage). The engine treats it
    /// like an unknown user towards the client, and reports it locally.
    Ignore(IgnoreReason),
}

/// An (async) source of stored credentials.
pub trait CredentialProvider: Send + Sync {
    /// Looks up one user. Must not panic; failures are [`Lookup::Ignore`].
    fn lookup(&self, request: &LookupRequest<'_>) -> impl Future<Output = Lookup> + Send;
}

/// A synchronous source of stored credentials; every one is also a [`CredentialProvider`].
pub trait SyncCredentialProvider: Send + Sync {
    /// Looks up one user without blocking on I/O.
    fn lookup_sync(&self, request: &LookupRequest<'_>) -> Lookup;
}

impl<T: SyncCredentialProvider> CredentialProvider for T {
    fn lookup(&self, request: &LookupRequest<'_>) -> impl Future<Output = Lookup> + Send {
        core::future::ready(self.lookup_sync(request))
    }
}
