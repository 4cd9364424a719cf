//! [`HttpAclConfig`]: where to ask, what to send, how to read the answer; one preset per
//! system the crate is compatible with.

use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use mqtt_scram_http::client::Retry;
use mqtt_scram_http::config::{HttpConfig, HttpConfigError, HttpMethod, ParamsMode, TlsConfig};
use mqtt_scram_http::redact::{REDACTED, redact_url};

use super::answer::ResponseMode;
use crate::access::Access;

/// The number sent for each kind of access (`${acc}`, `%A`).
///
/// ```
/// use mqtt_scram_authz::{Access, http::AccessCodes};
/// assert_eq!(AccessCodes::EMQX_V4.code(Access::Subscribe), 1);
/// assert_eq!(AccessCodes::AMQTT.code(Access::Subscribe), 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessCodes {
    /// PUBLISH.
    pub publish: u8,
    /// SUBSCRIBE.
    pub subscribe: u8,
    /// Delivery of a message to the client.
    pub read: u8,
}

impl AccessCodes {
    /// EMQX v4 `%A`: 1 = subscribe, 2 = publish (EMQX v4 never checks deliveries; a
    /// delivery check is sent as a subscribe).
    pub const EMQX_V4: Self = Self {
        publish: 2,
        subscribe: 1,
        read: 1,
    };

    /// amqtt `acc`: 1 = receive, 2 = publish, 4 = subscribe.
    pub const AMQTT: Self = Self {
        publish: 2,
        subscribe: 4,
        read: 1,
    };

    /// The code of `access`.
    pub const fn code(self, access: Access) -> u8 {
        match access {
            Access::Publish => self.publish,
            Access::Subscribe => self.subscribe,
            Access::Read => self.read,
        }
    }
}

/// Settings of an [`HttpAuthorizer`](super::HttpAuthorizer). Start from the preset of the
/// system you migrate from ([`emqx_v4`](Self::emqx_v4), [`amqtt`](Self::amqtt)); every
/// setting can be changed afterwards.
///
/// `{:?}` shows header and parameter names but never their values, and the URLs without
/// their query strings: they may hold API keys.
#[derive(Clone)]
pub struct HttpAclConfig {
    pub(crate) url: String,
    pub(crate) superuser_url: Option<String>,
    method: HttpMethod,
    params_mode: ParamsMode,
    params: Vec<(String, String)>,
    superuser_params: Vec<(String, String)>,
    pub(crate) response_mode: ResponseMode,
    pub(crate) access_codes: AccessCodes,
    pub(crate) failure_denies: bool,
    user_agent: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    pub(crate) cache_ttl: Duration,
    pub(crate) cache_capacity: usize,
    tls: TlsConfig,
    pub(crate) retry: Retry,
}

impl core::fmt::Debug for HttpAclConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names = |list: &[(String, String)]| {
            list.iter()
                .map(|(name, _)| (name.clone(), REDACTED))
                .collect::<Vec<_>>()
        };
        f.debug_struct("HttpAclConfig")
            .field("url", &redact_url(&self.url))
            .field(
                "superuser_url",
                &self.superuser_url.as_deref().map(redact_url),
            )
            .field("method", &self.method)
            .field("params_mode", &self.params_mode)
            .field("params", &names(&self.params))
            .field("superuser_params", &names(&self.superuser_params))
            .field("response_mode", &self.response_mode)
            .field("access_codes", &self.access_codes)
            .field("failure_denies", &self.failure_denies)
            .field("user_agent", &self.user_agent)
            .field("headers", &names(&self.headers))
            .field("timeout", &self.timeout)
            .field("cache_ttl", &self.cache_ttl)
            .field("cache_capacity", &self.cache_capacity)
            .field("tls", &self.tls)
            .field("retry", &self.retry)
            .finish()
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl HttpAclConfig {
    /// The crate's defaults: POST with a JSON body `{"username", "client_id", "topic",
    /// "acc"}` (amqtt's names and access codes), answers read as amqtt's JSON mode, failures
    /// no-match, 5 s timeout, no cache, no retries, system roots.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            superuser_url: None,
            method: HttpMethod::Post,
            params_mode: ParamsMode::JsonBody,
            params: pairs(&[
                ("username", "${username}"),
                ("client_id", "${clientid}"),
                ("topic", "${topic}"),
                ("acc", "${acc}"),
            ]),
            superuser_params: pairs(&[("username", "${username}"), ("client_id", "${clientid}")]),
            response_mode: ResponseMode::Json,
            access_codes: AccessCodes::AMQTT,
            failure_denies: false,
            user_agent: std::format!("mqtt-scram/{}", env!("CARGO_PKG_VERSION")),
            headers: Vec::new(),
            timeout: Duration::from_secs(5),
            cache_ttl: Duration::ZERO,
            cache_capacity: 100_000,
            tls: TlsConfig::default(),
            retry: Retry {
                times: 0,
                interval: Duration::from_secs(1),
                backoff: 2.0,
            },
        }
    }

    /// EMQX v4's `emqx_auth_http` ACL request, as its documentation
    /// (<https://docs.emqx.com/en/emqx/v4.4/advanced/acl-http.html>) and `emqx_acl_http.erl`
    /// describe it: POST with a form body
    /// `access=%A,username=%u,clientid=%c,ipaddr=%a,topic=%t` (the default `acl_req.params`
    /// without `mountpoint`), access 1 = subscribe and 2 = publish, answers read as
    /// [`ResponseMode::EmqxV4`], a failed request is no-match ("ignore"), no `user-agent`
    /// header. The superuser request sends `clientid=%c,username=%u`; any 200 means yes.
    ///
    /// ```
    /// use mqtt_scram_authz::http::{HttpAclConfig, HttpAuthorizer};
    /// let config = HttpAclConfig::emqx_v4("http://127.0.0.1:8991/mqtt/acl")
    ///     .superuser_url("http://127.0.0.1:8991/mqtt/superuser");
    /// # let _ = config;
    /// ```
    pub fn emqx_v4(url: impl Into<String>) -> Self {
        let mut config = Self::new(url)
            .method(HttpMethod::Post)
            .params_mode(ParamsMode::Form)
            .response_mode(ResponseMode::EmqxV4)
            .access_codes(AccessCodes::EMQX_V4)
            .failure_denies(false)
            .user_agent("");
        config.params = pairs(&[
            ("access", "%A"),
            ("username", "%u"),
            ("clientid", "%c"),
            ("ipaddr", "%a"),
            ("topic", "%t"),
        ]);
        config.superuser_params = pairs(&[("clientid", "%c"), ("username", "%u")]);
        config
    }

    /// amqtt's `TopicAuthHttpPlugin` (`amqtt/contrib/http.py`; documented at
    /// <https://github.com/Yakifo/amqtt/blob/main/docs/plugins/http.md>) with its defaults:
    /// GET with a JSON body `{"username", "client_id", "topic", "acc"}` (`acc` a number:
    /// 1 receive, 2 publish, 4 subscribe), answers read as [`ResponseMode::Json`], user
    /// agent `amqtt`. A failed request denies: amqtt raises and the client's operation
    /// fails. For amqtt's `params_mode: form` use [`ParamsMode::Form`]; for its other
    /// response modes [`ResponseMode::Status`] and [`ResponseMode::Text`].
    ///
    /// ```
    /// use mqtt_scram_authz::http::{HttpAclConfig, ResponseMode};
    /// let config = HttpAclConfig::amqtt("http://127.0.0.1:8080/acl")
    ///     .response_mode(ResponseMode::Text);
    /// # let _ = config;
    /// ```
    pub fn amqtt(url: impl Into<String>) -> Self {
        Self::new(url)
            .method(HttpMethod::Get)
            .params_mode(ParamsMode::JsonBody)
            .response_mode(ResponseMode::Json)
            .access_codes(AccessCodes::AMQTT)
            .failure_denies(true)
            .user_agent("amqtt")
    }

    /// A superuser endpoint, asked once per client.
    pub fn superuser_url(mut self, url: impl Into<String>) -> Self {
        self.superuser_url = Some(url.into());
        self
    }

    /// GET, POST or PUT.
    pub fn method(mut self, method: HttpMethod) -> Self {
        self.method = method;
        self
    }

    /// How parameters travel: [`ParamsMode::JsonBody`] (a JSON body with every method, as
    /// amqtt's `json`), [`ParamsMode::Form`] (a form body, or the query string of GET), or
    /// [`ParamsMode::Json`] (a JSON body, or the query string of GET).
    pub fn params_mode(mut self, mode: ParamsMode) -> Self {
        self.params_mode = mode;
        self
    }

    /// Adds (or replaces) a parameter of the check request; the value is a template.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.params.retain(|(n, _)| *n != name);
        self.params.push((name, value.into()));
        self
    }

    /// Replaces every parameter of the check request.
    pub fn params<K: Into<String>, V: Into<String>>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.params = params
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// Replaces every parameter of the superuser request.
    pub fn superuser_params<K: Into<String>, V: Into<String>>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.superuser_params = params
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// How answers are read.
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = mode;
        self
    }

    /// The numbers sent for publish, subscribe and delivery checks.
    pub fn access_codes(mut self, codes: AccessCodes) -> Self {
        self.access_codes = codes;
        self
    }

    /// Whether a failed request (connection refused, timeout, unreadable reply) denies
    /// (`true`) or is no-match (`false`). Never an allow.
    pub fn failure_denies(mut self, yes: bool) -> Self {
        self.failure_denies = yes;
        self
    }

    /// The `user-agent` header; empty sends none.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// A header sent with every request (replacing one of the same name); the value may
    /// hold placeholders. Values are never logged or shown by `{:?}`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Time allowed for connecting, and for one whole request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long allow/deny answers are reused (zero, the default, disables the cache), and
    /// how many are kept at most.
    pub fn cache(mut self, ttl: Duration, capacity: usize) -> Self {
        self.cache_ttl = ttl;
        self.cache_capacity = capacity.max(1);
        self
    }

    /// TLS settings for `https://` URLs (the HTTP credential provider's).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Retries after a connect error or timeout (default none): `times` retries, the
    /// first after `interval`, each next wait `backoff` (1.0 to 100.0) times longer
    /// (EMQX v4 `retry_times`, `retry_interval`, `retry_backoff`).
    pub fn retries(mut self, times: u32, interval: Duration, backoff: f64) -> Self {
        self.retry = Retry {
            times,
            interval,
            backoff,
        };
        self
    }

    /// The request configuration of one endpoint: `check` selects the check parameters,
    /// otherwise the superuser ones.
    pub(crate) fn http_config(&self, url: &str, check: bool) -> HttpConfig {
        let mut config = HttpConfig::new(url)
            .method(self.method)
            .params_mode(self.params_mode)
            .connect_timeout(self.timeout)
            .request_timeout(self.timeout)
            .user_agent(self.user_agent.clone())
            .tls(self.tls.clone());
        let params = if check {
            &self.params
        } else {
            &self.superuser_params
        };
        for (name, value) in params {
            config = config.param(name.clone(), value.clone());
        }
        if !self
            .headers
            .iter()
            .any(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        {
            config = config.header("accept", "application/json, text/plain");
        }
        for (name, value) in &self.headers {
            config = config.header(name.clone(), value.clone());
        }
        config
    }

    /// Whether JSON bodies send the access code as a number (amqtt) rather than a string
    /// (EMQX v4 sends every value as a string).
    pub(crate) fn acc_as_number(&self) -> bool {
        self.response_mode != ResponseMode::EmqxV4
    }
}

/// Why an [`HttpAuthorizer`](super::HttpAuthorizer) could not be built. Never repeats a
/// header value or a query string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpAclError {
    /// A URL or its placeholders are invalid.
    #[error("invalid url {url:?}: {reason}")]
    Url {
        /// The URL as configured, without user information or query string.
        url: String,
        /// Why.
        reason: String,
    },
    /// A header is invalid.
    #[error("invalid header {0:?}")]
    Header(String),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(String),
    /// Another setting (a header template, TLS files, retries) is invalid.
    #[error(transparent)]
    Config(HttpConfigError),
}

impl HttpAclError {
    pub(crate) fn from_config(error: HttpConfigError, url: &str) -> Self {
        match error {
            HttpConfigError::InvalidUrl { url, reason } => Self::Url { url, reason },
            HttpConfigError::InvalidTemplate { place, reason } if place == "url" => Self::Url {
                url: redact_url(url),
                reason,
            },
            e @ HttpConfigError::PasswordPlaceholder { .. } if e.to_string().contains(" url ") => {
                Self::Url {
                    url: redact_url(url),
                    reason: e.to_string(),
                }
            }
            HttpConfigError::InvalidHeader { name, .. } => Self::Header(name),
            HttpConfigError::Client(reason) => Self::Client(reason),
            other => Self::Config(other),
        }
    }
}
