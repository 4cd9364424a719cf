//! Durations in configuration files: `"500ms"`, `"30s"`, `"2m"`, `"1h"`, decimals such as
//! `"1.5s"`, or a bare number, whose unit the setting decides ([`BareUnit`]): seconds for
//! the engine's and the authenticator's settings, milliseconds for the EMQX-style HTTP,
//! PostgreSQL and Redis store settings. One implementation for the whole workspace.
//!
//! [`parse`] and [`format`](fn@format) work without features; with the `serde` feature, `seconds`
//! and `millis` are `#[serde(with = "...")]` modules (numbers in the file count in the
//! module's unit; strings as [`parse`] reads them; written back as [`format`](fn@format) writes them).
//!
//! ```
//! use core::time::Duration;
//! use mqtt_scram::config_duration::{BareUnit, format, parse};
//! assert_eq!(parse("500ms", BareUnit::Seconds), Ok(Duration::from_millis(500)));
//! assert_eq!(parse("1.5s", BareUnit::Seconds), Ok(Duration::from_millis(1500)));
//! assert_eq!(parse("2m", BareUnit::Milliseconds), Ok(Duration::from_secs(120)));
//! assert_eq!(parse("30", BareUnit::Seconds), Ok(Duration::from_secs(30)));
//! assert_eq!(parse("250", BareUnit::Milliseconds), Ok(Duration::from_millis(250)));
//! let error = parse("5 parsecs", BareUnit::Seconds).unwrap_err();
//! assert!(error.to_string().contains("\"5 parsecs\""));
//! assert_eq!(format(Duration::from_millis(1500)), "1500ms");
//! assert_eq!(format(Duration::from_secs(10)), "10s");
//! ```

use alloc::format;
use alloc::string::String;
use core::fmt;
use core::time::Duration;

const NANOS_PER_MILLI: u128 = 1_000_000;
const NANOS_PER_SEC: u128 = 1_000_000_000;
/// Fraction digits read; more are below a nanosecond even in hours, and are ignored.
const MAX_FRACTION_DIGITS: usize = 18;

/// The unit of a duration written as a bare number (`30`, `"30"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BareUnit {
    /// `30` is 30 seconds (the engine's and the authenticator's settings).
    Seconds,
    /// `30` is 30 milliseconds (as EMQX writes its HTTP and database timeouts).
    Milliseconds,
}

impl BareUnit {
    const fn nanos(self) -> u128 {
        match self {
            Self::Seconds => NANOS_PER_SEC,
            Self::Milliseconds => NANOS_PER_MILLI,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Seconds => "seconds",
            Self::Milliseconds => "milliseconds",
        }
    }
}

/// Why a duration text was refused. The message names the text, says what is wrong with
/// it and shows the accepted forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseDurationError {
    text: String,
    problem: Problem,
    bare: BareUnit,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Problem {
    NoNumber,
    BadNumber,
    Unit(String),
    OutOfRange,
}

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid duration {:?}: ", self.text)?;
        match &self.problem {
            Problem::NoNumber => f.write_str("no number")?,
            Problem::BadNumber => f.write_str("not a number")?,
            Problem::Unit(unit) => write!(f, "unknown unit {unit:?}")?,
            Problem::OutOfRange => f.write_str("out of range")?,
        }
        write!(
            f,
            "; use e.g. \"500ms\", \"30s\", \"2m\" or \"1h\" (a bare number is {})",
            self.bare.name()
        )
    }
}

impl core::error::Error for ParseDurationError {}

/// Reads `<number><unit>`: the number has digits with an optional decimal point
/// (`1.5`, `.5`), the unit is `ms`, `s`, `m` or `h`, spaces around either are ignored,
/// and without a unit the number counts in `bare`. Exact to the nanosecond (no floating
/// point); digits beyond a nanosecond are dropped.
pub fn parse(text: &str, bare: BareUnit) -> Result<Duration, ParseDurationError> {
    let refuse = |problem| ParseDurationError {
        text: text.into(),
        problem,
        bare,
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit_nanos = match unit.trim() {
        "" => bare.nanos(),
        "ms" => NANOS_PER_MILLI,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        other => return Err(refuse(Problem::Unit(other.into()))),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(refuse(Problem::NoNumber));
    }
    if fraction.contains('.') {
        return Err(refuse(Problem::BadNumber));
    }
    // Only ASCII digits are left, so a parse error is an overflow.
    let whole: u128 = match whole {
        "" => 0,
        digits => digits.parse().map_err(|_| refuse(Problem::OutOfRange))?,
    };
    let (mut numerator, mut denominator) = (0u128, 1u128);
    for digit in fraction.bytes().take(MAX_FRACTION_DIGITS) {
        numerator = numerator * 10 + u128::from(digit - b'0');
        denominator *= 10;
    }
    let nanos = whole
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(numerator * unit_nanos / denominator))
        .ok_or_else(|| refuse(Problem::OutOfRange))?;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| refuse(Problem::OutOfRange))?;
    let subsec = u32::try_from(nanos % NANOS_PER_SEC).map_err(|_| refuse(Problem::OutOfRange))?;
    Ok(Duration::new(secs, subsec))
}

/// Writes a duration the way [`parse`] reads it back exactly, in either [`BareUnit`]:
/// `"10s"` for whole seconds, `"1500ms"` for whole milliseconds, `"0.000001s"` otherwise.
pub fn format(duration: Duration) -> String {
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if nanos == 0 {
        format!("{secs}s")
    } else if u128::from(nanos) % NANOS_PER_MILLI == 0 {
        format!("{}ms", duration.as_millis())
    } else {
        let fraction = format!("{nanos:09}");
        format!("{secs}.{}s", fraction.trim_end_matches('0'))
    }
}

/// `#[serde(with = "mqtt_scram::config_duration::seconds")]`: a duration as a string
/// ([`parse`] with [`BareUnit::Seconds`]) or a number of seconds (`10`, `0.5`); written as
/// [`format`](fn@format) writes it. [`seconds::option`] for `Option<Duration>` fields.
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod seconds {
    use core::time::Duration;

    use serde::{Deserializer, Serializer};

    use super::BareUnit;

    /// Reads `"10s"`, `"500ms"`, `"10"`, `10` or `0.5`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        super::de::duration(deserializer, BareUnit::Seconds)
    }

    /// Writes the form [`format`](fn@super::format) produces.
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format(*duration))
    }

    /// The same for `Option<Duration>` (absent or `null`: `None`); pair it with
    /// `#[serde(default)]`.
    pub mod option {
        use core::time::Duration;

        use serde::{Deserializer, Serializer};

        use super::BareUnit;

        /// Reads `null` or a duration as [`deserialize`](super::deserialize) does.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Duration>, D::Error> {
            super::super::de::optional(deserializer, BareUnit::Seconds)
        }

        /// Writes `None` as `null`, a duration as [`format`](fn@super::super::format) does.
        pub fn serialize<S: Serializer>(
            duration: &Option<Duration>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match duration {
                Some(duration) => super::serialize(duration, serializer),
                None => serializer.serialize_none(),
            }
        }
    }
}

/// `#[serde(with = "mqtt_scram::config_duration::millis")]`: a duration as a string
/// ([`parse`] with [`BareUnit::Milliseconds`]) or a number of milliseconds (`1500`), as
/// EMQX writes its timeouts; written as [`format`](fn@format) writes it.
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod millis {
    use core::time::Duration;

    use serde::{Deserializer, Serializer};

    use super::BareUnit;

    /// Reads `"5s"`, `"500ms"`, `"500"` or `500`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        super::de::duration(deserializer, BareUnit::Milliseconds)
    }

    /// Writes the form [`format`](fn@super::format) produces.
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format(*duration))
    }
}

#[cfg(feature = "serde")]
mod de {
    use core::fmt;
    use core::time::Duration;

    use serde::Deserializer;
    use serde::de::{self, Visitor};

    use super::BareUnit;

    pub(super) fn duration<'de, D: Deserializer<'de>>(
        deserializer: D,
        bare: BareUnit,
    ) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor(bare))
    }

    pub(super) fn optional<'de, D: Deserializer<'de>>(
        deserializer: D,
        bare: BareUnit,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(OptionVisitor(bare))
    }

    struct DurationVisitor(BareUnit);

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "a duration such as \"30s\", \"500ms\", \"2m\" or a number of {}",
                self.0.name()
            )
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            super::parse(v, self.0).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(match self.0 {
                BareUnit::Seconds => Duration::from_secs(v),
                BareUnit::Milliseconds => Duration::from_millis(v),
            })
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            let v = u64::try_from(v).map_err(|_| E::custom("a duration cannot be negative"))?;
            self.visit_u64(v)
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
            let secs = match self.0 {
                BareUnit::Seconds => v,
                BareUnit::Milliseconds => v / 1000.0,
            };
            Duration::try_from_secs_f64(secs).map_err(|_| {
                E::custom(alloc::format!(
                    "duration {v} {} is negative or out of range",
                    self.0.name()
                ))
            })
        }
    }

    struct OptionVisitor(BareUnit);

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            DurationVisitor(self.0).expecting(f)?;
            f.write_str(", or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            duration(deserializer, self.0).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString as _;

    use super::*;

    fn secs(text: &str) -> Result<Duration, ParseDurationError> {
        parse(text, BareUnit::Seconds)
    }

    fn millis(text: &str) -> Result<Duration, ParseDurationError> {
        parse(text, BareUnit::Milliseconds)
    }

    #[test]
    fn units_and_bare_numbers() {
        assert_eq!(secs("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(secs(" 5s "), Ok(Duration::from_secs(5)));
        assert_eq!(secs("5 s"), Ok(Duration::from_secs(5)));
        assert_eq!(secs("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(secs("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(secs("30"), Ok(Duration::from_secs(30)));
        assert_eq!(millis("250"), Ok(Duration::from_millis(250)));
        assert_eq!(millis("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(secs("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(secs("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(secs("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(secs(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(secs("5.s"), Ok(Duration::from_secs(5)));
        assert_eq!(millis("0.5"), Ok(Duration::from_micros(500)));
        assert_eq!(secs("0.000000001s"), Ok(Duration::from_nanos(1)));
        assert_eq!(
            secs("0.0000000019s"),
            Ok(Duration::from_nanos(1)),
            "truncated"
        );
        assert_eq!(
            secs("1.000000000000000000000000000001h"),
            Ok(Duration::from_secs(3600))
        );
        assert_eq!(
            secs("18446744073709551615s"),
            Ok(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn refusals_name_the_text_and_the_problem() {
        for (text, problem) in [
            ("5 days", "unknown unit \"days\""),
            ("ten seconds", "unknown unit \"ten seconds\""),
            ("-5s", "unknown unit \"-5s\""),
            ("1e3s", "unknown unit \"e3s\""),
            ("s", "no number"),
            ("", "no number"),
            (".", "no number"),
            ("1.2.3s", "not a number"),
            ("99999999999999999999h", "out of range"),
            ("18446744073709551616s", "out of range"),
            (
                "999999999999999999999999999999999999999999s",
                "out of range",
            ),
        ] {
            let error = secs(text).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("invalid duration {text:?}: {problem};")),
                "{text}: {error}"
            );
            assert!(error.ends_with("(a bare number is seconds)"), "{error}");
        }
        let error = millis("x").unwrap_err().to_string();
        assert!(
            error.ends_with("(a bare number is milliseconds)"),
            "{error}"
        );
    }

    #[test]
    fn format_reads_back_exactly() {
        for (duration, text) in [
            (Duration::from_secs(10), "10s"),
            (Duration::ZERO, "0s"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_micros(1500), "0.0015s"),
            (Duration::new(3, 1), "3.000000001s"),
        ] {
            assert_eq!(format(duration), text);
            assert_eq!(secs(text), Ok(duration));
            assert_eq!(millis(text), Ok(duration));
        }
        let max = Duration::new(u64::MAX, 999_999_999);
        assert_eq!(secs(&format(max)), Ok(max));
    }

    #[cfg(feature = "serde")]
    #[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
    struct Settings {
        #[serde(with = "super::seconds")]
        timeout: Duration,
        #[serde(with = "super::millis")]
        request: Duration,
        #[serde(default, with = "super::seconds::option")]
        optional: Option<Duration>,
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_numbers_count_in_the_module_unit() {
        let read = |json: &str| serde_json::from_str::<Settings>(json).map_err(|e| e.to_string());
        let settings = read(r#"{"timeout": 30, "request": 1500, "optional": "2m"}"#).unwrap();
        assert_eq!(settings.timeout, Duration::from_secs(30));
        assert_eq!(settings.request, Duration::from_millis(1500));
        assert_eq!(settings.optional, Some(Duration::from_secs(120)));
        let settings = read(r#"{"timeout": 0.5, "request": "250", "optional": null}"#).unwrap();
        assert_eq!(settings.timeout, Duration::from_millis(500));
        assert_eq!(settings.request, Duration::from_millis(250));
        assert_eq!(settings.optional, None);
        let settings = read(r#"{"timeout": "1.5s", "request": 2.5}"#).unwrap();
        assert_eq!(settings.timeout, Duration::from_millis(1500));
        assert_eq!(settings.request, Duration::from_micros(2500));
        assert_eq!(settings.optional, None, "absent");

        let json = serde_json::to_string(&Settings {
            timeout: Duration::from_secs(30),
            request: Duration::from_millis(1500),
            optional: Some(Duration::from_micros(1)),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"timeout":"30s","request":"1500ms","optional":"0.000001s"}"#
        );
        assert_eq!(
            read(&json).unwrap().optional,
            Some(Duration::from_micros(1))
        );

        for (json, needle) in [
            (
                r#"{"timeout": "soon", "request": 1}"#,
                "invalid duration \"soon\"",
            ),
            (r#"{"timeout": -1, "request": 1}"#, "cannot be negative"),
            (
                r#"{"timeout": 1, "request": -0.5}"#,
                "negative or out of range",
            ),
            (r#"{"timeout": true, "request": 1}"#, "a number of seconds"),
            (
                r#"{"timeout": 1, "request": [1]}"#,
                "a number of milliseconds",
            ),
            (
                r#"{"timeout": 1, "request": 1, "optional": "x"}"#,
                "invalid duration \"x\"",
            ),
        ] {
            let error = read(json).unwrap_err();
            assert!(error.contains(needle), "{json}: {error}");
        }
    }
}
