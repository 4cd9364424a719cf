//! Authorization rules carried by a credential record (the EMQX rule format), as data.
//!
//! The engine only carries these from the provider to the [`Identity`](crate::server::Identity);
//! evaluating them is the broker's (or an authorizer's) job.

use alloc::string::String;
use alloc::vec::Vec;

/// Whether a matching rule allows or denies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Permission {
    /// Allow the action.
    Allow,
    /// Deny the action.
    Deny,
}

/// Which actions a rule covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Action {
    /// PUBLISH.
    Publish,
    /// SUBSCRIBE.
    Subscribe,
    /// Both.
    All,
}

/// One rule: permission, action, topic filters and optional QoS / retain conditions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AclRule {
    /// Allow or deny.
    pub permission: Permission,
    /// Publish, subscribe or both.
    pub action: Action,
    /// Topic filters (an `eq ` prefix means a literal match), placeholders unexpanded.
    pub topics: Vec<String>,
    /// QoS levels the rule applies to; `None` = all.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub qos: Option<Vec<u8>>,
    /// Retain flag the rule applies to; `None` = both.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub retain: Option<bool>,
}
