//! Logging into the broker's log (`mosquitto_log_printf`).
//!
//! **No line is written while the plugin holds a lock.** With `log_dest topic` Mosquitto
//! publishes every log line at once, and delivering it runs `MOSQ_EVT_ACL_CHECK` for each
//! subscriber, on the same thread: a line written under the plugin's lock would re-enter the
//! plugin and deadlock on that lock. So [`emit`] only queues; [`flush`] writes the queue,
//! and the FFI boundary calls it only where the plugin holds nothing (after each callback
//! returns, at init and at cleanup). Every lock of the plugin's per-client state is taken
//! through [`HeldLock`], and [`flush`] refuses to write while one is held on this thread, so
//! a future mistake delays a line instead of hanging the broker.
//!
//! `mosquitto_log_printf` is also not thread-safe (static buffers in Mosquitto's
//! `logging.c`): lines from other threads (credential reloads, background lookups) wait in the
//! same bounded queue for the broker's thread. Per-connection warnings go through a
//! [`RateLimit`], so a flood of failing clients costs a few summary lines, not one line each.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// Severity, mapped to Mosquitto's `MOSQ_LOG_*` levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// `MOSQ_LOG_ERR`.
    Error,
    /// `MOSQ_LOG_WARNING`.
    Warning,
    /// `MOSQ_LOG_NOTICE`.
    Notice,
    /// `MOSQ_LOG_INFO`.
    Info,
}

type Sink = fn(Level, &str);

struct Target {
    sink: Sink,
    thread: ThreadId,
}

static TARGET: OnceLock<Target> = OnceLock::new();

/// Lines from other threads waiting for the broker's thread; at most [`QUEUE_LIMIT`].
static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    lines: VecDeque::new(),
    dropped: 0,
});

const QUEUE_LIMIT: usize = 1024;

struct Queue {
    lines: VecDeque<(Level, String)>,
    dropped: u64,
}

/// Sends lines to `sink` from now on; the calling thread is the broker's. Later calls
/// (a second plugin instance) change nothing.
pub(crate) fn start(sink: Sink) {
    let _ = TARGET.set(Target {
        sink,
        thread: std::thread::current().id(),
    });
}

thread_local! {
    /// Plugin locks held by this thread (see [`HeldLock`]).
    static HELD: Cell<u32> = const { Cell::new(0) };
    /// Set while [`flush`] writes lines on this thread (a line it writes may re-enter the
    /// plugin, whose callback ends with another flush).
    static FLUSHING: Cell<bool> = const { Cell::new(false) };
}

/// Marks a plugin lock as held on this thread while it lives: [`flush`] writes nothing
/// meanwhile. Take one next to every lock guard of the plugin's state.
#[derive(Debug)]
pub(crate) struct HeldLock(());

impl HeldLock {
    /// Counts one more lock held by this thread.
    pub(crate) fn new() -> Self {
        HELD.with(|h| h.set(h.get().saturating_add(1)));
        Self(())
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get().saturating_sub(1)));
    }
}

/// Whether this thread holds a plugin lock now.
pub(crate) fn lock_held() -> bool {
    HELD.with(Cell::get) > 0
}

/// Queues a line for the broker's log; [`flush`] writes it. Without a broker (unit tests)
/// the line goes to standard error at once.
pub(crate) fn emit(level: Level, message: &str) {
    if TARGET.get().is_none() {
        eprintln!("{level:?}: {message}");
        return;
    }
    let mut queue = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
    if queue.lines.len() < QUEUE_LIMIT {
        queue.lines.push_back((level, message.to_owned()));
    } else {
        queue.dropped += 1;
    }
}

/// Writes the queued lines, on the broker's thread and only while the plugin holds no lock
/// on it (elsewhere a no-op: the lines wait for the next flush). Lines queued meanwhile,
/// also by callbacks that the writing re-entered, are written by the same call, in order.
pub(crate) fn flush() {
    let Some(target) = TARGET.get() else { return };
    if target.thread != std::thread::current().id() || lock_held() || FLUSHING.with(Cell::get) {
        return;
    }
    struct Flushing;
    impl Drop for Flushing {
        fn drop(&mut self) {
            FLUSHING.with(|f| f.set(false));
        }
    }
    FLUSHING.with(|f| f.set(true));
    let _flushing = Flushing;
    // Bounded: a line whose writing queues another line (a re-entered callback that logs)
    // cannot keep this loop going for ever; the rest waits for the next flush.
    for _ in 0..16 {
        let (lines, dropped) = {
            let mut queue = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.lines.is_empty() && queue.dropped == 0 {
                break;
            }
            (
                std::mem::take(&mut queue.lines),
                std::mem::take(&mut queue.dropped),
            )
        };
        // The queue's lock is released: writing may re-enter the plugin.
        for (level, line) in lines {
            (target.sink)(level, &line);
        }
        if dropped > 0 {
            (target.sink)(
                Level::Warning,
                &format!("mqtt-scram: {dropped} log lines were dropped (queue full)"),
            );
        }
    }
}

/// At most `burst` lines per `window` for one kind of event; the rest are counted and
/// reported in one summary line when the window ends.
#[derive(Debug)]
pub(crate) struct RateLimit {
    what: &'static str,
    burst: u32,
    window: Duration,
    started: Option<Instant>,
    shown: u32,
    suppressed: u64,
}

impl RateLimit {
    /// A limiter for events described as `what` (e.g. "rejected logins").
    pub(crate) const fn new(what: &'static str, burst: u32, window: Duration) -> Self {
        Self {
            what,
            burst,
            window,
            started: None,
            shown: 0,
            suppressed: 0,
        }
    }

    /// Logs `message` unless this window's burst is used up.
    pub(crate) fn emit(&mut self, level: Level, now: Instant, message: impl FnOnce() -> String) {
        self.roll(now);
        if self.shown < self.burst {
            self.shown += 1;
            emit(level, &message());
        } else {
            self.suppressed += 1;
        }
    }

    /// Reports what was suppressed in this window now, and starts a new one (at shutdown).
    pub(crate) fn flush(&mut self) {
        if let Some(end) = self.started.and_then(|s| s.checked_add(self.window)) {
            self.roll(end);
        }
    }

    /// Ends the window if it is over, reporting what was suppressed.
    pub(crate) fn roll(&mut self, now: Instant) {
        let over = self
            .started
            .is_none_or(|s| now.saturating_duration_since(s) >= self.window);
        if !over {
            return;
        }
        if self.suppressed > 0 {
            emit(
                Level::Notice,
                &format!(
                    "mqtt-scram: {} more {} in the last {:?} (not logged one by one)",
                    self.suppressed, self.what, self.window
                ),
            );
        }
        self.started = Some(now);
        self.shown = 0;
        self.suppressed = 0;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rate_limit_counts_what_it_suppresses() {
        let mut limit = RateLimit::new("rejected logins", 2, Duration::from_secs(10));
        let t0 = Instant::now();
        let mut shown = 0;
        for _ in 0..5 {
            limit.emit(Level::Notice, t0, || {
                shown += 1;
                "x".into()
            });
        }
        assert_eq!((shown, limit.suppressed), (2, 3));
        limit.roll(t0 + Duration::from_secs(11));
        assert_eq!((limit.shown, limit.suppressed), (0, 0));
    }
}
