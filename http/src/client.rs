//! The HTTP client shared by the credential provider and the ACL authorizer: building a
//! `reqwest` client from an [`HttpConfig`], retries with back-off, and size-capped bodies.

use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use crate::config::{HttpConfig, HttpConfigError, HttpVersion};
use crate::request::RequestPlan;
use crate::tls;

pub use crate::redact::describe;

/// A failed attempt that may be retried (connect error, timeout).
#[derive(Debug)]
pub struct Retryable {
    /// Why, for the operator (no URL, no header value).
    pub reason: String,
    /// Whether the attempt timed out (rather than failing to connect).
    pub timeout: bool,
}

impl Retryable {
    /// A failed transport attempt, described without its URL.
    pub fn transport(error: reqwest::Error) -> Self {
        let timeout = error.is_timeout();
        Self {
            reason: crate::redact::describe_transport(error),
            timeout,
        }
    }
}

/// How failed attempts are retried (EMQX v4 `retry_times`, `retry_interval`,
/// `retry_backoff`).
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Retries after the first attempt.
    pub times: u32,
    /// Wait before the first retry.
    pub interval: Duration,
    /// Factor applied to the wait after each retry.
    pub backoff: f64,
}

/// Runs `attempt` until it succeeds or has been retried `retry.times` times; the last
/// failure when all failed. `on_retry` sees the retry number and the previous failure.
pub async fn with_retries<T, F, Fut>(
    retry: &Retry,
    mut attempt: F,
    on_retry: impl Fn(u32, &str),
) -> Result<T, Retryable>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Retryable>>,
{
    let mut delay = retry.interval;
    let mut retries = 0;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(failure) if retries < retry.times => {
                retries += 1;
                on_retry(retries, &failure.reason);
                tokio::time::sleep(delay).await;
                delay = delay.mul_f64(retry.backoff);
            }
            Err(failure) => return Err(failure),
        }
    }
}

/// Checks a retry back-off factor (1.0 to 100.0).
pub fn check_backoff(backoff: f64) -> Result<(), HttpConfigError> {
    if !backoff.is_finite() || !(1.0..=100.0).contains(&backoff) {
        return Err(HttpConfigError::setting(
            "retry_backoff",
            "must be between 1.0 and 100.0",
        ));
    }
    Ok(())
}

/// Builds the client for `plan` from `config`'s timeouts, pool, HTTP version and TLS
/// settings (CA file or system roots, client certificate, SNI and its override). No
/// redirects, no proxy.
pub fn client(config: &HttpConfig, plan: &RequestPlan) -> Result<reqwest::Client, HttpConfigError> {
    if let Some(name) = &config.tls.server_name {
        tls::check_server_name(name)?;
    }
    let tls = tls::client_config(&config.tls, config.http_version)?;
    let mut builder = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .pool_max_idle_per_host(config.pool_size)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tls_backend_preconfigured(tls);
    builder = match config.http_version {
        HttpVersion::Auto => builder,
        HttpVersion::Http1 => builder.http1_only(),
        HttpVersion::Http2 => builder.http2_prior_knowledge(),
    };
    if let Some((host, name)) = plan.host_override() {
        builder = builder.dns_resolver(resolve::Override {
            name: name.to_string(),
            host: host.to_string(),
        });
    }
    builder
        .build()
        .map_err(|e| HttpConfigError::Client(describe(&e)))
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Over the cap (by `content-length`, or while reading).
    TooLarge(usize),
    /// The connection failed or timed out (the error carries no URL).
    Transport(reqwest::Error),
}

impl core::fmt::Display for ReadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooLarge(cap) => write!(f, "body is larger than {cap} bytes"),
            Self::Transport(e) => write!(f, "reading body: {}", describe(e)),
        }
    }
}

/// Reads at most `cap` bytes of body, chunk by chunk; more is an error.
pub async fn read_body(response: &mut reqwest::Response, cap: usize) -> Result<Vec<u8>, ReadError> {
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(ReadError::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ReadError::Transport(e.without_url()))?
    {
        if body.len() + chunk.len() > cap {
            return Err(ReadError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

mod resolve {
    use std::boxed::Box;
    use std::string::String;
    use std::vec::Vec;

    use reqwest::dns::{Addrs, Name, Resolve, Resolving};

    /// Resolves the SNI override name to the URL's real host.
    pub(super) struct Override {
        pub(super) name: String,
        pub(super) host: String,
    }

    impl Resolve for Override {
        fn resolve(&self, name: Name) -> Resolving {
            let target = if name.as_str() == self.name {
                self.host.clone()
            } else {
                String::from(name.as_str())
            };
            Box::pin(async move {
                let host = target.trim_start_matches('[').trim_end_matches(']');
                let addrs: Vec<_> = tokio::net::lookup_host((host, 0)).await?.collect();
                Ok(Box::new(addrs.into_iter()) as Addrs)
            })
        }
    }
}
