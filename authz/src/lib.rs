//! Authorization for MQTT brokers: "may this client publish or subscribe to this topic?",
//! and the non-SCRAM fallbacks ([`fallback`]: plain passwords, JWT).
//!
//! One small trait, [`Authorizer`] (and [`AsyncAuthorizer`] where I/O is involved), answers
//! [`Decision::Allow`], [`Decision::Deny`] or [`Decision::NoMatch`]; a [`Chain`] asks several
//! in order and applies a default (deny) when none decides. Three sources speak it:
//!
//! - rules carried by the credential record in the EMQX format ([`AclRule`], compiled into a
//!   [`RuleSet`], used through [`ClientRules`]);
//! - an ACL file in VerneMQ `vmq_acl` format with the gojek `token` and `label` extensions
//!   ([`file::FileAcl`], and `file::FileAuthorizer` which reloads it);
//! - an HTTP endpoint (feature `http`, [`http::HttpAuthorizer`]).
//!
//! Topic matching follows MQTT 5.0 §4.7 ([`topic`]); rule lookup goes through a topic trie.
//!
//! ```
//! use mqtt_scram_authz::{Access, Chain, Client, ClientRules, file::FileAcl};
//! let acl = FileAcl::parse("topic read sensors/#\nuser alice\ntopic write sensors/alice/# label own\n")?;
//! let chain = Chain::new().with(ClientRules).with(acl);
//! let alice = Client::new("alice", "c1");
//! let d = chain.check(&alice, Access::Publish, "sensors/alice/t", 1, false);
//! assert!(d.is_allowed());
//! assert_eq!(d.label(), Some("own"));
//! assert!(!chain.check(&alice, Access::Publish, "sensors/bob/t", 1, false).is_allowed());
//! # Ok::<(), mqtt_scram_authz::file::ParseErrors>(())
//! ```

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
extern crate std;

use alloc::string::String;
use alloc::vec::Vec;

mod authorizer;
pub mod fallback;
pub mod file;
#[cfg(feature = "http")]
pub mod http;
mod rules;
pub mod topic;
mod trie;

pub use authorizer::{
    Access, AsyncAuthorizer, AsyncChain, Authorizer, Chain, Client, ClientRules, Decision, Label,
};
pub use rules::{RuleError, RuleErrorKind, RuleSet, validate_rule};
#[cfg(feature = "serde")]
pub use rules::{parse_rule, parse_rules};

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
    #[cfg_attr(feature = "serde", serde(alias = "pub"))]
    Publish,
    /// SUBSCRIBE.
    #[cfg_attr(feature = "serde", serde(alias = "sub"))]
    Subscribe,
    /// Both.
    #[cfg_attr(feature = "serde", serde(alias = "pubsub"))]
    All,
}

/// One rule: permission, action, topic filters and optional QoS / retain conditions.
///
/// Deserializing accepts the EMQX JSON form (`topic` or `topics`; `action` also `pub`/`sub`;
/// `qos` as a number, list or `"0,1"`; `retain` as a boolean or `"all"`) and validates
/// the rule, so a record with a bad rule fails to load with the reason. Rules built in code
/// are validated by [`RuleSet::compile`] / [`validate_rule`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "rules::RawRule"))]
pub struct AclRule {
    /// Allow or deny.
    pub permission: Permission,
    /// Publish, subscribe or both.
    pub action: Action,
    /// Topic filters (an `eq ` prefix means a literal match), placeholders unexpanded.
    pub topics: Vec<String>,
    /// QoS levels the rule applies to; `None` = all.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub qos: Option<Vec<u8>>,
    /// Retain flag the rule applies to; `None` = both.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub retain: Option<bool>,
}
