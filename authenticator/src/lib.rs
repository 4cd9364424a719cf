//! Async authenticator for MQTT 5 brokers over the `mqtt-scram` engine.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admission;
pub mod duration;
