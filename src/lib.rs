//! Sans-IO SCRAM for MQTT 5 enhanced authentication (placeholder docs; rewritten below).
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod acl;
pub mod client;
pub mod connection;
pub mod credentials;
pub mod crypto;
mod error;
pub mod mechanism;
pub mod message;
pub mod mqtt;
pub mod provider;
#[cfg(feature = "serde")]
pub mod record;
pub mod saslprep;
pub mod server;

#[doc(hidden)]
pub mod internal;

pub use connection::{ChannelBinding, ChannelBindingType, ConnectionInfo};
pub use credentials::StoredCredentials;
pub use error::{Error, ErrorCategory};
pub use mechanism::{HashAlgorithm, Mechanism};
pub use mqtt::{PacketType, ReasonCode, Reply};
pub use server::{Identity, Outcome, Rejection, ScramServer, ServerConfig, StartPacket};
