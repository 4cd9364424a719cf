//! Sans-IO SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) for MQTT 5 enhanced
//! authentication (MQTT 5.0 §4.12), server and client.
//!
//! The engine never opens sockets, spawns tasks, reads a clock or draws randomness on
//! its own: the broker feeds it the Authentication Method and Data of CONNECT and AUTH
//! packets, the current time and a `CryptoRng`, and gets back typed decisions: *send
//! AUTH 0x18 with these bytes*, *send CONNACK 0x00 with these bytes*, *reject with 0x87*,
//! *I need credentials for user X*.
//!
//! # A broker's loop
//! ```
//! use std::sync::Arc;
//! use mqtt_scram::{Clock, ConnectionInfo, Outcome, ScramServer, ServerConfig, StartPacket, StoredCredentials, SystemClock, HashAlgorithm};
//! use mqtt_scram::provider::{MemoryProvider, SyncCredentialProvider, UserRecord};
//! # use mqtt_scram::{client::{self, ClientConfig}, Mechanism};
//! # let mut rng = rand::rng();
//! # let (client, connect_data) = client::start(&ClientConfig::new(), Mechanism::ScramSha256, "alice", "pencil", &mut rng)?;
//! let store = MemoryProvider::new();      // or a file, HTTP, PostgreSQL, Redis store, a Chain, a Cache...
//! store.insert("alice", UserRecord::new(StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)?));
//! let server = ScramServer::new(ServerConfig::new([0x5a; 32]))?;   // keep the mock key secret and stable
//! let clock = SystemClock::new();
//! let conn = Arc::new(ConnectionInfo::new("client-1"));
//!
//! // CONNECT arrived with Authentication Method "SCRAM-SHA-256" and Authentication Data:
//! let start = StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(&connect_data) };
//! let pending = match server.start(&conn, start, clock.now()) {
//!     Ok(pending) => pending,
//!     Err(rejection) => { /* send rejection.reply (CONNACK 0x87 / 0x8C) and close */ return Ok(()) }
//! };
//! let lookup = store.lookup_sync(&pending.request());          // async providers: `.lookup(..).await`
//! let (challenge, auth) = pending.continue_with(lookup, &mut rng);
//! // send `auth`: AUTH 0x18 with auth.data (server-first-message); arm a timer for challenge.deadline()
//! # let (client, auth_data) = client.on_server_first(auth.data.as_deref().unwrap_or_default())?;
//! // AUTH 0x18 arrived from the client with its client-final-message:
//! match challenge.finish(0x18, "SCRAM-SHA-256", Some(&auth_data), clock.now()) {
//!     Outcome::Accepted { reply, identity } => {
//!         // send `reply`: CONNACK 0x00 with v=ServerSignature; the client is `identity`
//!         # client.on_server_final(reply.data.as_deref().unwrap_or_default())?;
//!         assert_eq!(identity.username, "alice");
//!     }
//!     Outcome::Rejected(rejection) => { /* send rejection.reply (CONNACK 0x87, e=...) and close */ }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Brokers on tokio can use the `mqtt-scram-authenticator` package instead, which drives
//! this loop (lookups with a deadline, timers, concurrency limits, metrics).
//!
//! # A client
//! ```
//! use mqtt_scram::{client::{self, ClientConfig}, Mechanism};
//! let config = ClientConfig::new().iteration_window(4096..=600_000);
//! let (state, connect_data) = client::start(&config, Mechanism::ScramSha512, "alice", "pencil", &mut rand::rng())?;
//! // send CONNECT with Authentication Method "SCRAM-SHA-512" and Data `connect_data`;
//! // on AUTH 0x18: let (state, data) = state.on_server_first(&server_first)?;  → send AUTH 0x18 with data
//! // on CONNACK 0x00: let authenticated = state.on_server_final(&server_final)?;
//! // later: let (state, data) = authenticated.reauthenticate(&mut rng);  → send AUTH 0x19 with data
//! # let _ = (state, connect_data);
//! # Ok::<(), mqtt_scram::Error>(())
//! ```
//!
//! # Security properties
//! - **Unknown users** get a mock challenge (salt = HMAC(mock key, username)) of the shape
//!   real records have: the store's most common salt length and iteration count (file and
//!   memory stores report it, [`provider::CredentialProvider::record_shape`], passed to
//!   [`server::NeedCredentials::set_mock_shape`]), or the configured
//!   [`ServerConfig::mock_shape`] (`mock_salt_len`, `mock_iterations`) for remote stores.
//!   They fail at the last step with the same CONNACK 0x87 `e=invalid-proof` and the same
//!   work as a wrong password. Provider failures look the same.
//! - **Handshake deadline** (default 30 s): a client-final-message after it is rejected; the
//!   states expose `deadline()` so the broker can drop stalled clients.
//! - **Iteration window** on the client (default 4096..=1,000,000), checked before PBKDF2.
//! - **Constant-time** proof and signature checks (`subtle`); keys, passwords and salted
//!   passwords are zeroized on drop and never printed by `Debug` or errors.
//! - **Bounded input**: every SCRAM message is capped (4 KiB by default); parsers return
//!   errors, never panic, on any bytes.
//! - **Channel binding** (`-PLUS`, `tls-exporter` / `tls-server-end-point`) with downgrade detection.
//!
//! - **Record policy**: a provider's record outside [`RecordPolicy`] (iterations, salt
//!   length) is never used; the operator sees why.
//! - **Credential expiry**: a record whose `expire_at` has passed is refused, whichever
//!   provider returned it.
//!
//! [`prelude`] has the usual types in one `use mqtt_scram::prelude::*;`. Randomness comes
//! from any `CryptoRng` of `rand_core` 0.10 (re-exported as [`rand_core`]): with the `rand`
//! crate, that is `rand` 0.10 (`rand::rng()`).
//!
//! # Features
//! - `std` (default): `provider::MemoryProvider`, `provider::Cached`, `SystemClock`,
//!   `std::error::Error`. Without it the engine is `no_std + alloc`.
//! - `serde`: `Deserialize` for the configuration types, and the `#[serde(with = ...)]`
//!   duration modules of [`config_duration`].
//! - `dangerous-fixed-nonces` (off): the `internal` fixed-nonce functions for test vectors,
//!   benches and fuzzing; an exchange is only as secure as its nonce, never in production.
//!
//! The engine depends on no I/O crate. Stores, authorization, the async authenticator,
//! the command-line tool and the Mosquitto plugin are separate packages of the workspace.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod client;
pub mod config_duration;
pub mod connection;
pub mod credentials;
mod crypto;
mod error;
pub mod mechanism;
pub mod message;
mod mock_key;
pub mod mqtt;
pub mod prelude;
pub mod provider;
pub mod saslprep;
pub mod server;
mod time;

#[doc(hidden)]
pub mod internal;

/// The `rand_core` (0.10) whose [`CryptoRng`](rand_core::CryptoRng) the engine takes: with the
/// `rand` crate, use **`rand` 0.10** (`rand::rng()`), or implement the trait for your own RNG.
pub use rand_core;

pub use connection::{ChannelBinding, ChannelBindingType, ConnectionInfo};
pub use credentials::StoredCredentials;
pub use error::{Error, ErrorCategory, ErrorKind};
pub use mechanism::{HashAlgorithm, Mechanism};
pub use mock_key::MockKey;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use mock_key::MockKeyError;
pub use mqtt::{PacketType, ReasonCode, Reply};
pub use server::{
    ConfigError, Identity, Outcome, RecordPolicy, Rejection, ScramServer, ServerConfig, StartPacket,
};
pub use time::{Clock, Timestamp};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use time::{ManualClock, SystemClock};
