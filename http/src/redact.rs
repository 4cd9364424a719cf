//! Keeping secrets out of `Debug`, errors and logs: URLs lose their credentials and query
//! string (`…?api_key=…`), header and parameter values are never shown.

use std::string::String;

/// The placeholder shown instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// `url` without user information and with its query string replaced by `<redacted>`;
/// the scheme, host, port and path stay, so the operator can tell which endpoint is meant.
/// Works on templates and on text that does not parse as a URL.
///
/// ```
/// use mqtt_scram_http::redact::redact_url;
/// assert_eq!(redact_url("https://u:pw@auth.example:8443/scram/${username}?api_key=s3cret#x"),
///            "https://auth.example:8443/scram/${username}?<redacted>");
/// assert_eq!(redact_url("http://h/p"), "http://h/p");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path_and_more) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (path, query) = match path_and_more.find(['?', '#']) {
        Some(i) => {
            let (path, tail) = path_and_more.split_at(i);
            (path, tail.starts_with('?'))
        }
        None => (path_and_more, false),
    };
    let mut out = String::new();
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(host);
    out.push_str(path);
    if query {
        out.push('?');
        out.push_str(REDACTED);
    }
    out
}

/// A transport error, with its sources, but without the URL reqwest puts in its message
/// (it may carry a query-string secret).
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
