//! [`HttpAuthorizer`]: sends the checks, reads the answers, remembers superusers and (if
//! configured) answers for a while.

use std::collections::HashMap;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use std::vec::Vec;

use mqtt_scram::{Clock, SystemClock};
use mqtt_scram_http::client::{ReadError, Retryable, read_body, with_retries};
use mqtt_scram_http::redact::describe_transport;
use mqtt_scram_http::request::RequestPlan;
use mqtt_scram_http::template::Scope;

use super::answer::{self, ResponseMode};
use super::config::{HttpAclConfig, HttpAclError};
use super::values::AclRequest;
use crate::access::{Access, Decision, Request};
use crate::authorizer::AsyncAuthorizer;
use crate::client::Client;

/// Largest answer read.
const MAX_BODY: usize = 64 * 1024;

/// One endpoint: its request plan and the client that sends it.
struct Endpoint {
    http: reqwest::Client,
    plan: RequestPlan,
}

impl Endpoint {
    fn new(config: &HttpAclConfig, url: &str, check: bool) -> Result<Self, HttpAclError> {
        let http_config = config.http_config(url, check);
        let err = |e| HttpAclError::from_config(e, url);
        let plan = RequestPlan::new_in(&http_config, Scope::Acl)
            .map_err(err)?
            .acc_as_number(config.acc_as_number());
        let http = mqtt_scram_http::client::client(&http_config, &plan).map_err(err)?;
        Ok(Self { http, plan })
    }
}

/// What one request got back.
struct Reply {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

type CacheKey = (String, Option<String>, String, Access);

/// Topic authorization by an HTTP endpoint; see the [module docs](super). Requests need a
/// Tokio runtime.
///
/// `{:?}` shows the configuration as [`HttpAclConfig`] does: no header value, no query
/// string.
pub struct HttpAuthorizer {
    acl: Endpoint,
    superuser: Option<Endpoint>,
    config: HttpAclConfig,
    clock: Arc<dyn Clock>,
    superusers: Mutex<HashMap<(String, Option<String>), bool>>,
    cache: Mutex<HashMap<CacheKey, (Decision, Duration)>>,
}

impl core::fmt::Debug for HttpAuthorizer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HttpAuthorizer")
            .field("config", &self.config)
            .field("acl", &self.acl.plan)
            .field("superuser", &self.superuser.as_ref().map(|e| &e.plan))
            .finish_non_exhaustive()
    }
}

impl HttpAuthorizer {
    /// Checks the configuration and builds the client; the cache reads the system clock.
    pub fn new(config: HttpAclConfig) -> Result<Self, HttpAclError> {
        Self::with_clock(config, Arc::new(SystemClock::new()))
    }

    /// As [`new`](Self::new), with the clock the answer cache's TTL runs on (a
    /// [`ManualClock`](mqtt_scram::ManualClock) in tests).
    pub fn with_clock(config: HttpAclConfig, clock: Arc<dyn Clock>) -> Result<Self, HttpAclError> {
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
            clock,
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

    /// Sends one request (with retries); `None` when no answer came.
    async fn ask(&self, endpoint: &Endpoint, values: &AclRequest<'_>) -> Option<Reply> {
        let who = values.client;
        let answer = with_retries(
            &self.config.retry,
            || self.attempt(endpoint, values),
            |attempt, reason| {
                tracing::debug!(client_id = %who.client_id, topic = values.topic, attempt, %reason, "http acl: retrying");
            },
        )
        .await;
        match answer {
            Ok(reply) => reply,
            Err(failure) => {
                tracing::warn!(client_id = %who.client_id, topic = values.topic, reason = %failure.reason, "http acl: no answer");
                None
            }
        }
    }

    /// One request; `Ok(None)` for failures not worth retrying.
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        values: &AclRequest<'_>,
    ) -> Result<Option<Reply>, Retryable> {
        let client_id = &values.client.client_id;
        let request = match endpoint.plan.build(&endpoint.http, values) {
            Ok(request) => request,
            Err(reason) => {
                tracing::warn!(%client_id, %reason, "http acl: not sent");
                return Ok(None);
            }
        };
        let mut response = match endpoint.http.execute(request).await {
            Ok(response) => response,
            Err(e) if e.is_connect() || e.is_timeout() => return Err(Retryable::transport(e)),
            Err(e) => {
                let reason = describe_transport(e);
                tracing::warn!(%client_id, %reason, "http acl: request failed");
                return Ok(None);
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = if self.config.response_mode.reads_body(status) {
            match read_body(&mut response, MAX_BODY).await {
                Ok(body) => body,
                Err(ReadError::Transport(e)) if e.is_timeout() => {
                    return Err(Retryable::transport(e));
                }
                Err(e) => {
                    tracing::warn!(%client_id, reason = %e, "http acl: unreadable reply");
                    return Ok(None);
                }
            }
        } else {
            Vec::new()
        };
        Ok(Some(Reply {
            status,
            content_type,
            body,
        }))
    }

    fn values<'a>(&self, who: &'a Client, access: Access, topic: &'a str) -> AclRequest<'a> {
        AclRequest {
            client: who,
            access,
            topic,
            codes: self.config.access_codes,
        }
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
        let values = self.values(who, Access::Publish, "");
        let Some(reply) = self.ask(endpoint, &values).await else {
            return false;
        };
        let yes = answer::is_superuser(
            self.config.response_mode,
            reply.status,
            reply.content_type.as_deref(),
            &reply.body,
        );
        self.superusers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, yes);
        yes
    }

    /// The decision for one check (see [`AsyncAuthorizer::authorize`]).
    pub async fn check(&self, who: &Client, request: Request<'_>) -> Decision {
        let Request { access, topic, .. } = request;
        if self.config.response_mode == ResponseMode::EmqxV4
            && who.username.as_deref().is_some_and(|u| u.starts_with('$'))
        {
            // `emqx_acl_http:check_acl/5` ignores usernames starting with `$`.
            return Decision::NoMatch;
        }
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
        let now = self.clock.monotonic();
        if !ttl.is_zero() {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((d, at)) = cache.get(&key) {
                if now.saturating_sub(*at) < ttl {
                    return d.clone();
                }
            }
        }
        let values = self.values(who, access, topic);
        let decision = match self.ask(&self.acl, &values).await {
            Some(reply) => {
                let answer = answer::interpret(
                    self.config.response_mode,
                    reply.status,
                    reply.content_type.as_deref(),
                    &reply.body,
                );
                if let Some(warning) = answer.warning {
                    tracing::warn!(client_id = %who.client_id, topic, %warning, "http acl");
                }
                answer.decision
            }
            None if self.config.failure_denies => Decision::Deny(None),
            None => Decision::NoMatch,
        };
        if !ttl.is_zero() && decision != Decision::NoMatch {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= self.config.cache_capacity {
                cache.retain(|_, (_, at)| now.saturating_sub(*at) < ttl);
                if cache.len() >= self.config.cache_capacity {
                    cache.clear();
                }
            }
            cache.insert(key, (decision.clone(), now));
        }
        decision
    }
}

impl AsyncAuthorizer for HttpAuthorizer {
    fn authorize<'a>(
        &'a self,
        who: &'a Client,
        request: Request<'a>,
    ) -> impl Future<Output = Decision> + Send + 'a {
        self.check(who, request)
    }
}
