//! Time as the engine sees it: passed in, never read.
//!
//! An exchange needs two clocks: a **monotonic** one for its deadline (immune to wall-clock
//! jumps) and the **wall clock** in Unix seconds for credential expiry (`expire_at`, which
//! providers give in Unix seconds). A [`Timestamp`] carries both readings; a [`Clock`]
//! produces them. The engine's states take a `Timestamp`; caches and the authenticator
//! take a `Clock`, so tests can drive time by hand with [`ManualClock`] instead of sleeping.

use core::fmt;
use core::time::Duration;

/// One reading of both clocks.
///
/// ```
/// use core::time::Duration;
/// use mqtt_scram::Timestamp;
/// let now = Timestamp::new(Duration::from_secs(5), 1_700_000_000);
/// assert_eq!(now.monotonic(), Duration::from_secs(5));
/// assert_eq!(now.unix_seconds(), 1_700_000_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    monotonic: Duration,
    unix_seconds: u64,
}

impl Timestamp {
    /// A reading: `monotonic` on any monotonic clock the caller chooses (e.g. the time
    /// since the process started), `unix_seconds` from the wall clock.
    pub const fn new(monotonic: Duration, unix_seconds: u64) -> Self {
        Self {
            monotonic,
            unix_seconds,
        }
    }

    /// The monotonic reading; deadlines the engine returns are on this clock.
    pub const fn monotonic(self) -> Duration {
        self.monotonic
    }

    /// Wall-clock seconds since the Unix epoch.
    pub const fn unix_seconds(self) -> u64 {
        self.unix_seconds
    }

    /// This reading moved forward by `by` on both clocks (saturating).
    ///
    /// ```
    /// use core::time::Duration;
    /// use mqtt_scram::Timestamp;
    /// let later = Timestamp::new(Duration::ZERO, 100).advanced(Duration::from_secs(30));
    /// assert_eq!(later, Timestamp::new(Duration::from_secs(30), 130));
    /// ```
    pub const fn advanced(self, by: Duration) -> Self {
        Self {
            monotonic: self.monotonic.saturating_add(by),
            unix_seconds: self.unix_seconds.saturating_add(by.as_secs()),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} (monotonic), {} (Unix seconds)",
            self.monotonic, self.unix_seconds
        )
    }
}

/// A source of [`Timestamp`]s, injected wherever time is needed outside the engine's
/// states (caches, verifiers, the authenticator).
///
/// ```
/// use mqtt_scram::{Clock, ManualClock};
/// use core::time::Duration;
/// let clock = ManualClock::new(1_700_000_000);
/// let before = clock.now();
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(clock.now().unix_seconds(), before.unix_seconds() + 60);
/// ```
pub trait Clock: Send + Sync {
    /// Reads both clocks.
    fn now(&self) -> Timestamp;

    /// Reads only the monotonic clock (`now().monotonic()`), for the many places that need
    /// nothing else: a clock that reads the two separately overrides it to save a read
    /// (on a virtual machine without a usable TSC each read is a system call).
    fn monotonic(&self) -> Duration {
        self.now().monotonic()
    }
}

impl<C: Clock + ?Sized> Clock for alloc::sync::Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }

    fn monotonic(&self) -> Duration {
        (**self).monotonic()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }

    fn monotonic(&self) -> Duration {
        (**self).monotonic()
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use self::system::{ManualClock, SystemClock};

#[cfg(feature = "std")]
mod system {
    use std::sync::Mutex;
    use std::sync::PoisonError;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    use super::{Clock, Duration, Timestamp};

    /// The operating system's clocks: `Instant` (monotonic, from when the clock was
    /// created) and `SystemTime` (wall clock).
    ///
    /// ```
    /// use mqtt_scram::{Clock, SystemClock};
    /// let clock = SystemClock::new();
    /// assert!(clock.now().unix_seconds() > 1_600_000_000);
    /// ```
    #[derive(Clone, Copy, Debug)]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub struct SystemClock {
        epoch: Instant,
    }

    impl SystemClock {
        /// A clock whose monotonic reading starts at zero now.
        pub fn new() -> Self {
            Self {
                epoch: Instant::now(),
            }
        }
    }

    impl Default for SystemClock {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Clock for SystemClock {
        fn now(&self) -> Timestamp {
            // A wall clock set before 1970 reads as 0: nothing has expired yet.
            let unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            Timestamp::new(self.epoch.elapsed(), unix)
        }

        fn monotonic(&self) -> Duration {
            self.epoch.elapsed()
        }
    }

    /// A clock moved by hand, for tests: both readings advance together.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mqtt_scram::{Clock, ManualClock};
    /// let clock = ManualClock::new(1_700_000_000);
    /// clock.advance(Duration::from_secs(30));
    /// assert_eq!(clock.now().monotonic(), Duration::from_secs(30));
    /// clock.set_unix_seconds(1_800_000_000);   // an NTP step: the monotonic reading stays
    /// assert_eq!(clock.now().monotonic(), Duration::from_secs(30));
    /// ```
    #[derive(Debug)]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub struct ManualClock {
        now: Mutex<Timestamp>,
    }

    impl ManualClock {
        /// A clock at monotonic zero and the given Unix time.
        pub fn new(unix_seconds: u64) -> Self {
            Self {
                now: Mutex::new(Timestamp::new(Duration::ZERO, unix_seconds)),
            }
        }

        /// Moves both readings forward.
        pub fn advance(&self, by: Duration) {
            let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
            *now = now.advanced(by);
        }

        /// Sets the wall clock only (as an NTP step would), keeping the monotonic reading.
        pub fn set_unix_seconds(&self, unix_seconds: u64) {
            let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
            *now = Timestamp::new(now.monotonic(), unix_seconds);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Timestamp {
            *self.now.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }
}
