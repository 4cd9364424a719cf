//! Providers tried in order ([`Chain`]), and the object-safe adapter
//! ([`DynCredentialProvider`]) that lets one chain hold providers of different types.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;

use super::{CredentialProvider, IgnoreReason, Lookup, LookupRequest, MockShape};
use crate::mechanism::HashAlgorithm;

/// The future a [`DynCredentialProvider`] returns.
///
/// ```
/// use mqtt_scram::provider::{BoxLookup, DynCredentialProvider, LookupRequest, MemoryProvider};
/// fn ask<'a>(p: &'a dyn DynCredentialProvider, r: &'a LookupRequest<'a>) -> BoxLookup<'a> {
///     p.lookup_dyn(r)
/// }
/// # let _ = ask(&MemoryProvider::new(), &LookupRequest::new(mqtt_scram::Mechanism::ScramSha256, "a", &mqtt_scram::ConnectionInfo::new("c")));
/// ```
pub type BoxLookup<'a> = Pin<Box<dyn Future<Output = Lookup> + Send + 'a>>;

/// An object-safe [`CredentialProvider`]: the future is boxed, so
/// `Box<dyn DynCredentialProvider>` and `Arc<dyn DynCredentialProvider>` work.
///
/// Every [`CredentialProvider`] implements it, and both boxed forms implement
/// [`CredentialProvider`] again, so they nest in [`Chain`] and
/// `Cached` like any provider.
///
/// ```
/// use std::sync::Arc;
/// use mqtt_scram::provider::{Chain, DynCredentialProvider, MemoryProvider};
/// // Providers of different types behind one trait object, shared by two chains.
/// let store: Arc<dyn DynCredentialProvider> = Arc::new(MemoryProvider::new());
/// let a = Chain::new().push(Arc::clone(&store));
/// let b = Chain::new().push(store);
/// assert_eq!((a.len(), b.len()), (1, 1));
/// ```
pub trait DynCredentialProvider: Send + Sync {
    /// [`CredentialProvider::lookup`] with a boxed future.
    fn lookup_dyn<'a>(&'a self, request: &'a LookupRequest<'a>) -> BoxLookup<'a>;

    /// [`CredentialProvider::record_shape`].
    fn record_shape_dyn(&self, hash: HashAlgorithm) -> Option<MockShape>;
}

impl<T: CredentialProvider> DynCredentialProvider for T {
    fn lookup_dyn<'a>(&'a self, request: &'a LookupRequest<'a>) -> BoxLookup<'a> {
        Box::pin(self.lookup(request))
    }

    fn record_shape_dyn(&self, hash: HashAlgorithm) -> Option<MockShape> {
        self.record_shape(hash)
    }
}

impl CredentialProvider for Box<dyn DynCredentialProvider> {
    async fn lookup(&self, request: &LookupRequest<'_>) -> Lookup {
        (**self).lookup_dyn(request).await
    }

    fn record_shape(&self, hash: HashAlgorithm) -> Option<MockShape> {
        (**self).record_shape_dyn(hash)
    }
}

impl CredentialProvider for Arc<dyn DynCredentialProvider> {
    async fn lookup(&self, request: &LookupRequest<'_>) -> Lookup {
        (**self).lookup_dyn(request).await
    }

    fn record_shape(&self, hash: HashAlgorithm) -> Option<MockShape> {
        (**self).record_shape_dyn(hash)
    }
}

/// A shared provider is a provider (so one `HttpProvider` can sit in several chains or caches).
impl<P: CredentialProvider> CredentialProvider for Arc<P> {
    async fn lookup(&self, request: &LookupRequest<'_>) -> Lookup {
        (**self).lookup(request).await
    }

    fn record_shape(&self, hash: HashAlgorithm) -> Option<MockShape> {
        (**self).record_shape(hash)
    }
}

/// What a [`Chain`] does when a provider answers [`Lookup::NotFound`].
///
/// ```
/// use mqtt_scram::provider::{Chain, MemoryProvider, OnNotFound};
/// // Fall through to the next store when the first does not know the user.
/// let chain = Chain::new().push(MemoryProvider::new()).on_not_found(OnNotFound::Continue);
/// # let _ = chain;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnNotFound {
    /// The user does not exist: stop and answer `NotFound` (EMQX's chain semantics).
    #[default]
    Stop,
    /// Ask the next provider, as for [`Lookup::Ignore`].
    Continue,
}

/// Providers asked in order: the first [`Lookup::Found`] wins, [`Lookup::Ignore`]
/// moves on to the next one, [`Lookup::NotFound`] stops (or moves on, see
/// [`OnNotFound`]). When every provider has passed, the answer is
/// [`Lookup::NotFound`] (also for an empty chain) — unless *every* provider answered
/// [`Lookup::Ignore`], which stays `Ignore` with the reasons joined (and the first
/// provider's [`IgnoreKind`](super::IgnoreKind)): the engine answers both with the same
/// mock challenge, but an `Ignore` is never cached by `Cached` and is
/// logged as "credentials unavailable", not as an unknown user.
///
/// A found record ends the chain even when it has expired: expiry is a final "no"
/// (the engine refuses the exchange), never a reason to ask the next provider.
///
/// ```
/// use mqtt_scram::provider::{Chain, MemoryProvider, OnNotFound};
/// let chain = Chain::new()
///     .push(MemoryProvider::new())     // e.g. local overrides
///     .push(MemoryProvider::new())     // e.g. an HttpProvider
///     .on_not_found(OnNotFound::Continue);
/// assert_eq!(chain.len(), 2);
/// ```
pub struct Chain {
    providers: Vec<Box<dyn DynCredentialProvider>>,
    on_not_found: OnNotFound,
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("providers", &self.providers.len())
            .field("on_not_found", &self.on_not_found)
            .finish()
    }
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// An empty chain (which answers `NotFound` to everything).
    pub fn new() -> Self {
        Self {
            providers: Vec::new(),
            on_not_found: OnNotFound::Stop,
        }
    }

    /// Appends a provider.
    pub fn push<P: CredentialProvider + 'static>(mut self, provider: P) -> Self {
        self.providers.push(Box::new(provider));
        self
    }

    /// Appends an already boxed provider.
    pub fn push_boxed(mut self, provider: Box<dyn DynCredentialProvider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// Sets what a `NotFound` answer does (default: [`OnNotFound::Stop`]).
    pub fn on_not_found(mut self, policy: OnNotFound) -> Self {
        self.on_not_found = policy;
        self
    }

    /// Number of providers.
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    /// Whether the chain has no provider.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}

impl CredentialProvider for Chain {
    /// The first shape a provider reports, in order (e.g. a local file's before a remote
    /// store's `None`).
    fn record_shape(&self, hash: HashAlgorithm) -> Option<MockShape> {
        self.providers.iter().find_map(|p| p.record_shape_dyn(hash))
    }

    async fn lookup(&self, request: &LookupRequest<'_>) -> Lookup {
        let mut ignored: Vec<IgnoreReason> = Vec::new();
        let mut not_found = self.providers.is_empty();
        for provider in &self.providers {
            match provider.lookup_dyn(request).await {
                Lookup::Found(record) => return Lookup::Found(record),
                Lookup::NotFound if self.on_not_found == OnNotFound::Stop => {
                    return Lookup::NotFound;
                }
                Lookup::NotFound => not_found = true,
                Lookup::Ignore(reason) => ignored.push(reason),
            }
        }
        match (not_found, ignored.len()) {
            (true, _) | (false, 0) => Lookup::NotFound,
            (false, 1) => ignored.pop().map_or(Lookup::NotFound, Lookup::Ignore),
            (false, _) => {
                let kind = ignored.first().map(IgnoreReason::kind);
                let joined: Vec<String> = ignored.iter().map(ToString::to_string).collect();
                let detail = alloc::format!("every provider ignored: {}", joined.join("; "));
                kind.map_or(Lookup::NotFound, |kind| {
                    Lookup::Ignore(IgnoreReason::new(kind, detail))
                })
            }
        }
    }
}
