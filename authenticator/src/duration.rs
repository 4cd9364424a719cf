//! Durations in configuration files: `"500ms"`, `"10s"`, `"2m"`, `"1h"`, or a bare number
//! of seconds.
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

/// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h` (a bare number is seconds).
/// The error says what was expected.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (use ms, s, m or h, e.g. \"10s\")"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. \"500ms\", \"10s\", \"2m\")"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("{text:?} is out of range"))
}

/// Formats a duration the way [`parse`] reads it back.
///
/// ```
/// use std::time::Duration;
/// use mqtt_scram_authenticator::duration::{format, parse};
/// assert_eq!(format(Duration::from_millis(1500)), "1500ms");
/// assert_eq!(parse(&format(Duration::from_secs(10))), Ok(Duration::from_secs(10)));
/// ```
pub fn format(duration: Duration) -> String {
    if duration.subsec_millis() == 0 && duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// `#[serde(with = "mqtt_scram_authenticator::duration::serde")]`: a duration as a string
/// (`"10s"`) or a number of seconds.
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod serde {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    /// Reads `"10s"`, `"500ms"`, `10` or `0.5`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"10s\", \"500ms\", \"2m\" or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                super::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                Duration::try_from_secs_f64(v).map_err(|_| E::custom("duration out of range"))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }

    /// Writes the form [`super::format`] produces.
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format(*duration))
    }
}
