//! [`HttpAuthorizer`]: topic authorization by an HTTP endpoint (feature `http`), as amqtt's
//! `TopicAuthHttpPlugin` and EMQX v4's `acl_req` ask it.
//!
//! Each check sends `username`, `client_id`, `topic` and `acc` (1 receive, 2 publish,
//! 4 subscribe) as a JSON object or a form ([`ParamsMode`]); with `GET` they go to the
//! query string. The URL may also carry placeholders: `${username}`, `${clientid}`,
//! `${topic}`, `${action}` (`publish`/`subscribe`/`read`) and the EMQX v4 forms `%u`,
//! `%c`, `%t`, `%A` (`%%` for a percent sign), percent-encoded, in the path and query only.
//!
//! The answer ([`ResponseMode`]):
//! - `status`: 2xx allow, 4xx deny, anything else no-match;
//! - `json`: on 2xx, `{"ok": true}` allow, `{"ok": false}` deny, no boolean `ok` (e.g.
//!   `{"error": ".."}` or `"ok": null`) no-match; 4xx deny; else no-match;
//! - `text`: on 2xx, `ok` (any case) allow, other text deny; 4xx deny; else no-match.
//!
//! Timeouts, connection errors and unreadable replies are [`Decision::NoMatch`], never
//! allow. An optional superuser endpoint is asked once per (client id, username) with
//! `username` and `client_id`; an allow there allows everything for that client until
//! [`HttpAuthorizer::forget`]. Allow/deny answers may be cached per (client, topic, access)
//! for a TTL.
//!
//! The request is built here rather than with the HTTP credential provider's request
//! templates, whose placeholders do not include topics; TLS trusts the system roots.

use std::collections::HashMap;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use std::vec::Vec;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;

use super::authorizer::{Access, AsyncAuthorizer, Client, Decision};
pub use crate::provider::http::{HttpMethod, ParamsMode};

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
}

impl HttpAclConfig {
    /// The ACL endpoint; POST, JSON parameters, JSON answers, 5 s timeout, no cache.
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

    /// A fixed header sent with every request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Time allowed for a whole request (connect included).
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Lit(String),
    Username,
    ClientId,
    Topic,
    Action,
    Acc,
}

#[derive(Clone, Debug)]
struct UrlTemplate(Vec<Part>);

const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl UrlTemplate {
    fn parse(url: &str) -> Result<Self, HttpAclError> {
        let bad = |reason: &str| HttpAclError::Url {
            url: url.into(),
            reason: reason.into(),
        };
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = url;
        while let Some(c) = rest.chars().next() {
            let (part, len) = if let Some(after) = rest.strip_prefix("${") {
                let end = after.find('}').ok_or_else(|| bad("`${` without `}`"))?;
                let part = match after.get(..end).unwrap_or_default() {
                    "username" => Part::Username,
                    "clientid" => Part::ClientId,
                    "topic" => Part::Topic,
                    "action" => Part::Action,
                    other => return Err(bad(&std::format!("unknown placeholder ${{{other}}}"))),
                };
                (Some(part), end + 3)
            } else if let Some(after) = rest.strip_prefix('%') {
                match after.chars().next() {
                    Some('u') => (Some(Part::Username), 2),
                    Some('c') => (Some(Part::ClientId), 2),
                    Some('t') => (Some(Part::Topic), 2),
                    Some('A') => (Some(Part::Acc), 2),
                    Some('%') => {
                        lit.push('%');
                        (None, 2)
                    }
                    _ => {
                        lit.push('%');
                        (None, 1)
                    }
                }
            } else {
                lit.push(c);
                (None, c.len_utf8())
            };
            if let Some(part) = part {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(part);
            }
            rest = rest.get(len..).unwrap_or_default();
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        let template = Self(parts);
        let a = Url::parse(&template.sample("a")).map_err(|e| bad(&e.to_string()))?;
        let b = Url::parse(&template.sample("b")).map_err(|e| bad(&e.to_string()))?;
        if !matches!(a.scheme(), "http" | "https") {
            return Err(bad("scheme must be http or https"));
        }
        if a.host_str() != b.host_str() || a.port() != b.port() || a.scheme() != b.scheme() {
            return Err(bad("placeholders are only allowed in the path and query"));
        }
        Ok(template)
    }

    fn sample(&self, v: &str) -> String {
        self.0
            .iter()
            .map(|p| if let Part::Lit(s) = p { s.as_str() } else { v })
            .collect()
    }

    fn render(&self, who: &Client, access: Access, topic: &str) -> String {
        let mut out = String::new();
        for p in &self.0 {
            let value = match p {
                Part::Lit(s) => {
                    out.push_str(s);
                    continue;
                }
                Part::Username => who.username.as_deref().unwrap_or_default(),
                Part::ClientId => &who.client_id,
                Part::Topic => topic,
                Part::Action => action_name(access),
                Part::Acc => acc(access),
            };
            out.extend(utf8_percent_encode(value, COMPONENT));
        }
        out
    }
}

fn acc(access: Access) -> &'static str {
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

type CacheKey = (String, Option<String>, String, Access);

/// Topic authorization by an HTTP endpoint; see the [module docs](self). Requests need a
/// Tokio runtime.
#[derive(Debug)]
pub struct HttpAuthorizer {
    http: reqwest::Client,
    url: UrlTemplate,
    superuser_url: Option<UrlTemplate>,
    config: HttpAclConfig,
    superusers: Mutex<HashMap<(String, Option<String>), bool>>,
    cache: Mutex<HashMap<CacheKey, (Decision, Instant)>>,
}

impl HttpAuthorizer {
    /// Checks the configuration and builds the client.
    pub fn new(config: HttpAclConfig) -> Result<Self, HttpAclError> {
        let url = UrlTemplate::parse(&config.url)?;
        let superuser_url = config
            .superuser_url
            .as_deref()
            .map(UrlTemplate::parse)
            .transpose()?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &config.headers {
            let n = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpAclError::Header(name.clone()))?;
            let v = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| HttpAclError::Header(name.clone()))?;
            headers.insert(n, v);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client_err = |e: &dyn core::fmt::Display| HttpAclError::Client(e.to_string());
        let verifier = rustls_platform_verifier::Verifier::new(Arc::clone(&provider))
            .map_err(|e| client_err(&e))?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| client_err(&e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .default_headers(headers)
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| client_err(&e))?;
        Ok(Self {
            http,
            url,
            superuser_url,
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
        url: &UrlTemplate,
        who: &Client,
        access: Access,
        topic: &str,
        acl: bool,
    ) -> Decision {
        let mut params: Vec<(&str, &str)> = std::vec![
            ("username", who.username.as_deref().unwrap_or_default()),
            ("client_id", who.client_id.as_str()),
        ];
        if acl {
            params.push(("topic", topic));
            params.push(("acc", acc(access)));
        }
        let Ok(mut target) = Url::parse(&url.render(who, access, topic)) else {
            return Decision::NoMatch;
        };
        let method = match self.config.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
        };
        let mut request = if self.config.method == HttpMethod::Get {
            target.query_pairs_mut().extend_pairs(&params);
            self.http.request(method, target)
        } else if self.config.params_mode == ParamsMode::Form {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish();
            self.http
                .request(method, target)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body)
        } else {
            let mut object: serde_json::Map<String, serde_json::Value> = params
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect();
            if acl {
                object.insert(
                    "acc".into(),
                    serde_json::Value::from(acc(access).parse::<u8>().unwrap_or(0)),
                );
            }
            let Ok(body) = serde_json::to_vec(&object) else {
                return Decision::NoMatch;
            };
            self.http
                .request(method, target)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
        };
        request = request.header(reqwest::header::ACCEPT, "application/json, text/plain");
        let Ok(response) = request.send().await else {
            return Decision::NoMatch;
        };
        let status = response.status().as_u16();
        let body =
            if (200..300).contains(&status) && self.config.response_mode != ResponseMode::Status {
                match response.bytes().await {
                    Ok(b) if b.len() <= 64 * 1024 => b,
                    _ => return Decision::NoMatch,
                }
            } else {
                Default::default()
            };
        interpret(self.config.response_mode, status, &body)
    }

    async fn is_superuser(&self, who: &Client) -> bool {
        let Some(url) = &self.superuser_url else {
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
        let answer = match self.ask(url, who, Access::Publish, "", false).await {
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
        let decision = self.ask(&self.url, who, access, topic, true).await;
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
