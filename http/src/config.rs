//! [`HttpConfig`]: what to send where, how long to wait, and how to trust the server.
//! A plain struct with builder methods, loadable from TOML/JSON with serde.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use mqtt_scram::config_duration::millis;
use mqtt_scram::credentials::DEFAULT_ITERATIONS;

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default timeout of one request (sending it and reading the whole response).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on one lookup, retries included.
pub const DEFAULT_LOOKUP_DEADLINE: Duration = Duration::from_secs(10);
/// Default number of idle keep-alive connections kept.
pub const DEFAULT_POOL_SIZE: usize = 8;
/// Default largest response body read.
pub const DEFAULT_MAX_BODY_SIZE: usize = 64 * 1024;

/// HTTP method of the lookup request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpMethod {
    /// `GET`: body parameters go to the query string.
    #[serde(alias = "GET")]
    Get,
    /// `POST` (default): body parameters go in the body.
    #[default]
    #[serde(alias = "POST")]
    Post,
    /// `PUT`: body parameters go in the body.
    #[serde(alias = "PUT")]
    Put,
}

/// How the parameters ([`HttpConfig::body`]) travel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamsMode {
    /// A JSON object in the body of POST and PUT (unless a configured `content-type`
    /// header says form); the query string of GET. EMQX's behaviour; the default.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded` in the body of POST and PUT (unless a
    /// configured `content-type` header says JSON, as EMQX v4 lets it decide); the query
    /// string of GET (EMQX v4, amqtt `params_mode: form`).
    Form,
    /// A JSON object in the body whatever the method, GET included (amqtt
    /// `params_mode: json`, which aiohttp sends as a body with every method).
    JsonBody,
}

/// HTTP versions the client may speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpVersion {
    /// HTTP/1.1, or HTTP/2 when TLS ALPN agrees (default).
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (prior knowledge on plain `http://`).
    Http2,
}

/// TLS settings for `https://` URLs (rustls; no OpenSSL).
///
/// ```
/// use mqtt_scram_http::config::TlsConfig;
/// let tls: TlsConfig = serde_json::from_str(r#"{"dangerous_accept_invalid_certs": true}"#)?;
/// assert!(tls.dangerous_accept_invalid_certs);
/// // The earlier name is still read.
/// let old: TlsConfig = serde_json::from_str(r#"{"danger_accept_invalid_certs": true}"#)?;
/// assert_eq!(old, tls);
/// assert!(!TlsConfig::default().dangerous_accept_invalid_certs);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust *instead of* the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain presented to the server (mutual TLS); needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Name sent as SNI, checked against the server certificate and sent as `Host`, when
    /// it differs from the URL's host (the connection still goes to the URL's host).
    pub server_name: Option<String>,
    /// Whether to send SNI at all (default true).
    pub enable_sni: bool,
    /// Accept any server certificate. For tests only: it removes all protection TLS gives.
    /// The stores' and `mqtt-scram probe`'s name for it too; `danger_accept_invalid_certs`
    /// (reqwest's name, and this setting's earlier one) is read as an alias.
    #[serde(alias = "danger_accept_invalid_certs")]
    pub dangerous_accept_invalid_certs: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            ca_file: None,
            cert_file: None,
            key_file: None,
            server_name: None,
            enable_sni: true,
            dangerous_accept_invalid_certs: false,
        }
    }
}

/// Configuration of an HTTP request: the credential store's (`mqtt_scram_stores::http::HttpProvider`)
/// or, built from `HttpAclConfig`, the HTTP authorizer's.
///
/// Templates (`url`, header values, body keys and values) may use `${username}`,
/// `${clientid}`, `${peerhost}`, `${peerport}`, `${protocol}`, `${listener}`,
/// `${mechanism}`, `${cert_common_name}`, `${cert_subject}`, `${client_attrs.NAME}`, and
/// the legacy EMQX v4 forms `%u %c %a %p %r %C %d` (`%p` is the *listener* port, EMQX v4's
/// `sockport`; the client's port is `${peerport}`; a `%` that starts a `%XX` escape stays
/// literal). Body keys are templates too, as EMQX 5 renders them
/// (`emqx_template:parse_deep`). Values are percent-encoded in the URL (all
/// but `A-Za-z0-9-._~`), sent as they are in JSON bodies and headers (a value with CR, LF or
/// NUL in a header, or a URL value of `.` or `..`, stops that lookup with `Ignore` before
/// anything is sent), and form-encoded in form bodies and GET parameters. Nothing is checked until
/// `HttpProvider::new` (or `RequestPlan::new`), which rejects every bad URL,
/// template or header.
///
/// `{:?}` shows no header value, no parameter value and no query string: they may hold
/// API keys.
///
/// ```
/// use std::time::Duration;
/// use mqtt_scram_http::config::{HttpConfig, HttpMethod};
/// let config = HttpConfig::new("http://127.0.0.1:8080/scram/${username}")
///     .method(HttpMethod::Get)
///     .header("x-client", "${clientid}")
///     .param("listener", "${listener}")
///     .not_found_status(404)
///     .request_timeout(Duration::from_secs(2));
/// let from_json: HttpConfig = serde_json::from_str(
///     r#"{"url": "http://127.0.0.1:8080/scram", "method": "post", "body": {"u": "%u"},
///         "request_timeout": "2s", "retry_times": 2}"#,
/// )?;
/// assert_eq!(from_json.request_timeout, Duration::from_secs(2));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Request method (default POST).
    pub method: HttpMethod,
    /// `http://` or `https://` URL; placeholders allowed in path and query.
    pub url: String,
    /// Extra headers; values may hold placeholders. They override the defaults.
    pub headers: BTreeMap<String, String>,
    /// Body parameters (query parameters for GET); values may hold placeholders.
    pub body: BTreeMap<String, String>,
    /// Body encoding for POST/PUT (default JSON).
    pub params_mode: ParamsMode,
    /// Iteration count for records that do not carry `iteration_count` (default 4096).
    pub default_iterations: u32,
    /// Statuses that mean "no such user" ([`Lookup::NotFound`](mqtt_scram::provider::Lookup::NotFound))
    /// rather than "could not decide" (default none).
    pub not_found_status: Vec<u16>,
    /// `user-agent` header (default `mqtt-scram/<version>`); empty sends none.
    pub user_agent: String,
    /// TCP + TLS connect timeout (default 5 s).
    #[serde(with = "millis")]
    pub connect_timeout: Duration,
    /// Timeout of one request attempt, body included (default 5 s).
    #[serde(with = "millis")]
    pub request_timeout: Duration,
    /// Bound on a whole lookup, retries and back-off included (default 10 s).
    #[serde(with = "millis")]
    pub lookup_deadline: Duration,
    /// Idle keep-alive connections kept (default 8).
    pub pool_size: usize,
    /// HTTP version (default auto).
    pub http_version: HttpVersion,
    /// Largest response body read, in bytes (default 64 KiB).
    pub max_body_size: usize,
    /// Retries after a connect error, timeout or 5xx (default 0).
    pub retry_times: u32,
    /// Wait before the first retry (default 1 s).
    #[serde(with = "millis")]
    pub retry_interval: Duration,
    /// Factor applied to the wait after each retry (default 2.0 as in EMQX v4; 1.0 to 100.0).
    pub retry_backoff: f64,
    /// TLS settings for `https://`.
    pub tls: TlsConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            method: HttpMethod::Post,
            url: String::new(),
            headers: BTreeMap::new(),
            body: BTreeMap::new(),
            params_mode: ParamsMode::Json,
            default_iterations: DEFAULT_ITERATIONS,
            not_found_status: Vec::new(),
            user_agent: std::format!("mqtt-scram/{}", env!("CARGO_PKG_VERSION")),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            lookup_deadline: DEFAULT_LOOKUP_DEADLINE,
            pool_size: DEFAULT_POOL_SIZE,
            http_version: HttpVersion::Auto,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            retry_times: 0,
            retry_interval: Duration::from_secs(1),
            retry_backoff: 2.0,
            tls: TlsConfig::default(),
        }
    }
}

impl core::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use crate::redact::{REDACTED, redact_url};
        let names = |map: &BTreeMap<String, String>| {
            map.keys()
                .map(|k| (k.clone(), REDACTED))
                .collect::<BTreeMap<_, _>>()
        };
        f.debug_struct("HttpConfig")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &names(&self.headers))
            .field("body", &names(&self.body))
            .field("params_mode", &self.params_mode)
            .field("default_iterations", &self.default_iterations)
            .field("not_found_status", &self.not_found_status)
            .field("user_agent", &self.user_agent)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("lookup_deadline", &self.lookup_deadline)
            .field("pool_size", &self.pool_size)
            .field("http_version", &self.http_version)
            .field("max_body_size", &self.max_body_size)
            .field("retry_times", &self.retry_times)
            .field("retry_interval", &self.retry_interval)
            .field("retry_backoff", &self.retry_backoff)
            .field("tls", &self.tls)
            .finish()
    }
}

impl HttpConfig {
    /// Defaults with the given URL (POST, JSON body, no parameters).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The request EMQX 5's SCRAM REST API authenticator sends (`mechanism = scram`,
    /// `backend = http`; `emqx_authn_scram_restapi.erl`, documented at
    /// <https://docs.emqx.com/en/emqx/latest/access-control/authn/scram_restapi.html>): POST with a
    /// JSON body (none until [`param`](Self::param) adds one; put `${username}` in the URL
    /// or a parameter), EMQX's default headers (`accept: application/json`,
    /// `cache-control: no-cache`, `connection: keep-alive`,
    /// `keep-alive: timeout=30, max=1000`), no `user-agent` (EMQX sets none), 5 s request
    /// timeout. Every setting can be changed afterwards.
    ///
    /// As documented there, a 4xx or 5xx answer is "ignore" (the next provider in a
    /// [`Chain`](mqtt_scram::provider::Chain) decides) unless the status is listed in
    /// [`not_found_status`](Self::not_found_status). One difference: EMQX takes the
    /// iteration count from its own configuration only; here a record's `iteration_count`
    /// field wins over [`default_iterations`](Self::default_iterations) (EMQX would fail
    /// the login of a record derived with another count).
    ///
    /// ```
    /// use mqtt_scram_http::config::{HttpConfig, HttpMethod};
    /// let config = HttpConfig::emqx_scram("https://auth.example/scram?u=${username}");
    /// assert_eq!(config.method, HttpMethod::Post);
    /// assert!(config.user_agent.is_empty());
    /// assert_eq!(config.headers["keep-alive"], "timeout=30, max=1000");
    /// ```
    pub fn emqx_scram(url: impl Into<String>) -> Self {
        Self::new(url)
            .user_agent("")
            .header("accept", "application/json")
            .header("cache-control", "no-cache")
            .header("connection", "keep-alive")
            .header("keep-alive", "timeout=30, max=1000")
    }

    /// Sets the method.
    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = method;
        self
    }

    /// Adds (or replaces) a header; the value may hold placeholders.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Adds (or replaces) a body parameter (query parameter for GET).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.body.insert(name.into(), value.into());
        self
    }

    /// Sets the body encoding.
    pub fn params_mode(mut self, mode: ParamsMode) -> Self {
        self.params_mode = mode;
        self
    }

    /// Sets the iteration count used when a record has none.
    pub fn default_iterations(mut self, iterations: u32) -> Self {
        self.default_iterations = iterations;
        self
    }

    /// Adds a status that means "no such user".
    pub fn not_found_status(mut self, status: u16) -> Self {
        self.not_found_status.push(status);
        self
    }

    /// Sets the `user-agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout of one request attempt.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the bound on a whole lookup.
    pub fn lookup_deadline(mut self, deadline: Duration) -> Self {
        self.lookup_deadline = deadline;
        self
    }

    /// Sets the number of idle keep-alive connections kept.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Sets the HTTP version.
    pub fn http_version(mut self, version: HttpVersion) -> Self {
        self.http_version = version;
        self
    }

    /// Sets the largest response body read.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Sets retries (EMQX v4 `retry_times`, `retry_interval`, `retry_backoff`).
    pub fn retries(mut self, times: u32, interval: Duration, backoff: f64) -> Self {
        self.retry_times = times;
        self.retry_interval = interval;
        self.retry_backoff = backoff;
        self
    }

    /// Sets the TLS settings.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }
}

/// Why an [`HttpConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpConfigError {
    /// The URL does not parse, or has no host.
    #[error("invalid url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as configured, without user information or query string
        /// ([`redact_url`](crate::redact::redact_url)).
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A template is malformed or names an unknown placeholder.
    #[error("invalid template in the {place}: {reason}")]
    InvalidTemplate {
        /// Where: `url`, `header <name>`, `body key <name>`, `body parameter <name>` (the
        /// template itself is not repeated: a header value may be a secret).
        place: String,
        /// What is wrong, naming the offending placeholder.
        reason: String,
    },
    /// A template asks for the password.
    #[error(
        "the {place} uses the password ({placeholder}); SCRAM never gives the password to the \
         server, so the HTTP service must answer with stored_key, server_key and salt instead"
    )]
    PasswordPlaceholder {
        /// Where, as in [`HttpConfigError::InvalidTemplate`].
        place: String,
        /// `${password}` or `%P`.
        placeholder: String,
    },
    /// A header name or fixed value is not valid HTTP.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// Header name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A number or duration is out of range.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// Field name.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A TLS file could not be read or used.
    #[error("tls: {0}")]
    Tls(String),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(String),
}

impl HttpConfigError {
    /// An [`HttpConfigError::InvalidSetting`] naming `setting` and why it is wrong.
    pub fn setting(setting: &'static str, reason: &str) -> Self {
        Self::InvalidSetting {
            setting,
            reason: reason.to_string(),
        }
    }
}
