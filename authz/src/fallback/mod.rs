//! Authentication for clients that do not use enhanced authentication: a plain MQTT
//! password checked against the same SCRAM store ([`plain`]), or a JWT carried in the
//! password field (`jwt`, feature `jwt`).

pub mod plain;

#[cfg(feature = "jwt")]
pub mod jwt;

pub use plain::verify_plain_password;
