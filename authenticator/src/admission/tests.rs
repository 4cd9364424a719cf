#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::*;

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn gate(f: impl FnOnce(&mut AdmissionPolicy)) -> Arc<Admission> {
    let mut policy = AdmissionPolicy::default();
    f(&mut policy);
    Arc::new(Admission::new(policy).unwrap())
}

struct CountingWaker(AtomicUsize);
impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll(fut: &mut WaitForWork, waker: &Waker) -> Option<WorkPermit> {
    match Pin::new(fut).poll(&mut Context::from_waker(waker)) {
        Poll::Ready(permit) => Some(permit),
        Poll::Pending => None,
    }
}

#[test]
fn total_and_per_address_caps_and_release_on_drop() {
    let admission = gate(|p| {
        p.max_handshakes = 3;
        p.max_handshakes_per_address = 2;
    });
    let a1 = admission.begin(ip("10.0.0.1")).unwrap();
    let a2 = admission.begin(ip("10.0.0.1")).unwrap();
    assert_eq!(
        admission.begin(ip("10.0.0.1")).unwrap_err(),
        Refusal::PerAddress
    );
    let b1 = admission.begin(ip("10.0.0.2")).unwrap();
    assert_eq!(
        admission.begin(ip("10.0.0.3")).unwrap_err(),
        Refusal::Capacity
    );
    let stats = admission.stats();
    assert_eq!((stats.handshakes, stats.addresses), (3, 2));
    drop((a1, a2, b1));
    let stats = admission.stats();
    assert_eq!(
        (stats.handshakes, stats.addresses, stats.handshakes_peak),
        (0, 0, 3)
    );
    // Zero means no per-address cap.
    let open = gate(|p| p.max_handshakes_per_address = 0);
    let tickets: Vec<_> = (0..500)
        .map(|_| open.begin(ip("10.0.0.1")).unwrap())
        .collect();
    assert_eq!(open.stats().handshakes, 500);
    drop(tickets);
}

#[test]
fn ipv6_peers_share_their_prefix() {
    let admission = gate(|p| p.max_handshakes_per_address = 1);
    let _a = admission.begin(ip("2001:db8:1:2::1")).unwrap();
    assert_eq!(
        admission.begin(ip("2001:db8:1:2::ffff")).unwrap_err(),
        Refusal::PerAddress
    );
    let _b = admission.begin(ip("2001:db8:1:3::1")).unwrap();
}

/// Issue 21 §1: connections without a peer address cannot be told apart, so one shared
/// per-address bucket would cap the whole broker; they are exempt (the global cap still holds)
/// and the caller is told once.
#[test]
fn unaddressed_connections_are_not_capped_per_address() {
    let admission = gate(|p| {
        p.max_handshakes_per_address = 2;
        p.max_handshakes = 100;
    });
    assert!(!admission.take_unaddressed_warning());
    let tickets: Vec<_> = (0..100).map(|_| admission.begin(None).unwrap()).collect();
    assert_eq!(admission.begin(None).unwrap_err(), Refusal::Capacity);
    assert!(admission.take_unaddressed_warning());
    assert!(!admission.take_unaddressed_warning());
    drop(tickets);
    // Addressed peers keep their cap.
    let _a = admission.begin(ip("10.0.0.1")).unwrap();
    let _b = admission.begin(ip("10.0.0.1")).unwrap();
    assert_eq!(
        admission.begin(ip("10.0.0.1")).unwrap_err(),
        Refusal::PerAddress
    );
}

/// One address with many queued steps cannot starve another: slots are granted round
/// robin over addresses, FIFO within one.
#[test]
fn work_queue_is_round_robin_over_addresses() {
    let admission = gate(|p| p.max_concurrent_work = 1);
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counter));
    let held = admission.try_work().unwrap();
    assert!(admission.try_work().is_none(), "no free slot");
    let mut flood: Vec<WaitForWork> = (0..100).map(|_| admission.work(ip("10.0.0.1"))).collect();
    for f in &mut flood {
        assert!(poll(f, &waker).is_none());
    }
    let mut legit = admission.work(ip("10.0.0.2"));
    assert!(poll(&mut legit, &waker).is_none());
    assert_eq!(admission.stats().work_queued, 101);
    // The slot goes to the flood's first step, then to the other address, not to the
    // flood's 99 others.
    drop(held);
    let first = poll(&mut flood[0], &waker).expect("flood head granted");
    assert!(poll(&mut legit, &waker).is_none());
    drop(first);
    let permit = poll(&mut legit, &waker).expect("the other address is served second");
    assert!(
        counter.0.load(Ordering::SeqCst) >= 2,
        "granted steps are woken"
    );
    assert_eq!(admission.stats().work_in_progress, 1);
    drop(permit);
    let second = poll(&mut flood[1], &waker).expect("then the flood again");
    drop(second);
    // Giving up leaves the queue; a granted but untaken slot is passed on.
    drop(flood.remove(2)); // queued, withdrawn
    // flood[2] (originally the 4th) is now at the head: granted on the next release.
    let held = admission.try_work();
    assert!(held.is_none(), "queued steps go first");
    let stats = admission.stats();
    assert_eq!(
        stats.work_in_progress, 1,
        "the slot was handed to the next step"
    );
    drop(flood); // includes the granted, untaken one: passes the slot on, then frees it
    let stats = admission.stats();
    assert_eq!((stats.work_in_progress, stats.work_queued), (0, 0));
    assert!(admission.try_work().is_some());
}

#[test]
fn policy_validation_names_the_setting() {
    for (change, name) in [
        (
            (|p: &mut AdmissionPolicy| p.max_handshakes = 0) as fn(&mut AdmissionPolicy),
            "max_handshakes",
        ),
        (|p| p.max_concurrent_work = 0, "max_concurrent_work"),
        (
            |p| p.first_step_timeout = Duration::ZERO,
            "first_step_timeout",
        ),
        (|p| p.ipv6_prefix_len = 129, "ipv6_prefix_len"),
        (|p| p.notice_interval = Duration::ZERO, "notice_interval"),
    ] {
        let mut policy = AdmissionPolicy::default();
        change(&mut policy);
        let error = Admission::new(policy).unwrap_err();
        assert!(error.starts_with(name), "{error}");
    }
}

#[test]
fn notices_are_aggregated_per_interval() {
    let admission = gate(|p| p.notice_interval = Duration::from_secs(10));
    let t = Duration::from_secs;
    let first = admission
        .notice(Notice::Stalled, ip("10.0.0.1"), t(5))
        .unwrap();
    assert_eq!(first.total(), 1);
    let mut logged = 0;
    for i in 0..3_000u64 {
        let peer = if i % 3 == 0 {
            ip("10.0.0.9")
        } else {
            ip("10.0.0.1")
        };
        let refusal = Notice::Refused(Refusal::PerAddress);
        if admission
            .notice(refusal, peer, t(6) + Duration::from_millis(i))
            .is_some()
        {
            logged += 1;
        }
    }
    assert_eq!(logged, 0, "nothing logged within the interval");
    assert!(admission.flush_notices(t(14)).is_none());
    let summary = admission.flush_notices(t(15)).unwrap();
    assert_eq!(summary.total(), 3_000);
    assert_eq!(summary.addresses, 2);
    assert_eq!(summary.top[0].0.to_string(), "10.0.0.1");
    assert_eq!(summary.top[0].1, 2_000);
    assert!(admission.flush_notices(t(100)).is_none(), "nothing pending");
}

#[cfg(feature = "serde")]
#[test]
fn policy_from_json_with_durations_and_unknown_keys_refused() {
    let policy: AdmissionPolicy = serde_json::from_str(
        r#"{"max_handshakes_per_address": 8, "first_step_timeout": "2s", "max_work_wait": 0.5}"#,
    )
    .unwrap();
    assert_eq!(policy.max_handshakes_per_address, 8);
    assert_eq!(policy.first_step_timeout, Duration::from_secs(2));
    assert_eq!(policy.max_work_wait, Duration::from_millis(500));
    assert_eq!(policy.max_handshakes, 100_000, "defaults fill the rest");
    let error = serde_json::from_str::<AdmissionPolicy>(r#"{"max_handshake": 1}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("max_handshake"), "{error}");
    let error = serde_json::from_str::<AdmissionPolicy>(r#"{"first_step_timeout": "10 parsecs"}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("parsecs"), "{error}");
}

#[test]
fn a_ticket_is_small_and_keys_order_as_addresses() {
    // Every waiting handshake holds one (issue 22 §2).
    assert!(std::mem::size_of::<HandshakeTicket>() <= 32);
    let key = |a: &str| AddressKey::new(Some(a.parse().unwrap()), 64);
    assert!(key("2001:db8::1") < key("2001:db9::1"));
    assert_eq!(key("2001:db8::1"), key("2001:db8::2"));
    assert_eq!(key("2001:db8:0:1::1").to_string(), "2001:db8:0:1::/64");
    let host = AddressKey::new(Some("2001:db8::7".parse().unwrap()), 128);
    assert_eq!(host.to_string(), "2001:db8::7");
}
