//! The periodic work (handshake deadlines, expired credentials, summaries, the
//! `stats_interval` report), the per-callback timings, and what runs at shutdown.

use std::time::{Duration, Instant};

use mqtt_scram::Clock;
use mqtt_scram_authenticator::admission::Notice;

use super::{Event, Inner, Plugin};
use crate::log::{self, Level};

/// How often the periodic work runs at most (the TICK's period).
const HOUSEKEEPING: Duration = Duration::from_millis(100);

impl Plugin {
    /// Drops handshakes past their deadline, counting them as stalled.
    pub(super) fn expire(&self, inner: &mut Inner, now: Duration) {
        for stalled in inner.sessions.expire(now) {
            let peer = stalled.challenge.connection().peer.map(|p| p.ip());
            self.metrics.handshake_failed(
                stalled.kind(),
                "timeout",
                now.saturating_sub(stalled.challenge.started()),
            );
            self.notice(Notice::Stalled, peer, now);
        }
    }

    /// `MOSQ_EVT_TICK` (about every 100 ms; never with `per_listener_settings`): the
    /// periodic work, now.
    pub(crate) fn on_tick(&self) {
        self.periodic(true);
    }

    /// The periodic work, at the start of every callback once [`HOUSEKEEPING`] has passed
    /// since the last run (or at once with `force`): drops handshakes past their deadline
    /// (counting them as stalled), logs the refusal/stall summary and the rate limiter's
    /// count when their windows are over, and the `stats_interval` report when it is due.
    /// Mosquitto 2.0.11 sends no `MOSQ_EVT_TICK` with `per_listener_settings true`, so this
    /// is what runs the periodic work there; [`shutdown`](Self::shutdown) flushes the rest.
    pub(crate) fn periodic(&self, force: bool) {
        let now = self.clock.now();
        let instant = Instant::now();
        let mut inner = self.lock();
        if !force && instant < inner.next_housekeeping {
            return;
        }
        inner.next_housekeeping = instant + HOUSEKEEPING;
        self.expire(&mut inner, now.monotonic());
        for (key, id) in inner.sessions.expired_sessions(now.unix_seconds()) {
            log::emit(
                Level::Notice,
                &format!(
                    "mqtt-scram: credentials of client {id} expired (expire_at); disconnecting"
                ),
            );
            inner.kicks.push((key, id));
        }
        if let Some(summary) = self.admission.flush_notices(now.monotonic()) {
            log::emit(Level::Warning, &format!("mqtt-scram: {summary}"));
        }
        inner.rejected.roll(instant);
        let interval = self.options.stats_interval;
        if !interval.is_zero() && instant.duration_since(inner.last_report) >= interval {
            inner.last_report = instant;
            let handshakes = inner.sessions.handshakes();
            let entries = inner.sessions.len();
            if let Some(line) = inner.stats.report() {
                log::emit(
                    Level::Info,
                    &format!("{line}; handshakes in progress={handshakes}; clients={entries}"),
                );
            }
        }
    }

    /// Records how long a callback held the broker's thread.
    pub(crate) fn record_callback(&self, event: Option<Event>, elapsed: Duration) {
        if let Some(event) = event {
            self.lock().stats.record(event, elapsed);
        }
    }

    /// The clients to disconnect now (their credentials expired), except `current`, the
    /// client of the running callback, which waits for a later one. The FFI boundary
    /// disconnects them after every lock is released.
    pub(crate) fn take_kicks(&self, current: Option<usize>) -> Vec<Box<str>> {
        let mut inner = self.lock();
        if inner.kicks.is_empty() {
            return Vec::new();
        }
        let now_unix = self.clock.now().unix_seconds();
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut inner.kicks)
            .into_iter()
            // Only clients still connected with the expired session: the id may belong to
            // a new connection by now (the old one left, or was taken over).
            .filter(|(key, id)| {
                inner
                    .sessions
                    .session(*key, Some(id))
                    .and_then(|s| s.identity.expire_at())
                    .is_some_and(|at| at <= now_unix)
            })
            .partition(|(key, _)| Some(*key) != current);
        inner.kicks = later;
        now.into_iter().map(|(_, id)| id).collect()
    }

    /// At plugin cleanup (broker shutdown): counts the handshakes past their deadline, then
    /// logs every pending summary (stalls and refusals, suppressed rejections) whatever its
    /// window, and the final report. The lines are written when the FFI boundary flushes.
    pub(crate) fn shutdown(&self) {
        let now = self.clock.now();
        let mut inner = self.lock();
        self.expire(&mut inner, now.monotonic());
        // Past any window: the summary of the last one, however short.
        let end = now
            .monotonic()
            .saturating_add(self.admission.policy().notice_interval);
        if let Some(summary) = self.admission.flush_notices(end) {
            log::emit(Level::Warning, &format!("mqtt-scram: {summary}"));
        }
        inner.rejected.flush();
        let handshakes = inner.sessions.handshakes();
        let max = inner.stats.max_ever();
        let line = inner.stats.report();
        log::emit(
            Level::Notice,
            &format!(
                "mqtt-scram: shutting down; longest callback {}us; handshakes in progress={handshakes}{}",
                max.as_micros(),
                line.map(|l| format!(" ({l})")).unwrap_or_default()
            ),
        );
    }
}
