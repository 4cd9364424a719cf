//! Credential stores with I/O for the `mqtt-scram` engine: each one a
//! [`CredentialProvider`](mqtt_scram::provider::CredentialProvider) that answers
//! `Found` / `NotFound` / `Ignore` and composes with the engine's
//! [`Chain`](mqtt_scram::provider::Chain) and [`Cached`](mqtt_scram::provider::Cached).
//!
//! - [`record`]: the record format `mqtt-scram gen` writes, `import` reads and the file
//!   store loads, as JSON or CSV (one codec, every field).
//! - [`file`](mod@file): a reloading credential file (JSON or CSV).
//! - `http` (feature `http`): a service speaking EMQX's SCRAM REST contract.
//! - `postgres` (feature `postgres`): PostgreSQL, default schema or a user-written query.
//! - `redis` (feature `redis`): Redis (one node, Sentinel or Cluster), default layout or
//!   a user-written command.
//! - [`config`]: [`StoreConfig`](config::StoreConfig), any of them (cached, chained) from a
//!   configuration file or a URL.
//!
//! ```
//! use mqtt_scram_stores::record::parse_records;
//! let users = parse_records(r#"{"username":"user","mechanism":"SCRAM-SHA-256","iterations":4096,
//!     "salt":"W22ZaJ0SNY7soEsUEjb6gQ==",
//!     "stored_key":"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
//!     "server_key":"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="}"#)?;
//! assert!(users[0].1.credentials.verify_password("pencil")?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
pub mod file;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod record;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "postgres", feature = "redis"))]
pub mod remote;

pub use file::{FileProvider, append_record_locked};
