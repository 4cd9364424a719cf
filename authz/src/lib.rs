//! Authorization for MQTT brokers: "may this client publish or subscribe to this topic?",
//! and the non-SCRAM fallbacks ([`fallback`]: plain passwords, JWT).
//!
//! One small trait, [`Authorizer`] (and [`AsyncAuthorizer`] where I/O is involved), answers
//! a [`Request`] with [`Decision::Allow`], [`Decision::Deny`] or [`Decision::NoMatch`]; a
//! [`Chain`] (or [`AsyncChain`]) asks several in order and applies a default (deny) when
//! none decides. Three sources speak it:
//!
//! - rules carried by the credential record in the EMQX format ([`AclRule`], compiled into a
//!   [`RuleSet`], used through [`ClientRules`]);
//! - an ACL file in VerneMQ `vmq_acl` format with the gojek `token` and `label` extensions
//!   ([`file::FileAcl`], and [`file::FileAuthorizer`] which reloads it);
//! - an HTTP endpoint speaking EMQX v4's or amqtt's contract (feature `http`,
//!   `http::HttpAuthorizer`).
//!
//! Each module's docs end with a "Differences from …" table listing where the crate
//! deliberately decides otherwise than the system it is compatible with.
//!
//! Topic matching follows MQTT 5.0 §4.7 ([`topic`]); rule lookup goes through a topic trie.
//!
//! ```
//! use mqtt_scram_authz::{Chain, Client, ClientRules, Request, file::FileAcl};
//! let acl = FileAcl::parse("topic read sensors/#\nuser alice\ntopic write sensors/alice/# label own\n")?;
//! let chain = Chain::new().with(ClientRules).with(acl);
//! let alice = Client::new("alice", "c1");
//! let d = chain.check(&alice, Request::publish("sensors/alice/t", 1, false));
//! assert!(d.is_allowed());
//! assert_eq!(d.label(), Some("own"));
//! assert!(!chain.check(&alice, Request::publish("sensors/bob/t", 1, false)).is_allowed());
//! # Ok::<(), mqtt_scram_authz::file::ParseErrors>(())
//! ```
//!
//! # Differences from EMQX 5 rules
//!
//! | Case | EMQX | Here |
//! |---|---|---|
//! | `deny a/b` then `allow a/+`; client subscribes `a/+` | allowed (a deny applies only to the identical filter) | denied: a deny applies to every subscription that overlaps it, so `a/+` cannot receive `a/b` |
//! | `allow a/#`; client subscribes `#` | allowed only by an identical filter | denied: an allow applies only when it covers the whole subscription |
//! | a rule with an unknown field (`"qoss": 1`) | the field is ignored, the rule widened | the rule, and the record carrying it, is refused |
//! | `permission`/`action` in upper case, `action: "pubsub"` | refused | accepted |
//! | a placeholder value with `/`, `+`, `#` or empty | substituted as text | the filter never matches |
//! | a level starting with a placeholder vs. a `$` topic | matched | never matched (`${username}/#` with user `$SYS`) |

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
extern crate std;

mod access;
mod authorizer;
mod client;
pub mod fallback;
pub mod file;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
#[cfg(feature = "serde")]
mod rule_json;
mod rules;
pub mod topic;
mod trie;

pub use access::{Access, Decision, Label, Permission, Placeholders, Request};
pub use authorizer::{AsyncAuthorizer, AsyncChain, Authorizer, Chain, ClientRules, DynAuthorizer};
pub use client::Client;
#[cfg(feature = "serde")]
pub use rule_json::{parse_rule, parse_rules};
pub use rules::{AclRule, Action, RuleError, RuleErrorKind, RuleSet, validate_rule};
