//! Connection strings without their secrets, for `Debug`, errors and logs.

use std::string::String;

/// `url` with the password of its userinfo (`scheme://user:password@host`) and every
/// `password=`-like query or key=value parameter replaced by `***`. Works on URLs and on
/// libpq key=value strings; never fails.
pub(crate) fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    // userinfo: between "://" and the last '@' before the first '/' after it
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    out.push_str(scheme);
    let rest = if scheme.is_empty() {
        rest.to_owned()
    } else {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, _)) => std::format!("{user}:***{host}{tail}"),
                    None => std::format!("{userinfo}{host}{tail}"),
                }
            }
            None => rest.to_owned(),
        }
    };
    // key=value parameters (query strings and libpq conninfo)
    for piece in rest.split_inclusive(['&', ' ', '?']) {
        let (body, sep) = match piece.char_indices().last() {
            Some((i, '&' | ' ' | '?')) => piece.split_at(i),
            _ => (piece, ""),
        };
        match body.split_once('=') {
            Some((key, _)) if is_secret_key(key) => {
                out.push_str(key);
                out.push_str("=***");
            }
            _ => out.push_str(body),
        }
        out.push_str(sep);
    }
    out
}

fn is_secret_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    key == "password" || key == "pass" || key == "sslpassword" || key.ends_with("_password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db1:5432,db2/users?sslmode=require&password=x"),
            "postgres://app:***@db1:5432,db2/users?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("host=a,b user=app password=s3cret dbname=x"),
            "host=a,b user=app password=*** dbname=x"
        );
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("rediss://user@h"), "rediss://user@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert!(!redact_url("redis://u:p%40ss@h").contains("p%40ss"));
    }
}
