//! Keeping secrets out of `Debug`, errors and logs: URLs lose their credentials and query
//! string (`…?api_key=…`), header and parameter values are never shown.

use std::string::String;

/// The placeholder shown instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// `url` without user information and with its query string replaced by `<redacted>`;
/// the scheme, host, port and path stay, so the operator can tell which endpoint is meant.
/// The URL is parsed with the `url` crate; text that does not parse, or whose parse is
/// ambiguous (an `@` after the host: a password with an unencoded `/`, `?` or `#`), is
/// shown as `scheme://<redacted>` (or `<redacted>`). Placeholders (`${username}`) stay
/// readable.
///
/// ```
/// use mqtt_scram_http::redact::redact_url;
/// assert_eq!(redact_url("https://u:pw@auth.example:8443/scram/${username}?api_key=s3cret#x"),
///            "https://auth.example:8443/scram/${username}?<redacted>");
/// assert_eq!(redact_url("http://h/p"), "http://h/p");
/// assert_eq!(redact_url("https://u:pa/ss@h/p"), "https://<redacted>");
/// ```
pub fn redact_url(url: &str) -> String {
    let text = url.trim();
    let scheme = text
        .split_once("://")
        .map(|(scheme, _)| scheme)
        .filter(|s| is_scheme(s));
    let whole = || match scheme {
        Some(scheme) => std::format!("{}://{REDACTED}", scheme.to_ascii_lowercase()),
        None => REDACTED.into(),
    };
    let Ok(parsed) = url::Url::parse(text) else {
        return whole();
    };
    let tail_has_at = parsed.path().contains('@')
        || parsed.query().is_some_and(|q| q.contains('@'))
        || parsed.fragment().is_some_and(|f| f.contains('@'));
    if scheme.is_none() || tail_has_at {
        return whole();
    }
    let mut out = std::format!("{}://", parsed.scheme());
    out.push_str(parsed.host_str().unwrap_or_default());
    if let Some(port) = parsed.port() {
        out.push_str(&std::format!(":{port}"));
    }
    // The url crate percent-encodes `{` and `}`: decode for display.
    out.push_str(&percent_encoding::percent_decode_str(parsed.path()).decode_utf8_lossy());
    if parsed.query().is_some() {
        out.push('?');
        out.push_str(REDACTED);
    }
    out
}

/// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// A transport error, with its sources, but without the URL reqwest puts in its message
/// (it may carry a query-string secret).
#[cfg(feature = "client")]
pub fn describe_transport(error: reqwest::Error) -> String {
    describe(&error.without_url())
}

/// An error with its sources (reqwest's own message is often just "error sending request").
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
