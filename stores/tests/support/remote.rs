//! Shared by the PostgreSQL and Redis provider tests (and benches): users to store, a full
//! SCRAM exchange (crate client ↔ engine) whose credentials come from a provider, and the
//! checks every remote store goes through (attributes, outages, single flight).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mqtt_scram::provider::{CredentialProvider, IgnoreKind, Lookup, LookupRequest, UserRecord};
use mqtt_scram::server::NeedCredentials;
use mqtt_scram::{
    ConnectionInfo, HashAlgorithm, Mechanism, Outcome, ReasonCode, RecordPolicy, ScramServer,
    ServerConfig, StartPacket, StoredCredentials, Timestamp,
};
use mqtt_scram_authz::{AclRule, RuleSet};
use mqtt_scram_stores::record::with_acl_rules;
use rand::SeedableRng;

/// Iteration count of most test users (a permissive policy accepts it; debug builds stay fast).
pub const LOW_ITERATIONS: u32 = 16;

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `n` users `user-<i>` with password `pw-<i>` and random 16-byte salts.
pub fn users(n: usize, hash: HashAlgorithm, iterations: u32) -> Vec<(String, String, UserRecord)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64 ^ u64::from(iterations));
    (0..n)
        .map(|i| {
            let username = format!("user-{i}");
            let password = format!("pw-{i}");
            let credentials =
                StoredCredentials::generate(hash, &password, iterations, &mut rng).unwrap();
            (username, password, UserRecord::new(credentials))
        })
        .collect()
}

/// The `(username, record)` pairs a writer stores.
pub fn stored(users: &[(String, String, UserRecord)]) -> Vec<(String, UserRecord)> {
    users
        .iter()
        .map(|(u, _, r)| (u.clone(), r.clone()))
        .collect()
}

pub fn connection() -> Arc<ConnectionInfo> {
    Arc::new(
        ConnectionInfo::new("client-7")
            .with_peer("127.0.0.1:40000".parse().unwrap())
            .with_cert_common_name("device-7"),
    )
}

pub async fn lookup<P: CredentialProvider>(
    provider: &P,
    username: &str,
    mechanism: Mechanism,
) -> Lookup {
    let connection = connection();
    provider
        .lookup(&LookupRequest::new(mechanism, username, &connection))
        .await
}

/// The Ignore's kind and detail, or a panic naming what came instead.
pub fn ignored(lookup: &Lookup) -> (IgnoreKind, String) {
    match lookup {
        Lookup::Ignore(reason) => (reason.kind(), reason.detail().to_owned()),
        other => panic!("expected Ignore, got {other:?}"),
    }
}

/// A server that accepts any iteration count from 1 (test users use few).
pub fn permissive_server() -> ScramServer {
    ScramServer::new(
        ServerConfig::new([9; 32]).record_policy(RecordPolicy::new(1..=1_000_000, 8..=64)),
    )
    .unwrap()
}

/// Client and engine run a whole exchange for `username`/`password` with `mechanism`; the
/// credentials come from `provider`. Returns the outcome.
pub async fn authenticate<P: CredentialProvider>(
    server: &ScramServer,
    provider: &P,
    mechanism: Mechanism,
    username: &str,
    password: &str,
) -> Outcome {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let connection = connection();
    let client_config = mqtt_scram::client::ClientConfig::new().iteration_window(1..=1_000_000);
    let (client, client_first) =
        mqtt_scram::client::start(&client_config, mechanism, username, password, &mut rng).unwrap();
    let start = StartPacket::Connect {
        method: mechanism.name(),
        data: Some(&client_first),
    };
    let now = now_unix();
    let need: NeedCredentials = server
        .start(&connection, start, Timestamp::new(Duration::ZERO, now))
        .unwrap();
    let lookup = provider.lookup(&need.request()).await;
    let (challenge, reply) = need.continue_with(lookup, &mut rng);
    assert_eq!(reply.reason_code, ReasonCode::ContinueAuthentication);
    let Ok((client, client_final)) = client.on_server_first(reply.data.as_deref().unwrap()) else {
        // A mock challenge may carry an iteration count the client refuses; finish anyway.
        return challenge.finish(
            0x18,
            mechanism.name(),
            Some(b"c=biws,r=x,p=eA=="),
            Timestamp::new(Duration::from_secs(1), now),
        );
    };
    let outcome = challenge.finish(
        0x18,
        mechanism.name(),
        Some(&client_final),
        Timestamp::new(Duration::from_secs(1), now),
    );
    if let Outcome::Accepted { reply, .. } = &outcome {
        client
            .on_server_final(reply.data.as_deref().unwrap())
            .unwrap();
    }
    outcome
}

/// Asserts that `outcome` accepted `username`.
pub fn accepted(outcome: &Outcome, username: &str) -> mqtt_scram::Identity {
    match outcome {
        Outcome::Accepted { identity, .. } => {
            assert_eq!(identity.username, username);
            identity.clone()
        }
        Outcome::Rejected(r) => panic!("{username} rejected: {:?}", r.error),
    }
}

/// Asserts that `outcome` rejected with 0x87 and returns the operator-side error text.
pub fn rejected(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Rejected(r) => {
            assert_eq!(r.reply.reason_code, ReasonCode::NotAuthorized);
            format!("{:?}", r.error)
        }
        Outcome::Accepted { identity, .. } => panic!("{} accepted", identity.username),
    }
}

/// Every user of `set` logs in with `mechanism` and their password; the first one is
/// rejected with a wrong password.
pub async fn all_accepted_and_a_wrong_password_rejected<P: CredentialProvider>(
    server: &ScramServer,
    provider: &P,
    mechanism: Mechanism,
    set: &[(String, String, UserRecord)],
) {
    for (username, password, _) in set {
        accepted(
            &authenticate(server, provider, mechanism, username, password).await,
            username,
        );
    }
    rejected(&authenticate(server, provider, mechanism, &set[0].0, "wrong").await);
}

/// What a record carries besides its credentials: set on a record with [`Self::on`],
/// expected on the identity with [`Self::assert_carried_by`].
pub struct Attributes<'a> {
    /// One client attribute (name, value).
    pub client_attr: (&'a str, &'a str),
    /// `expire_at` (Unix seconds).
    pub expire_at: u64,
    /// ACL rules.
    pub rules: &'a [AclRule],
}

impl Attributes<'_> {
    /// `record` as a superuser with these attributes.
    pub fn on(&self, record: UserRecord) -> UserRecord {
        let (name, value) = self.client_attr;
        let record = record
            .superuser(true)
            .client_attrs([(name.to_string(), value.to_string())].into())
            .expire_at(Some(self.expire_at));
        with_acl_rules(record, self.rules).unwrap()
    }

    /// The identity of a user whose record had these attributes.
    pub fn assert_carried_by(&self, identity: &mqtt_scram::Identity) {
        let (name, value) = self.client_attr;
        assert!(identity.is_superuser());
        assert_eq!(identity.client_attrs()[name], value);
        assert_eq!(identity.expire_at(), Some(self.expire_at));
        let compiled = identity.authz().unwrap().downcast_ref::<RuleSet>().unwrap();
        assert_eq!(compiled.rules(), self.rules);
    }
}

/// An expired record is found (a final "no", with its expiry) and the engine refuses it as
/// expired.
pub async fn expired_is_found_and_refused<P: CredentialProvider>(
    server: &ScramServer,
    provider: &P,
    (username, password): (&str, &str),
) {
    assert!(matches!(
        lookup(provider, username, Mechanism::ScramSha256).await,
        Lookup::Found(r) if r.attributes.expire_at.is_some()
    ));
    let error =
        rejected(&authenticate(server, provider, Mechanism::ScramSha256, username, password).await);
    assert!(error.contains("Expired"), "{error}");
}

/// A lookup while the store is down: ignored as unavailable or timed out, within `bound`.
/// Returns the detail.
pub async fn ignored_within<P: CredentialProvider>(
    provider: &P,
    username: &str,
    mechanism: Mechanism,
    bound: Duration,
) -> String {
    let started = Instant::now();
    let (kind, detail) = ignored(&lookup(provider, username, mechanism).await);
    assert!(
        matches!(kind, IgnoreKind::Unavailable | IgnoreKind::Timeout),
        "{kind:?} {detail}"
    );
    assert!(started.elapsed() < bound, "{:?}", started.elapsed());
    detail
}

/// Whether `username` is found again within `attempts` tries, `pause` apart.
pub async fn found_again<P: CredentialProvider>(
    provider: &P,
    username: &str,
    mechanism: Mechanism,
    attempts: u32,
    pause: Duration,
) -> bool {
    for _ in 0..attempts {
        if matches!(
            lookup(provider, username, mechanism).await,
            Lookup::Found(_)
        ) {
            return true;
        }
        tokio::time::sleep(pause).await;
    }
    false
}

/// `tasks` lookups of `user-0` at once, each its own task; every one finds the user.
pub async fn found_by_concurrent_lookups<P: CredentialProvider + 'static>(
    provider: Arc<P>,
    tasks: usize,
) {
    let tasks: Vec<_> = (0..tasks)
        .map(|_| {
            let p = Arc::clone(&provider);
            tokio::spawn(async move { lookup(&*p, "user-0", Mechanism::ScramSha256).await })
        })
        .collect();
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Lookup::Found(_)));
    }
}
