//! The admission policy (issue "hardening" §2): a synchronous, runtime-free gate in front of
//! the engine that bounds what is scarce, so that clients that connect and go silent cannot
//! lock anyone else out.
//!
//! - **Handshakes in progress** are a memory bound ([`AdmissionPolicy::max_handshakes`],
//!   100,000 by default) with a **per-address cap**
//!   ([`AdmissionPolicy::max_handshakes_per_address`]): [`Admission::begin`] returns a
//!   [`HandshakeTicket`] that holds the place until it drops.
//! - **Work** (credential lookups and proof checks) is a CPU bound
//!   ([`AdmissionPolicy::max_concurrent_work`]) served by a **fair queue**: waiting steps are
//!   granted round robin over addresses, so one address with thousands of queued steps gets
//!   one slot per turn like any other. [`Admission::work`] is a future that needs no runtime
//!   (it uses only [`Waker`](std::task::Waker)s); [`Admission::try_work`] is the
//!   non-blocking form for synchronous callers such as broker plugins.
//! - **A shorter deadline for the first step** than for the whole exchange:
//!   [`AdmissionPolicy::first_step_deadline`].
//! - **Aggregated logging**: [`Admission::notice`] counts refusals and stalled handshakes
//!   and returns one [`NoticeSummary`] per interval to log, instead of a line each.
//!
//! ```
//! use std::net::IpAddr;
//! use std::sync::Arc;
//! use mqtt_scram_authenticator::admission::{Admission, AdmissionPolicy, Refusal};
//! let mut policy = AdmissionPolicy::default();
//! policy.max_handshakes_per_address = 2;
//! let admission = Arc::new(Admission::new(policy)?);
//! let flooder: IpAddr = "192.0.2.1".parse()?;
//! let first = admission.begin(Some(flooder))?;
//! let _second = admission.begin(Some(flooder))?;
//! assert_eq!(admission.begin(Some(flooder)).unwrap_err(), Refusal::PerAddress);
//! // Another address is not affected.
//! let _other = admission.begin(Some("192.0.2.2".parse()?))?;
//! drop(first); // the place is free again
//! let _third = admission.begin(Some(flooder))?;
//! // Work slots: a synchronous caller takes one if it is free, and releases it on drop.
//! let permit = admission.try_work().expect("a free slot");
//! drop(permit);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod address;
mod notices;
mod policy;
mod queue;

pub use address::AddressKey;
pub use notices::{Notice, NoticeSummary};
pub use policy::AdmissionPolicy;
pub use queue::{WaitForWork, WorkPermit};

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use self::notices::NoticeLog;
use self::queue::WorkQueue;

/// Why [`Admission::begin`] refused a handshake. The client gets 0x89 Server busy
/// (CONNACK, or DISCONNECT during a re-authentication).
///
/// ```
/// use mqtt_scram_authenticator::admission::Refusal;
/// assert_eq!(Refusal::PerAddress.reason_code(), 0x89);
/// assert_eq!(Refusal::PerAddress.label(), "per_address");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Refusal {
    /// [`AdmissionPolicy::max_handshakes`] handshakes are in progress.
    Capacity,
    /// [`AdmissionPolicy::max_handshakes_per_address`] handshakes from this address are in
    /// progress.
    PerAddress,
    /// No work slot became free within [`AdmissionPolicy::max_work_wait`].
    WorkTimeout,
}

impl Refusal {
    /// The MQTT reason code sent to the client: 0x89 Server busy.
    pub const fn reason_code(self) -> u8 {
        0x89
    }

    /// A short stable name, used as a metric label and in logs.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Capacity => "capacity",
            Self::PerAddress => "per_address",
            Self::WorkTimeout => "work_timeout",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Capacity => "too many handshakes in progress",
            Self::PerAddress => "too many handshakes in progress from this address",
            Self::WorkTimeout => "no work slot became free in time",
        })
    }
}

impl std::error::Error for Refusal {}

/// Counters of an [`Admission`], for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdmissionStats {
    /// Handshakes in progress (tickets alive).
    pub handshakes: usize,
    /// The most handshakes in progress at once.
    pub handshakes_peak: usize,
    /// Addresses with at least one handshake in progress.
    pub addresses: usize,
    /// Work slots in use.
    pub work_in_progress: usize,
    /// Steps waiting for a work slot.
    pub work_queued: usize,
}

struct Places {
    handshakes: usize,
    peak: usize,
    per_address: HashMap<AddressKey, usize>,
}

/// The shared admission state of one broker (or one authenticator). Share it in an
/// [`Arc`]; [`HandshakeTicket`]s and [`WorkPermit`]s keep it alive and give their place back
/// when they drop, whatever ends the handshake.
pub struct Admission {
    policy: AdmissionPolicy,
    places: Mutex<Places>,
    queue: WorkQueue,
    notices: Mutex<NoticeLog>,
    /// Set once a handshake without a peer address began (they are not capped per address).
    unaddressed_seen: AtomicBool,
    /// Set once [`Admission::take_unaddressed_warning`] has said so.
    unaddressed_warned: AtomicBool,
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Admission {
    /// An admission gate with `policy` (checked: the error names the bad setting).
    pub fn new(policy: AdmissionPolicy) -> Result<Self, String> {
        policy.validate()?;
        Ok(Self {
            queue: WorkQueue::new(policy.max_concurrent_work),
            places: Mutex::new(Places {
                handshakes: 0,
                peak: 0,
                per_address: HashMap::new(),
            }),
            notices: Mutex::new(NoticeLog::new(policy.notice_interval)),
            unaddressed_seen: AtomicBool::new(false),
            unaddressed_warned: AtomicBool::new(false),
            policy,
        })
    }

    /// The policy.
    pub fn policy(&self) -> &AdmissionPolicy {
        &self.policy
    }

    /// The key `peer` is counted under.
    pub fn key(&self, peer: Option<IpAddr>) -> AddressKey {
        AddressKey::new(peer, self.policy.ipv6_prefix_len)
    }

    /// Takes a place for a handshake from `peer`, or says why not. Never blocks.
    ///
    /// Connections without a peer address (`None`: a Unix socket, or a broker that did not
    /// pass the address) are **not** capped per address: they cannot be told apart, and one
    /// shared cap would refuse the whole broker's 65th concurrent handshake. They still count
    /// against [`AdmissionPolicy::max_handshakes`]. [`Admission::take_unaddressed_warning`]
    /// says once that the cap is off for them, so the operator can pass the address.
    pub fn begin(self: &Arc<Self>, peer: Option<IpAddr>) -> Result<HandshakeTicket, Refusal> {
        let key = self.key(peer);
        let unaddressed = key == AddressKey::UNKNOWN;
        let mut places = self.lock_places();
        if places.handshakes >= self.policy.max_handshakes {
            return Err(Refusal::Capacity);
        }
        let per_address = places.per_address.entry(key).or_insert(0);
        let cap = self.policy.max_handshakes_per_address;
        if cap > 0 && !unaddressed && *per_address >= cap {
            return Err(Refusal::PerAddress);
        }
        if unaddressed {
            self.unaddressed_seen.store(true, Ordering::Relaxed);
        }
        *per_address += 1;
        places.handshakes += 1;
        places.peak = places.peak.max(places.handshakes);
        Ok(HandshakeTicket {
            admission: Arc::clone(self),
            key,
        })
    }

    /// `true` exactly once, after the first handshake without a peer address began: the
    /// caller logs (outside any lock) that the per-address cap does not apply to such
    /// connections. See [`Admission::begin`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mqtt_scram_authenticator::admission::{Admission, AdmissionPolicy};
    /// let admission = Arc::new(Admission::new(AdmissionPolicy::default())?);
    /// assert!(!admission.take_unaddressed_warning());
    /// let _ticket = admission.begin(None).map_err(|refusal| refusal.to_string())?;
    /// assert!(admission.take_unaddressed_warning());
    /// assert!(!admission.take_unaddressed_warning());
    /// # Ok::<(), String>(())
    /// ```
    pub fn take_unaddressed_warning(&self) -> bool {
        self.unaddressed_seen.load(Ordering::Relaxed)
            && !self.unaddressed_warned.swap(true, Ordering::Relaxed)
    }

    /// Waits (fairly: round robin over addresses) for a work slot. The future needs no
    /// runtime; bound the wait with your runtime's timer ([`AdmissionPolicy::max_work_wait`]).
    /// Dropping it gives up its turn (or the slot, if it was just granted).
    pub fn work(self: &Arc<Self>, peer: Option<IpAddr>) -> WaitForWork {
        WaitForWork::new(Arc::clone(self), self.key(peer))
    }

    /// Takes a work slot if one is free and nobody is queued for one (synchronous callers).
    pub fn try_work(self: &Arc<Self>) -> Option<WorkPermit> {
        self.queue
            .try_acquire()
            .then(|| WorkPermit::new(Arc::clone(self)))
    }

    /// Counts a refusal or a stalled handshake; returns a summary when it is time to log one
    /// (at most one per [`AdmissionPolicy::notice_interval`]). `now` is on any monotonic clock.
    pub fn notice(
        &self,
        notice: Notice,
        peer: Option<IpAddr>,
        now: Duration,
    ) -> Option<NoticeSummary> {
        let key = self.key(peer);
        self.notices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .note(notice, key, now)
    }

    /// The pending summary, if the interval has passed since the last one (call it from a
    /// periodic tick so the end of a burst is logged too).
    pub fn flush_notices(&self, now: Duration) -> Option<NoticeSummary> {
        self.notices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush(now)
    }

    /// Current counters.
    pub fn stats(&self) -> AdmissionStats {
        let (handshakes, handshakes_peak, addresses) = {
            let places = self.lock_places();
            (places.handshakes, places.peak, places.per_address.len())
        };
        let (work_in_progress, work_queued) = self.queue.usage();
        AdmissionStats {
            handshakes,
            handshakes_peak,
            addresses,
            work_in_progress,
            work_queued,
        }
    }

    fn lock_places(&self) -> MutexGuard<'_, Places> {
        // Plain counters: a panic elsewhere cannot leave them half-written.
        self.places.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn release_place(&self, key: AddressKey) {
        let mut places = self.lock_places();
        places.handshakes = places.handshakes.saturating_sub(1);
        if let Some(count) = places.per_address.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                places.per_address.remove(&key);
                shrink_if_sparse(&mut places.per_address);
            }
        }
    }
}

/// Gives back most of a table a burst grew once it is less than a quarter full: without
/// this, 100,000 handshakes from as many addresses leave their table behind (tens of
/// bytes per handshake) after they end. Shrinking to twice the entries left means the
/// next shrink needs half of them gone first, so the rehashing is amortized.
pub(crate) fn shrink_if_sparse<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    const KEEP: usize = 64;
    if map.capacity() > KEEP && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len().saturating_mul(2).max(KEEP / 2));
    }
}

/// [`shrink_if_sparse`] for the rotation of the work queue.
pub(crate) fn shrink_deque_if_sparse<T>(deque: &mut std::collections::VecDeque<T>) {
    const KEEP: usize = 64;
    if deque.capacity() > KEEP && deque.len() < deque.capacity() / 4 {
        deque.shrink_to(deque.len().saturating_mul(2).max(KEEP / 2));
    }
}

/// A handshake's place; dropping it frees the place.
pub struct HandshakeTicket {
    admission: Arc<Admission>,
    key: AddressKey,
}

impl HandshakeTicket {
    /// The address the place is counted under.
    pub fn address(&self) -> AddressKey {
        self.key
    }

    /// The admission this place belongs to.
    pub fn admission(&self) -> &Arc<Admission> {
        &self.admission
    }
}

impl fmt::Debug for HandshakeTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakeTicket")
            .field("address", &self.key)
            .finish()
    }
}

impl Drop for HandshakeTicket {
    fn drop(&mut self) {
        self.admission.release_place(self.key);
    }
}

#[cfg(test)]
mod tests;
