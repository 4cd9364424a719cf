//! `Cached` and `Chain` over `MemoryProvider`, driven by a `ManualClock`: no `http`
//! feature, no runtime, no sleeps. Futures are polled by hand with a no-op waker.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mqtt_scram::provider::{
    Cached, Chain, CredentialProvider, IgnoreKind, IgnoreReason, Lookup, LookupRequest,
    MemoryProvider, OnNotFound, SyncCredentialProvider, UserRecord,
};
use mqtt_scram::{Clock, ConnectionInfo, HashAlgorithm, ManualClock, Mechanism, StoredCredentials};

const T0: u64 = 1_700_000_000;

fn record(expire_at: Option<u64>) -> UserRecord {
    let creds = StoredCredentials::derive(HashAlgorithm::Sha256, "pencil", b"NaCl-NaCl", 4096)
        .expect("derive");
    UserRecord::new(creds).expire_at(expire_at)
}

/// Polls a future to completion with a no-op waker (every future here is ready, or
/// becomes ready when the test opens a gate between polls).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("future never completed");
}

fn lookup<P: CredentialProvider>(provider: &P, username: &str) -> Lookup {
    let conn = ConnectionInfo::new("client-1");
    let request = LookupRequest::new(Mechanism::ScramSha256, username, &conn);
    ready(provider.lookup(&request))
}

/// A `MemoryProvider` that counts the lookups it answers.
#[derive(Default)]
struct Counting {
    store: MemoryProvider,
    calls: AtomicUsize,
}

impl Counting {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl SyncCredentialProvider for Counting {
    fn lookup_sync(&self, request: &LookupRequest<'_>) -> Lookup {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.store.lookup_sync(request)
    }
}

/// A shared counting store, so a test keeps a handle while a cache owns the provider.
fn counting() -> Arc<Counting> {
    Arc::new(Counting::default())
}

fn cached(
    upstream: &Arc<Counting>,
    clock: &Arc<ManualClock>,
) -> Cached<Arc<Counting>, Arc<ManualClock>> {
    Cached::new(Arc::clone(upstream)).clock(Arc::clone(clock))
}

#[test]
fn found_records_live_for_the_ttl() {
    let clock = Arc::new(ManualClock::new(T0));
    let upstream = counting();
    upstream.store.insert("alice", record(None));
    let cache = cached(&upstream, &clock).ttl(Duration::from_secs(30));
    assert!(matches!(lookup(&cache, "alice"), Lookup::Found(_)));
    assert!(matches!(lookup(&cache, "alice"), Lookup::Found(_)));
    assert_eq!(upstream.calls(), 1, "the second lookup is a hit");
    clock.advance(Duration::from_secs(29));
    lookup(&cache, "alice");
    assert_eq!(upstream.calls(), 1, "still within the TTL");
    clock.advance(Duration::from_secs(1));
    lookup(&cache, "alice");
    assert_eq!(upstream.calls(), 2, "expired at exactly the TTL");
    // A changed record is seen once the entry expires.
    upstream.store.remove("alice");
    clock.advance(Duration::from_secs(30));
    assert_eq!(lookup(&cache, "alice"), Lookup::NotFound);
}

#[test]
fn not_found_lives_for_the_negative_ttl_and_zero_disables_it() {
    let clock = Arc::new(ManualClock::new(T0));
    let upstream = counting();
    let cache = cached(&upstream, &clock).negative_ttl(Duration::from_secs(5));
    assert_eq!(lookup(&cache, "ghost"), Lookup::NotFound);
    upstream.store.insert("ghost", record(None));
    assert_eq!(lookup(&cache, "ghost"), Lookup::NotFound, "cached NotFound");
    assert_eq!(upstream.calls(), 1);
    clock.advance(Duration::from_secs(5));
    assert!(matches!(lookup(&cache, "ghost"), Lookup::Found(_)));
    assert_eq!(upstream.calls(), 2);

    let none = cached(&upstream, &clock).negative_ttl(Duration::ZERO);
    lookup(&none, "nobody");
    lookup(&none, "nobody");
    assert_eq!(upstream.calls(), 4, "a zero negative TTL caches nothing");
}

#[test]
fn not_found_is_kept_as_long_as_a_record_by_default() {
    // Issue 20 §5: both answers live equally long, so a repeated lookup is served from the
    // cache (or not) whether the user exists or not.
    let clock = Arc::new(ManualClock::new(T0));
    let upstream = counting();
    upstream.store.insert("alice", record(None));
    let cache = cached(&upstream, &clock).ttl(Duration::from_secs(30));
    assert!(matches!(lookup(&cache, "alice"), Lookup::Found(_)));
    assert_eq!(lookup(&cache, "ghost"), Lookup::NotFound);
    assert_eq!(upstream.calls(), 2);
    clock.advance(Duration::from_secs(29));
    assert!(matches!(lookup(&cache, "alice"), Lookup::Found(_)));
    assert_eq!(lookup(&cache, "ghost"), Lookup::NotFound);
    assert_eq!(upstream.calls(), 2, "both still cached after 29 s");
    clock.advance(Duration::from_secs(1));
    lookup(&cache, "alice");
    lookup(&cache, "ghost");
    assert_eq!(upstream.calls(), 4, "both expire at the TTL");
    assert_eq!(
        mqtt_scram::provider::cache::DEFAULT_NEGATIVE_TTL,
        mqtt_scram::provider::cache::DEFAULT_TTL
    );
}

#[test]
fn ignore_is_never_cached() {
    struct Down(AtomicUsize);
    impl SyncCredentialProvider for Down {
        fn lookup_sync(&self, _: &LookupRequest<'_>) -> Lookup {
            self.0.fetch_add(1, Ordering::SeqCst);
            Lookup::Ignore(IgnoreReason::unavailable("database down"))
        }
    }
    let clock = Arc::new(ManualClock::new(T0));
    let cache = Cached::new(Down(AtomicUsize::new(0))).clock(Arc::clone(&clock));
    for _ in 0..3 {
        assert!(matches!(lookup(&cache, "alice"), Lookup::Ignore(_)));
    }
    assert_eq!(cache.inner().0.load(Ordering::SeqCst), 3);
    assert!(cache.is_empty());
}

#[test]
fn a_record_is_never_cached_past_its_expire_at() {
    let clock = Arc::new(ManualClock::new(T0));
    let upstream = counting();
    upstream.store.insert("alice", record(Some(T0 + 10)));
    upstream.store.insert("bob", record(Some(T0)));
    let cache = cached(&upstream, &clock).ttl(Duration::from_secs(60));
    lookup(&cache, "alice");
    clock.advance(Duration::from_secs(9));
    lookup(&cache, "alice");
    assert_eq!(upstream.calls(), 1);
    clock.advance(Duration::from_secs(1));
    lookup(&cache, "alice");
    assert_eq!(
        upstream.calls(),
        2,
        "the entry ended at expire_at, not after the TTL"
    );
    // Already expired: answered (the engine refuses it at `finish`) but never stored.
    assert!(matches!(lookup(&cache, "bob"), Lookup::Found(r) if r.is_expired_at(T0)));
    lookup(&cache, "bob");
    assert_eq!(upstream.calls(), 4);
}

#[test]
fn a_huge_ttl_saturates_instead_of_panicking() {
    // `now + ttl` would overflow `Duration` (and panic) for any clock reading.
    let clock = Arc::new(ManualClock::new(u64::MAX - 5));
    clock.advance(Duration::from_secs(10));
    let upstream = counting();
    upstream.store.insert("alice", record(None));
    let cache = cached(&upstream, &clock)
        .ttl(Duration::MAX)
        .negative_ttl(Duration::MAX);
    assert!(matches!(lookup(&cache, "alice"), Lookup::Found(_)));
    assert_eq!(lookup(&cache, "ghost"), Lookup::NotFound);
    clock.advance(Duration::from_secs(1_000_000));
    lookup(&cache, "alice");
    lookup(&cache, "ghost");
    assert_eq!(upstream.calls(), 2, "both answers kept 'forever'");
}

/// An upstream whose lookups stay pending until the test opens the gate.
struct Gate {
    calls: AtomicUsize,
    open: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
    record: Arc<UserRecord>,
}

impl Gate {
    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        for waker in self.wakers.lock().unwrap().drain(..) {
            waker.wake();
        }
    }
}

impl CredentialProvider for Gate {
    fn lookup(&self, _: &LookupRequest<'_>) -> impl Future<Output = Lookup> + Send {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::poll_fn(move |cx| {
            if self.open.load(Ordering::SeqCst) {
                Poll::Ready(Lookup::Found(Arc::clone(&self.record)))
            } else {
                self.wakers.lock().unwrap().push(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

#[test]
fn single_flight_1000_concurrent_lookups_make_one_upstream_call() {
    let gate = Gate {
        calls: AtomicUsize::new(0),
        open: AtomicBool::new(false),
        wakers: Mutex::default(),
        record: Arc::new(record(None)),
    };
    let clock = Arc::new(ManualClock::new(T0));
    let cache = Cached::new(gate).clock(Arc::clone(&clock));
    let conn = ConnectionInfo::new("client-1");
    let request = LookupRequest::new(Mechanism::ScramSha256, "alice", &conn);
    let all = futures_util::future::join_all((0..1000).map(|_| cache.lookup(&request)));
    let mut all = pin!(all);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(all.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        cache.inner().calls.load(Ordering::SeqCst),
        1,
        "one leader, 999 followers"
    );
    cache.inner().open();
    let answers = loop {
        if let Poll::Ready(answers) = all.as_mut().poll(&mut cx) {
            break answers;
        }
    };
    assert_eq!(answers.len(), 1000);
    assert!(answers.iter().all(|a| matches!(a, Lookup::Found(_))));
    assert_eq!(cache.inner().calls.load(Ordering::SeqCst), 1);
    assert!(matches!(ready(cache.lookup(&request)), Lookup::Found(_)));
    assert_eq!(cache.inner().calls.load(Ordering::SeqCst), 1, "then a hit");
}

#[test]
fn a_cancelled_leader_hands_over_to_a_follower() {
    let gate = Gate {
        calls: AtomicUsize::new(0),
        open: AtomicBool::new(false),
        wakers: Mutex::default(),
        record: Arc::new(record(None)),
    };
    let cache = Cached::new(gate).clock(Arc::new(ManualClock::new(T0)));
    let conn = ConnectionInfo::new("client-1");
    let request = LookupRequest::new(Mechanism::ScramSha256, "alice", &conn);
    let mut cx = Context::from_waker(Waker::noop());
    let mut leader = Box::pin(cache.lookup(&request));
    assert!(leader.as_mut().poll(&mut cx).is_pending());
    let mut follower = Box::pin(cache.lookup(&request));
    assert!(follower.as_mut().poll(&mut cx).is_pending());
    drop(leader);
    // The follower becomes the leader and asks upstream itself.
    assert!(follower.as_mut().poll(&mut cx).is_pending());
    assert_eq!(cache.inner().calls.load(Ordering::SeqCst), 2);
    cache.inner().open();
    assert!(matches!(
        follower.as_mut().poll(&mut cx),
        Poll::Ready(Lookup::Found(_))
    ));
}

#[test]
fn capacity_evicts_expired_entries_first_then_others() {
    let clock = Arc::new(ManualClock::new(T0));
    let upstream = counting();
    for i in 0..20 {
        upstream.store.insert(&format!("user{i}"), record(None));
    }
    let cache = cached(&upstream, &clock)
        .capacity(8)
        .ttl(Duration::from_secs(60));
    for i in 0..8 {
        lookup(&cache, &format!("user{i}"));
    }
    assert_eq!(cache.len(), 8);
    clock.advance(Duration::from_secs(61));
    lookup(&cache, "user8");
    assert_eq!(
        cache.len(),
        1,
        "the full cache dropped its expired entries first"
    );
    for i in 9..20 {
        lookup(&cache, &format!("user{i}"));
        assert!(cache.len() <= 8, "never above capacity");
    }
    // Whatever was evicted, answers stay right.
    for i in 0..20 {
        assert!(matches!(
            lookup(&cache, &format!("user{i}")),
            Lookup::Found(_)
        ));
    }
}

#[test]
fn invalidation_forgets_a_user_and_an_in_flight_answer() {
    let clock = Arc::new(ManualClock::new(T0));
    let upstream = counting();
    upstream.store.insert("alice", record(None));
    upstream.store.insert("bob", record(None));
    let cache = cached(&upstream, &clock);
    lookup(&cache, "alice");
    lookup(&cache, "bob");
    cache.invalidate("alice");
    upstream.store.remove("alice");
    assert_eq!(lookup(&cache, "alice"), Lookup::NotFound, "asked again");
    lookup(&cache, "bob");
    assert_eq!(upstream.calls(), 3, "bob is still cached");
    cache.clear();
    assert!(cache.is_empty());

    // A lookup in flight when the user is invalidated answers its caller but is not kept.
    let gate = Gate {
        calls: AtomicUsize::new(0),
        open: AtomicBool::new(false),
        wakers: Mutex::default(),
        record: Arc::new(record(None)),
    };
    let cache = Cached::new(gate).clock(Arc::clone(&clock));
    let conn = ConnectionInfo::new("c");
    let request = LookupRequest::new(Mechanism::ScramSha256, "carol", &conn);
    let mut cx = Context::from_waker(Waker::noop());
    let mut flight = Box::pin(cache.lookup(&request));
    assert!(flight.as_mut().poll(&mut cx).is_pending());
    cache.invalidate("carol");
    cache.inner().open();
    assert!(matches!(
        flight.as_mut().poll(&mut cx),
        Poll::Ready(Lookup::Found(_))
    ));
    assert!(cache.is_empty(), "the stale answer was not stored");
}

#[test]
fn chain_order_not_found_policy_and_ignored_providers() {
    struct Down;
    impl SyncCredentialProvider for Down {
        fn lookup_sync(&self, _: &LookupRequest<'_>) -> Lookup {
            Lookup::Ignore(IgnoreReason::new(IgnoreKind::Timeout, "no answer"))
        }
    }
    let first = MemoryProvider::new();
    let second = MemoryProvider::new();
    second.insert("alice", record(None));
    let stop = Chain::new().push(first).push(second);
    assert_eq!(
        lookup(&stop, "alice"),
        Lookup::NotFound,
        "NotFound stops by default"
    );

    let first = MemoryProvider::new();
    let second = MemoryProvider::new();
    second.insert("alice", record(None));
    let go_on = Chain::new()
        .push(Down)
        .push(first)
        .push(second)
        .on_not_found(OnNotFound::Continue);
    assert!(matches!(lookup(&go_on, "alice"), Lookup::Found(_)));
    assert_eq!(lookup(&go_on, "bob"), Lookup::NotFound);

    let all_down = Chain::new().push(Down).push(Down);
    match lookup(&all_down, "alice") {
        Lookup::Ignore(reason) => {
            assert_eq!(reason.kind(), IgnoreKind::Timeout);
            assert!(reason.detail().contains("every provider ignored"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(lookup(&Chain::new(), "alice"), Lookup::NotFound);
}

#[test]
fn chain_stops_at_an_expired_record() {
    let clock = ManualClock::new(T0);
    let first = MemoryProvider::new();
    first.insert("alice", record(Some(T0 - 1)));
    let second = counting();
    second.store.insert("alice", record(None));
    let chain = Chain::new()
        .push(first)
        .push(Arc::clone(&second))
        .on_not_found(OnNotFound::Continue);
    match lookup(&chain, "alice") {
        Lookup::Found(r) => assert!(r.is_expired_at(clock.now().unix_seconds())),
        other => panic!("{other:?}"),
    }
    assert_eq!(second.calls(), 0, "an expired record is a final answer");
}
