//! The usual types in one `use`, for brokers and clients:
//!
//! ```
//! use std::sync::Arc;
//! use mqtt_scram::prelude::*;
//!
//! let store = MemoryProvider::new();
//! let credentials =
//!     StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl-NaCl!!", 4096)?;
//! store.insert("alice", UserRecord::new(credentials));
//! let server = ScramServer::new(ServerConfig::new([0x5a; 32]))?;
//! let (_state, connect_data) =
//!     client::start(&ClientConfig::new(), Mechanism::ScramSha256, "alice", "pencil", &mut rand::rng())?;
//! let conn = Arc::new(ConnectionInfo::new("c1").with_peer(([192, 0, 2, 7], 51_883).into()));
//! let start = StartPacket::Connect { method: "SCRAM-SHA-256", data: Some(&connect_data) };
//! let pending = server.start(&conn, start, SystemClock::new().now()).map_err(|r| r.error)?;
//! assert!(matches!(store.lookup_sync(&pending.request()), Lookup::Found(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Randomness: the engine takes any [`rand_core::CryptoRng`] of
//! `rand_core` 0.10, re-exported as [`mqtt_scram::rand_core`](crate::rand_core); with the
//! `rand` crate that is **`rand` 0.10** (`rand::rng()`, or a seeded `rand::rngs::StdRng`).

pub use crate::client::{self, ClientConfig};
#[cfg(feature = "std")]
pub use crate::provider::{Cached, MemoryProvider};
pub use crate::provider::{
    CredentialProvider, IgnoreKind, IgnoreReason, Lookup, LookupRequest, SyncCredentialProvider,
    UserRecord,
};
pub use crate::{
    Clock, ConnectionInfo, Error, ErrorKind, HashAlgorithm, Identity, Mechanism, MockKey, Outcome,
    PacketType, ReasonCode, Reply, ScramServer, ServerConfig, StartPacket, StoredCredentials,
    Timestamp,
};
#[cfg(feature = "std")]
pub use crate::{ManualClock, SystemClock};
