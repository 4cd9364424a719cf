//! Connection strings without their secrets, for `Debug`, errors and logs.
//!
//! One redaction for every output path: URLs are parsed with the `url` crate (multi-host
//! PostgreSQL URLs, which it does not take, with `tokio_postgres::Config`), libpq
//! `key=value` strings with a conninfo parser that follows libpq's quoting and backslash
//! rules. What is shown is rebuilt from the parsed parts (scheme, user, hosts, ports,
//! database, and the values of parameters known to be harmless); every other value is
//! `***`. A string that does not parse, or whose parse is ambiguous (an `@` after the
//! authority: a password with an unencoded `/`, `?` or `#` that drivers split differently),
//! is redacted whole.

use std::string::String;
use std::vec::Vec;

/// What replaces a string that cannot be shown at all.
const WHOLE: &str = "<redacted>";
/// What replaces one secret value.
const HIDDEN: &str = "***";

/// Parameters (URL query or libpq keyword) whose values are shown; every other value is
/// hidden, so a parameter this list does not know never leaks.
const SHOWN_PARAMETERS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "dbname",
    "db",
    "sslmode",
    "sslnegotiation",
    "sslrootcert",
    "sslcert",
    "target_session_attrs",
    "connect_timeout",
    "application_name",
    "channel_binding",
    "load_balance_hosts",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "protocol",
];

/// `text` (a store URL or a libpq `key=value` string) without its secrets: the password of
/// the userinfo is `***`, and so is every parameter value not known to be harmless. Never
/// fails; a string that does not parse unambiguously is redacted whole (`scheme://<redacted>`
/// or `<redacted>`).
pub(crate) fn redact_url(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.find("://") {
        Some(end) => match trimmed.get(..end).filter(|s| is_scheme(s)) {
            Some(scheme) => redact_uri(trimmed, scheme).unwrap_or_else(|| whole(Some(scheme))),
            None => whole(None),
        },
        None => redact_conninfo(trimmed).unwrap_or_else(|| whole(None)),
    }
}

/// A message of a driver (tokio-postgres, redis) with every backquoted or double-quoted
/// span that is not a known parameter name replaced by `***`: parse errors echo the
/// offending key (`unknown option `…``), which may be a piece of a password that split the
/// string.
pub(crate) fn redact_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let (head, tail) = rest.split_at(open);
        out.push_str(head);
        let quote = if tail.starts_with('`') { '`' } else { '"' };
        let inner = tail.get(1..).unwrap_or_default();
        match inner.find(quote) {
            Some(close) => {
                let span = inner.get(..close).unwrap_or_default();
                out.push(quote);
                out.push_str(if SHOWN_PARAMETERS.contains(&span) || span == "password" {
                    span
                } else {
                    HIDDEN
                });
                out.push(quote);
                rest = inner.get(close + 1..).unwrap_or_default();
            }
            None => {
                out.push(quote);
                out.push_str(HIDDEN);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn whole(scheme: Option<&str>) -> String {
    match scheme {
        Some(scheme) => std::format!("{}://{WHOLE}", scheme.to_ascii_lowercase()),
        None => WHOLE.into(),
    }
}

/// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn redact_uri(text: &str, scheme: &str) -> Option<String> {
    match url::Url::parse(text) {
        Ok(url) => {
            // An '@' after the authority: the userinfo was cut short by an unencoded '/',
            // '?' or '#' (tokio-postgres would take the credentials up to that '@').
            let tail_has_at = url.path().contains('@')
                || url.query().is_some_and(|q| q.contains('@'))
                || url.fragment().is_some_and(|f| f.contains('@'));
            if tail_has_at {
                return None;
            }
            let mut out = std::format!("{}://", url.scheme());
            if !url.username().is_empty() || url.password().is_some() {
                out.push_str(url.username());
                if url.password().is_some() {
                    out.push(':');
                    out.push_str(HIDDEN);
                }
                out.push('@');
            }
            out.push_str(url.host_str().unwrap_or_default());
            if let Some(port) = url.port() {
                out.push_str(&std::format!(":{port}"));
            }
            out.push_str(url.path());
            if let Some(query) = url.query() {
                out.push('?');
                out.push_str(&redact_query(query));
            }
            Some(out)
        }
        Err(_) => redact_multi_host(text, scheme),
    }
}

/// `postgres://u:p@h1:5432,h2/db`: the `url` crate takes one host only, tokio-postgres the
/// list.
#[cfg(feature = "postgres")]
fn redact_multi_host(text: &str, scheme: &str) -> Option<String> {
    use tokio_postgres::config::Host;
    if !matches!(
        scheme.to_ascii_lowercase().as_str(),
        "postgres" | "postgresql"
    ) {
        return None;
    }
    // The query is redacted on its own (tokio-postgres refuses values it does not know,
    // such as newer sslmodes), after the last '@' so a password's '?' stays in the userinfo.
    let after_at = text.rfind('@').map_or(0, |at| at + 1);
    let (head, query) = match text.get(after_at..).and_then(|t| t.find('?')) {
        Some(q) => (text.get(..after_at + q)?, text.get(after_at + q + 1..)),
        None => (text, None),
    };
    let config: tokio_postgres::Config = head.parse().ok()?;
    let mut hosts = Vec::new();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let Host::Tcp(name) = host else {
            return None;
        };
        // A host with an '@' holds a piece of a password with an unencoded '@'.
        if name.contains(['@', '/', '?', '#', ' ']) || name.is_empty() {
            return None;
        }
        let name = if name.contains(':') {
            std::format!("[{name}]")
        } else {
            name.clone()
        };
        match config.get_ports().get(i) {
            Some(port) => hosts.push(std::format!("{name}:{port}")),
            None => hosts.push(name),
        }
    }
    let mut out = std::format!("{}://", scheme.to_ascii_lowercase());
    if let Some(user) = config.get_user() {
        out.push_str(&url::form_urlencoded::byte_serialize(user.as_bytes()).collect::<String>());
        if config.get_password().is_some() {
            out.push(':');
            out.push_str(HIDDEN);
        }
        out.push('@');
    } else if config.get_password().is_some() {
        out.push(':');
        out.push_str(HIDDEN);
        out.push('@');
    }
    out.push_str(&hosts.join(","));
    if let Some(db) = config.get_dbname() {
        out.push('/');
        out.push_str(&url::form_urlencoded::byte_serialize(db.as_bytes()).collect::<String>());
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_query(query));
    }
    Some(out)
}

#[cfg(not(feature = "postgres"))]
fn redact_multi_host(_text: &str, _scheme: &str) -> Option<String> {
    None
}

/// `a=1&password=x&y` → `a=1&password=***&***` (values shown only for known parameters).
fn redact_query(query: &str) -> String {
    let pieces: Vec<String> = query
        .split('&')
        .map(|piece| match piece.split_once('=') {
            Some((key, value)) if is_shown(key) => std::format!("{key}={value}"),
            Some((key, _)) if is_name(key) => std::format!("{key}={HIDDEN}"),
            _ => HIDDEN.into(),
        })
        .collect();
    pieces.join("&")
}

fn is_shown(key: &str) -> bool {
    SHOWN_PARAMETERS.contains(&key)
}

fn is_name(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A libpq `key=value` string, parsed as libpq's `conninfo_parse` does: keywords, optional
/// spaces around `=`, values either single-quoted (`\'` and `\\` escapes) or up to the next
/// space (backslash escapes the next character). `None` when it does not parse.
fn redact_conninfo(text: &str) -> Option<String> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') || !is_name(&key) {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next()? {
                    '\\' => value.push(chars.next()?),
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next()?);
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
    if pairs.is_empty() {
        return None;
    }
    let shown: Vec<String> = pairs
        .iter()
        .map(|(key, value)| {
            if is_shown(key) {
                std::format!("{key}={}", quote_conninfo(value))
            } else {
                std::format!("{key}={HIDDEN}")
            }
        })
        .collect();
    Some(shown.join(" "))
}

fn quote_conninfo(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        return value.into();
    }
    let mut out = String::from("'");
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db1:5432/users?sslmode=require&password=x"),
            "postgres://app:***@db1:5432/users?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("host=a,b user=app password=s3cret dbname=x"),
            "host=a,b user=app password=*** dbname=x"
        );
        assert_eq!(
            redact_url("host=a password = 'it''s \\' x' user=app"),
            "<redacted>"
        );
        assert_eq!(
            redact_url("host=a password = 'it\\'s x' user='a b'"),
            "host=a password=*** user='a b'"
        );
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("rediss://user@h"), "rediss://user@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert!(!redact_url("redis://u:p%40ss@h").contains("p%40ss"));
        assert_eq!(redact_url("redis://u:12/34@h"), "redis://<redacted>");
        assert_eq!(redact_url("postgres://u:/ab@h/db"), "postgres://<redacted>");
        assert_eq!(redact_url("host=a password='open"), "<redacted>");
        assert_eq!(redact_url("not a url"), "<redacted>");
        assert_eq!(redact_url("a b://u:p@h"), "<redacted>");
        assert_eq!(
            redact_url("redis://h/0?password=x&a&q=1"),
            "redis://h/0?password=***&***&q=***"
        );
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn multi_host_postgres_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db1:5432,db2/users?sslmode=verify-full&password=x"),
            "postgres://app:***@db1:5432,db2:5432/users?sslmode=verify-full&password=***"
        );
        assert_eq!(
            redact_url("postgres://app:s3c@ret@db1:5432,db2/users"),
            "postgres://<redacted>"
        );
    }

    #[test]
    fn messages_lose_quoted_spans() {
        assert_eq!(
            redact_message("invalid configuration: unknown option `ss&x`"),
            "invalid configuration: unknown option `***`"
        );
        assert_eq!(
            redact_message("invalid value for option `sslmode`"),
            "invalid value for option `sslmode`"
        );
        assert_eq!(redact_message("bad \"p/w"), "bad \"***");
    }
}
