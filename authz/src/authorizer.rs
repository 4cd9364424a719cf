//! The authorization question ("may this client do this on this topic?") and how answers
//! from several sources combine.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;

use super::Permission;
use super::rules::{RuleError, RuleSet};
use crate::AclRule;
use mqtt_scram::ConnectionInfo;
use mqtt_scram::Identity;

/// What the client wants to do with a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// PUBLISH to a topic name.
    Publish,
    /// SUBSCRIBE to a topic filter (`$share/{group}/` is stripped before checking).
    Subscribe,
    /// Receive (be delivered) a message published on a topic name. Rules that cover
    /// subscribing (EMQX `subscribe`, vmq `read`) cover this too.
    Read,
}

/// A label naming the rule that decided (vmq_acl `label`), for logs and metrics.
pub type Label = Arc<str>;

/// One authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, by the rule with this label (if it has one).
    Allow(Option<Label>),
    /// Denied, by the rule with this label (if it has one).
    Deny(Option<Label>),
    /// This authorizer has no opinion: let the next one decide.
    NoMatch,
}

impl Decision {
    /// Whether the action is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow(_))
    }

    /// The label of the deciding rule, if any.
    pub fn label(&self) -> Option<&str> {
        match self {
            Self::Allow(l) | Self::Deny(l) => l.as_deref(),
            Self::NoMatch => None,
        }
    }

    /// A decision from a permission, without label.
    pub fn from_permission(permission: Permission) -> Self {
        match permission {
            Permission::Allow => Self::Allow(None),
            Permission::Deny => Self::Deny(None),
        }
    }
}

/// Who is asking, as authorizers see it. Built once per connection.
///
/// Unlike [`Identity`] it can describe anonymous clients (no username) and clients
/// authenticated by other means (plain password, JWT), and it carries the connection facts
/// that placeholders refer to (`${clientid}`, `${cert_common_name}`, `%c`).
#[derive(Clone, Debug, Default)]
pub struct Client {
    /// Authenticated username; `None` for an anonymous client.
    pub username: Option<String>,
    /// MQTT client identifier.
    pub client_id: String,
    /// TLS client certificate common name.
    pub cert_common_name: Option<String>,
    /// Client attributes (`${client_attrs.NAME}`).
    pub client_attrs: BTreeMap<String, String>,
    /// Superusers bypass [`Chain`] checks (when the chain is so configured, the default).
    pub is_superuser: bool,
    /// Rules carried by this client's credential record, compiled (see [`ClientRules`]).
    pub rules: Option<Arc<RuleSet>>,
}

impl Client {
    /// An anonymous client.
    pub fn anonymous(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            ..Self::default()
        }
    }

    /// A client authenticated as `username`.
    pub fn new(username: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            username: Some(username.into()),
            client_id: client_id.into(),
            ..Self::default()
        }
    }

    /// The client a SCRAM exchange authenticated: username, superuser flag, attributes
    /// (the provider's override the connection's) and the record's ACL, which the store
    /// compiled when it read the record (a [`RuleSet`] in the identity's
    /// [`AuthzData`](mqtt_scram::provider::AuthzData)).
    pub fn from_identity(identity: &Identity, connection: &ConnectionInfo) -> Self {
        let mut client_attrs = connection.client_attrs.clone();
        client_attrs.extend(
            identity
                .client_attrs()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        Self {
            username: Some(identity.username.clone()),
            client_id: connection.client_id.clone(),
            cert_common_name: connection.cert_common_name.clone(),
            client_attrs,
            is_superuser: identity.is_superuser(),
            rules: identity
                .authz()
                .and_then(|data| data.downcast_arc::<RuleSet>()),
        }
    }

    /// Compiles `rules` (EMQX format) as this client's own rules. An empty list removes them.
    pub fn with_rules(mut self, rules: &[AclRule]) -> Result<Self, RuleError> {
        self.rules = if rules.is_empty() {
            None
        } else {
            Some(Arc::new(RuleSet::compile(rules)?))
        };
        Ok(self)
    }

    /// Sets the superuser flag.
    pub fn superuser(mut self, yes: bool) -> Self {
        self.is_superuser = yes;
        self
    }
}

/// A synchronous authorizer (rules in memory).
pub trait Authorizer: Send + Sync {
    /// Decides whether `who` may perform `access` on `topic` with `qos` and `retain`
    /// (the retain flag only matters for [`Access::Publish`]). Must not panic.
    fn check(&self, who: &Client, access: Access, topic: &str, qos: u8, retain: bool) -> Decision;
}

impl<T: Authorizer + ?Sized> Authorizer for Arc<T> {
    fn check(&self, who: &Client, access: Access, topic: &str, qos: u8, retain: bool) -> Decision {
        (**self).check(who, access, topic, qos, retain)
    }
}

impl<T: Authorizer + ?Sized> Authorizer for Box<T> {
    fn check(&self, who: &Client, access: Access, topic: &str, qos: u8, retain: bool) -> Decision {
        (**self).check(who, access, topic, qos, retain)
    }
}

/// An authorizer that may do I/O. Every [`Authorizer`] is one.
pub trait AsyncAuthorizer: Send + Sync {
    /// As [`Authorizer::check`]. Failures (timeouts, bad replies) are [`Decision::NoMatch`].
    fn authorize<'a>(
        &'a self,
        who: &'a Client,
        access: Access,
        topic: &'a str,
        qos: u8,
        retain: bool,
    ) -> impl Future<Output = Decision> + Send + 'a;
}

impl<T: Authorizer + ?Sized> AsyncAuthorizer for T {
    fn authorize<'a>(
        &'a self,
        who: &'a Client,
        access: Access,
        topic: &'a str,
        qos: u8,
        retain: bool,
    ) -> impl Future<Output = Decision> + Send + 'a {
        core::future::ready(self.check(who, access, topic, qos, retain))
    }
}

/// The rules carried by the client itself ([`Client::rules`]): EMQX rules from the credential
/// record or a JWT claim. [`Decision::NoMatch`] when the client has none or none matches.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientRules;

impl Authorizer for ClientRules {
    fn check(&self, who: &Client, access: Access, topic: &str, qos: u8, retain: bool) -> Decision {
        match &who.rules {
            Some(rules) => rules.check(who, access, topic, qos, retain),
            None => Decision::NoMatch,
        }
    }
}

/// How a [`Chain`] ends.
#[derive(Clone, Debug)]
struct Policy {
    default: Decision,
    superuser_bypass: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            default: Decision::Deny(None),
            superuser_bypass: true,
        }
    }
}

impl Policy {
    fn superuser(&self, who: &Client) -> Option<Decision> {
        (self.superuser_bypass && who.is_superuser)
            .then(|| Decision::Allow(Some(Arc::from("superuser"))))
    }
}

/// Asks authorizers in order; the first answer other than [`Decision::NoMatch`] wins.
/// When all say `NoMatch` the default applies (deny unless configured otherwise).
/// Superusers are allowed without asking (label `superuser`) unless disabled.
///
/// ```
/// use mqtt_scram_authz::{Access, AclRule, Action, Chain, Client, ClientRules, Permission};
/// let rule = AclRule { permission: Permission::Allow, action: Action::Publish,
///     topics: vec!["devices/${clientid}/#".into()], qos: None, retain: None };
/// let client = Client::new("alice", "dev-1").with_rules(&[rule])?;
/// let chain = Chain::new().with(ClientRules);
/// assert!(chain.check(&client, Access::Publish, "devices/dev-1/temp", 0, false).is_allowed());
/// assert!(!chain.check(&client, Access::Publish, "devices/dev-2/temp", 0, false).is_allowed());
/// # Ok::<(), mqtt_scram_authz::RuleError>(())
/// ```
#[derive(Default)]
pub struct Chain {
    authorizers: Vec<Box<dyn Authorizer>>,
    policy: Policy,
}

impl core::fmt::Debug for Chain {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Chain")
            .field("len", &self.authorizers.len())
            .field("policy", &self.policy)
            .finish()
    }
}

impl Chain {
    /// An empty chain that denies everything except superusers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an authorizer.
    pub fn with(mut self, authorizer: impl Authorizer + 'static) -> Self {
        self.authorizers.push(Box::new(authorizer));
        self
    }

    /// The decision when every authorizer says `NoMatch` (default: deny). `NoMatch` here
    /// lets the chain itself sit inside another chain.
    pub fn default_decision(mut self, decision: Decision) -> Self {
        self.policy.default = decision;
        self
    }

    /// Whether superusers skip all checks (default: yes).
    pub fn superuser_bypass(mut self, yes: bool) -> Self {
        self.policy.superuser_bypass = yes;
        self
    }
}

impl Authorizer for Chain {
    fn check(&self, who: &Client, access: Access, topic: &str, qos: u8, retain: bool) -> Decision {
        Chain::check(self, who, access, topic, qos, retain)
    }
}

impl Chain {
    /// Asks the authorizers in order (see [`Authorizer::check`]); never [`Decision::NoMatch`]
    /// unless that is the configured default.
    pub fn check(
        &self,
        who: &Client,
        access: Access,
        topic: &str,
        qos: u8,
        retain: bool,
    ) -> Decision {
        if let Some(d) = self.policy.superuser(who) {
            return d;
        }
        for a in &self.authorizers {
            match a.check(who, access, topic, qos, retain) {
                Decision::NoMatch => {}
                d => return d,
            }
        }
        self.policy.default.clone()
    }
}

type BoxFuture<'a> = Pin<Box<dyn Future<Output = Decision> + Send + 'a>>;

trait DynAuthorizer: Send + Sync {
    fn authorize_boxed<'a>(
        &'a self,
        who: &'a Client,
        access: Access,
        topic: &'a str,
        qos: u8,
        retain: bool,
    ) -> BoxFuture<'a>;
}

impl<T: AsyncAuthorizer> DynAuthorizer for T {
    fn authorize_boxed<'a>(
        &'a self,
        who: &'a Client,
        access: Access,
        topic: &'a str,
        qos: u8,
        retain: bool,
    ) -> BoxFuture<'a> {
        Box::pin(self.authorize(who, access, topic, qos, retain))
    }
}

/// A [`Chain`] whose members may be asynchronous (HTTP); same rules, asked in order.
#[derive(Default)]
pub struct AsyncChain {
    authorizers: Vec<Box<dyn DynAuthorizer>>,
    policy: Policy,
}

impl core::fmt::Debug for AsyncChain {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsyncChain")
            .field("len", &self.authorizers.len())
            .field("policy", &self.policy)
            .finish()
    }
}

impl AsyncChain {
    /// An empty chain that denies everything except superusers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an authorizer (sync or async).
    pub fn with(mut self, authorizer: impl AsyncAuthorizer + 'static) -> Self {
        self.authorizers.push(Box::new(authorizer));
        self
    }

    /// See [`Chain::default_decision`].
    pub fn default_decision(mut self, decision: Decision) -> Self {
        self.policy.default = decision;
        self
    }

    /// See [`Chain::superuser_bypass`].
    pub fn superuser_bypass(mut self, yes: bool) -> Self {
        self.policy.superuser_bypass = yes;
        self
    }
}

impl AsyncAuthorizer for AsyncChain {
    fn authorize<'a>(
        &'a self,
        who: &'a Client,
        access: Access,
        topic: &'a str,
        qos: u8,
        retain: bool,
    ) -> impl Future<Output = Decision> + Send + 'a {
        AsyncChain::authorize(self, who, access, topic, qos, retain)
    }
}

impl AsyncChain {
    /// Asks the authorizers in order (see [`AsyncAuthorizer::authorize`]).
    pub async fn authorize(
        &self,
        who: &Client,
        access: Access,
        topic: &str,
        qos: u8,
        retain: bool,
    ) -> Decision {
        if let Some(d) = self.policy.superuser(who) {
            return d;
        }
        for a in &self.authorizers {
            match a.authorize_boxed(who, access, topic, qos, retain).await {
                Decision::NoMatch => {}
                d => return d,
            }
        }
        self.policy.default.clone()
    }
}
