//! Failed lookups of a remote store (PostgreSQL, Redis), logged at most once per interval
//! instead of once per login: while a store is down, misconfigured (a wrong password) or
//! failing over, every login fails the same way, and one WARN line per login buries
//! everything else. As the authenticator's admission notices do, the first failure is
//! logged with its reason, then at most one line per [`SUMMARY_INTERVAL`] says how many
//! lookups failed since the last line and the kind of the latest error; each failure is
//! still logged at DEBUG. The lines carry the store's redacted description, error kinds
//! and the driver's reason (never a password).

use std::string::String;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use core::fmt::Display;

/// At most one WARN line about failed lookups per store and interval.
pub(crate) const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// The failed-lookup log of one store.
pub(crate) struct FailureLog {
    /// `redis` or `postgres`.
    store: &'static str,
    interval: Duration,
    /// Some failure not yet followed by a line saying the store answers again, or failures
    /// not yet counted in a line (the fast path of a success checks only this).
    pending: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When the last line was written.
    last_line: Option<Instant>,
    /// Failures since then without a line of their own.
    unlogged: u64,
    /// The kind of the latest of them.
    last_kind: String,
    /// The last line said the store fails (a line saying it answers again is owed).
    said_failing: bool,
}

impl FailureLog {
    /// The log of a `store` (`redis`, `postgres`), one line per [`SUMMARY_INTERVAL`].
    pub(crate) fn new(store: &'static str) -> Self {
        Self {
            store,
            interval: SUMMARY_INTERVAL,
            pending: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        }
    }

    /// A lookup that the store could not answer (`kind`: the error's kind, e.g. `IoError`,
    /// `timeout`; `reason`: the driver's message, without secrets).
    pub(crate) fn failed(&self, username: &str, kind: &str, reason: &dyn Display) {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.pending.store(true, Ordering::Release);
        if !self.due(&state, now) {
            state.unlogged = state.unlogged.saturating_add(1);
            kind.clone_into(&mut state.last_kind);
            drop(state);
            tracing::debug!(username, kind, %reason, "{} provider: ignoring", self.store);
            return;
        }
        let earlier = core::mem::take(&mut state.unlogged);
        let since = state.last_line.map(|t| now.duration_since(t));
        state.last_line = Some(now);
        state.said_failing = true;
        drop(state);
        match since {
            Some(since) if earlier > 0 => tracing::warn!(
                username,
                kind,
                %reason,
                failed_lookups = earlier + 1,
                period = ?since,
                "{} provider: ignoring; {} lookups failed since the last line (one line per {:?})",
                self.store,
                earlier + 1,
                self.interval,
            ),
            _ => tracing::warn!(username, kind, %reason, "{} provider: ignoring", self.store),
        }
    }

    /// A lookup that the store answered (found or not found): after failures, one line says
    /// the store answers again and how many failures were not logged yet.
    pub(crate) fn answered(&self) {
        if !self.pending.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.said_failing && state.unlogged == 0 {
            self.pending.store(false, Ordering::Release);
            return;
        }
        if !self.due(&state, now) {
            // Said by the next line (a failure's, or this one's once due).
            return;
        }
        let unlogged = core::mem::take(&mut state.unlogged);
        let kind = core::mem::take(&mut state.last_kind);
        let since = state.last_line.map(|t| now.duration_since(t));
        state.last_line = Some(now);
        state.said_failing = false;
        self.pending.store(false, Ordering::Release);
        drop(state);
        if unlogged == 0 {
            tracing::info!("{} provider: the store answers again", self.store);
        } else {
            tracing::warn!(
                failed_lookups = unlogged,
                last_kind = %kind,
                period = ?since,
                "{} provider: the store answers again; {} more lookups failed since the last line (last error: {})",
                self.store,
                unlogged,
                kind,
            );
        }
    }

    fn due(&self, state: &State, now: Instant) -> bool {
        state
            .last_line
            .is_none_or(|last| now.duration_since(last) >= self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;
    use std::vec::Vec;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    /// The INFO and WARN lines written while `f` runs.
    fn capture(f: impl FnOnce()) -> Vec<String> {
        let out = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(out.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8_lossy(&out.0.lock().unwrap()).into_owned();
        text.lines().map(str::to_string).collect()
    }

    fn failure_log(interval: Duration) -> FailureLog {
        FailureLog {
            interval,
            ..FailureLog::new("redis")
        }
    }

    #[test]
    fn failures_within_an_interval_get_one_line() {
        let log = failure_log(Duration::from_secs(3600));
        let lines = capture(|| {
            for _ in 0..50 {
                log.failed("alice", "IoError", &"connection refused");
            }
            log.answered();
            log.answered();
        });
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].contains("WARN"), "{lines:#?}");
        assert!(lines[0].contains("redis provider: ignoring"), "{lines:#?}");
        assert!(lines[0].contains("connection refused"), "{lines:#?}");
    }

    #[test]
    fn the_next_line_counts_the_failures_not_logged_and_the_recovery_is_said_once() {
        let log = failure_log(Duration::ZERO);
        let lines = capture(|| {
            log.failed("alice", "IoError", &"connection refused");
            log.answered();
            log.answered();
        });
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(lines[1].contains("INFO"), "{lines:#?}");
        assert!(lines[1].contains("the store answers again"), "{lines:#?}");

        // Failures that got no line are counted by the next one, with the last kind.
        let mut counted = failure_log(Duration::from_secs(3600));
        counted.failed("alice", "IoError", &"connection refused");
        counted.failed("bob", "ClusterDown", &"CLUSTERDOWN");
        counted.failed("carol", "ClusterDown", &"CLUSTERDOWN");
        counted.interval = Duration::ZERO;
        let written = capture(|| counted.answered());
        assert_eq!(written.len(), 1, "{written:#?}");
        assert!(written[0].contains("WARN"), "{written:#?}");
        assert!(
            written[0]
                .contains("2 more lookups failed since the last line (last error: ClusterDown)"),
            "{written:#?}"
        );
    }
}
