//! The authorizer traits and how answers from several sources combine ([`Chain`],
//! [`AsyncChain`]: one implementation, run synchronously or awaited).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::access::{Decision, Request};
use crate::client::Client;
use crate::rules::RuleSet;

/// A synchronous authorizer (rules in memory).
///
/// ```
/// use mqtt_scram_authz::{Authorizer, Client, Decision, Request};
/// /// Nobody publishes under `$SYS`.
/// struct NoSys;
/// impl Authorizer for NoSys {
///     fn check(&self, _who: &Client, request: Request<'_>) -> Decision {
///         if request.topic.starts_with("$SYS") { Decision::Deny(None) } else { Decision::NoMatch }
///     }
/// }
/// let who = Client::new("alice", "c1");
/// assert_eq!(NoSys.check(&who, Request::publish("$SYS/x", 0, false)), Decision::Deny(None));
/// ```
pub trait Authorizer: Send + Sync {
    /// Decides whether `who` may do what `request` asks (the retain flag only matters for
    /// [`Access::Publish`](crate::Access::Publish)). Must not panic.
    fn check(&self, who: &Client, request: Request<'_>) -> Decision;
}

impl<T: Authorizer + ?Sized> Authorizer for Arc<T> {
    fn check(&self, who: &Client, request: Request<'_>) -> Decision {
        (**self).check(who, request)
    }
}

impl<T: Authorizer + ?Sized> Authorizer for Box<T> {
    fn check(&self, who: &Client, request: Request<'_>) -> Decision {
        (**self).check(who, request)
    }
}

/// An authorizer that may do I/O (HTTP). Every [`Authorizer`] is one.
pub trait AsyncAuthorizer: Send + Sync {
    /// As [`Authorizer::check`]. Failures (timeouts, bad replies) never allow.
    fn authorize<'a>(
        &'a self,
        who: &'a Client,
        request: Request<'a>,
    ) -> impl Future<Output = Decision> + Send + 'a;
}

impl<T: Authorizer + ?Sized> AsyncAuthorizer for T {
    fn authorize<'a>(
        &'a self,
        who: &'a Client,
        request: Request<'a>,
    ) -> impl Future<Output = Decision> + Send + 'a {
        core::future::ready(self.check(who, request))
    }
}

/// The boxed-future form of [`AsyncAuthorizer`], so that different async authorizers can
/// sit in one [`AsyncChain`]. Implemented for every [`AsyncAuthorizer`].
pub trait DynAuthorizer: Send + Sync {
    /// [`AsyncAuthorizer::authorize`], boxed.
    fn authorize_boxed<'a>(
        &'a self,
        who: &'a Client,
        request: Request<'a>,
    ) -> Pin<Box<dyn Future<Output = Decision> + Send + 'a>>;
}

impl<T: AsyncAuthorizer> DynAuthorizer for T {
    fn authorize_boxed<'a>(
        &'a self,
        who: &'a Client,
        request: Request<'a>,
    ) -> Pin<Box<dyn Future<Output = Decision> + Send + 'a>> {
        Box::pin(self.authorize(who, request))
    }
}

/// The rules carried by the client itself ([`Client::rules`]): EMQX rules from the credential
/// record or a JWT claim. [`Decision::NoMatch`] when the client has none or none matches.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientRules;

impl Authorizer for ClientRules {
    fn check(&self, who: &Client, request: Request<'_>) -> Decision {
        match &who.rules {
            Some(rules) => rules.check(who, request),
            None => Decision::NoMatch,
        }
    }
}

impl Authorizer for RuleSet {
    fn check(&self, who: &Client, request: Request<'_>) -> Decision {
        RuleSet::check(self, who, request)
    }
}

/// How a chain ends.
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

/// One member of a chain, asked in turn.
trait Member: Send + Sync {
    fn ask<'a>(
        &'a self,
        who: &'a Client,
        request: Request<'a>,
    ) -> impl Future<Output = Decision> + Send + 'a;
}

impl Member for dyn Authorizer {
    fn ask<'a>(
        &'a self,
        who: &'a Client,
        request: Request<'a>,
    ) -> impl Future<Output = Decision> + Send + 'a {
        core::future::ready(self.check(who, request))
    }
}

impl Member for dyn DynAuthorizer {
    fn ask<'a>(
        &'a self,
        who: &'a Client,
        request: Request<'a>,
    ) -> impl Future<Output = Decision> + Send + 'a {
        self.authorize_boxed(who, request)
    }
}

/// The members and the policy: the one implementation behind both chains.
struct Members<M: ?Sized> {
    list: Vec<Box<M>>,
    policy: Policy,
}

impl<M: ?Sized> Default for Members<M> {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            policy: Policy::default(),
        }
    }
}

impl<M: ?Sized + Member> Members<M> {
    async fn decide(&self, who: &Client, request: Request<'_>) -> Decision {
        if self.policy.superuser_bypass && who.is_superuser {
            return Decision::Allow(Some(Arc::from("superuser")));
        }
        for member in &self.list {
            match member.ask(who, request).await {
                Decision::NoMatch => {}
                decision => return decision,
            }
        }
        self.policy.default.clone()
    }
}

impl<M: ?Sized> core::fmt::Debug for Members<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Chain")
            .field("len", &self.list.len())
            .field("default", &self.policy.default)
            .field("superuser_bypass", &self.policy.superuser_bypass)
            .finish()
    }
}

/// Asks authorizers in order; the first answer other than [`Decision::NoMatch`] wins.
/// When all say `NoMatch` the default applies (deny unless configured otherwise).
/// Superusers are allowed without asking (label `superuser`) unless disabled.
///
/// ```
/// use mqtt_scram_authz::{AclRule, Action, Chain, Client, ClientRules, Permission, Request};
/// let rule = AclRule::new(Permission::Allow, Action::Publish, ["devices/${clientid}/#"]);
/// let client = Client::new("alice", "dev-1").with_rules(&[rule])?;
/// let chain = Chain::new().with(ClientRules);
/// assert!(chain.check(&client, Request::publish("devices/dev-1/temp", 0, false)).is_allowed());
/// assert!(!chain.check(&client, Request::publish("devices/dev-2/temp", 0, false)).is_allowed());
/// # Ok::<(), mqtt_scram_authz::RuleError>(())
/// ```
#[derive(Debug, Default)]
pub struct Chain {
    members: Members<dyn Authorizer>,
}

impl Chain {
    /// An empty chain that denies everything except superusers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an authorizer.
    pub fn with(mut self, authorizer: impl Authorizer + 'static) -> Self {
        self.members.list.push(Box::new(authorizer));
        self
    }

    /// The decision when every authorizer says `NoMatch` (default: deny). `NoMatch` here
    /// lets the chain itself sit inside another chain.
    pub fn default_decision(mut self, decision: Decision) -> Self {
        self.members.policy.default = decision;
        self
    }

    /// Whether superusers skip all checks (default: yes).
    pub fn superuser_bypass(mut self, yes: bool) -> Self {
        self.members.policy.superuser_bypass = yes;
        self
    }

    /// Asks the authorizers in order (see [`Authorizer::check`]); never
    /// [`Decision::NoMatch`] unless that is the configured default.
    pub fn check(&self, who: &Client, request: Request<'_>) -> Decision {
        // Every member answers at once, so the shared async implementation is ready on
        // its first poll.
        let mut future = core::pin::pin!(self.members.decide(who, request));
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(decision) => decision,
            Poll::Pending => Decision::Deny(None),
        }
    }
}

impl Authorizer for Chain {
    fn check(&self, who: &Client, request: Request<'_>) -> Decision {
        Chain::check(self, who, request)
    }
}

/// A [`Chain`] whose members may be asynchronous (HTTP); same rules, asked in order.
///
/// ```
/// use mqtt_scram_authz::{AsyncChain, Chain, Client, ClientRules, Request};
/// let chain = AsyncChain::new().with(ClientRules).with(Chain::new().default_decision(
///     mqtt_scram_authz::Decision::NoMatch));
/// let who = Client::new("alice", "c1").superuser(true);
/// let decision = futures_lite_block_on(chain.authorize(&who, Request::subscribe("#", 0)));
/// assert_eq!(decision.label(), Some("superuser"));
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
/// #         std::task::Poll::Ready(v) => v, std::task::Poll::Pending => unreachable!() } }
/// ```
#[derive(Debug, Default)]
pub struct AsyncChain {
    members: Members<dyn DynAuthorizer>,
}

impl AsyncChain {
    /// An empty chain that denies everything except superusers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an authorizer (sync or async).
    pub fn with(mut self, authorizer: impl AsyncAuthorizer + 'static) -> Self {
        self.members.list.push(Box::new(authorizer));
        self
    }

    /// See [`Chain::default_decision`].
    pub fn default_decision(mut self, decision: Decision) -> Self {
        self.members.policy.default = decision;
        self
    }

    /// See [`Chain::superuser_bypass`].
    pub fn superuser_bypass(mut self, yes: bool) -> Self {
        self.members.policy.superuser_bypass = yes;
        self
    }

    /// Asks the authorizers in order (see [`AsyncAuthorizer::authorize`]).
    pub async fn authorize(&self, who: &Client, request: Request<'_>) -> Decision {
        self.members.decide(who, request).await
    }
}

impl AsyncAuthorizer for AsyncChain {
    fn authorize<'a>(
        &'a self,
        who: &'a Client,
        request: Request<'a>,
    ) -> impl Future<Output = Decision> + Send + 'a {
        self.members.decide(who, request)
    }
}
