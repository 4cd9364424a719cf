//! [`HttpAuthorizer`]: topic authorization by an HTTP endpoint (feature `http`), speaking
//! the contract of EMQX v4's `emqx_auth_http` ACL request or amqtt's
//! `TopicAuthHttpPlugin`.
//!
//! Start from the preset of the system you migrate from; every setting stays overridable:
//!
//! ```no_run
//! use mqtt_scram_authz::http::{HttpAclConfig, HttpAuthorizer};
//! use mqtt_scram_authz::{AsyncChain, Client, Request};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let acl = HttpAuthorizer::new(
//!     HttpAclConfig::emqx_v4("http://127.0.0.1:8991/mqtt/acl")
//!         .superuser_url("http://127.0.0.1:8991/mqtt/superuser")
//!         .header("authorization", "Bearer s3cret"),
//! )?;
//! let chain = AsyncChain::new().with(acl);
//! let who = Client::new("alice", "c1");
//! let decision = chain.authorize(&who, Request::publish("t/1", 0, false)).await;
//! # drop(decision);
//! # Ok(())
//! # }
//! ```
//!
//! | Preset | Follows | Method | Parameters | Access codes | Answer | On failure | User agent |
//! |---|---|---|---|---|---|---|---|
//! | [`HttpAclConfig::emqx_v4`] | [EMQX 4.4 HTTP ACL](https://docs.emqx.com/en/emqx/v4.4/advanced/acl-http.html), `emqx_acl_http.erl` | POST | form: `access`, `username`, `clientid`, `ipaddr`, `topic` | 1 subscribe, 2 publish | [`ResponseMode::EmqxV4`] | no match | none |
//! | [`HttpAclConfig::amqtt`] | [amqtt HTTP plugins](https://github.com/Yakifo/amqtt/blob/main/docs/plugins/http.md), `amqtt/contrib/http.py` | GET | JSON body (GET too): `username`, `client_id`, `topic`, `acc` (a number) | 1 receive, 2 publish, 4 subscribe | [`ResponseMode::Json`] | deny | `amqtt` |
//!
//! URL, header values and parameters are templates: `${username}`, `${clientid}`,
//! `${cert_common_name}`, `${cert_subject}`, `${peerhost}`, `${peerport}`,
//! `${client_attrs.NAME}`, and for a check `${topic}`, `${action}`
//! (`publish`/`subscribe`/`read`), `${acc}`, with the EMQX v4 forms `%u`, `%c`, `%a`,
//! `%p` (the listener port), `%r`, `%C`, `%d`, `%t`, `%A` (`%%` for a percent sign, a
//! `%XX` escape stays literal). Values are percent-encoded in the URL (path and query only;
//! they cannot change the host), and a header value with CR, LF or NUL, or a URL value of
//! `.` or `..`, is never sent (the check fails). TLS takes the provider's [`TlsConfig`]:
//! system roots or a CA file, a client certificate for mutual TLS, an SNI override.
//!
//! Timeouts, connection errors and unreadable replies never allow: they are
//! [`Decision::NoMatch`](crate::Decision::NoMatch) or a deny as the preset says
//! ([`HttpAclConfig::failure_denies`]); connection errors and timeouts may be retried
//! ([`HttpAclConfig::retries`]). An optional superuser endpoint is asked once per
//! (client id, username); a yes allows everything for that client until
//! [`HttpAuthorizer::forget`]. Allow/deny answers may be cached per (client, topic,
//! access) for a TTL, on the injected [`Clock`](mqtt_scram::Clock).
//!
//! # Differences from EMQX v4
//!
//! | Case | EMQX v4 | Here |
//! |---|---|---|
//! | `mountpoint=%m` parameter | sent | not supported (`%m` is refused) |
//! | placeholders inside a value (`user-%u`) | only a whole value is replaced | replaced anywhere |
//! | retries | `retry_times = 3` by default | none unless [`HttpAclConfig::retries`] |
//! | the broker checks a delivery ([`Access::Read`](crate::Access::Read)) | never asked | asked with access 1 (subscribe) |
//!
//! # Differences from amqtt
//!
//! | Case | amqtt | Here |
//! |---|---|---|
//! | JSON `ok` that is not a boolean (`{"ok": 1}`) | Python truthiness: allows | deny, with a warning |
//! | a reply that is not JSON, a refused connection, a timeout | the plugin raises and the client's operation fails | deny |
//! | the anonymous client's `username` | `null` | `""` |
//! | every plugin said "no opinion" | denied (`all()` of the answers) | the [`AsyncChain`](crate::AsyncChain)'s default decides (deny unless configured) |

mod answer;
mod authorizer;
mod config;
mod values;

pub use answer::ResponseMode;
pub use authorizer::HttpAuthorizer;
pub use config::{AccessCodes, HttpAclConfig, HttpAclError};
pub use mqtt_scram_http::config::{HttpMethod, ParamsMode, TlsConfig};
