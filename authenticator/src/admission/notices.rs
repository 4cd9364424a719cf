//! Aggregated, rate-limited notices: one summary per interval instead of one log line per
//! refused or stalled handshake.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use super::{AddressKey, Refusal};

/// Something worth telling the operator about, counted rather than logged one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Notice {
    /// A handshake was refused (0x89).
    Refused(Refusal),
    /// A client did not answer the challenge before its deadline.
    Stalled,
}

impl Notice {
    /// A short stable name (`capacity`, `per_address`, `work_timeout`, `stalled`).
    pub const fn label(self) -> &'static str {
        match self {
            Self::Refused(refusal) => refusal.label(),
            Self::Stalled => "stalled",
        }
    }
}

/// How many addresses a summary tracks individually; the rest are only counted.
const TRACKED_ADDRESSES: usize = 4096;
/// How many of the busiest addresses a summary names.
const TOP_ADDRESSES: usize = 3;

pub(super) struct NoticeLog {
    interval: Duration,
    last_emitted: Option<Duration>,
    window_start: Option<Duration>,
    counts: BTreeMap<Notice, u64>,
    by_address: HashMap<AddressKey, u64>,
    untracked: u64,
}

impl NoticeLog {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_emitted: None,
            window_start: None,
            counts: BTreeMap::new(),
            by_address: HashMap::new(),
            untracked: 0,
        }
    }

    pub(super) fn note(
        &mut self,
        notice: Notice,
        key: AddressKey,
        now: Duration,
    ) -> Option<NoticeSummary> {
        *self.counts.entry(notice).or_insert(0) += 1;
        if let Some(count) = self.by_address.get_mut(&key) {
            *count += 1;
        } else if self.by_address.len() < TRACKED_ADDRESSES {
            self.by_address.insert(key, 1);
        } else {
            self.untracked += 1;
        }
        self.window_start.get_or_insert(now);
        self.flush(now)
    }

    pub(super) fn flush(&mut self, now: Duration) -> Option<NoticeSummary> {
        let start = self.window_start?;
        let due = self
            .last_emitted
            .is_none_or(|last| now.saturating_sub(last) >= self.interval);
        if !due {
            return None;
        }
        let mut top: Vec<(AddressKey, u64)> = self.by_address.drain().collect();
        // Up to TRACKED_ADDRESSES entries: give the table back between bursts.
        super::shrink_if_sparse(&mut self.by_address);
        let addresses = top.len() + usize::from(self.untracked > 0);
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(TOP_ADDRESSES);
        let summary = NoticeSummary {
            period: now.saturating_sub(self.last_emitted.unwrap_or(start)),
            counts: std::mem::take(&mut self.counts).into_iter().collect(),
            addresses,
            top,
        };
        self.untracked = 0;
        self.window_start = None;
        self.last_emitted = Some(now);
        Some(summary)
    }
}

/// One log line's worth of notices: counts by kind, how many addresses, the busiest ones.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use mqtt_scram_authenticator::admission::{Admission, AdmissionPolicy, Notice, Refusal};
/// let admission = Admission::new(AdmissionPolicy::default())?;
/// let peer = Some("192.0.2.7".parse()?);
/// let t = Duration::from_secs;
/// // The first notice after a quiet period is reported at once ...
/// let first = admission.notice(Notice::Refused(Refusal::PerAddress), peer, t(100)).unwrap();
/// assert_eq!(first.total(), 1);
/// // ... the next ones are counted until the interval (10 s) has passed.
/// for _ in 0..2_999 {
///     assert!(admission.notice(Notice::Refused(Refusal::PerAddress), peer, t(101)).is_none());
/// }
/// let summary = admission.flush_notices(t(110)).unwrap();
/// assert_eq!(summary.total(), 2_999);
/// assert_eq!(
///     summary.to_string(),
///     "2999 handshakes refused or stalled in the last 10s (per_address: 2999) from 1 address; busiest: 192.0.2.7 (2999)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NoticeSummary {
    /// Time since the previous summary (or since the first notice).
    pub period: Duration,
    /// Count per kind, in a stable order.
    pub counts: Vec<(Notice, u64)>,
    /// Distinct addresses involved.
    pub addresses: usize,
    /// The busiest addresses with their counts.
    pub top: Vec<(AddressKey, u64)>,
}

impl NoticeSummary {
    /// All notices in the summary.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for NoticeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} handshakes refused or stalled in the last {} (",
            self.total(),
            crate::duration::format(Duration::from_secs(self.period.as_secs().max(1)))
        )?;
        for (i, (notice, count)) in self.counts.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{}: {count}", notice.label())?;
        }
        let plural = if self.addresses == 1 { "" } else { "es" };
        write!(f, ") from {} address{plural}", self.addresses)?;
        for (i, (key, count)) in self.top.iter().enumerate() {
            let lead = if i == 0 { "; busiest: " } else { ", " };
            write!(f, "{lead}{key} ({count})")?;
        }
        Ok(())
    }
}
