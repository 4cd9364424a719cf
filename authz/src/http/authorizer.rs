//! [`HttpAuthorizer`]: topic authorization by an HTTP endpoint (feature `http`), as amqtt's
//! `TopicAuthHttpPlugin` and EMQX v4's `acl_req` ask it.
//!
//! Each check sends `username`, `client_id`, `topic` and `acc` (1 receive, 2 publish,
//! 4 subscribe) as a JSON object (`acc` a number) or a form ([`ParamsMode`]); with `GET`
//! they go to the query string. Requests are built by the HTTP credential provider's
//! request code (`mqtt-scram-http`), so the URL and header values are templates
//! as there: `${username}`, `${clientid}`, `${cert_common_name}`,
//! `${client_attrs.NAME}`, and for a check `${topic}`, `${action}`
//! (`publish`/`subscribe`/`read`), `${acc}`, with the EMQX v4 forms `%u`, `%c`, `%C`, `%t`,
//! `%A` (`%%` for a percent sign, a `%XX` escape stays literal). Values are
//! percent-encoded in the URL (path and query only; they cannot change the host), and a
//! header value with CR, LF or NUL, or a URL value of `.` or `..`, is never sent (the
//! check is [`Decision::NoMatch`]). TLS takes the provider's [`TlsConfig`]: system roots or
//! a CA file, a client certificate for mutual TLS, an SNI override.
//!
//! The answer ([`ResponseMode`]):
//! - `status`: 2xx allow, 4xx deny, anything else no-match;
//! - `json`: on 2xx, `{"ok": true}` allow, `{"ok": false}` deny, no boolean `ok` (e.g.
//!   `{"error": ".."}` or `"ok": null`) no-match; 4xx deny; else no-match;
//! - `text`: on 2xx, `ok` (any case) allow, other text deny; 4xx deny; else no-match.
//!
//! Timeouts, connection errors and unreadable replies are [`Decision::NoMatch`], never
//! allow; connection errors, timeouts and 5xx may be retried
//! ([`HttpAclConfig::retries`]). An optional superuser endpoint is asked once per
//! (client id, username) with `username` and `client_id`; an allow there allows
//! everything for that client until [`HttpAuthorizer::forget`]. Allow/deny answers may be
//! cached per (client, topic, access) for a TTL.

use std::collections::HashMap;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use std::vec::Vec;

use mqtt_scram_http::client::{ReadError, Retry, Retryable, describe, read_body};
use mqtt_scram_http::config::{HttpConfig, HttpConfigError};
pub use mqtt_scram_http::config::{HttpMethod, ParamsMode, TlsConfig};
use mqtt_scram_http::request::RequestPlan;
use mqtt_scram_http::template::{Scope, Values, Var};

use super::authorizer::{Access, AsyncAuthorizer, Client, Decision};

/// Largest answer read.
const MAX_BODY: usize = 64 * 1024;

/// How the endpoint's answer is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponseMode {
    /// The status code decides.
    Status,
    /// A JSON body with a boolean `ok` decides (default, as amqtt).
    #[default]
    Json,
    /// A text body `ok` decides.
    Text,
}

/// Settings of an [`HttpAuthorizer`].
#[derive(Clone, Debug)]
pub struct HttpAclConfig {
    url: String,
    superuser_url: Option<String>,
    method: HttpMethod,
    params_mode: ParamsMode,
    response_mode: ResponseMode,
    headers: Vec<(String, String)>,
    timeout: Duration,
    cache_ttl: Duration,
    cache_capacity: usize,
    tls: TlsConfig,
    retry: Retry,
}

impl HttpAclConfig {
    /// The ACL endpoint; POST, JSON parameters, JSON answers, 5 s timeout, no cache, no
    /// retries, system roots.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            superuser_url: None,
            method: HttpMethod::Post,
            params_mode: ParamsMode::Json,
            response_mode: ResponseMode::Json,
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

    /// JSON or form parameters (POST and PUT).
    pub fn params_mode(mut self, mode: ParamsMode) -> Self {
        self.params_mode = mode;
        self
    }

    /// How answers are read.
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = mode;
        self
    }

    /// A header sent with every request (replacing one of the same name); the value may
    /// hold placeholders.
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

    /// Retries after a connect error, timeout or 5xx (default none): `times` retries, the
    /// first after `interval`, each next wait `backoff` (1.0 to 100.0) times longer.
    pub fn retries(mut self, times: u32, interval: Duration, backoff: f64) -> Self {
        self.retry = Retry {
            times,
            interval,
            backoff,
        };
        self
    }

    /// The provider configuration one endpoint is asked with: `check` adds the topic and
    /// access parameters.
    fn http_config(&self, url: &str, check: bool) -> HttpConfig {
        let mut config = HttpConfig::new(url)
            .method(self.method)
            .params_mode(self.params_mode)
            .connect_timeout(self.timeout)
            .request_timeout(self.timeout)
            .tls(self.tls.clone())
            .param("username", "${username}")
            .param("client_id", "${clientid}");
        if check {
            config = config.param("topic", "${topic}").param("acc", "${acc}");
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
}

/// Why an [`HttpAuthorizer`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpAclError {
    /// A URL or its placeholders are invalid.
    #[error("invalid url {url:?}: {reason}")]
    Url {
        /// The URL as configured.
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
    fn from_config(error: HttpConfigError, url: &str) -> Self {
        match error {
            HttpConfigError::InvalidUrl { url, reason } => Self::Url { url, reason },
            HttpConfigError::InvalidTemplate { template, reason } if template == url => Self::Url {
                url: template,
                reason,
            },
            e @ HttpConfigError::PasswordPlaceholder { .. } if url.contains("password") => {
                Self::Url {
                    url: url.to_string(),
                    reason: e.to_string(),
                }
            }
            HttpConfigError::InvalidHeader { name, .. } => Self::Header(name),
            HttpConfigError::Client(reason) => Self::Client(reason),
            other => Self::Config(other),
        }
    }
}

/// One endpoint: its request plan and the client that sends it.
#[derive(Debug)]
struct Endpoint {
    http: reqwest::Client,
    plan: RequestPlan,
}

impl Endpoint {
    fn new(config: &HttpAclConfig, url: &str, check: bool) -> Result<Self, HttpAclError> {
        let http_config = config.http_config(url, check);
        let err = |e| HttpAclError::from_config(e, url);
        let plan = RequestPlan::new_in(&http_config, Scope::Acl).map_err(err)?;
        let http = mqtt_scram_http::client::client(&http_config, &plan).map_err(err)?;
        Ok(Self { http, plan })
    }
}

type CacheKey = (String, Option<String>, String, Access);

/// Topic authorization by an HTTP endpoint; see the [module docs](self). Requests need a
/// Tokio runtime.
#[derive(Debug)]
pub struct HttpAuthorizer {
    acl: Endpoint,
    superuser: Option<Endpoint>,
    config: HttpAclConfig,
    superusers: Mutex<HashMap<(String, Option<String>), bool>>,
    cache: Mutex<HashMap<CacheKey, (Decision, Instant)>>,
}

impl HttpAuthorizer {
    /// Checks the configuration and builds the client.
    pub fn new(config: HttpAclConfig) -> Result<Self, HttpAclError> {
        mqtt_scram_http::client::check_backoff(config.retry.backoff)
            .map_err(HttpAclError::Config)?;
        let acl = Endpoint::new(&config, &config.url, true)?;
        let superuser = config
            .superuser_url
            .as_deref()
            .map(|url| Endpoint::new(&config, url, false))
            .transpose()?;
        Ok(Self {
            acl,
            superuser,
            config,
            superusers: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Forgets what is known about `client_id` (superuser answer, cached decisions); call it
    /// when the connection ends.
    pub fn forget(&self, client_id: &str) {
        self.superusers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(c, _), _| c != client_id);
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(c, ..), _| c != client_id);
    }

    async fn ask(
        &self,
        endpoint: &Endpoint,
        who: &Client,
        access: Access,
        topic: &str,
    ) -> Decision {
        let values = AclRequest {
            client: who,
            access,
            topic,
        };
        let answer = mqtt_scram_http::client::with_retries(
            &self.config.retry,
            || self.attempt(endpoint, &values),
            |attempt, reason| {
                tracing::debug!(client_id = %who.client_id, topic, attempt, %reason, "http acl: retrying");
            },
        )
        .await;
        match answer {
            Ok(decision) => decision,
            Err(reason) => {
                tracing::warn!(client_id = %who.client_id, topic, %reason, "http acl: no answer");
                Decision::NoMatch
            }
        }
    }

    /// One request; `Ok(NoMatch)` for failures not worth retrying.
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        values: &AclRequest<'_>,
    ) -> Result<Decision, Retryable> {
        let request = match endpoint.plan.build(&endpoint.http, values) {
            Ok(request) => request,
            Err(reason) => {
                tracing::warn!(client_id = %values.client.client_id, %reason, "http acl: not sent");
                return Ok(Decision::NoMatch);
            }
        };
        let mut response = match endpoint.http.execute(request).await {
            Ok(response) => response,
            Err(e) if e.is_connect() || e.is_timeout() => return Err(Retryable(describe(&e))),
            Err(e) => {
                tracing::warn!(client_id = %values.client.client_id, reason = %describe(&e), "http acl: request failed");
                return Ok(Decision::NoMatch);
            }
        };
        let status = response.status();
        if status.is_server_error() {
            return Err(Retryable(std::format!("status {status}")));
        }
        let body = if status.is_success() && self.config.response_mode != ResponseMode::Status {
            match read_body(&mut response, MAX_BODY).await {
                Ok(body) => body,
                Err(ReadError::Transport(e)) if e.is_timeout() => {
                    return Err(Retryable(describe(&e)));
                }
                Err(_) => return Ok(Decision::NoMatch),
            }
        } else {
            Vec::new()
        };
        Ok(interpret(self.config.response_mode, status.as_u16(), &body))
    }

    async fn is_superuser(&self, who: &Client) -> bool {
        let Some(endpoint) = &self.superuser else {
            return false;
        };
        let key = (who.client_id.clone(), who.username.clone());
        if let Some(&known) = self
            .superusers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return known;
        }
        let answer = match self.ask(endpoint, who, Access::Publish, "").await {
            Decision::Allow(_) => Some(true),
            Decision::Deny(_) => Some(false),
            Decision::NoMatch => None,
        };
        if let Some(a) = answer {
            self.superusers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, a);
        }
        answer.unwrap_or(false)
    }

    /// The decision for one check (see [`AsyncAuthorizer::authorize`]).
    pub async fn check(&self, who: &Client, access: Access, topic: &str) -> Decision {
        if self.is_superuser(who).await {
            return Decision::Allow(Some(Arc::from("superuser")));
        }
        let ttl = self.config.cache_ttl;
        let key = (
            who.client_id.clone(),
            who.username.clone(),
            topic.to_string(),
            access,
        );
        if !ttl.is_zero() {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((d, at)) = cache.get(&key) {
                if at.elapsed() < ttl {
                    return d.clone();
                }
            }
        }
        let decision = self.ask(&self.acl, who, access, topic).await;
        if !ttl.is_zero() && decision != Decision::NoMatch {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= self.config.cache_capacity {
                cache.retain(|_, (_, at)| at.elapsed() < ttl);
                if cache.len() >= self.config.cache_capacity {
                    cache.clear();
                }
            }
            cache.insert(key, (decision.clone(), Instant::now()));
        }
        decision
    }
}

impl AsyncAuthorizer for HttpAuthorizer {
    fn authorize<'a>(
        &'a self,
        who: &'a Client,
        access: Access,
        topic: &'a str,
        _qos: u8,
        _retain: bool,
    ) -> impl Future<Output = Decision> + Send + 'a {
        self.check(who, access, topic)
    }
}

/// Reads an answer as `mode` says.
fn interpret(mode: ResponseMode, status: u16, body: &[u8]) -> Decision {
    let ok = (200..300).contains(&status);
    let client_error = (400..500).contains(&status);
    match mode {
        ResponseMode::Status if ok => Decision::Allow(None),
        ResponseMode::Json if ok => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => match v.get("ok") {
                Some(serde_json::Value::Bool(true)) => Decision::Allow(None),
                Some(serde_json::Value::Bool(false)) => Decision::Deny(None),
                _ => Decision::NoMatch,
            },
            Err(_) => Decision::NoMatch,
        },
        ResponseMode::Text if ok => match std::str::from_utf8(body) {
            Ok(t) if t.trim().eq_ignore_ascii_case("ok") => Decision::Allow(None),
            Ok(_) => Decision::Deny(None),
            Err(_) => Decision::NoMatch,
        },
        _ if client_error => Decision::Deny(None),
        _ => Decision::NoMatch,
    }
}

/// The values of one ACL check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AclRequest<'a> {
    pub(crate) client: &'a Client,
    pub(crate) access: Access,
    pub(crate) topic: &'a str,
}

/// The EMQX v4 / amqtt access code of `access`.
pub(crate) fn acc(access: Access) -> &'static str {
    match access {
        Access::Read => "1",
        Access::Publish => "2",
        Access::Subscribe => "4",
    }
}

fn action_name(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::Publish => "publish",
        Access::Subscribe => "subscribe",
    }
}

impl Values for AclRequest<'_> {
    fn value(&self, var: &Var, emit: &mut dyn FnMut(&str)) {
        let client = self.client;
        match var {
            Var::Username => emit(client.username.as_deref().unwrap_or_default()),
            Var::ClientId => emit(&client.client_id),
            Var::CertCommonName => emit(client.cert_common_name.as_deref().unwrap_or_default()),
            Var::ClientAttr(name) => emit(
                client
                    .client_attrs
                    .get(name)
                    .map(String::as_str)
                    .unwrap_or_default(),
            ),
            Var::Topic => emit(self.topic),
            Var::Action => emit(action_name(self.access)),
            Var::Acc => emit(acc(self.access)),
            // Not parsed in the ACL scope.
            Var::PeerHost
            | Var::PeerPort
            | Var::Protocol
            | Var::Listener
            | Var::Mechanism
            | Var::CertSubject => emit(""),
        }
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;
    use mqtt_scram_http::template::{Template, raw, url_component};

    #[test]
    fn acl_values_render() {
        let mut client = Client::new("a&b", "c/1");
        client.cert_common_name = Some("cn".into());
        client.client_attrs.insert("tenant".into(), "t1".into());
        let request = AclRequest {
            client: &client,
            access: Access::Subscribe,
            topic: "s/+/#",
        };
        let template = Template::parse_in(
            "/${username}/%c/${topic}/%t/${action}/${acc}/%A/%C/${client_attrs.tenant}/%%",
            Scope::Acl,
        )
        .unwrap();
        assert_eq!(
            template.render(&request, url_component),
            "/a%26b/c%2F1/s%2F%2B%2F%23/s%2F%2B%2F%23/subscribe/4/4/cn/t1/%"
        );
        assert!(Template::parse_in("%A", Scope::Acl).unwrap().is_acc());
        assert!(!Template::parse_in("x%A", Scope::Acl).unwrap().is_acc());
        let anonymous = Client::anonymous("c");
        let request = AclRequest {
            client: &anonymous,
            access: Access::Read,
            topic: "t",
        };
        assert_eq!(
            Template::parse_in("[%u]${action}=${acc}", Scope::Acl)
                .unwrap()
                .render(&request, raw),
            "[]read=1"
        );
    }
}
