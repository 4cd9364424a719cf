//! HTTP plumbing shared by the workspace's HTTP credential store (`mqtt-scram-stores`,
//! feature `http`) and HTTP authorizer (`mqtt-scram-authz`, feature `http`): request
//! configuration, placeholder templates (EMQX `${name}` and v4/amqtt `%x` forms), the
//! request plan built from them, the rustls client (CA file, mutual TLS, SNI override),
//! retries with back-off, and size-capped body reads (feature `client`, default), and the
//! workspace's one TLS root-certificate policy ([`trust`], also without `client`).
//!
//! Brokers use the store and the authorizer, not this package directly; its API follows
//! their needs.
//!
//! ```
//! use mqtt_scram_http::config::{HttpConfig, HttpMethod};
//! use mqtt_scram_http::request::RequestPlan;
//! let config = HttpConfig::new("http://127.0.0.1:8080/scram/${username}").method(HttpMethod::Get);
//! let plan = RequestPlan::new(&config)?;
//! # let _ = plan;
//! # Ok::<(), mqtt_scram_http::config::HttpConfigError>(())
//! ```

#[cfg(feature = "client")]
pub mod client;
pub mod config;
pub mod dangerous_tls;
pub mod redact;
#[cfg(feature = "client")]
pub mod request;
pub mod template;
#[cfg(feature = "client")]
pub mod tls;
pub mod trust;
