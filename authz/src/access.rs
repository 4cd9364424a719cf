//! The question every authorizer answers — "may this client do this with this topic?" —
//! and its answer. The base the other modules build on; it imports none of them.

use alloc::sync::Arc;

/// What the client wants to do with a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    /// PUBLISH to a topic name.
    Publish,
    /// SUBSCRIBE to a topic filter (`$share/{group}/` is stripped before checking).
    Subscribe,
    /// Receive (be delivered) a message published on a topic name. Rules that cover
    /// subscribing (EMQX `subscribe`, vmq `read`) cover this too.
    Read,
}

impl Access {
    /// `publish`, `subscribe` or `read` (the EMQX 5 `${action}` value).
    ///
    /// ```
    /// assert_eq!(mqtt_scram_authz::Access::Subscribe.name(), "subscribe");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Subscribe => "subscribe",
            Self::Read => "read",
        }
    }
}

/// One authorization question: what, on which topic, with which QoS and retain flag.
///
/// ```
/// use mqtt_scram_authz::{Access, Request};
/// let publish = Request::publish("sensors/t1", 1, true);
/// assert_eq!((publish.access, publish.topic, publish.qos, publish.retain),
///            (Access::Publish, "sensors/t1", 1, true));
/// let subscribe = Request::subscribe("sensors/#", 0);
/// assert!(!subscribe.retain);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Request<'a> {
    /// What the client wants to do.
    pub access: Access,
    /// The topic name (publish, read) or filter (subscribe), as the client sent it.
    pub topic: &'a str,
    /// The QoS of the PUBLISH, the requested subscription QoS, or the delivery QoS.
    pub qos: u8,
    /// The PUBLISH retain flag (only [`Access::Publish`] uses it).
    pub retain: bool,
}

impl<'a> Request<'a> {
    /// A request for `access` on `topic` at QoS 0 without retain.
    pub const fn new(access: Access, topic: &'a str) -> Self {
        Self {
            access,
            topic,
            qos: 0,
            retain: false,
        }
    }

    /// A PUBLISH to `topic`.
    pub const fn publish(topic: &'a str, qos: u8, retain: bool) -> Self {
        Self {
            access: Access::Publish,
            topic,
            qos,
            retain,
        }
    }

    /// A SUBSCRIBE to `filter` at the requested `qos`.
    pub const fn subscribe(filter: &'a str, qos: u8) -> Self {
        Self::new(Access::Subscribe, filter).qos(qos)
    }

    /// The delivery of a message published on `topic` at `qos`.
    pub const fn read(topic: &'a str, qos: u8) -> Self {
        Self::new(Access::Read, topic).qos(qos)
    }

    /// The same request with another QoS.
    pub const fn qos(mut self, qos: u8) -> Self {
        self.qos = qos;
        self
    }

    /// The same request with another retain flag.
    pub const fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }
}

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

/// A label naming the rule that decided (vmq_acl `label`), for logs and metrics.
pub type Label = Arc<str>;

/// One authorizer's answer.
///
/// ```
/// use mqtt_scram_authz::{Decision, Permission};
/// let d = Decision::from_permission(Permission::Allow);
/// assert!(d.is_allowed());
/// assert_eq!(Decision::Deny(Some("own".into())).label(), Some("own"));
/// ```
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

/// The client values rule placeholders stand for (`${username}`, `${clientid}`,
/// `${cert_common_name}`, `${client_attrs.NAME}`; vmq `%u`, `%c`). [`Client`](crate::Client)
/// implements it; a broker may implement it for its own session type and call
/// [`RuleSet::check`](crate::RuleSet::check) directly.
pub trait Placeholders {
    /// The authenticated username; `None` for an anonymous client.
    fn username(&self) -> Option<&str>;
    /// The MQTT client identifier.
    fn client_id(&self) -> &str;
    /// The TLS client certificate's common name.
    fn cert_common_name(&self) -> Option<&str>;
    /// A client attribute.
    fn client_attr(&self, name: &str) -> Option<&str>;
}
