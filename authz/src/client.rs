//! [`Client`]: who is asking, as authorizers see it.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use core::net::SocketAddr;

use mqtt_scram::{ConnectionInfo, Identity};

use crate::access::Placeholders;
use crate::rules::{AclRule, RuleError, RuleSet};

/// Who is asking, as authorizers see it. Built once per connection.
///
/// Unlike [`Identity`] it can describe anonymous clients (no username) and clients
/// authenticated by other means (plain password, JWT), and it carries the connection facts
/// that placeholders refer to (`${clientid}`, `${cert_common_name}`, `%c`, `%a`, `%p`).
///
/// ```
/// use mqtt_scram_authz::Client;
/// let mut client = Client::new("alice", "sensor-1");
/// client.client_attrs.insert("tenant".into(), "acme".into());
/// assert_eq!(client.username.as_deref(), Some("alice"));
/// assert!(Client::anonymous("c2").username.is_none());
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Client {
    /// Authenticated username; `None` for an anonymous client.
    pub username: Option<String>,
    /// MQTT client identifier.
    pub client_id: String,
    /// TLS client certificate common name.
    pub cert_common_name: Option<String>,
    /// TLS client certificate subject.
    pub cert_subject: Option<String>,
    /// Client attributes (`${client_attrs.NAME}`).
    pub client_attrs: BTreeMap<String, String>,
    /// Remote address (EMQX v4 `%a`, `${peerhost}`).
    pub peer: Option<SocketAddr>,
    /// Local port of the listener the client connected to (EMQX v4 `%p`).
    pub listener_port: Option<u16>,
    /// Protocol name (`mqtt` unless the broker says otherwise; EMQX v4 `%r`).
    pub protocol: String,
    /// Superusers bypass [`Chain`](crate::Chain) checks (when the chain is so configured,
    /// the default).
    pub is_superuser: bool,
    /// Rules carried by this client's credential record, compiled (see
    /// [`ClientRules`](crate::ClientRules)).
    pub rules: Option<Arc<RuleSet>>,
}

impl Client {
    /// An anonymous client.
    pub fn anonymous(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            protocol: "mqtt".into(),
            ..Self::default()
        }
    }

    /// A client authenticated as `username`.
    pub fn new(username: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            username: Some(username.into()),
            ..Self::anonymous(client_id)
        }
    }

    /// An anonymous client with the facts of `connection` (client id, peer, listener port,
    /// protocol, certificate names, attributes).
    pub fn from_connection(connection: &ConnectionInfo) -> Self {
        Self {
            username: None,
            client_id: connection.client_id.clone(),
            cert_common_name: connection.cert_common_name.clone(),
            cert_subject: connection.cert_subject.clone(),
            client_attrs: connection.client_attrs.clone(),
            peer: connection.peer,
            listener_port: connection.listener_port,
            protocol: String::from(&*connection.protocol),
            is_superuser: false,
            rules: None,
        }
    }

    /// The client a SCRAM exchange authenticated: the connection's facts, the username,
    /// superuser flag, attributes (the provider's override the connection's) and the
    /// record's ACL, which the store compiled when it read the record (a [`RuleSet`] in the
    /// identity's [`AuthzData`](mqtt_scram::provider::AuthzData)).
    pub fn from_identity(identity: &Identity, connection: &ConnectionInfo) -> Self {
        let mut client = Self::from_connection(connection);
        client.client_attrs.extend(
            identity
                .client_attrs()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        client.username = Some(identity.username.clone());
        client.is_superuser = identity.is_superuser();
        client.rules = identity
            .authz()
            .and_then(|data| data.downcast_arc::<RuleSet>());
        client
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

impl Placeholders for Client {
    fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    fn client_id(&self) -> &str {
        &self.client_id
    }

    fn cert_common_name(&self) -> Option<&str> {
        self.cert_common_name.as_deref()
    }

    fn client_attr(&self, name: &str) -> Option<&str> {
        self.client_attrs.get(name).map(String::as_str)
    }
}
