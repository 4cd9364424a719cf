//! What a provider returns for a user: stored credentials plus the attributes the broker
//! needs after authentication.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use core::any::Any;
use core::fmt;

use crate::credentials::StoredCredentials;

/// A user's record as a provider returns it, shared (`Arc`) so that a store hit costs no
/// copy of the keys: [`Lookup::Found`](super::Lookup::Found) carries an `Arc<UserRecord>`.
///
/// ```
/// use std::collections::BTreeMap;
/// use mqtt_scram::{HashAlgorithm, StoredCredentials, provider::UserRecord};
/// let credentials = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl", 4096)?;
/// let record = UserRecord::new(credentials)
///     .superuser(true)
///     .expire_at(Some(4_102_444_800))
///     .client_attrs(BTreeMap::from([("site".into(), "lab".into())]));
/// assert!(record.attributes.is_superuser);
/// # Ok::<(), mqtt_scram::credentials::CredentialsError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserRecord {
    /// Stored credentials for one hash (they serve the mechanism and its `-PLUS` variant).
    pub credentials: StoredCredentials,
    /// What the broker learns about the user on success, shared with the
    /// [`Identity`](crate::Identity) without a copy.
    pub attributes: Arc<UserAttributes>,
}

impl UserRecord {
    /// A record with only credentials (no superuser flag, no attributes, no expiry).
    pub fn new(credentials: StoredCredentials) -> Self {
        Self {
            credentials,
            attributes: Arc::new(UserAttributes::default()),
        }
    }

    /// Replaces all attributes at once.
    pub fn with_attributes(mut self, attributes: UserAttributes) -> Self {
        self.attributes = Arc::new(attributes);
        self
    }

    /// Sets the superuser flag.
    pub fn superuser(mut self, is_superuser: bool) -> Self {
        Arc::make_mut(&mut self.attributes).is_superuser = is_superuser;
        self
    }

    /// Sets the client attributes.
    pub fn client_attrs(mut self, attrs: BTreeMap<String, String>) -> Self {
        Arc::make_mut(&mut self.attributes).client_attrs = attrs;
        self
    }

    /// Sets when the credentials stop being valid (Unix seconds; `None` = never).
    pub fn expire_at(mut self, expire_at: Option<u64>) -> Self {
        Arc::make_mut(&mut self.attributes).expire_at = expire_at;
        self
    }

    /// Attaches authorization data for the broker's authorizer (see [`AuthzData`]).
    pub fn authz(mut self, authz: Option<AuthzData>) -> Self {
        Arc::make_mut(&mut self.attributes).authz = authz;
        self
    }

    /// Whether the credentials have expired at `unix_seconds` (expiry is inclusive: a record
    /// with `expire_at == now` is expired, as in EMQX).
    pub fn is_expired_at(&self, unix_seconds: u64) -> bool {
        self.attributes.is_expired_at(unix_seconds)
    }
}

/// What a provider says about a user besides the credentials. The engine reads only
/// `expire_at` (an expired record is refused) and passes the rest to the broker in the
/// [`Identity`](crate::Identity).
///
/// ```
/// use mqtt_scram::provider::UserAttributes;
/// let mut attributes = UserAttributes::new();
/// attributes.expire_at = Some(1_700_000_000);
/// assert!(attributes.is_expired_at(1_700_000_000));   // inclusive
/// assert!(!attributes.is_expired_at(1_699_999_999));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserAttributes {
    /// Superuser flag (authorizers let superusers do everything).
    pub is_superuser: bool,
    /// Client attributes (EMQX `client_attrs`), e.g. for `${client_attrs.NAME}` placeholders.
    pub client_attrs: BTreeMap<String, String>,
    /// When the credentials stop being valid, in Unix seconds. The engine refuses an
    /// exchange that finishes at or after it; the broker should end a session then.
    pub expire_at: Option<u64>,
    /// Authorization data only the broker's authorizer understands (e.g. EMQX ACL rules
    /// compiled by `mqtt-scram-authz`); the engine never looks inside.
    pub authz: Option<AuthzData>,
}

impl UserAttributes {
    /// Attributes with every field at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the credentials have expired at `unix_seconds` (inclusive).
    pub fn is_expired_at(&self, unix_seconds: u64) -> bool {
        self.expire_at.is_some_and(|at| at <= unix_seconds)
    }
}

/// Opaque authorization data a provider attaches to a record and an authorizer reads back
/// by type. The engine passes it through without knowing its syntax, so it depends on no
/// ACL format; two records compare equal only if they share the same data.
///
/// ```
/// use mqtt_scram::provider::AuthzData;
/// #[derive(Debug, PartialEq)]
/// struct Rules(Vec<String>);
/// let data = AuthzData::new(Rules(vec!["allow all".into()]));
/// assert_eq!(data.downcast_ref::<Rules>(), Some(&Rules(vec!["allow all".into()])));
/// assert!(data.downcast_ref::<String>().is_none());
/// ```
#[derive(Clone)]
pub struct AuthzData(Arc<dyn Any + Send + Sync>);

impl AuthzData {
    /// Wraps any value.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Self(Arc::new(value))
    }

    /// Wraps an already shared value without copying it.
    pub fn from_arc<T: Any + Send + Sync>(value: Arc<T>) -> Self {
        Self(value)
    }

    /// The data, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        (*self.0).downcast_ref::<T>()
    }

    /// The data as a shared `T`, if it is one.
    pub fn downcast_arc<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        Arc::clone(&self.0).downcast::<T>().ok()
    }
}

impl fmt::Debug for AuthzData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthzData(<opaque>)")
    }
}

impl PartialEq for AuthzData {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for AuthzData {}
