//! Durations in configuration files: `"500ms"`, `"10s"`, `"2m"`, `"1h"`, `"1.5s"`, or a
//! bare number of seconds — the engine's [`mqtt_scram::config_duration`] with
//! [`BareUnit::Seconds`].
//!
//! ```
//! use std::time::Duration;
//! use mqtt_scram_authenticator::duration::parse;
//! assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
//! assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
//! assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
//! assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
//! assert!(parse("ten seconds").is_err());
//! ```

use std::time::Duration;

use mqtt_scram::config_duration::{self, BareUnit};

/// Formats a duration the way [`parse`] reads it back.
///
/// ```
/// use std::time::Duration;
/// use mqtt_scram_authenticator::duration::{format, parse};
/// assert_eq!(format(Duration::from_millis(1500)), "1500ms");
/// assert_eq!(parse(&format(Duration::from_secs(10))), Ok(Duration::from_secs(10)));
/// ```
pub use mqtt_scram::config_duration::format;

/// `#[serde(with = "mqtt_scram_authenticator::duration::serde")]`: a duration as a string
/// (`"10s"`) or a number of seconds (the engine's `config_duration::seconds`).
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub use mqtt_scram::config_duration::seconds as serde;

/// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h` (a bare number is seconds).
/// The error names the text and says what was expected.
pub fn parse(text: &str) -> Result<Duration, String> {
    config_duration::parse(text, BareUnit::Seconds).map_err(|e| e.to_string())
}
