//! How long the plugin holds the broker's thread, per event: count, maximum and a
//! power-of-two histogram (for a p99 bound), logged every `stats_interval` and at shutdown as
//! one line, e.g.
//! `mqtt-scram: callback time: ext_auth_start n=1200 max=412us p99<=256us; acl_check n=...`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::plugin::Event;

/// Buckets: `< 1us`, `< 2us`, … `< 2^(BUCKETS-2) us`, and the rest.
const BUCKETS: usize = 26;

#[derive(Clone, Debug, Default)]
struct Series {
    count: u64,
    total: Duration,
    max: Duration,
    buckets: [u64; BUCKETS],
}

impl Series {
    fn record(&mut self, elapsed: Duration) {
        self.count += 1;
        self.total += elapsed;
        self.max = self.max.max(elapsed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let index = (64 - micros.leading_zeros()) as usize;
        if let Some(b) = self.buckets.get_mut(index.min(BUCKETS - 1)) {
            *b += 1;
        }
    }

    /// Upper bound of the bucket holding the `q` quantile, in microseconds.
    fn quantile_bound(&self, q: f64) -> u64 {
        let wanted = ((self.count as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= wanted.max(1) {
                return 1u64 << i;
            }
        }
        u64::MAX
    }
}

/// Callback timings since the last report, and the maximum since start.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    series: [Series; 7],
    max_ever: Duration,
}

fn index(event: Event) -> usize {
    match event {
        Event::ExtAuthStart => 0,
        Event::ExtAuthContinue => 1,
        Event::BasicAuth => 2,
        Event::AclCheck => 3,
        Event::Disconnect => 4,
        Event::Tick => 5,
        Event::Reload => 6,
    }
}

const NAMES: [&str; 7] = [
    "ext_auth_start",
    "ext_auth_continue",
    "basic_auth",
    "acl_check",
    "disconnect",
    "tick",
    "reload",
];

impl Stats {
    /// Records one callback.
    pub(crate) fn record(&mut self, event: Event, elapsed: Duration) {
        if let Some(s) = self.series.get_mut(index(event)) {
            s.record(elapsed);
        }
        self.max_ever = self.max_ever.max(elapsed);
    }

    /// The longest callback since start.
    pub(crate) fn max_ever(&self) -> Duration {
        self.max_ever
    }

    /// One line for the log, or `None` if nothing was recorded; starts a new period.
    pub(crate) fn report(&mut self) -> Option<String> {
        let mut line = String::from("mqtt-scram: callback time:");
        let mut any = false;
        for (s, name) in self.series.iter().zip(NAMES) {
            if s.count == 0 {
                continue;
            }
            any = true;
            let mean = s.total / u32::try_from(s.count).unwrap_or(u32::MAX).max(1);
            let _ = write!(
                line,
                " {name} n={} mean={}us max={}us p99<={}us;",
                s.count,
                mean.as_micros(),
                s.max.as_micros(),
                s.quantile_bound(0.99)
            );
        }
        let _ = write!(line, " max since start={}us", self.max_ever.as_micros());
        self.series = Default::default();
        any.then_some(line)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn report_has_counts_maxima_and_p99_bounds() {
        let mut stats = Stats::default();
        for us in [3, 5, 9, 700] {
            stats.record(Event::ExtAuthStart, Duration::from_micros(us));
        }
        stats.record(Event::AclCheck, Duration::from_micros(1));
        let line = stats.report().unwrap();
        assert!(
            line.contains("ext_auth_start n=4 mean=179us max=700us p99<=1024us;"),
            "{line}"
        );
        assert!(line.contains("acl_check n=1"), "{line}");
        assert!(line.ends_with("max since start=700us"), "{line}");
        assert_eq!(stats.report(), None);
        assert_eq!(stats.max_ever(), Duration::from_micros(700));
    }
}
