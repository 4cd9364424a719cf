//! [`HttpProvider`]: credentials from an HTTP service that speaks EMQX's SCRAM REST
//! contract (feature `http`).
//!
//! One lookup is one request built from templates ([`HttpConfig`]); the service answers
//! `200` with `{"stored_key": "<hex>", "server_key": "<hex>", "salt": "<hex>"}` and
//! optionally `iteration_count`, `is_superuser`, `client_attrs`, `expire_at` and `acl`.
//! Everything else is [`Lookup::Ignore`] with a reason logged through `tracing`, so the
//! engine answers with the same mock challenge as for an unknown user:
//! [`IgnoreKind::Unavailable`] for a connection error or another status,
//! [`IgnoreKind::Timeout`] when no answer came in time, [`IgnoreKind::InvalidRecord`] for a
//! wrong content type, an oversized or malformed body or a bad key,
//! [`IgnoreKind::NotApplicable`] when the service answers `ignore`. A record whose
//! `expire_at` has passed is returned as it is (`Found`): the engine refuses it at the end
//! of the exchange, a final "no" as in EMQX, which a later provider in a chain cannot turn
//! into a yes. Nothing here panics, and nothing here accepts. Logs and `{:?}` never show
//! a header value or a URL's query string.
//!
//! [`HttpConfig::emqx_scram`] gives EMQX 5's SCRAM REST API defaults.
//!
//! Lookups must run inside a Tokio runtime (outside one they answer `Ignore`).
//!
//! ```no_run
//! use mqtt_scram::provider::{Cached, CredentialProvider, LookupRequest};
//! use mqtt_scram_stores::http::{HttpConfig, HttpProvider};
//! use mqtt_scram::{ConnectionInfo, Mechanism};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config: HttpConfig = serde_json::from_str(r#"{
//!     "url": "https://auth.example/scram/${username}",
//!     "method": "get",
//!     "headers": {"x-client-id": "${clientid}"},
//!     "not_found_status": [404],
//!     "tls": {"ca_file": "/etc/mqtt/auth-ca.pem"}
//! }"#)?;
//! let provider = Cached::new(HttpProvider::new(config)?);
//! let connection = ConnectionInfo::new("client-1");
//! let request = LookupRequest::new(Mechanism::ScramSha256, "alice", &connection);
//! let lookup = provider.lookup(&request).await;
//! # drop(lookup);
//! # Ok(())
//! # }
//! ```

mod response;

pub use mqtt_scram_http::config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_LOOKUP_DEADLINE, DEFAULT_MAX_BODY_SIZE, DEFAULT_POOL_SIZE,
    DEFAULT_REQUEST_TIMEOUT, HttpConfig, HttpConfigError, HttpMethod, HttpVersion, ParamsMode,
    TlsConfig,
};

use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use core::fmt;

use reqwest::header::CONTENT_TYPE;

use mqtt_scram::provider::{CredentialProvider, IgnoreKind, IgnoreReason, Lookup, LookupRequest};
use mqtt_scram_http::client::{
    ReadError, Retry, Retryable, check_backoff, client, read_body, with_retries,
};
use mqtt_scram_http::redact::describe_transport;
use mqtt_scram_http::request::RequestPlan;

#[doc(hidden)]
pub use self::response::parse_body;

/// A credential provider backed by an HTTP service (EMQX SCRAM REST contract).
///
/// Cheap to share (`Arc` it); the connection pool lives inside. Build it once with
/// [`HttpProvider::new`], which checks the whole configuration.
pub struct HttpProvider {
    client: reqwest::Client,
    plan: RequestPlan,
    default_iterations: u32,
    not_found_status: Vec<u16>,
    max_body_size: usize,
    retry_times: u32,
    retry_interval: Duration,
    retry_backoff: f64,
    lookup_deadline: Duration,
    request_timeout: Duration,
    connect_timeout: Duration,
}

impl fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProvider")
            .field("plan", &self.plan)
            .field("retry_times", &self.retry_times)
            .field("lookup_deadline", &self.lookup_deadline)
            .finish_non_exhaustive()
    }
}

impl HttpProvider {
    /// Checks `config` and builds the client: every bad URL, template, header, TLS file
    /// or setting is an error here, not at the first lookup.
    pub fn new(config: HttpConfig) -> Result<Self, HttpConfigError> {
        check_settings(&config)?;
        let plan = RequestPlan::new(&config)?;
        let client = client(&config, &plan)?;
        Ok(Self {
            client,
            plan,
            default_iterations: config.default_iterations,
            not_found_status: config.not_found_status,
            max_body_size: config.max_body_size,
            retry_times: config.retry_times,
            retry_interval: config.retry_interval,
            retry_backoff: config.retry_backoff,
            lookup_deadline: config.lookup_deadline,
            request_timeout: config.request_timeout,
            connect_timeout: config.connect_timeout,
        })
    }

    async fn lookup_with_retries(&self, request: &LookupRequest<'_>) -> Lookup {
        let retry = Retry {
            times: self.retry_times,
            interval: self.retry_interval,
            backoff: self.retry_backoff,
        };
        with_retries(
            &retry,
            || self.attempt(request),
            |attempt, reason| {
                tracing::debug!(username = request.username, attempt, %reason, "http provider: retrying");
            },
        )
        .await
        .unwrap_or_else(|failure| {
            let kind = if failure.timeout {
                IgnoreKind::Timeout
            } else {
                IgnoreKind::Unavailable
            };
            Lookup::Ignore(IgnoreReason::new(kind, failure.reason))
        })
    }

    async fn attempt(&self, request: &LookupRequest<'_>) -> Result<Lookup, Retryable> {
        let ignore = |reason: String| Ok(Lookup::Ignore(IgnoreReason::unavailable(reason)));
        let http_request = match self.plan.build(&self.client, request) {
            Ok(http_request) => http_request,
            Err(reason) => return ignore(reason),
        };
        let mut response = match self.client.execute(http_request).await {
            Ok(response) => response,
            Err(e) if e.is_connect() || e.is_timeout() => return Err(Retryable::transport(e)),
            Err(e) => return ignore(describe_transport(e)),
        };
        let status = response.status();
        if status == reqwest::StatusCode::OK {
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let body = match read_body(&mut response, self.max_body_size).await {
                Ok(body) => body,
                Err(ReadError::Transport(e)) if e.is_timeout() => {
                    return Err(Retryable::transport(e));
                }
                Err(e @ ReadError::TooLarge(_)) => {
                    return Ok(Lookup::Ignore(IgnoreReason::invalid_record(e.to_string())));
                }
                Err(e) => return ignore(e.to_string()),
            };
            Ok(parse_body(
                content_type.as_deref(),
                &body,
                request.mechanism.hash(),
                self.default_iterations,
            ))
        } else if self.not_found_status.contains(&status.as_u16()) {
            Ok(Lookup::NotFound)
        } else if status.is_server_error() {
            Err(Retryable {
                reason: std::format!("status {status}"),
                timeout: false,
            })
        } else {
            ignore(std::format!("status {status}; only 200 carries a record"))
        }
    }
}

impl CredentialProvider for HttpProvider {
    async fn lookup(&self, request: &LookupRequest<'_>) -> Lookup {
        if tokio::runtime::Handle::try_current().is_err() {
            let reason = "http provider used outside a Tokio runtime";
            tracing::warn!(username = request.username, reason);
            return Lookup::Ignore(IgnoreReason::unavailable(reason));
        }
        // One attempt is already bounded by the client's timeouts; retries need the deadline.
        let bounded = self.retry_times == 0
            && self.lookup_deadline >= self.request_timeout.saturating_add(self.connect_timeout);
        let lookup = if bounded {
            self.lookup_with_retries(request).await
        } else {
            match tokio::time::timeout(self.lookup_deadline, self.lookup_with_retries(request))
                .await
            {
                Ok(lookup) => lookup,
                Err(_) => Lookup::Ignore(IgnoreReason::timeout(std::format!(
                    "lookup deadline of {:?} exceeded",
                    self.lookup_deadline
                ))),
            }
        };
        match &lookup {
            Lookup::Found(_) => {
                tracing::debug!(username = request.username, "http provider: found")
            }
            Lookup::NotFound => {
                tracing::debug!(username = request.username, "http provider: not found")
            }
            Lookup::Ignore(reason) => {
                tracing::warn!(username = request.username, %reason, "http provider: ignoring");
            }
        }
        lookup
    }
}

fn check_settings(config: &HttpConfig) -> Result<(), HttpConfigError> {
    let bad = HttpConfigError::setting;
    if config.default_iterations == 0 {
        return Err(bad("default_iterations", "must be positive"));
    }
    for (setting, value) in [
        ("connect_timeout", config.connect_timeout),
        ("request_timeout", config.request_timeout),
        ("lookup_deadline", config.lookup_deadline),
    ] {
        if value.is_zero() {
            return Err(bad(setting, "must be longer than zero"));
        }
    }
    if config.max_body_size == 0 {
        return Err(bad("max_body_size", "must be positive"));
    }
    check_backoff(config.retry_backoff)?;
    if let Some(status) = config
        .not_found_status
        .iter()
        .find(|s| !(400..=599).contains(*s))
    {
        return Err(bad(
            "not_found_status",
            &std::format!("{status} is not a 4xx or 5xx status"),
        ));
    }
    Ok(())
}
