//! Durations in configuration files, as EMQX writes them (`"500ms"`, `"5s"`, `"1m"`, `"1h"`)
//! or as a number of milliseconds.

use std::string::String;
use std::time::Duration;

use serde::{Deserialize, Deserializer, de::Error as _};

/// serde `deserialize_with`.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
        Raw::Text(text) => parse(&text).ok_or_else(|| {
            D::Error::custom(std::format!(
                "invalid duration {text:?}: expected e.g. \"500ms\", \"5s\", \"1m\", \"1h\" or milliseconds"
            ))
        }),
    }
}

/// Parses `"500ms"`, `"5s"`, `"1m"`, `"1h"` (a bare number is milliseconds).
pub(crate) fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    Some(Duration::from_millis(number.checked_mul(ms)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse(" 5s "), Some(Duration::from_secs(5)));
        assert_eq!(parse("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse("5 days"), None);
        assert_eq!(parse("s"), None);
        assert_eq!(parse("99999999999999999999h"), None);
    }
}
