//! EMQX-format rules: validation, compilation into a [`RuleSet`], and evaluation.
//!
//! Semantics (EMQX 5 authorization rules, with the safety choices marked ★):
//! - Rules are tried in order; the first that applies decides.
//! - `eq <topic>` is compared literally with the topic (wildcards and placeholders in it
//!   are plain characters). Other topics are filters: `+`, `#` (MQTT 5 §4.7).
//! - Placeholders `${username}`, `${clientid}`, `${cert_common_name}`,
//!   `${client_attrs.NAME}` may appear anywhere in a level. ★ A value that is missing,
//!   empty, or contains `/`, `+`, `#` or U+0000 makes that filter not match (like EMQX, a
//!   client cannot widen a rule through its own name); and a level *starting* with a
//!   placeholder never matches a `$` topic at the first level (a user named `$SYS` does not
//!   reach `$SYS/#` through `${username}/#`).
//! - `qos` limits the QoS levels (publish QoS, requested subscription QoS, delivery QoS);
//!   `retain` applies to publishing only.
//! - [`Access::Read`] (delivery) is covered by `subscribe` rules, checked against the
//!   message's topic name.
//! - ★ For SUBSCRIBE, an *allow* rule applies only if its filter covers the whole requested
//!   filter, and a *deny* rule applies if its filter overlaps the requested one (EMQX applies
//!   a deny only on an exact filter match, so `deny a/b` does not stop `subscribe a/+`; here
//!   it does).
//! - Invalid topics (a name with wildcards, a malformed filter, QoS above 2) are denied.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::access::{Access, Decision, Permission, Placeholders, Request};
use crate::topic::{self, TopicError};
use crate::trie::{Level, Mode, Piece, Template, Trie, Var};

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
/// Deserializing (feature `serde`) accepts the EMQX JSON form (`topic` or `topics`;
/// `action` also `pub`/`sub`; `qos` as a number, list or `"0,1"`; `retain` as a boolean,
/// `0`/`1`, `"true"`/`"false"`/`"0"`/`"1"` or `"all"`) and validates the rule, so a record
/// with a bad rule fails to load with the reason. Rules built in code are validated by
/// [`RuleSet::compile`] / [`validate_rule`].
///
/// ```
/// use mqtt_scram_authz::{AclRule, Action, Permission};
/// let rule = AclRule::new(Permission::Deny, Action::Publish, ["$SYS/#"]).qos([1, 2]).retain(true);
/// assert_eq!(rule.topics, ["$SYS/#"]);
/// assert_eq!(rule.retain, Some(true));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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

impl AclRule {
    /// A rule for every QoS and retain flag.
    pub fn new<T: Into<String>>(
        permission: Permission,
        action: Action,
        topics: impl IntoIterator<Item = T>,
    ) -> Self {
        Self {
            permission,
            action,
            topics: topics.into_iter().map(Into::into).collect(),
            qos: None,
            retain: None,
        }
    }

    /// Limits the rule to these QoS levels.
    pub fn qos(mut self, levels: impl IntoIterator<Item = u8>) -> Self {
        self.qos = Some(levels.into_iter().collect());
        self
    }

    /// Limits the rule to publishing with (`true`) or without (`false`) retain.
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = Some(retain);
        self
    }
}

/// What is wrong with one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleErrorKind {
    /// `permission` is not `allow` or `deny`.
    Permission(String),
    /// `action` is not `publish`, `subscribe`, `all`, `pub` or `sub`.
    Action(String),
    /// Neither `topic` nor `topics` given, or the list is empty.
    NoTopics,
    /// Both `topic` and `topics` given.
    TopicAndTopics,
    /// A topic filter is invalid.
    Topic {
        /// The topic as written.
        topic: String,
        /// Why.
        reason: TopicError,
    },
    /// A `${...}` placeholder is unknown or malformed.
    Placeholder {
        /// The topic as written.
        topic: String,
        /// The offending placeholder text.
        placeholder: String,
    },
    /// `qos` is not 0, 1, 2, a list of them, or a string like `"0,1"`.
    Qos(String),
    /// `retain` is not `true`, `false`, `0`, `1` (or those as strings) or `"all"`.
    Retain(String),
    /// The rule is not an object of the expected shape (unknown field, wrong type).
    Shape(String),
}

impl fmt::Display for RuleErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Permission(v) => write!(f, "permission {v:?} is not allow or deny"),
            Self::Action(v) => write!(f, "action {v:?} is not publish, subscribe or all"),
            Self::NoTopics => f.write_str("no topic given (topic or topics)"),
            Self::TopicAndTopics => f.write_str("both topic and topics given"),
            Self::Topic { topic, reason } => write!(f, "topic {topic:?}: {reason}"),
            Self::Placeholder { topic, placeholder } => write!(
                f,
                "topic {topic:?}: unknown placeholder {placeholder:?} (known: ${{username}}, ${{clientid}}, \
                 ${{cert_common_name}}, ${{client_attrs.NAME}})"
            ),
            Self::Qos(v) => write!(f, "qos {v} is not 0, 1, 2 or a list of them"),
            Self::Retain(v) => write!(f, "retain {v} is not true, false, 0, 1 or \"all\""),
            Self::Shape(m) => f.write_str(m),
        }
    }
}

/// An invalid rule: which one (1-based; 0 when unknown) and why. A record with an invalid
/// rule is rejected whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based position in the rule list; 0 when parsed alone.
    pub rule: usize,
    /// What is wrong.
    pub kind: RuleErrorKind,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule {
            0 => write!(f, "invalid acl rule: {}", self.kind),
            n => write!(f, "invalid acl rule {n}: {}", self.kind),
        }
    }
}

impl core::error::Error for RuleError {}

impl RuleError {
    pub(crate) fn at(rule: usize, kind: RuleErrorKind) -> Self {
        Self { rule, kind }
    }
}

/// A compiled rule's conditions.
#[derive(Clone, Copy, Debug)]
struct Conditions {
    permission: Permission,
    publish: bool,
    subscribe: bool,
    qos_mask: u8,
    retain: Option<bool>,
}

impl Conditions {
    fn applies(&self, access: Access, qos: u8, retain: bool) -> bool {
        let action = match access {
            Access::Publish => self.publish,
            Access::Subscribe | Access::Read => self.subscribe,
        };
        let retain_ok = match (access, self.retain) {
            (Access::Publish, Some(r)) => r == retain,
            _ => true,
        };
        action && self.qos_mask & (1 << qos) != 0 && retain_ok
    }
}

/// Validated, compiled EMQX rules, evaluated first-match-wins. Placeholders are resolved
/// per [`Client`](crate::Client) at check time, so one set can serve one client (rules from its record) or
/// every client (a shared rule list).
///
/// Lookup is through a topic trie: cost grows with the topic's depth, not the rule count.
///
/// ```
/// use mqtt_scram_authz::{AclRule, Action, Client, Decision, Permission, Request, RuleSet};
/// let set = RuleSet::compile(&[
///     AclRule::new(Permission::Deny, Action::All, ["eq #"]),
///     AclRule::new(Permission::Allow, Action::All, ["users/${username}/#"]),
/// ])?;
/// let bob = Client::new("bob", "c1");
/// assert!(set.check(&bob, Request::subscribe("users/bob/#", 1)).is_allowed());
/// assert_eq!(set.check(&bob, Request::subscribe("#", 0)), Decision::Deny(None));
/// assert_eq!(set.check(&bob, Request::publish("users/eve/x", 0, false)), Decision::NoMatch);
/// # Ok::<(), mqtt_scram_authz::RuleError>(())
/// ```
#[derive(Debug, Default)]
pub struct RuleSet {
    /// The rules as given, for writing the record back out.
    source: Vec<AclRule>,
    conditions: Vec<Conditions>,
    trie: Trie,
    eq: BTreeMap<String, Vec<u32>>,
}

impl RuleSet {
    /// Validates and compiles `rules`; the first invalid one is an error.
    pub fn compile(rules: &[AclRule]) -> Result<Self, RuleError> {
        let mut set = Self {
            source: rules.to_vec(),
            ..Self::default()
        };
        for (i, rule) in rules.iter().enumerate() {
            let n = i + 1;
            let index = u32::try_from(i)
                .map_err(|_| RuleError::at(n, RuleErrorKind::Shape("too many rules".into())))?;
            let compiled = compile_rule(rule).map_err(|kind| RuleError::at(n, kind))?;
            for topic in compiled.topics {
                match topic {
                    CompiledTopic::Eq(t) => set.eq.entry(t).or_default().push(index),
                    CompiledTopic::Filter(levels) => set.trie.insert(&levels, index),
                }
            }
            set.conditions.push(compiled.conditions);
        }
        for list in set.eq.values_mut() {
            list.dedup();
        }
        Ok(set)
    }

    /// The rules this set was compiled from, in order.
    pub fn rules(&self) -> &[AclRule] {
        &self.source
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.conditions.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// The first applicable rule's decision, or [`Decision::NoMatch`]; placeholders take
    /// `who`'s values.
    pub fn check<P: Placeholders + ?Sized>(&self, who: &P, request: Request<'_>) -> Decision {
        let Request {
            access,
            topic,
            qos,
            retain,
            ..
        } = request;
        let topic = match access {
            Access::Subscribe => match topic::strip_shared(topic) {
                Some(t) => t,
                None => return Decision::Deny(None),
            },
            Access::Publish | Access::Read => topic,
        };
        let valid = match access {
            Access::Subscribe => topic::validate_filter(topic),
            Access::Publish | Access::Read => topic::validate_name(topic),
        };
        if valid.is_err() || qos > 2 {
            return Decision::Deny(None);
        }
        let cond = |i: u32| {
            self.conditions
                .get(i as usize)
                .filter(|c| c.applies(access, qos, retain))
        };
        let mut best = self
            .eq
            .get(topic)
            .and_then(|list| list.iter().copied().find(|&i| cond(i).is_some()));
        best = match access {
            Access::Subscribe => {
                let allow = |i| cond(i).is_some_and(|c| c.permission == Permission::Allow);
                let deny = |i| cond(i).is_some_and(|c| c.permission == Permission::Deny);
                let b = self.trie.first_match(who, topic, Mode::Cover, best, allow);
                self.trie.first_match(who, topic, Mode::Overlap, b, deny)
            }
            Access::Publish | Access::Read => {
                self.trie
                    .first_match(who, topic, Mode::Name, best, |i| cond(i).is_some())
            }
        };
        match best.and_then(|i| self.conditions.get(i as usize)) {
            Some(c) => Decision::from_permission(c.permission),
            None => Decision::NoMatch,
        }
    }
}

enum CompiledTopic {
    Eq(String),
    Filter(Vec<Level>),
}

struct CompiledRule {
    conditions: Conditions,
    topics: Vec<CompiledTopic>,
}

/// Validates one rule (as [`RuleSet::compile`] would).
pub fn validate_rule(rule: &AclRule) -> Result<(), RuleErrorKind> {
    compile_rule(rule).map(|_| ())
}

fn compile_rule(rule: &AclRule) -> Result<CompiledRule, RuleErrorKind> {
    if rule.topics.is_empty() {
        return Err(RuleErrorKind::NoTopics);
    }
    let qos_mask = match &rule.qos {
        None => 0b111,
        Some(list) if list.is_empty() => return Err(RuleErrorKind::Qos("[]".into())),
        Some(list) => list.iter().try_fold(0u8, |m, &q| {
            if q > 2 {
                Err(RuleErrorKind::Qos(q.to_string()))
            } else {
                Ok(m | 1 << q)
            }
        })?,
    };
    let (publish, subscribe) = match rule.action {
        Action::Publish => (true, false),
        Action::Subscribe => (false, true),
        Action::All => (true, true),
    };
    let topics = rule
        .topics
        .iter()
        .map(|t| compile_topic(t))
        .collect::<Result<_, _>>()?;
    Ok(CompiledRule {
        conditions: Conditions {
            permission: rule.permission,
            publish,
            subscribe,
            qos_mask,
            retain: rule.retain,
        },
        topics,
    })
}

fn compile_topic(raw: &str) -> Result<CompiledTopic, RuleErrorKind> {
    let bad = |reason| RuleErrorKind::Topic {
        topic: raw.into(),
        reason,
    };
    if let Some(eq) = raw.strip_prefix("eq ") {
        if eq.is_empty() {
            return Err(bad(TopicError::Empty));
        }
        if eq.contains('\0') {
            return Err(bad(TopicError::NullCharacter));
        }
        return Ok(CompiledTopic::Eq(eq.into()));
    }
    // Validate the shape with placeholders standing in as plain text.
    topic::validate_filter(raw).map_err(bad)?;
    let mut levels = Vec::new();
    for level in raw.split('/') {
        levels.push(match level {
            "+" => Level::Plus,
            "#" => Level::Hash,
            _ if level.contains("${") => Level::Template(parse_template(raw, level)?),
            _ => Level::Lit(level.into()),
        });
    }
    Ok(CompiledTopic::Filter(levels))
}

fn parse_template(topic: &str, level: &str) -> Result<Template, RuleErrorKind> {
    let bad = |p: &str| RuleErrorKind::Placeholder {
        topic: topic.into(),
        placeholder: p.into(),
    };
    let mut pieces = Vec::new();
    let mut rest = level;
    while let Some(start) = rest.find("${") {
        let (lit, tail) = rest.split_at(start);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit.into()));
        }
        let end = tail.find('}').ok_or_else(|| bad(tail))?;
        let name = tail.get(2..end).unwrap_or_default();
        let var = match name {
            "username" => Var::Username,
            "clientid" => Var::ClientId,
            "cert_common_name" => Var::CertCommonName,
            _ => match name.strip_prefix("client_attrs.") {
                Some(attr) if !attr.is_empty() => Var::Attr(Box::from(attr)),
                _ => return Err(bad(tail.get(..=end).unwrap_or(tail))),
            },
        };
        pieces.push(Piece::Var(var));
        rest = tail.get(end + 1..).unwrap_or_default();
    }
    if !rest.is_empty() {
        pieces.push(Piece::Lit(rest.into()));
    }
    Ok(Template(pieces))
}
