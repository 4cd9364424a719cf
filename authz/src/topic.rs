//! MQTT topic names and filters (MQTT 5.0 §4.7): validation and matching.
//!
//! Three relations are needed by authorization:
//! - [`matches()`]: a filter matches a topic name (PUBLISH, delivery).
//! - [`covers`]: every topic a subscription filter can match is matched by a rule filter
//!   (an *allow* rule grants a SUBSCRIBE only when it covers the whole filter).
//! - [`overlaps`]: some topic is matched by both filters (a *deny* rule refuses a
//!   SUBSCRIBE that could receive anything it denies).
//!
//! All three follow §4.7.2: a filter starting with a wildcard (`+` or `#`) does not match
//! topics whose first level starts with `$` (`$SYS/...`).

use core::fmt;

/// Why a topic name or filter is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicError {
    /// Empty string (§4.7.3: at least one character).
    Empty,
    /// Contains U+0000 (§1.5.4).
    NullCharacter,
    /// A topic name contains `+` or `#` (§4.7.1: wildcards are for filters only).
    WildcardInName,
    /// `+` or `#` shares a level with other characters (§4.7.1.2, §4.7.1.3).
    WildcardNotAlone,
    /// `#` is not the last level (§4.7.1.2).
    HashNotLast,
    /// Longer than the 65,535 bytes an MQTT string can hold (§1.5.4).
    TooLong,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "topic is empty",
            Self::NullCharacter => "topic contains U+0000",
            Self::WildcardInName => "topic name contains a wildcard (+ or #)",
            Self::WildcardNotAlone => "a wildcard (+ or #) must occupy a whole level",
            Self::HashNotLast => "# must be the last level",
            Self::TooLong => "topic is longer than 65535 bytes",
        })
    }
}

impl core::error::Error for TopicError {}

fn common_checks(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong);
    }
    if topic.contains('\0') {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

/// Checks a topic name (PUBLISH): non-empty, no U+0000, no wildcards.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    common_checks(name)?;
    if name.contains(['+', '#']) {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter (SUBSCRIBE): wildcards occupy whole levels and `#` comes last.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    common_checks(filter)?;
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        match level {
            "#" if levels.peek().is_some() => return Err(TopicError::HashNotLast),
            "#" | "+" => {}
            _ if level.contains(['+', '#']) => return Err(TopicError::WildcardNotAlone),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `filter` contains a wildcard level.
pub fn has_wildcard(filter: &str) -> bool {
    filter.split('/').any(|l| l == "+" || l == "#")
}

/// The filter a shared subscription (`$share/{ShareName}/{filter}`, §4.8.2) applies to;
/// other filters are returned unchanged. `None` if a `$share/` filter lacks a share name or
/// a filter.
pub fn strip_shared(filter: &str) -> Option<&str> {
    match filter.strip_prefix("$share/") {
        None => Some(filter),
        Some(rest) => {
            let (group, inner) = rest.split_once('/')?;
            (!group.is_empty() && !group.contains(['+', '#']) && !inner.is_empty()).then_some(inner)
        }
    }
}

/// Whether `filter` matches the topic name `name` (§4.7). Neither is validated here.
///
/// ```
/// use mqtt_scram_authz::topic::matches;
/// assert!(matches("sport/tennis/#", "sport/tennis"));
/// assert!(matches("+/monitor", "/monitor"));
/// assert!(!matches("#", "$SYS/uptime"));
/// assert!(matches("$SYS/#", "$SYS/uptime"));
/// ```
pub fn matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some(fl), Some(nl)) if fl == "+" || fl == nl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether every topic matched by the subscription filter `sub` is also matched by the rule
/// filter `rule` (so granting `sub` grants nothing beyond `rule`).
///
/// ```
/// use mqtt_scram_authz::topic::covers;
/// assert!(covers("a/#", "a/+/c"));
/// assert!(covers("a/#", "a"));
/// assert!(!covers("a/+", "a/#"));
/// assert!(!covers("#", "$SYS/#"));
/// ```
pub fn covers(rule: &str, sub: &str) -> bool {
    if sub.starts_with('$') && (rule.starts_with('+') || rule.starts_with('#')) {
        return false;
    }
    let mut r = rule.split('/');
    let mut s = sub.split('/');
    loop {
        match (r.next(), s.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(sl)) if sl != "#" => {}
            (Some(rl), Some(sl)) if rl == sl && rl != "+" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some topic name is matched by both filters.
///
/// ```
/// use mqtt_scram_authz::topic::overlaps;
/// assert!(overlaps("a/b", "a/+"));
/// assert!(overlaps("a/#", "+/b/c"));
/// assert!(overlaps("a/#", "a"));
/// assert!(!overlaps("#", "$SYS/x"));
/// ```
pub fn overlaps(a: &str, b: &str) -> bool {
    let wild_first = |f: &str| f.starts_with('+') || f.starts_with('#');
    if (a.starts_with('$') && wild_first(b)) || (b.starts_with('$') && wild_first(a)) {
        return false;
    }
    let mut x = a.split('/');
    let mut y = b.split('/');
    loop {
        match (x.next(), y.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (Some(xl), Some(yl)) if xl == "+" || yl == "+" || xl == yl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        for ok in ["a", "/", "a/b", "a//b", "$SYS/x", "a b/c"] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
            assert_eq!(validate_filter(ok), Ok(()), "{ok}");
        }
        for ok in ["#", "+", "+/+", "a/#", "/#", "+/a/#"] {
            assert_eq!(validate_filter(ok), Ok(()), "{ok}");
            assert_eq!(validate_name(ok), Err(TopicError::WildcardInName), "{ok}");
        }
        assert_eq!(validate_filter(""), Err(TopicError::Empty));
        assert_eq!(validate_filter("a/#/b"), Err(TopicError::HashNotLast));
        assert_eq!(validate_filter("a#"), Err(TopicError::WildcardNotAlone));
        assert_eq!(validate_filter("a/b+"), Err(TopicError::WildcardNotAlone));
        assert_eq!(validate_name("a\0b"), Err(TopicError::NullCharacter));
    }

    #[test]
    fn shared() {
        assert_eq!(strip_shared("$share/g/a/b"), Some("a/b"));
        assert_eq!(strip_shared("$share/g/#"), Some("#"));
        assert_eq!(strip_shared("$share//a"), None);
        assert_eq!(strip_shared("$share/g"), None);
        assert_eq!(strip_shared("a/b"), Some("a/b"));
    }

    #[test]
    fn relations_agree_with_spec_examples() {
        // MQTT 5.0 §4.7.1.2 and §4.7.1.3 examples.
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        // §4.7.2
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        for (rule, sub, c, o) in [
            ("a/+", "a/b", true, true),
            ("a/b", "a/+", false, true),
            ("+/+", "a/#", false, true),
            ("a/+/#", "a/#", false, true),
            ("#", "+", true, true),
            ("+", "#", false, true),
            ("a/b", "c/#", false, false),
            ("$SYS/#", "#", false, false),
            ("#", "$SYS/#", false, false),
            ("$SYS/+", "$SYS/#", false, true),
        ] {
            assert_eq!(covers(rule, sub), c, "covers({rule}, {sub})");
            assert_eq!(overlaps(rule, sub), o, "overlaps({rule}, {sub})");
            assert_eq!(overlaps(sub, rule), o, "overlaps({sub}, {rule})");
        }
    }
}
