//! No reconnect storm (issue 20 §8): after a failed connect (a wrong password, a server
//! down or unreachable) the pool is not asked for a new connection for a bounded, growing
//! while (250 ms doubling to 5 s, as the Redis store does). Lookups meanwhile fail at once
//! with the connect's reason; when the wait is over one lookup probes the server, the
//! others keep failing at once until it succeeds or fails.

use std::string::String;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The first wait after a failed connect; it doubles after each further failure.
pub(crate) const BACKOFF_START: Duration = Duration::from_millis(250);
/// The longest wait between two connects after failures.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The back-off state of one pool.
#[derive(Default)]
pub(crate) struct Backoff {
    state: Mutex<Option<State>>,
    /// A lookup is probing the server after a wait.
    probing: AtomicBool,
}

struct State {
    until: Instant,
    delay: Duration,
    reason: String,
    timeout: bool,
}

/// Why a lookup may not connect now: the last connect's reason, and whether it was a
/// timeout.
pub(crate) struct Refused {
    pub(crate) reason: String,
    pub(crate) timeout: bool,
}

/// What a lookup admitted by [`Backoff::admit`] must report back (exactly once).
#[must_use]
pub(crate) struct Admitted {
    probe: bool,
}

impl Backoff {
    /// Whether a lookup may ask the pool for a connection (which may open one): refused
    /// during the wait after a failed connect, and while another lookup probes the server.
    pub(crate) fn admit(&self) -> Result<Admitted, Refused> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &*state {
            None => Ok(Admitted { probe: false }),
            Some(s) if Instant::now() < s.until || self.probing.swap(true, Ordering::AcqRel) => {
                Err(Refused {
                    reason: std::format!(
                        "{} (no new connection during the back-off after a failed connect, up to {:?})",
                        s.reason,
                        BACKOFF_MAX
                    ),
                    timeout: s.timeout,
                })
            }
            Some(_) => Ok(Admitted { probe: true }),
        }
    }

    /// The pool gave a connection: the store is reachable again.
    pub(crate) fn connected(&self, admitted: Admitted) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = None;
        if admitted.probe {
            self.probing.store(false, Ordering::Release);
        }
    }

    /// Connecting failed: wait before the next connect (twice as long as last time, at
    /// most [`BACKOFF_MAX`]).
    pub(crate) fn connect_failed(&self, admitted: Admitted, reason: String, timeout: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !admitted.probe && state.is_some() {
            // Another lookup that started before the back-off failed first and set it.
            return;
        }
        let delay = state.as_ref().map_or(BACKOFF_START, |s| {
            s.delay.saturating_mul(2).min(BACKOFF_MAX)
        });
        *state = Some(State {
            until: Instant::now() + delay,
            delay,
            reason,
            timeout,
        });
        if admitted.probe {
            self.probing.store(false, Ordering::Release);
        }
    }

    /// The pool failed for another reason (no free slot in time): nothing learnt about
    /// connecting.
    pub(crate) fn other_failure(&self, admitted: Admitted) {
        if admitted.probe {
            self.probing.store(false, Ordering::Release);
        }
    }
}
