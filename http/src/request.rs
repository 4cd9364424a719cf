//! Building the request from the templates: URL, headers and body, each with the
//! encoding its place needs. Used by the credential provider (lookups) and the HTTP ACL
//! authorizer (topic checks), each with its own template [`Scope`].

use std::string::{String, ToString};
use std::vec::Vec;

use reqwest::Url;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::{HttpConfig, HttpConfigError, HttpMethod, ParamsMode};
use crate::template::{self, Scope, Template, Values};

/// How body parameters travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyEncoding {
    Query,
    Json,
    Form,
}

/// Everything needed to build one request, checked at construction.
///
/// Configured header values are marked sensitive
/// ([`HeaderValue::set_sensitive`]); `{:?}` shows header and parameter names, never their
/// values, and the URL without its query string.
pub struct RequestPlan {
    method: reqwest::Method,
    url: Template,
    /// The URL, parsed once, when it has no placeholder.
    fixed_url: Option<Url>,
    /// Host rewrite for an SNI override: (URL host, name to use instead).
    host_override: Option<(String, String)>,
    fixed_headers: HeaderMap,
    templated_headers: Vec<(HeaderName, Template)>,
    body: Vec<(Template, Template)>,
    encoding: BodyEncoding,
    acc_as_number: bool,
}

impl core::fmt::Debug for RequestPlan {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let headers: Vec<&str> = self
            .fixed_headers
            .keys()
            .chain(self.templated_headers.iter().map(|(name, _)| name))
            .map(HeaderName::as_str)
            .collect();
        f.debug_struct("RequestPlan")
            .field("method", &self.method)
            .field(
                "url",
                &crate::redact::redact_url(&self.url.render_sample("${...}")),
            )
            .field("headers", &headers)
            .field("parameters", &self.body.len())
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

impl RequestPlan {
    /// The plan of a credential lookup.
    pub fn new(config: &HttpConfig) -> Result<Self, HttpConfigError> {
        Self::new_in(config, Scope::Lookup)
    }

    /// The plan of a request whose templates are parsed for `scope`.
    pub fn new_in(config: &HttpConfig, scope: Scope) -> Result<Self, HttpConfigError> {
        let url = parse_url(&config.url, scope)?;
        let mut fixed_headers = HeaderMap::new();
        let mut defaults = std::vec![
            (header::ACCEPT, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONNECTION, "keep-alive"),
        ];
        if !config.user_agent.is_empty() {
            defaults.push((header::USER_AGENT, config.user_agent.as_str()));
        }
        for (name, value) in defaults {
            let value =
                HeaderValue::from_str(value).map_err(|e| HttpConfigError::InvalidHeader {
                    name: name.to_string(),
                    reason: e.to_string(),
                })?;
            fixed_headers.insert(name, value);
        }
        let mut templated_headers = Vec::new();
        for (name, value) in &config.headers {
            let invalid = |reason: String| HttpConfigError::InvalidHeader {
                name: name.clone(),
                reason,
            };
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|e| invalid(e.to_string()))?;
            let template =
                Template::parse_in(value, scope, &std::format!("header {}", header_name))?;
            if template.is_fixed() {
                let mut value = HeaderValue::from_str(value).map_err(|e| invalid(e.to_string()))?;
                value.set_sensitive(true);
                fixed_headers.insert(header_name, value);
            } else {
                fixed_headers.remove(&header_name);
                templated_headers.push((header_name, template));
            }
        }
        // A configured content type decides the body's encoding, as in EMQX ("When the
        // request method is POST, the final format is determined by content-type").
        let configured_type = fixed_headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let form_content_type = configured_type.contains("application/x-www-form-urlencoded");
        let json_content_type = configured_type.contains("json");
        let encoding = match (config.method, config.params_mode) {
            (_, ParamsMode::JsonBody) => BodyEncoding::Json,
            (HttpMethod::Get, _) => BodyEncoding::Query,
            (_, ParamsMode::Form) if json_content_type => BodyEncoding::Json,
            (_, ParamsMode::Form) => BodyEncoding::Form,
            (_, ParamsMode::Json) if form_content_type => BodyEncoding::Form,
            (_, ParamsMode::Json) => BodyEncoding::Json,
        };
        let content_type = match encoding {
            BodyEncoding::Query => None,
            BodyEncoding::Json => Some("application/json"),
            BodyEncoding::Form => Some("application/x-www-form-urlencoded"),
        };
        if let Some(content_type) = content_type {
            if !fixed_headers.contains_key(header::CONTENT_TYPE) {
                fixed_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            }
        }
        let body = config
            .body
            .iter()
            .map(|(k, v)| {
                Ok((
                    Template::parse_in(k, scope, &std::format!("body key {k:?}"))?,
                    Template::parse_in(v, scope, &std::format!("body parameter {k:?}"))?,
                ))
            })
            .collect::<Result<Vec<_>, HttpConfigError>>()?;
        let host_override = match &config.tls.server_name {
            Some(name) if config.url.starts_with("https") => {
                let sample = Url::parse(&url.render_sample("x")).ok();
                let host = sample
                    .as_ref()
                    .and_then(Url::host_str)
                    .unwrap_or_default()
                    .to_string();
                Some((host, name.clone()))
            }
            _ => None,
        };
        let method = match config.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
        };
        let fixed_url = match url.is_fixed() {
            true => Some(
                Url::parse(&config.url).map_err(|e| HttpConfigError::InvalidUrl {
                    url: crate::redact::redact_url(&config.url),
                    reason: e.to_string(),
                })?,
            ),
            false => None,
        };
        Ok(Self {
            method,
            url,
            fixed_url,
            host_override,
            fixed_headers,
            templated_headers,
            body,
            encoding,
            acc_as_number: true,
        })
    }

    /// Whether a JSON parameter that is exactly the access code (`${acc}`, `%A`) is sent as
    /// a number (amqtt, the default) or, like every other value, as a string (EMQX v4).
    pub fn acc_as_number(mut self, yes: bool) -> Self {
        self.acc_as_number = yes;
        self
    }

    /// The URL's host and the name that replaces it, when an SNI override is set.
    pub fn host_override(&self) -> Option<(&str, &str)> {
        self.host_override
            .as_ref()
            .map(|(host, name)| (host.as_str(), name.as_str()))
    }

    /// Builds the request, or says why it must not be sent.
    pub fn build<V: Values + ?Sized>(
        &self,
        client: &reqwest::Client,
        request: &V,
    ) -> Result<reqwest::Request, String> {
        if self.url.has_dot_segment_value(request) {
            return Err(
                "a url placeholder would be \".\" or \"..\" (a dot path segment); request not sent"
                    .into(),
            );
        }
        let mut url = match &self.fixed_url {
            Some(url) => url.clone(),
            None => Url::parse(&self.url.render(request, template::url_component))
                .map_err(|e| std::format!("rendered url is invalid: {e}"))?,
        };
        if let Some((_, name)) = &self.host_override {
            url.set_host(Some(name))
                .map_err(|e| std::format!("tls server_name {name:?}: {e}"))?;
        }
        let body: Vec<(String, String, bool)> = self
            .body
            .iter()
            .map(|(k, t)| {
                (
                    k.render(request, template::raw),
                    t.render(request, template::raw),
                    self.acc_as_number && t.is_acc(),
                )
            })
            .collect();
        if self.encoding == BodyEncoding::Query && !body.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(body.iter().map(|(k, v, _)| (k, v)));
        }
        let mut builder = client
            .request(self.method.clone(), url)
            .headers(self.fixed_headers.clone());
        match self.encoding {
            BodyEncoding::Query => {}
            BodyEncoding::Json => {
                // The access code alone is a number, as EMQX v4 and amqtt send it.
                let object: serde_json::Map<String, serde_json::Value> = body
                    .into_iter()
                    .map(|(k, v, acc)| {
                        let value = match v.parse::<u8>() {
                            Ok(n) if acc => serde_json::Value::from(n),
                            _ => serde_json::Value::String(v),
                        };
                        (k, value)
                    })
                    .collect();
                let bytes =
                    serde_json::to_vec(&object).map_err(|e| std::format!("json body: {e}"))?;
                builder = builder.body(bytes);
            }
            BodyEncoding::Form => {
                builder = builder.body(
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(body.iter().map(|(k, v, _)| (k, v)))
                        .finish(),
                );
            }
        }
        for (name, template) in &self.templated_headers {
            let value = template.render(request, template::raw);
            if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                return Err(std::format!(
                    "header {name} would contain CR, LF or NUL; request not sent"
                ));
            }
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                std::format!("header {name} would not be a valid header value; request not sent")
            })?;
            value.set_sensitive(true);
            builder = builder.header(name.clone(), value);
        }
        builder
            .build()
            .map_err(|e| std::format!("building request: {}", crate::redact::describe_transport(e)))
    }
}

fn parse_url(source: &str, scope: Scope) -> Result<Template, HttpConfigError> {
    let invalid = |reason: &str| HttpConfigError::InvalidUrl {
        url: crate::redact::redact_url(source),
        reason: reason.to_string(),
    };
    let template = Template::parse_in(source, scope, "url")?;
    let url = Url::parse(&template.render_sample("x")).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials in the url are not supported; use a header",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("a fragment is never sent"));
    }
    // Placeholders may not change where the request goes.
    let other = Url::parse(&template.render_sample("y")).map_err(|e| invalid(&e.to_string()))?;
    if url.host_str() != other.host_str()
        || url.port() != other.port()
        || url.scheme() != other.scheme()
    {
        return Err(invalid(
            "placeholders are only allowed in the path and query",
        ));
    }
    Ok(template)
}
