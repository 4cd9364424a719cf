//! The per-broker object: [`Authenticator`] and its [`Builder`].

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mqtt_scram::provider::{CredentialProvider, DynCredentialProvider};
use mqtt_scram::{Clock, ConfigError, ConnectionInfo, ScramServer, ServerConfig, SystemClock};
use rand::CryptoRng;

use crate::admission::{Admission, AdmissionPolicy, NoticeSummary};
use crate::connection::ConnectionAuth;
use crate::observe::Metrics;
use crate::runtime::Runtime;
use crate::step::WithoutMethod;

/// Default time budget of one credential lookup.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// One per broker: the engine's configuration, the credential provider, the admission
/// policy, an RNG, a clock and a timer. Cheap to clone (shared state); create one
/// [`ConnectionAuth`] per connection with [`Authenticator::connection`].
///
/// ```
/// use mqtt_scram::provider::MemoryProvider;
/// use mqtt_scram::ServerConfig;
/// use mqtt_scram_authenticator::Authenticator;
/// let authenticator = Authenticator::builder(ServerConfig::new([0x5a; 32]), MemoryProvider::new())
///     .name("listener-1")
///     .build()?;
/// assert_eq!(authenticator.admission().stats().handshakes, 0);
/// # Ok::<(), mqtt_scram_authenticator::BuildError>(())
/// ```
#[derive(Clone)]
pub struct Authenticator {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) server: ScramServer,
    pub(crate) provider: Arc<dyn DynCredentialProvider>,
    pub(crate) admission: Arc<Admission>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Option<Mutex<Box<dyn CryptoRng + Send>>>,
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) lookup_timeout: Duration,
    pub(crate) metrics: Metrics,
    pub(crate) without_method: WithoutMethod,
}

impl Shared {
    /// Runs `f` with the configured RNG, or the thread's OS-seeded CSPRNG.
    pub(crate) fn with_rng<T>(&self, f: impl FnOnce(&mut dyn CryptoRng) -> T) -> T {
        match &self.rng {
            Some(rng) => {
                let mut rng = rng.lock().unwrap_or_else(PoisonError::into_inner);
                f(&mut **rng)
            }
            None => f(&mut rand::rng()),
        }
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("name", &self.shared.metrics.name())
            .field("server", &self.shared.server)
            .field("admission", &self.shared.admission)
            .field("lookup_timeout", &self.shared.lookup_timeout)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Starts a builder with the engine's configuration and a credential provider.
    pub fn builder(config: ServerConfig, provider: impl CredentialProvider + 'static) -> Builder {
        Builder::new(config, Arc::new(provider))
    }

    /// Starts a builder with a provider that is already shared (e.g. from a store
    /// configuration's `build()`).
    pub fn builder_shared(
        config: ServerConfig,
        provider: Arc<dyn DynCredentialProvider>,
    ) -> Builder {
        Builder::new(config, provider)
    }

    /// The authentication state of a new connection.
    pub fn connection(&self, info: Arc<ConnectionInfo>) -> ConnectionAuth {
        ConnectionAuth::new(Arc::clone(&self.shared), info)
    }

    /// The engine.
    pub fn server(&self) -> &ScramServer {
        &self.shared.server
    }

    /// The admission gate (shared with other fronts if built with [`Builder::admission_shared`]).
    pub fn admission(&self) -> &Arc<Admission> {
        &self.shared.admission
    }

    /// The recording calls (metric labels use this authenticator's name).
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// A summary of refusals and stalled handshakes, when one is due. The authenticator logs
    /// summaries itself (feature `tracing`) as notices arrive; call this from a periodic tick
    /// so the end of a burst is reported too.
    pub fn flush_notices(&self) -> Option<NoticeSummary> {
        let summary = self
            .shared
            .admission
            .flush_notices(self.shared.clock.monotonic());
        #[cfg(feature = "tracing")]
        if let Some(summary) = &summary {
            tracing::warn!(target: "mqtt_scram", "{summary}");
        }
        summary
    }
}

/// Why [`Builder::build`] failed; names the setting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The engine's configuration is invalid.
    Server(ConfigError),
    /// The admission policy is invalid.
    Admission(String),
    /// No [`Runtime`] was given and the `tokio` feature is off.
    NoRuntime,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server(e) => write!(f, "server configuration: {e}"),
            Self::Admission(e) => write!(f, "admission policy: {e}"),
            Self::NoRuntime => {
                f.write_str("no runtime: call Builder::runtime, or enable the `tokio` feature")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds an [`Authenticator`]; see [`Authenticator::builder`].
pub struct Builder {
    config: ServerConfig,
    provider: Arc<dyn DynCredentialProvider>,
    admission: Result<Arc<Admission>, AdmissionPolicy>,
    clock: Arc<dyn Clock>,
    rng: Option<Box<dyn CryptoRng + Send>>,
    runtime: Option<Arc<dyn Runtime>>,
    lookup_timeout: Duration,
    name: String,
    without_method: WithoutMethod,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("lookup_timeout", &self.lookup_timeout)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Builder {
    fn new(config: ServerConfig, provider: Arc<dyn DynCredentialProvider>) -> Self {
        Self {
            config,
            provider,
            admission: Err(AdmissionPolicy::default()),
            clock: Arc::new(SystemClock::new()),
            rng: None,
            runtime: None,
            lookup_timeout: DEFAULT_LOOKUP_TIMEOUT,
            name: "default".into(),
            without_method: WithoutMethod::default(),
        }
    }

    /// The admission policy (default [`AdmissionPolicy::default`]).
    pub fn admission(mut self, policy: AdmissionPolicy) -> Self {
        self.admission = Err(policy);
        self
    }

    /// An admission gate shared with other authenticators (e.g. one per listener, one gate).
    pub fn admission_shared(mut self, admission: Arc<Admission>) -> Self {
        self.admission = Ok(admission);
        self
    }

    /// The time budget of one credential lookup (default 5 s). A lookup past it is answered
    /// like [`Lookup::Ignore`](mqtt_scram::provider::Lookup::Ignore) with
    /// [`IgnoreKind::Timeout`](mqtt_scram::provider::IgnoreKind::Timeout).
    pub fn lookup_timeout(mut self, timeout: Duration) -> Self {
        self.lookup_timeout = timeout;
        self
    }

    /// The clock (default [`SystemClock`]); tests pass a
    /// [`ManualClock`](mqtt_scram::ManualClock).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The RNG for server nonces (default: the thread's OS-seeded CSPRNG, no lock).
    pub fn rng(mut self, rng: impl CryptoRng + Send + 'static) -> Self {
        self.rng = Some(Box::new(rng));
        self
    }

    /// The timer source (default `TokioRuntime` with the `tokio` feature).
    pub fn runtime(mut self, runtime: impl Runtime) -> Self {
        self.runtime = Some(Arc::new(runtime));
        self
    }

    /// The `authenticator` label of this authenticator's metrics (default `default`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// What a CONNECT without an Authentication Method gets from
    /// [`ConnectionAuth::on_connect_without_method`] (default
    /// [`WithoutMethod::NotAuthorized`]: CONNACK 0x87).
    pub fn without_method(mut self, answer: WithoutMethod) -> Self {
        self.without_method = answer;
        self
    }

    /// Checks the configuration and builds.
    pub fn build(self) -> Result<Authenticator, BuildError> {
        let server = ScramServer::new(self.config).map_err(BuildError::Server)?;
        let admission = match self.admission {
            Ok(shared) => shared,
            Err(policy) => Arc::new(Admission::new(policy).map_err(BuildError::Admission)?),
        };
        let runtime = match self.runtime {
            Some(runtime) => runtime,
            None => default_runtime()?,
        };
        Ok(Authenticator {
            shared: Arc::new(Shared {
                server,
                provider: self.provider,
                admission,
                clock: self.clock,
                rng: self.rng.map(Mutex::new),
                runtime,
                lookup_timeout: self.lookup_timeout,
                metrics: Metrics::new(&self.name),
                without_method: self.without_method,
            }),
        })
    }
}

#[cfg(feature = "tokio")]
fn default_runtime() -> Result<Arc<dyn Runtime>, BuildError> {
    Ok(Arc::new(crate::runtime::TokioRuntime))
}

#[cfg(not(feature = "tokio"))]
fn default_runtime() -> Result<Arc<dyn Runtime>, BuildError> {
    Err(BuildError::NoRuntime)
}
