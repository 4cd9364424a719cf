//! Async authenticator for MQTT 5 brokers over the `mqtt-scram` engine: what quinn is to
//! quinn-proto.
//!
//! The engine is sans-IO: it parses, decides and builds replies, but it does not look
//! credentials up, keep time or bound concurrency. This package does, for a broker's packet
//! loop, in two calls per packet and one timer:
//!
//! - [`Authenticator`] (one per broker): the engine's [`ServerConfig`](mqtt_scram::ServerConfig),
//!   a credential provider, the [`admission`] policy, an RNG, a [`Clock`](mqtt_scram::Clock),
//!   a timer ([`Runtime`]; tokio by default) and the [`observe`] metrics.
//! - [`ConnectionAuth`] (one per connection): [`on_connect`](ConnectionAuth::on_connect),
//!   [`on_auth`](ConnectionAuth::on_auth), [`deadline`](ConnectionAuth::deadline) /
//!   [`timeout`](ConnectionAuth::timeout); each returns a [`Step`]: the packet to send
//!   (CONNACK, AUTH or DISCONNECT with reason code, method and data) and a [`Status`]
//!   (continue, authenticated with the [`Identity`](mqtt_scram::Identity), re-authenticated,
//!   or failed with a [`Failure`] for the operator).
//!
//! It time-boxes each credential lookup (a lookup past its budget is answered like
//! `Lookup::Ignore` with `IgnoreKind::Timeout`), enforces the deadlines (a shorter one for
//! the client's first answer), bounds handshakes per broker and per address, queues CPU work
//! fairly, ends sessions when credentials expire, and reports everything through `tracing`
//! and `metrics`. Every protocol decision still comes from the engine.
//!
//! Start with the [guide]: a tokio broker loop, a custom provider, re-authentication.
//!
//! # Features
//! - `tokio` (default): `TokioRuntime` timers. Without it, implement [`Runtime`].
//! - `tracing`: one span per handshake, summaries of refusals.
//! - `metrics`: counters and histograms through the `metrics` facade ([`observe`]).
//! - `serde`: `Deserialize` for [`admission::AdmissionPolicy`] (and the engine's configs).
//! - `codec-mqtt-protocol-core`: the `codec::mqtt_protocol_core` adapter (CONNECT/AUTH in,
//!   CONNACK/AUTH/DISCONNECT out) for the `mqtt-protocol-core` codec.
//!
//! The [`admission`] module is synchronous and runtime-free, for front ends whose callbacks
//! cannot wait (the Mosquitto plugin uses it with the same [`observe`] names).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admission;
mod authenticator;
pub mod codec;
mod connection;
pub mod duration;
pub mod guide;
pub mod observe;
mod runtime;
mod step;
mod tracker;

pub use authenticator::{Authenticator, BuildError, Builder, DEFAULT_LOOKUP_TIMEOUT};
pub use connection::{ConnectionAuth, MAXIMUM_CONNECT_TIME, PROTOCOL_ERROR};
#[cfg(feature = "tokio")]
pub use runtime::TokioRuntime;
pub use runtime::{Runtime, Sleep};
pub use step::{Failure, Status, Step, WithoutMethod};
