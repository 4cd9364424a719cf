//! Async authenticator for MQTT 5 brokers over the `mqtt-scram` engine.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admission;
mod authenticator;
mod connection;
pub mod duration;
pub mod observe;
mod runtime;
mod step;
mod tracker;

pub use authenticator::{Authenticator, BuildError, Builder, DEFAULT_LOOKUP_TIMEOUT};
pub use connection::{ConnectionAuth, MAXIMUM_CONNECT_TIME, PROTOCOL_ERROR};
#[cfg(feature = "tokio")]
pub use runtime::TokioRuntime;
pub use runtime::{Runtime, Sleep};
pub use step::{Failure, Status, Step};
