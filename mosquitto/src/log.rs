//! Logging into the broker's log (`mosquitto_log_printf`), which is safe to call only on
//! the broker's thread: lines from other threads (credential reloads, background lookups)
//! wait in a bounded queue that the next callback flushes. Per-connection warnings go through
//! a [`RateLimit`], so a flood of failing clients costs a few summary lines, not one line each.

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

/// Logs a line: at once on the broker's thread, queued elsewhere. Without a broker (unit
/// tests) the line goes to standard error.
pub(crate) fn emit(level: Level, message: &str) {
    match TARGET.get() {
        Some(target) if target.thread == std::thread::current().id() => {
            flush();
            (target.sink)(level, message);
        }
        Some(_) => {
            let mut queue = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.lines.len() < QUEUE_LIMIT {
                queue.lines.push_back((level, message.to_owned()));
            } else {
                queue.dropped += 1;
            }
        }
        None => eprintln!("{level:?}: {message}"),
    }
}

/// Writes the queued lines (on the broker's thread; elsewhere a no-op).
pub(crate) fn flush() {
    let Some(target) = TARGET.get() else { return };
    if target.thread != std::thread::current().id() {
        return;
    }
    let (lines, dropped) = {
        let mut queue = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.lines.is_empty() && queue.dropped == 0 {
            return;
        }
        (
            std::mem::take(&mut queue.lines),
            std::mem::take(&mut queue.dropped),
        )
    };
    for (level, line) in lines {
        (target.sink)(level, &line);
    }
    if dropped > 0 {
        (target.sink)(
            Level::Warning,
            &format!("mqtt-scram: {dropped} log lines from background threads were dropped"),
        );
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
